/*
 * tests/unit/test_turn_alloc.c - Allocate extensions of the TURN core
 * (turn/open.c): EVEN-PORT with the R bit and RESERVATION-TOKEN (RFC 8656
 * s7.2, s14.6, s14.9), REQUESTED-ADDRESS-FAMILY and the dual-stack
 * ADDITIONAL-ADDRESS-FAMILY (s7.2, s18.18), against a fake edge and clock.
 */
#include "tests/unit/turn_harness.h"

static struct turn_tuple A, B;

static void setup(void)
{
	A = h_tuple("192.0.2.10", 40000);
	B = h_tuple("192.0.2.11", 40001);
}

enum {
	X_EVEN = 1,
	X_EVEN_R = 2,
	X_TOKEN = 4,
	X_RAF4 = 8,
	X_RAF6 = 16,
	X_AAF6 = 32,
	X_AAF4 = 64,
	X_RAF3 = 128, /* a family value that does not exist */
};

static int allocate_x(struct h *h, const struct turn_tuple *t, unsigned x,
                      const uint8_t *token)
{
	struct stun_builder b;

	h->nonce[0] = 0;
	h_challenge(h, t);
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_UDP);
	if (x & (X_EVEN | X_EVEN_R)) {
		uint8_t v = (x & X_EVEN_R) ? 0x80 : 0;
		stun_build_attr(&b, STUN_ATTR_EVEN_PORT, &v, 1);
	}
	if (x & X_TOKEN)
		stun_build_attr(&b, STUN_ATTR_RESERVATION_TOKEN, token, 8);
	if (x & X_RAF4)
		stun_build_u32(&b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY,
		               0x01000000);
	if (x & X_RAF6)
		stun_build_u32(&b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY,
		               0x02000000);
	if (x & X_AAF6)
		stun_build_u32(&b, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY,
		               0x02000000);
	if (x & X_AAF4)
		stun_build_u32(&b, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY,
		               0x01000000);
	if (x & X_RAF3)
		stun_build_u32(&b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY,
		               0x03000000);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

/* ---- EVEN-PORT and RESERVATION-TOKEN ----------------------------------------
 */

START_TEST(test_turn_alloc_even_port)
{
	struct h *h = h_default();

	for (int i = 0; i < 3; i++) {
		struct turn_tuple t = h_tuple("192.0.2.20", (uint16_t)(i + 1));
		ck_assert_int_eq(allocate_x(h, &t, X_EVEN, NULL), 0);
		ck_assert_uint_eq(h_relay_port(h) % 2, 0);
		ck_assert_ptr_null(
		        stun_msg_find(&h->resp, STUN_ATTR_RESERVATION_TOKEN));
	}
	h_free(h);
}
END_TEST

START_TEST(test_turn_alloc_reservation_token)
{
	struct h *h = h_default();
	uint8_t token[8];
	const struct stun_attr *at;

	ck_assert_int_eq(allocate_x(h, &A, X_EVEN_R, NULL), 0);
	uint16_t port = h_relay_port(h);
	ck_assert_uint_eq(port % 2, 0);
	at = stun_msg_find(&h->resp, STUN_ATTR_RESERVATION_TOKEN);
	ck_assert_ptr_nonnull(at);
	ck_assert_uint_eq(at->len, 8);
	memcpy(token, at->value, 8);
	/* the token with EVEN-PORT or REQUESTED-ADDRESS-FAMILY: 400 */
	ck_assert_int_eq(allocate_x(h, &B, X_TOKEN | X_EVEN, token), 400);
	ck_assert_int_eq(allocate_x(h, &B, X_TOKEN | X_RAF4, token), 400);
	/* the reserved port goes to the second Allocate */
	ck_assert_int_eq(allocate_x(h, &B, X_TOKEN, token), 0);
	ck_assert_uint_eq(h_relay_port(h), port + 1);
	ck_assert_uint_eq(ntohs(h->bind.in4.sin_port), port + 1);
	/* used once only */
	struct turn_tuple t = h_tuple("192.0.2.30", 1);
	ck_assert_int_eq(allocate_x(h, &t, X_TOKEN, token), 508);
	h_free(h);
}
END_TEST

