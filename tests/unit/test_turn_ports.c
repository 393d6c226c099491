/*
 * tests/unit/test_turn_ports.c - relay port pool (turn/ports.h): take every
 * port once, release and retake, EVEN-PORT pairs, randomness, worker
 * split, quarantine, and a random workload checked against a model.
 */
#include "tests/unit/check_main.h"
#include "turn/ports.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 32);
}

static struct turn_ports *pool_new(uint16_t min, uint16_t max, unsigned i,
                                   unsigned n)
{
	struct turn_ports *p = NULL;
	ck_assert_int_eq(turn_ports_new(&p, min, max, i, n), 0);
	return p;
}

static struct turn_ports_stats stats(const struct turn_ports *p)
{
	struct turn_ports_stats st;
	turn_ports_stats(p, &st);
	ck_assert_uint_eq(st.total, st.free + st.in_use + st.quarantined);
	return st;
}

/* ---- take / release ------------------------------------------------------ */

static const struct {
	uint16_t min, max;
} small_ranges[] = {
        {1000, 1019}, {1001, 1010},   {1001, 1001},   {1000, 1000},
        {1, 64},      {65500, 65535}, {65535, 65535},
};

START_TEST(test_turn_ports_take_each_once_then_enospc)
{
	uint16_t min = small_ranges[_i].min, max = small_ranges[_i].max;
	unsigned n = max - min + 1u;
	bool seen[65536] = {false};
	uint64_t seed = 7;
	struct turn_ports *p = pool_new(min, max, 0, 1);
	ck_assert_uint_eq(stats(p).total, n);
	for (unsigned k = 0; k < n; k++) {
		uint16_t port = 0;
		ck_assert_int_eq(turn_ports_take(p, rnd(&seed), &port), 0);
		ck_assert_uint_ge(port, min);
		ck_assert_uint_le(port, max);
		ck_assert_msg(!seen[port], "port %u twice", port);
		seen[port] = true;
	}
	uint16_t port = 0;
	ck_assert_int_eq(turn_ports_take(p, 0, &port), ENOSPC);
	ck_assert_int_eq(turn_ports_take_even_pair(p, 0, &port), ENOSPC);
	struct turn_ports_stats st = stats(p);
	ck_assert_uint_eq(st.in_use, n);
	ck_assert_uint_eq(st.free, 0);
	ck_assert_uint_eq(st.take_failures, 2);
	turn_ports_free(p);
}
END_TEST

START_TEST(test_turn_ports_release_and_retake)
{
	struct turn_ports *p = pool_new(2000, 2099, 0, 1);
	uint16_t port, got[100];
	uint64_t seed = 99;
	for (int k = 0; k < 100; k++)
		ck_assert_int_eq(turn_ports_take(p, rnd(&seed), &got[k]), 0);
	uint16_t back[] = {2000, 2001, 2050, 2098, 2099};
	for (int k = 0; k < 5; k++)
		ck_assert_int_eq(turn_ports_release(p, back[k]), 0);
	ck_assert_int_eq(turn_ports_release(p, 2050), EINVAL); /* twice */
	ck_assert_int_eq(turn_ports_release(p, 1999), EINVAL); /* outside */
	ck_assert_int_eq(turn_ports_release(p, 2100), EINVAL);
	ck_assert_uint_eq(stats(p).free, 5);
	bool seen[5] = {false};
	for (int k = 0; k < 5; k++) {
		ck_assert_int_eq(turn_ports_take(p, rnd(&seed), &port), 0);
		int j = 0;
		while (j < 5 && back[j] != port)
			j++;
		ck_assert_msg(j < 5 && !seen[j], "unexpected port %u", port);
		seen[j] = true;
	}
	ck_assert_int_eq(turn_ports_take(p, rnd(&seed), &port), ENOSPC);
	turn_ports_free(p);
}
END_TEST

