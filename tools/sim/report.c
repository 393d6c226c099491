/*
 * tools/sim/report.c - the results of a run: per viewer and total, per
 * ramp step, as a human summary or one JSON object (the project's JSON
 * writer, cluster/json.c). Read after the threads are joined.
 *
 * lost: with --role both, packets the MCU sent in the measured window
 * minus those received (duplicates are not received twice); a viewer
 * alone counts by sequence (highest - lowest + 1 - received).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cluster/cluster.h"
#include "tools/sim/sim.h"

struct tot {
	uint64_t sent, recv, lost, auth, dup, reord, pdus_c, pdus_b, pdus_s;
	uint64_t ctl_sent, ctl_recv, up_auth, sr, rr, other, bytes;
	double jitter_ms;
	int viewers;
	struct sim_hist delay, ctl;
};

static uint64_t lost_of(const struct sim_run *r, const struct sim_vstats *s)
{
	if (r->o->role == SIM_ROLE_BOTH)
		return s->sent > s->recv ? s->sent - s->recv : 0;
	if (!s->have_seq)
		return 0;
	uint64_t exp = (uint64_t)(s->seq_max - s->seq_min) + 1;
	return exp > s->recv ? exp - s->recv : 0;
}

static void add(struct tot *t, const struct sim_run *r,
                const struct sim_vstats *s)
{
	t->sent += s->sent;
	t->recv += s->recv;
	t->bytes += s->bytes;
	t->lost += lost_of(r, s);
	t->auth += s->auth_fail;
	t->up_auth += s->up_auth_fail;
	t->dup += s->dup;
	t->reord += s->reordered;
	t->pdus_c += s->pdus_complete;
	t->pdus_b += s->pdus_broken;
	t->pdus_s += s->pdus_sent;
	t->ctl_sent += s->ctl_sent;
	t->ctl_recv += s->ctl_recv;
	t->sr += s->sr_recv;
	t->rr += s->rr_recv;
	t->other += s->other_fail;
	if (s->jitter_ms > t->jitter_ms)
		t->jitter_ms = s->jitter_ms;
	sim_hist_merge(&t->delay, &s->delay);
	t->viewers++;
}

/* Totals of one step (or all steps when step < 0). */
static void total(struct tot *t, const struct sim_run *r, int step)
{
	memset(t, 0, sizeof(*t));
	for (int s = 0; s < r->o->nsteps; s++) {
		if (step >= 0 && s != step)
			continue;
		for (int v = 0; v < r->o->viewers; v++)
			if (!r->v[v].failed)
				add(t, r, sim_st((struct sim_run *)r, s, v));
		sim_hist_merge(&t->ctl, &r->ctl_delay[s]);
	}
	if (step < 0)
		t->viewers /= r->o->nsteps;
}

