/*
 * tests/unit/test_turn_server.c - the TURN core (turn/turn.h) against a
 * fake edge and a fake clock: long-term authentication (401, MD5, SHA-256,
 * REST, 438, 441, back-off), Allocate (errors, retransmissions, quotas,
 * port exhaustion, bind failures), Refresh and lifetimes.
 */
#include "tests/unit/turn_harness.h"

static struct turn_tuple A, B, C;

static void setup(void)
{
	A = h_tuple("192.0.2.10", 40000);
	B = h_tuple("192.0.2.11", 40001);
	C = h_tuple("192.0.2.12", 40002);
}

/* ---- authentication ------------------------------------------------------ */

START_TEST(test_turn_server_401_challenge)
{
	struct h *h = h_default();
	struct stun_builder b;
	const struct stun_attr *at;

	for (int fp = 0; fp < 2; fp++) {
		h->fingerprint = fp;
		h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
		h_transport(&b, STUN_TRANSPORT_UDP);
		ck_assert_uint_eq(h_send(h, &b, &A), 1);
		ck_assert_int_eq(h_code(h), 401);
		at = stun_msg_find(&h->resp, STUN_ATTR_REALM);
		ck_assert_ptr_nonnull(at);
		ck_assert_uint_eq(at->len, strlen(H_REALM));
		ck_assert(memcmp(at->value, H_REALM, at->len) == 0);
		at = stun_msg_find(&h->resp, STUN_ATTR_NONCE);
		ck_assert_ptr_nonnull(at);
		ck_assert_uint_eq(at->len, AUTH_NONCE_LEN);
		ck_assert(memcmp(at->value, "obMatJos2", 9) == 0);
		ck_assert_ptr_nonnull(
		        stun_msg_find(&h->resp, STUN_ATTR_PASSWORD_ALGORITHMS));
		ck_assert_ptr_null(stun_msg_find(&h->resp, STUN_ATTR_SOFTWARE));
		ck_assert_uint_eq(h->resp.mi_off, 0);
		ck_assert_uint_eq(h->resp.fp_off != 0, fp);
		ck_assert_uint_le(h->resp.len, 4 * h->req_len);
		ck_assert(memcmp(h->resp.tid, h->tid, STUN_TID_LEN) == 0);
	}
	ck_assert_uint_eq(turn_server_stats(h->s)->auth_challenges, 2);
	ck_assert_uint_eq(h->opens, 0);
	h_free(h);
}
END_TEST

static void check_success(struct h *h, const struct turn_tuple *t)
{
	struct sockaddr_storage ss;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
	const struct stun_attr *sw;

	ck_assert_int_eq(h_code(h), 0);
	ck_assert_int_eq(stun_msg_get_xor_addr(
	                         &h->resp, STUN_ATTR_XOR_RELAYED_ADDRESS, &ss),
	                 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_str_eq(inet_ntoa(in->sin_addr), "203.0.113.5");
	ck_assert_uint_ge(ntohs(in->sin_port), H_MIN_PORT);
	ck_assert_uint_le(ntohs(in->sin_port), H_MAX_PORT);
	ck_assert_uint_eq(ntohs(h->bind.in4.sin_port), ntohs(in->sin_port));
	ck_assert_str_eq(inet_ntoa(h->bind.in4.sin_addr), "10.0.0.5");
	ck_assert_uint_eq(h_lifetime(h), 600);
	ck_assert_int_eq(stun_msg_get_xor_addr(
	                         &h->resp, STUN_ATTR_XOR_MAPPED_ADDRESS, &ss),
	                 0);
	ck_assert(memcmp(&in->sin_addr, &t->client.in4.sin_addr, 4) == 0);
	ck_assert_uint_eq(in->sin_port, t->client.in4.sin_port);
	sw = stun_msg_find(&h->resp, STUN_ATTR_SOFTWARE);
	ck_assert_ptr_nonnull(sw);
	ck_assert_uint_eq(sw->len, strlen("avedge-test"));
}

START_TEST(test_turn_server_allocate_md5)
{
	struct h *h = h_default();

	ck_assert_int_eq(h_allocate(h, &A), 0);
	check_success(h, &A);
	ck_assert_int_eq(stun_check_integrity(&h->resp, h->key, h->key_len), 0);
	ck_assert_uint_eq(h->resp.mi256_off, 0);
	ck_assert_uint_eq(h->opens, 1);
	ck_assert_uint_eq(h->nlogs, 1);
	ck_assert_ptr_nonnull(strstr(h->logs[0], "allocation created"));
	ck_assert_ptr_nonnull(strstr(h->logs[0], "user=alice"));
	ck_assert_ptr_nonnull(strstr(h->logs[0], "192.0.2.10:40000"));
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 1);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations_created, 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_allocate_sha256)
{
	struct h *h = h_default();

	h->sha256 = true;
	h->fingerprint = true;
	ck_assert_int_eq(h_allocate(h, &A), 0);
	check_success(h, &A);
	ck_assert_uint_eq(h->resp.mi_off, 0);
	ck_assert_uint_ne(h->resp.mi256_off, 0);
	ck_assert_uint_ne(h->resp.fp_off, 0);
	ck_assert_int_eq(
	        stun_check_integrity_sha256(&h->resp, h->key, h->key_len), 0);
	h_free(h);
}
END_TEST

