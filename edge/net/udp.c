/*
 * edge/net/udp.c - a worker's UDP listening sockets (SO_REUSEPORT: the
 * kernel keeps a client's 5-tuple on one worker). Datagrams are read in
 * batches by the I/O engine and handed to the core one by one; what the
 * core answers is queued and leaves at the end of the loop turn.
 */
#include "edge/config/realms.h"
#include "edge/net/run.h"
#include "edge/net/sock.h"
#include "edge/net/worker_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define BATCHES_PER_WAKE 8 /* fairness between sockets */

static void udp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock *us = arg;
	struct edge_worker *w = us->w;
	struct turn_tuple tuple;

	(void)what;
	memset(&tuple, 0, sizeof(tuple));
	tuple.listener = us->listener;
	tuple.transport = TURN_TRANSPORT_UDP;
	tuple.realm = us->realm;
	edge_io_clock(&w->io);
	for (int round = 0; round < BATCHES_PER_WAKE; round++) {
		unsigned b;
		int n = edge_io_rx_batch(&w->io, fd, &b, EDGE_SOCK_LISTENER,
		                         &us->drops_seen);
		if (n <= 0)
			break; /* EAGAIN, or an error queued for a peer */
		EDGE_COUNT(&w->stats, udp_rx, (unsigned)n);
		for (unsigned i = b; i < b + (unsigned)n; i++) {
			if (w->io.rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				EDGE_COUNT(&w->stats, udp_truncated, 1);
				continue;
			}
			memcpy(&tuple.client, &w->io.rx_addr[i],
			       sizeof(tuple.client));
			edge_core_input(w, &tuple, w->io.rx[i].buf,
			                w->io.rx_msgs[i].msg_len);
		}
		edge_io_rx_done(&w->io);
		if (n < EDGE_BATCH)
			break;
	}
}

int edge_udp_open(struct edge_worker *w, const struct sockaddr *sa,
                  const struct edge_worker_opts *opts)
{
	int fd = edge_udp_bind(sa, opts->rcvbuf, opts->sndbuf);

	if (fd < 0)
		return -fd;
	struct udp_sock *us = &w->udp[w->nudp];
	us->fd = fd;
	us->w = w;
	us->listener = (uint32_t)w->nudp;
	us->realm = edge_realm_of_listener(opts->realms, sa);
	w->nudp++;
	us->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, udp_readable, us);
	if (!us->ev || event_add(us->ev, NULL) < 0)
		return ENOMEM;
	return 0;
}

void edge_udp_close_all(struct edge_worker *w)
{
	for (size_t i = 0; i < w->nudp; i++) {
		if (w->udp[i].ev)
			event_free(w->udp[i].ev);
		close(w->udp[i].fd);
	}
	w->nudp = 0;
}
