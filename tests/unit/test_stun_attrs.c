/*
 * tests/unit/test_stun_attrs.c - every attribute type of stun/stun.h built,
 * parsed and decoded again; method/class coding; the builder's errors and
 * length bookkeeping; error reason phrases.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "stun/stun.h"
#include "tests/unit/check_main.h"

static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4,  5,  6,
                                          7, 8, 9, 10, 11, 12};

enum kind { RAW, ADDR, XADDR, ERRC, UNKN, MI, MI256, FP };

struct rt_row {
	uint16_t type;
	enum kind kind;
	const char *value; /* RAW: bytes, len below */
	size_t len;
};

#define RAWV(t, s)                                                             \
	{                                                                      \
		t, RAW, s, sizeof(s) - 1                                       \
	}
static const struct rt_row rt_rows[] = {
        {STUN_ATTR_MAPPED_ADDRESS, ADDR, NULL, 0},
        RAWV(STUN_ATTR_CHANGE_REQUEST, "\0\0\0\x06"),
        RAWV(STUN_ATTR_USERNAME, "alice:1700000000"),
        {STUN_ATTR_MESSAGE_INTEGRITY, MI, NULL, 0},
        {STUN_ATTR_ERROR_CODE, ERRC, NULL, 0},
        {STUN_ATTR_UNKNOWN_ATTRIBUTES, UNKN, NULL, 0},
        RAWV(STUN_ATTR_CHANNEL_NUMBER, "\x40\x01\0\0"),
        RAWV(STUN_ATTR_LIFETIME, "\0\0\x02\x58"),
        {STUN_ATTR_XOR_PEER_ADDRESS, XADDR, NULL, 0},
        RAWV(STUN_ATTR_DATA, "\x80\x00\x12\x34\x56"),
        RAWV(STUN_ATTR_REALM, "example.org"),
        RAWV(STUN_ATTR_NONCE, "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"),
        {STUN_ATTR_XOR_RELAYED_ADDRESS, XADDR, NULL, 0},
        RAWV(STUN_ATTR_REQUESTED_ADDRESS_FAMILY, "\x02\0\0\0"),
        RAWV(STUN_ATTR_EVEN_PORT, "\x80"),
        RAWV(STUN_ATTR_REQUESTED_TRANSPORT, "\x11\0\0\0"),
        RAWV(STUN_ATTR_DONT_FRAGMENT, ""),
        {STUN_ATTR_MESSAGE_INTEGRITY_SHA256, MI256, NULL, 0},
        RAWV(STUN_ATTR_PASSWORD_ALGORITHM, "\0\x02\0\0"),
        RAWV(STUN_ATTR_USERHASH, "0123456789abcdef0123456789abcdef"),
        {STUN_ATTR_XOR_MAPPED_ADDRESS, XADDR, NULL, 0},
        RAWV(STUN_ATTR_RESERVATION_TOKEN, "\1\2\3\4\5\6\7\x08"),
        RAWV(STUN_ATTR_CONNECTION_ID, "\xde\xad\xbe\xef"),
        RAWV(STUN_ATTR_PRIORITY, "\x6e\0\x01\xff"),
        RAWV(STUN_ATTR_USE_CANDIDATE, ""),
        RAWV(STUN_ATTR_ICE_CONTROLLED, "\x93\x2f\xf9\xb1\x51\x26\x3b\x36"),
        RAWV(STUN_ATTR_ICE_CONTROLLING, "\x93\x2f\xf9\xb1\x51\x26\x3b\x37"),
        RAWV(STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, "\x02\0\0\0"),
        RAWV(STUN_ATTR_ADDRESS_ERROR_CODE, "\x02\0\x04\x28no v6"),
        RAWV(STUN_ATTR_PASSWORD_ALGORITHMS, "\0\x02\0\0\0\x01\0\0"),
        RAWV(STUN_ATTR_ALTERNATE_DOMAIN, "turn2.example.org"),
        RAWV(STUN_ATTR_ICMP, "\0\0\x03\x01\0\0\0\0"),
        RAWV(STUN_ATTR_SOFTWARE, "avedge test"),
        {STUN_ATTR_ALTERNATE_SERVER, ADDR, NULL, 0},
        {STUN_ATTR_FINGERPRINT, FP, NULL, 0},
        {STUN_ATTR_RESPONSE_ORIGIN, ADDR, NULL, 0},
        {STUN_ATTR_OTHER_ADDRESS, ADDR, NULL, 0},
};
#define NROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))

