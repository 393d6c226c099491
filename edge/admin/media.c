/*
 * edge/admin/media.c - media quality for monitoring: the node's summary
 * (every worker's, turn/media.h, copied lock-free with edge_worker_media
 * and merged) as Prometheus families for /metrics, and GET
 * /api/media/worst, the node's worst flows by name. /metrics carries
 * counts only (direction, band and le labels: a fixed set); users,
 * peers and allocation ids are in the authenticated API alone.
 */
#include "turn/media.h"
#include "cluster/cluster.h"
#include "edge/admin/admin_int.h"
#include "edge/net/worker.h"

#include <stdio.h>
#include <string.h>

static const char *const dirs[2] = {"to_peer", "to_client"};

/* The node's summary: all workers merged; admin thread only. */
static const struct turn_media_summary *node_summary(struct edge_admin *a)
{
	static struct turn_media_summary sum, one;

	memset(&sum, 0, sizeof(sum));
	for (size_t i = 0; i < a->nworkers; i++)
		if (edge_worker_media(a->workers[i], &one) == 0)
			turn_media_merge(&sum, &one);
	return &sum;
}

static void histogram(struct evbuffer *b, const char *name, const char *help,
                      const double *le, size_t n,
                      const uint32_t (*hist)[TURN_MEDIA_LOSS_LE + 1],
                      const double *sum)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name,
	                    help, name);
	for (unsigned d = 0; d < 2; d++) {
		uint64_t cum = 0;
		for (size_t i = 0; i <= n; i++) {
			cum += hist[d][i];
			if (i < n)
				evbuffer_add_printf(
				        b,
				        "%s_bucket{direction=\"%s\",le=\"%g\"} "
				        "%llu\n",
				        name, dirs[d], le[i],
				        (unsigned long long)cum);
			else
				evbuffer_add_printf(b,
				                    "%s_bucket{direction=\"%"
				                    "s\",le=\"+Inf\"}"
				                    " %llu\n",
				                    name, dirs[d],
				                    (unsigned long long)cum);
		}
		evbuffer_add_printf(b, "%s_sum{direction=\"%s\"} %.6f\n", name,
		                    dirs[d], sum[d]);
		evbuffer_add_printf(b, "%s_count{direction=\"%s\"} %llu\n",
		                    name, dirs[d], (unsigned long long)cum);
	}
}

void admin_media_metrics(struct edge_admin *a, struct evbuffer *b)
{
	const struct turn_media_summary *m = node_summary(a);

	_Static_assert(TURN_MEDIA_LOSS_LE == TURN_MEDIA_JITTER_LE,
	               "histogram() takes one row length");
	evbuffer_add_printf(
	        b, "# HELP avedge_media_flows Active RTP flows (a permission's "
	           "direction with RTP in the last 10 s) by quality band "
	           "(docs/media-quality.md).\n# TYPE avedge_media_flows "
	           "gauge\n");
	for (unsigned d = 0; d < 2; d++)
		for (unsigned k = 0; k < TURN_MEDIA_BANDS; k++)
			evbuffer_add_printf(
			        b,
			        "avedge_media_flows{direction=\"%s\","
			        "band=\"%s\"} %u\n",
			        dirs[d], turn_media_band_name(k),
			        m->flows[d][k]);
	histogram(b, "avedge_media_flow_loss_pct",
	          "RTP loss upstream of the relay of active flows, percent "
	          "(worst stream of the flow, since it started).",
	          turn_media_loss_le, TURN_MEDIA_LOSS_LE, m->loss_hist,
	          m->loss_sum);
	histogram(b, "avedge_media_flow_jitter_ms",
	          "RTP interarrival jitter of active flows, ms (worst stream "
	          "of the flow).",
	          turn_media_jitter_le, TURN_MEDIA_JITTER_LE, m->jitter_hist,
	          m->jitter_sum);
	evbuffer_add_printf(
	        b, "# HELP avedge_media_lost_packets_total RTP packets lost "
	           "upstream of the relay, summed over flows.\n# TYPE "
	           "avedge_media_lost_packets_total counter\n");
	for (unsigned d = 0; d < 2; d++)
		evbuffer_add_printf(
		        b,
		        "avedge_media_lost_packets_total{direction=\"%s\"} "
		        "%llu\n",
		        dirs[d], (unsigned long long)m->lost_total[d]);
}

static void json_worst(struct evbuffer *b, struct edge_admin *a,
                       const struct turn_media_flow *f)
{
	char id[ADMIN_NODE_ID_MAX + 48];

	cluster_alloc_id_format(id, sizeof(id), a->node_id, f->worker,
	                        (unsigned long long)f->serial);
	evbuffer_add_printf(b, "{\"id\":");
	admin_json_str(b, id);
	evbuffer_add_printf(b, ",\"user\":");
	admin_json_str(b, f->user);
	evbuffer_add_printf(b, ",\"realm\":");
	admin_json_str(b, f->realm);
	evbuffer_add_printf(b, ",\"peer\":");
	admin_json_addr(b, &f->peer, false);
	evbuffer_add_printf(
	        b,
	        ",\"direction\":\"%s\",\"band\":\"%s\",\"loss_pct\":%.3f,"
	        "\"jitter_ms\":%.3f,\"packets\":%llu,\"lost\":%llu}",
	        dirs[f->dir & 1],
	        turn_media_band_name(
	                turn_media_band(f->loss_pct, f->jitter_ms)),
	        f->loss_pct, f->jitter_ms, (unsigned long long)f->packets,
	        (unsigned long long)f->lost);
}

void admin_media_worst(struct edge_admin *a, struct evhttp_request *req)
{
	const struct turn_media_summary *m = node_summary(a);
	struct evbuffer *b = evbuffer_new();

	if (!b) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	evbuffer_add_printf(b, "{\"node\":");
	admin_json_str(b, a->node_id);
	evbuffer_add_printf(b, ",\"active_s\":%u,\"bands\":{",
	                    TURN_MEDIA_ACTIVE_MS / 1000);
	for (unsigned d = 0; d < 2; d++) {
		evbuffer_add_printf(b, "%s\"%s\":{", d ? "," : "", dirs[d]);
		for (unsigned k = 0; k < TURN_MEDIA_BANDS; k++)
			evbuffer_add_printf(b, "%s\"%s\":%u", k ? "," : "",
			                    turn_media_band_name(k),
			                    m->flows[d][k]);
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add_printf(b, "},\"flows\":[");
	for (size_t i = 0; i < m->nworst; i++) {
		if (i)
			evbuffer_add(b, ",", 1);
		json_worst(b, a, &m->worst[i]);
	}
	evbuffer_add_printf(b, "]}\n");
	admin_send_json(req, 200, "OK", b);
	evbuffer_free(b);
}