static void rest_user(struct h *h, char *user, size_t cap, uint64_t expiry,
                      const char *id, char *pass)
{
	snprintf(user, cap, "%llu:%s", (unsigned long long)expiry, id);
	ck_assert_int_eq(auth_rest_password(H_SECRET, strlen(H_SECRET), user,
	                                    strlen(user), pass, 64),
	                 0);
	h->user = user;
	h->pass = pass;
}

START_TEST(test_turn_server_allocate_rest)
{
	struct h *h = h_default();
	char user[64], pass[64];

	rest_user(h, user, sizeof(user), H_S0 + 3600, "carol", pass);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	check_success(h, &A);
	/* Expired credential: 401 */
	rest_user(h, user, sizeof(user), H_S0 - 1, "carol", pass);
	ck_assert_int_eq(h_allocate(h, &B), 401);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_437_without_allocation)
{
	struct h *h = h_default();
	struct stun_builder b;
	uint16_t methods[] = {STUN_METHOD_REFRESH,
	                      STUN_METHOD_CREATE_PERMISSION,
	                      STUN_METHOD_CHANNEL_BIND};

	for (size_t i = 0; i < 3; i++) {
		h_begin(h, &b, methods[i], STUN_CLASS_REQUEST);
		ck_assert_uint_eq(h_send(h, &b, &A), 1);
		ck_assert_int_eq(h_code(h), 437);
		ck_assert_ptr_null(stun_msg_find(&h->resp, STUN_ATTR_NONCE));
		ck_assert_uint_le(h->resp.len, 4 * h->req_len);
	}
	/* authenticated too */
	h_challenge(h, &A);
	ck_assert_int_eq(h_refresh(h, &A, -1), 437);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_438_other_address)
{
	struct h *h = h_default();

	h_challenge(h, &A);
	ck_assert_int_eq(h_allocate(h, &B), 438);
	ck_assert_ptr_nonnull(stun_msg_find(&h->resp, STUN_ATTR_REALM));
	ck_assert_ptr_nonnull(
	        stun_msg_find(&h->resp, STUN_ATTR_PASSWORD_ALGORITHMS));
	h_take_nonce(h);
	ck_assert_int_eq(h_allocate(h, &B), 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->stale_nonces, 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_438_expired_nonce)
{
	struct h *h = h_default();

	h_challenge(h, &A);
	h_at(h, 601 * 1000);
	ck_assert_int_eq(h_allocate(h, &A), 438);
	h_take_nonce(h);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_441_other_user)
{
	struct h *h = h_default();

	ck_assert_int_eq(h_allocate(h, &A), 0);
	h->user = H_USER2;
	h->pass = H_PASS2;
	ck_assert_int_eq(h_refresh(h, &A, 600), 441);
	ck_assert_int_eq(h_permit(h, &A, "198.51.100.7"), 441);
	ck_assert_int_eq(h_allocate(h, &A), 441);
	/* signed with bob's key: he is authenticated */
	ck_assert_int_eq(stun_check_integrity(&h->resp, h->key, h->key_len), 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_bad_integrity_backoff)
{
	struct h *h = h_default();
	unsigned answered = 0;

	h_challenge(h, &A);
	h->pass = "wrong";
	for (int i = 0; i < 10; i++) {
		int code = h_allocate(h, &A);
		if (code >= 0) {
			ck_assert_int_eq(code, 401);
			answered++;
		}
	}
	ck_assert_uint_ge(answered, 1);
	ck_assert_uint_lt(answered, 10);
	ck_assert_uint_gt(turn_server_stats(h->s)->auth_dropped, 0);
	ck_assert_uint_eq(h->opens, 0);
	/* The right password still works (never dropped). */
	h->pass = H_PASS;
	ck_assert_int_eq(h_allocate(h, &A), 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_no_auth)
{
	struct h *h = h_new();
	struct stun_builder b;

	h->cfg.no_auth = true;
	h_start(h, 0, 0);
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_UDP);
	h_send(h, &b, &A);
	ck_assert_int_eq(h_code(h), 0);
	ck_assert_uint_eq(h->resp.mi_off, 0);
	ck_assert_ptr_nonnull(strstr(h->logs[0], "user=anonymous"));
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_binding)
{
	struct h *h = h_default();
	struct stun_builder b;
	struct sockaddr_storage ss;

	h_begin(h, &b, STUN_METHOD_BINDING, STUN_CLASS_REQUEST);
	ck_assert_uint_eq(h_send(h, &b, &A), 1);
	ck_assert_int_eq(h_code(h), 0);
	ck_assert_int_eq(stun_msg_get_xor_addr(
	                         &h->resp, STUN_ATTR_XOR_MAPPED_ADDRESS, &ss),
	                 0);
	h_begin(h, &b, STUN_METHOD_BINDING, STUN_CLASS_INDICATION);
	ck_assert_uint_eq(h_send(h, &b, &A), 0);
	h_free(h);
}
END_TEST

/* ---- Allocate --------------------------------------------------------------
 */

static int allocate_with(struct h *h, const struct turn_tuple *t, int proto,
                         bool raf6)
{
	struct stun_builder b;

	if (!h->nonce[0])
		h_challenge(h, t);
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	if (proto)
		h_transport(&b, (uint8_t)proto);
	if (raf6)
		stun_build_u32(&b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY,
		               0x02000000);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

START_TEST(test_turn_server_allocate_errors)
{
	struct h *h = h_default();

	/* RFC 6062 s5.1: a TCP allocation over UDP is 400 */
	ck_assert_int_eq(allocate_with(h, &A, STUN_TRANSPORT_TCP, false), 400);
	ck_assert_int_eq(allocate_with(h, &A, 0, false), 400);
	ck_assert_int_eq(allocate_with(h, &A, 99, false), 442);
	ck_assert_int_eq(allocate_with(h, &A, STUN_TRANSPORT_UDP, true), 440);
	ck_assert_uint_eq(h->opens, 0);
	/* errors of an authenticated request are signed */
	ck_assert_int_eq(stun_check_integrity(&h->resp, h->key, h->key_len), 0);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_int_eq(h_allocate(h, &A), 437); /* new transaction */
	ck_assert_uint_eq(h->opens, 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_allocate_retransmit)
{
	struct h *h = h_default();
	struct stun_builder b;
	uint16_t port;

	ck_assert_int_eq(h_allocate(h, &A), 0);
	port = h_relay_port(h);
	h_begin_same(h, &b, STUN_METHOD_ALLOCATE);
	h_transport(&b, STUN_TRANSPORT_UDP);
	h_sign(h, &b);
	ck_assert_uint_eq(h_send(h, &b, &A), 1);
	ck_assert_int_eq(h_code(h), 0);
	ck_assert_uint_eq(h_relay_port(h), port);
	ck_assert_uint_eq(h_lifetime(h), 600);
	ck_assert_uint_eq(h->opens, 1);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_allocate_pending_absorbs)
{
	struct h *h = h_default();
	struct stun_builder b;

	h_challenge(h, &A);
	h->manual_relay = true;
	ck_assert_int_eq(h_allocate(h, &A), -1);
	ck_assert_uint_eq(h->opens, 1);
	uint32_t token = h->token;
	h_begin_same(h, &b, STUN_METHOD_ALLOCATE);
	h_transport(&b, STUN_TRANSPORT_UDP);
	h_sign(h, &b);
	ck_assert_uint_eq(h_send(h, &b, &A), 0);
	ck_assert_uint_eq(h->opens, 1);
	/* another transaction while pending: 437 */
	ck_assert_int_eq(h_allocate(h, &A), 437);
	/* the edge answers */
	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_relay_result(h->s, token, 0, (void *)0x77, h->now_ms,
	                         h->now_s, &h->out);
	h_run(h);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 1);
	/* an unknown token with a socket: closed */
	turn_actions_reset(&h->out);
	turn_server_relay_result(h->s, 999, 0, (void *)0x78, h->now_ms,
	                         h->now_s, &h->out);
	ck_assert_uint_eq(h->out.n, 1);
	ck_assert_int_eq(h->out.v[0].kind, TURN_ACT_CLOSE_RELAY);
	ck_assert_ptr_eq(h->out.v[0].relay, (void *)0x78);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_user_quota)
{
	struct h *h = h_new();
	char user[64], pass[64];

	h_start(h, 1, 0);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &B), 486);
	ck_assert_uint_eq(turn_server_stats(h->s)->quota_rejects, 1);
	h->user = H_USER2;
	h->pass = H_PASS2;
	ck_assert_int_eq(h_allocate(h, &B), 0);
	/* REST: the quota key is the id, a fresh credential does not help */
	h->nonce[0] = 0;
	rest_user(h, user, sizeof(user), H_S0 + 100, "carol", pass);
	ck_assert_int_eq(h_allocate(h, &C), 0);
	struct turn_tuple D = h_tuple("192.0.2.13", 1);
	h->nonce[0] = 0;
	rest_user(h, user, sizeof(user), H_S0 + 200, "carol", pass);
	ck_assert_int_eq(h_allocate(h, &D), 486);
	/* freeing the first makes room */
	h->nonce[0] = 0;
	h_challenge(h, &C);
	/* another username on the allocation's tuple: 441 */
	ck_assert_int_eq(h_refresh(h, &C, 0), 441);
	rest_user(h, user, sizeof(user), H_S0 + 100, "carol", pass);
	ck_assert_int_eq(h_refresh(h, &C, 0), 0);
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &D), 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_total_quota)
{
	struct h *h = h_new();

	h_start(h, 0, 2);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &B), 0);
	h->nonce[0] = 0;
	h->user = H_USER2;
	h->pass = H_PASS2;
	ck_assert_int_eq(h_allocate(h, &C), 486);
	ck_assert_uint_eq(turn_quota_total(h->quota), 2);
	h_free(h);
	/* allocations freed with the server release their quota */
}
END_TEST

