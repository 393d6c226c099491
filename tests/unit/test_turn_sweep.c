/*
 * tests/unit/test_turn_sweep.c - a new peer policy or cluster-peer set
 * withdraws what it now denies (turn/sweep.c): channels stop relaying both
 * ways, permissions go, RFC 6062 connections are closed, each counted,
 * one LOG line per allocation; denied-peer-ip beats allowed-peer-ip and
 * allow-loopback-peers. Against the fake edge and clock of turn_harness.h.
 */
#include "tests/unit/turn_harness.h"

#define PEER  "198.51.100.7"
#define PEER2 "198.51.100.8"

static struct turn_tuple A, B, C;

static void setup(void)
{
	A = h_tuple("192.0.2.10", 40000);
	B = h_tuple("192.0.2.11", 40001);
	C = h_tuple("192.0.2.12", 40002);
	C.transport = TURN_TRANSPORT_TCP;
	C.listener = 16;
	C.conn = 1;
}

static struct turn_policy *deny(const char *spec)
{
	struct turn_policy *p;

	ck_assert_int_eq(turn_policy_new(&p), 0);
	ck_assert_int_eq(turn_policy_deny(p, spec), 0);
	return p;
}

static struct turn_policy *endpoint(const char *ip, uint16_t port)
{
	struct turn_policy *p;
	union turn_addr a;

	h_sa(&a, ip, port);
	ck_assert_int_eq(turn_policy_new(&p), 0);
	ck_assert_int_eq(turn_policy_protect(p, &a.sa), 0);
	return p;
}

/* ChannelData on ch from t: how many SEND_PEERs. */
static size_t chandata(struct h *h, const struct turn_tuple *t, uint16_t ch)
{
	uint8_t buf[64] = {0};
	size_t n = stun_chandata_build(buf, sizeof(buf), ch, buf + 4, 4, false);

	memcpy(buf + 4, "abcd", 4);
	h_input(h, t, buf, n);
	return h_count(h, TURN_ACT_SEND_PEER);
}

/* A datagram from ip:port to alloc: how many SEND_CLIENTs. */
static size_t from_peer(struct h *h, struct turn_alloc *alloc, const char *ip,
                        uint16_t port)
{
	h_peer(h, alloc, ip, port, (const uint8_t *)"wxyz", 4);
	return h_count(h, TURN_ACT_SEND_CLIENT);
}

static size_t send_ind(struct h *h, const struct turn_tuple *t, const char *ip)
{
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_SEND, STUN_CLASS_INDICATION);
	h_peer_attr(&b, ip, 5000);
	stun_build_attr(&b, STUN_ATTR_DATA, "x", 1);
	h_send(h, &b, t);
	return h_count(h, TURN_ACT_SEND_PEER);
}

START_TEST(test_turn_sweep_denied_peer_channel_stops_both_ways)
{
	struct h *h = h_default();
	const struct turn_stats *st = turn_server_stats(h->s);
	struct turn_policy *p = deny(PEER);

	ck_assert_int_eq(h_allocate(h, &A), 0);
	struct turn_alloc *alloc = h->alloc;
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0);
	ck_assert_uint_eq(chandata(h, &A, 0x4000), 1);
	ck_assert_uint_eq(from_peer(h, alloc, PEER, 5000), 1);

	h_set_policy(h, p);
	ck_assert_uint_eq(st->channels_withdrawn, 1);
	ck_assert_uint_eq(st->permissions_withdrawn, 1);
	ck_assert_uint_eq(st->channels, 0);
	ck_assert_uint_eq(st->permissions, 0);
	ck_assert_uint_eq(chandata(h, &A, 0x4000), 0);
	ck_assert_uint_eq(from_peer(h, alloc, PEER, 5000), 0);
	h_set_policy(h, h->policy);
	turn_policy_free(p);
	h_free(h);
}
END_TEST

START_TEST(test_turn_sweep_denied_permission_gone_others_stay)
{
	struct h *h = h_default();
	const struct turn_stats *st = turn_server_stats(h->s);
	struct turn_policy *p = deny(PEER);

	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	ck_assert_int_eq(h_permit(h, &A, PEER2), 0);
	h_set_policy(h, p);
	ck_assert_uint_eq(st->permissions_withdrawn, 1);
	ck_assert_uint_eq(st->permissions, 1);
	ck_assert_uint_eq(send_ind(h, &A, PEER), 0);
	ck_assert_uint_eq(send_ind(h, &A, PEER2), 1);
	/* a policy that denies nothing installed withdraws nothing */
	h_set_policy(h, h->policy);
	ck_assert_uint_eq(st->permissions_withdrawn, 1);
	ck_assert_uint_eq(h->nlogs, 0);
	turn_policy_free(p);
	h_free(h);
}
END_TEST

