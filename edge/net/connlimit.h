/*
 * edge/net/connlimit.h - limits on stream (TCP/TLS) connections for the whole
 * node: in total (max-connections) and per client IP address
 * (max-connections-per-ip). Shared by the workers behind one mutex, taken
 * when a connection is accepted or closed, never per packet.
 */
#ifndef AVEDGE_EDGE_CONNLIMIT_H
#define AVEDGE_EDGE_CONNLIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct edge_connlimit;

/* 0 for either limit: none. Returns 0 or ENOMEM. */
int edge_connlimit_new(struct edge_connlimit **out, uint32_t total,
                       uint32_t per_ip);
void edge_connlimit_free(struct edge_connlimit *cl);
/* Count a new connection from addr; false (nothing counted) when a limit
 * is reached. */
bool edge_connlimit_acquire(struct edge_connlimit *cl,
                            const struct sockaddr *addr);
/* Uncount a connection acquire() admitted. */
void edge_connlimit_release(struct edge_connlimit *cl,
                            const struct sockaddr *addr);
uint32_t edge_connlimit_total(struct edge_connlimit *cl);

#endif