START_TEST(test_turn_alloc_reservation_expires)
{
	struct h *h = h_default();
	uint8_t token[8], bogus[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	ck_assert_int_eq(allocate_x(h, &A, X_EVEN_R, NULL), 0);
	memcpy(token,
	       stun_msg_find(&h->resp, STUN_ATTR_RESERVATION_TOKEN)->value, 8);
	ck_assert_int_eq(allocate_x(h, &B, X_TOKEN, bogus), 508);
	h_at(h, 30000);
	ck_assert_int_eq(allocate_x(h, &B, X_TOKEN, token), 508);
	h_free(h);
}
END_TEST

START_TEST(test_turn_alloc_reservation_released_on_free)
{
	struct h *h = h_default();
	unsigned n = 0;

	ck_assert_int_eq(allocate_x(h, &A, X_EVEN_R, NULL), 0);
	h_at(h, 30000); /* reservation ends: port + 1 is free again */
	for (unsigned i = 0; i < 20; i++) {
		struct turn_tuple t = h_tuple("192.0.2.40", (uint16_t)(i + 1));
		if (allocate_x(h, &t, 0, NULL) == 0)
			n++;
	}
	ck_assert_uint_eq(n, H_MAX_PORT - H_MIN_PORT); /* all but A's */
	h_free(h);
}
END_TEST

/* ---- address families
 * --------------------------------------------------------- */

static int relay_family(struct h *h, int nth)
{
	for (size_t i = 0, k = 0; i < h->resp.nattrs; i++) {
		const struct stun_attr *at = &h->resp.attrs[i];
		if (at->type != STUN_ATTR_XOR_RELAYED_ADDRESS)
			continue;
		if ((int)k++ == nth) {
			struct sockaddr_storage ss;
			ck_assert_int_eq(
			        stun_attr_get_xor_addr(at, &h->resp, &ss), 0);
			return ss.ss_family;
		}
	}
	return 0;
}

START_TEST(test_turn_alloc_requested_family)
{
	struct h *h = h_new();

	h_add_v6(&h->cfg);
	h_start(h, 0, 0);
	ck_assert_int_eq(allocate_x(h, &A, X_RAF6, NULL), 0);
	ck_assert_int_eq(relay_family(h, 0), AF_INET6);
	ck_assert_int_eq(relay_family(h, 1), 0);
	ck_assert_int_eq(h->bind.sa.sa_family, AF_INET6);
	ck_assert_int_eq(h_permit(h, &A, "198.51.100.7"), 443);
	ck_assert_int_eq(h_permit(h, &A, "2001:db8::7"), 0);
	ck_assert_int_eq(allocate_x(h, &B, X_RAF4, NULL), 0);
	ck_assert_int_eq(relay_family(h, 0), AF_INET);
	h_free(h);
}
END_TEST

START_TEST(test_turn_alloc_dual_stack)
{
	struct h *h = h_new();
	struct turn_alloc *a;
	uint8_t payload[3] = {1, 2, 3};

	h_add_v6(&h->cfg);
	h_start(h, 0, 0);
	ck_assert_int_eq(allocate_x(h, &A, X_AAF6, NULL), 0);
	a = h->alloc;
	ck_assert_uint_eq(h->opens, 2);
	ck_assert_int_eq(relay_family(h, 0), AF_INET);
	ck_assert_int_eq(relay_family(h, 1), AF_INET6);
	ck_assert_ptr_null(
	        stun_msg_find(&h->resp, STUN_ATTR_ADDRESS_ERROR_CODE));
	/* both families: permissions, and data out of the right socket */
	ck_assert_int_eq(h_permit(h, &A, "198.51.100.7"), 0);
	ck_assert_int_eq(h_permit(h, &A, "2001:db8::7"), 0);
	h_peer(h, a, "2001:db8::7", 9000, payload, 3);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 1);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, "2001:db8::7", 9000), 0);
	uint8_t buf[8] = {0x40, 0, 0, 3, 1, 2, 3, 0};
	h_input(h, &A, buf, 7);
	const struct h_sent *e = h_last(h, TURN_ACT_SEND_PEER);
	ck_assert_ptr_nonnull(e);
	ck_assert_ptr_eq(e->relay, (void *)(h->next_handle - 1));
	ck_assert_int_eq(e->peer.sa.sa_family, AF_INET6);
	/* Refresh 0 closes both sockets */
	ck_assert_int_eq(h_refresh(h, &A, 0), 0);
	ck_assert_uint_eq(h->closes, 2);
	h_free(h);
}
END_TEST