static const uint8_t key[] = "a short-term password";

static void sa_v4(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

static void sa_v6(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
}

static void assert_same_addr(const struct sockaddr_storage *a,
                             const struct sockaddr_storage *b)
{
	size_t n = a->ss_family == AF_INET ? sizeof(struct sockaddr_in)
	                                   : sizeof(struct sockaddr_in6);
	ck_assert_int_eq(a->ss_family, b->ss_family);
	ck_assert(memcmp(a, b, n) == 0);
}

/* Build a message holding one address attribute, parse, decode. */
static void rt_addr(uint16_t type, bool xor,
                    const struct sockaddr_storage *want)
{
	uint8_t buf[128];
	struct stun_builder b;
	struct stun_msg m;
	struct sockaddr_storage got;
	const struct sockaddr *sa = (const struct sockaddr *)want;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_ALLOCATE,
	                STUN_CLASS_SUCCESS, tid);
	if (xor)
		stun_build_xor_addr(&b, type, sa);
	else
		stun_build_addr(&b, type, sa);
	size_t len = stun_build_finish(&b);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(stun_msg_parse(&m, buf, len, NULL), 0);
	const struct stun_attr *a = stun_msg_find(&m, type);
	ck_assert_ptr_nonnull(a);
	uint16_t port =
	        ntohs(sa->sa_family == AF_INET
	                      ? ((const struct sockaddr_in *)sa)->sin_port
	                      : ((const struct sockaddr_in6 *)sa)->sin6_port);
	uint16_t wire = (uint16_t)((a->value[2] << 8) | a->value[3]);
	if (xor) {
		ck_assert_uint_eq(wire, port ^ 0x2112);
		ck_assert_int_eq(stun_msg_get_xor_addr(&m, type, &got), 0);
		ck_assert_int_eq(stun_attr_get_xor_addr(a, &m, &got), 0);
	} else {
		ck_assert_uint_eq(wire, port);
		ck_assert_int_eq(stun_attr_get_addr(a, &got), 0);
	}
	assert_same_addr(&got, want);
}

static void rt_build(struct stun_builder *b, const struct rt_row *r)
{
	static const uint16_t unknown[] = {0x0030, 0x7001, 0x0031};

	switch (r->kind) {
	case RAW:
		stun_build_attr(b, r->type, r->value, r->len);
		break;
	case ERRC:
		stun_build_error(b, 438, NULL);
		break;
	case UNKN:
		stun_build_unknown(b, unknown, 3);
		break;
	case MI:
		stun_build_integrity(b, key, sizeof(key));
		break;
	case MI256:
		stun_build_integrity_sha256(b, key, sizeof(key));
		break;
	case FP:
		stun_build_fingerprint(b);
		break;
	default:
		ck_abort();
	}
}

static void rt_check(const struct stun_msg *m, const struct rt_row *r)
{
	const struct stun_attr *a = stun_msg_find(m, r->type);
	uint16_t code = 0;
	const char *reason = NULL;
	size_t rlen = 0;

	ck_assert_ptr_nonnull(a);
	switch (r->kind) {
	case RAW:
		ck_assert_uint_eq(a->len, r->len);
		ck_assert(memcmp(a->value, r->value, r->len) == 0);
		if (r->len == 4) {
			uint32_t v = 0;
			ck_assert_int_eq(stun_msg_get_u32(m, r->type, &v), 0);
			ck_assert_uint_eq(v,
			                  ntohl(*(const uint32_t *)r->value));
		}
		break;
	case ERRC:
		ck_assert_int_eq(stun_msg_get_error(m, &code, &reason, &rlen),
		                 0);
		ck_assert_uint_eq(code, 438);
		ck_assert_uint_eq(rlen, strlen("Stale Nonce"));
		ck_assert(memcmp(reason, "Stale Nonce", rlen) == 0);
		break;
	case UNKN:
		ck_assert_uint_eq(a->len, 6);
		ck_assert(memcmp(a->value, "\x00\x30\x70\x01\x00\x31", 6) == 0);
		break;
	case MI:
		ck_assert_int_eq(stun_check_integrity(m, key, sizeof(key)), 0);
		break;
	case MI256:
		ck_assert_uint_eq(a->len, 32);
		ck_assert_int_eq(
		        stun_check_integrity_sha256(m, key, sizeof(key)), 0);
		break;
	case FP:
		ck_assert_int_eq(stun_check_fingerprint(m), 0);
		break;
	default:
		ck_abort();
	}
}

