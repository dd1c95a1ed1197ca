/* pseudofs/pseudofs.h - the namespace directories made from the config's mount paths. */
#ifndef VFSMUX_PSEUDOFS_H
#define VFSMUX_PSEUDOFS_H
struct pseudofs;
#endif
