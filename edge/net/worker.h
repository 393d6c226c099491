/*
 * edge/net/worker.h - one worker thread: an event base, its own UDP socket per
 * listening address (SO_REUSEPORT), its own TCP, TLS and DTLS listeners, its
 * own TURN server core with the allocations and relay sockets it owns, and the
 * counters of what it did. Nothing on its packet path takes a lock.
 *
 * Floor edge/net (docs/layout.md): workers and everything on their threads
 * (loop, I/O engine, sockets, the action runner). Uses edge/config,
 * edge/base and the core; the floors above (redis, admin, the daemon)
 * reach a worker only through this header.
 */
#ifndef AVEDGE_EDGE_WORKER_H
#define AVEDGE_EDGE_WORKER_H

#include "turn/turn.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define EDGE_MAX_LISTEN 16

struct auth_store;
struct auth_nonces;
struct turn_policy;
struct turn_quota;
struct ssl_ctx_st;
struct edge_connlimit;
struct edge_realm_map;
struct event_base;

/* What every worker listens on and shares. */
struct edge_worker_opts {
	struct sockaddr_storage udp[EDGE_MAX_LISTEN];
	size_t nudp;
	struct sockaddr_storage tcp[EDGE_MAX_LISTEN];
	size_t ntcp;
	struct sockaddr_storage tls[EDGE_MAX_LISTEN];
	size_t ntls;
	struct ssl_ctx_st *tls_ctx; /* shared; NULL: no TLS listeners */
	struct sockaddr_storage dtls[EDGE_MAX_LISTEN];
	size_t ndtls;
	struct ssl_ctx_st *dtls_ctx;      /* shared; NULL: no DTLS listeners */
	uint8_t dtls_cookie_key[32];      /* node-wide secret of DTLS cookies */
	struct edge_connlimit *connlimit; /* shared, thread-safe */
	unsigned handshake_timeout_s;     /* TLS/DTLS: until the first frame */
	int rcvbuf, sndbuf;      /* socket buffer sizes, 0: kernel default */
	unsigned idle_timeout_s; /* TCP connection without traffic */
	struct turn_server_cfg core;      /* worker_index set per worker */
	const struct auth_store *store;   /* shared, read-only */
	const struct auth_nonces *nonces; /* shared, read-only */
	const struct turn_policy *policy; /* shared, read-only */
	struct turn_quota *quota;         /* shared, thread-safe */
	/* all workers, by index (RFC 6062 ConnectionBind handoff) */
	struct edge_worker *const *workers;
	/* the realm of each listening address and TLS server name
	 * (edge/config/realms.h); shared, read-only; NULL: one realm */
	const struct edge_realm_map *realms;
};

/* Counters, written by the owning worker only (relaxed stores) and read
 * by anyone (relaxed loads). */
struct edge_stats {
	_Atomic uint64_t udp_rx, udp_tx, udp_send_errors, udp_truncated;
	_Atomic uint64_t tcp_accepted, tcp_closed, tcp_rx, tcp_tx, tcp_refused;
	/* why stream connections were cut (beside tcp_closed, all closes) */
	_Atomic uint64_t tcp_closed_idle, tcp_closed_stalled, tcp_closed_slow,
	        tcp_closed_bad, tls_handshake_timeouts;
	_Atomic uint64_t tcp_tx_dropped; /* output cap reached: dropped */
	_Atomic uint64_t relay_rx, relay_tx, relay_send_errors;
	_Atomic uint64_t relay_open_failures, actions_dropped, relay_icmp;
	/* RFC 6062 TCP relays: peer connections accepted and connected,
	 * ended, bytes relayed each way, ConnectionBinds moved between
	 * workers */
	_Atomic uint64_t tcp_relay_accepted, tcp_relay_connected,
	        tcp_relay_closed, tcp_relay_to_peer_bytes,
	        tcp_relay_to_client_bytes, tcp_relay_handoffs;
	/* DTLS: HelloVerifyRequests sent, handshakes completed and failed
	 * (error or timeout), sessions refused by the connection limits and
	 * closed, STUN/ChannelData records received and sent */
	_Atomic uint64_t dtls_cookie_sent, dtls_handshakes;
	_Atomic uint64_t dtls_handshake_failures, dtls_refused, dtls_closed;
	_Atomic uint64_t dtls_rx, dtls_tx;
	/* of the stream counts above, TLS's; DTLS sessions opened (after
	 * the cookie; each ends in dtls_closed) */
	_Atomic uint64_t tls_accepted, tls_closed, dtls_sessions;
};

