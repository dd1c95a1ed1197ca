/* server/mount.c - placeholder. */
#include "server/mount.h"
