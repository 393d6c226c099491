/*
 * tests/unit/test_turn_tcp_relay.c - RFC 6062 TCP relay allocations in the
 * sans-I/O core (turn/tcp_relay.c): Allocate with REQUESTED-TRANSPORT TCP
 * (s5.1), Connect (s5.2), incoming peers and ConnectionAttempt (s5.3),
 * ConnectionBind (s5.4), the 30 s bind timeout and cleanup (s5.5), against
 * the fake edge and clock of turn_harness.h.
 */
#include "tests/unit/turn_harness.h"

#define PEER  "198.51.100.7"
#define PEER2 "198.51.100.8"

static struct turn_tuple C, D, U;

static struct turn_tuple stream_tuple(const char *ip, uint16_t port,
                                      uint32_t conn)
{
	struct turn_tuple t = h_tuple(ip, port);

	t.transport = TURN_TRANSPORT_TCP;
	t.listener = 16;
	t.conn = conn;
	return t;
}

static void setup(void)
{
	C = stream_tuple("192.0.2.10", 40000, 1); /* control connection */
	D = stream_tuple("192.0.2.10", 40001, 2); /* a data connection */
	U = h_tuple("192.0.2.10", 40002);
}

enum { X_EVEN = 1, X_DF = 2, X_TOKEN = 4 };

static int allocate_tcp(struct h *h, const struct turn_tuple *t, unsigned x)
{
	struct stun_builder b;
	uint8_t token[8] = {1, 2, 3, 4, 5, 6, 7, 8}, even = 0;

	if (!h->nonce[0])
		h_challenge(h, t);
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_TCP);
	if (x & X_EVEN)
		stun_build_attr(&b, STUN_ATTR_EVEN_PORT, &even, 1);
	if (x & X_DF)
		stun_build_attr(&b, STUN_ATTR_DONT_FRAGMENT, NULL, 0);
	if (x & X_TOKEN)
		stun_build_attr(&b, STUN_ATTR_RESERVATION_TOKEN, token, 8);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

/* A Connect: the response code if one came at once, else -1 (parked until
 * the connect result); *id gets the TCP_CONNECT's conn_id (0: none). */
static int connect_peer(struct h *h, const char *ip, uint16_t port,
                        uint32_t *id)
{
	struct stun_builder b;
	const struct h_sent *act;

	h_begin(h, &b, STUN_METHOD_CONNECT, STUN_CLASS_REQUEST);
	h_peer_attr(&b, ip, port);
	h_sign(h, &b);
	h_send(h, &b, &C);
	act = h_last(h, TURN_ACT_TCP_CONNECT);
	*id = act ? act->conn_id : 0;
	return h_code(h);
}

/* The edge's connect result; parses the Connect answer into h->resp. */
static int connect_result(struct h *h, uint32_t id, int err)
{
	h_clear(h);
	memset(&h->resp, 0, sizeof(h->resp));
	turn_actions_reset(&h->out);
	turn_server_tcp_connect_result(h->s, id, err, h->now_ms, &h->out);
	h_run(h);
	const struct h_sent *r = h_last(h, TURN_ACT_SEND_CLIENT);
	if (!r)
		return -1;
	memcpy(h->resp_buf, r->data, r->len);
	ck_assert_int_eq(stun_msg_parse(&h->resp, h->resp_buf, r->len, NULL),
	                 0);
	ck_assert(h_tuple_eq(&r->tuple, &C));
	return h_code(h);
}

static int connection_bind(struct h *h, const struct turn_tuple *t, uint32_t id)
{
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_CONNECTION_BIND, STUN_CLASS_REQUEST);
	stun_build_u32(&b, STUN_ATTR_CONNECTION_ID, id);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

static uint32_t incoming(struct h *h, const char *ip, uint16_t port)
{
	union turn_addr peer;

	h_sa(&peer, ip, port);
	h_clear(h);
	turn_actions_reset(&h->out);
	uint32_t id = turn_server_tcp_incoming(h->s, h->alloc, &peer, h->now_ms,
	                                       &h->out);
	h_run(h);
	return id;
}

static uint32_t resp_conn_id(struct h *h)
{
	uint32_t id = 0;

	ck_assert_int_eq(
	        stun_msg_get_u32(&h->resp, STUN_ATTR_CONNECTION_ID, &id), 0);
	return id;
}

/* A TCP allocation on C with a permission for PEER. */
static struct h *ready(void)
{
	struct h *h = h_default();

	ck_assert_int_eq(allocate_tcp(h, &C, 0), 0);
	ck_assert_int_eq(h_permit(h, &C, PEER), 0);
	return h;
}

