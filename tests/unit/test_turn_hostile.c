/*
 * tests/unit/test_turn_hostile.c - hostile input to the TURN core, as a
 * table {name, how to build it, expected answer}: bad integrity, truncated
 * and oversized messages and attributes, wrong channel numbers, stray
 * classes and methods. Each row runs on a fresh server with an allocation
 * on the sender's tuple; -1 means "no answer at all". Every row must leave
 * nothing relayed, and an answer to an unauthenticated sender stays within
 * 4x the request.
 */
#include "tests/unit/turn_harness.h"

static struct turn_tuple A;

static size_t finish(struct h *h, struct stun_builder *b)
{
	size_t n = stun_build_finish(b);
	ck_assert_uint_gt(n, 0);
	return n;
}

static size_t refresh_signed(struct h *h)
{
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_REFRESH, STUN_CLASS_REQUEST);
	h_sign(h, &b);
	return finish(h, &b);
}

static size_t r_bad_integrity(struct h *h)
{
	h->pass = "not-the-password";
	return refresh_signed(h);
}

static size_t r_wrong_realm(struct h *h)
{
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_REFRESH, STUN_CLASS_REQUEST);
	stun_build_attr(&b, STUN_ATTR_USERNAME, H_USER, strlen(H_USER));
	stun_build_attr(&b, STUN_ATTR_REALM, "other", 5);
	stun_build_attr(&b, STUN_ATTR_NONCE, h->nonce, strlen(h->nonce));
	stun_build_integrity(&b, h->key, 16);
	return finish(h, &b);
}

static size_t r_no_username(struct h *h)
{
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_REFRESH, STUN_CLASS_REQUEST);
	stun_build_attr(&b, STUN_ATTR_REALM, H_REALM, strlen(H_REALM));
	stun_build_attr(&b, STUN_ATTR_NONCE, h->nonce, strlen(h->nonce));
	stun_build_integrity(&b, h->key, 16);
	return finish(h, &b);
}

static size_t r_garbage_nonce(struct h *h)
{
	memcpy(h->nonce, "obMatJos2AAAAAAAAAAAAAAAAAAAAAAA", 33);
	return refresh_signed(h);
}

static size_t r_truncated(struct h *h)
{
	return refresh_signed(h) - 8;
}

static size_t r_length_too_big(struct h *h)
{
	size_t n = refresh_signed(h);
	h->req[3] += 8;
	return n;
}

static size_t r_attr_past_end(struct h *h)
{
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_REFRESH, STUN_CLASS_REQUEST);
	stun_build_u32(&b, STUN_ATTR_LIFETIME, 600);
	size_t n = finish(h, &b);
	h->req[22] = 0x01; /* LIFETIME length 256 */
	return n;
}

static size_t r_oversized_username(struct h *h)
{
	static char user[700];
	memset(user, 'u', sizeof(user) - 1);
	h->user = user;
	return refresh_signed(h);
}

static size_t r_transport_len1(struct h *h)
{
	struct stun_builder b;
	uint8_t v = 17;
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	stun_build_attr(&b, STUN_ATTR_REQUESTED_TRANSPORT, &v, 1);
	h_sign(h, &b);
	return finish(h, &b);
}

static size_t bind_channel(struct h *h, uint32_t value, const char *peer)
{
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_CHANNEL_BIND, STUN_CLASS_REQUEST);
	stun_build_u32(&b, STUN_ATTR_CHANNEL_NUMBER, value);
	h_peer_attr(&b, peer, 5000);
	h_sign(h, &b);
	return finish(h, &b);
}

static size_t r_channel_3fff(struct h *h)
{
	return bind_channel(h, 0x3FFF0000, "198.51.100.7");
}

static size_t r_channel_ffff(struct h *h)
{
	return bind_channel(h, 0xFFFF0000, "198.51.100.7");
}

static size_t r_channel_peer_zero(struct h *h)
{
	return bind_channel(h, 0x40000000, "0.0.0.0");
}

static size_t r_chandata_unbound(struct h *h)
{
	memcpy(h->req, "\x40\x01\x00\x04xxxx", 8);
	return 8;
}

static size_t r_chandata_long(struct h *h)
{
	memcpy(h->req, "\x40\x01\x00\x40xxxx", 8);
	return 8;
}

static size_t r_chandata_3fff(struct h *h)
{
	memcpy(h->req, "\x3f\xff\x00\x04xxxx", 8);
	return 8;
}

static size_t r_success_class(struct h *h)
{
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_SUCCESS);
	return finish(h, &b);
}

static size_t r_unknown_attr(struct h *h)
{
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_REFRESH, STUN_CLASS_REQUEST);
	stun_build_u32(&b, 0x0042, 1);
	h_sign(h, &b);
	return finish(h, &b);
}

static size_t r_unknown_method(struct h *h)
{
	struct stun_builder b;
	h_begin(h, &b, 0x0FF, STUN_CLASS_REQUEST);
	return finish(h, &b);
}

static size_t r_send_no_data(struct h *h)
{
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_SEND, STUN_CLASS_INDICATION);
	h_peer_attr(&b, "198.51.100.7", 5000);
	return finish(h, &b);
}

static size_t r_rfc3489_allocate(struct h *h)
{
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_UDP);
	size_t n = finish(h, &b);
	memset(h->req + 4, 0x11, 4); /* no magic cookie */
	return n;
}

