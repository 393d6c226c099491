/*
 * edge/net/io.c - a worker's I/O engine (see io.h): the clock of the loop
 * turn, batched receives into slots, batched sends.
 */
#include "edge/net/io.h"
#include "edge/net/worker.h" /* struct edge_stats, EDGE_COUNT */

#include <errno.h>
#include <netinet/in.h>
#include <time.h>

void edge_io_stamp(struct edge_io *io)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	io->now_ms =
	        (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	io->now_s = (uint64_t)ts.tv_sec;
	io->stamped = true;
}

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

void edge_io_send_failed(struct edge_stats *st, enum edge_sock_kind kind,
                         int err)
{
	if (kind == EDGE_SOCK_RELAY)
		EDGE_COUNT(st, relay_send_errors, 1);
	else
		EDGE_COUNT(st, udp_send_errors, 1);
	if (err == EAGAIN || err == EWOULDBLOCK)
		EDGE_COUNT(st, send_eagain[kind], 1);
	else if (err == ENOBUFS)
		EDGE_COUNT(st, send_enobufs[kind], 1);
	else
		EDGE_COUNT(st, send_other[kind], 1);
}

/* Send entries [from, to) that share one fd (and so one kind). */
static void send_run(struct edge_io *io, unsigned from, unsigned to)
{
	struct tx_queue *q = &io->tx;
	int fd = q->e[from].fd;
	bool df = q->e[from].dont_fragment;
	enum edge_sock_kind kind = q->e[from].kind;

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
			edge_io_send_failed(io->stats, kind, errno);
			sent++;
			continue;
		}
		/* Part of the batch: the next call reports why. */
		if ((unsigned)r < to - sent)
			EDGE_COUNT(io->stats, send_partial[kind], 1);
		sent += (unsigned)r;
		EDGE_COUNT(io->stats, udp_tx, (unsigned)r);
	}
	if (df)
		set_df(fd, q->e[from].to.sa.sa_family, false);
}

void edge_io_flush(struct edge_io *io)
{
	struct tx_queue *q = &io->tx;
	unsigned start = 0;

	for (unsigned i = 1; i <= q->n; i++) {
		if (i == q->n || q->e[i].fd != q->e[start].fd ||
		    q->e[i].dont_fragment != q->e[start].dont_fragment) {
			send_run(io, start, i);
			start = i;
		}
	}
	q->n = 0;
	io->rx_used = io->rx_hold;
}

/* A receive-queue drop count (SO_RXQ_OVFL) in h's control data, if any:
 * the socket's cumulative count, which the kernel stamps on every
 * datagram queued after its first drop. */
static void rx_drops(struct edge_io *io, const struct msghdr *h,
                     enum edge_sock_kind kind, uint32_t *seen)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c;
	     c = CMSG_NXTHDR((struct msghdr *)h, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL)
			continue;
		uint32_t v;
		memcpy(&v, CMSG_DATA(c), sizeof(v));
		uint32_t d = v - *seen; /* modulo 2^32 */
		if (d && d < 0x80000000u) {
			EDGE_COUNT(io->stats, rx_drops[kind], d);
			*seen = v;
		}
	}
}

/* Every slot's header, once: the kernel changes only msg_namelen,
 * msg_controllen and msg_flags of the headers it fills, so a batch resets
 * the first two of those it used, not all EDGE_BATCH. */
static void rx_init(struct edge_io *io)
{
	for (unsigned i = 0; i < EDGE_RX_SLOTS; i++) {
		struct msghdr *h = &io->rx_msgs[i].msg_hdr;
		io->rx_iov[i].iov_base = io->rx[i].buf;
		io->rx_iov[i].iov_len = EDGE_DGRAM_MAX;
		memset(h, 0, sizeof(*h));
		h->msg_name = &io->rx_addr[i];
		h->msg_namelen = sizeof(io->rx_addr[i]);
		h->msg_iov = &io->rx_iov[i];
		h->msg_iovlen = 1;
		h->msg_control = io->rx_ctl[i].buf;
		h->msg_controllen = sizeof(io->rx_ctl[i]);
	}
	io->rx_ready = true;
}

int edge_io_rx_batch(struct edge_io *io, int fd, unsigned *base,
                     enum edge_sock_kind kind, uint32_t *drops_seen)
{
	if (!io->rx_ready)
		rx_init(io);
	if (EDGE_RX_SLOTS - io->rx_used < EDGE_BATCH)
		edge_io_flush(io); /* frees the slots queued sends borrow */
	unsigned b = io->rx_used;
	int n = recvmmsg(fd, io->rx_msgs + b, EDGE_BATCH, MSG_DONTWAIT, NULL);
	*base = b;
	if (n <= 0)
		return n;
	io->rx_hold = io->rx_used = b + (unsigned)n;
	for (unsigned i = b; i < b + (unsigned)n; i++) {
		struct msghdr *h = &io->rx_msgs[i].msg_hdr;
		if (h->msg_controllen) /* 0 until the socket drops */
			rx_drops(io, h, kind, drops_seen);
		h->msg_controllen = sizeof(io->rx_ctl[i]);
		h->msg_namelen = sizeof(io->rx_addr[i]);
	}
	return n;
}