/* Limits lowered live (SIGHUP) hold for the next Allocate; the live
 * allocations stay. */
START_TEST(test_turn_server_limits_lowered_live)
{
	struct h *h = h_new();

	h_start(h, 5, 0);
	ck_assert_int_eq(turn_quota_set_realm(h->quota, 1, 9, 9), 0);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	turn_quota_set_limits(h->quota, 1, 0);
	uint32_t uq, tq;
	turn_quota_limits(h->quota, 1, &uq, &tq); /* realm 1 lost its own */
	ck_assert_uint_eq(uq, 1);
	ck_assert_uint_eq(tq, 0);
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &B), 486);
	h->user = H_USER2;
	h->pass = H_PASS2;
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &B), 0);
	turn_server_set_limits(h->s, 1000, 2);
	h->nonce[0] = 0;
	turn_quota_set_limits(h->quota, 0, 0);
	ck_assert_int_eq(h_allocate(h, &C), 508); /* max-allocations 2 */
	ck_assert_uint_eq(turn_server_stats(h->s)->capacity_rejects, 1);
	turn_server_set_limits(h->s, 0, 0);
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &C), 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_port_exhaustion)
{
	struct h *h = h_default();
	unsigned n = H_MAX_PORT - H_MIN_PORT + 1;

	for (unsigned i = 0; i < n; i++) {
		struct turn_tuple t =
		        h_tuple("192.0.2.50", (uint16_t)(1000 + i));
		h->nonce[0] = 0;
		ck_assert_int_eq(h_allocate(h, &t), 0);
	}
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &A), 508);
	ck_assert_uint_eq(h->opens, n);
	ck_assert_uint_eq(turn_server_stats(h->s)->port_exhausted, 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_eaddrinuse)
{
	struct h *h = h_default();
	uint16_t ports[3];

	/* two refusals, then a port binds */
	h->relay_errs[0] = h->relay_errs[1] = EADDRINUSE;
	h->nrelay_errs = 2;
	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_uint_eq(h->opens, 3);
	/* three refusals: 508 */
	h->relay_errs[0] = h->relay_errs[1] = h->relay_errs[2] = EADDRINUSE;
	h->nrelay_errs = 3;
	h->opens = 0;
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &B), 508);
	ck_assert_uint_eq(h->opens, 3);
	(void)ports;
	/* out of descriptors (EMFILE, ENFILE): 508 at once, the node's
	 * fault, not the port's: not port exhaustion, no log line here */
	static const int no_fd[] = {EMFILE, ENFILE};
	for (size_t i = 0; i < 2; i++) {
		h->relay_errs[0] = no_fd[i];
		h->nrelay_errs = 1;
		h->opens = 0;
		h->nonce[0] = 0;
		ck_assert_int_eq(h_allocate(h, &C), 508);
		ck_assert_uint_eq(h->opens, 1);
		ck_assert_uint_eq(h->nlogs, 0);
	}
	ck_assert_uint_eq(turn_server_stats(h->s)->port_exhausted, 1);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 1);
	/* the tuples are free again */
	ck_assert_int_eq(h_allocate(h, &C), 0);
	h_free(h);
}
END_TEST

