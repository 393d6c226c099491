/*
 * edge/net/types.h - the types a worker shares with whoever drives it: its
 * options, its counters, a core call's context and the hooks a floor above
 * installs. Declarations only (worker.h has the functions); every file of
 * edge/net and the floors above see these.
 */
#ifndef AVEDGE_EDGE_NET_TYPES_H
#define AVEDGE_EDGE_NET_TYPES_H

#include "edge/net/sock.h" /* enum edge_sock_kind */
#include "turn/turn.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct edge_worker;

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
	int rcvbuf, sndbuf; /* socket buffer sizes, 0: kernel default */
	int relay_buf; /* relay sockets' SO_RCVBUF and SO_SNDBUF, 0: kernel's */
	unsigned idle_timeout_s;          /* TCP connection without traffic */
	struct turn_server_cfg core;      /* worker_index set per worker */
	const struct auth_store *store;   /* shared, read-only */
	const struct auth_nonces *nonces; /* shared, read-only */
	const struct turn_policy *policy; /* shared, read-only */
	struct turn_quota *quota;         /* shared, thread-safe */
	const struct turn_bw_table *bw;   /* shared, read-only; NULL: none */
	/* all workers, by index (RFC 6062 ConnectionBind handoff) */
	struct edge_worker *const *workers;
	/* the realm of each listening address and TLS server name
	 * (edge/config/realms.h); shared, read-only; NULL: one realm */
	const struct edge_realm_map *realms;
};

/* Counters, written by the owning worker only (relaxed stores) and read
 * by anyone (relaxed loads). */
struct edge_stats {
	/* udp_send_errors: datagrams not sent from a UDP or DTLS listening
	 * socket; relay_send_errors: from a relay socket */
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
	/* out of file descriptors (EMFILE, ENFILE; or socket memory): relay
	 * sockets not opened (508 to the Allocate), accept() failures (the
	 * listeners pause) */
	_Atomic uint64_t nofd_socket, nofd_accept;
	/* UDP sockets by kind (enum edge_sock_kind): datagrams the kernel
	 * dropped for a full receive queue (SO_RXQ_OVFL; seen with the next
	 * datagram read from that socket); sendmmsg calls that sent part of
	 * a batch (events, not datagrams); datagrams not sent for EAGAIN,
	 * ENOBUFS or another error (their sum per kind is udp_send_errors
	 * for listeners and relay_send_errors for relay sockets) */
	_Atomic uint64_t rx_drops[EDGE_SOCK_KINDS];
	_Atomic uint64_t send_partial[EDGE_SOCK_KINDS];
	_Atomic uint64_t send_eagain[EDGE_SOCK_KINDS];
	_Atomic uint64_t send_enobufs[EDGE_SOCK_KINDS];
	_Atomic uint64_t send_other[EDGE_SOCK_KINDS];
};

/* Add to a counter of the calling worker: a plain load and store, no
 * locked instruction, since only the owner writes. */
#define EDGE_COUNT(st, field, n)                                               \
	atomic_store_explicit(                                                 \
	        &(st)->field,                                                  \
	        atomic_load_explicit(&(st)->field, memory_order_relaxed) +     \
	                (n),                                                   \
	        memory_order_relaxed)

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
#endif
