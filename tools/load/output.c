/*
 * tools/load/output.c - the report of avedge-load: derived numbers
 * (relayed packets/s, per server CPU-second, loss per direction, latency
 * percentiles, allocations/s, RSS per allocation, our own CPU) as aligned
 * text or as one JSON object (--json) whose keys bench/ scripts read.
 * Unknown values (no --server-pid) are null in JSON, "n/a" in text.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/load/load.h"

struct out {
	bool json;
	bool first;
};

static void key(struct out *out, const char *k)
{
	if (out->json)
		printf("%s\"%s\": ", out->first ? "{" : ", ", k);
	else
		printf("%-26s ", k);
	out->first = false;
}

static void num(struct out *out, const char *k, double v, int prec)
{
	key(out, k);
	if (isnan(v) || isinf(v))
		printf("%s", out->json ? "null" : "n/a");
	else
		printf("%.*f", prec, v);
	if (!out->json)
		printf("\n");
}

static void str(struct out *out, const char *k, const char *v)
{
	key(out, k);
	if (!out->json) {
		printf("%s\n", v);
		return;
	}
	putchar('"');
	for (; *v; v++)
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v >= 0x20)
			putchar(*v);
	putchar('"');
}

static double ratio(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

static double pct_lost(uint64_t sent, uint64_t got)
{
	return sent ? 100.0 * (double)(sent - (got < sent ? got : sent)) /
	                       (double)sent
	            : NAN;
}

const char *load_err_str(int code, char *buf, size_t len)
{
	switch (code) {
	case 0:
		return "none";
	case LOAD_ERR_TIMEOUT:
		return "timeout (no answer)";
	case LOAD_ERR_REFUSED:
		return "refused (nobody listens on the server port)";
	case LOAD_ERR_LOCAL:
		return "local error (socket or message)";
	case LOAD_ERR_PROTO:
		return "protocol error (unusable answer)";
	}
	snprintf(buf, len, "%d %s", code, stun_error_reason((uint16_t)code));
	return buf;
}

static double cpu_delta(const struct load_sample *a,
                        const struct load_sample *b)
{
	if (a->server_cpu_s < 0 || b->server_cpu_s < 0)
		return NAN;
	return b->server_cpu_s - a->server_cpu_s;
}

/* Whole machine during [a, b]: all CPUs busy, and the softirq part
 * (loopback delivery is mostly softirq, charged to no process). */
static void sys_numbers(struct out *out, const struct load_sample *a,
                        const struct load_sample *b)
{
	double total = (double)(b->sys_total - a->sys_total);

	num(out, "system_busy_pct",
	    100 * ratio((double)(b->sys_busy - a->sys_busy), total), 1);
	num(out, "system_softirq_pct",
	    100 * ratio((double)(b->sys_softirq - a->sys_softirq), total), 1);
}

static void data_numbers(struct out *out, const struct load_opts *o,
                         const struct load_result *r)
{
	const struct load_stats *s = &r->st;
	double win = (double)(r->win_b.wall_ns - r->win_a.wall_ns) / 1e9;
	double relayed = (double)(s->peer_rx_win + s->rx_win);
	double cpu = cpu_delta(&r->win_a, &r->win_b);
	double tool = r->win_b.tool_cpu_s - r->win_a.tool_cpu_s;
	const double us = 1e3; /* histogram is in ns */

	num(out, "window_s", win, 3);
	num(out, "clients_ready", (double)r->ready, 0);
	num(out, "offered_pps", o->mode == LOAD_MODE_RATE ? o->rate_pps : NAN,
	    0);
	num(out, "relayed_pps", ratio(relayed, win), 0);
	num(out, "round_trips_per_s", ratio((double)s->rx_win, win), 0);
	num(out, "server_cpu_s", cpu, 3);
	num(out, "server_cpu_pct", 100 * ratio(cpu, win), 1);
	num(out, "relayed_per_server_cpu_s", ratio(relayed, cpu), 0);
	num(out, "loss_c2p_pct", pct_lost(s->sent_win, s->peer_rx_win), 4);
	num(out, "loss_p2c_pct", pct_lost(s->echo_win, s->rx_win), 4);
	num(out, "loss_pct",
	    pct_lost(s->sent_win + s->echo_win, s->peer_rx_win + s->rx_win), 4);
	num(out, "rtt_p50_us", (double)load_hist_pct(&s->rtt, 50) / us, 1);
	num(out, "rtt_p90_us", (double)load_hist_pct(&s->rtt, 90) / us, 1);
	num(out, "rtt_p99_us", (double)load_hist_pct(&s->rtt, 99) / us, 1);
	num(out, "rtt_max_us", (double)s->rtt.max / us, 1);
	num(out, "tool_cpu_s", tool, 3);
	num(out, "tool_cpu_pct", 100 * ratio(tool, win), 1);
	num(out, "tool_us_per_relayed_pkt", 1e6 * ratio(tool, relayed), 3);
	num(out, "udp_rcvbuf_errors",
	    (double)(r->win_b.udp_rcvbuf_errors - r->win_a.udp_rcvbuf_errors),
	    0);
	num(out, "udp_sndbuf_errors",
	    (double)(r->win_b.udp_sndbuf_errors - r->win_a.udp_sndbuf_errors),
	    0);
	sys_numbers(out, &r->win_a, &r->win_b);
}