/* ---- lifetimes
 * --------------------------------------------------------------- */

static int allocate_lifetime(struct h *h, const struct turn_tuple *t,
                             uint32_t lifetime)
{
	struct stun_builder b;

	if (!h->nonce[0])
		h_challenge(h, t);
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_UDP);
	stun_build_u32(&b, STUN_ATTR_LIFETIME, lifetime);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

START_TEST(test_turn_server_lifetimes)
{
	struct h *h = h_default();

	ck_assert_int_eq(allocate_lifetime(h, &A, 7200), 0);
	ck_assert_uint_eq(h_lifetime(h), 3600);
	h->nonce[0] = 0;
	ck_assert_int_eq(allocate_lifetime(h, &B, 10), 0);
	ck_assert_uint_eq(h_lifetime(h), 600);
	h->nonce[0] = 0;
	ck_assert_int_eq(allocate_lifetime(h, &C, 1200), 0);
	ck_assert_uint_eq(h_lifetime(h), 1200);
	ck_assert_int_eq(h_refresh(h, &C, -1), 0);
	ck_assert_uint_eq(h_lifetime(h), 600);
	ck_assert_int_eq(h_refresh(h, &C, 100000), 0);
	ck_assert_uint_eq(h_lifetime(h), 3600);
	ck_assert_int_eq(h_refresh(h, &C, 1000), 0);
	ck_assert_uint_eq(h_lifetime(h), 1000);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_refresh_zero_deletes)
{
	struct h *h = h_default();

	ck_assert_int_eq(h_allocate(h, &A), 0);
	void *handle = (void *)(h->next_handle - 1);
	ck_assert_int_eq(h_refresh(h, &A, 0), 0);
	ck_assert_uint_eq(h_lifetime(h), 0);
	ck_assert_uint_eq(h->closes, 1);
	ck_assert_ptr_eq(h->closed[0], handle);
	ck_assert_uint_eq(h->nlogs, 1);
	ck_assert_ptr_nonnull(strstr(h->logs[0], "allocation deleted"));
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 0);
	ck_assert_int_eq(h_refresh(h, &A, 600), 437);
	/* the tuple can allocate again */
	ck_assert_int_eq(h_allocate(h, &A), 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_refresh_family)
{
	struct h *h = h_default();
	struct stun_builder b;

	ck_assert_int_eq(h_allocate(h, &A), 0);
	h_begin(h, &b, STUN_METHOD_REFRESH, STUN_CLASS_REQUEST);
	stun_build_u32(&b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, 0x02000000);
	h_sign(h, &b);
	h_send(h, &b, &A);
	ck_assert_int_eq(h_code(h), 443);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_alloc_expiry_edge)
{
	struct h *h = h_default();

	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_uint_eq(turn_server_next_deadline(h->s) <= H_MS0 + 600000, 1);
	h_at(h, 599999);
	ck_assert_uint_eq(h->closes, 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 1);
	h_at(h, 600000);
	ck_assert_uint_eq(h->closes, 1);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations_expired, 1);
	ck_assert_ptr_nonnull(strstr(h->logs[0], "reason=expired"));
	h->nonce[0] = 0;
	h_challenge(h, &A);
	ck_assert_int_eq(h_refresh(h, &A, 600), 437);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_refresh_extends)
{
	struct h *h = h_default();

	ck_assert_int_eq(h_allocate(h, &A), 0);
	h->now_ms = H_MS0 + 500000;
	h->now_s = H_S0 + 500;
	ck_assert_int_eq(h_refresh(h, &A, 600), 0);
	h_at(h, 600000);
	ck_assert_uint_eq(h->closes, 0);
	h_at(h, 1099999);
	ck_assert_uint_eq(h->closes, 0);
	h_at(h, 1100000);
	ck_assert_uint_eq(h->closes, 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_server_conn_closed)
{
	struct h *h = h_default();
	struct turn_tuple t = h_tuple("192.0.2.99", 5555);

	t.transport = TURN_TRANSPORT_TCP;
	t.conn = 17;
	ck_assert_int_eq(h_allocate(h, &t), 0);
	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_conn_closed(h->s, &t, &h->out);
	h_run(h);
	ck_assert_uint_eq(h->closes, 1);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 0);
	h_free(h);
}
END_TEST

