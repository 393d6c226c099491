/*
 * tests/unit/test_stun_parse.c - what stun_msg_parse() keeps and ignores
 * on well-formed input: duplicates (first wins), attributes after
 * MESSAGE-INTEGRITY(-SHA256) (RFC 8489 s14.5/14.6), unknown
 * comprehension-required attributes, RFC 3489 messages, the attribute
 * limit, and truncated MESSAGE-INTEGRITY-SHA256 values.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "stun/stun.h"
#include "tests/unit/check_main.h"

static const uint8_t tid[STUN_TID_LEN] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};
static const uint8_t key[] = "0123456789abcdef";

static struct stun_builder start(uint8_t *buf, size_t cap)
{
	struct stun_builder b;

	stun_build_init(&b, buf, cap, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST,
	                tid);
	return b;
}

static void parse_ok(struct stun_msg *m, struct stun_builder *b)
{
	size_t len = stun_build_finish(b);

	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(stun_msg_parse(m, b->buf, len, NULL), 0);
}

START_TEST(test_stun_parse_duplicates_first_wins)
{
	uint8_t buf[128];
	struct stun_builder b = start(buf, sizeof(buf));
	struct stun_msg m;
	uint32_t v = 0;

	stun_build_u32(&b, STUN_ATTR_LIFETIME, 600);
	stun_build_u32(&b, STUN_ATTR_LIFETIME, 0);
	parse_ok(&m, &b);
	ck_assert_uint_eq(m.nattrs, 2);
	ck_assert_int_eq(stun_msg_get_u32(&m, STUN_ATTR_LIFETIME, &v), 0);
	ck_assert_uint_eq(v, 600);
}
END_TEST

START_TEST(test_stun_parse_ignores_after_integrity)
{
	uint8_t buf[256];
	struct stun_builder b = start(buf, sizeof(buf));
	struct stun_msg m;

	stun_build_attr(&b, STUN_ATTR_USERNAME, "u", 1);
	stun_build_integrity(&b, key, sizeof(key));
	stun_build_attr(&b, STUN_ATTR_REALM, "r", 1); /* ignored */
	stun_build_attr(&b, 0x0077, "x", 1);          /* ignored, not 420 */
	stun_build_integrity_sha256(&b, key, sizeof(key));
	stun_build_integrity(&b, key, sizeof(key));   /* ignored */
	stun_build_attr(&b, STUN_ATTR_NONCE, "n", 1); /* ignored */
	stun_build_fingerprint(&b);
	parse_ok(&m, &b);
	ck_assert_uint_eq(m.nattrs, 4);
	ck_assert_uint_eq(m.attrs[0].type, STUN_ATTR_USERNAME);
	ck_assert_uint_eq(m.attrs[1].type, STUN_ATTR_MESSAGE_INTEGRITY);
	ck_assert_uint_eq(m.attrs[2].type, STUN_ATTR_MESSAGE_INTEGRITY_SHA256);
	ck_assert_uint_eq(m.attrs[3].type, STUN_ATTR_FINGERPRINT);
	ck_assert_ptr_null(stun_msg_find(&m, STUN_ATTR_REALM));
	ck_assert_uint_eq(m.nunknown, 0);
	ck_assert_uint_eq(m.mi_off, 28);
	/* each covers the message before it, length ending at itself */
	ck_assert_int_eq(stun_check_integrity(&m, key, sizeof(key)), 0);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, sizeof(key)), 0);
	ck_assert_int_eq(stun_check_fingerprint(&m), 0);
	ck_assert_int_eq(stun_check_integrity(&m, key + 1, sizeof(key) - 1),
	                 EACCES);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, 3), EACCES);
}
END_TEST

START_TEST(test_stun_parse_mi_after_mi256_is_ignored)
{
	uint8_t buf[256];
	struct stun_builder b = start(buf, sizeof(buf));
	struct stun_msg m;

	stun_build_integrity_sha256(&b, key, sizeof(key));
	stun_build_integrity(&b, key, sizeof(key));
	parse_ok(&m, &b);
	ck_assert_uint_eq(m.nattrs, 1);
	ck_assert_uint_eq(m.mi_off, 0);
	ck_assert_int_eq(stun_check_integrity(&m, key, sizeof(key)), ENOENT);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, sizeof(key)), 0);
}
END_TEST

START_TEST(test_stun_parse_records_unknown_required)
{
	uint8_t buf[512];
	struct stun_builder b = start(buf, sizeof(buf));
	struct stun_msg m;

	stun_build_attr(&b, 0x0030, "a", 1);
	stun_build_attr(&b, 0xC001, "b", 1); /* optional: not recorded */
	stun_build_attr(&b, 0x0030, "c", 1); /* recorded once */
	for (uint16_t t = 0x7F00; t < 0x7F0A; t++)
		stun_build_attr(&b, t, NULL, 0);
	parse_ok(&m, &b);
	ck_assert_uint_eq(m.nattrs, 13);
	ck_assert_uint_eq(m.nunknown, 8); /* capped */
	ck_assert_uint_eq(m.unknown[0], 0x0030);
	ck_assert_uint_eq(m.unknown[1], 0x7F00);
	ck_assert_uint_eq(m.unknown[7], 0x7F06);
}
END_TEST

