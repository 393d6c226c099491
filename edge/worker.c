/*
 * edge/worker.c - a worker thread's event loop: UDP datagrams read in
 * batches with recvmmsg and answered in batches with sendmmsg, TCP
 * connections with STUN framing over bufferevents. The protocol decisions
 * are made by stun/ and turn/; this file only moves bytes and counts.
 * Buffers are fixed per worker: nothing is allocated per packet.
 */
#include "edge/worker.h"
#include "edge/log.h"
#include "edge/net.h"
#include "stun/stun.h"
#include "turn/turn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 32            /* datagrams per recvmmsg / sendmmsg */
#define DGRAM_MAX 4096      /* larger datagrams are truncated and dropped */
#define BATCHES_PER_WAKE 8  /* fairness between sockets */
#define TCP_FRAME_MAX 65560 /* 64 KiB payload + headers */
#define TCP_OUT_HIGH (256 * 1024)

struct udp_sock {
	int fd;
	struct event *ev;
	struct edge_worker *w;
};

struct tx_batch {
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage addr[BATCH];
	uint8_t buf[BATCH][DGRAM_MAX];
	unsigned n;
};

struct edge_worker {
	int index;
	pthread_t thread;
	bool started;
	struct event_base *base;
	struct udp_sock udp[EDGE_MAX_LISTEN];
	size_t nudp;
	struct evconnlistener *tcp[EDGE_MAX_LISTEN];
	size_t ntcp;
	unsigned idle_timeout_s;
	struct tcp_conn *conns; /* open TCP connections, freed at stop */
	struct edge_stats stats;
	/* receive batch */
	struct mmsghdr rx_msgs[BATCH];
	struct iovec rx_iov[BATCH];
	struct sockaddr_storage rx_addr[BATCH];
	uint8_t rx_buf[BATCH][DGRAM_MAX];
	struct tx_batch tx;
};

/* Answer one STUN message; returns the response length in out, 0 for
 * none. Shared by UDP and TCP. */
static size_t handle_stun(struct edge_worker *w, const struct sockaddr *from,
			  const uint8_t *buf, size_t len, uint8_t *out,
			  size_t cap)
{
	struct stun_msg msg;
	enum stun_reason why;
	enum turn_binding_outcome outcome;
	size_t out_len = 0;

	if (stun_msg_parse(&msg, buf, len, &why) != 0) {
		EDGE_COUNT(&w->stats, stun_malformed, 1);
		return 0;
	}
	if (msg.rfc3489)
		EDGE_COUNT(&w->stats, stun_rfc3489, 1);
	if (turn_binding_respond(&msg, from, out, cap, &out_len, &outcome) != 0)
		return 0;
	switch (outcome) {
	case TURN_BINDING_SUCCESS:
		EDGE_COUNT(&w->stats, binding_success, 1);
		break;
	case TURN_BINDING_INDICATION:
		EDGE_COUNT(&w->stats, binding_indication, 1);
		break;
	case TURN_BINDING_UNKNOWN_ATTR:
		EDGE_COUNT(&w->stats, binding_420, 1);
		break;
	case TURN_BINDING_NOT_BINDING:
		EDGE_COUNT(&w->stats, requests_unhandled, 1);
		break;
	}
	return out_len;
}

/* --- UDP -------------------------------------------------------------- */

static void tx_flush(struct edge_worker *w, int fd)
{
	unsigned sent = 0;

	while (sent < w->tx.n) {
		int r = sendmmsg(fd, w->tx.msgs + sent, w->tx.n - sent, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN (buffer full) or a per-destination error:
			 * skip that datagram and count it. */
			EDGE_COUNT(&w->stats, udp_send_errors, 1);
			sent++;
			continue;
		}
		sent += (unsigned)r;
		EDGE_COUNT(&w->stats, udp_tx, (unsigned)r);
	}
	w->tx.n = 0;
}

/* Slot for the next reply in the send batch. */
static uint8_t *tx_slot(struct edge_worker *w)
{
	return w->tx.buf[w->tx.n];
}

