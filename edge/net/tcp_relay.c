/*
 * edge/net/tcp_relay.c - RFC 6062 TCP relay allocations, the I/O half; the
 * state machine (ids, permissions, 30 s timers, answers) is
 * turn/tcp_relay.c. Here: the allocation's listening socket on the
 * relayed address (OPEN_TCP_RELAY), connections to peers from that
 * address (TCP_CONNECT: SO_REUSEADDR + SO_REUSEPORT on both sockets, a
 * non-blocking connect with a 30 s limit), peer connections accepted on it
 * (handed to turn_server_tcp_incoming(), unread until bound), and the byte
 * pump between a peer connection and its client data connection once a
 * ConnectionBind succeeds (TCP_BIND_DATA: tcp.c hands the client's
 * bufferevent over after the response).
 *
 * Pairs are kept by CONNECTION-ID. Buffering is bounded: a side's input
 * stops at PUMP_HIGH (read high watermark) and it is not read at all while
 * the other side's output holds PUMP_HIGH or more; the write callback at
 * PUMP_HIGH / 2 resumes it. A ConnectionBind hashed to another worker
 * (TCP_HANDOFF) moves its socket there with edge_worker_post(). Everything
 * runs on the owning worker's thread.
 */
#include "edge/base/log.h"
#include "edge/net/connlimit.h"
#include "edge/net/sock.h"
#include "edge/net/worker_int.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PUMP_HIGH     (256 * 1024) /* bytes queued towards one side */
#define PAIR_BUCKETS  1024
#define DRAIN_LIMIT_S 10 /* flushing the rest after the other side ended */

/* The TCP listener on an allocation's relayed address (the core's relay
 * handle). */
struct tlistener {
	struct evconnlistener *l;
	struct event *resume; /* out of descriptors: paused until this */
	struct edge_worker *w;
	struct turn_alloc *alloc;
	struct tlistener *next, *prev;
};

/* A peer connection and, once bound, its client data connection. */
struct tpair {
	struct tpair *hnext, *next, *prev;
	struct edge_worker *w;
	uint32_t id;
	struct bufferevent *peer, *client;
	union turn_addr client_addr; /* its connection-limit slot */
	bool connecting, draining;
	uint64_t bytes[2]; /* 0: to the peer, 1: to the client */
};

struct edge_tcp_relay {
	struct tpair *buckets[PAIR_BUCKETS];
	struct tpair *pairs;
	struct tlistener *listeners;
};

static struct edge_tcp_relay *state(struct edge_worker *w)
{
	if (!w->tcprelay)
		w->tcprelay = calloc(1, sizeof(*w->tcprelay));
	return w->tcprelay;
}

static struct tpair *pair_find(struct edge_worker *w, uint32_t id)
{
	struct tpair *p;

	if (!w->tcprelay)
		return NULL;
	p = w->tcprelay->buckets[id % PAIR_BUCKETS];
	while (p && p->id != id)
		p = p->hnext;
	return p;
}

static struct tpair *pair_new(struct edge_worker *w, uint32_t id,
                              evutil_socket_t fd)
{
	struct edge_tcp_relay *st = state(w);
	struct tpair *p = st ? calloc(1, sizeof(*p)) : NULL;

	if (!p)
		return NULL;
	p->peer = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!p->peer) {
		free(p);
		return NULL;
	}
	p->w = w;
	p->id = id;
	p->hnext = st->buckets[id % PAIR_BUCKETS];
	st->buckets[id % PAIR_BUCKETS] = p;
	p->next = st->pairs;
	if (st->pairs)
		st->pairs->prev = p;
	st->pairs = p;
	return p;
}

/* A client data connection we own: close it and free its slot. */
static void client_free(struct edge_worker *w, struct bufferevent *bev,
                        const union turn_addr *addr)
{
	edge_tcp_bev_free(w, bev);
	if (w->connlimit)
		edge_connlimit_release(w->connlimit, &addr->sa);
	EDGE_COUNT(&w->stats, tcp_closed, 1);
}