START_TEST(test_stun_parse_rfc3489_without_cookie)
{
	uint8_t buf[64];
	struct stun_builder b = start(buf, sizeof(buf));
	struct stun_msg m;

	stun_build_attr(&b, STUN_ATTR_USERNAME, "old", 3);
	size_t len = stun_build_finish(&b);
	memcpy(buf + 4, "\x01\x02\x03\x04", 4);
	ck_assert_int_eq(stun_msg_parse(&m, buf, len, NULL), 0);
	ck_assert(m.rfc3489);
	ck_assert_ptr_eq(m.tid, buf + 4);
	ck_assert_uint_eq(m.method, STUN_METHOD_ALLOCATE);
	ck_assert_ptr_nonnull(stun_msg_find(&m, STUN_ATTR_USERNAME));

	memcpy(buf + 4, "\x21\x12\xa4\x42", 4); /* cookie back */
	ck_assert_int_eq(stun_msg_parse(&m, buf, len, NULL), 0);
	ck_assert(!m.rfc3489);
	ck_assert_ptr_eq(m.tid, buf + 8);
}
END_TEST

START_TEST(test_stun_parse_attribute_limit)
{
	uint8_t buf[STUN_HEADER_LEN + 4 * (STUN_MAX_ATTRS + 1)];
	struct stun_builder b = start(buf, sizeof(buf));
	struct stun_msg m;
	enum stun_reason why = STUN_OK;

	for (int i = 0; i < STUN_MAX_ATTRS; i++)
		stun_build_attr(&b, STUN_ATTR_SOFTWARE, NULL, 0);
	parse_ok(&m, &b);
	ck_assert_uint_eq(m.nattrs, STUN_MAX_ATTRS);
	stun_build_attr(&b, STUN_ATTR_SOFTWARE, NULL, 0);
	size_t len = stun_build_finish(&b);
	ck_assert_int_eq(stun_msg_parse(&m, buf, len, &why), EBADMSG);
	ck_assert_int_eq(why, STUN_ERR_TOO_MANY_ATTRS);
	ck_assert_uint_eq(m.nattrs, 0);
}
END_TEST

/* A sender may truncate MESSAGE-INTEGRITY-SHA256 to 16..28 bytes; the HMAC
 * is then over a header whose length counts the truncated attribute. */
static size_t build_truncated(uint8_t *buf, size_t cap, size_t n)
{
	struct stun_builder b = start(buf, cap);
	uint8_t zero[32] = {0}, mac[32];
	unsigned int mac_len = 0;

	stun_build_attr(&b, STUN_ATTR_USERNAME, "user", 4);
	stun_build_attr(&b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, zero, n);
	size_t len = stun_build_finish(&b);
	ck_assert_uint_eq(len, 28 + 4 + n);
	HMAC(EVP_sha256(), key, sizeof(key), buf, 28, mac, &mac_len);
	memcpy(buf + 32, mac, n);
	return len;
}

START_TEST(test_stun_parse_truncated_mi256)
{
	uint8_t buf[128];
	struct stun_msg m;
	size_t n = 16 + 4 * (size_t)_i; /* 16, 20, 24, 28, 32 */
	size_t len = build_truncated(buf, sizeof(buf), n);

	ck_assert_int_eq(stun_msg_parse(&m, buf, len, NULL), 0);
	ck_assert_uint_eq(
	        stun_msg_find(&m, STUN_ATTR_MESSAGE_INTEGRITY_SHA256)->len, n);
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, sizeof(key)), 0);
	buf[len - 1] ^= 1;
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, sizeof(key)),
	                 EACCES);
	buf[len - 1] ^= 1;
	buf[24] ^= 1; /* a covered byte */
	ck_assert_int_eq(stun_check_integrity_sha256(&m, key, sizeof(key)),
	                 EACCES);
}
END_TEST

static Suite *stun_parse_suite(void)
{
	Suite *s = suite_create("stun_parse");
	TCase *tc = tcase_create("keep_and_ignore");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_stun_parse_duplicates_first_wins);
	tcase_add_test(tc, test_stun_parse_ignores_after_integrity);
	tcase_add_test(tc, test_stun_parse_mi_after_mi256_is_ignored);
	tcase_add_test(tc, test_stun_parse_records_unknown_required);
	tcase_add_test(tc, test_stun_parse_rfc3489_without_cookie);
	tcase_add_test(tc, test_stun_parse_attribute_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("integrity");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_stun_parse_truncated_mi256, 0, 5);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stun_parse_suite)
