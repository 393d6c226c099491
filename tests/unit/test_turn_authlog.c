/*
 * tests/unit/test_turn_authlog.c - authentication failures are logged one
 * line each, at most TURN_AUTHLOG_BURST at once and TURN_AUTHLOG_PER_S a
 * second after that per worker, with the count of lines held back, and
 * with the attacker's user name unable to split or forge a line.
 */
#include "tests/unit/turn_harness.h"
#include "turn/turn_int.h"

static struct turn_tuple A;

static void setup(void)
{
	A = h_tuple("192.0.2.10", 40000);
}

/* Auth failure lines among the logs of the last input. */
static unsigned auth_lines(struct h *h, const char **last)
{
	unsigned n = 0;

	for (size_t i = 0; i < h->nlogs; i++)
		if (strstr(h->logs[i], "auth failure:")) {
			n++;
			*last = h->logs[i];
		}
	return n;
}

START_TEST(test_turn_authlog_burst_then_rate)
{
	struct h *h = h_default();
	const char *last = NULL;
	unsigned lines = 0;

	h_challenge(h, &A);
	h->user = "mallory";
	for (int i = 0; i < 100; i++) {
		h_allocate(h, &A);
		lines += auth_lines(h, &last);
	}
	ck_assert_uint_eq(lines, TURN_AUTHLOG_BURST);
	ck_assert_ptr_nonnull(last);
	ck_assert_ptr_nonnull(strstr(last, "reason=\"no user\""));
	ck_assert_ptr_nonnull(strstr(last, "user=\"mallory\""));
	ck_assert_ptr_nonnull(strstr(last, "client=192.0.2.10:40000"));
	ck_assert_uint_eq(turn_server_stats(h->s)->auth_failures, 100);

	/* One second later: TURN_AUTHLOG_PER_S more, the first of them
	 * saying how many were held back. */
	h_at(h, h->now_ms - H_MS0 + 1000);
	lines = 0;
	for (int i = 0; i < 50; i++) {
		const char *l = NULL;
		h_allocate(h, &A);
		if (auth_lines(h, &l) && lines++ == 0)
			ck_assert_ptr_nonnull(
			        strstr(l, "(80 earlier lines suppressed)"));
	}
	ck_assert_uint_eq(lines, TURN_AUTHLOG_PER_S);
	h_free(h);
}
END_TEST

START_TEST(test_turn_authlog_user_cannot_forge_lines)
{
	struct h *h = h_default();
	const char *last = NULL;
	char longname[200];

	h_challenge(h, &A);
	h->user = "eve\ninfo allocation created: user=\"x";
	h_allocate(h, &A);
	ck_assert_uint_eq(auth_lines(h, &last), 1);
	ck_assert_ptr_null(strchr(last, '\n'));
	ck_assert_ptr_nonnull(
	        strstr(last, "user=\"eve?info allocation created: user=?x\""));

	memset(longname, 'z', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	h->user = longname;
	h_allocate(h, &A);
	ck_assert_uint_eq(auth_lines(h, &last), 1);
	ck_assert_ptr_nonnull(strstr(last, "zzz...\""));
	ck_assert_uint_lt(strlen(last), 200);
	h_free(h);
}
END_TEST

static Suite *authlog_suite(void)
{
	Suite *s = suite_create("turn_authlog");
	TCase *tc = tcase_create("authlog");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_authlog_burst_then_rate);
	tcase_add_test(tc, test_turn_authlog_user_cannot_forge_lines);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(authlog_suite)
