/*
 * edge/worker.h - one worker thread: an event base, its own UDP socket per
 * listening address (SO_REUSEPORT), its own TCP listeners, and the
 * counters of what it did. A worker owns everything it created; nothing on
 * its packet path takes a lock.
 */
#ifndef AVEDGE_EDGE_WORKER_H
#define AVEDGE_EDGE_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define EDGE_MAX_LISTEN 16

/* What every worker listens on. */
struct edge_worker_opts {
	struct sockaddr_storage udp[EDGE_MAX_LISTEN];
	size_t nudp;
	struct sockaddr_storage tcp[EDGE_MAX_LISTEN];
	size_t ntcp;
	int rcvbuf, sndbuf;      /* socket buffer sizes, 0: kernel default */
	unsigned idle_timeout_s; /* TCP connection without traffic */
};

/* Counters, written by the owning worker only (relaxed stores) and read
 * by anyone (relaxed loads). */
struct edge_stats {
	_Atomic uint64_t udp_rx, udp_tx, udp_send_errors, udp_truncated;
	_Atomic uint64_t tcp_accepted, tcp_closed, tcp_rx, tcp_tx;
	_Atomic uint64_t stun_malformed, stun_rfc3489, not_stun;
	_Atomic uint64_t binding_success, binding_indication, binding_420;
	_Atomic uint64_t requests_unhandled;
};
#define EDGE_STATS_FIELDS                                                      \
	X(udp_rx)                                                              \
	X(udp_tx)                                                              \
	X(udp_send_errors)                                                     \
	X(udp_truncated)                                                       \
	X(tcp_accepted)                                                        \
	X(tcp_closed)                                                          \
	X(tcp_rx)                                                              \
	X(tcp_tx)                                                              \
	X(stun_malformed)                                                      \
	X(stun_rfc3489)                                                        \
	X(not_stun)                                                            \
	X(binding_success)                                                     \
	X(binding_indication)                                                  \
	X(binding_420)                                                         \
	X(requests_unhandled)

/* Add to a counter of the calling worker: a plain load and store, no
 * locked instruction, since only the owner writes. */
#define EDGE_COUNT(st, field, n)                                               \
	atomic_store_explicit(                                                 \
		&(st)->field,                                                  \
		atomic_load_explicit(&(st)->field, memory_order_relaxed) + (n), \
		memory_order_relaxed)

struct edge_worker;

/* Create a worker's sockets (in the calling thread, so a bind failure is
 * reported before anything runs). 0 or errno; *failed names the address
 * that failed. */
int edge_worker_new(struct edge_worker **out, int index,
		    const struct edge_worker_opts *opts,
		    const struct sockaddr **failed);
/* Start the worker's thread. 0 or errno. */
int edge_worker_start(struct edge_worker *w);
/* Ask the loop to stop and join the thread. Thread-safe. */
void edge_worker_stop(struct edge_worker *w);
/* Free a stopped (or never started) worker; NULL is fine. */
void edge_worker_free(struct edge_worker *w);
const struct edge_stats *edge_worker_stats(const struct edge_worker *w);

#endif
