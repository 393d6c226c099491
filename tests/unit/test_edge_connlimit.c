/*
 * tests/unit/test_edge_connlimit.c - node-wide connection limits: per IP
 * and in total, counts that survive table growth and deletions.
 */
#include "edge/net/connlimit.h"
#include "tests/unit/check_main.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static struct sockaddr_in v4(uint32_t ip)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(ip);
	return a;
}

START_TEST(test_edge_connlimit_per_ip_and_total)
{
	struct edge_connlimit *cl;
	struct sockaddr_in a = v4(0x0A000001), b = v4(0x0A000002);
	struct sockaddr_in6 a6;

	ck_assert_int_eq(edge_connlimit_new(&cl, 5, 3), 0);
	for (int i = 0; i < 3; i++)
		ck_assert(edge_connlimit_acquire(cl, (struct sockaddr *)&a));
	ck_assert(!edge_connlimit_acquire(cl, (struct sockaddr *)&a));
	/* the IPv4-mapped spelling is the same address */
	memset(&a6, 0, sizeof(a6));
	a6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &a6.sin6_addr);
	ck_assert(!edge_connlimit_acquire(cl, (struct sockaddr *)&a6));
	ck_assert(edge_connlimit_acquire(cl, (struct sockaddr *)&b));
	ck_assert(edge_connlimit_acquire(cl, (struct sockaddr *)&b));
	ck_assert(!edge_connlimit_acquire(cl, (struct sockaddr *)&b)); /* 5 */
	ck_assert_uint_eq(edge_connlimit_total(cl), 5);
	edge_connlimit_release(cl, (struct sockaddr *)&a);
	ck_assert(edge_connlimit_acquire(cl, (struct sockaddr *)&b));
	edge_connlimit_free(cl);
}
END_TEST

/* Many addresses (growth), released in a scrambled order (deletion with
 * backward shift): every count stays exact and the total returns to 0. */
START_TEST(test_edge_connlimit_many_addresses)
{
	enum { N = 5000 };
	struct edge_connlimit *cl;
	static uint32_t order[N];

	ck_assert_int_eq(edge_connlimit_new(&cl, 0, 2), 0);
	for (uint32_t i = 0; i < N; i++) {
		struct sockaddr_in a = v4(0xC0000000u + i * 7919u);
		ck_assert(edge_connlimit_acquire(cl, (struct sockaddr *)&a));
		ck_assert(edge_connlimit_acquire(cl, (struct sockaddr *)&a));
		ck_assert(!edge_connlimit_acquire(cl, (struct sockaddr *)&a));
		order[i] = i;
	}
	ck_assert_uint_eq(edge_connlimit_total(cl), 2 * N);
	srand(7);
	for (uint32_t i = N - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rand() % (i + 1), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (uint32_t k = 0; k < N; k++) {
		struct sockaddr_in a = v4(0xC0000000u + order[k] * 7919u);
		edge_connlimit_release(cl, (struct sockaddr *)&a);
		/* one left: exactly one more fits */
		ck_assert(edge_connlimit_acquire(cl, (struct sockaddr *)&a));
		ck_assert(!edge_connlimit_acquire(cl, (struct sockaddr *)&a));
		edge_connlimit_release(cl, (struct sockaddr *)&a);
		edge_connlimit_release(cl, (struct sockaddr *)&a);
	}
	ck_assert_uint_eq(edge_connlimit_total(cl), 0);
	edge_connlimit_free(cl);
}
END_TEST

static Suite *connlimit_suite(void)
{
	Suite *s = suite_create("edge_connlimit");
	TCase *tc = tcase_create("limits");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_edge_connlimit_per_ip_and_total);
	tcase_add_test(tc, test_edge_connlimit_many_addresses);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(connlimit_suite)
