/* pseudofs/pseudofs.c - placeholder. */
#include "pseudofs/pseudofs.h"
