/*
 * tests/unit/test_turn_rtpq.c - per-flow media quality (turn/rtpq.h) on
 * generated RTP flows: loss with every 50th packet dropped by the sender,
 * jitter against the analytic steady state and against a floating-point
 * reference, sequence wrap, reordering and duplicates, restarts, the
 * 8-SSRC table, RTCP, bytes that are not RTP, and the wiring into both
 * relay directions of the TURN data path.
 */
#include "tests/unit/turn_harness.h"
#include "turn/rtpq.h"
#include "turn/turn_int.h"

#include <math.h>

#define T0 5000000ull /* arrival clock origin, ms */

/* A 12-byte RTP header and 20 bytes of payload into b; returns the length. */
static size_t rtp(uint8_t *b, uint8_t pt, uint16_t seq, uint32_t ts,
                  uint32_t ssrc)
{
	memset(b, 0xA5, 32);
	b[0] = 0x80;
	b[1] = pt & 0x7F;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	b[4] = (uint8_t)(ts >> 24);
	b[5] = (uint8_t)(ts >> 16);
	b[6] = (uint8_t)(ts >> 8);
	b[7] = (uint8_t)ts;
	b[8] = (uint8_t)(ssrc >> 24);
	b[9] = (uint8_t)(ssrc >> 16);
	b[10] = (uint8_t)(ssrc >> 8);
	b[11] = (uint8_t)ssrc;
	return 32;
}

static enum turn_rtpq_kind feed(struct turn_rtpq *q, uint8_t pt, uint16_t seq,
                                uint32_t ts, uint32_t ssrc, uint64_t now_ms)
{
	uint8_t b[32];
	size_t n = rtp(b, pt, seq, ts, ssrc);

	return turn_rtpq_update(q, b, n, now_ms);
}

/* The report of the only (or first) SSRC. */
static struct turn_rtpq_ssrc_report first(const struct turn_rtpq *q)
{
	struct turn_rtpq_ssrc_report r[TURN_RTPQ_MAX_SSRC];
	size_t n = 0;

	turn_rtpq_report(q, r, TURN_RTPQ_MAX_SSRC, &n);
	ck_assert_uint_ge(n, 1);
	return r[0];
}

static void assert_near(double got, double want, double rel)
{
	ck_assert_msg(fabs(got - want) <= rel * want,
	              "got %f, want %f +- %.0f%%", got, want, rel * 100);
}

/* ---- loss ---------------------------------------------------------------- */

/* PCMU, 20 ms packets (160 timestamp units), every 50th dropped by the
 * sender: 2% loss, perfect timing so no jitter. */
START_TEST(test_turn_rtpq_loss_every_50th)
{
	struct turn_rtpq q;
	const unsigned n = 3001;
	unsigned sent = 0;

	turn_rtpq_init(&q, 0);
	for (unsigned i = 0; i < n; i++) {
		if (i % 50 == 49)
			continue;
		ck_assert_int_eq(feed(&q, 0, (uint16_t)(1000 + i),
		                      7777 + 160 * i, 0x11223344, T0 + 20 * i),
		                 TURN_RTPQ_RTP);
		sent++;
	}
	struct turn_rtpq_ssrc_report r = first(&q);
	ck_assert_uint_eq(r.ssrc, 0x11223344);
	ck_assert_uint_eq(r.payload_type, 0);
	ck_assert_uint_eq(r.clock_hz, 8000);
	ck_assert(r.validated);
	ck_assert_uint_eq(r.expected, n);
	ck_assert_uint_eq(r.received, sent);
	ck_assert_uint_eq(r.lost, 60);
	assert_near(r.loss_fraction, 0.02, 0.2);
	ck_assert_uint_eq(r.reordered, 0);
	ck_assert_uint_eq(r.jitter_ts, 0);
	ck_assert(r.jitter_ms < 0.01);
}
END_TEST

/* ---- jitter -------------------------------------------------------------- */

/* Arrivals alternate D ms early and late around the 20 ms schedule: every
 * |D(i,j)| is 2D ms, so RFC 3550's J converges to 2D ms = 16 D timestamp
 * units at 8000 Hz. */
