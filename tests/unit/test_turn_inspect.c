/*
 * tests/unit/test_turn_inspect.c - what the admin API sees of the TURN
 * core (turn/inspect.c): allocation snapshots (serials, filters, paging,
 * permissions, channels, per-flow counters), the kick, response-code
 * counters, and the 508 a draining or full node answers to a new
 * Allocate while existing allocations keep working.
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
}

static void send_ind(struct h *h, const struct turn_tuple *t, const char *ip,
                     uint16_t port, const void *data, size_t len)
{
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_SEND, STUN_CLASS_INDICATION);
	h_peer_attr(&b, ip, port);
	stun_build_attr(&b, STUN_ATTR_DATA, data, len);
	h_send(h, &b, t);
}

/* Nonces are bound to the client's address: a fresh one for t. */
static int alloc_on(struct h *h, const struct turn_tuple *t)
{
	h_challenge(h, t);
	return h_allocate(h, t);
}

static size_t list(struct h *h, const struct turn_alloc_filter *f, size_t skip,
                   struct turn_alloc_info *v, size_t cap)
{
	return turn_server_list(h->s, f, h->now_ms, skip, v, cap);
}

/* ---- snapshots ------------------------------------------------------------
 */

START_TEST(test_turn_inspect_list_serials_and_paging)
{
	struct h *h = h_default();
	struct turn_alloc_info v[4];

	ck_assert_int_eq(alloc_on(h, &A), 0);
	h->user = H_USER2;
	h->pass = H_PASS2;
	ck_assert_int_eq(alloc_on(h, &B), 0);
	h->user = H_USER;
	h->pass = H_PASS;
	ck_assert_int_eq(alloc_on(h, &C), 0);

	memset(v, 0, sizeof(v));
	ck_assert_uint_eq(list(h, NULL, 0, v, 4), 3);
	/* ascending serials, from 1 */
	ck_assert_uint_eq(v[0].serial, 1);
	ck_assert_uint_eq(v[1].serial, 2);
	ck_assert_uint_eq(v[2].serial, 3);
	ck_assert_str_eq(v[0].user, H_USER);
	ck_assert_str_eq(v[1].user, H_USER2);
	ck_assert_uint_eq(v[0].transport, TURN_TRANSPORT_UDP);
	ck_assert(memcmp(&v[0].client, &A.client, sizeof(A.client)) == 0);
	ck_assert_int_eq(v[0].relay[0].sa.sa_family, AF_INET);
	ck_assert_str_eq(inet_ntoa(v[0].relay[0].in4.sin_addr), "203.0.113.5");
	ck_assert_uint_ge(ntohs(v[0].relay[0].in4.sin_port), H_MIN_PORT);
	ck_assert_int_eq(v[0].relay[1].sa.sa_family, 0);
	ck_assert_uint_eq(v[0].created_s, H_S0);
	ck_assert_uint_eq(v[0].lifetime_s, 600);
	ck_assert_uint_eq(v[0].expires_in_s, 600);
	ck_assert_uint_eq(v[0].worker, 0);

	/* paging: skip 1, take 1 */
	memset(v, 0, sizeof(v));
	ck_assert_uint_eq(list(h, NULL, 1, v, 1), 3);
	ck_assert_uint_eq(v[0].serial, 2);
	ck_assert_uint_eq(v[1].serial, 0); /* untouched */

	/* filters */
	struct turn_alloc_filter f = {.user = H_USER};
	ck_assert_uint_eq(list(h, &f, 0, v, 4), 2);
	ck_assert_uint_eq(v[0].serial, 1);
	ck_assert_uint_eq(v[1].serial, 3);
	f = (struct turn_alloc_filter){.realm = "other.realm"};
	ck_assert_uint_eq(list(h, &f, 0, v, 4), 0);
	f = (struct turn_alloc_filter){.realm = H_REALM};
	ck_assert_uint_eq(list(h, &f, 0, v, 4), 3);
	ck_assert_str_eq(turn_server_realm(h->s), H_REALM);

	/* serials are never reused */
	h_challenge(h, &B);
	h->user = H_USER2;
	h->pass = H_PASS2;
	ck_assert_int_eq(h_refresh(h, &B, 0), 0);
	ck_assert_int_eq(alloc_on(h, &B), 0);
	ck_assert_uint_eq(list(h, NULL, 0, v, 4), 3);
	ck_assert_uint_eq(v[2].serial, 4);
	h_free(h);
}
END_TEST

