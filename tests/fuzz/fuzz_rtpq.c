/*
 * tests/fuzz/fuzz_rtpq.c - libFuzzer target for the per-flow RTP quality
 * estimator (turn/rtpq.c), which reads every relayed datagram, i.e.
 * bytes anyone on the internet chooses. The input is cut into datagrams
 * (a length byte, a time step byte, then the bytes) fed to one flow; the
 * report is taken after each and must stay consistent (lost <= expected,
 * at most TURN_RTPQ_MAX_SSRC streams), or the target traps.
 */
#include <stdint.h>
#include <string.h>

#include "turn/rtpq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                             \
	do {                                                                   \
		if (!(c))                                                      \
			__builtin_trap();                                      \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct turn_rtpq q;
	struct turn_rtpq_ssrc_report r[TURN_RTPQ_MAX_SSRC];
	uint64_t now_ms = 1000000;
	size_t n;

	turn_rtpq_init(&q, size ? (uint32_t)data[0] * 1000u : 0);
	while (size >= 2) {
		size_t len = data[0];
		now_ms += data[1];
		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		turn_rtpq_update(&q, data, len, now_ms);
		data += len;
		size -= len;
		turn_rtpq_report(&q, r, TURN_RTPQ_MAX_SSRC, &n);
		REQUIRE(n <= TURN_RTPQ_MAX_SSRC);
		for (size_t i = 0; i < n; i++) {
			REQUIRE(r[i].lost <= r[i].expected);
			REQUIRE(r[i].loss_fraction >= 0 &&
			        r[i].loss_fraction <= 1.0);
			REQUIRE(r[i].jitter_ms >= 0);
		}
	}
	return 0;
}
