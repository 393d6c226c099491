/*
 * edge/net/relay.c - relay sockets. A relay socket belongs to one
 * allocation of one worker; peer datagrams are read in batches by the
 * I/O engine into slots with headroom, so the core writes the ChannelData
 * or Data indication header in place, and what the core asks for is run
 * by run.c. ICMP errors for datagrams sent from the socket (IP_RECVERR)
 * go to the core too.
 */
#include "edge/base/log.h"
#include "edge/net/run.h"
#include "edge/net/sock.h"
#include "edge/net/worker_int.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

void edge_relay_free(struct edge_relay *r)
{
	relay_unlink(r);
	event_free(r->ev);
	close(r->fd);
	free(r);
}

struct icmp_arg {
	struct turn_alloc *alloc;
	const union turn_addr *dest;
	const struct sock_extended_err *ee;
};

static void icmp_call(struct edge_worker *w, const struct edge_core_ctx *c,
                      void *arg)
{
	const struct icmp_arg *ia = arg;

	(void)w;
	turn_server_peer_icmp(c->core, ia->alloc, ia->dest, ia->ee->ee_type,
	                      ia->ee->ee_code, ia->ee->ee_info, c->now_ms,
	                      c->out);
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
			struct icmp_arg ia = {r->alloc, &dest, &ee};
			edge_worker_core_call(w, icmp_call, &ia);
		}
	}
}

static void relay_readable(evutil_socket_t fd, short what, void *arg)
{
	struct edge_relay *r = arg;
	struct edge_worker *w = r->w;
	int n;

	(void)what;
	edge_io_clock(&w->io);
	unsigned b;
	n = edge_io_rx_batch(&w->io, fd, &b, EDGE_SOCK_RELAY, &r->drops_seen);
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		/* A pending ICMP error (ECONNREFUSED...) is not fatal: tell
		 * the client, then read on. r may be freed by the actions. */
		relay_errors(r);
		n = edge_io_rx_batch(&w->io, fd, &b, EDGE_SOCK_RELAY,
		                     &r->drops_seen);
	}
	if (n <= 0)
		return;
	EDGE_COUNT(&w->stats, relay_rx, (unsigned)n);
	/* r may be freed by an action below (a kick): nothing touches it
	 * after the loop. */
	struct turn_alloc *alloc = r->alloc;
	for (unsigned i = b; i < b + (unsigned)n; i++) {
		if (w->io.rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
			continue;
		edge_core_peer_input(w, alloc, &w->io.rx_addr[i],
		                     w->io.rx[i].buf, w->io.rx_msgs[i].msg_len);
	}
	edge_io_rx_done(&w->io); /* sends go out at the end of the loop turn */
}

/* Bind a relay socket for an OPEN_RELAY; 0 and *out, or errno. */
int edge_relay_open(struct edge_worker *w, const struct turn_action *a,
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
		if (edge_nofd(err))
			edge_nofd_socket(w, err);
		return err;
	}
	if (a->bind.sa.sa_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one));
	} else {
		setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof(one));
	}
	edge_sock_set_bufs(fd, EDGE_SOCK_RELAY, "sock-buf-size", w->relay_buf,
	                   w->relay_buf);
	edge_sock_rxq_ovfl(fd);
	/* the class's DSCP on what goes to peers (docs/config.md) */
	edge_sock_set_dscp(fd, a->bind.sa.sa_family, a->dscp);
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
		edge_relay_free(w->relays);
}
