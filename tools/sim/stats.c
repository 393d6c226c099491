/*
 * tools/sim/stats.c - histograms and the run's schedule. A histogram has
 * SIM_HIST_SUB buckets per power of two of nanoseconds (relative error
 * under 1/SIM_HIST_SUB); percentiles report a bucket's upper bound.
 */
#include <errno.h>
#include <string.h>

#include "tools/sim/sim.h"

static int bucket(uint64_t v)
{
	if (v < SIM_HIST_SUB)
		return (int)v;
	int e = 63 - __builtin_clzll(v); /* v >= 2^e */
	int sub = (int)((v >> (e - 3)) & (SIM_HIST_SUB - 1));
	int b = (e - 2) * SIM_HIST_SUB + sub;
	return b < SIM_HIST_N ? b : SIM_HIST_N - 1;
}

static uint64_t upper(int b)
{
	if (b < SIM_HIST_SUB)
		return (uint64_t)b;
	int e = b / SIM_HIST_SUB + 2, sub = b % SIM_HIST_SUB;
	return ((uint64_t)(SIM_HIST_SUB + sub + 1) << (e - 3)) - 1;
}

void sim_hist_add(struct sim_hist *h, uint64_t v)
{
	h->b[bucket(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

void sim_hist_merge(struct sim_hist *into, const struct sim_hist *h)
{
	for (int i = 0; i < SIM_HIST_N; i++)
		into->b[i] += h->b[i];
	into->n += h->n;
	if (h->max > into->max)
		into->max = h->max;
}

uint64_t sim_hist_pct(const struct sim_hist *h, double p)
{
	uint64_t want, seen = 0;

	if (!h->n)
		return 0;
	want = (uint64_t)((double)h->n * p / 100.0);
	if (want >= h->n)
		want = h->n - 1;
	for (int i = 0; i < SIM_HIST_N; i++) {
		seen += h->b[i];
		if (seen > want) {
			uint64_t u = upper(i);
			return u < h->max ? u : h->max;
		}
	}
	return h->max;
}

int sim_step_of(const struct sim_sched *s, uint64_t t)
{
	for (int i = 0; i < s->nsteps; i++)
		if (t >= s->win_start[i] && t < s->win_end[i])
			return i;
	return -1;
}
