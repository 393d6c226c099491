/*
 * tests/unit/test_auth_ratelimit.c - the abuse limits of auth/ on a fake
 * millisecond clock: challenge pacing (token bucket refill and burst
 * edges, sources, IPv6 /64, a full table) and the integrity-failure
 * back-off (threshold, doubling up to the cap, reset on success, quiet
 * window, a full table).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "auth/auth.h"
#include "tests/unit/check_main.h"

static const uint8_t seed[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1};

static struct sockaddr_in v4(uint32_t ip)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 7};
	sin.sin_addr.s_addr = htonl(ip);
	return sin;
}

static struct sockaddr_in6 v6(const char *ip)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return sin6;
}

#define SA(x) ((const struct sockaddr *)&(x))

/* --- challenge pacing ---------------------------------------------------- */

START_TEST(test_auth_ratelimit_burst_edge)
{
	struct auth_ratelimit *rl;
	struct auth_ratelimit_stats st;
	struct sockaddr_in a = v4(0xC0000201);

	ck_assert_int_eq(auth_ratelimit_new(&rl, NULL, seed), 0);
	for (int i = 0; i < 2000; i++)
		ck_assert(auth_ratelimit_allow(rl, SA(a), 1000));
	ck_assert(!auth_ratelimit_allow(rl, SA(a), 1000));
	auth_ratelimit_stats(rl, &st);
	ck_assert_uint_eq(st.allowed, 2000);
	ck_assert_uint_eq(st.paced, 1);
	ck_assert_uint_eq(st.evictions, 0);
	auth_ratelimit_free(rl);
}
END_TEST

START_TEST(test_auth_ratelimit_refill)
{
	struct auth_ratelimit *rl;
	struct auth_ratelimit_config cfg = {.rate_per_s = 500, .burst = 3};
	struct sockaddr_in a = v4(0xC0000201);

	ck_assert_int_eq(auth_ratelimit_new(&rl, &cfg, seed), 0);
	for (int i = 0; i < 3; i++)
		ck_assert(auth_ratelimit_allow(rl, SA(a), 0));
	ck_assert(!auth_ratelimit_allow(rl, SA(a), 0));
	/* 500/s = one token per 2 ms: half a token after 1 ms. */
	ck_assert(!auth_ratelimit_allow(rl, SA(a), 1));
	ck_assert(auth_ratelimit_allow(rl, SA(a), 2));
	ck_assert(!auth_ratelimit_allow(rl, SA(a), 2));
	/* A long pause refills to the burst, no more. */
	for (int i = 0; i < 3; i++)
		ck_assert(auth_ratelimit_allow(rl, SA(a), 3600000));
	ck_assert(!auth_ratelimit_allow(rl, SA(a), 3600000));
	/* A clock that goes back refills nothing and breaks nothing. */
	ck_assert(!auth_ratelimit_allow(rl, SA(a), 5));
	ck_assert(auth_ratelimit_allow(rl, SA(a), 3600002));
	auth_ratelimit_free(rl);
}
END_TEST

START_TEST(test_auth_ratelimit_slow_rate)
{
	struct auth_ratelimit *rl;
	struct auth_ratelimit_config cfg = {.rate_per_s = 1, .burst = 1};
	struct sockaddr_in a = v4(0xC0000201);

	ck_assert_int_eq(auth_ratelimit_new(&rl, &cfg, seed), 0);
	ck_assert(auth_ratelimit_allow(rl, SA(a), 0));
	ck_assert(!auth_ratelimit_allow(rl, SA(a), 999));
	ck_assert(auth_ratelimit_allow(rl, SA(a), 1000));
	auth_ratelimit_free(rl);
}
END_TEST

