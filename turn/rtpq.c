/*
 * turn/rtpq.c - per-flow media quality estimator (turn/rtpq.h): RFC 7983
 * demux, RFC 3550 header checks, A.1 sequence tracking, A.3 loss, A.8
 * jitter, per SSRC. The packet path (turn_rtpq_update) reads at most the
 * fixed header and extension header length, does a few compares, shifts
 * and one 64-bit multiply, and never divides: clock rates are kept as
 * timestamp units per ms in 16.16 fixed point, from a constant table.
 * Pure: time is now_ms; the caller owns the struct.
 */
#include "turn/rtpq.h"

#include <stdbool.h>
#include <string.h>

#define SEQ_MOD        65536u
#define MAX_DROPOUT    3000u /* RFC 3550 A.1 */
#define MAX_MISORDER   100u
#define MIN_SEQUENTIAL 2u
#define WINDOW_BITS    32u
/* A slot can be taken over by a new SSRC after this much silence (a slot
 * still on probation sooner: noise that merely looks like RTP). */
#define IDLE_MS           30000u
#define PROBATION_IDLE_MS 1000u
/* |D| is clamped so that 16 * jitter never overflows (~745 s at 90 kHz). */
#define D_CLAMP (1u << 26)

/* Timestamp units per ms in 16.16 fixed point; compile-time constants. */
#define MUL(hz) ((uint32_t)(((uint64_t)(hz) << 16) / 1000u))

_Static_assert(sizeof(struct turn_rtpq) <= 512, "turn_rtpq grew: rtpq.h");

/* RFC 3551 tables 4 and 5 (payload types 0..34; the rest have none). */
static const uint32_t static_hz[35] = {
        [0] = 8000,   /* PCMU */
        [3] = 8000,   /* GSM */
        [4] = 8000,   /* G723 */
        [5] = 8000,   /* DVI4 */
        [6] = 16000,  /* DVI4 */
        [7] = 8000,   /* LPC */
        [8] = 8000,   /* PCMA */
        [9] = 8000,   /* G722 (RTP clock 8000, RFC 3551 s4.5.2) */
        [10] = 44100, /* L16 stereo */
        [11] = 44100, /* L16 mono */
        [12] = 8000,  /* QCELP */
        [13] = 8000,  /* CN */
        [14] = 90000, /* MPA */
        [15] = 8000,  /* G728 */
        [16] = 11025, /* DVI4 */
        [17] = 22050, /* DVI4 */
        [18] = 8000,  /* G729 */
        [25] = 90000, /* CelB */
        [26] = 90000, /* JPEG */
        [28] = 90000, /* nv */
        [31] = 90000, /* H261 */
        [32] = 90000, /* MPV */
        [33] = 90000, /* MP2T */
        [34] = 90000, /* H263 */
};

static const uint32_t static_mul[35] = {
        [0] = MUL(8000),   [3] = MUL(8000),   [4] = MUL(8000),
        [5] = MUL(8000),   [6] = MUL(16000),  [7] = MUL(8000),
        [8] = MUL(8000),   [9] = MUL(8000),   [10] = MUL(44100),
        [11] = MUL(44100), [12] = MUL(8000),  [13] = MUL(8000),
        [14] = MUL(90000), [15] = MUL(8000),  [16] = MUL(11025),
        [17] = MUL(22050), [18] = MUL(8000),  [25] = MUL(90000),
        [26] = MUL(90000), [28] = MUL(90000), [31] = MUL(90000),
        [32] = MUL(90000), [33] = MUL(90000), [34] = MUL(90000),
};

uint32_t turn_rtpq_static_hz(uint8_t pt)
{
	return pt < 35 ? static_hz[pt] : 0;
}

static uint32_t flow_hz(const struct turn_rtpq *q, uint8_t pt)
{
	uint32_t hz = turn_rtpq_static_hz(pt);

	if (hz)
		return hz;
	return q->dynamic_hz ? q->dynamic_hz : TURN_RTPQ_DEFAULT_HZ;
}

static uint32_t flow_mul(const struct turn_rtpq *q, uint8_t pt)
{
	if (pt < 35 && static_mul[pt])
		return static_mul[pt];
	return q->dynamic_mul ? q->dynamic_mul : MUL(TURN_RTPQ_DEFAULT_HZ);
}

void turn_rtpq_init(struct turn_rtpq *q, uint32_t dynamic_hz)
{
	memset(q, 0, sizeof(*q));
	if (dynamic_hz) {
		q->dynamic_hz = dynamic_hz;
		q->dynamic_mul =
		        (uint32_t)(((uint64_t)dynamic_hz << 16) / 1000);
	}
}

/* --- header checks (RFC 3550 s5.1, RFC 5761 s4) ------------------------ */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* One RTCP packet at least (SRTCP adds a trailer: the length may be
 * shorter than the datagram, never longer). */