/* Add to a counter of the calling worker: a plain load and store, no
 * locked instruction, since only the owner writes. */
#define EDGE_COUNT(st, field, n)                                               \
	atomic_store_explicit(                                                 \
	        &(st)->field,                                                  \
	        atomic_load_explicit(&(st)->field, memory_order_relaxed) +     \
	                (n),                                                   \
	        memory_order_relaxed)

struct edge_worker;

/* Create a worker's sockets and core (in the calling thread, so a bind
 * failure is reported before anything runs). 0 or errno; *failed names
 * the address that failed (NULL for other errors). */
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
/* Run fn(w, arg) on the worker's thread, soon (a per-worker queue: an
 * admin request, work that arrived on another worker). From any thread.
 * 0, or ENOMEM (fn will not run; arg is still the caller's). */
typedef void edge_worker_post_fn(struct edge_worker *w, void *arg);
int edge_worker_post(struct edge_worker *w, edge_worker_post_fn *fn, void *arg);

/* --- the worker's thread -------------------------------------------
 * What another floor (edge/redis, edge/admin) may do with a worker: post a
 * function to its thread, and from there read its core or run one core
 * entry point. Nothing outside edge/net sees the inside of a worker. */

/* A core call in progress on the worker's thread: the core, the clock of
 * this loop turn (monotonic ms, wall s) and the action list the call
 * appends to. Valid only during the call. */
struct edge_core_ctx {
	struct turn_server *core;
	uint64_t now_ms, now_s;
	struct turn_actions *out;
};
typedef void edge_core_fn(struct edge_worker *w, const struct edge_core_ctx *c,
                          void *arg);
/* On the worker's thread (a posted function, a timer or socket of its
 * base): stamp the clock, reset the action list, fn(w, c, arg), then run
 * the actions fn appended. The one place where code outside the packet
 * path drives the core. */
void edge_worker_core_call(struct edge_worker *w, edge_core_fn *fn, void *arg);

/* On the worker's thread: its core (to read or list; a call that appends
 * actions goes through edge_worker_core_call). */
struct turn_server *edge_worker_core(struct edge_worker *w);
/* From any thread: the core's counters (relaxed loads). */
const struct turn_stats *edge_worker_turn_stats(const struct edge_worker *w);
int edge_worker_index(const struct edge_worker *w);
/* The worker's event base: for timers and connections of a floor above
 * that run on the worker's thread. */
struct event_base *edge_worker_base(struct edge_worker *w);
/* The clock of the current loop turn, on the worker's thread. */
uint64_t edge_worker_now_s(const struct edge_worker *w);

/* Hooks a floor above installs on a worker (edge/redis): the core's
 * actions that leave the node. Called on the worker's thread. */
struct edge_worker_hooks {
	/* QUOTA_CHECK, QUOTA_RELEASE and ALLOC_EVENT actions, in the call
	 * c that emitted them (an answer may be appended to c->out). NULL:
	 * a QUOTA_CHECK is decided locally, the others are dropped. */
	void (*action)(void *ctx, const struct edge_core_ctx *c,
	               const struct turn_action *a);
	/* the line of every LOG action, after it was logged */
	void (*log)(void *ctx, const char *line, size_t len);
	/* the worker is being freed: free ctx (the base still exists) */
	void (*free)(void *ctx);
	void *ctx;
};
/* Install hooks (copied) before edge_worker_start. */
void edge_worker_set_hooks(struct edge_worker *w,
                           const struct edge_worker_hooks *h);

/* Hand a new credential store to the worker (from any thread); done() is
 * called on the worker's thread once it no longer uses the old one. */
void edge_worker_set_store(struct edge_worker *w, const struct auth_store *st,
                           void (*done)(void *arg), void *arg);

/* Hand a new peer policy to the worker (Redis peer lists changed);
 * done() as above. */
void edge_worker_set_policy(struct edge_worker *w,
                            const struct turn_policy *policy,
                            void (*done)(void *arg), void *arg);

/* Hand a new TLS context (certificate reload) to the worker: new
 * connections use it, live ones keep theirs. done() as above. */
void edge_worker_set_tls(struct edge_worker *w, struct ssl_ctx_st *ctx,
                         void (*done)(void *arg), void *arg);
/* The same for the DTLS context. */
void edge_worker_set_dtls(struct edge_worker *w, struct ssl_ctx_st *ctx,
                          void (*done)(void *arg), void *arg);

#endif
