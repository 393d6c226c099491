/*
 * tests/unit/test_stun_malformed.c - bad input as tables, each row
 * rejected with its exact enum stun_reason: whole messages, attribute
 * values of every type with a rule (plus the accepted boundaries),
 * ChannelData, and stream frame headers.
 */
#include <errno.h>
#include <string.h>

#include "stun/stun.h"
#include "tests/unit/check_main.h"

#define COOKIE "\x21\x12\xa4\x42"
#define TID    "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c"
/* Binding request header with message length lo (< 256). */
#define HDR(lo) "\x00\x01\x00" lo COOKIE TID
#define SW0     "\x80\x22\x00\x00" /* empty SOFTWARE */
#define SW0x8   SW0 SW0 SW0 SW0 SW0 SW0 SW0 SW0
#define SW0x40  SW0x8 SW0x8 SW0x8 SW0x8 SW0x8

struct msg_row {
	const char *name;
	const char *bytes;
	size_t len;
	enum stun_reason reason;
};

#define ROW(n, b, r)                                                           \
	{                                                                      \
		n, b, sizeof(b) - 1, r                                         \
	}
static const struct msg_row msg_rows[] = {
        ROW("empty", "", STUN_ERR_SHORT),
        ROW("19 bytes",
            "\x00\x01\x00\x00" COOKIE "\x01\x02\x03\x04\x05\x06"
            "\x07\x08\x09\x0a\x0b",
            STUN_ERR_SHORT),
        ROW("top bit 0x80", "\x80\x01\x00\x00" COOKIE TID, STUN_ERR_TOP_BITS),
        ROW("top bit 0x40", "\x40\x01\x00\x00" COOKIE TID, STUN_ERR_TOP_BITS),
        ROW("length 2", HDR("\x02") "\x00\x00", STUN_ERR_LENGTH_ALIGN),
        ROW("length 4, nothing follows", HDR("\x04"), STUN_ERR_LENGTH_MISMATCH),
        ROW("length 0, 4 bytes follow", HDR("\x00") SW0,
            STUN_ERR_LENGTH_MISMATCH),
        ROW("length 8, 4 bytes follow", HDR("\x08") SW0,
            STUN_ERR_LENGTH_MISMATCH),
        ROW("attribute past the end",
            HDR("\x08") "\x00\x06\x00\x05"
                        "abcd",
            STUN_ERR_ATTR_TRUNCATED),
        ROW("attribute length 0xffff", HDR("\x04") "\x80\x22\xff\xff",
            STUN_ERR_ATTR_TRUNCATED),
        ROW("attribute past the end after a good one",
            HDR("\x0c") SW0 "\x00\x06\x00\x08"
                            "abcd",
            STUN_ERR_ATTR_TRUNCATED),
        ROW("41 attributes", HDR("\xa4") SW0x40 SW0, STUN_ERR_TOO_MANY_ATTRS),
        ROW("attribute after FINGERPRINT",
            HDR("\x10") "\x80\x28\x00\x04"
                        "\x00\x00\x00\x00" SW0 SW0,
            STUN_ERR_AFTER_FINGERPRINT),
        ROW("two FINGERPRINTs",
            HDR("\x10") "\x80\x28\x00\x04"
                        "abcd"
                        "\x80\x28\x00\x04"
                        "abcd",
            STUN_ERR_AFTER_FINGERPRINT),
        ROW("wrong FINGERPRINT",
            HDR("\x08") "\x80\x28\x00\x04"
                        "\x00\x00\x00\x00",
            STUN_ERR_FINGERPRINT),
        ROW("FINGERPRINT after MI, wrong",
            HDR("\x20") "\x00\x08\x00\x14"
                        "0123456789abcdefghij"
                        "\x80\x28\x00\x04"
                        "\x00\x00\x00\x00",
            STUN_ERR_FINGERPRINT),
        ROW("bad value in a duplicate",
            HDR("\x10") "\x00\x0d\x00\x04"
                        "\x00\x00\x02\x58"
                        "\x00\x0d\x00\x02"
                        "\x00\x00\x00\x00",
            STUN_ERR_BAD_ATTR),
};

