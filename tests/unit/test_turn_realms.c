/*
 * tests/unit/test_turn_realms.c - several realms in one server core: the
 * tuple's realm (the edge's realm-listener / realm-sni choice) names the
 * realm of the 401, only that realm's users and secrets verify, and the
 * quotas count per realm. Also the auth store's realms (auth/realms.c).
 */
#include "tests/unit/turn_harness.h"

#define R_B    "b.example"
#define R_USER "bella"
#define R_PASS "bpass"

static const char *const realm_names[] = {NULL, R_B};

/* A server with realm 1 = R_B holding user bella; realm 0 (H_REALM) has
 * alice and bob as in every core test. */
static struct h *h_realms(uint32_t user_quota, uint32_t total_quota)
{
	struct h *h = h_new();
	struct auth_store *b;
	char err[AUTH_ERR_MAX];

	h->cfg.realms = realm_names;
	h->cfg.nrealms = 2;
	h_start(h, user_quota, total_quota);
	ck_assert_int_eq(
	        auth_store_add_realm(h->store, R_B, &b, err, sizeof(err)), 0);
	ck_assert_int_eq(
	        auth_store_add_user(b, R_USER ":" R_PASS, err, sizeof(err)), 0);
	/* the store changed after the server looked its realms up */
	turn_server_set_store(h->s, h->store);
	return h;
}

static struct turn_tuple in_realm(const char *ip, uint16_t port, uint8_t r)
{
	struct turn_tuple t = h_tuple(ip, port);

	t.realm = r;
	t.listener = r; /* another listening socket */
	return t;
}

static void as(struct h *h, const char *realm, const char *user,
               const char *pass)
{
	h->realm = realm;
	h->user = user;
	h->pass = pass;
	h->nonce[0] = 0;
}

static void realm_is(struct h *h, const char *realm)
{
	const struct stun_attr *at = stun_msg_find(&h->resp, STUN_ATTR_REALM);

	ck_assert_ptr_nonnull(at);
	ck_assert_uint_eq(at->len, strlen(realm));
	ck_assert(memcmp(at->value, realm, at->len) == 0);
}

START_TEST(test_auth_store_realms)
{
	struct auth_store *s, *b, *again;
	char err[AUTH_ERR_MAX];

	ck_assert_int_eq(auth_store_new(&s, "a.example", err, sizeof(err)), 0);
	ck_assert_int_eq(
	        auth_store_add_realm(s, "a.example", &again, err, sizeof(err)),
	        0);
	ck_assert_ptr_eq(again, s);
	ck_assert_int_eq(auth_store_add_realm(s, R_B, &b, err, sizeof(err)), 0);
	ck_assert_ptr_ne(b, s);
	ck_assert_int_eq(auth_store_add_realm(s, R_B, &again, err, sizeof(err)),
	                 0);
	ck_assert_ptr_eq(again, b);
	ck_assert_str_eq(auth_store_realm(b), R_B);
	ck_assert_ptr_eq(auth_store_find_realm(s, R_B), b);
	ck_assert_ptr_null(auth_store_find_realm(s, "c.example"));
	ck_assert_ptr_eq(auth_store_realm_at(s, 0), s);
	ck_assert_ptr_eq(auth_store_realm_at(s, 1), b);
	ck_assert_ptr_null(auth_store_realm_at(s, 2));
	ck_assert_int_eq(
	        auth_store_add_realm(s, "bad\x01", &again, err, sizeof(err)),
	        EINVAL);
	for (int i = 2; i < AUTH_REALMS_MAX; i++) {
		char name[32];
		snprintf(name, sizeof(name), "r%d.example", i);
		ck_assert_int_eq(
		        auth_store_add_realm(s, name, &again, err, sizeof(err)),
		        0);
	}
	ck_assert_int_eq(auth_store_add_realm(s, "one.too.many", &again, err,
	                                      sizeof(err)),
	                 ENOSPC);
	auth_store_free(s); /* frees its realms (ASan/valgrind) */
}
END_TEST

START_TEST(test_turn_realm_chosen_by_listener)
{
	struct h *h = h_realms(0, 0);
	struct turn_tuple a = in_realm("192.0.2.10", 40000, 0);
	struct turn_tuple b = in_realm("192.0.2.11", 40001, 1);

	h_challenge(h, &a);
	realm_is(h, H_REALM);
	h_challenge(h, &b);
	realm_is(h, R_B);
	as(h, R_B, R_USER, R_PASS);
	ck_assert_int_eq(h_allocate(h, &b), 0);
	as(h, H_REALM, H_USER, H_PASS);
	ck_assert_int_eq(h_allocate(h, &a), 0);
	/* an index past cfg.nrealms counts as the default realm */
	struct turn_tuple c = in_realm("192.0.2.12", 40002, 9);
	h_challenge(h, &c);
	realm_is(h, H_REALM);
	ck_assert_str_eq(turn_server_realm_name(h->s, 1), R_B);
	ck_assert_ptr_null(turn_server_realm_name(h->s, 2));
	h_free(h);
}
END_TEST