/* One viewer over all steps; the control delay is the control viewer's. */
static void viewer_tot(struct tot *t, const struct sim_run *r, int v)
{
	memset(t, 0, sizeof(*t));
	for (int s = 0; s < r->o->nsteps; s++) {
		add(t, r, sim_st((struct sim_run *)r, s, v));
		if (v == r->o->control_viewer - 1)
			sim_hist_merge(&t->ctl, &r->ctl_delay[s]);
	}
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static void json_tot(struct cluster_buf *b, const struct tot *t)
{
	uint64_t cl = t->ctl_sent > t->ctl_recv ? t->ctl_sent - t->ctl_recv : 0;

	cluster_buf_printf(
	        b,
	        "\"pkts_sent\":%llu,\"pkts_recv\":%llu,\"lost\":%llu,"
	        "\"loss_pct\":%.4f,\"srtp_auth_fail\":%llu,"
	        "\"srtp_auth_fail_up\":%llu,\"reordered\":%llu,\"dup\":%llu,"
	        "\"pdus_sent\":%llu,\"pdus_complete\":%llu,"
	        "\"pdus_broken\":%llu,\"pdus_missing\":%llu,"
	        "\"delay_p50_us\":%.1f,"
	        "\"delay_p99_us\":%.1f,\"delay_p999_us\":%.1f,"
	        "\"delay_max_us\":%.1f,\"jitter_ms\":%.3f,"
	        "\"control_sent\":%llu,\"control_recv\":%llu,",
	        (unsigned long long)t->sent, (unsigned long long)t->recv,
	        (unsigned long long)t->lost, pct(t->lost, t->sent),
	        (unsigned long long)t->auth, (unsigned long long)t->up_auth,
	        (unsigned long long)t->reord, (unsigned long long)t->dup,
	        (unsigned long long)t->pdus_s, (unsigned long long)t->pdus_c,
	        (unsigned long long)t->pdus_b,
	        (unsigned long long)(t->pdus_s > t->pdus_c + t->pdus_b
	                                     ? t->pdus_s - t->pdus_c - t->pdus_b
	                                     : 0),
	        sim_hist_pct(&t->delay, 50) / 1e3,
	        sim_hist_pct(&t->delay, 99) / 1e3,
	        sim_hist_pct(&t->delay, 99.9) / 1e3, t->delay.max / 1e3,
	        t->jitter_ms, (unsigned long long)t->ctl_sent,
	        (unsigned long long)t->ctl_recv);
	if (t->ctl_sent && t->ctl.n)
		cluster_buf_printf(b,
		                   "\"control_loss_pct\":%.4f,"
		                   "\"control_delay_p99_us\":%.1f",
		                   pct(cl, t->ctl_sent),
		                   sim_hist_pct(&t->ctl, 99) / 1e3);
	else if (t->ctl_sent)
		cluster_buf_printf(b,
		                   "\"control_loss_pct\":%.4f,"
		                   "\"control_delay_p99_us\":null",
		                   pct(cl, t->ctl_sent));
	else
		cluster_buf_addstr(b, "\"control_loss_pct\":null,"
		                      "\"control_delay_p99_us\":null");
}

static const char *transport_name(const struct sim_opts *o)
{
	if (o->direct)
		return "direct";
	return o->transport == SIM_TLS   ? "tls"
	       : o->transport == SIM_TCP ? "tcp"
	                                 : "udp";
}

static bool bad_step(const struct tot *t)
{
	return t->lost || t->auth || t->up_auth;
}

static void json_viewers(struct cluster_buf *b, const struct sim_run *r)
{
	cluster_buf_addstr(b, ",\"per_viewer\":[");
	for (int v = 0; v < r->o->viewers; v++) {
		struct tot t;

		viewer_tot(&t, r, v);
		cluster_buf_printf(b, "%s{\"viewer\":%d,\"failed\":%s,",
		                   v ? "," : "", v + 1,
		                   r->v[v].failed ? "true" : "false");
		json_tot(b, &t);
		cluster_buf_addstr(b, "}");
	}
	cluster_buf_addstr(b, "]");
}

static void json(const struct sim_run *r)
{
	const struct sim_opts *o = r->o;
	struct cluster_buf b;
	struct tot t;
	int knee = -1;

	cluster_buf_init(&b);
	total(&t, r, -1);
	cluster_buf_printf(
	        &b,
	        "{\"viewers\":%d,\"viewers_failed\":%d,"
	        "\"rate_bps\":%.0f,\"duration_s\":%.3f,"
	        "\"warmup_s\":%.3f,\"transport\":\"%s\","
	        "\"srtp\":\"%s\",\"peak\":%.2f,\"seed\":%llu,",
	        o->viewers, r->viewers_failed, o->rates[0],
	        o->duration_s * o->nsteps, o->warmup_s, transport_name(o),
	        o->gcm ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80",
	        o->peak, (unsigned long long)o->seed);
	json_tot(&b, &t);
	if (t.viewers)
		cluster_buf_printf(
		        &b, ",\"recv_payload_bps\":%.0f",
		        (double)t.bytes * 8 /
		                (o->duration_s * o->nsteps * t.viewers));
	cluster_buf_printf(
	        &b,
	        ",\"control_grants\":%llu,\"control_grants_acked\":%llu,"
	        "\"control_revokes\":%llu,\"control_revokes_acked\":%llu,"
	        "\"sim_cpu_pct\":%.1f,\"sim_schedule_slip_ms\":%.3f,"
	        "\"sim_schedule_slip_p99_ms\":%.3f,\"sim_rx_drops\":%llu,"
	        "\"sim_tx_fail\":%llu,\"turn_retransmits\":%llu",
	        (unsigned long long)r->grants,
	        (unsigned long long)r->grant_acks,
	        (unsigned long long)r->revokes,
	        (unsigned long long)r->revoke_acks, r->cpu_pct,
	        r->slip_max_ns / 1e6, sim_hist_pct(&r->slip, 99) / 1e6,
	        (unsigned long long)(r->mcu_rx_drops + r->viewer_rx_drops),
	        (unsigned long long)r->tx_fail,
	        (unsigned long long)r->mcu_retransmits);
	if (o->ramp) {
		cluster_buf_addstr(&b, ",\"ramp\":[");
		for (int s = 0; s < o->nsteps; s++) {
			struct tot st;
			total(&st, r, s);
			if (knee < 0 && bad_step(&st))
				knee = s;
			cluster_buf_printf(&b, "%s{\"rate_bps\":%.0f,",
			                   s ? "," : "", o->rates[s]);
			json_tot(&b, &st);
			cluster_buf_addstr(&b, "}");
		}
		cluster_buf_addstr(&b, "]");
		if (knee >= 0)
			cluster_buf_printf(&b, ",\"knee_bps\":%.0f",
			                   o->rates[knee]);
		else
			cluster_buf_addstr(&b, ",\"knee_bps\":null");
	}
	json_viewers(&b, r);
	cluster_buf_addstr(&b, ",\"errors\":[");
	for (int i = 0; i < r->nerrors; i++) {
		if (i)
			cluster_buf_addstr(&b, ",");
		cluster_json_quote(&b, r->errors[i], 0);
	}
	cluster_buf_addstr(&b, "]}\n");
	fputs(b.p ? b.p : "{}\n", stdout);
	cluster_buf_free(&b);
}

static void human_tot(const char *label, const struct tot *t)
{
	printf("%-10s sent %llu recv %llu lost %llu (%.3f%%) auth_fail %llu"
	       "/%llu dup %llu reord %llu pdus %llu/%llu broken %llu\n"
	       "%-10s delay p50 %.0f p99 %.0f p99.9 %.0f max %.0f us, "
	       "jitter %.3f ms, control %llu/%llu",
	       label, (unsigned long long)t->sent, (unsigned long long)t->recv,
	       (unsigned long long)t->lost, pct(t->lost, t->sent),
	       (unsigned long long)t->auth, (unsigned long long)t->up_auth,
	       (unsigned long long)t->dup, (unsigned long long)t->reord,
	       (unsigned long long)t->pdus_c, (unsigned long long)t->pdus_s,
	       (unsigned long long)t->pdus_b, "",
	       sim_hist_pct(&t->delay, 50) / 1e3,
	       sim_hist_pct(&t->delay, 99) / 1e3,
	       sim_hist_pct(&t->delay, 99.9) / 1e3, t->delay.max / 1e3,
	       t->jitter_ms, (unsigned long long)t->ctl_recv,
	       (unsigned long long)t->ctl_sent);
	if (t->ctl_sent)
		printf(" (loss %.2f%%)",
		       pct(t->ctl_sent > t->ctl_recv ? t->ctl_sent - t->ctl_recv
		                                     : 0,
		           t->ctl_sent));
	if (t->ctl.n)
		printf(" p99 %.0f us", sim_hist_pct(&t->ctl, 99) / 1e3);
	printf("\n");
}

static void human(const struct sim_run *r)
{
	const struct sim_opts *o = r->o;
	struct tot t;
	char label[32];

	printf("edge-sim: %d viewers (%d failed), %s, %.0f s per rate, "
	       "peak x%.1f, %s\n",
	       o->viewers, r->viewers_failed, transport_name(o), o->duration_s,
	       o->peak,
	       o->gcm ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80");
	if (o->viewers <= 20)
		for (int v = 0; v < o->viewers; v++) {
			viewer_tot(&t, r, v);
			snprintf(label, sizeof(label), "viewer %d", v + 1);
			if (!r->v[v].failed)
				human_tot(label, &t);
		}
	for (int s = 0; o->ramp && s < o->nsteps; s++) {
		total(&t, r, s);
		snprintf(label, sizeof(label), "%.0fk", o->rates[s] / 1e3);
		human_tot(label, &t);
	}
	total(&t, r, -1);
	human_tot("total", &t);
	printf("control: grants %llu acked %llu, revokes %llu acked %llu\n"
	       "sim: cpu %.1f%%, schedule slip max %.3f ms p99 %.3f ms, rx "
	       "drops %llu, tx fail %llu\n",
	       (unsigned long long)r->grants, (unsigned long long)r->grant_acks,
	       (unsigned long long)r->revokes,
	       (unsigned long long)r->revoke_acks, r->cpu_pct,
	       r->slip_max_ns / 1e6, sim_hist_pct(&r->slip, 99) / 1e6,
	       (unsigned long long)(r->mcu_rx_drops + r->viewer_rx_drops),
	       (unsigned long long)r->tx_fail);
	for (int i = 0; i < r->nerrors; i++)
		printf("error: %s\n", r->errors[i]);
}

void sim_report(struct sim_run *r)
{
	if (r->o->json)
		json(r);
	else
		human(r);
}