START_TEST(test_turn_rtpq_jitter_alternating)
{
	static const unsigned d_ms[] = {1, 4, 10};
	struct turn_rtpq q;
	unsigned d = d_ms[_i];

	turn_rtpq_init(&q, 0);
	for (unsigned i = 0; i < 500; i++) {
		uint64_t at = T0 + 20 * i + (i & 1 ? d : 0) - (i & 1 ? 0 : d);
		feed(&q, 8, (uint16_t)i, 160 * i, 42, at);
	}
	struct turn_rtpq_ssrc_report r = first(&q);
	ck_assert_uint_eq(r.clock_hz, 8000);
	assert_near(r.jitter_ts, 16.0 * d, 0.2);
	assert_near(r.jitter_ms, 2.0 * d, 0.2);
	ck_assert_uint_eq(r.lost, 0);
}
END_TEST

/* Pseudo-random arrival delays against a reference written the way
 * s6.4.1 states it, in doubles: J += (|D| - J) / 16. */
struct jit_case {
	uint8_t pt;
	uint32_t hz;       /* of the payload type */
	uint32_t frame_ms; /* packet interval */
	uint32_t spread_ms;
};

static const struct jit_case jit_cases[] = {
        {0, 8000, 20, 30},   /* PCMU */
        {9, 8000, 20, 5},    /* G722: RTP clock 8000 */
        {96, 90000, 33, 40}, /* dynamic video: the 90 kHz default */
        {26, 90000, 40, 12}, /* JPEG */
};

static uint32_t lcg(uint32_t *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 8;
}

START_TEST(test_turn_rtpq_jitter_reference)
{
	const struct jit_case *c = &jit_cases[_i];
	struct turn_rtpq q;
	uint32_t seed = 99 + _i;
	double ref = 0, prev_r = 0, prev_s = 0;

	turn_rtpq_init(&q, 0);
	for (unsigned i = 0; i < 2000; i++) {
		uint64_t at = T0 + (uint64_t)c->frame_ms * i +
		              lcg(&seed) % (c->spread_ms + 1);
		uint32_t ts = 1234567u + c->hz / 1000 * c->frame_ms * i;
		feed(&q, c->pt, (uint16_t)(5 + i), ts, 0xCAFE, at);
		double rr = (double)(at - T0) * c->hz / 1000.0, ss = ts;
		if (i > 0) {
			double dd = fabs((rr - prev_r) - (ss - prev_s));
			ref += (dd - ref) / 16.0;
		}
		prev_r = rr;
		prev_s = ss;
	}
	struct turn_rtpq_ssrc_report r = first(&q);
	ck_assert_uint_eq(r.clock_hz, c->hz);
	ck_assert(ref > 0);
	assert_near(r.jitter_ts, ref, 0.2);
	assert_near(r.jitter_ms, ref * 1000.0 / c->hz, 0.2);
}
END_TEST

/* ---- sequence numbers ---------------------------------------------------- */

static const uint16_t wrap_starts[] = {0, 1, 65500, 65534, 65535, 30000};

START_TEST(test_turn_rtpq_seq_wrap)
{
	uint16_t start = wrap_starts[_i];
	struct turn_rtpq q;
	const unsigned n = 200;

	turn_rtpq_init(&q, 0);
	for (unsigned i = 0; i < n; i++)
		feed(&q, 0, (uint16_t)(start + i), 160 * i, 7, T0 + 20 * i);
	struct turn_rtpq_ssrc_report r = first(&q);
	ck_assert_uint_eq(r.ext_max_seq, (uint32_t)start + n - 1);
	ck_assert_uint_eq(r.expected, n);
	ck_assert_uint_eq(r.received, n);
	ck_assert_uint_eq(r.lost, 0);
	ck_assert_uint_eq(r.reordered, 0);
}
END_TEST

