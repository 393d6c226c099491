/*
 * edge/base/clock.h - the daemon's clocks, read in one place. Monotonic
 * time for timeouts and rates, wall time for records and logs. The
 * workers' packet path does not call these: it reads the I/O engine's
 * clock, stamped once per loop turn (edge/net/io.h).
 */
#ifndef AVEDGE_EDGE_BASE_CLOCK_H
#define AVEDGE_EDGE_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t edge_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC, ns and ms */
static inline uint64_t edge_mono_ns(void)
{
	return edge_clock_ns(CLOCK_MONOTONIC);
}

static inline uint64_t edge_mono_ms(void)
{
	return edge_mono_ns() / 1000000u;
}

/* CLOCK_REALTIME, ms since the epoch */
static inline uint64_t edge_wall_ms(void)
{
	return edge_clock_ns(CLOCK_REALTIME) / 1000000u;
}

#endif
