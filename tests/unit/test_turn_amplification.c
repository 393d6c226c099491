/*
 * tests/unit/test_turn_amplification.c - every answer to an
 * unauthenticated sender (before the request's MESSAGE-INTEGRITY
 * verified) is at most TURN_AMPLIFICATION_MAX (4) times the request, has
 * no reason phrase, no SOFTWARE and no MESSAGE-INTEGRITY (RFC 8489 s6.3.4
 * and s9.2.4, RFC 8656 s7.2, RFC 5389 s12 on amplification). A table over
 * request kinds and sizes, Binding and TURN, with and without an
 * allocation on the sender's tuple, and realms around the size where a
 * 401 stops fitting a 28-byte Allocate. The answer sizes are pinned so a
 * change shows up here.
 */
#include "tests/unit/turn_harness.h"

/* What goes into the request, in this order. */
enum {
	X_RT = 1 << 0,       /* REQUESTED-TRANSPORT UDP (8 bytes) */
	X_LIFETIME = 1 << 1, /* LIFETIME (8) */
	X_PEER = 1 << 2,     /* XOR-PEER-ADDRESS IPv4 (12) */
	X_CHANNEL = 1 << 3,  /* CHANNEL-NUMBER 0x4000 (8) */
	X_UNKNOWN = 1 << 4,  /* 0x0030: comprehension-required, unknown (4) */
	X_CHANGE = 1 << 5,   /* CHANGE-REQUEST change IP and port (8) */
	X_BAD_MI = 1 << 6,   /* USERNAME ... MESSAGE-INTEGRITY, wrong key */
	X_FP = 1 << 7,       /* FINGERPRINT (8) */
	X_NO_COOKIE = 1 << 8 /* an RFC 3489 message */
};

/* 32 and 33 bytes: the last realm whose 401 fits 4 x 28, and the first
 * that does not. */
#define REALM32 "conferencing.edge.example.org.xy"
#define REALM33 "conferencing.edge.example.org.xyz"

static const struct row {
	const char *name;
	uint16_t method;
	uint8_t cls;
	unsigned x;
	bool alloc;        /* an allocation on the sender's tuple first */
	const char *realm; /* the tuple's realm; NULL: H_REALM */
	bool v6;           /* an IPv6 sender */
	size_t req_len;    /* pinned */
	int code;          /* -1 no answer, 0 success, else the error */
	size_t answer_len; /* pinned */
} rows[] = {
        {"Binding", STUN_METHOD_BINDING, STUN_CLASS_REQUEST, 0, false, NULL,
         false, 20, 0, 32},
        {"Binding from IPv6", STUN_METHOD_BINDING, STUN_CLASS_REQUEST, 0, false,
         NULL, true, 20, 0, 44},
        {"Binding with FINGERPRINT", STUN_METHOD_BINDING, STUN_CLASS_REQUEST,
         X_FP, false, NULL, false, 28, 0, 40},
        {"RFC 3489 Binding", STUN_METHOD_BINDING, STUN_CLASS_REQUEST,
         X_NO_COOKIE, false, NULL, false, 20, 0, 32},
        {"Binding with an unknown attribute", STUN_METHOD_BINDING,
         STUN_CLASS_REQUEST, X_UNKNOWN, false, NULL, false, 24, 420, 36},
        {"Binding with CHANGE-REQUEST", STUN_METHOD_BINDING, STUN_CLASS_REQUEST,
         X_CHANGE, false, NULL, false, 28, 420, 36},
        {"Binding indication", STUN_METHOD_BINDING, STUN_CLASS_INDICATION, 0,
         false, NULL, false, 20, -1, 0},
        {"bare Allocate", STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, 0, false,
         NULL, false, 20, 400, 28},
        {"bare Allocate with FINGERPRINT", STUN_METHOD_ALLOCATE,
         STUN_CLASS_REQUEST, X_FP, false, NULL, false, 28, 401, 100},
        {"Allocate", STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST, X_RT, false,
         NULL, false, 28, 401, 92},
        {"Allocate with FINGERPRINT", STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST,
         X_RT | X_FP, false, NULL, false, 36, 401, 100},
        {"Allocate, realm of 32 bytes", STUN_METHOD_ALLOCATE,
         STUN_CLASS_REQUEST, X_RT, false, REALM32, false, 28, 401, 112},
        {"Allocate, realm of 33 bytes", STUN_METHOD_ALLOCATE,
         STUN_CLASS_REQUEST, X_RT, false, REALM33, false, 28, 400, 28},
        {"Allocate with LIFETIME, realm of 33 bytes", STUN_METHOD_ALLOCATE,
         STUN_CLASS_REQUEST, X_RT | X_LIFETIME, false, REALM33, false, 36, 401,
         116},
        {"Allocate with an unknown attribute", STUN_METHOD_ALLOCATE,
         STUN_CLASS_REQUEST, X_RT | X_UNKNOWN, false, NULL, false, 32, 401, 92},
        {"Refresh, no allocation", STUN_METHOD_REFRESH, STUN_CLASS_REQUEST, 0,
         false, NULL, false, 20, 437, 28},
        {"CreatePermission, no allocation", STUN_METHOD_CREATE_PERMISSION,
         STUN_CLASS_REQUEST, 0, false, NULL, false, 20, 437, 28},
        {"ChannelBind, no allocation", STUN_METHOD_CHANNEL_BIND,
         STUN_CLASS_REQUEST, 0, false, NULL, false, 20, 437, 28},
        {"Connect, no allocation", STUN_METHOD_CONNECT, STUN_CLASS_REQUEST, 0,
         false, NULL, false, 20, 437, 28},
        {"ConnectionBind over UDP", STUN_METHOD_CONNECTION_BIND,
         STUN_CLASS_REQUEST, 0, false, NULL, false, 20, 400, 28},
        {"unknown method", 0x005, STUN_CLASS_REQUEST, 0, false, NULL, false, 20,
         400, 28},
        {"unknown method with FINGERPRINT", 0x005, STUN_CLASS_REQUEST, X_FP,
         false, NULL, false, 28, 400, 36},
        {"bare Refresh on an allocation", STUN_METHOD_REFRESH,
         STUN_CLASS_REQUEST, 0, true, NULL, false, 20, 400, 28},
        {"Refresh with LIFETIME on an allocation", STUN_METHOD_REFRESH,
         STUN_CLASS_REQUEST, X_LIFETIME, true, NULL, false, 28, 401, 92},
        {"CreatePermission on an allocation", STUN_METHOD_CREATE_PERMISSION,
         STUN_CLASS_REQUEST, X_PEER, true, NULL, false, 32, 401, 92},
        {"ChannelBind on an allocation", STUN_METHOD_CHANNEL_BIND,
         STUN_CLASS_REQUEST, X_CHANNEL | X_PEER, true, NULL, false, 40, 401,
         92},
        {"Refresh with a wrong key", STUN_METHOD_REFRESH, STUN_CLASS_REQUEST,
         X_BAD_MI, true, NULL, false, 108, 401, 92},
        {"Send indication, no permission", STUN_METHOD_SEND,
         STUN_CLASS_INDICATION, X_PEER, true, NULL, false, 32, -1, 0},
};
#define NROWS (int)(sizeof(rows) / sizeof(rows[0]))