static bool rtcp_ok(const uint8_t *b, size_t len)
{
	return len >= 8 && ((size_t)((b[2] << 8) | b[3]) + 1) * 4 <= len;
}

/* Fixed header, CSRCs and the extension header fit. With P set there must
 * be a byte for the padding count; its value is not checked, because
 * under SRTP the last bytes are the authentication tag. */
static bool rtp_ok(const uint8_t *b, size_t len)
{
	size_t hl = 12 + 4 * (size_t)(b[0] & 0x0F);

	if (len < hl)
		return false;
	if (b[0] & 0x10) {
		if (len < hl + 4)
			return false;
		hl += 4 + 4 * (size_t)((b[hl + 2] << 8) | b[hl + 3]);
		if (len < hl)
			return false;
	}
	return !(b[0] & 0x20) || len > hl;
}

/* --- sequence numbers (RFC 3550 A.1) ----------------------------------- */

enum seq_outcome { SEQ_COUNTED, SEQ_PROBATION, SEQ_RESTART, SEQ_IGNORED };

/* Start counting at seq, whose predecessor seq - 1 was also received (the
 * last probation packet, or the first packet after a big jump). */
static void seq_start(struct turn_rtpq_src *s, uint16_t seq)
{
	s->max_seq = seq;
	s->cycles = seq == 0 ? SEQ_MOD : 0;
	s->base_seq = s->cycles + seq - 1;
	s->bad_seq = SEQ_MOD + 1;
	s->received = 2;
	s->window = 3;
}

/* A packet behind max_seq by k (1..MAX_MISORDER). */
static enum seq_outcome seq_late(struct turn_rtpq_src *s, uint16_t k)
{
	if (k < WINDOW_BITS) {
		if (s->window & (1u << k)) {
			s->dups++;
			return SEQ_IGNORED;
		}
		s->window |= 1u << k;
	}
	s->reordered++;
	/* from before counting started: late, but not part of expected */
	if ((int32_t)(s->cycles + s->max_seq - k - s->base_seq) >= 0)
		s->received++;
	return SEQ_COUNTED;
}

static enum seq_outcome seq_update(struct turn_rtpq_src *s, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - s->max_seq);

	if (s->probation) {
		if (udelta == 1 && --s->probation == 0) {
			seq_start(s, seq);
			return SEQ_COUNTED;
		}
		if (udelta != 1)
			s->probation = MIN_SEQUENTIAL - 1;
		s->max_seq = seq;
		return SEQ_PROBATION;
	}
	if (udelta == 0) {
		s->dups++;
		return SEQ_IGNORED;
	}
	if (udelta < MAX_DROPOUT) {
		if (seq < s->max_seq)
			s->cycles += SEQ_MOD;
		s->max_seq = seq;
		s->window =
		        udelta >= WINDOW_BITS ? 1 : (s->window << udelta) | 1;
		s->received++;
		return SEQ_COUNTED;
	}
	if (udelta <= SEQ_MOD - MAX_MISORDER) {
		/* a big jump: restart when the next packet follows it */
		if (seq == s->bad_seq) {
			seq_start(s, seq);
			return SEQ_RESTART;
		}
		s->bad_seq = (seq + 1u) & (SEQ_MOD - 1);
		return SEQ_IGNORED;
	}
	return seq_late(s, (uint16_t)(s->max_seq - seq));
}

/* --- jitter (RFC 3550 s6.4.1, A.8) ------------------------------------- */

/* D(i,j) = (Rj - Ri) - (Sj - Si) in timestamp units, with Rj - Ri from
 * the ms arrival times; J += (|D| - J) / 16, kept as 16 * J. */
static void jitter_step(struct turn_rtpq_src *s, uint32_t ts, uint32_t now32,
                        bool update)
{
	if (s->have_prev && update) {
		uint64_t dms = now32 - s->last_ms;
		uint32_t arr =
		        (uint32_t)((dms * s->ts_per_ms_q16 + 0x8000u) >> 16);
		uint32_t d = arr - (ts - s->last_ts);
		uint32_t ad = (int32_t)d < 0 ? 0u - d : d;
		if (ad > D_CLAMP)
			ad = D_CLAMP;
		s->jitter_q4 += ad - ((s->jitter_q4 + 8) >> 4);
	}
	s->last_ts = ts;
	s->last_ms = now32;
	s->have_prev = 1;
}

/* --- SSRC table -------------------------------------------------------- */

static void src_new(struct turn_rtpq *q, unsigned i, uint32_t ssrc,
                    uint16_t seq, uint8_t pt, uint32_t now32)
{
	struct turn_rtpq_src *s = &q->src[i];

	memset(s, 0, sizeof(*s));
	q->ssrc[i] = ssrc;
	s->max_seq = (uint16_t)(seq - 1);
	s->probation = MIN_SEQUENTIAL;
	s->bad_seq = SEQ_MOD + 1;
	s->pt = pt;
	s->ts_per_ms_q16 = flow_mul(q, pt);
	s->last_ms = now32;
}

