/*
 * tests/unit/test_stun_framing.c - STUN / ChannelData demultiplexing
 * (RFC 7983, RFC 8656 s12), ChannelData build and parse, and stream
 * framing: stun_frame_len() at every split point of a buffer holding
 * several STUN and padded ChannelData frames back to back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "stun/stun.h"
#include "tests/unit/check_main.h"

static const uint8_t tid[STUN_TID_LEN] = {0xa, 0xb, 0xc, 0xd, 0xe, 0xf,
                                          0x1, 0x2, 0x3, 0x4, 0x5, 0x6};

START_TEST(test_stun_demux_first_byte)
{
	uint8_t b[STUN_HEADER_LEN] = {0};

	ck_assert_int_eq(stun_demux(NULL, 20), STUN_KIND_OTHER);
	ck_assert_int_eq(stun_demux(b, 0), STUN_KIND_OTHER);
	for (int v = 0; v < 256; v++) {
		b[0] = (uint8_t)v;
		enum stun_kind want = STUN_KIND_OTHER;
		if (v <= 3)
			want = STUN_KIND_STUN;
		else if (v >= 64 && v <= 127) /* RFC 5766 channel range */
			want = STUN_KIND_CHANNELDATA;
		ck_assert_int_eq(stun_demux(b, sizeof(b)), want);
	}
	b[0] = 0x01;
	ck_assert_int_eq(stun_demux(b, 19), STUN_KIND_OTHER);
	b[0] = 0x40;
	ck_assert_int_eq(stun_demux(b, 4), STUN_KIND_CHANNELDATA);
}
END_TEST

START_TEST(test_stun_chandata_build)
{
	uint8_t out[16];
	struct stun_chandata cd;

	memset(out, 0xAA, sizeof(out));
	ck_assert_uint_eq(stun_chandata_build(out, sizeof(out), 0x4001,
	                                      (const uint8_t *)"hello", 5,
	                                      true),
	                  12);
	ck_assert(memcmp(out, "\x40\x01\x00\x05hello\0\0\0", 12) == 0);
	ck_assert_int_eq(stun_chandata_parse(&cd, out, 12, NULL), 0);
	ck_assert_uint_eq(cd.channel, 0x4001);
	ck_assert_uint_eq(cd.len, 5);
	ck_assert_ptr_eq(cd.data, out + 4);

	memset(out, 0xAA, sizeof(out));
	ck_assert_uint_eq(stun_chandata_build(out, 9, 0x4FFF,
	                                      (const uint8_t *)"hello", 5,
	                                      false),
	                  9);
	ck_assert_uint_eq(out[9], 0xAA);
	ck_assert_int_eq(stun_chandata_parse(&cd, out, 9, NULL), 0);

	/* payload already in place (data NULL or out + 4) */
	memcpy(out + 4, "abcd", 4);
	ck_assert_uint_eq(stun_chandata_build(out, 8, 0x4000, NULL, 4, true),
	                  8);
	ck_assert(memcmp(out + 4, "abcd", 4) == 0);
	ck_assert_uint_eq(stun_chandata_build(out, 8, 0x4000, out + 4, 4, true),
	                  8);
	ck_assert(memcmp(out,
	                 "\x40\x00\x00\x04"
	                 "abcd",
	                 8) == 0);
	/* overlapping source */
	memcpy(out + 2, "wxyz", 4);
	ck_assert_uint_eq(
	        stun_chandata_build(out, 8, 0x4000, out + 2, 4, false), 8);
	ck_assert(memcmp(out + 4, "wxyz", 4) == 0);

	ck_assert_uint_eq(stun_chandata_build(out, 11, 0x4001, NULL, 5, true),
	                  0);
	ck_assert_uint_eq(stun_chandata_build(out, 16, 0x8000, NULL, 5, true),
	                  0);
	ck_assert_uint_eq(stun_chandata_build(out, 16, 0x3FFF, NULL, 5, true),
	                  0);
}
END_TEST

/* The stream: frames back to back, with where each ends. Built without
 * ck_assert (it also runs while the suite is set up); a failure returns 0
 * and the test asserts on that. */
static uint8_t stream[256];
static size_t frame_ends[8];
static size_t nframes;

static size_t add_frame(size_t off, size_t len)
{
	if (off == 0 && nframes)
		return 0; /* an earlier frame failed */
	if (len == 0 || nframes == sizeof(frame_ends) / sizeof(frame_ends[0]))
		return 0;
	frame_ends[nframes++] = off + len;
	return off + len;
}