START_TEST(test_turn_sweep_one_log_line_per_allocation)
{
	struct h *h = h_default();
	struct turn_policy *p = deny("198.51.100.0/24");

	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0);
	ck_assert_int_eq(h_permit(h, &A, PEER2), 0);
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &B), 0);
	ck_assert_int_eq(h_permit(h, &B, PEER), 0);
	h_set_policy(h, p);
	ck_assert_uint_eq(h->nlogs, 2);
	for (size_t i = 0; i < 2; i++) {
		const char *l = h->logs[i];
		bool a = strstr(l, "client=192.0.2.10:40000") != NULL;
		ck_assert_msg(
		        strstr(l, "allocation peers withdrawn: user=alice"),
		        "%s", l);
		ck_assert_msg(a || strstr(l, "client=192.0.2.11:40001"), "%s",
		              l);
		ck_assert_msg(strstr(l, a ? "permissions=2 channels=1 tcp=0"
		                          : "permissions=1 channels=0 tcp=0"),
		              "%s", l);
	}
	h_set_policy(h, h->policy);
	turn_policy_free(p);
	h_free(h);
}
END_TEST

/* RFC 6062: a connection to a peer now denied gets TCP_CLOSE. */
static int allocate_tcp(struct h *h, const struct turn_tuple *t)
{
	struct stun_builder b;

	if (!h->nonce[0])
		h_challenge(h, t);
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_TCP);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

static uint32_t tcp_connect(struct h *h, const char *ip)
{
	struct stun_builder b;
	const struct h_sent *act;

	h_begin(h, &b, STUN_METHOD_CONNECT, STUN_CLASS_REQUEST);
	h_peer_attr(&b, ip, 5000);
	h_sign(h, &b);
	h_send(h, &b, &C);
	act = h_last(h, TURN_ACT_TCP_CONNECT);
	ck_assert_ptr_nonnull(act);
	return act->conn_id;
}

START_TEST(test_turn_sweep_denied_tcp_connection_closed)
{
	struct h *h = h_default();
	const struct turn_stats *st = turn_server_stats(h->s);
	struct turn_policy *p = deny(PEER);

	ck_assert_int_eq(allocate_tcp(h, &C), 0);
	ck_assert_int_eq(h_permit(h, &C, PEER), 0);
	ck_assert_int_eq(h_permit(h, &C, PEER2), 0);
	uint32_t id = tcp_connect(h, PEER);
	uint32_t id2 = tcp_connect(h, PEER2);
	turn_actions_reset(&h->out);
	turn_server_tcp_connect_result(h->s, id, 0, h->now_ms, &h->out);
	turn_server_tcp_connect_result(h->s, id2, 0, h->now_ms, &h->out);
	ck_assert_uint_eq(st->tcp_conns, 2);

	h_set_policy(h, p);
	ck_assert_uint_eq(h_count(h, TURN_ACT_TCP_CLOSE), 1);
	ck_assert_uint_eq(h_last(h, TURN_ACT_TCP_CLOSE)->conn_id, id);
	ck_assert_uint_eq(st->tcp_conns_withdrawn, 1);
	ck_assert_uint_eq(st->tcp_conns, 1);
	ck_assert_uint_eq(h->nlogs, 1);
	ck_assert_msg(strstr(h->logs[0], "permissions=1 channels=0 tcp=1"),
	              "%s", h->logs[0]);
	/* and no new connection from it */
	union turn_addr peer;
	h_sa(&peer, PEER, 5000);
	turn_actions_reset(&h->out);
	ck_assert_uint_eq(turn_server_tcp_incoming(h->s, h->alloc, &peer,
	                                           h->now_ms, &h->out),
	                  0);
	h_set_policy(h, h->policy);
	turn_policy_free(p);
	h_free(h);
}
END_TEST

/* denied-peer-ip wins over allowed-peer-ip and allow-loopback-peers, in
 * the check and in the sweep. */