START_TEST(test_turn_ports_take_specific)
{
	struct turn_ports *p = pool_new(3000, 3009, 0, 1);
	uint16_t port;
	ck_assert_int_eq(turn_ports_take_specific(p, 3004), 0);
	ck_assert_int_eq(turn_ports_take_specific(p, 3004), EADDRINUSE);
	ck_assert_int_eq(turn_ports_take_specific(p, 2999), EINVAL);
	ck_assert_int_eq(turn_ports_take_specific(p, 3010), EINVAL);
	ck_assert_int_eq(turn_ports_take_specific(NULL, 3004), EINVAL);
	for (int k = 0; k < 9; k++) {
		ck_assert_int_eq(
		        turn_ports_take(p, (uint32_t)k * 0x1c000000u, &port),
		        0);
		ck_assert_uint_ne(port, 3004);
	}
	ck_assert_int_eq(turn_ports_release(p, 3004), 0);
	ck_assert_int_eq(turn_ports_take(p, UINT32_MAX, &port), 0);
	ck_assert_uint_eq(port, 3004);
	turn_ports_free(p);
}
END_TEST

/* ---- EVEN-PORT ----------------------------------------------------------- */

START_TEST(test_turn_ports_even_pair_rules)
{
	struct turn_ports *p = pool_new(1000, 1009, 0, 1);
	uint16_t port;
	uint64_t seed = 5;
	bool seen[1010] = {false};
	for (int k = 0; k < 5; k++) {
		ck_assert_int_eq(
		        turn_ports_take_even_pair(p, rnd(&seed), &port), 0);
		ck_assert_uint_eq(port % 2, 0);
		ck_assert_uint_le(port + 1u, 1009);
		ck_assert(!seen[port]);
		seen[port] = true;
		ck_assert_int_eq(turn_ports_take_specific(p, port), EADDRINUSE);
		ck_assert_int_eq(turn_ports_take_specific(p, port + 1),
		                 EADDRINUSE);
	}
	ck_assert_int_eq(turn_ports_take_even_pair(p, 0, &port), ENOSPC);
	/* releasing the odd halves frees single ports, not pairs */
	for (uint16_t q = 1001; q <= 1009; q += 2)
		ck_assert_int_eq(turn_ports_release(p, q), 0);
	ck_assert_uint_eq(stats(p).free_pairs, 0);
	ck_assert_int_eq(turn_ports_take_even_pair(p, 0, &port), ENOSPC);
	ck_assert_int_eq(turn_ports_take(p, 0, &port), 0);
	ck_assert_uint_eq(port % 2, 1);
	turn_ports_free(p);
}
END_TEST

START_TEST(test_turn_ports_even_pair_needs_both_free)
{
	struct turn_ports *p = pool_new(1000, 1003, 0, 1);
	uint16_t port;
	ck_assert_int_eq(turn_ports_take_specific(p, 1001), 0);
	ck_assert_uint_eq(stats(p).free_pairs, 1);
	ck_assert_int_eq(turn_ports_take_even_pair(p, UINT32_MAX, &port), 0);
	ck_assert_uint_eq(port, 1002);
	ck_assert_int_eq(turn_ports_take_even_pair(p, 0, &port), ENOSPC);
	ck_assert_int_eq(turn_ports_release(p, 1000), EINVAL); /* free */
	ck_assert_int_eq(turn_ports_release(p, 1001), 0);      /* pair whole */
	ck_assert_uint_eq(stats(p).free_pairs, 1);
	ck_assert_int_eq(turn_ports_take_even_pair(p, 0, &port), 0);
	ck_assert_uint_eq(port, 1000);
	ck_assert_int_eq(turn_ports_release(p, 1001), 0); /* R bit 0 */
	ck_assert_int_eq(turn_ports_take_even_pair(p, 0, &port), ENOSPC);
	turn_ports_free(p);

	/* cut pairs at the ends never count: 1001 and 1004 have no partner */
	p = pool_new(1001, 1004, 0, 1);
	ck_assert_uint_eq(stats(p).free_pairs, 1);
	ck_assert_int_eq(turn_ports_take_even_pair(p, 0, &port), 0);
	ck_assert_uint_eq(port, 1002);
	ck_assert_int_eq(turn_ports_take_even_pair(p, 0, &port), ENOSPC);
	turn_ports_free(p);

	p = pool_new(65534, 65535, 0, 1);
	ck_assert_int_eq(turn_ports_take_even_pair(p, UINT32_MAX, &port), 0);
	ck_assert_uint_eq(port, 65534);
	turn_ports_free(p);
}
END_TEST

