/*
 * edge/net/tcp.c - STUN/TURN clients over TCP and TLS (RFC 8656 s3.1, framing
 * s12.5): a bufferevent per connection (an OpenSSL one for TLS, which
 * must finish its handshake and send a first frame within
 * handshake-timeout), frames cut with stun_frame_len() (partial
 * reads, many frames per read), handed whole to the core. Output is capped
 * with back-pressure: a client that does not read its answers stops being
 * read. Connections are found by id (turn_tuple.conn) in a hash table.
 *
 * Stream abuse: a connection must finish its TLS handshake and deliver
 * its first whole message within handshake-timeout of the accept, and
 * any later frame within handshake-timeout of its first byte, however
 * slowly it trickles (slow loris); a client that leaves its answers
 * unread for TCP_WRITE_STALL_S is closed; TCP keepalive finds half-open
 * peers. Each way of closing is counted (struct edge_stats).
 */
#include "edge/base/log.h"
#include "edge/config/realms.h"
#include "edge/net/connlimit.h"
#include "edge/net/run.h"
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

#define TCP_FRAME_MAX        65560 /* 64 KiB payload + headers */
#define TCP_OUT_HIGH         (256 * 1024)
#define CONN_BUCKETS         16384
#define TCP_ACTIVE_TIMEOUT_S 3900 /* longer than any allocation lifetime */
#define TCP_WRITE_STALL_S    30   /* answers left unread this long: close */

struct tcp_conn {
	struct tcp_conn *next, *prev; /* all connections of the worker */
	struct tcp_conn *hnext;       /* hash chain by id */
	struct edge_worker *w;
	struct bufferevent *bev;
	struct turn_tuple tuple;
	struct event *deadline; /* first message, then an unfinished frame */
	uint64_t frames;        /* frames handed to the core */
	uint64_t frames_at_arm; /* frames when the deadline was armed */
	bool active;            /* a frame arrived */
	/* Set by an action (RFC 6062 ConnectionBind): the connection leaves
	 * tcp.c after the current frame, its bufferevent to take(). */
	edge_tcp_take_fn *take;
	uint32_t take_arg;
	bool keep_frame; /* the frame stays in the input for take() */
};

static bool is_tls(const struct tcp_conn *c)
{
	return c->tuple.transport == TURN_TRANSPORT_TLS;
}

int edge_tcp_init(struct edge_worker *w)
{
	w->nconn_buckets = CONN_BUCKETS;
	w->conn_buckets = calloc(CONN_BUCKETS, sizeof(*w->conn_buckets));
	w->next_conn_id = 1;
	return w->conn_buckets ? 0 : ENOMEM;
}

struct tcp_conn *edge_tcp_find(struct edge_worker *w, uint32_t id)
{
	struct tcp_conn *c = w->conn_buckets[id & (w->nconn_buckets - 1)];

	while (c && c->tuple.conn != id)
		c = c->hnext;
	return c;
}