static size_t put_stun(size_t off, uint16_t method, const char *sw)
{
	struct stun_builder b;
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons(5000)};

	sin.sin_addr.s_addr = htonl(0xC0000201);
	stun_build_init(&b, stream + off, sizeof(stream) - off, method,
	                STUN_CLASS_SUCCESS, tid);
	if (sw)
		stun_build_attr(&b, STUN_ATTR_SOFTWARE, sw, strlen(sw));
	else
		stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
		                    (const struct sockaddr *)&sin);
	stun_build_fingerprint(&b);
	return add_frame(off, stun_build_finish(&b));
}

static size_t put_chan(size_t off, uint16_t ch, const char *data)
{
	size_t n = stun_chandata_build(stream + off, sizeof(stream) - off, ch,
	                               (const uint8_t *)data,
	                               (uint16_t)strlen(data), true);
	return add_frame(off, n);
}

static size_t build_stream(void)
{
	size_t off = 0;

	nframes = 0;
	off = put_stun(off, STUN_METHOD_BINDING, NULL);
	off = put_chan(off, 0x4001, "hello");
	off = put_stun(off, STUN_METHOD_REFRESH, "abc");
	off = put_chan(off, 0x4FFF, "");
	off = put_chan(off, 0x4000, "rtp!");
	off = put_chan(off, 0x4abc, "x");
	off = put_stun(off, STUN_METHOD_ALLOCATE, "");
	return off;
}

static void check_frame(const uint8_t *f, size_t len)
{
	if (f[0] < 0x40) {
		struct stun_msg m;
		ck_assert_int_eq(stun_msg_parse(&m, f, len, NULL), 0);
		ck_assert_int_eq(stun_check_fingerprint(&m), 0);
	} else {
		struct stun_chandata cd;
		ck_assert_int_eq(stun_chandata_parse(&cd, f, len, NULL), 0);
	}
}

/* The reader has k bytes of the stream: it must cut exactly the frames
 * that are complete and ask for more at the first one that is not. */
START_TEST(test_stun_frame_len_every_split)
{
	size_t total = build_stream();
	size_t k = (size_t)_i, off = 0, done = 0;

	ck_assert_uint_eq(nframes, 7);
	ck_assert_uint_eq(frame_ends[nframes - 1], total);
	ck_assert_uint_le(k, total);
	for (;;) {
		size_t avail = k - off, n = 0;
		enum stun_reason why = STUN_ERR_SHORT;
		int err = stun_frame_len(stream + off, avail, 1500, &n, &why);
		if (avail < 4) {
			ck_assert_int_eq(err, EAGAIN);
			break;
		}
		ck_assert_int_eq(err, 0);
		ck_assert_int_eq(why, STUN_OK);
		ck_assert_uint_eq(off + n, frame_ends[done]);
		if (n > avail)
			break;
		check_frame(stream + off, n);
		off += n;
		done++;
	}
	size_t want = 0;
	while (want < nframes && frame_ends[want] <= k)
		want++;
	ck_assert_uint_eq(done, want);
}
END_TEST

START_TEST(test_stun_frame_len_args)
{
	size_t n = 0;

	ck_assert_int_eq(stun_frame_len((const uint8_t *)"\x00\x01\x00", 3,
	                                1500, &n, NULL),
	                 EAGAIN);
	ck_assert_int_eq(stun_frame_len(NULL, 4, 1500, &n, NULL), EINVAL);
	ck_assert_int_eq(stun_frame_len((const uint8_t *)"\x00\x01\x00\x00", 4,
	                                1500, NULL, NULL),
	                 EINVAL);
	ck_assert_int_eq(stun_frame_len((const uint8_t *)"\x00\x01\x00\x00", 4,
	                                1500, &n, NULL),
	                 0);
	ck_assert_uint_eq(n, 20);
}
END_TEST

static Suite *stun_framing_suite(void)
{
	Suite *s = suite_create("stun_framing");
	TCase *tc = tcase_create("demux");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_stun_demux_first_byte);
	tcase_add_test(tc, test_stun_chandata_build);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	/* one iteration per prefix length, 0 to the whole stream */
	tcase_add_loop_test(tc, test_stun_frame_len_every_split, 0,
	                    (int)build_stream() + 1);
	tcase_add_test(tc, test_stun_frame_len_args);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stun_framing_suite)