/* ---- randomness -------------------------------------------------------------
 */

START_TEST(test_turn_ports_random_distribution)
{
	struct turn_ports *p = pool_new(10000, 19999, 0, 1);
	uint64_t seed = 1234;
	uint16_t prev = 0, port;
	unsigned runs = 0, buckets[10] = {0};
	for (int k = 0; k < 2000; k++) {
		ck_assert_int_eq(turn_ports_take(p, rnd(&seed), &port), 0);
		if (port == prev + 1 || port + 1 == prev)
			runs++;
		buckets[(port - 10000) / 1000]++;
		prev = port;
	}
	ck_assert_uint_lt(runs, 10); /* expected ~0.4 */
	for (int b = 0; b < 10; b++) /* expected 200 each */
		ck_assert_msg(buckets[b] > 120 && buckets[b] < 280,
		              "bucket %d: %u", b, buckets[b]);
	turn_ports_free(p);
}
END_TEST

START_TEST(test_turn_ports_uniform_over_free_ports)
{
	struct turn_ports *p = pool_new(5000, 5015, 0, 1);
	uint64_t seed = 77;
	unsigned count[16] = {0};
	uint16_t port;
	for (int k = 0; k < 32000; k++) {
		ck_assert_int_eq(turn_ports_take(p, rnd(&seed), &port), 0);
		count[port - 5000]++;
		ck_assert_int_eq(turn_ports_release(p, port), 0);
	}
	for (int k = 0; k < 16; k++) /* expected 2000 each */
		ck_assert_msg(count[k] > 1700 && count[k] < 2300, "port %d: %u",
		              5000 + k, count[k]);
	turn_ports_free(p);
}
END_TEST

/* ---- worker split ------------------------------------------------------- */

static const struct {
	uint16_t min, max;
	unsigned nworkers;
} splits[] = {
        {49152, 65535, 1}, {49152, 65535, 2}, {49152, 65535, 3},
        {49152, 65535, 8}, {1001, 1010, 2},   {1001, 1010, 3},
        {1001, 1010, 6},   {1000, 1999, 7},   {1, 65535, 16},
};

START_TEST(test_turn_ports_split_disjoint_complete)
{
	uint16_t min = splits[_i].min, max = splits[_i].max;
	unsigned n = splits[_i].nworkers;
	static unsigned owner[65536];
	memset(owner, 0, sizeof(owner));
	uint32_t total = 0;
	uint64_t seed = 3;
	uint16_t prev_last = 0;
	for (unsigned w = 0; w < n; w++) {
		struct turn_ports *p = pool_new(min, max, w, n);
		uint16_t first, last, port;
		turn_ports_share(p, &first, &last);
		ck_assert_uint_eq(first, w == 0 ? min : prev_last + 1u);
		if (w > 0)
			ck_assert_uint_eq(first % 2, 0); /* pairs stay whole */
		prev_last = last;
		total += stats(p).total;
		while (turn_ports_take(p, rnd(&seed), &port) == 0) {
			ck_assert_uint_ge(port, first);
			ck_assert_uint_le(port, last);
			ck_assert_msg(owner[port] == 0, "port %u shared", port);
			owner[port] = w + 1;
		}
		turn_ports_free(p);
	}
	ck_assert_uint_eq(prev_last, max);
	ck_assert_uint_eq(total, max - min + 1u);
	for (uint32_t q = min; q <= max; q++)
		ck_assert_msg(owner[q] != 0, "port %u unowned", q);
}
END_TEST