static size_t r_second_allocate(struct h *h)
{
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_UDP);
	h_sign(h, &b);
	return finish(h, &b);
}

static size_t r_empty(struct h *h)
{
	(void)h;
	return 0;
}

static size_t r_garbage(struct h *h)
{
	memset(h->req, 0xFF, 64);
	return 64;
}

static size_t r_short_stun(struct h *h)
{
	memset(h->req, 0, 12);
	return 12;
}

static const struct row {
	const char *name;
	size_t (*make)(struct h *h);
	int expect;  /* STUN error code, 0 success, -1 no answer */
	bool authed; /* the answer is signed */
} rows[] = {
        {"bad integrity", r_bad_integrity, 401, false},
        {"wrong realm", r_wrong_realm, 401, false},
        {"no USERNAME", r_no_username, 400, false},
        {"forged nonce", r_garbage_nonce, 438, false},
        {"truncated", r_truncated, -1, false},
        {"length field too big", r_length_too_big, -1, false},
        {"attribute past the end", r_attr_past_end, -1, false},
        {"oversized USERNAME", r_oversized_username, -1, false},
        {"REQUESTED-TRANSPORT of 1 byte", r_transport_len1, -1, false},
        {"CHANNEL-NUMBER 0x3FFF", r_channel_3fff, 400, true},
        {"CHANNEL-NUMBER 0xFFFF", r_channel_ffff, 400, true},
        {"ChannelBind to 0.0.0.0", r_channel_peer_zero, 403, true},
        {"ChannelData on an unbound channel", r_chandata_unbound, -1, false},
        {"ChannelData longer than the datagram", r_chandata_long, -1, false},
        {"ChannelData channel 0x3FFF", r_chandata_3fff, -1, false},
        {"success response from a client", r_success_class, -1, false},
        {"unknown comprehension-required attribute", r_unknown_attr, 420, true},
        {"unknown method", r_unknown_method, 400, false},
        {"Send indication without DATA", r_send_no_data, -1, false},
        {"RFC 3489 Allocate", r_rfc3489_allocate, -1, false},
        {"second Allocate on the tuple", r_second_allocate, 437, true},
        {"empty datagram", r_empty, -1, false},
        {"0xFF bytes", r_garbage, -1, false},
        {"12 zero bytes", r_short_stun, -1, false},
};
#define NROWS (int)(sizeof(rows) / sizeof(rows[0]))

START_TEST(test_turn_hostile_table)
{
	const struct row *row = &rows[_i];
	struct h *h = h_default();
	uint16_t code;

	A = h_tuple("192.0.2.10", 40000);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	unsigned opens = h->opens;
	size_t n = row->make(h);
	h_input(h, &A, h->req, n);
	ck_assert_msg(h_count(h, TURN_ACT_SEND_PEER) == 0, "%s", row->name);
	ck_assert_uint_eq(h->opens, opens);
	const struct h_sent *e = h_last(h, TURN_ACT_SEND_CLIENT);
	if (row->expect < 0) {
		ck_assert_msg(e == NULL, "%s: answered", row->name);
		h_free(h);
		return;
	}
	ck_assert_msg(e != NULL, "%s: no answer", row->name);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 1);
	memcpy(h->resp_buf, e->data, e->len);
	ck_assert_int_eq(stun_msg_parse(&h->resp, h->resp_buf, e->len, NULL),
	                 0);
	ck_assert_int_eq(stun_msg_get_error(&h->resp, &code, NULL, NULL), 0);
	ck_assert_msg(code == row->expect, "%s: %u, want %d", row->name, code,
	              row->expect);
	ck_assert_msg((h->resp.mi_off != 0) == row->authed, "%s: signed",
	              row->name);
	if (!row->authed)
		ck_assert_msg(e->len <= 4 * n, "%s: %zu bytes for %zu",
		              row->name, e->len, n);
	if (code == 420)
		ck_assert_ptr_nonnull(
		        stun_msg_find(&h->resp, STUN_ATTR_UNKNOWN_ATTRIBUTES));
	h_free(h);
}
END_TEST

/* Random bytes never crash nor get relayed (a poor man's fuzz pass with a
 * fixed seed; the libFuzzer target does this properly). */
START_TEST(test_turn_hostile_random)
{
	struct h *h = h_default();
	uint32_t x = 12345;
	uint8_t buf[256];

	A = h_tuple("192.0.2.10", 40000);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, "198.51.100.7", 5000), 0);
	for (int i = 0; i < 20000; i++) {
		size_t len = 0;
		x = x * 1103515245 + 12345;
		len = (x >> 16) % sizeof(buf);
		for (size_t k = 0; k < len; k++) {
			x = x * 1103515245 + 12345;
			buf[k] = (uint8_t)(x >> 16);
		}
		if (len > 0 && (i & 3) == 0)
			buf[0] = (uint8_t)(buf[0] & 0x03); /* STUN-ish */
		h_input(h, &A, buf, len);
	}
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 1);
	h_free(h);
}
END_TEST

static Suite *turn_hostile_suite(void)
{
	Suite *s = suite_create("turn_hostile");
	TCase *tc = tcase_create("table");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_hostile_table, 0, NROWS);
	tcase_add_test(tc, test_turn_hostile_random);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_hostile_suite)