START_TEST(test_stun_malformed_message)
{
	const struct msg_row *r = &msg_rows[_i];
	struct stun_msg m;
	enum stun_reason why = STUN_OK;

	int err = stun_msg_parse(&m, (const uint8_t *)r->bytes, r->len, &why);
	ck_assert_msg(err == EBADMSG && why == r->reason,
	              "%s: err %d why %s, want %s", r->name, err,
	              stun_reason_str(why), stun_reason_str(r->reason));
}
END_TEST

/* One attribute of type with a value of len bytes: head, then zeros. */
struct attr_row {
	const char *name;
	uint16_t type;
	uint16_t len;
	const char *head;
	size_t head_len;
	enum stun_reason reason; /* STUN_OK: a boundary that is accepted */
};

#define BAD(n, t, l, h)                                                        \
	{                                                                      \
		n, STUN_ATTR_##t, l, h, sizeof(h) - 1, STUN_ERR_BAD_ATTR       \
	}
#define GOOD(n, t, l, h)                                                       \
	{                                                                      \
		n, STUN_ATTR_##t, l, h, sizeof(h) - 1, STUN_OK                 \
	}
static const struct attr_row attr_rows[] = {
        BAD("MAPPED-ADDRESS 4 bytes", MAPPED_ADDRESS, 4, "\0\x01"),
        BAD("MAPPED-ADDRESS v6 in 8", MAPPED_ADDRESS, 8, "\0\x02"),
        BAD("MAPPED-ADDRESS v4 in 20", MAPPED_ADDRESS, 20, "\0\x01"),
        BAD("MAPPED-ADDRESS family 0", MAPPED_ADDRESS, 8, "\0\0"),
        BAD("XOR-MAPPED-ADDRESS family 3", XOR_MAPPED_ADDRESS, 8, "\0\x03"),
        BAD("XOR-PEER-ADDRESS 12 bytes", XOR_PEER_ADDRESS, 12, "\0\x01"),
        BAD("XOR-RELAYED-ADDRESS 7 bytes", XOR_RELAYED_ADDRESS, 7, "\0\x01"),
        BAD("ALTERNATE-SERVER empty", ALTERNATE_SERVER, 0, ""),
        BAD("RESPONSE-ORIGIN v6 in 16", RESPONSE_ORIGIN, 16, "\0\x02"),
        BAD("OTHER-ADDRESS family 0 in 20", OTHER_ADDRESS, 20, "\0\0"),
        BAD("CHANGE-REQUEST empty", CHANGE_REQUEST, 0, ""),
        BAD("CHANGE-REQUEST 8 bytes", CHANGE_REQUEST, 8, ""),
        BAD("USERNAME 510 bytes", USERNAME, 510, "u"),
        BAD("MESSAGE-INTEGRITY 16 bytes", MESSAGE_INTEGRITY, 16, ""),
        BAD("MESSAGE-INTEGRITY 24 bytes", MESSAGE_INTEGRITY, 24, ""),
        BAD("ERROR-CODE 3 bytes", ERROR_CODE, 3, "\0\0\x04"),
        BAD("ERROR-CODE class 2", ERROR_CODE, 4, "\0\0\x02\x00"),
        BAD("ERROR-CODE class 7", ERROR_CODE, 4, "\0\0\x07\x00"),
        BAD("ERROR-CODE number 100", ERROR_CODE, 4, "\0\0\x04\x64"),
        BAD("ERROR-CODE reason 764 bytes", ERROR_CODE, 768, "\0\0\x04\x00"),
        BAD("UNKNOWN-ATTRIBUTES 3 bytes", UNKNOWN_ATTRIBUTES, 3, ""),
        BAD("CHANNEL-NUMBER 2 bytes", CHANNEL_NUMBER, 2, "\x40\x00"),
        BAD("CHANNEL-NUMBER 8 bytes", CHANNEL_NUMBER, 8, "\x40\x00"),
        BAD("LIFETIME 3 bytes", LIFETIME, 3, ""),
        BAD("LIFETIME 8 bytes", LIFETIME, 8, ""),
        BAD("REALM 764 bytes", REALM, 764, "r"),
        BAD("NONCE 764 bytes", NONCE, 764, "n"),
        BAD("SOFTWARE 764 bytes", SOFTWARE, 764, "s"),
        /* the family value is the server's to judge (440), not the codec's */
        GOOD("REQUESTED-ADDRESS-FAMILY 3", REQUESTED_ADDRESS_FAMILY, 4, "\x03"),
        BAD("REQUESTED-ADDRESS-FAMILY 1 byte", REQUESTED_ADDRESS_FAMILY, 1,
            "\x01"),
        BAD("REQUESTED-ADDRESS-FAMILY 8 bytes", REQUESTED_ADDRESS_FAMILY, 8,
            "\x01"),
        BAD("EVEN-PORT empty", EVEN_PORT, 0, ""),
        BAD("EVEN-PORT 4 bytes", EVEN_PORT, 4, "\x80"),
        BAD("REQUESTED-TRANSPORT 1 byte", REQUESTED_TRANSPORT, 1, "\x11"),
        BAD("REQUESTED-TRANSPORT 8 bytes", REQUESTED_TRANSPORT, 8, "\x11"),
        BAD("DONT-FRAGMENT 4 bytes", DONT_FRAGMENT, 4, ""),
        BAD("MI-SHA256 12 bytes", MESSAGE_INTEGRITY_SHA256, 12, ""),
        BAD("MI-SHA256 18 bytes", MESSAGE_INTEGRITY_SHA256, 18, ""),
        BAD("MI-SHA256 36 bytes", MESSAGE_INTEGRITY_SHA256, 36, ""),
        BAD("PASSWORD-ALGORITHM empty", PASSWORD_ALGORITHM, 0, ""),
        BAD("PASSWORD-ALGORITHM 2 bytes", PASSWORD_ALGORITHM, 2, "\0\x02"),
        BAD("PASSWORD-ALGORITHM params past end", PASSWORD_ALGORITHM, 4,
            "\0\x02\0\x08"),
        BAD("PASSWORD-ALGORITHM two entries", PASSWORD_ALGORITHM, 8,
            "\0\x02\0\0\0\x01\0\0"),
        BAD("USERHASH 16 bytes", USERHASH, 16, ""),
        BAD("USERHASH 33 bytes", USERHASH, 33, ""),
        BAD("RESERVATION-TOKEN 4 bytes", RESERVATION_TOKEN, 4, ""),
        BAD("RESERVATION-TOKEN 16 bytes", RESERVATION_TOKEN, 16, ""),
        BAD("CONNECTION-ID 8 bytes", CONNECTION_ID, 8, ""),
        BAD("PRIORITY 8 bytes", PRIORITY, 8, ""),
        BAD("USE-CANDIDATE 4 bytes", USE_CANDIDATE, 4, ""),
        BAD("ICE-CONTROLLED 4 bytes", ICE_CONTROLLED, 4, ""),
        BAD("ICE-CONTROLLING 12 bytes", ICE_CONTROLLING, 12, ""),
        GOOD("ADDITIONAL-ADDRESS-FAMILY IPv4 (the server answers 400)",
             ADDITIONAL_ADDRESS_FAMILY, 4, "\x01"),
        BAD("ADDITIONAL-ADDRESS-FAMILY 8 bytes", ADDITIONAL_ADDRESS_FAMILY, 8,
            "\x02"),
        BAD("ADDRESS-ERROR-CODE family 0", ADDRESS_ERROR_CODE, 4,
            "\0\0\x04\x40"),
        BAD("ADDRESS-ERROR-CODE class 0", ADDRESS_ERROR_CODE, 4, "\x01\0\0\0"),
        BAD("ADDRESS-ERROR-CODE 2 bytes", ADDRESS_ERROR_CODE, 2, "\x01\0"),
        BAD("PASSWORD-ALGORITHMS empty", PASSWORD_ALGORITHMS, 0, ""),
        BAD("PASSWORD-ALGORITHMS params past end", PASSWORD_ALGORITHMS, 4,
            "\0\x01\0\x04"),
        BAD("PASSWORD-ALGORITHMS torn entry", PASSWORD_ALGORITHMS, 6,
            "\0\x01\0\0\0\x02"),
        BAD("ALTERNATE-DOMAIN empty", ALTERNATE_DOMAIN, 0, ""),
        BAD("ALTERNATE-DOMAIN 256 bytes", ALTERNATE_DOMAIN, 256, "d"),
        BAD("ICMP 4 bytes", ICMP, 4, ""),
        BAD("FINGERPRINT 8 bytes", FINGERPRINT, 8, ""),
        BAD("FINGERPRINT empty", FINGERPRINT, 0, ""),
        GOOD("USERNAME 509 bytes", USERNAME, 509, "u"),
        GOOD("REALM 763 bytes", REALM, 763, "r"),
        GOOD("NONCE 763 bytes", NONCE, 763, "n"),
        GOOD("SOFTWARE 763 bytes", SOFTWARE, 763, "s"),
        GOOD("ERROR-CODE 699 + 763 bytes", ERROR_CODE, 767, "\0\0\x06\x63"),
        GOOD("ERROR-CODE 300, no reason", ERROR_CODE, 4, "\0\0\x03\x00"),
        GOOD("MI-SHA256 16 bytes", MESSAGE_INTEGRITY_SHA256, 16, ""),
        GOOD("ALTERNATE-DOMAIN 255 bytes", ALTERNATE_DOMAIN, 255, "d"),
        GOOD("PASSWORD-ALGORITHMS unpadded last", PASSWORD_ALGORITHMS, 9,
             "\0\x01\0\0\0\x07\0\x01x"),
        GOOD("UNKNOWN-ATTRIBUTES empty", UNKNOWN_ATTRIBUTES, 0, ""),
        GOOD("DATA empty", DATA, 0, ""),
        GOOD("XOR-PEER-ADDRESS v6", XOR_PEER_ADDRESS, 20, "\0\x02"),
};
#define NROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))

