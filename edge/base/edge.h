/* edge/base/edge.h - the daemon's shared declarations. */
#ifndef AVEDGE_EDGE_H
#define AVEDGE_EDGE_H

const char *edge_version(void);

#endif