START_TEST(test_turn_alloc_dual_stack_no_v6)
{
	struct h *h = h_default();
	const struct stun_attr *at;

	ck_assert_int_eq(allocate_x(h, &A, X_AAF6, NULL), 0);
	ck_assert_uint_eq(h->opens, 1);
	ck_assert_int_eq(relay_family(h, 0), AF_INET);
	ck_assert_int_eq(relay_family(h, 1), 0);
	at = stun_msg_find(&h->resp, STUN_ATTR_ADDRESS_ERROR_CODE);
	ck_assert_ptr_nonnull(at);
	ck_assert_uint_ge(at->len, 4);
	ck_assert_uint_eq(at->value[0], STUN_FAMILY_IPV6);
	ck_assert_uint_eq((at->value[2] & 7) * 100 + at->value[3], 440);
	h_free(h);
}
END_TEST

START_TEST(test_turn_alloc_family_errors)
{
	struct h *h = h_new();
	uint8_t token[8] = {0};

	h_add_v6(&h->cfg);
	h_start(h, 0, 0);
	ck_assert_int_eq(allocate_x(h, &A, X_AAF6 | X_RAF4, NULL), 400);
	/* RFC 8656 s7.2: an IPv4 ADDITIONAL-ADDRESS-FAMILY is 400. */
	ck_assert_int_eq(allocate_x(h, &A, X_AAF4, NULL), 400);
	ck_assert_int_eq(allocate_x(h, &A, X_RAF3, NULL), 440);
	ck_assert_int_eq(allocate_x(h, &A, X_AAF6 | X_TOKEN, token), 400);
	ck_assert_uint_eq(h->opens, 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_alloc_dual_stack_v6_bind_fails)
{
	struct h *h = h_new();
	const struct stun_attr *at;

	h_add_v6(&h->cfg);
	h_start(h, 0, 0);
	h->relay_errs[0] = 0;
	h->relay_errs[1] = EMFILE;
	h->nrelay_errs = 2;
	ck_assert_int_eq(allocate_x(h, &A, X_AAF6, NULL), 0);
	ck_assert_int_eq(relay_family(h, 0), AF_INET);
	ck_assert_int_eq(relay_family(h, 1), 0);
	at = stun_msg_find(&h->resp, STUN_ATTR_ADDRESS_ERROR_CODE);
	ck_assert_ptr_nonnull(at);
	ck_assert_int_eq(h_permit(h, &A, "2001:db8::7"), 443);
	h_free(h);
}
END_TEST

static Suite *turn_alloc_suite(void)
{
	Suite *s = suite_create("turn_alloc");
	TCase *tc = tcase_create("even_port");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_alloc_even_port);
	tcase_add_test(tc, test_turn_alloc_reservation_token);
	tcase_add_test(tc, test_turn_alloc_reservation_expires);
	tcase_add_test(tc, test_turn_alloc_reservation_released_on_free);
	suite_add_tcase(s, tc);

	tc = tcase_create("family");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_alloc_requested_family);
	tcase_add_test(tc, test_turn_alloc_dual_stack);
	tcase_add_test(tc, test_turn_alloc_dual_stack_no_v6);
	tcase_add_test(tc, test_turn_alloc_family_errors);
	tcase_add_test(tc, test_turn_alloc_dual_stack_v6_bind_fails);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_alloc_suite)