START_TEST(test_stun_malformed_attr_value)
{
	const struct attr_row *r = &attr_rows[_i];
	uint8_t buf[1024] = {0};
	struct stun_msg m;
	enum stun_reason why = STUN_OK;
	size_t padded = (r->len + 3u) & ~3u;
	size_t len = STUN_HEADER_LEN + 4 + padded;

	memcpy(buf, HDR("\x00"), STUN_HEADER_LEN);
	buf[2] = (uint8_t)((len - STUN_HEADER_LEN) >> 8);
	buf[3] = (uint8_t)(len - STUN_HEADER_LEN);
	buf[20] = (uint8_t)(r->type >> 8);
	buf[21] = (uint8_t)r->type;
	buf[22] = (uint8_t)(r->len >> 8);
	buf[23] = (uint8_t)r->len;
	memcpy(buf + 24, r->head, r->head_len < r->len ? r->head_len : r->len);

	int err = stun_msg_parse(&m, buf, len, &why);
	ck_assert_msg(why == r->reason &&
	                      err == (r->reason == STUN_OK ? 0 : EBADMSG),
	              "%s: err %d why %s", r->name, err, stun_reason_str(why));
}
END_TEST

struct cd_row {
	const char *name;
	const char *bytes;
	size_t len;
	enum stun_reason reason;
};