START_TEST(test_turn_inspect_peer_filter_and_flows)
{
	struct h *h = h_default();
	struct turn_alloc_info v[2], info;
	struct turn_perm_info perms[4];
	struct turn_chan_info chans[4];
	size_t np, nc;
	union turn_addr peer;
	const uint8_t payload[100] = {1};

	ck_assert_int_eq(alloc_on(h, &B), 0);
	struct turn_alloc *alloc = (alloc_on(h, &A), h->alloc);
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4001, PEER2, 5000), 0);

	h_sa(&peer, PEER, 0);
	struct turn_alloc_filter f = {.peer = &peer};
	ck_assert_uint_eq(list(h, &f, 0, v, 2), 1);
	ck_assert_uint_eq(v[0].serial, 2);
	ck_assert_uint_eq(v[0].permissions, 2);
	ck_assert_uint_eq(v[0].channels, 1);

	/* 3 x 100 bytes out to PEER, 2 x 40 bytes back */
	for (int i = 0; i < 3; i++)
		send_ind(h, &A, PEER, 5004, payload, sizeof(payload));
	for (int i = 0; i < 2; i++)
		h_peer(h, alloc, PEER, 5004, payload, 40);

	ck_assert_int_eq(turn_server_inspect(h->s, 2, h->now_ms, &info, perms,
	                                     4, &np, chans, 4, &nc),
	                 0);
	ck_assert_uint_eq(info.pkts[0], 3);
	ck_assert_uint_eq(info.bytes[0], 300);
	ck_assert_uint_eq(info.pkts[1], 2);
	ck_assert_uint_eq(info.bytes[1], 80);
	ck_assert_uint_eq(np, 2);
	ck_assert_uint_eq(nc, 1);
	ck_assert_uint_eq(chans[0].number, 0x4001);
	ck_assert_uint_eq(ntohs(chans[0].peer.in4.sin_port), 5000);
	ck_assert_uint_eq(chans[0].expires_in_s, 600);
	bool found = false;
	for (size_t i = 0; i < np; i++) {
		if (strcmp(inet_ntoa(perms[i].peer.in4.sin_addr), PEER) != 0)
			continue;
		found = true;
		ck_assert_uint_eq(perms[i].peer.in4.sin_port, 0);
		ck_assert_uint_eq(perms[i].pkts[0], 3);
		ck_assert_uint_eq(perms[i].bytes[0], 300);
		ck_assert_uint_eq(perms[i].pkts[1], 2);
		ck_assert_uint_eq(perms[i].bytes[1], 80);
		ck_assert_uint_eq(perms[i].expires_in_s, 300);
	}
	ck_assert(found);
	/* caps are respected */
	ck_assert_int_eq(turn_server_inspect(h->s, 2, h->now_ms, &info, perms,
	                                     1, &np, chans, 0, &nc),
	                 0);
	ck_assert_uint_eq(np, 1);
	ck_assert_uint_eq(nc, 0);
	ck_assert_int_eq(turn_server_inspect(h->s, 99, h->now_ms, &info, perms,
	                                     4, &np, chans, 4, &nc),
	                 ENOENT);
	h_free(h);
}
END_TEST

START_TEST(test_turn_inspect_expired_not_listed)
{
	struct h *h = h_default();
	struct turn_alloc_info v[1];

	ck_assert_int_eq(alloc_on(h, &A), 0);
	h->now_ms += 601 * 1000; /* not ticked yet: still in the table */
	ck_assert_uint_eq(list(h, NULL, 0, v, 1), 0);
	h_free(h);
}
END_TEST

/* ---- kick -----------------------------------------------------------------
 */

START_TEST(test_turn_inspect_kick_ends_allocation)
{
	struct h *h = h_default();
	struct turn_alloc_info v[2];

	ck_assert_int_eq(alloc_on(h, &A), 0);
	ck_assert_int_eq(alloc_on(h, &B), 0);
	h_clear(h);
	turn_actions_reset(&h->out);
	ck_assert_int_eq(turn_server_kick(h->s, 1, h->now_ms, &h->out), 0);
	h_run(h);
	ck_assert_uint_eq(h->closes, 1);
	ck_assert_uint_eq(h->nlogs, 1);
	ck_assert_ptr_nonnull(strstr(h->logs[0], "reason=kicked"));
	const struct turn_stats *st = turn_server_stats(h->s);
	ck_assert_uint_eq(st->allocations, 1);
	ck_assert_uint_eq(st->allocations_kicked, 1);
	ck_assert_uint_eq(st->allocations_by_transport[TURN_TRANSPORT_UDP], 1);
	/* the client's next Refresh: no allocation */
	ck_assert_int_eq(h_refresh(h, &A, 600), 437);
	ck_assert_uint_eq(list(h, NULL, 0, v, 2), 1);
	ck_assert_uint_eq(v[0].serial, 2);
	/* unknown or already gone */
	turn_actions_reset(&h->out);
	ck_assert_int_eq(turn_server_kick(h->s, 1, h->now_ms, &h->out), ENOENT);
	ck_assert_int_eq(turn_server_kick(h->s, 77, h->now_ms, &h->out),
	                 ENOENT);
	ck_assert_uint_eq(st->allocations_kicked, 1);
	h_free(h);
}
END_TEST