static void conn_unlink(struct tcp_conn *c)
{
	struct edge_worker *w = c->w;
	struct tcp_conn **pp =
	        &w->conn_buckets[c->tuple.conn & (w->nconn_buckets - 1)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

/* A TLS bufferevent's SSL and socket, freed a loop turn after the
 * bufferevent: libevent may still use them further up the stack that
 * freed it (a read or event callback), never after. */
struct tls_leftover {
	SSL *ssl;
	evutil_socket_t fd;
	struct edge_worker *w;
	struct tls_leftover *next, *prev; /* the worker's, until freed */
};

static void free_leftover(evutil_socket_t fd, short what, void *arg)
{
	struct tls_leftover *l = arg;

	(void)fd;
	(void)what;
	if (l->prev)
		l->prev->next = l->next;
	else
		l->w->leftovers = l->next;
	if (l->next)
		l->next->prev = l->prev;
	SSL_free(l->ssl);
	close(l->fd);
	free(l);
}

void edge_tcp_bev_free(struct edge_worker *w, struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	struct timeval now = {0, 0};
	struct tls_leftover *l;

	if (!ssl) { /* a plain socket bufferevent closes its own socket */
		bufferevent_free(bev);
		return;
	}
	l = calloc(1, sizeof(*l));
	if (!l) { /* out of memory: leak both rather than free them under
		   * libevent's feet */
		bufferevent_free(bev);
		return;
	}
	l->ssl = ssl;
	l->fd = bufferevent_getfd(bev);
	l->w = w;
	l->next = w->leftovers;
	if (l->next)
		l->next->prev = l;
	w->leftovers = l;
	bufferevent_free(bev);
	if (!w->started) /* the thread is gone: nothing above us */
		free_leftover(-1, 0, l);
	else if (event_base_once(w->base, -1, EV_TIMEOUT, free_leftover, l,
	                         &now) != 0)
		edge_warn("worker %d: a closed TLS session waits for the stop",
		          w->index);
}

/* Close and free; with notify, the core ends the allocation (s3.1). */
static void tcp_close(struct tcp_conn *c, bool notify)
{
	struct edge_worker *w = c->w;

	EDGE_COUNT(&w->stats, tcp_closed, 1);
	if (is_tls(c))
		EDGE_COUNT(&w->stats, tls_closed, 1);
	conn_unlink(c);
	if (w->connlimit)
		edge_connlimit_release(w->connlimit, &c->tuple.client.sa);
	if (notify) {
		edge_core_conn_closed(w, &c->tuple);
	}
	if (c->deadline)
		event_free(c->deadline);
	edge_tcp_bev_free(w, c->bev);
	free(c);
}

/* Why a connection is cut: counted, then closed with notify. */
enum close_why {
	CLOSE_PEER,      /* EOF or a socket error (incl. keepalive) */
	CLOSE_IDLE,      /* nothing read for the idle limit */
	CLOSE_STALLED,   /* our answers not read for TCP_WRITE_STALL_S */
	CLOSE_FIRST,     /* no whole first message in time (slow loris) */
	CLOSE_HANDSHAKE, /* TLS handshake not finished in time */
	CLOSE_FRAME,     /* a frame left unfinished (slow loris) */
	CLOSE_BAD,       /* bytes that cannot start a frame */
};

static void tcp_cut(struct tcp_conn *c, enum close_why why)
{
	struct edge_stats *st = &c->w->stats;

	switch (why) {
	case CLOSE_PEER:
		break;
	case CLOSE_IDLE:
		EDGE_COUNT(st, tcp_closed_idle, 1);
		break;
	case CLOSE_STALLED:
		EDGE_COUNT(st, tcp_closed_stalled, 1);
		break;
	case CLOSE_FIRST:
	case CLOSE_FRAME:
		EDGE_COUNT(st, tcp_closed_slow, 1);
		break;
	case CLOSE_HANDSHAKE:
		EDGE_COUNT(st, tls_handshake_timeouts, 1);
		break;
	case CLOSE_BAD:
		EDGE_COUNT(st, tcp_closed_bad, 1);
		break;
	}
	tcp_close(c, true);
}

static void deadline_fired(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *c = arg;
	struct timeval t = {.tv_sec = c->w->handshake_timeout_s};

	(void)fd;
	(void)what;
	if (!c->active) {
		SSL *ssl =
		        is_tls(c) ? bufferevent_openssl_get_ssl(c->bev) : NULL;
		tcp_cut(c, ssl && !SSL_is_init_finished(ssl) ? CLOSE_HANDSHAKE
		                                             : CLOSE_FIRST);
		return;
	}
	if (c->frames != c->frames_at_arm) {
		/* Frames went through meanwhile: a busy stream, not a
		 * stuck one. Look again later. */
		c->frames_at_arm = c->frames;
		event_add(c->deadline, &t);
		return;
	}
	tcp_cut(c, CLOSE_FRAME);
}

/* After reading: bytes of an unfinished frame must complete in time. */
static void frame_deadline(struct tcp_conn *c)
{
	struct timeval t = {.tv_sec = c->w->handshake_timeout_s};
	bool partial = evbuffer_get_length(bufferevent_get_input(c->bev)) > 0;
	bool armed = event_pending(c->deadline, EV_TIMEOUT, NULL);

	if (partial && !armed) {
		c->frames_at_arm = c->frames;
		event_add(c->deadline, &t);
	} else if (!partial && armed) {
		event_del(c->deadline);
	}
}

void edge_tcp_send_tuple(struct edge_worker *w, const struct turn_tuple *t,
                         const uint8_t *data, size_t len)
{
	struct tcp_conn *c = edge_tcp_find(w, t->conn);

	if (c)
		edge_tcp_send(c, data, len);
}

void edge_tcp_send(struct tcp_conn *c, const uint8_t *data, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t queued = evbuffer_get_length(out);

	/* Past the cap the datagram-like payload is dropped, as a full UDP
	 * socket buffer would drop it; STUN answers are tiny. */
	if (queued > 4 * TCP_OUT_HIGH) {
		EDGE_COUNT(&c->w->stats, tcp_tx_dropped, 1);
		return;
	}
	EDGE_COUNT(&c->w->stats, tcp_tx, 1);
	/* Plain TCP with nothing queued: write at once, so the common case
	 * costs one send() and no write event (two epoll_ctl and a wake-up
	 * per packet otherwise). What the kernel does not take is queued. */
	if (!is_tls(c) && queued == 0) {
		ssize_t n = send(bufferevent_getfd(c->bev), data, len,
		                 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return;
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		}
	}
	evbuffer_add(out, data, len);
}

void edge_tcp_handover(struct tcp_conn *c, edge_tcp_take_fn *fn, uint32_t arg,
                       bool keep_frame)
{
	c->take = fn;
	c->take_arg = arg;
	c->keep_frame = keep_frame;
}

/* The connection leaves: its bufferevent (and connection-limit slot) goes
 * to c->take, which owns it from now on. */
static void handover(struct tcp_conn *c)
{
	struct turn_tuple t = c->tuple;

	conn_unlink(c);
	if (c->deadline)
		event_free(c->deadline);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	c->take(c->w, &t, c->bev, c->take_arg);
	free(c);
}

enum { FRAMES_OK, FRAMES_BAD, FRAMES_GONE };

/* realm-sni: the server name the client sent in its TLS handshake (done:
 * a frame came) picks the connection's realm; none keeps the
 * listener's. */
static void sni_realm(struct tcp_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	const char *host =
	        ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;

	edge_realm_of_sni(c->w->realms, host, &c->tuple.realm);
}

/* Hand every complete frame to the core; FRAMES_BAD when the connection
 * must close (bytes that cannot start a STUN or ChannelData frame),
 * FRAMES_GONE when it was handed over (c is freed). */
static int tcp_frames(struct tcp_conn *c)
{
	struct edge_worker *w = c->w;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t frame_len;
	enum stun_reason why;

	edge_io_clock(&w->io);
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		if (avail < 4)
			return FRAMES_OK;
		uint8_t *head = evbuffer_pullup(in, 4);
		int r = stun_frame_len(head, avail, TCP_FRAME_MAX, &frame_len,
		                       &why);
		if (r == EAGAIN)
			return FRAMES_OK;
		if (r != 0)
			return FRAMES_BAD;
		if (avail < frame_len)
			return FRAMES_OK;
		uint8_t *frame = evbuffer_pullup(in, (ssize_t)frame_len);
		EDGE_COUNT(&w->stats, tcp_rx, 1);
		if (is_tls(c) && c->frames == 0)
			sni_realm(c);
		c->frames++;
		edge_core_input(w, &c->tuple, frame, frame_len);
		edge_io_flush(&w->io); /* payloads borrow the frame: send now */
		/* The core cannot close this connection (it has no such
		 * action), so c is still valid here; it may hand it over. */
		if (c->take) {
			if (!c->keep_frame)
				evbuffer_drain(in, frame_len);
			handover(c);
			return FRAMES_GONE;
		}
		evbuffer_drain(in, frame_len);
		if (!c->active) {
			/* Past the first message the allocation's lifetime
			 * governs; the idle limit guards only silent
			 * connections. */
			struct timeval t = {.tv_sec = TCP_ACTIVE_TIMEOUT_S};
			struct timeval wt = {.tv_sec = TCP_WRITE_STALL_S};
			c->active = true;
			event_del(c->deadline);
			bufferevent_set_timeouts(c->bev, &t, &wt);
		}
	}
}

static void tcp_readable(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	int r = tcp_frames(c);

	if (r == FRAMES_GONE)
		return;
	if (r == FRAMES_BAD) {
		tcp_cut(c, CLOSE_BAD);
		return;
	}
	if (c->active)
		frame_deadline(c);
	if (evbuffer_get_length(bufferevent_get_output(bev)) > TCP_OUT_HIGH)
		bufferevent_disable(bev, EV_READ);
}

static void tcp_writable(struct bufferevent *bev, void *arg)
{
	(void)arg;
	bufferevent_enable(bev, EV_READ);
}

static void tcp_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		tcp_cut(arg,
		        what & BEV_EVENT_WRITING ? CLOSE_STALLED : CLOSE_IDLE);
	else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		tcp_cut(arg, CLOSE_PEER);
}