START_TEST(test_stun_attr_round_trip)
{
	const struct rt_row *r = &rt_rows[_i];
	struct sockaddr_storage ss;
	uint8_t buf[256];
	struct stun_builder b;
	struct stun_msg m;

	if (r->kind == ADDR || r->kind == XADDR) {
		sa_v4(&ss, "192.0.2.1", 32853);
		rt_addr(r->type, r->kind == XADDR, &ss);
		sa_v6(&ss, "2001:db8:1234:5678:11:2233:4455:6677", 3478);
		rt_addr(r->type, r->kind == XADDR, &ss);
		sa_v6(&ss, "::ffff:203.0.113.9", 65535);
		rt_addr(r->type, r->kind == XADDR, &ss);
		return;
	}
	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_REFRESH,
	                STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, 0x8050, "lead", 4); /* optional, unknown */
	rt_build(&b, r);
	size_t len = stun_build_finish(&b);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(stun_msg_parse(&m, buf, len, NULL), 0);
	ck_assert_uint_eq(m.nattrs, 2);
	ck_assert_uint_eq(m.nunknown, 0);
	rt_check(&m, r);
}
END_TEST

/* Every method x class keeps its bits through build and parse. */
START_TEST(test_stun_method_class_coding)
{
	static const uint16_t methods[] = {
	        STUN_METHOD_BINDING,
	        STUN_METHOD_ALLOCATE,
	        STUN_METHOD_REFRESH,
	        STUN_METHOD_SEND,
	        STUN_METHOD_DATA,
	        STUN_METHOD_CREATE_PERMISSION,
	        STUN_METHOD_CHANNEL_BIND,
	        STUN_METHOD_CONNECT,
	        STUN_METHOD_CONNECTION_BIND,
	        STUN_METHOD_CONNECTION_ATTEMPT,
	        0xFFF,
	};
	uint8_t buf[STUN_HEADER_LEN];
	struct stun_builder b;
	struct stun_msg m;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		for (uint8_t cls = 0; cls < 4; cls++) {
			stun_build_init(&b, buf, sizeof(buf), methods[i], cls,
			                tid);
			ck_assert_uint_eq(stun_build_finish(&b), 20);
			ck_assert_int_eq(stun_msg_parse(&m, buf, 20, NULL), 0);
			ck_assert_uint_eq(m.method, methods[i]);
			ck_assert_uint_eq(m.cls, cls);
		}
	}
	/* a few wire values from RFC 8489 s5 / RFC 8656 */
	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_ALLOCATE,
	                STUN_CLASS_ERROR, tid);
	ck_assert_uint_eq((buf[0] << 8) | buf[1], 0x0113);
	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_DATA,
	                STUN_CLASS_INDICATION, tid);
	ck_assert_uint_eq((buf[0] << 8) | buf[1], 0x0017);
	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING,
	                STUN_CLASS_SUCCESS, tid);
	ck_assert_uint_eq((buf[0] << 8) | buf[1], 0x0101);
}
END_TEST

START_TEST(test_stun_build_length_and_padding)
{
	uint8_t buf[64];
	struct stun_builder b;

	memset(buf, 0xAA, sizeof(buf));
	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING,
	                STUN_CLASS_REQUEST, tid);
	ck_assert_uint_eq((buf[2] << 8) | buf[3], 0);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "abcde", 5);
	ck_assert_uint_eq(b.len, 32);
	ck_assert_uint_eq((buf[2] << 8) | buf[3], 12);
	ck_assert(memcmp(buf + 24, "abcde\0\0\0", 8) == 0);
	stun_build_attr(&b, STUN_ATTR_DONT_FRAGMENT, NULL, 0);
	ck_assert_uint_eq((buf[2] << 8) | buf[3], 16);
	ck_assert_uint_eq(stun_build_finish(&b), 36);
	ck_assert(memcmp(buf + 4, "\x21\x12\xa4\x42", 4) == 0);
	ck_assert(memcmp(buf + 8, tid, 12) == 0);
}
END_TEST

