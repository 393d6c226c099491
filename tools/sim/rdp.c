/*
 * tools/sim/rdp.c - the screen model and the fake RDP PDUs of edge-sim.
 *
 * Sender: a bursty screen-update model, seeded. The screen is idle
 * (0.2 x the mean rate: cursor, clock, small repaints; PDUs of 200-1200
 * bytes) or in a burst (peak x the mean rate: a scroll or a slide change;
 * PDUs of 4-16 KB). Bursts last 400 ms on average (exponential), idle
 * spells are as long as it takes for the mean to be --rate; with --peak
 * 1 or less the rate is constant. A token bucket in bytes of SRTP packets
 * (what the MCU puts in ChannelData, per viewer) paces the packets at the
 * phase's rate (a burst at peak x the mean is that rate, in 1 ms ticks);
 * with --pdu-burst it paces whole PDUs instead, and each PDU leaves for
 * every viewer at once (up to 12 packets x viewers in one instant).
 *
 * PDU framing (the same for every viewer): a TPKT header (RFC 1006:
 * 0x03, 0x00, 16-bit length of the whole PDU), then the PDU's sequence
 * (32 bits), a checksum of the body (32 bits, sim_pdu_sum), and the body:
 * bytes from a pool of seeded pseudo-random bytes. The viewer reassembles
 * by the TPKT length and checks the sum.
 *
 * Receiver: the fragments of one PDU share one RTP timestamp and a new PDU
 * always has a new one, so after a loss the viewer resynchronises at the
 * next timestamp change.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim/sim.h"

#define POOL_LEN  (1u << 20)
#define BURST_NS  400e6
#define IDLE_FRAC 0.2

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static double unit(uint64_t *s)
{
	return (double)(rnd(s) >> 11) / 9007199254740992.0;
}

uint32_t sim_pdu_sum(const uint8_t *p, size_t len)
{
	uint64_t h = 0xCBF29CE484222325ull, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001B3ull;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001B3ull;
	return (uint32_t)(h ^ h >> 32);
}

void sim_screen_init(struct sim_screen *s, uint64_t seed, double peak,
                     bool whole, uint64_t now)
{
	static uint8_t *pool;
	uint64_t r = seed * 0x9E3779B97F4A7C15ull + 7;

	memset(s, 0, sizeof(*s));
	if (!pool && (pool = malloc(POOL_LEN)))
		for (size_t i = 0; i < POOL_LEN; i += 8) {
			uint64_t v = rnd(&r);
			memcpy(pool + i, &v, 8);
		}
	s->pool = pool;
	s->pool_len = POOL_LEN;
	s->rng = seed ^ 0x5CEE2ull;
	s->phase_rng = seed ^ 0xB0B5ull;
	s->peak = peak;
	s->whole = whole;
	s->last_ns = now;
	s->phase_end = now;
}

/* Phases follow each other from the start, whatever the sender's lateness:
 * the same seed gives the same bursts at the same times. Bursts last an
 * exponential time (mean BURST_NS); an idle spell lasts until the plan is
 * back at the mean rate (what the burst sent above the mean, at the idle
 * rate's shortfall), at least IDLE_MIN_NS: so every burst + idle cycle
 * carries exactly the mean, and a run of many cycles is at --rate, not
 * at the luck of a random draw. */
#define IDLE_MIN_NS 50e6
static void next_phase(struct sim_screen *s)
{
	double len;

	s->burst = !s->burst;
	if (s->peak <= 1.0) { /* constant rate: one phase for ever */
		s->burst = true;
		s->phase_end = UINT64_MAX;
		return;
	}
	if (s->burst) {
		len = -log(1.0 - unit(&s->phase_rng)) * BURST_NS + 1;
		s->ahead += len * (s->peak - 1.0);
	} else {
		len = s->ahead / (1.0 - IDLE_FRAC);
		if (len < IDLE_MIN_NS)
			len = IDLE_MIN_NS;
		s->ahead -= len * (1.0 - IDLE_FRAC);
	}
	s->phase_end += (uint64_t)len;
}