START_TEST(test_turn_realm_wrong_realm_user_refused)
{
	struct h *h = h_realms(0, 0);
	struct turn_tuple a = in_realm("192.0.2.10", 40000, 0);
	struct turn_tuple b = in_realm("192.0.2.11", 40001, 1);

	/* realm A's user on B's listener, signing for A: unknown realm */
	as(h, H_REALM, H_USER, H_PASS);
	ck_assert_int_eq(h_allocate(h, &b), 401);
	realm_is(h, R_B);
	/* ... signing for B: no such user in B */
	as(h, R_B, H_USER, H_PASS);
	ck_assert_int_eq(h_allocate(h, &b), 401);
	/* B's user on A's listener, either way */
	as(h, R_B, R_USER, R_PASS);
	ck_assert_int_eq(h_allocate(h, &a), 401);
	realm_is(h, H_REALM);
	as(h, H_REALM, R_USER, R_PASS);
	ck_assert_int_eq(h_allocate(h, &a), 401);
	ck_assert_uint_eq(h->opens, 0);
	ck_assert_uint_ge(turn_server_stats(h->s)->auth_failures, 4);
	h_free(h);
}
END_TEST

START_TEST(test_turn_realm_missing_from_store_knows_nobody)
{
	struct h *h = h_new();
	static const char *const names[] = {NULL, "c.example"};
	struct turn_tuple c = in_realm("192.0.2.12", 40002, 1);

	h->cfg.realms = names;
	h->cfg.nrealms = 2;
	h_start(h, 0, 0);
	h_challenge(h, &c);
	realm_is(h, "c.example");
	as(h, "c.example", H_USER, H_PASS);
	ck_assert_int_eq(h_allocate(h, &c), 401);
	as(h, H_REALM, H_USER, H_PASS); /* the default realm's, sent there */
	ck_assert_int_eq(h_allocate(h, &c), 401);
	ck_assert_uint_eq(h->opens, 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_realm_quota_per_realm)
{
	struct h *h = h_realms(0, 0);
	struct turn_tuple b1 = in_realm("192.0.2.11", 40001, 1);
	struct turn_tuple b2 = in_realm("192.0.2.11", 40002, 1);
	struct turn_tuple b3 = in_realm("192.0.2.11", 40003, 1);
	struct turn_tuple a1 = in_realm("192.0.2.10", 40001, 0);
	struct turn_tuple a2 = in_realm("192.0.2.10", 40002, 0);
	uint32_t uq, tq;

	/* a fresh quota: B has user-quota 1 and total 2, A the defaults (0) */
	turn_server_free(h->s);
	ck_assert_int_eq(turn_quota_new(&h->quota, 0, 0), 0);
	ck_assert_int_eq(turn_quota_set_realm(h->quota, 1, 1, 2), 0);
	ck_assert_int_eq(turn_quota_set_realm(h->quota, TURN_MAX_REALMS, 1, 1),
	                 EINVAL);
	turn_quota_limits(h->quota, 1, &uq, &tq);
	ck_assert_uint_eq(uq, 1);
	ck_assert_uint_eq(tq, 2);
	turn_quota_limits(h->quota, 0, &uq, &tq);
	ck_assert_uint_eq(uq + tq, 0);
	ck_assert_int_eq(turn_server_new(&h->s, &h->cfg, h->store, h->nonces,
	                                 h->policy, h->quota, h->now_ms),
	                 0);
	as(h, R_B, R_USER, R_PASS);
	ck_assert_int_eq(h_allocate(h, &b1), 0);
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &b2), 486); /* B's user-quota */
	/* A's alice, twice: A has no quota, and B's counts are not A's */
	as(h, H_REALM, H_USER, H_PASS);
	ck_assert_int_eq(h_allocate(h, &a1), 0);
	h->nonce[0] = 0;
	ck_assert_int_eq(h_allocate(h, &a2), 0);
	ck_assert_uint_eq(turn_quota_total(h->quota), 3);
	/* a REST user of B: another quota key, B's second allocation */
	char err[AUTH_ERR_MAX], user[64], pass[64];
	struct auth_store *b =
	        (struct auth_store *)auth_store_find_realm(h->store, R_B);
	ck_assert_int_eq(auth_store_add_secret(b, "b-secret", err, sizeof(err)),
	                 0);
	turn_server_set_store(h->s, h->store);
	snprintf(user, sizeof(user), "%llu:dora",
	         (unsigned long long)(H_S0 + 100));
	ck_assert_int_eq(auth_rest_password("b-secret", 8, user, strlen(user),
	                                    pass, sizeof(pass)),
	                 0);
	as(h, R_B, user, pass);
	ck_assert_int_eq(h_allocate(h, &b3), 0);
	/* another REST user of B: B's total (2) stops it */
	struct turn_tuple b4 = in_realm("192.0.2.11", 40004, 1);
	snprintf(user, sizeof(user), "%llu:erin",
	         (unsigned long long)(H_S0 + 100));
	ck_assert_int_eq(auth_rest_password("b-secret", 8, user, strlen(user),
	                                    pass, sizeof(pass)),
	                 0);
	as(h, R_B, user, pass);
	ck_assert_int_eq(h_allocate(h, &b4), 486);
	ck_assert_uint_eq(turn_server_stats(h->s)->quota_rejects, 2);
	h_free(h);
}
END_TEST

static Suite *turn_realms_suite(void)
{
	Suite *s = suite_create("turn_realms");
	TCase *tc = tcase_create("realms");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_auth_store_realms);
	tcase_add_test(tc, test_turn_realm_chosen_by_listener);
	tcase_add_test(tc, test_turn_realm_wrong_realm_user_refused);
	tcase_add_test(tc, test_turn_realm_missing_from_store_knows_nobody);
	tcase_add_test(tc, test_turn_realm_quota_per_realm);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_realms_suite)