/* ---- drain and capacity -------------------------------------------------- */

START_TEST(test_turn_inspect_drain_508)
{
	struct h *h = h_new();
	atomic_int draining = 0;
	const uint8_t payload[10] = {0};

	h->cfg.draining = &draining;
	h_start(h, 0, 0);
	struct turn_alloc *alloc = (alloc_on(h, &A), h->alloc);
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);

	atomic_store(&draining, 1);
	ck_assert_int_eq(alloc_on(h, &B), 508);
	ck_assert_uint_eq(turn_server_stats(h->s)->drain_rejects, 1);
	ck_assert_uint_eq(h->opens, 1); /* no relay was opened for B */
	/* the existing allocation keeps working */
	h_challenge(h, &A);
	ck_assert_int_eq(h_refresh(h, &A, 600), 0);
	ck_assert_int_eq(h_permit(h, &A, PEER2), 0);
	send_ind(h, &A, PEER, 5004, payload, sizeof(payload));
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 1);
	h_peer(h, alloc, PEER, 5004, payload, sizeof(payload));
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 1);
	/* a retransmitted Allocate of the existing allocation is answered */
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_UDP);
	h_sign(h, &b);
	h_send(h, &b, &A);
	ck_assert_int_eq(h_code(h), 437); /* another tid: mismatch, not 508 */

	atomic_store(&draining, 0);
	ck_assert_int_eq(alloc_on(h, &B), 0);
	const struct turn_stats *st = turn_server_stats(h->s);
	ck_assert_uint_eq(
	        st->responses[STUN_METHOD_ALLOCATE][turn_code_slot(508)], 1);
	ck_assert_uint_ge(st->responses[STUN_METHOD_ALLOCATE][0], 2);
	ck_assert_uint_eq(st->responses[STUN_METHOD_REFRESH][0], 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_inspect_max_allocations_508)
{
	struct h *h = h_new();

	h->cfg.max_allocations = 2;
	h_start(h, 0, 0); /* no quota object: the server counts */
	ck_assert_int_eq(alloc_on(h, &A), 0);
	ck_assert_int_eq(alloc_on(h, &B), 0);
	ck_assert_int_eq(alloc_on(h, &C), 508);
	ck_assert_uint_eq(turn_server_stats(h->s)->capacity_rejects, 1);
	h_challenge(h, &A);
	ck_assert_int_eq(h_refresh(h, &A, 0), 0);
	ck_assert_int_eq(alloc_on(h, &C), 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_inspect_code_slots)
{
	static const uint16_t codes[] = {300, 400, 401, 403, 420, 437,
	                                 438, 440, 441, 442, 443, 446,
	                                 447, 486, 500, 508};

	ck_assert_uint_eq(turn_code_slot(0), 0);
	ck_assert_uint_eq(turn_slot_code(0), 0);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		unsigned k = turn_code_slot(codes[i]);
		ck_assert_uint_lt(k, TURN_CODE_SLOTS - 1);
		ck_assert_uint_eq(turn_slot_code(k), codes[i]);
	}
	ck_assert_uint_eq(turn_code_slot(599), TURN_CODE_SLOTS - 1);
	ck_assert_uint_eq(turn_slot_code(TURN_CODE_SLOTS - 1), 0);
}
END_TEST

static Suite *turn_inspect_suite(void)
{
	Suite *s = suite_create("turn_inspect");
	TCase *tc = tcase_create("snapshot");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_inspect_list_serials_and_paging);
	tcase_add_test(tc, test_turn_inspect_peer_filter_and_flows);
	tcase_add_test(tc, test_turn_inspect_expired_not_listed);
	tcase_add_test(tc, test_turn_inspect_code_slots);
	suite_add_tcase(s, tc);

	tc = tcase_create("kick");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_inspect_kick_ends_allocation);
	suite_add_tcase(s, tc);

	tc = tcase_create("drain");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_inspect_drain_508);
	tcase_add_test(tc, test_turn_inspect_max_allocations_508);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_inspect_suite)
