/* edge/base/version.c - the build's version string. */
#include "edge/base/edge.h"

const char *edge_version(void)
{
	return AVEDGE_VERSION;
}