/* Close both sides; with notify the core hears of it (an end it did not
 * order). */
static void closed_call(struct edge_worker *w, const struct edge_core_ctx *c,
                        void *arg)
{
	const struct tpair *p = arg;

	(void)w;
	turn_server_tcp_closed(c->core, p->id, p->bytes[0], p->bytes[1],
	                       c->out);
}

static void pair_end(struct tpair *p, bool notify)
{
	struct edge_worker *w = p->w;
	struct tpair **pp = &w->tcprelay->buckets[p->id % PAIR_BUCKETS];

	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
	if (p->prev)
		p->prev->next = p->next;
	else
		w->tcprelay->pairs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (p->peer)
		bufferevent_free(p->peer);
	if (p->client)
		client_free(w, p->client, &p->client_addr);
	EDGE_COUNT(&w->stats, tcp_relay_closed, 1);
	if (notify) {
		edge_worker_core_call(w, closed_call, p);
		edge_io_flush(&w->io);
	}
	free(p);
}

/* --- the pump ------------------------------------------------------------ */

static struct bufferevent *other(struct tpair *p, struct bufferevent *bev)
{
	return bev == p->peer ? p->client : p->peer;
}

/* Move what bev read to the other side; stop reading bev while the other
 * side's output is full. */
static void pump(struct tpair *p, struct bufferevent *from)
{
	struct bufferevent *to = other(p, from);
	struct evbuffer *in = bufferevent_get_input(from);
	struct evbuffer *out = bufferevent_get_output(to);
	size_t n = evbuffer_get_length(in);
	int dir = from == p->client ? 0 : 1;

	if (!n)
		return;
	evbuffer_add_buffer(out, in);
	p->bytes[dir] += n;
	if (dir == 0)
		EDGE_COUNT(&p->w->stats, tcp_relay_to_peer_bytes, n);
	else
		EDGE_COUNT(&p->w->stats, tcp_relay_to_client_bytes, n);
	if (evbuffer_get_length(out) >= PUMP_HIGH)
		bufferevent_disable(from, EV_READ);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	pump(arg, bev);
}

/* Output fell to the low watermark: read the other side again, or end a
 * draining pair once everything is out. */
static void on_write(struct bufferevent *bev, void *arg)
{
	struct tpair *p = arg;

	if (p->draining) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			pair_end(p, true);
		return;
	}
	bufferevent_enable(other(p, bev), EV_READ);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct tpair *p = arg;
	struct bufferevent *to = other(p, bev);
	struct timeval t = {.tv_sec = DRAIN_LIMIT_S};

	if (p->draining || !(what & BEV_EVENT_EOF) || !to) {
		pair_end(p, true);
		return;
	}
	/* EOF: what the other side still has to send goes out first. */
	pump(p, bev);
	if (evbuffer_get_length(bufferevent_get_output(to)) == 0) {
		pair_end(p, true);
		return;
	}
	p->draining = true;
	bufferevent_disable(bev, EV_READ);
	bufferevent_disable(to, EV_READ);
	bufferevent_setwatermark(to, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(to, NULL, &t);
}