static void tx_commit(struct edge_worker *w, const struct sockaddr *to,
		      size_t len)
{
	unsigned i = w->tx.n++;

	memcpy(&w->tx.addr[i], to, edge_addr_len(to));
	w->tx.iov[i].iov_base = w->tx.buf[i];
	w->tx.iov[i].iov_len = len;
	memset(&w->tx.msgs[i].msg_hdr, 0, sizeof(w->tx.msgs[i].msg_hdr));
	w->tx.msgs[i].msg_hdr.msg_name = &w->tx.addr[i];
	w->tx.msgs[i].msg_hdr.msg_namelen = edge_addr_len(to);
	w->tx.msgs[i].msg_hdr.msg_iov = &w->tx.iov[i];
	w->tx.msgs[i].msg_hdr.msg_iovlen = 1;
}

static void udp_datagram(struct edge_worker *w, int fd,
			 const struct sockaddr *from, const uint8_t *buf,
			 size_t len)
{
	size_t out_len;

	switch (stun_demux(buf, len)) {
	case STUN_KIND_STUN:
		out_len = handle_stun(w, from, buf, len, tx_slot(w), DGRAM_MAX);
		if (out_len > 0)
			tx_commit(w, from, out_len);
		if (w->tx.n == BATCH)
			tx_flush(w, fd);
		break;
	case STUN_KIND_CHANNELDATA:
	case STUN_KIND_OTHER:
		EDGE_COUNT(&w->stats, not_stun, 1);
		break;
	}
}