/* The slot of ssrc, a new one, or -1 when the table is full. */
static int src_slot(struct turn_rtpq *q, uint32_t ssrc, uint16_t seq,
                    uint8_t pt, uint32_t now32)
{
	unsigned i = q->hint;

	if (i < q->n && q->ssrc[i] == ssrc)
		return (int)i;
	for (i = 0; i < q->n; i++) {
		if (q->ssrc[i] == ssrc) {
			q->hint = (uint8_t)i;
			return (int)i;
		}
	}
	if (q->n < TURN_RTPQ_MAX_SSRC) {
		i = q->n++;
	} else {
		for (i = 0; i < q->n; i++) {
			const struct turn_rtpq_src *s = &q->src[i];
			uint32_t idle = now32 - s->last_ms;
			if (idle >=
			    (s->probation ? PROBATION_IDLE_MS : IDLE_MS))
				break;
		}
		if (i == q->n)
			return -1;
	}
	src_new(q, i, ssrc, seq, pt, now32);
	q->hint = (uint8_t)i;
	return (int)i;
}

enum turn_rtpq_kind turn_rtpq_update(struct turn_rtpq *q, const uint8_t *buf,
                                     size_t len, uint64_t now_ms)
{
	uint32_t now32 = (uint32_t)now_ms;

	if (!len || (buf[0] & 0xC0) != 0x80) { /* RFC 7983: 128..191 */
		q->not_rtp++;
		return TURN_RTPQ_NOT_RTP;
	}
	if (len >= 2 && buf[1] >= 192 && buf[1] <= 223) { /* RFC 5761 s4 */
		if (!rtcp_ok(buf, len)) {
			q->malformed++;
			return TURN_RTPQ_MALFORMED;
		}
		q->rtcp++;
		return TURN_RTPQ_RTCP;
	}
	if (!rtp_ok(buf, len)) {
		q->malformed++;
		return TURN_RTPQ_MALFORMED;
	}
	uint8_t pt = buf[1] & 0x7F;
	uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
	int i = src_slot(q, be32(buf + 8), seq, pt, now32);
	if (i < 0) {
		q->untracked++;
		return TURN_RTPQ_UNTRACKED;
	}
	struct turn_rtpq_src *s = &q->src[i];
	if (pt != s->pt) { /* a new clock restarts the jitter baseline */
		uint32_t mul = flow_mul(q, pt);
		s->pt = pt;
		if (mul != s->ts_per_ms_q16) {
			s->ts_per_ms_q16 = mul;
			s->have_prev = 0;
		}
	}
	enum seq_outcome o = seq_update(s, seq);
	if (o == SEQ_RESTART)
		s->have_prev = 0;
	if (o != SEQ_IGNORED)
		jitter_step(s, be32(buf + 4), now32, o == SEQ_COUNTED);
	return TURN_RTPQ_RTP;
}

/* --- reading ----------------------------------------------------------- */

static void report_one(const struct turn_rtpq *q, unsigned i,
                       struct turn_rtpq_ssrc_report *r)
{
	const struct turn_rtpq_src *s = &q->src[i];
	uint32_t ext = s->cycles + s->max_seq;

	memset(r, 0, sizeof(*r));
	r->ssrc = q->ssrc[i];
	r->payload_type = s->pt;
	r->validated = s->probation == 0;
	r->clock_hz = flow_hz(q, s->pt);
	r->ext_max_seq = ext;
	r->reordered = s->reordered;
	r->duplicates = s->dups;
	r->jitter_ts = s->jitter_q4 >> 4;
	r->jitter_ms = (double)s->jitter_q4 * 1000.0 / (16.0 * r->clock_hz);
	if (!r->validated)
		return;
	/* modulo 2^32, like the counters: lost stays right across a wrap */
	uint32_t expected = ext - s->base_seq + 1;
	int32_t lost = (int32_t)(expected - s->received);
	r->received = s->received;
	r->expected = expected;
	r->lost = lost > 0 ? (uint64_t)lost : 0;
	if (r->expected)
		r->loss_fraction = (double)r->lost / (double)r->expected;
}

void turn_rtpq_report(const struct turn_rtpq *q,
                      struct turn_rtpq_ssrc_report *out, size_t cap, size_t *n)
{
	size_t k = 0;

	for (unsigned i = 0; i < q->n && i < TURN_RTPQ_MAX_SSRC && k < cap; i++)
		report_one(q, i, &out[k++]);
	if (n)
		*n = k;
}

void turn_rtpq_counts(const struct turn_rtpq *q, struct turn_rtpq_counts *out)
{
	out->ssrcs = q->n;
	out->rtcp = q->rtcp;
	out->untracked = q->untracked;
	out->not_rtp = q->not_rtp;
	out->malformed = q->malformed;
}
