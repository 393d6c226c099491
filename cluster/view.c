/*
 * cluster/view.c - the cluster view's JSON, as the admin API answers it
 * (GET /api/nodes, /api/stats?scope=cluster, /api/allocations?scope=
 * cluster; docs/admin.md) and as edgectl --redis prints it: one writer for
 * both. Written from records other nodes wrote: strings quoted, numbers
 * parsed and printed again, never copied. Byte layout pinned by
 * tests/integration/test_golden.py. Pure: the time is a parameter.
 */
#include "cluster/cluster.h"

#include <string.h>

/* ,"name":N from a decimal field, or null. */
static void num(struct cluster_buf *b, const char *name,
                const struct cluster_rec *r, const char *field)
{
	unsigned long long v;

	if (cluster_rec_u64(r, field, &v))
		cluster_buf_printf(b, ",\"%s\":%llu", name, v);
	else
		cluster_buf_printf(b, ",\"%s\":null", name);
}

/* ,"name":"text" from a field, or null. */
static void text(struct cluster_buf *b, const char *name,
                 const struct cluster_rec *r, const char *field,
                 const struct cluster_view_opts *o)
{
	cluster_buf_printf(b, ",\"%s\":", name);
	cluster_json_quote(b, cluster_rec_get(r, field), o->quote_flags);
}

static void node_addrs(struct cluster_buf *b, const struct cluster_rec *r,
                       const struct cluster_view_opts *o)
{
	static const char *const fields[] = {"version", "listen4", "listen6",
	                                     "relay4", "relay6"};

	num(b, "workers", r, "workers");
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		text(b, fields[i], r, fields[i], o);
	num(b, "tls_port", r, "tls_port");
	num(b, "dtls_port", r, "dtls_port");
	text(b, "domain", r, "domain", o);
}

static const char *const media_fields[4] = {"media_good", "media_fair",
                                            "media_poor", "media_bad"};

/* ,"media":{"good":N,"fair":N,"poor":N,"bad":N} from the four counts. */
static void media_obj(struct cluster_buf *b, const unsigned long long *m)
{
	cluster_buf_printf(b,
	                   ",\"media\":{\"good\":%llu,\"fair\":%llu,"
	                   "\"poor\":%llu,\"bad\":%llu}",
	                   m[0], m[1], m[2], m[3]);
}

/* Active RTP flows by band, or null (a record of an older build). */
static void node_media(struct cluster_buf *b, const struct cluster_rec *r)
{
	unsigned long long m[4];

	for (size_t k = 0; k < 4; k++) {
		if (!cluster_rec_u64(r, media_fields[k], &m[k])) {
			cluster_buf_addstr(b, ",\"media\":null");
			return;
		}
	}
	media_obj(b, m);
}

/* A registry entry (n == 0: its hash expired: only the id is known). */
static void node(struct cluster_buf *b, const struct cluster_rec *r,
                 const struct cluster_view_opts *o, uint64_t now_ms)
{
	unsigned long long n, max, t;

	cluster_buf_addstr(b, "{\"id\":");
	cluster_json_quote(b, r->id, o->quote_flags);
	if (o->self_id)
		cluster_buf_printf(b, ",\"self\":%s",
		                   strcmp(r->id, o->self_id) == 0 ? "true"
		                                                  : "false");
	cluster_buf_printf(b, ",\"alive\":%s,\"draining\":%s",
	                   r->n ? "true" : "false",
	                   cluster_rec_draining(r) ? "true" : "false");
	num(b, "allocations", r, "allocations");
	num(b, "max_allocations", r, "max_allocations");
	if (cluster_rec_u64(r, "allocations", &n) &&
	    cluster_rec_u64(r, "max_allocations", &max) && max > 0)
		cluster_buf_printf(b, ",\"load\":%.3f", (double)n / max);
	else
		cluster_buf_addstr(b, ",\"load\":null");
	node_addrs(b, r, o);
	node_media(b, r);
	if (cluster_rec_u64(r, "started", &t))
		cluster_buf_printf(b, ",\"started\":%llu,\"uptime_s\":%llu",
		                   t / 1000,
		                   now_ms > t ? (now_ms - t) / 1000 : 0);
	if (cluster_rec_u64(r, "updated", &t))
		cluster_buf_printf(
		        b, ",\"updated\":%llu,\"age_s\":%.1f", t / 1000,
		        now_ms > t ? (double)(now_ms - t) / 1000 : 0.0);
	cluster_buf_addstr(b, "}");
}

static void node_list(struct cluster_buf *b, const struct cluster_rec *v,
                      size_t n, const struct cluster_view_opts *o,
                      uint64_t now_ms)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			cluster_buf_addstr(b, ",");
		node(b, &v[i], o, now_ms);
	}
	cluster_buf_addstr(b, "]}\n");
}

void cluster_view_nodes(struct cluster_buf *b, const struct cluster_rec *v,
                        size_t n, const struct cluster_view_opts *o,
                        uint64_t now_ms)
{
	size_t alive = 0;

	for (size_t i = 0; i < n; i++)
		alive += v[i].n != 0;
	cluster_buf_printf(b, "\"count\":%zu,\"alive\":%zu,\"nodes\":[", n,
	                   alive);
	node_list(b, v, n, o, now_ms);
}