bool sim_screen_ready(struct sim_screen *s, double rate_bps, uint64_t now)
{
	double cap;

	while (now >= s->phase_end)
		next_phase(s);
	s->cur = s->peak <= 1.0 ? rate_bps
	                        : rate_bps * (s->burst ? s->peak : IDLE_FRAC);
	s->credit += (double)(now - s->last_ns) * s->cur / 8e9;
	s->last_ns = now;
	/* Paced: at most 2 ms of the current rate and one packet banked, so
	 * a late tick does not turn into a burst above the rate. Whole PDUs:
	 * 100 ms of the peak rate. */
	cap = s->whole ? rate_bps * (s->peak > 1.0 ? s->peak : 1.0) / 80.0
	               : s->cur / 8.0 * 0.002 + SIM_WIRE_MAX;
	if (s->credit > cap)
		s->credit = cap;
	return s->credit > 0 && rate_bps > 0;
}

size_t sim_screen_next(struct sim_screen *s, double rate_bps, uint64_t now,
                       uint8_t *out)
{
	double cur;
	size_t len;

	if (!sim_screen_ready(s, rate_bps, now))
		return 0;
	cur = s->cur;
	if (s->burst && s->peak > 1.0)
		len = 4096 + rnd(&s->rng) % (SIM_PDU_MAX - 4096 + 1);
	else if (s->peak > 1.0)
		len = 200 + rnd(&s->rng) % 1001;
	else
		len = 1000 + rnd(&s->rng) % 3001;
	/* at most 50 ms of the current rate, so that low rates stay smooth */
	size_t lim = (size_t)(cur / 8.0 * 0.05);
	if (len > lim)
		len = lim < 200 ? 200 : lim;
	uint32_t seq = ++s->pdu_seq;
	size_t off = (seq * 65537ull) % (s->pool_len - SIM_PDU_MAX);
	out[0] = 3;
	out[1] = 0;
	out[2] = (uint8_t)(len >> 8);
	out[3] = (uint8_t)len;
	memcpy(out + 4, &seq, 4);
	memcpy(out + SIM_PDU_HDR, s->pool + off, len - SIM_PDU_HDR);
	uint32_t sum = sim_pdu_sum(out + SIM_PDU_HDR, len - SIM_PDU_HDR);
	memcpy(out + 8, &sum, 4);
	return len;
}

void sim_screen_spent(struct sim_screen *s, size_t wire_bytes)
{
	s->credit -= (double)wire_bytes;
}

static void finish(struct sim_reasm *r, bool ok)
{
	if (r->st) {
		if (ok)
			r->st->pdus_complete++;
		else
			r->st->pdus_broken++;
	}
	r->active = false;
	r->st = NULL;
}

static void begin(struct sim_reasm *r, const uint8_t *p, size_t len,
                  struct sim_vstats *st)
{
	r->st = st;
	r->active = true;
	r->got = 0;
	if (len < 4 || p[0] != 3 || p[1] != 0) {
		r->want = 0;
		finish(r, false);
		r->sync = false;
		return;
	}
	r->want = (uint32_t)(p[2] << 8 | p[3]);
	if (r->want < SIM_PDU_HDR || r->want > SIM_PDU_MAX) {
		finish(r, false);
		r->sync = false;
	}
}

void sim_reasm_add(struct sim_reasm *r, const uint8_t *p, size_t len,
                   uint32_t ts, bool gap, struct sim_vstats *st)
{
	bool new_ts = !r->have_ts || ts != r->ts;

	r->ts = ts;
	r->have_ts = true;
	if (gap) {
		if (r->active)
			finish(r, false);
		r->sync = false;
	}
	if (r->active && new_ts)
		finish(r, false); /* the previous PDU ended short */
	if (!r->active) {
		if (!r->sync && !new_ts)
			return; /* the rest of a PDU whose start we lost */
		r->sync = true;
		begin(r, p, len, st);
		if (!r->active)
			return;
	}
	if (r->got + len > r->want) {
		finish(r, false);
		r->sync = false;
		return;
	}
	memcpy(r->buf + r->got, p, len);
	r->got += (uint32_t)len;
	if (r->got < r->want)
		return;
	uint32_t sum;
	memcpy(&sum, r->buf + 8, 4);
	finish(r,
	       sum == sim_pdu_sum(r->buf + SIM_PDU_HDR, r->want - SIM_PDU_HDR));
}