static size_t build(struct h *h, const struct row *row)
{
	struct stun_builder b;
	const char *pass = h->pass;

	h_begin(h, &b, row->method, row->cls);
	if (row->x & X_RT)
		h_transport(&b, STUN_TRANSPORT_UDP);
	if (row->x & X_LIFETIME)
		stun_build_u32(&b, STUN_ATTR_LIFETIME, 600);
	if (row->x & X_CHANNEL)
		stun_build_u32(&b, STUN_ATTR_CHANNEL_NUMBER, 0x4000u << 16);
	if (row->x & X_PEER)
		h_peer_attr(&b, "198.51.100.7", 5000);
	if (row->x & X_UNKNOWN)
		stun_build_attr(&b, 0x0030, NULL, 0);
	if (row->x & X_CHANGE)
		stun_build_u32(&b, STUN_ATTR_CHANGE_REQUEST, 0x6);
	if (row->x & X_BAD_MI) {
		h->pass = "not-the-password";
		h_sign(h, &b);
		h->pass = pass;
	}
	if (row->x & X_FP)
		stun_build_fingerprint(&b);
	size_t n = stun_build_finish(&b);
	ck_assert_uint_gt(n, 0);
	if (row->x & X_NO_COOKIE)
		memcpy(h->req + 4, "\x01\x02\x03\x04", 4);
	return n;
}