void cluster_view_stats(struct cluster_buf *b, const struct cluster_rec *v,
                        size_t n, const struct cluster_view_opts *o,
                        uint64_t now_ms)
{
	static const char *const sums[] = {
	        "allocations",     "allocations_created", "permissions",
	        "channels",        "auth_failures",       "to_peer_packets",
	        "to_peer_bytes",   "to_client_packets",   "to_client_bytes",
	        "max_allocations",
	};
	enum { NSUMS = sizeof(sums) / sizeof(sums[0]) };
	unsigned long long t[NSUMS] = {0}, m, media[4] = {0};
	size_t alive = 0, draining = 0;
	bool unlimited = false;

	for (size_t i = 0; i < n; i++) {
		if (!v[i].n)
			continue;
		alive++;
		draining += cluster_rec_draining(&v[i]);
		for (size_t k = 0; k < NSUMS; k++)
			t[k] += cluster_rec_u64_or0(&v[i], sums[k]);
		for (size_t k = 0; k < 4; k++)
			media[k] += cluster_rec_u64_or0(&v[i], media_fields[k]);
		if (!cluster_rec_u64(&v[i], "max_allocations", &m) || m == 0)
			unlimited = true;
	}
	cluster_buf_printf(
	        b,
	        "\"nodes\":%zu,\"nodes_alive\":%zu,\"nodes_draining\":%zu,"
	        "\"allocations\":%llu,\"max_allocations\":%llu,"
	        "\"allocations_created\":%llu,\"permissions\":%llu,"
	        "\"channels\":%llu,\"auth_failures\":%llu,"
	        "\"relayed\":{\"to_peer\":{\"packets\":%llu,\"bytes\":%llu},"
	        "\"to_client\":{\"packets\":%llu,\"bytes\":%llu}}",
	        n, alive, draining, t[0], unlimited ? 0ull : t[9], t[1], t[2],
	        t[3], t[4], t[5], t[6], t[7], t[8]);
	media_obj(b, media);
	cluster_buf_addstr(b, ",\"redis\":\"up\",\"per_node\":[");
	node_list(b, v, n, o, now_ms);
}

static void relays(struct cluster_buf *b, const struct cluster_rec *r,
                   const struct cluster_view_opts *o)
{
	const char *relay = cluster_rec_get(r, "relay");
	const char *relay2 = cluster_rec_get(r, "relay2");

	cluster_buf_addstr(b, ",\"relay\":[");
	if (relay && *relay)
		cluster_json_quote(b, relay, o->quote_flags);
	if (relay2 && *relay2) {
		if (relay && *relay)
			cluster_buf_addstr(b, ",");
		cluster_json_quote(b, relay2, o->quote_flags);
	}
	cluster_buf_addstr(b, "]");
}

/* An allocation record as ALLOCATION (docs/admin.md) as far as the
 * record has the fields; no media and no per-peer detail (those live in
 * the owning node only). */
static void alloc(struct cluster_buf *b, const struct cluster_rec *r,
                  const struct cluster_view_opts *o, uint64_t now_s)
{
	static const char *const texts[] = {"user", "realm", "transport",
	                                    "client"};
	unsigned long long t;

	cluster_buf_addstr(b, "{\"id\":");
	cluster_json_quote(b, r->id, o->quote_flags);
	text(b, "node", r, "node", o);
	num(b, "worker", r, "worker");
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		text(b, texts[i], r, texts[i], o);
	relays(b, r, o);
	num(b, "created", r, "created");
	if (cluster_rec_u64(r, "created", &t))
		cluster_buf_printf(b, ",\"age_s\":%llu",
		                   now_s > t ? now_s - t : 0);
	num(b, "lifetime_s", r, "lifetime");
	if (cluster_rec_u64(r, "expires", &t))
		cluster_buf_printf(b, ",\"expires_in_s\":%llu",
		                   t > now_s ? t - now_s : 0);
	num(b, "permission_count", r, "permissions");
	num(b, "channel_count", r, "channels");
	cluster_buf_printf(b,
	                   ",\"to_peer\":{\"packets\":%llu,\"bytes\":%llu},"
	                   "\"to_client\":{\"packets\":%llu,\"bytes\":%llu}",
	                   cluster_rec_u64_or0(r, "to_peer_packets"),
	                   cluster_rec_u64_or0(r, "to_peer_bytes"),
	                   cluster_rec_u64_or0(r, "to_client_packets"),
	                   cluster_rec_u64_or0(r, "to_client_bytes"));
	if (o->updated_null || cluster_rec_u64(r, "updated", &t))
		num(b, "updated", r, "updated");
	cluster_buf_addstr(b, "}");
}

void cluster_view_allocs(struct cluster_buf *b, const struct cluster_rec *v,
                         size_t n, size_t total, size_t offset, size_t limit,
                         const struct cluster_view_opts *o, uint64_t now_s)
{
	size_t shown = 0;

	cluster_buf_printf(b,
	                   "\"total\":%zu,\"offset\":%zu,\"limit\":%zu,"
	                   "\"allocations\":[",
	                   total, offset, limit);
	for (size_t i = 0; i < n; i++) {
		if (!v[i].n)
			continue; /* expired in between */
		if (shown++)
			cluster_buf_addstr(b, ",");
		alloc(b, &v[i], o, now_s);
	}
	cluster_buf_addstr(b, "]}\n");
}
