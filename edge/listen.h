/*
 * edge/listen.h - where the node listens, worked out once from the
 * configuration snapshot: the listening addresses (listening-ip, or every
 * IPv4 and IPv6 address), the same on the TLS and DTLS ports, the lock
 * per address and port that keeps a second instance off them, and the
 * worker options built from it all (the one place they are filled).
 */
#ifndef AVEDGE_EDGE_LISTEN_H
#define AVEDGE_EDGE_LISTEN_H

#include "edge/config/config.h"
#include "edge/net/worker.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define EDGE_MAX_OWN (3 * EDGE_MAX_LISTEN)

struct edge_shared;

struct edge_listen {
	/* own[0, n): the listening addresses; then, when tls, the same on
	 * the TLS port at own[tls_at, tls_at + n); then, when dtls, on the
	 * DTLS port at own[dtls_at, ...). nown counts them all: the node's
	 * own endpoints, never relay peers. */
	struct sockaddr_storage own[EDGE_MAX_OWN];
	size_t n, nown, tls_at, dtls_at;
	bool tls, dtls;
};

/* Work out the endpoints; 0, or EINVAL with the reason logged. */
int edge_listen_plan(const struct edge_config *cfg, struct edge_listen *l);
/* Lock every address and port (fds kept open for the life of the
 * process, *nfds of them, at most EDGE_MAX_OWN); 0 or errno, logged. */
int edge_listen_lock(const struct edge_config *cfg, const struct edge_listen *l,
                     int *fds, size_t *nfds);
/* The "listening on", TLS and DTLS lines of the start-up log. */
void edge_listen_log(const struct edge_config *cfg,
                     const struct edge_listen *l);

/* threads, or one per online CPU; at most max */
unsigned edge_worker_count(const struct edge_config *cfg, unsigned max);
/* The options every worker gets: sockets from l, shared state from sh,
 * limits from cfg; workers is the array the workers will be in. */
void edge_worker_opts_build(const struct edge_config *cfg,
                            const struct edge_listen *l,
                            const struct edge_shared *sh,
                            struct edge_worker *const *workers,
                            unsigned nworkers, struct edge_worker_opts *o);

#endif
