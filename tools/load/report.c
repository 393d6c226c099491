/*
 * tools/load/report.c - the numbers of avedge-load: a log-linear latency
 * histogram (32 buckets per power of two, about 3 % resolution, no
 * allocation), samples of our own CPU (getrusage), of the server's CPU and
 * RSS (/proc/PID/stat utime+stime, /proc/PID/status VmRSS) and of the
 * kernel's UDP buffer drops (/proc/net/snmp, snmp6), and the report as text
 * or as one JSON object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tools/load/load.h"

static int bucket(uint64_t v)
{
	if (v < LOAD_HIST_SUB)
		return (int)v;
	int shift = 63 - __builtin_clzll(v) - 5; /* LOAD_HIST_SUB = 2^5 */
	int idx = (shift + 1) * LOAD_HIST_SUB +
	          (int)((v >> shift) - LOAD_HIST_SUB);
	return idx < LOAD_HIST_N ? idx : LOAD_HIST_N - 1;
}

static uint64_t bucket_mid(int idx)
{
	if (idx < LOAD_HIST_SUB)
		return (uint64_t)idx;
	int shift = idx / LOAD_HIST_SUB - 1;
	uint64_t m = (uint64_t)(idx % LOAD_HIST_SUB + LOAD_HIST_SUB);
	return (m << shift) + ((1ull << shift) >> 1);
}

void load_hist_add(struct load_hist *h, uint64_t v)
{
	h->b[bucket(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

uint64_t load_hist_pct(const struct load_hist *h, double pct)
{
	uint64_t want = (uint64_t)((double)h->n * pct / 100.0 + 0.999999);
	uint64_t seen = 0;

	if (!h->n)
		return 0;
	if (want < 1)
		want = 1;
	for (int i = 0; i < LOAD_HIST_N; i++) {
		seen += h->b[i];
		if (seen >= want)
			return bucket_mid(i) < h->max ? bucket_mid(i) : h->max;
	}
	return h->max;
}

static void hist_merge(struct load_hist *d, const struct load_hist *s)
{
	for (int i = 0; i < LOAD_HIST_N; i++)
		d->b[i] += s->b[i];
	d->n += s->n;
	if (s->max > d->max)
		d->max = s->max;
}

void load_stats_merge(struct load_stats *d, const struct load_stats *s)
{
#define ADD(name) d->name += s->name;
	LOAD_COUNTERS(ADD)
#undef ADD
	for (int i = 0; i < LOAD_ERR_N; i++)
		d->err[i] += s->err[i];
	hist_merge(&d->rtt, &s->rtt);
	hist_merge(&d->alloc_lat, &s->alloc_lat);
	if (s->alloc_first_ns &&
	    (!d->alloc_first_ns || s->alloc_first_ns < d->alloc_first_ns))
		d->alloc_first_ns = s->alloc_first_ns;
	if (s->alloc_last_ns > d->alloc_last_ns)
		d->alloc_last_ns = s->alloc_last_ns;
	if (s->last_err)
		d->last_err = s->last_err;
}

/* --- samples ----------------------------------------------------------- */

static double proc_cpu_s(int pid)
{
	char path[64], buf[1024];
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	/* after ") ": state(3) ... utime(14) stime(15) */
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	           &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long proc_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Udp RcvbufErrors / SndbufErrors of IPv4 (/proc/net/snmp: a header line
 * of names, then one of values) and IPv6 (/proc/net/snmp6). */
static void udp_errors(uint64_t *rcv, uint64_t *snd)
{
	char names[512], vals[512], line[128], key[64];
	unsigned long long v;
	FILE *f = fopen("/proc/net/snmp", "r");

	*rcv = *snd = 0;
	while (f && fgets(names, sizeof(names), f)) {
		if (strncmp(names, "Udp: ", 5) || !fgets(vals, sizeof(vals), f))
			continue;
		char *sn, *sv, *n = strtok_r(names + 5, " \n", &sn);
		char *val = strtok_r(vals + 5, " \n", &sv);
		for (; n && val; n = strtok_r(NULL, " \n", &sn),
		                 val = strtok_r(NULL, " \n", &sv)) {
			if (!strcmp(n, "RcvbufErrors"))
				*rcv += strtoull(val, NULL, 10);
			else if (!strcmp(n, "SndbufErrors"))
				*snd += strtoull(val, NULL, 10);
		}
		break;
	}
	if (f)
		fclose(f);
	if (!(f = fopen("/proc/net/snmp6", "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %llu", key, &v) != 2)
			continue;
		if (!strcmp(key, "Udp6RcvbufErrors"))
			*rcv += v;
		else if (!strcmp(key, "Udp6SndbufErrors"))
			*snd += v;
	}
	fclose(f);
}

/* Whole-machine CPU ticks from the first line of /proc/stat: busy is
 * everything but idle and iowait; softirq is also inside busy. */
static void sys_cpu(struct load_sample *s)
{
	unsigned long long v[10] = {0};
	FILE *f = fopen("/proc/stat", "r");

	s->sys_busy = s->sys_softirq = s->sys_total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	           &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			s->sys_total += v[i];
		s->sys_busy = s->sys_total - v[3] - v[4];
		s->sys_softirq = v[6];
	}
	fclose(f);
}

void load_sample_take(struct load_sample *s, int pid)
{
	struct rusage ru;

	s->wall_ns = load_now_ns();
	getrusage(RUSAGE_SELF, &ru);
	s->tool_cpu_s =
	        (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	s->server_cpu_s = pid > 0 ? proc_cpu_s(pid) : -1;
	s->server_rss_kb = pid > 0 ? proc_rss_kb(pid) : -1;
	udp_errors(&s->udp_rcvbuf_errors, &s->udp_sndbuf_errors);
	sys_cpu(s);
}