/* ---- Allocate (s5.1) ----------------------------------------------------- */

START_TEST(test_turn_tcp_relay_allocate_over_tcp)
{
	struct h *h = h_default();

	ck_assert_int_eq(allocate_tcp(h, &C, 0), 0);
	ck_assert_uint_eq(h_relay_port(h) >= H_MIN_PORT, 1);
	ck_assert_uint_eq(h->opens, 1);
	ck_assert_uint_eq(ntohs(h->bind.in4.sin_port), h_relay_port(h));
	/* no datagrams on a TCP allocation: a Send indication is dropped */
	struct stun_builder b;
	uint8_t data[4] = {1, 2, 3, 4};
	ck_assert_int_eq(h_permit(h, &C, PEER), 0);
	h_begin(h, &b, STUN_METHOD_SEND, STUN_CLASS_INDICATION);
	h_peer_attr(&b, PEER, 9);
	stun_build_attr(&b, STUN_ATTR_DATA, data, 4);
	h_send(h, &b, &C);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 0);
	/* nor channels */
	ck_assert_int_eq(h_bind(h, &C, 0x4000, PEER, 9), 400);
	h_free(h);
}
END_TEST

START_TEST(test_turn_tcp_relay_allocate_over_udp_400)
{
	struct h *h = h_default();

	ck_assert_int_eq(allocate_tcp(h, &U, 0), 400);
	ck_assert_uint_eq(h->opens, 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_tcp_relay_allocate_attrs_400)
{
	struct h *h = h_default();

	ck_assert_int_eq(allocate_tcp(h, &C, X_EVEN), 400);
	ck_assert_int_eq(allocate_tcp(h, &C, X_DF), 400);
	ck_assert_int_eq(allocate_tcp(h, &C, X_TOKEN), 400);
	ck_assert_uint_eq(h->opens, 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_tcp_relay_allocate_off_442)
{
	struct h *h = h_new();

	h->cfg.no_tcp_relay = true;
	h_start(h, 0, 0);
	ck_assert_int_eq(allocate_tcp(h, &C, 0), 442);
	h_free(h);
}
END_TEST

/* ---- Connect (s5.2) ------------------------------------------------------ */

/* s5.2 lists the Connect checks (400, 437, 446, 403 from the local peer
 * policy, 447): a prior CreatePermission is not among them. */
START_TEST(test_rfc6062_s5_2_connect_needs_no_permission)
{
	struct h *h = h_default();
	uint32_t id;

	ck_assert_int_eq(allocate_tcp(h, &C, 0), 0);
	ck_assert_int_eq(connect_peer(h, PEER, 80, &id), -1);
	ck_assert_uint_ne(id, 0);
	ck_assert_int_eq(connect_result(h, id, 0), 0);
	ck_assert_uint_eq(resp_conn_id(h), id);
	ck_assert_uint_eq(turn_server_stats(h->s)->drop_no_permission, 0);
	/* bound like any other: bytes flow without a permission */
	ck_assert_int_eq(connection_bind(h, &D, id), 0);
	ck_assert_ptr_nonnull(h_last(h, TURN_ACT_TCP_BIND_DATA));
	h_free(h);
}
END_TEST

START_TEST(test_rfc6062_s5_2_connect_failure_447_without_permission)
{
	struct h *h = h_default();
	uint32_t id;

	ck_assert_int_eq(allocate_tcp(h, &C, 0), 0);
	ck_assert_int_eq(connect_peer(h, PEER, 80, &id), -1);
	ck_assert_int_eq(connect_result(h, id, ECONNREFUSED), 447);
	h_free(h);
}
END_TEST

START_TEST(test_rfc6062_s5_2_connect_403_only_from_peer_policy)
{
	struct h *h = h_default();
	uint32_t id;

	ck_assert_int_eq(allocate_tcp(h, &C, 0), 0);
	/* loopback and private peers are denied by default */
	ck_assert_int_eq(connect_peer(h, "127.0.0.1", 80, &id), 403);
	ck_assert_uint_eq(id, 0);
	ck_assert_int_eq(connect_peer(h, "10.1.2.3", 80, &id), 403);
	ck_assert_uint_eq(id, 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->drop_denied_peer, 2);
	/* a permission does not open a denied peer either */
	ck_assert_int_eq(h_permit(h, &C, "10.1.2.3"), 403);
	ck_assert_int_eq(connect_peer(h, "10.1.2.3", 80, &id), 403);
	h_free(h);
}
END_TEST

START_TEST(test_rfc6062_s5_2_connect_without_peer_address_400)
{
	struct h *h = h_default();
	struct stun_builder b;

	ck_assert_int_eq(allocate_tcp(h, &C, 0), 0);
	h_begin(h, &b, STUN_METHOD_CONNECT, STUN_CLASS_REQUEST);
	h_sign(h, &b);
	h_send(h, &b, &C);
	ck_assert_int_eq(h_code(h), 400);
	ck_assert_uint_eq(h_count(h, TURN_ACT_TCP_CONNECT), 0);
	h_free(h);
}
END_TEST

/* s5.3: a peer connecting in is accepted only with a permission for its
 * IP (unchanged by the Connect rule above). */
START_TEST(test_rfc6062_s5_3_incoming_needs_permission)
{
	struct h *h = h_default();
	uint32_t id;

	ck_assert_int_eq(allocate_tcp(h, &C, 0), 0);
	ck_assert_uint_eq(incoming(h, PEER, 5555), 0);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->drop_no_permission, 1);
	/* a Connect to that peer installs no permission */
	ck_assert_int_eq(connect_peer(h, PEER, 80, &id), -1);
	ck_assert_uint_eq(incoming(h, PEER, 5556), 0);
	ck_assert_int_eq(h_permit(h, &C, PEER), 0);
	ck_assert_uint_ne(incoming(h, PEER, 5557), 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_tcp_relay_connect_ok)
{
	struct h *h = ready();
	uint32_t id;

	ck_assert_int_eq(connect_peer(h, PEER, 80, &id), -1);
	ck_assert_uint_ne(id, 0);
	ck_assert_uint_eq(TURN_TCP_CONN_WORKER(id), 0);
	const struct h_sent *act = h_last(h, TURN_ACT_TCP_CONNECT);
	ck_assert_uint_eq(ntohs(act->peer.in4.sin_port), 80);
	ck_assert_int_eq(connect_result(h, id, 0), 0);
	ck_assert_uint_eq(resp_conn_id(h), id);
	ck_assert_uint_eq(turn_server_stats(h->s)->tcp_conns, 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_tcp_relay_connect_twice_446)
{
	struct h *h = ready();
	uint32_t id, id2;

	ck_assert_int_eq(connect_peer(h, PEER, 80, &id), -1);
	/* while connecting, and once connected */
	ck_assert_int_eq(connect_peer(h, PEER, 80, &id2), 446);
	ck_assert_int_eq(connect_result(h, id, 0), 0);
	ck_assert_int_eq(connect_peer(h, PEER, 80, &id2), 446);
	/* another port of the same IP is another connection */
	ck_assert_int_eq(connect_peer(h, PEER, 81, &id2), -1);
	ck_assert_uint_ne(id2, id);
	h_free(h);
}
END_TEST

START_TEST(test_turn_tcp_relay_connect_fails_447)
{
	struct h *h = ready();
	uint32_t id, id2;

	ck_assert_int_eq(connect_peer(h, PEER, 80, &id), -1);
	ck_assert_int_eq(connect_result(h, id, ECONNREFUSED), 447);
	ck_assert_uint_eq(turn_server_stats(h->s)->tcp_connect_failures, 1);
	ck_assert_uint_eq(turn_server_stats(h->s)->tcp_conns, 0);
	/* the peer may be tried again */
	ck_assert_int_eq(connect_peer(h, PEER, 80, &id2), -1);
	/* no answer from the edge: the core's backstop answers 447 */
	h_at(h, (TURN_TCP_CONNECT_TIMEOUT_S + 6) * 1000);
	ck_assert_uint_eq(h_count(h, TURN_ACT_TCP_CLOSE), 1);
	ck_assert_uint_eq(h_last(h, TURN_ACT_TCP_CLOSE)->conn_id, id2);
	h_free(h);
}
END_TEST

START_TEST(test_turn_tcp_relay_connect_on_udp_alloc_400)
{
	struct h *h = h_default();
	struct stun_builder b;

	ck_assert_int_eq(h_allocate(h, &C), 0);
	ck_assert_int_eq(h_permit(h, &C, PEER), 0);
	h_begin(h, &b, STUN_METHOD_CONNECT, STUN_CLASS_REQUEST);
	h_peer_attr(&b, PEER, 80);
	h_sign(h, &b);
	h_send(h, &b, &C);
	ck_assert_int_eq(h_code(h), 400);
	/* and with no allocation at all: 437 */
	h_begin(h, &b, STUN_METHOD_CONNECT, STUN_CLASS_REQUEST);
	h_peer_attr(&b, PEER, 80);
	h_sign(h, &b);
	h_send(h, &b, &D);
	ck_assert_int_eq(h_code(h), 437);
	h_free(h);
}
END_TEST

/* ---- incoming peers (s5.3) and ConnectionBind (s5.4) ------------------ */

START_TEST(test_turn_tcp_relay_incoming_attempt)
{
	struct h *h = ready();
	struct sockaddr_storage ss;
	const struct h_sent *ind;

	uint32_t id = incoming(h, PEER, 5555);
	ck_assert_uint_ne(id, 0);
	ind = h_last(h, TURN_ACT_SEND_CLIENT);
	ck_assert_ptr_nonnull(ind);
	ck_assert(h_tuple_eq(&ind->tuple, &C));
	memcpy(h->resp_buf, ind->data, ind->len);
	ck_assert_int_eq(stun_msg_parse(&h->resp, h->resp_buf, ind->len, NULL),
	                 0);
	ck_assert_uint_eq(h->resp.method, STUN_METHOD_CONNECTION_ATTEMPT);
	ck_assert_uint_eq(h->resp.cls, STUN_CLASS_INDICATION);
	ck_assert_uint_eq(resp_conn_id(h), id);
	ck_assert_int_eq(stun_msg_get_xor_addr(&h->resp,
	                                       STUN_ATTR_XOR_PEER_ADDRESS, &ss),
	                 0);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5555);
	/* no permission for that IP: refused, nothing sent */
	ck_assert_uint_eq(incoming(h, PEER2, 5555), 0);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 0);
	/* bind it on a data connection */
	ck_assert_int_eq(connection_bind(h, &D, id), 0);
	const struct h_sent *bd = h_last(h, TURN_ACT_TCP_BIND_DATA);
	ck_assert_ptr_nonnull(bd);
	ck_assert_uint_eq(bd->conn_id, id);
	ck_assert(h_tuple_eq(&bd->tuple, &D));
	/* the success response goes first, on the data connection */
	ck_assert_uint_eq(h->sent[0].kind, TURN_ACT_SEND_CLIENT);
	ck_assert(h_tuple_eq(&h->sent[0].tuple, &D));
	/* bound: no second bind, no timeout */
	struct turn_tuple D2 = stream_tuple("192.0.2.10", 40003, 3);
	ck_assert_int_eq(connection_bind(h, &D2, id), 400);
	h_at(h, 60000);
	ck_assert_uint_eq(h_count(h, TURN_ACT_TCP_CLOSE), 0);
	turn_actions_reset(&h->out);
	turn_server_tcp_closed(h->s, id, 10, 20, &h->out);
	ck_assert_uint_eq(turn_server_stats(h->s)->tcp_to_peer_bytes, 10);
	ck_assert_uint_eq(turn_server_stats(h->s)->tcp_conns, 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_tcp_relay_bind_unknown_400)
{
	struct h *h = ready();
	uint32_t id = incoming(h, PEER, 5555);

	ck_assert_int_eq(connection_bind(h, &D, id ^ 0x5a5a), 400);
	ck_assert_uint_eq(h_count(h, TURN_ACT_TCP_BIND_DATA), 0);
	/* not on the control connection, nor over UDP */
	ck_assert_int_eq(connection_bind(h, &C, id), 400);
	ck_assert_int_eq(connection_bind(h, &U, id), 400);
	/* another user: 441 */
	h->user = H_USER2;
	h->pass = H_PASS2;
	ck_assert_int_eq(connection_bind(h, &D, id), 441);
	h_free(h);
}
END_TEST

START_TEST(test_turn_tcp_relay_bind_other_worker_handoff)
{
	struct h *h = h_new();

	h->cfg.nworkers = 4;
	h->cfg.worker_index = 1;
	h_start(h, 0, 0);
	ck_assert_int_eq(allocate_tcp(h, &C, 0), 0);
	ck_assert_int_eq(h_permit(h, &C, PEER), 0);
	uint32_t id = incoming(h, PEER, 5555);
	ck_assert_uint_eq(TURN_TCP_CONN_WORKER(id), 1);
	/* a CONNECTION-ID of worker 3 is handed over, unanswered */
	uint32_t other = (3u << 24) | 0x1234;
	connection_bind(h, &D, other);
	ck_assert_int_eq(h_code(h), -1);
	const struct h_sent *ho = h_last(h, TURN_ACT_TCP_HANDOFF);
	ck_assert_ptr_nonnull(ho);
	ck_assert_uint_eq(ho->worker, 3);
	ck_assert(h_tuple_eq(&ho->tuple, &D));
	ck_assert_uint_eq(ho->len, h->req_len);
	ck_assert_int_eq(memcmp(ho->data, h->req, h->req_len), 0);
	/* a worker that does not exist: 400 here */
	ck_assert_int_eq(connection_bind(h, &D, (9u << 24) | 1), 400);
	h_free(h);
}
END_TEST

/* ---- lifetimes and cleanup (s5.5) ---------------------------------------- */

START_TEST(test_turn_tcp_relay_unbound_closed_at_30s)
{
	struct h *h = ready();
	uint32_t id = incoming(h, PEER, 5555), id2;

	ck_assert_int_eq(connect_peer(h, PEER, 80, &id2), -1);
	ck_assert_int_eq(connect_result(h, id2, 0), 0);
	h_at(h, 29000);
	ck_assert_uint_eq(h_count(h, TURN_ACT_TCP_CLOSE), 0);
	h_at(h, 30500);
	ck_assert_uint_eq(h_count(h, TURN_ACT_TCP_CLOSE), 2);
	ck_assert_uint_eq(turn_server_stats(h->s)->tcp_bind_timeouts, 2);
	ck_assert_uint_eq(turn_server_stats(h->s)->tcp_conns, 0);
	ck_assert_int_eq(connection_bind(h, &D, id), 400);
	h_free(h);
}
END_TEST

START_TEST(test_turn_tcp_relay_delete_closes_all)
{
	struct h *h = ready();
	uint32_t ids[3], id;

	ids[0] = incoming(h, PEER, 5555);
	ck_assert_int_eq(connection_bind(h, &D, ids[0]), 0);
	ids[1] = incoming(h, PEER, 5556);
	ck_assert_int_eq(connect_peer(h, PEER, 80, &ids[2]), -1);
	ck_assert_int_eq(h_refresh(h, &C, 0), 0);
	ck_assert_uint_eq(h_count(h, TURN_ACT_TCP_CLOSE), 3);
	ck_assert_uint_eq(h->closes, 1); /* the listener */
	ck_assert_uint_eq(turn_server_stats(h->s)->tcp_conns, 0);
	/* a late connect result gets its socket closed */
	ck_assert_int_eq(connect_result(h, ids[2], 0), -1);
	ck_assert_uint_eq(h_count(h, TURN_ACT_TCP_CLOSE), 1);
	/* the control connection closing ends the allocation the same way */
	ck_assert_int_eq(allocate_tcp(h, &C, 0), 0);
	ck_assert_int_eq(h_permit(h, &C, PEER), 0);
	id = incoming(h, PEER, 5557);
	ck_assert_uint_ne(id, 0);
	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_conn_closed(h->s, &C, &h->out);
	h_run(h);
	ck_assert_uint_eq(h_count(h, TURN_ACT_TCP_CLOSE), 1);
	ck_assert_uint_eq(h_last(h, TURN_ACT_TCP_CLOSE)->conn_id, id);
	ck_assert_uint_eq(h->closes, 2);
	h_free(h);
}
END_TEST

static Suite *turn_tcp_relay_suite(void)
{
	Suite *s = suite_create("turn_tcp_relay");
	TCase *tc = tcase_create("allocate");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_tcp_relay_allocate_over_tcp);
	tcase_add_test(tc, test_turn_tcp_relay_allocate_over_udp_400);
	tcase_add_test(tc, test_turn_tcp_relay_allocate_attrs_400);
	tcase_add_test(tc, test_turn_tcp_relay_allocate_off_442);
	suite_add_tcase(s, tc);

	tc = tcase_create("connect");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_rfc6062_s5_2_connect_needs_no_permission);
	tcase_add_test(
	        tc, test_rfc6062_s5_2_connect_failure_447_without_permission);
	tcase_add_test(tc, test_rfc6062_s5_2_connect_403_only_from_peer_policy);
	tcase_add_test(tc, test_rfc6062_s5_2_connect_without_peer_address_400);
	tcase_add_test(tc, test_rfc6062_s5_3_incoming_needs_permission);
	tcase_add_test(tc, test_turn_tcp_relay_connect_ok);
	tcase_add_test(tc, test_turn_tcp_relay_connect_twice_446);
	tcase_add_test(tc, test_turn_tcp_relay_connect_fails_447);
	tcase_add_test(tc, test_turn_tcp_relay_connect_on_udp_alloc_400);
	suite_add_tcase(s, tc);

	tc = tcase_create("bind");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_tcp_relay_incoming_attempt);
	tcase_add_test(tc, test_turn_tcp_relay_bind_unknown_400);
	tcase_add_test(tc, test_turn_tcp_relay_bind_other_worker_handoff);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifetime");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_tcp_relay_unbound_closed_at_30s);
	tcase_add_test(tc, test_turn_tcp_relay_delete_closes_all);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_tcp_relay_suite)