/* Losses on both sides of the wrap, and a late packet across it. */
START_TEST(test_turn_rtpq_seq_wrap_loss_and_reorder)
{
	static const uint16_t seqs[] = {65530, 65531, 65532, 65533, 65535,
	                                1,     0,     2,     3,     4};
	struct turn_rtpq q;

	turn_rtpq_init(&q, 0);
	for (unsigned i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		feed(&q, 0, seqs[i], 160u * seqs[i], 7, T0 + 20 * i);
	struct turn_rtpq_ssrc_report r = first(&q);
	ck_assert_uint_eq(r.ext_max_seq, 65536 + 4);
	ck_assert_uint_eq(r.expected, 11);
	ck_assert_uint_eq(r.received, 10);
	ck_assert_uint_eq(r.lost, 1); /* 65534 */
	ck_assert_uint_eq(r.reordered, 1);
}
END_TEST

START_TEST(test_turn_rtpq_reorder_and_duplicates)
{
	static const uint16_t seqs[] = {10, 11, 12, 14, 13, 15, 16, 15, 16, 17};
	struct turn_rtpq q;

	turn_rtpq_init(&q, 0);
	for (unsigned i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++)
		feed(&q, 0, seqs[i], 160u * seqs[i], 7, T0 + 20 * i);
	struct turn_rtpq_ssrc_report r = first(&q);
	ck_assert_uint_eq(r.expected, 8);
	ck_assert_uint_eq(r.received, 8);
	ck_assert_uint_eq(r.lost, 0);
	ck_assert_uint_eq(r.reordered, 1);
	ck_assert_uint_eq(r.duplicates, 2);

	/* 60 behind (beyond the duplicate window, within MAX_MISORDER):
	 * late, counted; 40 more packets first */
	for (unsigned s = 18; s < 80; s++)
		if (s != 20)
			feed(&q, 0, (uint16_t)s, 160 * s, 7, T0 + 20 * s);
	r = first(&q);
	ck_assert_uint_eq(r.lost, 1);
	feed(&q, 0, 20, 160 * 20, 7, T0 + 20 * 80);
	r = first(&q);
	ck_assert_uint_eq(r.lost, 0);
	ck_assert_uint_eq(r.reordered, 2);
	ck_assert_uint_eq(r.received, r.expected);
}
END_TEST

/* The 32-bit extended sequence number wraps (2^32 packets, days of
 * video): lost stays right. The state is put there by hand. */
START_TEST(test_turn_rtpq_ext_seq_wraps)
{
	struct turn_rtpq q;
	unsigned i;

	turn_rtpq_init(&q, 0);
	for (i = 0; i < 2; i++)
		feed(&q, 0, (uint16_t)(65000 + i), 160 * i, 7, T0 + 20 * i);
	struct turn_rtpq_src *s = &q.src[0];
	s->cycles = 0xFFFF0000u;
	s->base_seq = s->cycles + s->max_seq - 999;
	s->received = 995; /* 5 lost so far */
	for (; i < 1002; i++)
		feed(&q, 0, (uint16_t)(65000 + i), 160 * i, 7, T0 + 20 * i);
	ck_assert_uint_eq(s->cycles, 0); /* wrapped */
	struct turn_rtpq_ssrc_report r = first(&q);
	ck_assert_uint_eq(r.lost, 5);
	ck_assert_uint_eq(r.expected, 2000);
	ck_assert_uint_eq(r.received, 1995);
}
END_TEST

/* One stray packet far ahead is ignored; two in a row restart counting
 * there (RFC 3550 A.1: the sender restarted). */
START_TEST(test_turn_rtpq_big_jump)
{
	struct turn_rtpq q;
	unsigned i;

	turn_rtpq_init(&q, 0);
	for (i = 0; i < 100; i++)
		feed(&q, 0, (uint16_t)(100 + i), 160 * i, 7, T0 + 20 * i);
	feed(&q, 0, 30000, 5, 7, T0 + 20 * i++); /* stray */
	for (unsigned k = 0; k < 10; k++, i++)
		feed(&q, 0, (uint16_t)(200 + k), 160 * i, 7, T0 + 20 * i);
	struct turn_rtpq_ssrc_report r = first(&q);
	ck_assert_uint_eq(r.expected, 110);
	ck_assert_uint_eq(r.received, 110);
	ck_assert_uint_eq(r.ext_max_seq, 209);

	for (unsigned k = 0; k < 50; k++, i++)
		feed(&q, 0, (uint16_t)(40000 + k), 160 * k, 7, T0 + 20 * i);
	r = first(&q);
	ck_assert_uint_eq(r.ext_max_seq, 40049);
	ck_assert_uint_eq(r.expected, 50);
	ck_assert_uint_eq(r.received, 50);
	ck_assert_uint_eq(r.lost, 0);
	ck_assert_uint_eq(r.jitter_ts, 0); /* the new timestamp base */
}
END_TEST

/* ---- the SSRC table ------------------------------------------------------ */

START_TEST(test_turn_rtpq_nine_ssrcs)
{
	struct turn_rtpq q;
	struct turn_rtpq_ssrc_report r[TURN_RTPQ_MAX_SSRC + 2];
	struct turn_rtpq_counts c;
	size_t n = 0;

	memset(&q, 0, sizeof(q)); /* zeroed is a valid empty flow */
	for (unsigned round = 0; round < 20; round++)
		for (uint32_t k = 1; k <= 9; k++)
			ck_assert_int_eq(
			        feed(&q, 96, (uint16_t)(k * 1000 + round),
			             3000 * round, k, T0 + 20 * round + k),
			        k <= 8 ? TURN_RTPQ_RTP : TURN_RTPQ_UNTRACKED);
	turn_rtpq_report(&q, r, sizeof(r) / sizeof(r[0]), &n);
	ck_assert_uint_eq(n, 8);
	for (unsigned k = 0; k < 8; k++) {
		ck_assert_uint_eq(r[k].ssrc, k + 1);
		ck_assert_uint_eq(r[k].received, 20);
		ck_assert_uint_eq(r[k].lost, 0);
		ck_assert_uint_eq(r[k].clock_hz, TURN_RTPQ_DEFAULT_HZ);
	}
	turn_rtpq_counts(&q, &c);
	ck_assert_uint_eq(c.ssrcs, 8);
	ck_assert_uint_eq(c.untracked, 20);

	/* a short cap, and none at all */
	turn_rtpq_report(&q, r, 3, &n);
	ck_assert_uint_eq(n, 3);
	turn_rtpq_report(&q, NULL, 0, &n);
	ck_assert_uint_eq(n, 0);

	/* after 30 s of silence from SSRC 1..8, SSRC 9 gets a slot */
	uint64_t later = T0 + 20 * 20 + 30000;
	ck_assert_int_eq(feed(&q, 96, 9000, 0, 9, later), TURN_RTPQ_RTP);
	ck_assert_int_eq(feed(&q, 96, 9001, 3000, 9, later + 33),
	                 TURN_RTPQ_RTP);
	turn_rtpq_report(&q, r, TURN_RTPQ_MAX_SSRC, &n);
	ck_assert_uint_eq(n, 8);
	ck_assert_uint_eq(r[0].ssrc, 9);
	ck_assert_uint_eq(r[0].received, 2);
}
END_TEST

/* ---- RTCP and what is not RTP ------------------------------------------- */

START_TEST(test_turn_rtpq_rtcp_counted_not_used)
{
	struct turn_rtpq q;
	uint8_t sr[28] = {0x80, 200, 0, 6}, rr[8] = {0x80, 201, 0, 1};
	uint8_t srtcp[28 + 14] = {0x81, 201, 0, 7}; /* RR + SRTCP trailer */
	uint8_t cmarker[32];

	turn_rtpq_init(&q, 0);
	for (unsigned i = 0; i < 100; i++) {
		feed(&q, 0, (uint16_t)i, 160 * i, 7, T0 + 20 * i);
		/* RTCP from the same SSRC: its bytes 2-3 are no sequence */
		sr[8] = 0, sr[11] = 7;
		ck_assert_int_eq(turn_rtpq_update(&q, sr, sizeof(sr), T0 + i),
		                 TURN_RTPQ_RTCP);
	}
	ck_assert_int_eq(turn_rtpq_update(&q, rr, sizeof(rr), T0),
	                 TURN_RTPQ_RTCP);
	ck_assert_int_eq(turn_rtpq_update(&q, srtcp, sizeof(srtcp), T0),
	                 TURN_RTPQ_RTCP);
	/* RFC 5761: payload type 72 with the marker bit is RTCP's 200 */
	rtp(cmarker, 72, 500, 0, 7);
	cmarker[1] |= 0x80;
	ck_assert_int_eq(turn_rtpq_update(&q, cmarker, sizeof(cmarker), T0),
	                 TURN_RTPQ_MALFORMED); /* as RTCP, its length lies */
	struct turn_rtpq_ssrc_report r = first(&q);
	ck_assert_uint_eq(r.expected, 100);
	ck_assert_uint_eq(r.received, 100);
	ck_assert_uint_eq(r.jitter_ts, 0);
	struct turn_rtpq_counts c;
	turn_rtpq_counts(&q, &c);
	ck_assert_uint_eq(c.rtcp, 102);
	ck_assert_uint_eq(c.ssrcs, 1);
}
END_TEST

struct bad_row {
	const char *name;
	uint8_t bytes[40];
	size_t len;
	enum turn_rtpq_kind kind;
};

static const struct bad_row bad_rows[] = {
        {"empty", {0}, 0, TURN_RTPQ_NOT_RTP},
        {"stun binding",
         {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1,  2,
          3,    4,    5,    6,    7,    8,    9,    10,   11, 12},
         20,
         TURN_RTPQ_NOT_RTP},
        {"zrtp",
         {0x10, 0, 0, 0, 'Z', 'R', 'T', 'P', 0, 0, 0, 0},
         12,
         TURN_RTPQ_NOT_RTP},
        {"dtls handshake",
         {0x16, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20},
         13,
         TURN_RTPQ_NOT_RTP},
        {"turn channeldata",
         {0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4},
         8,
         TURN_RTPQ_NOT_RTP},
        {"version 0",
         {0x00, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},
         12,
         TURN_RTPQ_NOT_RTP},
        {"version 1",
         {0x40, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},
         12,
         TURN_RTPQ_NOT_RTP},
        {"version 3",
         {0xC0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},
         12,
         TURN_RTPQ_NOT_RTP},
        {"random high", {0xFF, 0xFF, 0xFF, 0xFF}, 4, TURN_RTPQ_NOT_RTP},
        {"one byte", {0x80}, 1, TURN_RTPQ_MALFORMED},
        {"short rtp",
         {0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0},
         11,
         TURN_RTPQ_MALFORMED},
        {"cc larger than packet",
         {0x8F, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0},
         20,
         TURN_RTPQ_MALFORMED},
        {"cc 2, 1 csrc",
         {0x82, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9, 9, 9},
         16,
         TURN_RTPQ_MALFORMED},
        {"extension header missing",
         {0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE},
         14,
         TURN_RTPQ_MALFORMED},
        {"extension longer than packet",
         {0x90, 0, 0,    1,    0,    0,    0, 1, 0, 0,
          0,    1, 0xBE, 0xDE, 0x00, 0x02, 1, 2, 3, 4},
         20,
         TURN_RTPQ_MALFORMED},
        {"extension length 0xFFFF",
         {0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0xFF, 0xFF},
         16,
         TURN_RTPQ_MALFORMED},
        {"padding without a count byte",
         {0xA0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},
         12,
         TURN_RTPQ_MALFORMED},
        {"rtcp too short", {0x80, 200, 0, 0}, 4, TURN_RTPQ_MALFORMED},
        {"rtcp length past the end",
         {0x80, 201, 0, 9, 0, 0, 0, 1},
         8,
         TURN_RTPQ_MALFORMED},
        /* and what passes, for contrast */
        {"rtp header only",
         {0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},
         12,
         TURN_RTPQ_RTP},
        {"rtp csrc + extension",
         {0x91, 96, 0, 1, 0,    0,    0, 1, 0,    0,    0, 1,
          9,    9,  9, 9, 0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0},
         24,
         TURN_RTPQ_RTP},
        {"rtp padding",
         {0xA0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4},
         16,
         TURN_RTPQ_RTP},
        {"rtcp rr", {0x80, 201, 0, 1, 0, 0, 0, 1}, 8, TURN_RTPQ_RTCP},
};

START_TEST(test_turn_rtpq_not_rtp_table)
{
	const struct bad_row *row = &bad_rows[_i];
	struct turn_rtpq q;
	struct turn_rtpq_counts c;
	/* exactly len bytes on the heap: a sanitizer sees any over-read */
	uint8_t *buf = row->len ? malloc(row->len) : NULL;

	if (row->len)
		memcpy(buf, row->bytes, row->len);
	turn_rtpq_init(&q, 0);
	ck_assert_msg(turn_rtpq_update(&q, buf, row->len, T0) == row->kind,
	              "%s", row->name);
	turn_rtpq_counts(&q, &c);
	ck_assert_uint_eq(c.ssrcs, row->kind == TURN_RTPQ_RTP ? 1 : 0);
	ck_assert_uint_eq(c.not_rtp, row->kind == TURN_RTPQ_NOT_RTP);
	ck_assert_uint_eq(c.malformed, row->kind == TURN_RTPQ_MALFORMED);
	ck_assert_uint_eq(c.rtcp, row->kind == TURN_RTPQ_RTCP);
	free(buf);
}
END_TEST

/* Any bytes: no crash, and the estimates stay consistent. */
START_TEST(test_turn_rtpq_random_bytes)
{
	struct turn_rtpq q;
	struct turn_rtpq_ssrc_report r[TURN_RTPQ_MAX_SSRC];
	uint32_t seed = 4242;
	size_t n;

	turn_rtpq_init(&q, 48000);
	for (unsigned i = 0; i < 200000; i++) {
		size_t len = lcg(&seed) % 48;
		uint8_t *buf = len ? malloc(len) : NULL;
		for (size_t k = 0; k < len; k++)
			buf[k] = (uint8_t)lcg(&seed);
		if (len && (i & 1)) /* half of them in the RTP range */
			buf[0] = (uint8_t)(0x80 | (buf[0] & 0x3F));
		if (len >= 12 && (i & 2)) /* and a few SSRCs, to get deep */
			buf[8] = buf[9] = buf[10] = 0, buf[11] &= 3;
		turn_rtpq_update(&q, buf, len, T0 + i / 4);
		free(buf);
	}
	turn_rtpq_report(&q, r, TURN_RTPQ_MAX_SSRC, &n);
	ck_assert_uint_le(n, TURN_RTPQ_MAX_SSRC);
	for (size_t k = 0; k < n; k++) {
		ck_assert_uint_le(r[k].lost, r[k].expected);
		ck_assert(r[k].loss_fraction >= 0 && r[k].loss_fraction <= 1);
		ck_assert_uint_le(r[k].jitter_ts, 1u << 26);
	}
}
END_TEST

/* ---- clock rates --------------------------------------------------------- */

START_TEST(test_turn_rtpq_clock_rates)
{
	struct turn_rtpq q;

	ck_assert_uint_eq(turn_rtpq_static_hz(0), 8000);
	ck_assert_uint_eq(turn_rtpq_static_hz(8), 8000);
	ck_assert_uint_eq(turn_rtpq_static_hz(9), 8000);
	ck_assert_uint_eq(turn_rtpq_static_hz(10), 44100);
	ck_assert_uint_eq(turn_rtpq_static_hz(6), 16000);
	ck_assert_uint_eq(turn_rtpq_static_hz(26), 90000);
	ck_assert_uint_eq(turn_rtpq_static_hz(34), 90000);
	ck_assert_uint_eq(turn_rtpq_static_hz(2), 0);
	ck_assert_uint_eq(turn_rtpq_static_hz(35), 0);
	ck_assert_uint_eq(turn_rtpq_static_hz(96), 0);
	ck_assert_uint_eq(turn_rtpq_static_hz(255), 0);

	/* a configured default for dynamic types: Opus at 48 kHz, 20 ms,
	 * alternating 3 ms early/late -> J = 6 ms = 288 units */
	turn_rtpq_init(&q, 48000);
	for (unsigned i = 0; i < 400; i++)
		feed(&q, 111, (uint16_t)i, 960 * i, 1,
		     T0 + 20 * i + (i & 1 ? 3 : 0) - (i & 1 ? 0 : 3));
	struct turn_rtpq_ssrc_report r = first(&q);
	ck_assert_uint_eq(r.clock_hz, 48000);
	assert_near(r.jitter_ts, 288, 0.2);
	assert_near(r.jitter_ms, 6, 0.2);
	ck_assert_uint_le(sizeof(struct turn_rtpq), 512);
}
END_TEST

/* ---- wiring into the relay ----------------------------------------------- */

#define PEER "198.51.100.7"

static struct turn_perm *perm_of(struct turn_alloc *a)
{
	ck_assert_ptr_nonnull(a->perms);
	return a->perms;
}

/* ChannelData and Send indications from the client feed rtpq[0], peer
 * datagrams rtpq[1]; only relayed datagrams count. */
START_TEST(test_turn_rtpq_relay_both_directions)
{
	struct h *h = h_default();
	struct turn_tuple A = h_tuple("192.0.2.10", 40000);
	struct turn_rtpq_ssrc_report r[2];
	uint8_t pkt[32], cd[64];
	size_t n;

	ck_assert_int_eq(h_allocate(h, &A), 0);
	struct turn_alloc *alloc = h->alloc;
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5004), 0);

	for (unsigned i = 0; i < 200; i++) {
		if (i % 50 == 49)
			continue; /* dropped before the relay */
		h->now_ms = H_MS0 + 20 * i;
		size_t len = rtp(pkt, 0, (uint16_t)i, 160 * i, 0xAAAA);
		size_t m = stun_chandata_build(cd, sizeof(cd), 0x4000, pkt,
		                               (uint16_t)len, false);
		h_input(h, &A, cd, m);
		ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 1);
		len = rtp(pkt, 8, (uint16_t)(9000 + i), 160 * i, 0xBBBB);
		h_peer(h, alloc, PEER, 5004, pkt, len);
		ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 1);
	}
	/* a STUN check between the peers is relayed but is not RTP */
	uint8_t stun[20] = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42};
	h_peer(h, alloc, PEER, 5004, stun, sizeof(stun));

	struct turn_perm *p = perm_of(alloc);
	turn_rtpq_report(&p->rtpq[0], r, 2, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(r[0].ssrc, 0xAAAA);
	ck_assert_uint_eq(r[0].expected, 199); /* 199 was the last, dropped */
	ck_assert_uint_eq(r[0].lost, 3);
	turn_rtpq_report(&p->rtpq[1], r, 2, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(r[0].ssrc, 0xBBBB);
	ck_assert_uint_eq(r[0].payload_type, 8);
	ck_assert_uint_eq(r[0].expected, 199);
	ck_assert_uint_eq(r[0].lost, 3);
	struct turn_rtpq_counts c;
	turn_rtpq_counts(&p->rtpq[1], &c);
	ck_assert_uint_eq(c.not_rtp, 1);

	/* Send indications to the same peer IP feed the same flow */
	struct stun_builder b;
	rtp(pkt, 0, 200, 160 * 200, 0xAAAA);
	h_begin(h, &b, STUN_METHOD_SEND, STUN_CLASS_INDICATION);
	h_peer_attr(&b, PEER, 5004);
	stun_build_attr(&b, STUN_ATTR_DATA, pkt, sizeof(pkt));
	h_send(h, &b, &A);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 1);
	turn_rtpq_report(&p->rtpq[0], r, 2, &n);
	ck_assert_uint_eq(r[0].expected, 201);
	ck_assert_uint_eq(r[0].lost, 4);

	/* no permission: not relayed, not counted */
	h_peer(h, alloc, "198.51.100.99", 5004, pkt, sizeof(pkt));
	ck_assert_uint_eq(h->nsent, 0);
	turn_rtpq_counts(&p->rtpq[1], &c);
	ck_assert_uint_eq(c.not_rtp, 1);
	h_free(h);
}
END_TEST

