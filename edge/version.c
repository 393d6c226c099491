/* edge/version.c - the build's version string. */
#include "edge/edge.h"

const char *edge_version(void)
{
	return AVEDGE_VERSION;
}