static Suite *turn_server_suite(void)
{
	Suite *s = suite_create("turn_server");
	TCase *tc = tcase_create("auth");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_server_401_challenge);
	tcase_add_test(tc, test_turn_server_allocate_md5);
	tcase_add_test(tc, test_turn_server_allocate_sha256);
	tcase_add_test(tc, test_turn_server_allocate_rest);
	tcase_add_test(tc, test_turn_server_437_without_allocation);
	tcase_add_test(tc, test_turn_server_438_other_address);
	tcase_add_test(tc, test_turn_server_438_expired_nonce);
	tcase_add_test(tc, test_turn_server_441_other_user);
	tcase_add_test(tc, test_turn_server_bad_integrity_backoff);
	tcase_add_test(tc, test_turn_server_no_auth);
	tcase_add_test(tc, test_turn_server_binding);
	suite_add_tcase(s, tc);

	tc = tcase_create("allocate");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_server_allocate_errors);
	tcase_add_test(tc, test_turn_server_allocate_retransmit);
	tcase_add_test(tc, test_turn_server_allocate_pending_absorbs);
	tcase_add_test(tc, test_turn_server_user_quota);
	tcase_add_test(tc, test_turn_server_total_quota);
	tcase_add_test(tc, test_turn_server_limits_lowered_live);
	tcase_add_test(tc, test_turn_server_port_exhaustion);
	tcase_add_test(tc, test_turn_server_eaddrinuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifetime");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_server_lifetimes);
	tcase_add_test(tc, test_turn_server_refresh_zero_deletes);
	tcase_add_test(tc, test_turn_server_refresh_family);
	tcase_add_test(tc, test_turn_server_alloc_expiry_edge);
	tcase_add_test(tc, test_turn_server_refresh_extends);
	tcase_add_test(tc, test_turn_server_conn_closed);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_server_suite)