/* A TLS connection gets a bufferevent that runs the server handshake
 * first. It does not own its SSL and socket (no BEV_OPT_CLOSE_ON_FREE):
 * edge_tcp_bev_free frees them, and a ConnectionBind can move them to
 * another worker without libevent's deferred finalizer touching them
 * there. NULL on failure. */
static struct bufferevent *tls_bev(struct edge_worker *w, evutil_socket_t fd)
{
	SSL *ssl = SSL_new(w->tls_ctx);
	struct bufferevent *bev;

	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(w->base, fd, ssl,
	                                     BUFFEREVENT_SSL_ACCEPTING, 0);
	if (!bev) {
		SSL_free(ssl); /* not the bufferevent's: we own it */
		return NULL;
	}
	/* A client that just closes its socket is a normal end. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* Into the tables, with the callbacks. */
static void conn_insert(struct edge_worker *w, struct tcp_conn *c)
{
	size_t b = c->tuple.conn & (w->nconn_buckets - 1);

	c->hnext = w->conn_buckets[b];
	w->conn_buckets[b] = c;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	bufferevent_setcb(c->bev, tcp_readable, tcp_writable, tcp_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, TCP_OUT_HIGH / 2, 0);
}

int edge_tcp_adopt(struct edge_worker *w, evutil_socket_t fd, SSL *ssl,
                   const struct turn_tuple *t, const uint8_t *bytes, size_t len)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));
	struct timeval at = {.tv_sec = TCP_ACTIVE_TIMEOUT_S};
	struct timeval wt = {.tv_sec = TCP_WRITE_STALL_S};

	if (!c)
		return ENOMEM;
	c->w = w;
	c->tuple = *t;
	c->active = true; /* its first message came on the other worker */
	do {
		c->tuple.conn = w->next_conn_id++;
	} while (c->tuple.conn == 0 || edge_tcp_find(w, c->tuple.conn));
	c->deadline = evtimer_new(w->base, deadline_fired, c);
	c->bev = !c->deadline ? NULL
	         : ssl        ? bufferevent_openssl_socket_new(w->base, fd, ssl,
	                                                       BUFFEREVENT_SSL_OPEN, 0)
	                      : bufferevent_socket_new(w->base, fd,
	                                               BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		if (c->deadline)
			event_free(c->deadline);
		free(c);
		return ENOMEM;
	}
	if (ssl)
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	conn_insert(w, c);
	bufferevent_set_timeouts(c->bev, &at, &wt);
	/* A socket bufferevent's input takes bytes from its socket only (its
	 * end is frozen): thaw it for these. An OpenSSL one's is not frozen
	 * and must not be (its reads would fail). */
	struct evbuffer *in = bufferevent_get_input(c->bev);
	if (!ssl)
		evbuffer_unfreeze(in, 0);
	evbuffer_add(in, bytes, len);
	if (!ssl)
		evbuffer_freeze(in, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	tcp_readable(c->bev, c); /* the frames that came with it */
	return 0;
}

