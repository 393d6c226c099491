/*
 * edge/net/worker_int.h - the inside of a worker, shared by the files of
 * edge/net only (never included outside it): worker.c (life cycle, the
 * public API), loop.c (the thread, posted work), io.c (the I/O engine),
 * run.c (the core's actions), udp.c, tcp.c, tcp_relay.c, dtls.c and
 * relay.c (sockets).
 */
#ifndef AVEDGE_EDGE_WORKER_INT_H
#define AVEDGE_EDGE_WORKER_INT_H

#include "edge/net/io.h"
#include "edge/net/worker.h"
#include "turn/turn.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

struct udp_sock {
	int fd;
	struct event *ev;
	struct edge_worker *w;
	uint32_t listener;   /* index, as in turn_tuple.listener */
	uint8_t realm;       /* turn_tuple.realm of its requests */
	uint32_t drops_seen; /* SO_RXQ_OVFL count last seen (io.h) */
};

struct tcp_conn;
struct edge_relay;
struct edge_dtls;

struct edge_worker {
	int index;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct udp_sock udp[EDGE_MAX_LISTEN];
	size_t nudp;
	struct evconnlistener *tcp[EDGE_MAX_LISTEN];
	size_t ntcp;
	struct evconnlistener *tls[EDGE_MAX_LISTEN];
	size_t ntls;
	/* turn_tuple.realm of each TCP / TLS listener; TLS SNI may change
	 * a connection's (edge/config/realms.h) */
	uint8_t tcp_realm[EDGE_MAX_LISTEN], tls_realm[EDGE_MAX_LISTEN];
	const struct edge_realm_map *realms;
	struct ssl_ctx_st *tls_ctx;       /* shared, not owned */
	struct edge_dtls *dtls;           /* DTLS sockets, sessions (dtls.c) */
	struct edge_connlimit *connlimit; /* shared, not owned */
	unsigned idle_timeout_s;
	unsigned handshake_timeout_s;
	struct turn_server *core;
	struct edge_worker *const *workers; /* all, by index; NULL: one */
	struct edge_tcp_relay *tcprelay;    /* RFC 6062 (tcp_relay.c) */
	struct edge_worker_hooks hooks;     /* zero: none (worker.h) */
	struct edge_relay *relays;      /* all relay sockets, freed at stop */
	const struct edge_net_ops *ops; /* run.c's way up (worker.c) */
	struct event *tick;
	struct edge_media *media; /* the published summary (media.c) */
	/* out of descriptors (nofd.c): the listeners' resume timer, the
	 * last log line's time and the failures not logged since */
	struct event *nofd_resume;
	uint64_t nofd_logged_ms, nofd_unlogged;
	struct edge_stats stats;
	/* TCP connections by id (tuple.conn) */
	struct tcp_conn **conn_buckets;
	size_t nconn_buckets;
	struct tcp_conn *conns; /* all, for freeing at stop */
	/* TLS sessions and sockets of freed connections, freed a loop turn
	 * later (tcp.c edge_tcp_bev_free) */
	struct tls_leftover *leftovers;
	uint32_t next_conn_id;
	struct edge_io io; /* clock, receive slots, send queue */
	int relay_buf;     /* sock-buf-size of relay sockets, 0: kernel's */
	atomic_int stop;
	struct turn_actions out;
};

/* A relay socket: one allocation's, of one worker (relay.c). */
struct edge_relay {
	int fd;
	struct event *ev;
	struct edge_worker *w;
	struct turn_alloc *alloc;
	struct edge_relay *next, *prev; /* all of the worker's relays */
	uint32_t drops_seen;            /* SO_RXQ_OVFL count last seen (io.h) */
};

/* How the action runner (run.c) reaches what sits above it in this
 * folder: the stream and DTLS transports, relay sockets and RFC 6062
 * relays call the runner, so it calls them through this table, which
 * worker.c fills. Not on the UDP packet path (UDP sends and sends from a
 * relay socket go straight to the I/O engine). */