START_TEST(test_auth_ratelimit_sources)
{
	struct auth_ratelimit *rl;
	struct auth_ratelimit_config cfg = {.burst = 1};
	struct sockaddr_in a = v4(0xC0000201), b = v4(0xC0000202);
	struct sockaddr_in6 x1 = v6("2001:db8:1:2::1");
	struct sockaddr_in6 x2 = v6("2001:db8:1:2:ffff::9"); /* same /64 */
	struct sockaddr_in6 y = v6("2001:db8:1:3::1");
	struct sockaddr_in6 mapped = v6("::ffff:192.0.2.1"); /* = a */

	ck_assert_int_eq(auth_ratelimit_new(&rl, &cfg, seed), 0);
	ck_assert(auth_ratelimit_allow(rl, SA(a), 0));
	ck_assert(auth_ratelimit_allow(rl, SA(b), 0));
	ck_assert(!auth_ratelimit_allow(rl, SA(a), 0));
	ck_assert(!auth_ratelimit_allow(rl, SA(mapped), 0));
	ck_assert(auth_ratelimit_allow(rl, SA(x1), 0));
	ck_assert(!auth_ratelimit_allow(rl, SA(x2), 0));
	ck_assert(auth_ratelimit_allow(rl, SA(y), 0));
	auth_ratelimit_free(rl);
}
END_TEST

START_TEST(test_auth_ratelimit_table_full)
{
	struct auth_ratelimit *rl;
	struct auth_ratelimit_config cfg = {
	        .rate_per_s = 1, .burst = 1, .entries = 4};
	struct auth_ratelimit_stats st;
	struct sockaddr_in s[5];

	ck_assert_int_eq(auth_ratelimit_new(&rl, &cfg, seed), 0);
	for (int i = 0; i < 5; i++)
		s[i] = v4(0x0A000001 + (uint32_t)i);
	/* One set of four: the fifth source evicts the least recent. */
	for (int i = 0; i < 4; i++)
		ck_assert(auth_ratelimit_allow(rl, SA(s[i]), (uint64_t)i));
	ck_assert(!auth_ratelimit_allow(rl, SA(s[1]), 4));
	ck_assert(auth_ratelimit_allow(rl, SA(s[4]), 4));
	auth_ratelimit_stats(rl, &st);
	ck_assert_uint_eq(st.evictions, 1);
	/* s[0] was evicted: back with a fresh bucket (fails open). */
	ck_assert(auth_ratelimit_allow(rl, SA(s[0]), 4));
	/* s[1] was seen at 4 and stays paced. */
	ck_assert(!auth_ratelimit_allow(rl, SA(s[1]), 4));
	auth_ratelimit_stats(rl, &st);
	ck_assert_uint_eq(st.evictions, 2);
	auth_ratelimit_free(rl);
}
END_TEST

START_TEST(test_auth_ratelimit_spray_bounded)
{
	struct auth_ratelimit *rl;
	struct auth_ratelimit_stats st;
	struct sockaddr_in victim = v4(0xC0000201);

	ck_assert_int_eq(auth_ratelimit_new(&rl, NULL, seed), 0);
	for (uint32_t i = 0; i < 100000; i++) {
		struct sockaddr_in a = v4(0x0B000000 + i);
		ck_assert(auth_ratelimit_allow(rl, SA(a), 10));
	}
	auth_ratelimit_stats(rl, &st);
	ck_assert_uint_eq(st.allowed, 100000);
	ck_assert_uint_ge(st.evictions, 100000 - 4096);
	ck_assert(auth_ratelimit_allow(rl, SA(victim), 11));
	auth_ratelimit_free(rl);
}
END_TEST

START_TEST(test_auth_ratelimit_unlimited_and_args)
{
	struct auth_ratelimit *rl;
	struct auth_ratelimit_config cfg = {.burst = 1, .unlimited = true};
	struct auth_ratelimit_stats st;
	struct sockaddr_in a = v4(0xC0000201);

	ck_assert_int_eq(auth_ratelimit_new(&rl, &cfg, seed), 0);
	for (int i = 0; i < 10; i++)
		ck_assert(auth_ratelimit_allow(rl, SA(a), 0));
	auth_ratelimit_stats(rl, &st);
	ck_assert_uint_eq(st.allowed, 10);
	auth_ratelimit_free(rl);
	auth_ratelimit_free(NULL);
	ck_assert_int_eq(auth_ratelimit_new(&rl, NULL, NULL), EINVAL);
}
END_TEST