START_TEST(test_turn_ports_bad_args)
{
	struct turn_ports *p = NULL;
	uint16_t port;
	ck_assert_int_eq(turn_ports_new(NULL, 1000, 2000, 0, 1), EINVAL);
	ck_assert_int_eq(turn_ports_new(&p, 0, 2000, 0, 1), EINVAL);
	ck_assert_int_eq(turn_ports_new(&p, 2000, 1000, 0, 1), EINVAL);
	ck_assert_int_eq(turn_ports_new(&p, 1000, 2000, 0, 0), EINVAL);
	ck_assert_int_eq(turn_ports_new(&p, 1000, 2000, 2, 2), EINVAL);
	/* 3 pairs, 4 workers: one share would be empty */
	ck_assert_int_eq(turn_ports_new(&p, 1000, 1005, 0, 4), EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(turn_ports_take(NULL, 0, &port), EINVAL);
	ck_assert_int_eq(turn_ports_take_even_pair(NULL, 0, &port), EINVAL);
	ck_assert_int_eq(turn_ports_release(NULL, 1000), EINVAL);
	ck_assert_uint_eq(turn_ports_next_deadline(NULL), UINT64_MAX);
	turn_ports_free(NULL);
}
END_TEST

/* ---- quarantine ------------------------------------------------------------
 */

START_TEST(test_turn_ports_quarantine_and_expire)
{
	struct turn_ports *p = pool_new(4000, 4001, 0, 1);
	uint16_t port;
	ck_assert_int_eq(turn_ports_take_specific(p, 4000), 0);
	ck_assert_int_eq(turn_ports_quarantine(p, 4001, 1000), EINVAL);
	ck_assert_int_eq(turn_ports_quarantine(p, 4000, 1000), 0);
	ck_assert_int_eq(turn_ports_quarantine(p, 4000, 1000), EINVAL);
	struct turn_ports_stats st = stats(p);
	ck_assert_uint_eq(st.quarantined, 1);
	ck_assert_uint_eq(st.in_use, 0);
	ck_assert_uint_eq(st.free, 1);
	ck_assert_uint_eq(st.quarantined_ever, 1);
	ck_assert_int_eq(turn_ports_release(p, 4000), EINVAL);
	ck_assert_int_eq(turn_ports_take_specific(p, 4000), EADDRINUSE);
	ck_assert_int_eq(turn_ports_take(p, 0, &port), 0);
	ck_assert_uint_eq(port, 4001);
	ck_assert_int_eq(turn_ports_take(p, 0, &port), ENOSPC);
	ck_assert_uint_eq(turn_ports_next_deadline(p),
	                  1000 + TURN_PORTS_QUARANTINE_MS);
	ck_assert_uint_eq(
	        turn_ports_expire(p, 1000 + TURN_PORTS_QUARANTINE_MS - 1), 0);
	ck_assert_uint_eq(turn_ports_expire(p, 1000 + TURN_PORTS_QUARANTINE_MS),
	                  1);
	ck_assert_uint_eq(turn_ports_next_deadline(p), UINT64_MAX);
	ck_assert_int_eq(turn_ports_take(p, 0, &port), 0);
	ck_assert_uint_eq(port, 4000);
	turn_ports_free(p);
}
END_TEST

/* The retry loop the daemon runs: take, bind fails, quarantine, retry.
 * Also wraps the quarantine ring and grows it while wrapped. */
START_TEST(test_turn_ports_quarantine_retry_loop)
{
	struct turn_ports *p = pool_new(6000, 6099, 0, 1);
	uint64_t seed = 11, now = 0;
	uint16_t port;
	for (int k = 0; k < 16; k++, now += 100) {
		ck_assert_int_eq(turn_ports_take(p, rnd(&seed), &port), 0);
		ck_assert_int_eq(turn_ports_quarantine(p, port, now), 0);
	}
	ck_assert_uint_eq(turn_ports_expire(p, TURN_PORTS_QUARANTINE_MS + 350),
	                  4);
	while (turn_ports_take(p, rnd(&seed), &port) == 0) {
		ck_assert_int_eq(turn_ports_quarantine(p, port, now), 0);
		now += 100;
	}
	ck_assert_uint_eq(turn_ports_next_deadline(p),
	                  TURN_PORTS_QUARANTINE_MS + 400);
	struct turn_ports_stats st = stats(p);
	ck_assert_uint_eq(st.quarantined, 100);
	ck_assert_uint_eq(st.free, 0);
	ck_assert_uint_eq(st.quarantined_ever, 104);
	uint64_t prev = 0, d;
	unsigned total = 0;
	while ((d = turn_ports_next_deadline(p)) != UINT64_MAX) {
		ck_assert_uint_ge(d, prev); /* FIFO order survived the wrap */
		total += turn_ports_expire(p, d);
		prev = d;
	}
	ck_assert_uint_eq(total, 100);
	ck_assert_uint_eq(stats(p).free, 100);
	turn_ports_free(p);
}
END_TEST

/* ---- model check -----------------------------------------------------------
 */

enum { M_FREE, M_USED, M_QUAR };

START_TEST(test_turn_ports_random_workload_matches_model)
{
	enum { MIN = 20001, MAX = 20200 };
	uint8_t model[MAX + 1];
	memset(model, M_FREE, sizeof(model));
	struct turn_ports *p = pool_new(MIN, MAX, 0, 1);
	uint64_t seed = 2024, now = 0;
	for (int step = 0; step < 200000; step++) {
		uint32_t op = rnd(&seed) % 6, r = rnd(&seed);
		uint16_t port = (uint16_t)(MIN + r % (MAX - MIN + 1)), got;
		int err;
		now += 7;
		switch (op) {
		case 0:
			err = turn_ports_take(p, rnd(&seed), &got);
			if (!err) {
				ck_assert_uint_eq(model[got], M_FREE);
				model[got] = M_USED;
			}
			break;
		case 1:
			err = turn_ports_take_even_pair(p, rnd(&seed), &got);
			if (!err) {
				ck_assert_uint_eq(got % 2, 0);
				ck_assert(model[got] == M_FREE &&
				          model[got + 1] == M_FREE);
				model[got] = model[got + 1] = M_USED;
			}
			break;
		case 2:
			err = turn_ports_take_specific(p, port);
			ck_assert_int_eq(
			        err, model[port] == M_FREE ? 0 : EADDRINUSE);
			if (!err)
				model[port] = M_USED;
			break;
		case 3:
		case 4:
			err = turn_ports_release(p, port);
			ck_assert_int_eq(err,
			                 model[port] == M_USED ? 0 : EINVAL);
			if (!err)
				model[port] = M_FREE;
			break;
		default:
			err = turn_ports_quarantine(p, port, now);
			ck_assert_int_eq(err,
			                 model[port] == M_USED ? 0 : EINVAL);
			if (!err)
				model[port] = M_QUAR;
			if (turn_ports_expire(p, now) > 0)
				for (int q = MIN; q <= MAX; q++)
					if (model[q] == M_QUAR &&
					    turn_ports_take_specific(p, q) == 0)
						model[q] = M_USED;
			break;
		}
		if (step % 1000 == 0) {
			unsigned nfree = 0, npairs = 0;
			for (int q = MIN; q <= MAX; q++)
				nfree += model[q] == M_FREE;
			for (int q = MIN + 1; q < MAX; q += 2)
				npairs += model[q] == M_FREE &&
				          model[q + 1] == M_FREE;
			struct turn_ports_stats st = stats(p);
			ck_assert_uint_eq(st.free, nfree);
			ck_assert_uint_eq(st.free_pairs, npairs);
		}
	}
	turn_ports_free(p);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *turn_ports_suite(void)
{
	Suite *s = suite_create("turn_ports");
	TCase *tc = tcase_create("take_release");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_ports_take_each_once_then_enospc, 0,
	                    N(small_ranges));
	tcase_add_test(tc, test_turn_ports_release_and_retake);
	tcase_add_test(tc, test_turn_ports_take_specific);
	tcase_add_test(tc, test_turn_ports_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("even_port");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_ports_even_pair_rules);
	tcase_add_test(tc, test_turn_ports_even_pair_needs_both_free);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_ports_random_distribution);
	tcase_add_test(tc, test_turn_ports_uniform_over_free_ports);
	suite_add_tcase(s, tc);

	tc = tcase_create("workers");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_ports_split_disjoint_complete, 0,
	                    N(splits));
	suite_add_tcase(s, tc);

	tc = tcase_create("quarantine");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_ports_quarantine_and_expire);
	tcase_add_test(tc, test_turn_ports_quarantine_retry_loop);
	suite_add_tcase(s, tc);

	tc = tcase_create("model");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_ports_random_workload_matches_model);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_ports_suite)