struct edge_net_ops {
	/* a TCP or TLS client connection (tuple.conn), or a DTLS session */
	void (*send_stream)(struct edge_worker *w, const struct turn_tuple *t,
	                    const uint8_t *data, size_t len);
	void (*send_dtls)(struct edge_worker *w, const struct turn_tuple *t,
	                  const uint8_t *data, size_t len);
	/* OPEN_RELAY: bind a relay socket; 0 and *out, or errno */
	int (*relay_open)(struct edge_worker *w, const struct turn_action *a,
	                  struct edge_relay **out);
	void (*relay_close)(struct edge_relay *r);
	/* RFC 6062 actions (tcp_relay.c) */
	void (*tcp_relay)(struct edge_worker *w, const struct turn_action *a);
};

/* relay.c */
int edge_relay_open(struct edge_worker *w, const struct turn_action *a,
                    struct edge_relay **out);
void edge_relay_free(struct edge_relay *r);
void edge_relay_close_all(struct edge_worker *w);

/* udp.c: the worker's UDP listening sockets */
int edge_udp_open(struct edge_worker *w, const struct sockaddr *sa,
                  const struct edge_worker_opts *opts);
void edge_udp_close_all(struct edge_worker *w);

/* nofd.c: out of file descriptors. edge_nofd(err): EMFILE, ENFILE,
 * ENOBUFS or ENOMEM. A relay socket not opened for that: counted and
 * logged (at a bounded rate). An accept() failed for that: counted,
 * logged, and the worker's TCP and TLS listeners paused briefly. */
bool edge_nofd(int err);
void edge_nofd_socket(struct edge_worker *w, int err);
void edge_nofd_accept(struct edge_worker *w, int err);
void edge_nofd_free(struct edge_worker *w);

/* media.c: the media quality summary, taken every second on the
 * worker's thread and published for readers on any thread */
int edge_media_start(struct edge_worker *w);
void edge_media_free(struct edge_worker *w);

/* loop.c: the worker's thread */
void *edge_worker_loop(void *arg);

/* tcp.c */
void edge_tcp_accept(struct evconnlistener *l, evutil_socket_t fd,
                     struct sockaddr *sa, int salen, void *arg);
/* The same for a TLS listener: the connection starts with a handshake. */
void edge_tls_accept(struct evconnlistener *l, evutil_socket_t fd,
                     struct sockaddr *sa, int salen, void *arg);
void edge_tcp_accept_error(struct evconnlistener *l, void *arg);
struct tcp_conn *edge_tcp_find(struct edge_worker *w, uint32_t id);
void edge_tcp_send(struct tcp_conn *c, const uint8_t *data, size_t len);
/* to the connection of t (tuple.conn), if it is still there */
void edge_tcp_send_tuple(struct edge_worker *w, const struct turn_tuple *t,
                         const uint8_t *data, size_t len);
void edge_tcp_close_all(struct edge_worker *w);
struct bufferevent;
/* Free a client connection's bufferevent: a TLS one's SSL and socket,
 * which it does not own, a loop turn later. */
void edge_tcp_bev_free(struct edge_worker *w, struct bufferevent *bev);
int edge_tcp_init(struct edge_worker *w);

/* Take a client connection out of tcp.c after the frame being handled
 * (RFC 6062 ConnectionBind): fn gets its bufferevent (callbacks and
 * timeouts cleared, input still holding what followed the frame, and the
 * frame itself with keep_frame) and its connection-limit slot. */
typedef void edge_tcp_take_fn(struct edge_worker *w, const struct turn_tuple *t,
                              struct bufferevent *bev, uint32_t arg);
void edge_tcp_handover(struct tcp_conn *c, edge_tcp_take_fn *fn, uint32_t arg,
                       bool keep_frame);
/* A client connection moved from another worker (its fd, and its SSL for
 * TLS, which this takes), with bytes already read (framed from the start):
 * a new tuple.conn, then the frames are handled. 0 or ENOMEM (the caller
 * still owns fd and ssl). */
struct ssl_st;
int edge_tcp_adopt(struct edge_worker *w, evutil_socket_t fd,
                   struct ssl_st *ssl, const struct turn_tuple *t,
                   const uint8_t *bytes, size_t len);

/* tcp_relay.c: RFC 6062 TCP relay listeners, peer connections and the
 * byte pump between them and client data connections */
void edge_tcp_relay_action(struct edge_worker *w, const struct turn_action *a);
void edge_tcp_relay_free(struct edge_worker *w);

#endif
