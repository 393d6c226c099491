/*
 * edge/net/io.h - a worker's I/O engine: the clock of the loop turn, the
 * receive slots read with recvmmsg and the send queue flushed with
 * sendmmsg. One per worker, used only on its thread; it knows datagrams,
 * fds and addresses, not TURN.
 *
 * The clock: libevent 2.1 has no prepare/check hooks, so the worker's own
 * loop (net/loop.c) runs event_base_loop(EVLOOP_ONCE) and calls
 * edge_io_turn_end() after each turn; the first edge_io_clock() of a turn
 * (at the start of the first batch, whichever socket or timer woke the
 * loop) stamps the clock and the later ones in the same turn keep it.
 *
 * Buffers: a received datagram lives in its slot, with headroom for the
 * ChannelData or Data indication header the core writes in front of a
 * peer's payload. A queued send borrows the slot's bytes until the flush
 * at the end of the loop turn (or an earlier one when slots or queue
 * entries run out); bytes built in the core's scratch are copied.
 */
#ifndef AVEDGE_EDGE_NET_IO_H
#define AVEDGE_EDGE_NET_IO_H

#include "edge/net/sock.h"
#include "turn/turn.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#define EDGE_BATCH     32   /* datagrams per recvmmsg / sendmmsg */
#define EDGE_DGRAM_MAX 4096 /* larger datagrams are truncated, dropped */
#define EDGE_TX_MAX    128  /* queued sends before a flush */
#define EDGE_RX_SLOTS                                                          \
	128               /* receive slots: sends borrow them until the        \
	                   * flush at the end of the loop iteration */
#define EDGE_TX_COPY 2048 /* room for a copied response */

struct edge_stats;

/* A queued datagram: payload borrowed (an rx buffer, valid for the batch)
 * or copied into copy[] (a response built in the core's scratch). */
struct tx_entry {
	int fd;
	bool dont_fragment;
	uint8_t kind; /* enum edge_sock_kind of fd, for the failure counters */
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

struct edge_io {
	/* the clock of this loop turn: monotonic ms, wall s */
	uint64_t now_ms, now_s;
	bool stamped; /* in this turn */
	/* what is counted here (udp_tx, udp_send_errors); the worker's */
	struct edge_stats *stats;
	/* bytes inside [scratch, scratch + TURN_SCRATCH_LEN) are copied
	 * when queued: the core reuses its scratch on the next call */
	const uint8_t *scratch;
	/* receive batch */
	struct mmsghdr rx_msgs[EDGE_RX_SLOTS];
	struct iovec rx_iov[EDGE_RX_SLOTS];
	union turn_addr rx_addr[EDGE_RX_SLOTS];
	/* room for the SO_RXQ_OVFL cmsg, which the kernel adds only once
	 * the socket has dropped something */
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_SPACE(sizeof(uint32_t))];
	} rx_ctl[EDGE_RX_SLOTS];
	struct rx_slot rx[EDGE_RX_SLOTS];
	bool rx_ready;    /* the slots' headers are set (io.c rx_init) */
	unsigned rx_used; /* slots [0, rx_used) hold payloads queued to send */
	unsigned rx_hold; /* end of the batch being handled, kept by a flush */
	struct tx_queue tx;
};

/* Stamp the clock if this turn has not yet. */
void edge_io_stamp(struct edge_io *io);
static inline void edge_io_clock(struct edge_io *io)
{
	if (!io->stamped)
		edge_io_stamp(io);
}

/* Receive up to EDGE_BATCH datagrams from fd into free slots; returns
 * the first slot in *base and the count (<= 0 as recvmmsg). Call
 * edge_io_rx_done() after handling them. fd's receive-queue drops
 * (SO_RXQ_OVFL, a cumulative count) since the count *drops_seen last
 * seen are added to the kind's rx_drops; *drops_seen belongs to the
 * socket (0 when it was opened). Drops after the last read before the
 * socket is closed are never seen. */
int edge_io_rx_batch(struct edge_io *io, int fd, unsigned *base,
                     enum edge_sock_kind kind, uint32_t *drops_seen);
static inline void edge_io_rx_done(struct edge_io *io)
{
	io->rx_hold = 0;
}

/* Count one datagram not sent from a socket of kind for errno err (in
 * udp_send_errors or relay_send_errors too, and by cause). */
void edge_io_send_failed(struct edge_stats *st, enum edge_sock_kind kind,
                         int err);

/* Send everything queued (one sendmmsg per run of entries with the same
 * fd); the slots the sends borrowed are free again. */
void edge_io_flush(struct edge_io *io);

/* Queue a datagram to `to` from fd; data must stay valid until the flush
 * (a receive slot), unless it lies in the core's scratch (copied). df
 * sends it with the don't-fragment bit (RFC 8656 DONT-FRAGMENT). kind is
 * fd's, for the counters of failed sends. */
static inline void edge_io_send(struct edge_io *io, int fd,
                                enum edge_sock_kind kind,
                                const union turn_addr *to, const uint8_t *data,
                                size_t len, bool df)
{
	struct tx_queue *q = &io->tx;

	if (q->n == EDGE_TX_MAX)
		edge_io_flush(io);
	struct tx_entry *e = &q->e[q->n];
	e->fd = fd;
	e->dont_fragment = df;
	e->kind = (uint8_t)kind;
	memcpy(&e->to, to, edge_addr_len(&to->sa));
	if (data >= io->scratch && data < io->scratch + TURN_SCRATCH_LEN) {
		if (len > EDGE_TX_COPY)
			return; /* cannot happen: responses are small */
		memcpy(q->copy[q->n], data, len);
		data = q->copy[q->n];
	}
	e->iov.iov_base = (void *)data;
	e->iov.iov_len = len;
	q->n++;
}

/* The end of a loop turn: flush, and the next turn stamps the clock. */
static inline void edge_io_turn_end(struct edge_io *io)
{
	edge_io_flush(io);
	io->stamped = false;
}

#endif
