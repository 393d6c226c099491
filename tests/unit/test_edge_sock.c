/*
 * tests/unit/test_edge_sock.c - UDP socket buffers and drops on loopback:
 * sizes read back and recorded per kind of socket, receive-queue drops
 * (SO_RXQ_OVFL) counted once each through the I/O engine, failed sends
 * counted by kind and cause. Real sockets, no daemon.
 */
#include "edge/net/io.h"
#include "edge/net/sock.h"
#include "edge/net/worker.h"
#include "tests/unit/check_main.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t ld(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* A UDP socket on 127.0.0.1, any port; its address in *a. */
static int udp_loopback(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)a, &len), 0);
	return fd;
}

/* A class's DSCP lands in the TOS byte; -1 (no DSCP) and values past 63
 * leave the socket's default alone. */
START_TEST(test_edge_sock_dscp_set_or_left_alone)
{
	static const struct {
		int dscp, tos;
	} rows[] = {{-1, 0}, {64, 0}, {0, 0}, {46, 184}, {63, 252}};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int fd = socket(AF_INET, SOCK_DGRAM, 0), tos = -1;
		socklen_t len = sizeof(tos);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(edge_sock_set_dscp(fd, AF_INET, rows[i].dscp),
		                 0);
		ck_assert_int_eq(getsockopt(fd, IPPROTO_IP, IP_TOS, &tos, &len),
		                 0);
		ck_assert_int_eq(tos, rows[i].tos);
		close(fd);
	}
}
END_TEST

START_TEST(test_edge_sock_bufs_read_back_per_kind)
{
	struct sockaddr_in a;
	struct edge_sock_bufs b;
	int fd = udp_loopback(&a);

	edge_sock_set_bufs(fd, EDGE_SOCK_RELAY, "sock-buf-size", 65536, 32768);
	edge_sock_bufs(EDGE_SOCK_RELAY, &b);
	ck_assert(b.seen);
	ck_assert_uint_eq(b.rcv_asked, 65536);
	ck_assert_uint_eq(b.snd_asked, 32768);
	/* every kernel allows 64 kB (rmem_max's floor is larger) */
	ck_assert_uint_eq(b.rcv_granted, 65536);
	ck_assert_uint_eq(b.snd_granted, 32768);
	ck_assert(!b.short_);
	/* 0 keeps the kernel's default, still read back */
	int fd2 = udp_loopback(&a);
	edge_sock_set_bufs(fd2, EDGE_SOCK_RELAY, "sock-buf-size", 0, 0);
	edge_sock_bufs(EDGE_SOCK_RELAY, &b);
	ck_assert_uint_eq(b.rcv_asked, 0);
	ck_assert_uint_gt(b.rcv_granted, 0);
	ck_assert(!b.short_);
	close(fd);
	close(fd2);
}
END_TEST

/* Datagrams sent to a tiny receive queue nobody reads are dropped; the
 * count rides on datagrams queued after the drops, and the engine adds
 * each drop once, to the kind's counter. */