static void alloc_numbers(struct out *out, const struct load_result *r)
{
	const struct load_stats *s = &r->st;
	double wall = (double)(s->alloc_last_ns - s->alloc_first_ns) / 1e9;
	double cpu = cpu_delta(&r->win_a, &r->win_b);
	double tool = r->win_b.tool_cpu_s - r->win_a.tool_cpu_s;
	double free_cpu = cpu_delta(&r->free_a, &r->end);
	long before = r->win_a.server_rss_kb, after = r->win_b.server_rss_kb;
	long held = r->held ? r->hold_end.server_rss_kb : after;
	double per = before >= 0 && held >= 0
	                     ? ratio((double)(held - before) * 1024,
	                             (double)s->allocs_ok)
	                     : NAN;

	num(out, "alloc_wall_s", wall, 3);
	num(out, "allocs_per_s", ratio((double)s->allocs_ok, wall), 0);
	num(out, "server_cpu_s", cpu, 3);
	num(out, "allocs_per_server_cpu_s", ratio((double)s->allocs_ok, cpu),
	    0);
	num(out, "alloc_p50_ms", (double)load_hist_pct(&s->alloc_lat, 50) / 1e6,
	    3);
	num(out, "alloc_p99_ms", (double)load_hist_pct(&s->alloc_lat, 99) / 1e6,
	    3);
	num(out, "server_rss_before_kb", before >= 0 ? (double)before : NAN, 0);
	num(out, "server_rss_after_kb", after >= 0 ? (double)after : NAN, 0);
	num(out, "server_rss_held_kb", held >= 0 ? (double)held : NAN, 0);
	num(out, "rss_per_alloc_bytes", per, 0);
	num(out, "tool_cpu_s", tool, 3);
	sys_numbers(out, &r->win_a, &r->win_b);
	num(out, "free_server_cpu_s", free_cpu, 3);
	num(out, "frees_per_server_cpu_s", ratio((double)s->frees_ok, free_cpu),
	    0);
}

static void counters(struct out *out, const struct load_stats *s)
{
	char buf[64];

#define PRINT(name) num(out, #name, (double)s->name, 0);
	LOAD_COUNTERS(PRINT)
#undef PRINT
	key(out, "errors");
	printf("%s", out->json ? "{" : "");
	for (int i = 0, n = 0; i < LOAD_ERR_N; i++) {
		if (!s->err[i])
			continue;
		printf(out->json ? "%s\"%d\": %llu" : "%s%d x%llu",
		       n++ ? (out->json ? ", " : " ") : "", i + LOAD_ERR_MIN,
		       (unsigned long long)s->err[i]);
	}
	printf("%s", out->json ? "}" : "\n");
	str(out, "last_error", load_err_str(s->last_err, buf, sizeof(buf)));
}

void load_report(const struct load_opts *o, const struct load_result *r)
{
	static const char *modes[] = {"closed-loop", "rate", "allocs"};
	struct out out = {o->json, true};

	if (o->label)
		str(&out, "label", o->label);
	str(&out, "server", r->server);
	str(&out, "mode", modes[o->mode]);
	str(&out, "transport",
	    o->bare       ? "bare"
	    : o->send_ind ? "send-indication"
	                  : "channel");
	num(&out, "clients", o->clients, 0);
	num(&out, "payload", o->mode == LOAD_MODE_ALLOCS ? NAN : o->payload, 0);
	num(&out, "window", o->mode == LOAD_MODE_CLOSED ? o->window : NAN, 0);
	num(&out, "threads", o->threads, 0);
	if (o->mode == LOAD_MODE_ALLOCS)
		alloc_numbers(&out, r);
	else
		data_numbers(&out, o, r);
	num(&out, "tool_cpu_total_s", r->end.tool_cpu_s - r->start.tool_cpu_s,
	    3);
	counters(&out, &r->st);
	printf(o->json ? "}\n" : "");
	fflush(stdout);
}
