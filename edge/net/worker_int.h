/*
 * edge/net/worker_int.h - the inside of a worker, shared by worker.c (life
 * cycle, UDP listeners), tcp.c (TCP and TLS stream clients), dtls.c (DTLS
 * clients) and relay.c (relay sockets, running the core's actions, batched
 * sends).
 */
#ifndef AVEDGE_EDGE_WORKER_INT_H
#define AVEDGE_EDGE_WORKER_INT_H

#include "edge/net/worker.h"
#include "turn/turn.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#define EDGE_BATCH     32   /* datagrams per recvmmsg / sendmmsg */
#define EDGE_DGRAM_MAX 4096 /* larger datagrams are truncated, dropped */
#define EDGE_TX_MAX    128  /* queued sends before a flush */
#define EDGE_RX_SLOTS                                                          \
	128               /* receive slots: sends borrow them until the        \
	                   * flush at the end of the loop iteration */
#define EDGE_TX_COPY 2048 /* room for a copied response */

struct udp_sock {
	int fd;
	struct event *ev;
	struct edge_worker *w;
	uint32_t listener; /* index, as in turn_tuple.listener */
	uint8_t realm;     /* turn_tuple.realm of its requests */
};

/* A queued datagram: payload borrowed (an rx buffer, valid for the batch)
 * or copied into copy[] (a response built in the core's scratch). */
struct tx_entry {
	int fd;
	bool dont_fragment;
	union turn_addr to;
	struct iovec iov;
};

struct tx_queue {
	struct tx_entry e[EDGE_TX_MAX];
	struct mmsghdr msgs[EDGE_TX_MAX];
	uint8_t copy[EDGE_TX_MAX][EDGE_TX_COPY];
	unsigned n;
};

/* An rx slot with headroom for the Data indication / ChannelData header
 * the core writes in front of a peer's payload, and tailroom for padding. */
struct rx_slot {
	uint8_t head[TURN_PEER_HEADROOM];
	uint8_t buf[EDGE_DGRAM_MAX];
	uint8_t tail[8];
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
	struct edge_relay *relays; /* all relay sockets, freed at stop */
	struct event *tick;
	struct edge_stats stats;
	/* TCP connections by id (tuple.conn) */
	struct tcp_conn **conn_buckets;
	size_t nconn_buckets;
	struct tcp_conn *conns; /* all, for freeing at stop */
	uint32_t next_conn_id;
	/* per-batch clock */
	uint64_t now_ms, now_s;
	/* receive batch */
	struct mmsghdr rx_msgs[EDGE_RX_SLOTS];
	struct iovec rx_iov[EDGE_RX_SLOTS];
	union turn_addr rx_addr[EDGE_RX_SLOTS];
	struct rx_slot rx[EDGE_RX_SLOTS];
	unsigned rx_used; /* slots [0, rx_used) hold payloads queued to send */
	unsigned rx_hold; /* end of the batch being handled, kept by a flush */
	atomic_int stop;
	struct tx_queue tx;
	struct turn_actions out;
};

/* relay.c */
void edge_clock(struct edge_worker *w);
void edge_run_actions(struct edge_worker *w);
void edge_tx_flush(struct edge_worker *w);
/* Receive up to EDGE_BATCH datagrams from fd into free slots; returns the
 * first slot in *base and the count (<= 0 as recvmmsg). Call
 * edge_rx_done(w) after handling them. */
int edge_rx_batch(struct edge_worker *w, int fd, unsigned *base);
void edge_rx_done(struct edge_worker *w);
void edge_relay_close_all(struct edge_worker *w);
int edge_udp_fd_for(struct edge_worker *w, uint32_t listener);

/* tcp.c */
void edge_tcp_accept(struct evconnlistener *l, evutil_socket_t fd,
                     struct sockaddr *sa, int salen, void *arg);
/* The same for a TLS listener: the connection starts with a handshake. */
void edge_tls_accept(struct evconnlistener *l, evutil_socket_t fd,
                     struct sockaddr *sa, int salen, void *arg);
void edge_tcp_accept_error(struct evconnlistener *l, void *arg);
struct tcp_conn *edge_tcp_find(struct edge_worker *w, uint32_t id);
void edge_tcp_send(struct tcp_conn *c, const uint8_t *data, size_t len);
void edge_tcp_close_all(struct edge_worker *w);
int edge_tcp_init(struct edge_worker *w);

/* Take a client connection out of tcp.c after the frame being handled
 * (RFC 6062 ConnectionBind): fn gets its bufferevent (callbacks and
 * timeouts cleared, input still holding what followed the frame, and the
 * frame itself with keep_frame) and its connection-limit slot. */
struct bufferevent;
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
