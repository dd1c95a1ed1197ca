/* server/session.c - placeholder. */
#include "server/session.h"
