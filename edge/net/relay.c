/*
 * edge/net/relay.c - relay sockets and the running of the core's actions.
 * A relay socket belongs to one allocation of one worker; peer datagrams
 * are read in batches into slots with headroom, so the core writes the
 * ChannelData or Data indication header in place. Sends are queued and
 * flushed with one sendmmsg per run of datagrams from the same socket;
 * payloads are borrowed from the receive slots (valid for the batch), and
 * only responses built in the core's scratch space are copied.
 */
#include "edge/base/log.h"
#include "edge/net/dtls.h"
#include "edge/net/sock.h"
#include "edge/net/worker_int.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct edge_relay {
	int fd;
	struct event *ev;
	struct edge_worker *w;
	struct turn_alloc *alloc;
	struct edge_relay *next, *prev; /* all of the worker's relays */
};

void edge_clock(struct edge_worker *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	w->now_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	w->now_s = (uint64_t)ts.tv_sec;
}

/* --- batched sends ---------------------------------------------------- */

static void set_df(int fd, int family, bool on)
{
	if (family == AF_INET) {
		int v = on ? IP_PMTUDISC_DO : IP_PMTUDISC_WANT;
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v));
	} else {
		int v = on ? IPV6_PMTUDISC_DO : IPV6_PMTUDISC_WANT;
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v, sizeof(v));
	}
}

/* Send entries [from, to) that share one fd. */
static void send_run(struct edge_worker *w, unsigned from, unsigned to)
{
	struct tx_queue *q = &w->tx;
	int fd = q->e[from].fd;
	bool df = q->e[from].dont_fragment;

	for (unsigned i = from; i < to; i++) {
		struct msghdr *h = &q->msgs[i].msg_hdr;
		memset(h, 0, sizeof(*h));
		h->msg_name = &q->e[i].to;
		h->msg_namelen = edge_addr_len(&q->e[i].to.sa);
		h->msg_iov = &q->e[i].iov;
		h->msg_iovlen = 1;
	}
	if (df)
		set_df(fd, q->e[from].to.sa.sa_family, true);
	unsigned sent = from, retried = to;
	while (sent < to) {
		int r = sendmmsg(fd, q->msgs + sent, to - sent, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* An ICMP error reported earlier (IP_RECVERR) comes
			 * back from the next send once, unsent: retry it. */
			if ((errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			     errno == ENETUNREACH) &&
			    retried != sent) {
				retried = sent;
				continue;
			}
			/* Full buffer or an error for one destination: skip
			 * that datagram, count it, go on. */
			EDGE_COUNT(&w->stats, udp_send_errors, 1);
			sent++;
			continue;
		}
		sent += (unsigned)r;
		EDGE_COUNT(&w->stats, udp_tx, (unsigned)r);
	}
	if (df)
		set_df(fd, q->e[from].to.sa.sa_family, false);
}

void edge_tx_flush(struct edge_worker *w)
{
	struct tx_queue *q = &w->tx;
	unsigned start = 0;

	for (unsigned i = 1; i <= q->n; i++) {
		if (i == q->n || q->e[i].fd != q->e[start].fd ||
		    q->e[i].dont_fragment != q->e[start].dont_fragment) {
			send_run(w, start, i);
			start = i;
		}
	}
	q->n = 0;
	w->rx_used = w->rx_hold;
}