static const struct cd_row cd_rows[] = {
        ROW("3 bytes", "\x40\x00\x00", STUN_ERR_SHORT),
        ROW("channel 0x3fff", "\x3f\xff\x00\x00", STUN_ERR_CHANNEL_NUMBER),
        ROW("channel 0x8000", "\x80\x00\x00\x00", STUN_ERR_CHANNEL_NUMBER),
        ROW("channel 0xffff", "\xff\xff\x00\x00", STUN_ERR_CHANNEL_NUMBER),
        ROW("channel 0xffff", "\xff\xff\x00\x00", STUN_ERR_CHANNEL_NUMBER),
        ROW("length past the buffer",
            "\x40\x00\x00\x08"
            "abcd",
            STUN_ERR_CHANNEL_LENGTH),
        ROW("length 0xffff", "\x4f\xff\xff\xff", STUN_ERR_CHANNEL_LENGTH),
        ROW("more than padding after",
            "\x40\x00\x00\x01"
            "abcde",
            STUN_ERR_CHANNEL_LENGTH),
        ROW("empty, 0x4000", "\x40\x00\x00\x00", STUN_OK),
        ROW("unpadded, 0x4fff",
            "\x4f\xff\x00\x01"
            "a",
            STUN_OK),
        ROW("padded, 0x4fff",
            "\x4f\xff\x00\x01"
            "a\0\0\0",
            STUN_OK),
};

