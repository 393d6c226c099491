/*
 * bench/rtpq_bench.c - what turn_rtpq_update() (turn/rtpq.c) costs per
 * relayed datagram. Not a test: a number to record with the exact command.
 *
 *   cc -O2 -I. bench/rtpq_bench.c turn/rtpq.c -o /tmp/rtpq_bench
 *   /tmp/rtpq_bench [packets]
 *
 * Feeds pre-built datagrams (so only the estimator is timed) through one
 * flow in four shapes: one audio SSRC; a WebRTC-like bundle of 6 SSRCs
 * interleaved with 1% loss and some reordering; 9 SSRCs (one untracked);
 * non-RTP (DTLS/STUN) bytes. Prints ns per datagram for each, next to an
 * empty loop over the same buffers for the floor.
 */
#include "turn/rtpq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NBUF 4096
#define PLEN 200

static uint8_t bufs[NBUF][PLEN];
static uint64_t at_ms[NBUF];

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void put(uint8_t *b, uint8_t pt, uint16_t seq, uint32_t ts,
                uint32_t ssrc)
{
	b[0] = 0x80;
	b[1] = pt;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		b[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		b[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
}

/* nssrc streams interleaved; every 100th packet lost, every 37th swapped
 * with its successor when shuffle is set. */
static void build(unsigned nssrc, int shuffle, int not_rtp)
{
	uint16_t seq[16] = {0};

	for (unsigned i = 0; i < NBUF; i++) {
		unsigned k = i % nssrc;
		memset(bufs[i], 0x5A, PLEN);
		if (shuffle && seq[k] % 100 == 99)
			seq[k]++;
		put(bufs[i], k ? 96 : 111, seq[k], 3000u * seq[k], 0x1000 + k);
		seq[k]++;
		if (not_rtp)
			bufs[i][0] = i & 1 ? 0x16 : 0x00;
		at_ms[i] = 1000000 + i / 2 + (i % 7);
	}
	if (shuffle)
		for (unsigned i = 0; i + 1 < NBUF; i += 37) {
			uint8_t t[PLEN];
			memcpy(t, bufs[i], PLEN);
			memcpy(bufs[i], bufs[i + 1], PLEN);
			memcpy(bufs[i + 1], t, PLEN);
		}
}

static double run(unsigned long n, int empty, unsigned *sink)
{
	struct turn_rtpq q;
	double t0;

	turn_rtpq_init(&q, 0);
	t0 = now_s();
	for (unsigned long i = 0; i < n; i++) {
		unsigned j = (unsigned)(i % NBUF);
		if (empty)
			*sink += bufs[j][(i >> 12) & 7];
		else
			*sink += turn_rtpq_update(&q, bufs[j], PLEN,
			                          at_ms[j] + (i >> 12) * 2048);
	}
	return (now_s() - t0) * 1e9 / (double)n;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		unsigned nssrc;
		int shuffle, not_rtp;
	} shapes[] = {
	        {"1 ssrc", 1, 0, 0},
	        {"6 ssrcs, loss+reorder", 6, 1, 0},
	        {"9 ssrcs (1 untracked)", 9, 0, 0},
	        {"not rtp", 1, 0, 1},
	};
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 50000000ul;
	unsigned sink = 0;

	printf("sizeof(struct turn_rtpq) = %zu bytes\n",
	       sizeof(struct turn_rtpq));
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		build(shapes[s].nssrc, shapes[s].shuffle, shapes[s].not_rtp);
		double floor_ns = run(n, 1, &sink);
		double ns = run(n, 0, &sink);
		printf("%-24s %6.2f ns/datagram (empty loop %5.2f ns)\n",
		       shapes[s].name, ns, floor_ns);
	}
	return sink == 0x12345678u; /* keep the loops */
}