/* Checks one answer; returns its code (0 success). */
static int check_answer(const struct row *row, const struct h_sent *e, size_t n)
{
	struct stun_msg m;
	uint8_t buf[2100];
	uint16_t code;
	const char *reason;
	size_t reason_len;

	memcpy(buf, e->data, e->len);
	ck_assert_msg(stun_msg_parse(&m, buf, e->len, NULL) == 0, "%s",
	              row->name);
	ck_assert_msg(e->len <= TURN_AMPLIFICATION_MAX * n,
	              "%s: %zu bytes for %zu", row->name, e->len, n);
	ck_assert_msg(e->len == row->answer_len, "%s: %zu bytes, pinned %zu",
	              row->name, e->len, row->answer_len);
	ck_assert_msg(!stun_msg_find(&m, STUN_ATTR_SOFTWARE), "%s: SOFTWARE",
	              row->name);
	ck_assert_msg(m.mi_off == 0, "%s: signed", row->name);
	ck_assert_msg((m.fp_off != 0) == ((row->x & X_FP) != 0),
	              "%s: FINGERPRINT", row->name);
	if (m.cls == STUN_CLASS_SUCCESS)
		return 0;
	ck_assert_int_eq(m.cls, STUN_CLASS_ERROR);
	ck_assert_int_eq(stun_msg_get_error(&m, &code, &reason, &reason_len),
	                 0);
	ck_assert_msg(reason_len == 0, "%s: reason phrase", row->name);
	if (code == 401) { /* RFC 8489 s9.2.4: REALM and NONCE */
		const struct stun_attr *realm =
		        stun_msg_find(&m, STUN_ATTR_REALM);
		const char *want = row->realm ? row->realm : H_REALM;
		ck_assert_ptr_nonnull(realm);
		ck_assert_uint_eq(realm->len, strlen(want));
		ck_assert_ptr_nonnull(stun_msg_find(&m, STUN_ATTR_NONCE));
		ck_assert_ptr_nonnull(
		        stun_msg_find(&m, STUN_ATTR_PASSWORD_ALGORITHMS));
	}
	return code;
}

START_TEST(test_rfc8489_unauthenticated_answers_within_4x)
{
	const struct row *row = &rows[_i];
	const char *realms[] = {NULL, row->realm}; /* outlives the server */
	struct h *h = h_new();
	struct turn_tuple t =
	        h_tuple(row->v6 ? "2001:db8::10" : "192.0.2.10", 40000);

	if (row->realm) {
		h->cfg.realms = realms;
		h->cfg.nrealms = 2;
		t.realm = 1;
	}
	h_start(h, 0, 0);
	if (row->alloc)
		ck_assert_int_eq(h_allocate(h, &t), 0);
	size_t n = build(h, row);
	ck_assert_msg(n == row->req_len, "%s: request of %zu bytes", row->name,
	              n);
	h_input(h, &t, h->req, n);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 0);
	ck_assert_uint_le(h_count(h, TURN_ACT_SEND_CLIENT), 1);
	const struct h_sent *e = h_last(h, TURN_ACT_SEND_CLIENT);
	if (row->code < 0) {
		ck_assert_msg(e == NULL, "%s: answered", row->name);
	} else {
		ck_assert_msg(e != NULL, "%s: no answer", row->name);
		int code = check_answer(row, e, n);
		ck_assert_msg(code == row->code, "%s: %d, want %d", row->name,
		              code, row->code);
	}
	h_free(h);
}
END_TEST

/* A challenge that does not fit is a 400, not a 401: not counted as a
 * challenge, and no nonce minted. */
START_TEST(test_rfc8489_too_small_for_a_challenge_is_400)
{
	struct h *h = h_default();
	struct turn_tuple t = h_tuple("192.0.2.10", 40000);
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	ck_assert_uint_eq(h_send(h, &b, &t), 1);
	ck_assert_int_eq(h_code(h), 400);
	ck_assert_ptr_null(stun_msg_find(&h->resp, STUN_ATTR_NONCE));
	ck_assert_uint_eq(turn_server_stats(h->s)->auth_challenges, 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->responses_error[3], 1);
	/* the same client with REQUESTED-TRANSPORT gets its challenge */
	h_challenge(h, &t);
	ck_assert_uint_eq(turn_server_stats(h->s)->auth_challenges, 1);
	ck_assert_int_eq(h_allocate(h, &t), 0);
	h_free(h);
}
END_TEST

/* After the integrity verified, errors keep their reason phrase and
 * SOFTWARE, signed. */
START_TEST(test_rfc8489_authenticated_errors_keep_reason_and_software)
{
	struct h *h = h_default();
	struct turn_tuple t = h_tuple("192.0.2.10", 40000);
	const char *reason;
	size_t reason_len;
	uint16_t code;

	ck_assert_int_eq(h_allocate(h, &t), 0);
	ck_assert_int_eq(h_allocate(h, &t), 437);
	ck_assert_int_eq(
	        stun_msg_get_error(&h->resp, &code, &reason, &reason_len), 0);
	ck_assert_uint_eq(reason_len, strlen("Allocation Mismatch"));
	ck_assert_ptr_nonnull(stun_msg_find(&h->resp, STUN_ATTR_SOFTWARE));
	ck_assert_uint_ne(h->resp.mi_off, 0);
	h_free(h);
}
END_TEST

static Suite *turn_amplification_suite(void)
{
	Suite *s = suite_create("turn_amplification");
	TCase *tc = tcase_create("unauthenticated");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_rfc8489_unauthenticated_answers_within_4x,
	                    0, NROWS);
	tcase_add_test(tc, test_rfc8489_too_small_for_a_challenge_is_400);
	tcase_add_test(
	        tc, test_rfc8489_authenticated_errors_keep_reason_and_software);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_amplification_suite)