START_TEST(test_stun_build_errors_are_sticky)
{
	uint8_t buf[32];
	struct stun_builder b;
	struct sockaddr_storage ss;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING,
	                STUN_CLASS_REQUEST, NULL);
	ck_assert_int_eq(b.err, EINVAL);
	ck_assert_uint_eq(stun_build_finish(&b), 0);

	stun_build_init(&b, buf, 19, STUN_METHOD_BINDING, STUN_CLASS_REQUEST,
	                tid);
	ck_assert_int_eq(b.err, ENOSPC);

	stun_build_init(&b, buf, sizeof(buf), 0x1000, STUN_CLASS_REQUEST, tid);
	ck_assert_int_eq(b.err, EINVAL);

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING,
	                STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_DATA, "123456789", 9); /* 4 + 12 > 12 */
	ck_assert_int_eq(b.err, ENOSPC);
	stun_build_u32(&b, STUN_ATTR_LIFETIME, 600); /* would fit: sticky */
	ck_assert_uint_eq(b.len, 20);
	ck_assert_uint_eq(stun_build_finish(&b), 0);

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING,
	                STUN_CLASS_ERROR, tid);
	stun_build_error(&b, 299, NULL);
	ck_assert_int_eq(b.err, EINVAL);

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING,
	                STUN_CLASS_SUCCESS, tid);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	                    (const struct sockaddr *)&ss);
	ck_assert_int_eq(b.err, EINVAL);

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING,
	                STUN_CLASS_SUCCESS, tid);
	stun_build_attr(&b, STUN_ATTR_DATA, NULL, 4);
	ck_assert_int_eq(b.err, EINVAL);

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING,
	                STUN_CLASS_SUCCESS, tid);
	stun_build_integrity(&b, key, sizeof(key)); /* 24 > 12 left */
	ck_assert_int_eq(b.err, ENOSPC);
}
END_TEST

START_TEST(test_stun_get_errors)
{
	uint8_t buf[64];
	struct stun_builder b;
	struct stun_msg m;
	struct sockaddr_storage ss;
	uint32_t v;
	uint16_t code;

	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_BINDING,
	                STUN_CLASS_REQUEST, tid);
	stun_build_attr(&b, STUN_ATTR_USERNAME, "bob", 3);
	size_t len = stun_build_finish(&b);
	ck_assert_int_eq(stun_msg_parse(&m, buf, len, NULL), 0);
	ck_assert_int_eq(stun_msg_get_u32(&m, STUN_ATTR_LIFETIME, &v), ENOENT);
	ck_assert_int_eq(stun_msg_get_u32(&m, STUN_ATTR_USERNAME, &v), EBADMSG);
	ck_assert_int_eq(
	        stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_PEER_ADDRESS, &ss),
	        ENOENT);
	ck_assert_int_eq(
	        stun_attr_get_addr(stun_msg_find(&m, STUN_ATTR_USERNAME), &ss),
	        EBADMSG);
	ck_assert_int_eq(stun_msg_get_error(&m, &code, NULL, NULL), ENOENT);
	ck_assert_ptr_null(stun_msg_find(&m, STUN_ATTR_REALM));
}
END_TEST

START_TEST(test_stun_error_reasons_are_short)
{
	static const struct {
		uint16_t code;
		const char *text;
	} want[] = {
	        {300, "Try Alternate"},
	        {400, "Bad Request"},
	        {401, "Unauthorized"},
	        {403, "Forbidden"},
	        {420, "Unknown Attribute"},
	        {437, "Allocation Mismatch"},
	        {438, "Stale Nonce"},
	        {440, "Family not Supported"},
	        {441, "Wrong Credentials"},
	        {442, "Unsupported Transport"},
	        {443, "Peer Family Mismatch"},
	        {446, "Connection Exists"},
	        {447, "Connection Failed"},
	        {486, "Allocation Quota Reached"},
	        {500, "Server Error"},
	        {508, "Insufficient Capacity"},
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *r = stun_error_reason(want[i].code);
		ck_assert_str_eq(r, want[i].text);
		ck_assert_uint_le(strlen(r), STUN_REASON_MAX);
	}
	ck_assert_str_eq(stun_error_reason(499), "Error");
	for (int r = STUN_OK; r <= STUN_ERR_CHANNEL_LENGTH; r++)
		ck_assert_ptr_nonnull(stun_reason_str((enum stun_reason)r));
}
END_TEST

static Suite *stun_attrs_suite(void)
{
	Suite *s = suite_create("stun_attrs");
	TCase *tc = tcase_create("round_trip");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_stun_attr_round_trip, 0, NROWS(rt_rows));
	tcase_add_test(tc, test_stun_method_class_coding);
	suite_add_tcase(s, tc);

	tc = tcase_create("builder");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_stun_build_length_and_padding);
	tcase_add_test(tc, test_stun_build_errors_are_sticky);
	tcase_add_test(tc, test_stun_get_errors);
	tcase_add_test(tc, test_stun_error_reasons_are_short);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stun_attrs_suite)
