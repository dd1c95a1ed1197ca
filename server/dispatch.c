/* server/dispatch.c - placeholder. */
#include "server/session.h"
