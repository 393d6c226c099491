/*
 * edge/base/edge.h - the daemon's shared declarations.
 *
 * Floor edge/base (docs/layout.md): what every floor of edge/ uses - the
 * log, the clocks, a string vector, the version. Uses libc only; nothing
 * here knows TURN, sockets or the configuration.
 */
#ifndef AVEDGE_EDGE_H
#define AVEDGE_EDGE_H

const char *edge_version(void);

#endif