static void udp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock *us = arg;
	struct edge_worker *w = us->w;

	for (int round = 0; round < BATCHES_PER_WAKE; round++) {
		for (unsigned i = 0; i < BATCH; i++) {
			w->rx_iov[i].iov_base = w->rx_buf[i];
			w->rx_iov[i].iov_len = DGRAM_MAX;
			memset(&w->rx_msgs[i].msg_hdr, 0,
			       sizeof(w->rx_msgs[i].msg_hdr));
			w->rx_msgs[i].msg_hdr.msg_name = &w->rx_addr[i];
			w->rx_msgs[i].msg_hdr.msg_namelen =
				sizeof(w->rx_addr[i]);
			w->rx_msgs[i].msg_hdr.msg_iov = &w->rx_iov[i];
			w->rx_msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(fd, w->rx_msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break; /* EAGAIN, or an error queued for a peer */
		EDGE_COUNT(&w->stats, udp_rx, (unsigned)n);
		for (int i = 0; i < n; i++) {
			if (w->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				EDGE_COUNT(&w->stats, udp_truncated, 1);
				continue;
			}
			udp_datagram(w, fd,
				     (const struct sockaddr *)&w->rx_addr[i],
				     w->rx_buf[i], w->rx_msgs[i].msg_len);
		}
		tx_flush(w, fd);
		if (n < BATCH)
			break;
	}
}

/* --- TCP -------------------------------------------------------------- */

struct tcp_conn {
	struct tcp_conn *next, *prev;
	struct edge_worker *w;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
};

static void tcp_close(struct tcp_conn *c)
{
	EDGE_COUNT(&c->w->stats, tcp_closed, 1);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
}

/* Handle every complete frame in the input buffer; false when the
 * connection must close (a frame that cannot be STUN or ChannelData). */
static bool tcp_frames(struct tcp_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint8_t reply[1024];
	size_t frame_len;
	enum stun_reason why;

	for (;;) {
		size_t avail = evbuffer_get_length(in);
		uint8_t *head = evbuffer_pullup(in, avail < 4 ? -1 : 4);
		if (!head || avail < 4)
			return true;
		int r = stun_frame_len(head, avail, TCP_FRAME_MAX, &frame_len,
				       &why);
		if (r == EAGAIN)
			return true;
		if (r != 0) {
			EDGE_COUNT(&c->w->stats, stun_malformed, 1);
			return false;
		}
		if (avail < frame_len)
			return true;
		uint8_t *frame = evbuffer_pullup(in, (ssize_t)frame_len);
		EDGE_COUNT(&c->w->stats, tcp_rx, 1);
		if (stun_demux(frame, frame_len) == STUN_KIND_STUN) {
			size_t n = handle_stun(c->w,
					       (const struct sockaddr *)&c->peer,
					       frame, frame_len, reply,
					       sizeof(reply));
			if (n > 0) {
				evbuffer_add(out, reply, n);
				EDGE_COUNT(&c->w->stats, tcp_tx, 1);
			}
		} else {
			EDGE_COUNT(&c->w->stats, not_stun, 1);
		}
		evbuffer_drain(in, frame_len);
	}
}

static void tcp_readable(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;

	if (!tcp_frames(c)) {
		tcp_close(c);
		return;
	}
	/* Back-pressure: a peer that does not read its answers stops being
	 * read until the output drains. */
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
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		tcp_close(arg);
}

static void tcp_accept(struct evconnlistener *l, evutil_socket_t fd,
		       struct sockaddr *sa, int salen, void *arg)
{
	struct edge_worker *w = arg;
	struct tcp_conn *c = calloc(1, sizeof(*c));
	struct timeval idle = {.tv_sec = w->idle_timeout_s};

	(void)l;
	if (!c) {
		close(fd);
		return;
	}
	c->w = w;
	memcpy(&c->peer, sa, (size_t)salen < sizeof(c->peer) ? (size_t)salen
							     : sizeof(c->peer));
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		free(c);
		return;
	}
	EDGE_COUNT(&w->stats, tcp_accepted, 1);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	bufferevent_setcb(c->bev, tcp_readable, tcp_writable, tcp_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, TCP_OUT_HIGH / 2, 0);
	if (w->idle_timeout_s > 0)
		bufferevent_set_timeouts(c->bev, &idle, NULL);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void tcp_accept_error(struct evconnlistener *l, void *arg)
{
	struct edge_worker *w = arg;
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE/ENFILE: out of descriptors. Pause accepting briefly rather
	 * than spin; libevent retries on the next readable event. */
	edge_warn("worker %d: accept failed: %s", w->index, strerror(err));
	(void)l;
}

/* --- life cycle --------------------------------------------------------- */

int edge_worker_new(struct edge_worker **out, int index,
		    const struct edge_worker_opts *opts,
		    const struct sockaddr **failed)
{
	struct edge_worker *w = calloc(1, sizeof(*w));
	int err = 0;

	*out = NULL;
	if (!w)
		return ENOMEM;
	w->index = index;
	w->idle_timeout_s = opts->idle_timeout_s;
	w->base = event_base_new();
	if (!w->base) {
		free(w);
		return ENOMEM;
	}
	for (size_t i = 0; i < opts->nudp && !err; i++) {
		const struct sockaddr *sa = (const void *)&opts->udp[i];
		int fd = edge_udp_bind(sa, opts->rcvbuf, opts->sndbuf);
		if (fd < 0) {
			err = -fd;
			*failed = sa;
			break;
		}
		struct udp_sock *us = &w->udp[w->nudp++];
		us->fd = fd;
		us->w = w;
		us->ev = event_new(w->base, fd, EV_READ | EV_PERSIST,
				   udp_readable, us);
		if (!us->ev || event_add(us->ev, NULL) < 0)
			err = ENOMEM;
	}
	for (size_t i = 0; i < opts->ntcp && !err; i++) {
		const struct sockaddr *sa = (const void *)&opts->tcp[i];
		int fd = edge_tcp_listen(sa, 1024);
		if (fd < 0) {
			err = -fd;
			*failed = sa;
			break;
		}
		w->tcp[w->ntcp] = evconnlistener_new(
			w->base, tcp_accept, w,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
		if (!w->tcp[w->ntcp]) {
			close(fd);
			err = ENOMEM;
			break;
		}
		evconnlistener_set_error_cb(w->tcp[w->ntcp], tcp_accept_error);
		w->ntcp++;
	}
	if (err) {
		edge_worker_free(w);
		return err;
	}
	*out = w;
	return 0;
}

static void *worker_main(void *arg)
{
	struct edge_worker *w = arg;

	event_base_dispatch(w->base);
	return NULL;
}

int edge_worker_start(struct edge_worker *w)
{
	int err = pthread_create(&w->thread, NULL, worker_main, w);

	if (err == 0)
		w->started = true;
	return err;
}

void edge_worker_stop(struct edge_worker *w)
{
	if (!w || !w->started)
		return;
	event_base_loopexit(w->base, NULL);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void edge_worker_free(struct edge_worker *w)
{
	if (!w)
		return;
	edge_worker_stop(w);
	for (size_t i = 0; i < w->nudp; i++) {
		if (w->udp[i].ev)
			event_free(w->udp[i].ev);
		close(w->udp[i].fd);
	}
	for (size_t i = 0; i < w->ntcp; i++)
		evconnlistener_free(w->tcp[i]);
	while (w->conns)
		tcp_close(w->conns);
	event_base_free(w->base);
	free(w);
}

const struct edge_stats *edge_worker_stats(const struct edge_worker *w)
{
	return &w->stats;
}