START_TEST(test_turn_sweep_denied_wins_over_allowed_and_loopback)
{
	struct h *h = h_default();
	const struct turn_stats *st = turn_server_stats(h->s);
	struct turn_policy *open, *shut;
	union turn_addr a;

	ck_assert_int_eq(turn_policy_new(&open), 0);
	turn_policy_set_allow_loopback(open, true);
	ck_assert_int_eq(turn_policy_new(&shut), 0);
	turn_policy_set_allow_loopback(shut, true);
	ck_assert_int_eq(turn_policy_allow(shut, "127.0.0.0/8"), 0);
	ck_assert_int_eq(turn_policy_deny(shut, "127.0.0.1"), 0);
	h_sa(&a, "127.0.0.1", 5000);
	ck_assert_int_eq(turn_policy_check(shut, &a.sa),
	                 TURN_POLICY_DENIED_PEER_IP);
	h_sa(&a, "127.0.0.2", 5000);
	ck_assert_int_eq(turn_policy_check(shut, &a.sa), TURN_POLICY_ALLOWED);

	h_set_policy(h, open);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, "127.0.0.1", 5000), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4001, "127.0.0.2", 5000), 0);
	h_set_policy(h, shut);
	ck_assert_uint_eq(st->channels_withdrawn, 1);
	ck_assert_uint_eq(chandata(h, &A, 0x4000), 0);
	ck_assert_uint_eq(chandata(h, &A, 0x4001), 1);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, "127.0.0.1", 5000), 403);
	h_set_policy(h, h->policy);
	turn_policy_free(open);
	turn_policy_free(shut);
	h_free(h);
}
END_TEST

/* Another node's listener in the registry: the channel to that ip:port
 * goes, the permission for the IP stays, and that port's datagrams stop
 * both ways while the IP's other ports flow. */
START_TEST(test_turn_sweep_cluster_peer_channel_withdrawn)
{
	struct h *h = h_default();
	const struct turn_stats *st = turn_server_stats(h->s);

	ck_assert_int_eq(h_allocate(h, &A), 0);
	struct turn_alloc *alloc = h->alloc;
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 3478), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4001, PEER, 5004), 0);
	h_set_cluster_peers(h, endpoint(PEER, 3478));
	ck_assert_uint_eq(st->channels_withdrawn, 1);
	ck_assert_uint_eq(st->permissions_withdrawn, 0);
	ck_assert_uint_eq(h->nlogs, 1);
	ck_assert_uint_eq(chandata(h, &A, 0x4000), 0);
	ck_assert_uint_eq(from_peer(h, alloc, PEER, 3478), 0);
	ck_assert_uint_eq(chandata(h, &A, 0x4001), 1);
	ck_assert_uint_eq(from_peer(h, alloc, PEER, 5004), 1);
	h_free(h);
}
END_TEST

/* With no room in the action list (or none given), the sweep waits for
 * the next tick, which finishes it. */
START_TEST(test_turn_sweep_finishes_at_tick)
{
	struct h *h = h_default();
	const struct turn_stats *st = turn_server_stats(h->s);
	struct turn_policy *p = deny(PEER);

	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0);
	turn_actions_reset(&h->out);
	h->out.n = TURN_ACTIONS_MAX - 1; /* nearly full */
	turn_server_set_policy(h->s, p, h->now_ms, &h->out);
	ck_assert_uint_eq(st->channels_withdrawn, 0);
	ck_assert_uint_eq(turn_server_next_deadline(h->s), h->now_ms);
	h_at(h, 50);
	ck_assert_uint_eq(st->channels_withdrawn, 1);
	ck_assert_uint_eq(h->nlogs, 1);
	ck_assert_uint_gt(turn_server_next_deadline(h->s), h->now_ms);

	struct turn_policy *p2 = deny(PEER2);
	ck_assert_int_eq(h_permit(h, &A, PEER2), 0);
	turn_server_set_policy(h->s, p2, h->now_ms, NULL);
	ck_assert_uint_eq(st->permissions_withdrawn, 1);
	h_at(h, 100);
	ck_assert_uint_eq(st->permissions_withdrawn, 2);
	h_set_policy(h, h->policy);
	turn_policy_free(p);
	turn_policy_free(p2);
	h_free(h);
}
END_TEST

static Suite *turn_sweep_suite(void)
{
	Suite *s = suite_create("turn_sweep");
	TCase *tc = tcase_create("sweep");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_sweep_denied_peer_channel_stops_both_ways);
	tcase_add_test(tc, test_turn_sweep_denied_permission_gone_others_stay);
	tcase_add_test(tc, test_turn_sweep_one_log_line_per_allocation);
	tcase_add_test(tc, test_turn_sweep_denied_tcp_connection_closed);
	tcase_add_test(tc,
	               test_turn_sweep_denied_wins_over_allowed_and_loopback);
	tcase_add_test(tc, test_turn_sweep_cluster_peer_channel_withdrawn);
	tcase_add_test(tc, test_turn_sweep_finishes_at_tick);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_sweep_suite)