/* --- integrity-failure back-off ------------------------------------------ */

static struct auth_backoff *bo;
static struct sockaddr_in src;

static void bo_setup(void)
{
	ck_assert_int_eq(auth_backoff_new(&bo, NULL, seed), 0);
	src = v4(0xC0000201);
}

static void bo_teardown(void)
{
	auth_backoff_free(bo);
}

static enum auth_backoff_verdict fail_at(const char *user, uint64_t now)
{
	return auth_backoff_failure(bo, SA(src), user, strlen(user), now);
}

static bool blocked_at(const char *user, uint64_t now)
{
	return auth_backoff_blocked(bo, SA(src), user, strlen(user), now);
}

START_TEST(test_auth_backoff_threshold)
{
	struct auth_backoff_stats st;

	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(fail_at("alice", 100), AUTH_BACKOFF_ANSWER);
		ck_assert(!blocked_at("alice", 100));
	}
	/* The fifth is answered and starts a 1 s block. */
	ck_assert_int_eq(fail_at("alice", 100), AUTH_BACKOFF_ANSWER);
	ck_assert(blocked_at("alice", 100));
	ck_assert_int_eq(fail_at("alice", 1099), AUTH_BACKOFF_DROP);
	ck_assert(!blocked_at("alice", 1100));
	/* Other users and sources are not affected. */
	ck_assert(!blocked_at("bob", 500));
	struct sockaddr_in other = v4(0xC0000202);
	ck_assert(!auth_backoff_blocked(bo, SA(other), "alice", 5, 500));
	auth_backoff_stats(bo, &st);
	ck_assert_uint_eq(st.failures, 6);
	ck_assert_uint_eq(st.backoffs, 1);
	ck_assert_uint_eq(st.dropped, 2); /* one failure, one blocked() */
}
END_TEST

START_TEST(test_auth_backoff_doubling_to_cap)
{
	static const uint64_t len_ms[] = {1000,  2000,  4000,  8000,
	                                  16000, 32000, 60000, 60000};
	uint64_t t = 0;

	for (int i = 0; i < 4; i++)
		fail_at("alice", t);
	for (size_t i = 0; i < sizeof(len_ms) / sizeof(len_ms[0]); i++) {
		ck_assert_int_eq(fail_at("alice", t), AUTH_BACKOFF_ANSWER);
		ck_assert(blocked_at("alice", t + len_ms[i] - 1));
		ck_assert(!blocked_at("alice", t + len_ms[i]));
		t += len_ms[i];
	}
}
END_TEST

START_TEST(test_auth_backoff_success_resets)
{
	struct auth_backoff_stats st;

	for (int i = 0; i < 5; i++)
		fail_at("alice", 0);
	ck_assert(blocked_at("alice", 10));
	/* A request that verifies is never dropped and clears the pair. */
	auth_backoff_success(bo, SA(src), "alice", 5);
	ck_assert(!blocked_at("alice", 10));
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(fail_at("alice", 20), AUTH_BACKOFF_ANSWER);
	ck_assert(!blocked_at("alice", 20));
	ck_assert_int_eq(fail_at("alice", 20), AUTH_BACKOFF_ANSWER);
	ck_assert(blocked_at("alice", 1019)); /* back to 1 s, not 2 s */
	ck_assert(!blocked_at("alice", 1020));
	auth_backoff_success(bo, SA(src), "nobody", 6); /* unknown: no-op */
	auth_backoff_stats(bo, &st);
	ck_assert_uint_eq(st.resets, 1);
}
END_TEST

