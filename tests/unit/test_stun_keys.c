/*
 * tests/unit/test_stun_keys.c - long-term key derivation (RFC 8489 s9.2.2,
 * MD5 and SHA-256), USERHASH (s14.4), the ASCII OpaqueString check
 * (RFC 8265 s4.2) and the FINGERPRINT CRC-32. Expected digests were
 * computed independently (Python hashlib).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "stun/stun.h"
#include "tests/unit/check_main.h"

#define STR(s) (s), strlen(s)

static void assert_hex(const uint8_t *got, size_t len, const char *hex)
{
	char buf[2 * STUN_KEY_MAX + 1];

	ck_assert_uint_le(len, STUN_KEY_MAX);
	for (size_t i = 0; i < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", got[i]);
	ck_assert_str_eq(buf, hex);
}

START_TEST(test_stun_long_term_key_md5)
{
	uint8_t key[STUN_KEY_MAX];
	size_t key_len = 0;

	ck_assert_int_eq(stun_long_term_key(STUN_PW_ALG_MD5, STR("user"),
	                                    STR("realm"), STR("pass"), key,
	                                    &key_len),
	                 0);
	ck_assert_uint_eq(key_len, 16);
	assert_hex(key, key_len, "8493fbc53ba582fb4c044c456bdc40eb");

	/* an empty username is the caller's business, not an error here */
	ck_assert_int_eq(stun_long_term_key(STUN_PW_ALG_MD5, NULL, 0,
	                                    STR("realm"), STR("pass"), key,
	                                    &key_len),
	                 0);
	assert_hex(key, key_len, "dabe0a35b63c076bca843a6dc9478fa1");
}
END_TEST

START_TEST(test_stun_long_term_key_sha256)
{
	uint8_t key[STUN_KEY_MAX];
	size_t key_len = 0;

	ck_assert_int_eq(stun_long_term_key(STUN_PW_ALG_SHA256, STR("user"),
	                                    STR("realm"), STR("pass"), key,
	                                    &key_len),
	                 0);
	ck_assert_uint_eq(key_len, 32);
	assert_hex(key, key_len,
	           "07e934117abd40836e7c6329b54731b2"
	           "b2d2a5f9a71f544922d75e0730d8251b");
}
END_TEST

START_TEST(test_stun_long_term_key_rejects)
{
	uint8_t key[STUN_KEY_MAX];
	size_t key_len = 0;

	ck_assert_int_eq(stun_long_term_key(3, STR("u"), STR("r"), STR("p"),
	                                    key, &key_len),
	                 EINVAL);
	ck_assert_int_eq(stun_long_term_key(STUN_PW_ALG_MD5, STR("u"), STR("r"),
	                                    "", 0, key, &key_len),
	                 EINVAL);
	ck_assert_int_eq(stun_long_term_key(STUN_PW_ALG_MD5, STR("u"), "", 0,
	                                    STR("p"), key, &key_len),
	                 EINVAL);
	ck_assert_int_eq(stun_long_term_key(STUN_PW_ALG_MD5, STR("u"),
	                                    STR("r\x01"), STR("p"), key,
	                                    &key_len),
	                 EILSEQ);
	ck_assert_int_eq(stun_long_term_key(STUN_PW_ALG_SHA256, STR("u"),
	                                    STR("r"), STR("p\xc3\xa9"), key,
	                                    &key_len),
	                 EILSEQ);
	ck_assert_int_eq(stun_long_term_key(STUN_PW_ALG_MD5, STR("u"), STR("r"),
	                                    STR("p"), key, NULL),
	                 EINVAL);
}
END_TEST

START_TEST(test_stun_userhash)
{
	uint8_t out[32];

	stun_userhash(STR("user"), STR("realm"), out);
	assert_hex(out, 32,
	           "6a3029116b47aa98bcaa325399733dc1"
	           "a23cd57e26b81bef3ff6531ce624e2da");
}
END_TEST

START_TEST(test_stun_opaque_string)
{
	char all[95];

	for (int i = 0; i < 95; i++)
		all[i] = (char)(0x20 + i); /* every printable ASCII byte */
	ck_assert_int_eq(stun_opaque_string(all, sizeof(all)), 0);
	ck_assert_int_eq(stun_opaque_string(STR("The Matrix / 42")), 0);

	ck_assert_int_eq(stun_opaque_string("", 0), EINVAL);
	ck_assert_int_eq(stun_opaque_string(NULL, 3), EINVAL);
	ck_assert_int_eq(stun_opaque_string(STR("tab\there")), EILSEQ);
	ck_assert_int_eq(stun_opaque_string(STR("del\x7f")), EILSEQ);
	ck_assert_int_eq(stun_opaque_string(STR("nl\n")), EILSEQ);
	ck_assert_int_eq(stun_opaque_string("nul\0x", 5), EILSEQ);
	ck_assert_int_eq(stun_opaque_string(STR("caf\xc3\xa9")), EILSEQ);
	ck_assert_int_eq(stun_opaque_string(STR("\xe2\x85\xa8")), EILSEQ);
}
END_TEST

START_TEST(test_stun_crc32)
{
	ck_assert_uint_eq(stun_crc32((const uint8_t *)"123456789", 9),
	                  0xCBF43926u);
	ck_assert_uint_eq(stun_crc32((const uint8_t *)"", 0), 0);
}
END_TEST

static Suite *stun_keys_suite(void)
{
	Suite *s = suite_create("stun_keys");
	TCase *tc = tcase_create("keys");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_stun_long_term_key_md5);
	tcase_add_test(tc, test_stun_long_term_key_sha256);
	tcase_add_test(tc, test_stun_long_term_key_rejects);
	tcase_add_test(tc, test_stun_userhash);
	tcase_add_test(tc, test_stun_opaque_string);
	tcase_add_test(tc, test_stun_crc32);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stun_keys_suite)