static void accept_conn(struct evconnlistener *l, evutil_socket_t fd,
                        struct sockaddr *sa, int salen, struct edge_worker *w,
                        bool tls)
{
	struct tcp_conn *c;
	struct timeval idle = {.tv_sec = w->idle_timeout_s};

	/* max-connections and max-connections-per-ip: refused at once, so
	 * one address cannot take every descriptor. */
	if (w->connlimit && !edge_connlimit_acquire(w->connlimit, sa)) {
		EDGE_COUNT(&w->stats, tcp_refused, 1);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		if (w->connlimit)
			edge_connlimit_release(w->connlimit, sa);
		close(fd);
		return;
	}
	c->w = w;
	memcpy(&c->tuple.client, sa,
	       (size_t)salen < sizeof(c->tuple.client)
	               ? (size_t)salen
	               : sizeof(c->tuple.client));
	c->tuple.transport = tls ? TURN_TRANSPORT_TLS : TURN_TRANSPORT_TCP;
	c->tuple.listener = 0;
	for (size_t i = 0; i < w->ntcp; i++)
		if (w->tcp[i] == l) {
			c->tuple.listener = (uint32_t)(EDGE_MAX_LISTEN + i);
			c->tuple.realm = w->tcp_realm[i];
		}
	for (size_t i = 0; i < w->ntls; i++)
		if (w->tls[i] == l) {
			c->tuple.listener = (uint32_t)(2 * EDGE_MAX_LISTEN + i);
			c->tuple.realm = w->tls_realm[i];
		}
	do {
		c->tuple.conn = w->next_conn_id++;
	} while (c->tuple.conn == 0 || edge_tcp_find(w, c->tuple.conn));
	edge_tcp_client_opts(fd);
	c->deadline = evtimer_new(w->base, deadline_fired, c);
	c->bev = !c->deadline ? NULL
	         : tls        ? tls_bev(w, fd)
	                      : bufferevent_socket_new(w->base, fd,
	                                               BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		if (c->deadline)
			event_free(c->deadline);
		if (w->connlimit)
			edge_connlimit_release(w->connlimit, sa);
		close(fd);
		free(c);
		return;
	}
	EDGE_COUNT(&w->stats, tcp_accepted, 1);
	if (tls)
		EDGE_COUNT(&w->stats, tls_accepted, 1);
	conn_insert(w, c);
	/* Until the first frame: handshake and first message within
	 * handshake-timeout of now, however slowly bytes trickle in; the
	 * idle limit as well while nothing is read at all. */
	if (idle.tv_sec > 0)
		bufferevent_set_timeouts(c->bev, &idle, NULL);
	if (w->handshake_timeout_s > 0) {
		struct timeval first = {.tv_sec = w->handshake_timeout_s};
		event_add(c->deadline, &first);
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

void edge_tcp_accept(struct evconnlistener *l, evutil_socket_t fd,
                     struct sockaddr *sa, int salen, void *arg)
{
	accept_conn(l, fd, sa, salen, arg, false);
}

void edge_tls_accept(struct evconnlistener *l, evutil_socket_t fd,
                     struct sockaddr *sa, int salen, void *arg)
{
	accept_conn(l, fd, sa, salen, arg, true);
}

void edge_tcp_accept_error(struct evconnlistener *l, void *arg)
{
	struct edge_worker *w = arg;
	int err = EVUTIL_SOCKET_ERROR();

	(void)l;
	if (edge_nofd(err))
		edge_nofd_accept(w, err); /* paused, else it fires again */
	else
		edge_warn("worker %d: accept failed: %s", w->index,
		          strerror(err));
}

void edge_tcp_close_all(struct edge_worker *w)
{
	while (w->conns)
		tcp_close(w->conns, false);
	while (w->leftovers) /* their loop turn will not come */
		free_leftover(-1, 0, w->leftovers);
	free(w->conn_buckets);
	w->conn_buckets = NULL;
}