START_TEST(test_auth_backoff_window)
{
	/* Failures more than 60 s apart never add up. */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(fail_at("alice", (uint64_t)i * 60001),
		                 AUTH_BACKOFF_ANSWER);
	ck_assert(!blocked_at("alice", 10 * 60001));

	/* After a 2 s block, 60 s of quiet from its end forget the level. */
	for (int i = 0; i < 5; i++)
		fail_at("bob", 1000000);
	fail_at("bob", 1001000); /* 2 s block until 1003000 */
	ck_assert(blocked_at("bob", 1002999));
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(fail_at("bob", 1063001), AUTH_BACKOFF_ANSWER);
	ck_assert(!blocked_at("bob", 1063001));
	fail_at("bob", 1063001);
	ck_assert(blocked_at("bob", 1064000));
	ck_assert(!blocked_at("bob", 1064001));
}
END_TEST

START_TEST(test_auth_backoff_table_full)
{
	struct auth_backoff *b;
	struct auth_backoff_config cfg = {.entries = 4, .threshold = 1};
	struct auth_backoff_stats st;
	struct sockaddr_in a = v4(0xC0000201);
	const char *users[] = {"u0", "u1", "u2", "u3", "u4", "u5"};

	ck_assert_int_eq(auth_backoff_new(&b, &cfg, seed), 0);
	/* u0 fails without being blocked long: threshold 1 blocks 1 s. */
	for (int i = 0; i < 4; i++)
		auth_backoff_failure(b, SA(a), users[i], 2, (uint64_t)i * 100);
	/* All four blocked; u0's block ends first (at 1000). */
	ck_assert(auth_backoff_blocked(b, SA(a), "u0", 2, 500));
	auth_backoff_failure(b, SA(a), "u4", 2, 500);
	auth_backoff_stats(b, &st);
	ck_assert_uint_eq(st.evictions, 1);
	ck_assert(!auth_backoff_blocked(b, SA(a), "u0", 2, 500)); /* evicted */
	ck_assert(auth_backoff_blocked(b, SA(a), "u1", 2, 500));
	ck_assert(auth_backoff_blocked(b, SA(a), "u4", 2, 500));
	/* At 1250 u1 (until 1100) and u2 (until 1200) are unblocked: the
	 * older failure (u1) goes first, blocked u3/u4 stay. */
	auth_backoff_failure(b, SA(a), "u5", 2, 1250);
	ck_assert(auth_backoff_blocked(b, SA(a), "u3", 2, 1250));
	ck_assert(auth_backoff_blocked(b, SA(a), "u4", 2, 1250));
	ck_assert(auth_backoff_blocked(b, SA(a), "u5", 2, 1250));
	auth_backoff_stats(b, &st);
	ck_assert_uint_eq(st.evictions, 2);
	auth_backoff_free(b);
	auth_backoff_free(NULL);
	cfg.max_ms = 10;
	cfg.initial_ms = 20;
	ck_assert_int_eq(auth_backoff_new(&b, &cfg, seed), EINVAL);
}
END_TEST

static Suite *auth_ratelimit_suite(void)
{
	Suite *s = suite_create("auth_ratelimit");
	TCase *tc;

	tc = tcase_create("pacing");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_auth_ratelimit_burst_edge);
	tcase_add_test(tc, test_auth_ratelimit_refill);
	tcase_add_test(tc, test_auth_ratelimit_slow_rate);
	tcase_add_test(tc, test_auth_ratelimit_sources);
	tcase_add_test(tc, test_auth_ratelimit_table_full);
	tcase_add_test(tc, test_auth_ratelimit_spray_bounded);
	tcase_add_test(tc, test_auth_ratelimit_unlimited_and_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("backoff");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, bo_setup, bo_teardown);
	tcase_add_test(tc, test_auth_backoff_threshold);
	tcase_add_test(tc, test_auth_backoff_doubling_to_cap);
	tcase_add_test(tc, test_auth_backoff_success_resets);
	tcase_add_test(tc, test_auth_backoff_window);
	tcase_add_test(tc, test_auth_backoff_table_full);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(auth_ratelimit_suite)