START_TEST(test_stun_malformed_chandata)
{
	const struct cd_row *r = &cd_rows[_i];
	struct stun_chandata cd;
	enum stun_reason why = STUN_ERR_SHORT;

	int err = stun_chandata_parse(&cd, (const uint8_t *)r->bytes, r->len,
	                              &why);
	ck_assert_msg(why == r->reason &&
	                      err == (r->reason == STUN_OK ? 0 : EBADMSG),
	              "%s: err %d why %s", r->name, err, stun_reason_str(why));
}
END_TEST

struct frame_row {
	const char *name;
	const char *bytes; /* 4 bytes: the frame header */
	size_t max_len;
	enum stun_reason reason;
	size_t frame_len; /* when accepted */
};

static const struct frame_row frame_rows[] = {
        {"STUN over max_len", "\x00\x01\x03\xf0", 1023,
         STUN_ERR_LENGTH_MISMATCH, 0},
        {"STUN at max_len", "\x00\x01\x03\xec", 1024, STUN_OK, 1024},
        {"STUN length 2", "\x00\x01\x00\x02", 1024, STUN_ERR_LENGTH_ALIGN, 0},
        {"STUN length 0xfffc", "\x01\x01\xff\xfc", 65552, STUN_OK, 65552},
        {"ChannelData over max_len", "\x40\x01\x03\xfd", 1024,
         STUN_ERR_CHANNEL_LENGTH, 0},
        {"ChannelData padded to max_len", "\x40\x01\x03\xf9", 1024, STUN_OK,
         1024},
        {"ChannelData empty", "\x4f\xff\x00\x00", 1024, STUN_OK, 4},
        {"first byte 0x80", "\x80\x00\x00\x00", 1024, STUN_ERR_CHANNEL_NUMBER,
         0},
        {"first byte 0x80", "\x80\x01\x00\x00", 1024, STUN_ERR_CHANNEL_NUMBER,
         0},
        {"first byte 0xff", "\xff\xff\x00\x00", 1024, STUN_ERR_CHANNEL_NUMBER,
         0},
};

START_TEST(test_stun_malformed_frame)
{
	const struct frame_row *r = &frame_rows[_i];
	enum stun_reason why = STUN_ERR_SHORT;
	size_t n = 0;

	int err = stun_frame_len((const uint8_t *)r->bytes, 4, r->max_len, &n,
	                         &why);
	ck_assert_msg(why == r->reason &&
	                      err == (r->reason == STUN_OK ? 0 : EBADMSG),
	              "%s: err %d why %s", r->name, err, stun_reason_str(why));
	if (r->reason == STUN_OK)
		ck_assert_uint_eq(n, r->frame_len);
}
END_TEST

static Suite *stun_malformed_suite(void)
{
	Suite *s = suite_create("stun_malformed");
	TCase *tc = tcase_create("message");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_stun_malformed_message, 0,
	                    NROWS(msg_rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("attr_value");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_stun_malformed_attr_value, 0,
	                    NROWS(attr_rows));
	suite_add_tcase(s, tc);

	tc = tcase_create("channeldata");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_stun_malformed_chandata, 0,
	                    NROWS(cd_rows));
	tcase_add_loop_test(tc, test_stun_malformed_frame, 0,
	                    NROWS(frame_rows));
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stun_malformed_suite)
