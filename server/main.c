/* server/main.c - placeholder. */
#include <stdio.h>

int main(void)
{
	puts("vfsmux " VFSMUX_VERSION);
	return 0;
}