static void pump_side(struct tpair *p, struct bufferevent *bev)
{
	bufferevent_setcb(bev, on_read, on_write, on_event, p);
	bufferevent_setwatermark(bev, EV_READ, 0, PUMP_HIGH);
	bufferevent_setwatermark(bev, EV_WRITE, PUMP_HIGH / 2, 0);
	bufferevent_set_timeouts(bev, NULL, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* TCP_BIND_DATA, after tcp.c let the client connection go. */
static void attach(struct edge_worker *w, const struct turn_tuple *t,
                   struct bufferevent *bev, uint32_t id)
{
	struct tpair *p = pair_find(w, id);

	if (!p || p->client || p->connecting) {
		client_free(w, bev, &t->client);
		return;
	}
	p->client = bev;
	p->client_addr = t->client;
	pump_side(p, p->peer);
	pump_side(p, p->client);
	pump(p, p->client); /* what followed the ConnectionBind */
}

/* --- ConnectionBind on another worker --------------------------------- */

struct handoff {
	struct edge_worker *from;
	unsigned to;
	evutil_socket_t fd;
	SSL *ssl; /* TLS: the session moves with the socket; else NULL */
	struct turn_tuple tuple;
	size_t len;
	uint8_t bytes[];
};

static void handoff_drop(struct edge_worker *w, struct handoff *h)
{
	if (h->ssl)
		SSL_free(h->ssl);
	close(h->fd);
	if (w->connlimit)
		edge_connlimit_release(w->connlimit, &h->tuple.client.sa);
	free(h);
}

static void adopt(struct edge_worker *w, void *arg)
{
	struct handoff *h = arg;

	if (edge_tcp_adopt(w, h->fd, h->ssl, &h->tuple, h->bytes, h->len) !=
	    0) {
		handoff_drop(w, h);
		return;
	}
	free(h);
}

static void post_handoff(struct edge_worker *w, struct handoff *h)
{
	EDGE_COUNT(&w->stats, tcp_relay_handoffs, 1);
	if (edge_worker_post(w->workers[h->to], adopt, h) != 0)
		handoff_drop(w, h);
}

/* TLS, one loop turn after the bufferevent was freed: libevent may use
 * the SSL further up the stack that freed it, never after (its deferred
 * finalizer does not touch an SSL it does not own), so the owner may
 * take it now. */
static void post_tls_handoff(evutil_socket_t fd, short what, void *arg)
{
	struct handoff *h = arg;

	(void)fd;
	(void)what;
	post_handoff(h->from, h);
}

/* The connection left tcp.c with the ConnectionBind still in its input:
 * its socket (and for TLS its session) and those bytes go to the owning
 * worker, which handles the request as if it had arrived there. */
static void hand_off(struct edge_worker *w, const struct turn_tuple *t,
                     struct bufferevent *bev, uint32_t to)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	struct handoff *h = malloc(sizeof(*h) + len);
	bool tls = t->transport == TURN_TRANSPORT_TLS;
	struct timeval now = {0, 0};

	/* Answers still queued for the client cannot move with it. */
	if (!h || evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		free(h);
		client_free(w, bev, &t->client);
		return;
	}
	h->from = w;
	h->to = to;
	h->fd = bufferevent_getfd(bev);
	h->ssl = tls ? bufferevent_openssl_get_ssl(bev) : NULL;
	h->tuple = *t;
	h->len = len;
	evbuffer_remove(in, h->bytes, len);
	/* Keep the socket open and (TLS) the session alive. A TLS
	 * bufferevent owns neither (tcp.c tls_bev): freeing it leaves both
	 * to us. A plain one closes its socket on free unless it has none.
	 * The session had drained every pending record into the input
	 * before the read callback ran. */
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	if (!tls)
		bufferevent_setfd(bev, -1);
	bufferevent_free(bev);
	if (!tls) {
		post_handoff(w, h);
		return;
	}
	if (event_base_once(w->base, -1, EV_TIMEOUT, post_tls_handoff, h,
	                    &now) != 0)
		handoff_drop(w, h);
}

/* --- connecting to a peer (s5.2) ---------------------------------------- */

struct connect_result {
	uint32_t id;
	int err;
};

static void connect_call(struct edge_worker *w, const struct edge_core_ctx *c,
                         void *arg)
{
	const struct connect_result *cr = arg;

	(void)w;
	turn_server_tcp_connect_result(c->core, cr->id, cr->err, c->now_ms,
	                               c->out);
}

static void connect_done(struct tpair *p, int err)
{
	struct edge_worker *w = p->w;
	uint32_t id = p->id;

	if (err)
		pair_end(p, false);
	struct connect_result cr = {id, err};
	edge_worker_core_call(w, connect_call, &cr);
	edge_io_flush(&w->io);
}

static void on_connect(struct bufferevent *bev, short what, void *arg)
{
	struct tpair *p = arg;

	if (what & BEV_EVENT_CONNECTED) {
		p->connecting = false;
		EDGE_COUNT(&p->w->stats, tcp_relay_connected, 1);
		bufferevent_set_timeouts(bev, NULL, NULL);
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		bufferevent_setcb(bev, NULL, NULL, on_event, p);
		connect_done(p, 0);
		return;
	}
	int err = EVUTIL_SOCKET_ERROR();
	if (what & BEV_EVENT_TIMEOUT)
		err = ETIMEDOUT;
	connect_done(p, err ? err : ECONNREFUSED);
}

/* A stream socket bound to addr with SO_REUSEADDR and SO_REUSEPORT (the
 * relay's listener and its outgoing connections share the address). */
static int bound_socket(const union turn_addr *addr, int *fd_out)
{
	int one = 1;
	int fd = socket(addr->sa.sa_family,
	                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (addr->sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &addr->sa, edge_addr_len(&addr->sa)) < 0) {
		int err = errno;
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

static void tcp_connect(struct edge_worker *w, const struct turn_action *a)
{
	struct timeval t = {.tv_sec = TURN_TCP_CONNECT_TIMEOUT_S};
	struct tpair *p = NULL;
	int fd = -1, err = bound_socket(&a->bind, &fd);

	if (!err && !(p = pair_new(w, a->conn_id, fd))) {
		close(fd);
		err = ENOMEM;
	}
	if (!err) {
		p->connecting = true;
		bufferevent_setcb(p->peer, NULL, NULL, on_connect, p);
		bufferevent_set_timeouts(p->peer, NULL, &t);
		if (bufferevent_socket_connect(
		            p->peer, &a->peer->sa,
		            (int)edge_addr_len(&a->peer->sa)) < 0) {
			err = errno ? errno : ECONNREFUSED;
			pair_end(p, false);
		}
	}
	if (edge_nofd(err))
		edge_nofd_socket(w, err);
	if (err) /* inside the action list: its result is appended */
		turn_server_tcp_connect_result(w->core, a->conn_id, err,
		                               w->io.now_ms, &w->out);
}

/* --- the listener (s5.3) ---------------------------------------------- */

struct incoming {
	struct tlistener *tl;
	const union turn_addr *peer;
	evutil_socket_t fd;
};

/* A peer connected to a relayed address: the core gives it an id (or
 * refuses it), the pump takes the socket. */
static void incoming_call(struct edge_worker *w, const struct edge_core_ctx *c,
                          void *arg)
{
	const struct incoming *in = arg;
	struct tpair *p = NULL;
	uint32_t id = turn_server_tcp_incoming(c->core, in->tl->alloc, in->peer,
	                                       c->now_ms, c->out);

	if (id && !(p = pair_new(w, id, in->fd)))
		turn_server_tcp_closed(c->core, id, 0, 0, c->out);
	if (!p) {
		close(in->fd);
	} else {
		EDGE_COUNT(&w->stats, tcp_relay_accepted, 1);
		bufferevent_setcb(p->peer, NULL, NULL, on_event, p);
	}
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg)
{
	struct tlistener *tl = arg;
	struct edge_worker *w = tl->w;
	union turn_addr peer;

	(void)l;
	memset(&peer, 0, sizeof(peer));
	memcpy(&peer, sa,
	       (size_t)salen < sizeof(peer) ? (size_t)salen : sizeof(peer));
	struct incoming in = {tl, &peer, fd};
	edge_worker_core_call(w, incoming_call, &in);
	edge_io_flush(&w->io);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct tlistener *tl = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(tl->l);
}

/* Out of descriptors, the peer's connection stays in the backlog and the
 * listener readable: paused (nofd.c) like the client listeners. */
static void on_accept_error(struct evconnlistener *l, void *arg)
{
	struct tlistener *tl = arg;
	struct timeval t = {.tv_usec = 250 * 1000};
	int err = EVUTIL_SOCKET_ERROR();

	(void)l;
	if (!edge_nofd(err)) {
		edge_warn("worker %d: tcp relay accept failed: %s",
		          tl->w->index, strerror(err));
		return;
	}
	edge_nofd_accept(tl->w, err);
	if (!tl->resume)
		tl->resume = evtimer_new(tl->w->base, on_resume, tl);
	if (tl->resume) {
		evconnlistener_disable(tl->l);
		evtimer_add(tl->resume, &t);
	}
}

static int listener_open(struct edge_worker *w, const struct turn_action *a,
                         struct tlistener **out)
{
	struct edge_tcp_relay *st = state(w);
	struct tlistener *tl = st ? calloc(1, sizeof(*tl)) : NULL;
	int fd = -1, err;

	if (!tl)
		return ENOMEM;
	if ((err = bound_socket(&a->bind, &fd)) != 0) {
		free(tl);
		return err;
	}
	if (listen(fd, 128) < 0) {
		err = errno;
		close(fd);
		free(tl);
		return err;
	}
	tl->l = evconnlistener_new(
	        w->base, on_accept, tl,
	        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!tl->l) {
		close(fd);
		free(tl);
		return ENOMEM;
	}
	evconnlistener_set_error_cb(tl->l, on_accept_error);
	tl->w = w;
	tl->alloc = a->alloc;
	tl->next = st->listeners;
	if (st->listeners)
		st->listeners->prev = tl;
	st->listeners = tl;
	*out = tl;
	return 0;
}

static void listener_free(struct tlistener *tl)
{
	struct edge_tcp_relay *st = tl->w->tcprelay;

	if (tl->prev)
		tl->prev->next = tl->next;
	else
		st->listeners = tl->next;
	if (tl->next)
		tl->next->prev = tl->prev;
	evconnlistener_free(tl->l);
	if (tl->resume)
		event_free(tl->resume);
	free(tl);
}

/* --- actions ------------------------------------------------------------ */

void edge_tcp_relay_action(struct edge_worker *w, const struct turn_action *a)
{
	struct tlistener *tl = NULL;
	struct tcp_conn *c;
	struct tpair *p;
	int err;

	switch (a->kind) {
	case TURN_ACT_OPEN_TCP_RELAY:
		err = listener_open(w, a, &tl);
		if (err)
			EDGE_COUNT(&w->stats, relay_open_failures, 1);
		if (edge_nofd(err))
			edge_nofd_socket(w, err);
		turn_server_relay_result(w->core, a->token, err, tl,
		                         w->io.now_ms, w->io.now_s, &w->out);
		break;
	case TURN_ACT_CLOSE_TCP_RELAY:
		if (a->relay)
			listener_free(a->relay);
		break;
	case TURN_ACT_TCP_CONNECT:
		tcp_connect(w, a);
		break;
	case TURN_ACT_TCP_CLOSE:
		if ((p = pair_find(w, a->conn_id)))
			pair_end(p, false);
		break;
	case TURN_ACT_TCP_BIND_DATA:
		if (a->tuple && (c = edge_tcp_find(w, a->tuple->conn)))
			edge_tcp_handover(c, attach, a->conn_id, false);
		break;
	case TURN_ACT_TCP_HANDOFF:
		if (a->tuple && w->workers &&
		    (c = edge_tcp_find(w, a->tuple->conn)))
			edge_tcp_handover(c, hand_off, a->worker, true);
		break;
	default:
		break;
	}
}

void edge_tcp_relay_free(struct edge_worker *w)
{
	struct edge_tcp_relay *st = w->tcprelay;

	if (!st)
		return;
	while (st->pairs)
		pair_end(st->pairs, false);
	while (st->listeners)
		listener_free(st->listeners);
	free(st);
	w->tcprelay = NULL;
}