int edge_rx_batch(struct edge_worker *w, int fd, unsigned *base)
{
	if (EDGE_RX_SLOTS - w->rx_used < EDGE_BATCH)
		edge_tx_flush(w); /* frees the slots queued sends borrow */
	unsigned b = w->rx_used;
	for (unsigned i = b; i < b + EDGE_BATCH; i++) {
		w->rx_iov[i].iov_base = w->rx[i].buf;
		w->rx_iov[i].iov_len = EDGE_DGRAM_MAX;
		memset(&w->rx_msgs[i].msg_hdr, 0, sizeof(struct msghdr));
		w->rx_msgs[i].msg_hdr.msg_name = &w->rx_addr[i];
		w->rx_msgs[i].msg_hdr.msg_namelen = sizeof(w->rx_addr[i]);
		w->rx_msgs[i].msg_hdr.msg_iov = &w->rx_iov[i];
		w->rx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	int n = recvmmsg(fd, w->rx_msgs + b, EDGE_BATCH, MSG_DONTWAIT, NULL);
	*base = b;
	if (n > 0)
		w->rx_hold = w->rx_used = b + (unsigned)n;
	return n;
}

void edge_rx_done(struct edge_worker *w)
{
	w->rx_hold = 0;
}

static void tx_queue(struct edge_worker *w, int fd, const union turn_addr *to,
                     const uint8_t *data, size_t len, bool df)
{
	struct tx_queue *q = &w->tx;
	const struct turn_actions *out = &w->out;

	if (q->n == EDGE_TX_MAX)
		edge_tx_flush(w);
	struct tx_entry *e = &q->e[q->n];
	e->fd = fd;
	e->dont_fragment = df;
	memcpy(&e->to, to, edge_addr_len(&to->sa));
	if (data >= out->scratch && data < out->scratch + TURN_SCRATCH_LEN) {
		if (len > EDGE_TX_COPY)
			return; /* cannot happen: responses are small */
		memcpy(q->copy[q->n], data, len);
		data = q->copy[q->n];
	}
	e->iov.iov_base = (void *)data;
	e->iov.iov_len = len;
	q->n++;
}

/* --- relay sockets ---------------------------------------------------- */

static void relay_unlink(struct edge_relay *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->w->relays = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static void relay_free(struct edge_relay *r)
{
	relay_unlink(r);
	event_free(r->ev);
	close(r->fd);
	free(r);
}

/* Drain the socket's error queue (IP_RECVERR): every ICMP error for a
 * datagram we sent goes to the core, which tells a permitted client. */
static void relay_errors(struct edge_relay *r)
{
	struct edge_worker *w = r->w;
	union turn_addr dest;
	char ctl[512];
	uint8_t data[64];
	struct iovec iov = {data, sizeof(data)};

	for (int i = 0; i < 64; i++) {
		struct msghdr h = {.msg_name = &dest,
		                   .msg_namelen = sizeof(dest),
		                   .msg_iov = &iov,
		                   .msg_iovlen = 1,
		                   .msg_control = ctl,
		                   .msg_controllen = sizeof(ctl)};
		if (recvmsg(r->fd, &h, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c;
		     c = CMSG_NXTHDR(&h, c)) {
			if (!((c->cmsg_level == SOL_IP &&
			       c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == SOL_IPV6 &&
			       c->cmsg_type == IPV6_RECVERR)))
				continue;
			struct sock_extended_err ee;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ICMP &&
			    ee.ee_origin != SO_EE_ORIGIN_ICMP6)
				continue;
			EDGE_COUNT(&w->stats, relay_icmp, 1);
			turn_actions_reset(&w->out);
			turn_server_peer_icmp(w->core, r->alloc, &dest,
			                      ee.ee_type, ee.ee_code,
			                      ee.ee_info, w->now_ms, &w->out);
			edge_run_actions(w);
		}
	}
}

static void relay_readable(evutil_socket_t fd, short what, void *arg)
{
	struct edge_relay *r = arg;
	struct edge_worker *w = r->w;
	int n;

	(void)what;
	edge_clock(w);
	unsigned b;
	n = edge_rx_batch(w, fd, &b);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		/* A pending ICMP error (ECONNREFUSED...) is not fatal: tell
		 * the client, then read on. r may be freed by the actions. */
		relay_errors(r);
		n = edge_rx_batch(w, fd, &b);
	}
	if (n <= 0)
		return;
	EDGE_COUNT(&w->stats, relay_rx, (unsigned)n);
	/* r may be freed by an action below (a kick): nothing touches it
	 * after the loop. */
	struct turn_alloc *alloc = r->alloc;
	for (unsigned i = b; i < b + (unsigned)n; i++) {
		if (w->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		turn_actions_reset(&w->out);
		turn_server_peer_input(w->core, alloc, &w->rx_addr[i],
		                       w->rx[i].buf, w->rx_msgs[i].msg_len,
		                       w->now_ms, &w->out);
		edge_run_actions(w);
	}
	edge_rx_done(w); /* sends go out at the end of the loop iteration */
}

/* Bind a relay socket for an OPEN_RELAY; 0 and *out, or errno. */
static int relay_open(struct edge_worker *w, const struct turn_action *a,
                      struct edge_relay **out)
{
	struct edge_relay *r = calloc(1, sizeof(*r));
	int one = 1, fd;

	if (!r)
		return ENOMEM;
	fd = socket(a->bind.sa.sa_family,
	            SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int err = errno;
		free(r);
		return err;
	}
	if (a->bind.sa.sa_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	} else {
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	}
	if (bind(fd, &a->bind.sa, edge_addr_len(&a->bind.sa)) < 0) {
		int err = errno;
		close(fd);
		free(r);
		return err;
	}
	r->fd = fd;
	r->w = w;
	r->alloc = a->alloc;
	r->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, relay_readable, r);
	if (!r->ev || event_add(r->ev, NULL) < 0) {
		if (r->ev)
			event_free(r->ev);
		close(fd);
		free(r);
		return ENOMEM;
	}
	r->next = w->relays;
	if (w->relays)
		w->relays->prev = r;
	w->relays = r;
	*out = r;
	return 0;
}

void edge_relay_close_all(struct edge_worker *w)
{
	while (w->relays)
		relay_free(w->relays);
}

/* --- running actions -------------------------------------------------- */

static void send_client(struct edge_worker *w, const struct turn_action *a)
{
	const struct turn_tuple *t = a->tuple;

	if (t->transport == TURN_TRANSPORT_UDP) {
		int fd = edge_udp_fd_for(w, t->listener);
		if (fd >= 0)
			tx_queue(w, fd, &t->client, a->data, a->len, false);
		return;
	}
	if (t->transport == TURN_TRANSPORT_DTLS) {
		edge_dtls_send(w, t, a->data, a->len);
		return;
	}
	struct tcp_conn *c = edge_tcp_find(w, t->conn);
	if (c)
		edge_tcp_send(c, a->data, a->len);
}

/* QUOTA and ALLOC_EVENT actions go to the hook (edge/redis); without
 * one a QUOTA_CHECK is decided locally: the local quota has already
 * counted it. */
static void hook_action(struct edge_worker *w, const struct turn_action *a)
{
	if (w->hooks.action) {
		struct edge_core_ctx c = {w->core, w->now_ms, w->now_s,
		                          &w->out};
		w->hooks.action(w->hooks.ctx, &c, a);
	} else if (a->kind == TURN_ACT_QUOTA_CHECK) {
		turn_server_quota_result(w->core, a->token, TURN_QUOTA_LOCAL,
		                         w->now_ms, w->now_s, &w->out);
	}
}

void edge_run_actions(struct edge_worker *w)
{
	struct turn_actions *out = &w->out;

	if (out->dropped)
		EDGE_COUNT(&w->stats, actions_dropped, out->dropped);
	/* relay_result may append actions while this runs: re-read n. */
	for (size_t i = 0; i < out->n; i++) {
		struct turn_action *a = &out->v[i];
		struct edge_relay *r;
		int err;

		switch (a->kind) {
		case TURN_ACT_SEND_CLIENT:
			send_client(w, a);
			break;
		case TURN_ACT_SEND_PEER:
			r = a->relay;
			tx_queue(w, r->fd, a->peer, a->data, a->len,
			         a->dont_fragment);
			EDGE_COUNT(&w->stats, relay_tx, 1);
			break;
		case TURN_ACT_OPEN_RELAY:
			r = NULL;
			err = relay_open(w, a, &r);
			if (err)
				EDGE_COUNT(&w->stats, relay_open_failures, 1);
			turn_server_relay_result(w->core, a->token, err, r,
			                         w->now_ms, w->now_s, out);
			break;
		case TURN_ACT_CLOSE_RELAY:
			/* Datagrams queued from it go out first. */
			edge_tx_flush(w);
			if (a->relay)
				relay_free(a->relay);
			break;
		case TURN_ACT_LOG:
			edge_info("%.*s", (int)a->len, (const char *)a->data);
			if (w->hooks.log) /* auth failures become events */
				w->hooks.log(w->hooks.ctx,
				             (const char *)a->data, a->len);
			break;
		case TURN_ACT_OPEN_TCP_RELAY:
		case TURN_ACT_CLOSE_TCP_RELAY:
		case TURN_ACT_TCP_CONNECT:
		case TURN_ACT_TCP_CLOSE:
		case TURN_ACT_TCP_BIND_DATA:
		case TURN_ACT_TCP_HANDOFF:
			edge_tcp_relay_action(w, a); /* RFC 6062: tcp_relay.c */
			break;
		case TURN_ACT_QUOTA_CHECK:
		case TURN_ACT_QUOTA_RELEASE:
		case TURN_ACT_ALLOC_EVENT:
			hook_action(w, a);
			break;
		}
	}
}