static Suite *turn_rtpq_suite(void)
{
	Suite *s = suite_create("turn_rtpq");
	TCase *tc = tcase_create("loss");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_rtpq_loss_every_50th);
	suite_add_tcase(s, tc);

	tc = tcase_create("jitter");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_rtpq_jitter_alternating, 0, 3);
	tcase_add_loop_test(tc, test_turn_rtpq_jitter_reference, 0,
	                    (int)(sizeof(jit_cases) / sizeof(jit_cases[0])));
	tcase_add_test(tc, test_turn_rtpq_clock_rates);
	suite_add_tcase(s, tc);

	tc = tcase_create("sequence");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(
	        tc, test_turn_rtpq_seq_wrap, 0,
	        (int)(sizeof(wrap_starts) / sizeof(wrap_starts[0])));
	tcase_add_test(tc, test_turn_rtpq_seq_wrap_loss_and_reorder);
	tcase_add_test(tc, test_turn_rtpq_reorder_and_duplicates);
	tcase_add_test(tc, test_turn_rtpq_big_jump);
	tcase_add_test(tc, test_turn_rtpq_ext_seq_wraps);
	suite_add_tcase(s, tc);

	tc = tcase_create("ssrc");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_rtpq_nine_ssrcs);
	suite_add_tcase(s, tc);

	tc = tcase_create("demux");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_rtpq_rtcp_counted_not_used);
	tcase_add_loop_test(tc, test_turn_rtpq_not_rtp_table, 0,
	                    (int)(sizeof(bad_rows) / sizeof(bad_rows[0])));
	tcase_add_test(tc, test_turn_rtpq_random_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("relay");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_rtpq_relay_both_directions);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_rtpq_suite)