START_TEST(test_edge_sock_rx_drops_counted_once)
{
	struct edge_io *io = calloc(1, sizeof(*io));
	struct edge_stats *st = calloc(1, sizeof(*st));
	struct sockaddr_in ra, sa;
	uint8_t payload[200] = {0};
	uint32_t seen = 0;
	unsigned base;
	int rx = udp_loopback(&ra), tx = udp_loopback(&sa);

	ck_assert_ptr_nonnull(io);
	io->stats = st;
	edge_sock_set_bufs(rx, EDGE_SOCK_RELAY, "sock-buf-size", 4096, 4096);
	edge_sock_rxq_ovfl(rx);
	int sent = 0;
	for (int i = 0; i < 300; i++)
		if (sendto(tx, payload, sizeof(payload), 0,
		           (struct sockaddr *)&ra, sizeof(ra)) > 0)
			sent++;
	int got = 0, n;
	while ((n = edge_io_rx_batch(io, rx, &base, EDGE_SOCK_RELAY, &seen)) >
	       0) {
		got += n;
		edge_io_rx_done(io);
		edge_io_flush(io);
	}
	ck_assert_int_gt(got, 0);
	ck_assert_int_lt(got, sent);
	/* the datagrams read were queued before the drops: not seen yet */
	ck_assert_uint_eq(ld(&st->rx_drops[EDGE_SOCK_RELAY]), 0);
	/* the next datagram carries the count; the one after it the same
	 * count, which adds nothing */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_gt(sendto(tx, payload, sizeof(payload), 0,
		                        (struct sockaddr *)&ra, sizeof(ra)),
		                 0);
		ck_assert_int_eq(
		        edge_io_rx_batch(io, rx, &base, EDGE_SOCK_RELAY, &seen),
		        1);
		edge_io_rx_done(io);
		ck_assert_uint_eq(ld(&st->rx_drops[EDGE_SOCK_RELAY]),
		                  (uint64_t)(sent - got));
		ck_assert_uint_eq(seen, (uint32_t)(sent - got));
	}
	ck_assert_uint_eq(ld(&st->rx_drops[EDGE_SOCK_LISTENER]), 0);
	close(rx);
	close(tx);
	free(io);
	free(st);
}
END_TEST

START_TEST(test_edge_sock_send_failures_by_kind_and_cause)
{
	struct edge_io *io = calloc(1, sizeof(*io));
	struct edge_stats *st = calloc(1, sizeof(*st));
	static const uint8_t scratch[TURN_SCRATCH_LEN];
	uint8_t payload[8] = {0};
	union turn_addr to;

	ck_assert_ptr_nonnull(io);
	io->stats = st;
	io->scratch = scratch;
	edge_io_send_failed(st, EDGE_SOCK_LISTENER, EAGAIN);
	edge_io_send_failed(st, EDGE_SOCK_LISTENER, ENOBUFS);
	edge_io_send_failed(st, EDGE_SOCK_RELAY, EWOULDBLOCK);
	ck_assert_uint_eq(ld(&st->send_eagain[EDGE_SOCK_LISTENER]), 1);
	ck_assert_uint_eq(ld(&st->send_enobufs[EDGE_SOCK_LISTENER]), 1);
	ck_assert_uint_eq(ld(&st->send_eagain[EDGE_SOCK_RELAY]), 1);
	ck_assert_uint_eq(ld(&st->udp_send_errors), 2);
	ck_assert_uint_eq(ld(&st->relay_send_errors), 1);
	/* through the queue: an IPv4 destination from an IPv6 socket fails
	 * for that datagram; counted as the entry's kind, cause "other" */
	int fd6 = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd6, 0);
	int one = 1;
	setsockopt(fd6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	memset(&to, 0, sizeof(to));
	to.in4.sin_family = AF_INET;
	to.in4.sin_port = htons(9);
	to.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	edge_io_send(io, fd6, EDGE_SOCK_RELAY, &to, payload, sizeof(payload),
	             false);
	edge_io_flush(io);
	ck_assert_uint_eq(ld(&st->send_other[EDGE_SOCK_RELAY]), 1);
	ck_assert_uint_eq(ld(&st->relay_send_errors), 2);
	ck_assert_uint_eq(ld(&st->send_other[EDGE_SOCK_LISTENER]), 0);
	close(fd6);
	free(io);
	free(st);
}
END_TEST

static Suite *sock_suite(void)
{
	Suite *s = suite_create("edge_sock");
	TCase *tc = tcase_create("udp");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_edge_sock_dscp_set_or_left_alone);
	tcase_add_test(tc, test_edge_sock_bufs_read_back_per_kind);
	tcase_add_test(tc, test_edge_sock_rx_drops_counted_once);
	tcase_add_test(tc, test_edge_sock_send_failures_by_kind_and_cause);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sock_suite)
