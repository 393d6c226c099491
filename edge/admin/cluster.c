/*
 * edge/admin/cluster.c - the admin API's cluster scope: GET /api/nodes
 * (the node registry), GET /api/allocations?scope=cluster (every node's
 * allocation records) and GET /api/stats?scope=cluster (totals over the
 * live nodes' registry entries). Everything comes from Redis through the
 * admin thread's own reader connection (edge_redis_reader, redis/query.c):
 * the request waits for a callback on this thread, never blocks it; a read
 * that fails or takes longer than redis-timeout per command answers 503
 * {"error":"redis unavailable"}. Without redis the same endpoints answer
 * for this node alone, with "scope":"node". Key layout: docs/cluster.md.
 *
 * What Redis holds is data written by other nodes: strings are JSON-
 * escaped, numbers are parsed and written out again, never copied.
 */
#include "edge/admin/admin_int.h"
#include "edge/base/clock.h"
#include "edge/base/edge.h"
#include "edge/redis/redis.h"

#include <errno.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#define LIMIT_DEF  100
#define LIMIT_MAX  1000
#define OFFSET_MAX 100000000
#define QARG_MAX   800

enum ask { ASK_NODES, ASK_ALLOCS, ASK_STATS };

struct ask_ctx {
	struct edge_admin *a;
	struct evhttp_request *req;
	enum ask kind;
	size_t offset, limit;
};

/* --- query strings ---------------------------------------------------------
 */

int admin_scope(const char *query, bool *cluster)
{
	struct evkeyvalq q;
	const char *v;
	int rc = 0;

	*cluster = false;
	if (!query || !*query)
		return 0;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) != 0)
		return EINVAL;
	if ((v = evhttp_find_header(&q, "scope"))) {
		if (strcmp(v, "cluster") == 0)
			*cluster = true;
		else if (strcmp(v, "node") != 0)
			rc = EINVAL;
	}
	evhttp_clear_headers(&q);
	return rc;
}

static bool parse_size(const char *s, size_t max, size_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = (size_t)v;
	return true;
}

/* A text argument of 1..QARG_MAX-1 bytes, copied (NULL when absent). */
static bool text_arg(struct evkeyvalq *q, const char *key, char **out)
{
	const char *v = evhttp_find_header(q, key);
	size_t n = v ? strlen(v) : 0;

	*out = NULL;
	if (!v)
		return true;
	if (n == 0 || n >= QARG_MAX)
		return false;
	*out = strdup(v);
	return *out != NULL;
}

/* --- JSON of what Redis holds ----------------------------------------------
 */

/* ,"name":N from a decimal field, or null when it is missing or not a
 * number. */
static bool num_of(const struct edge_redis_rec *r, const char *field,
                   unsigned long long *out)
{
	const char *v = edge_redis_rec_get(r, field);
	char *end;

	if (!v || *v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !errno && !*end;
}

static void json_num(struct evbuffer *b, const char *name,
                     const struct edge_redis_rec *r, const char *field)
{
	unsigned long long v;

	if (num_of(r, field, &v))
		evbuffer_add_printf(b, ",\"%s\":%llu", name, v);
	else
		evbuffer_add_printf(b, ",\"%s\":null", name);
}

static void json_text(struct evbuffer *b, const char *name,
                      const struct edge_redis_rec *r, const char *field)
{
	const char *v = edge_redis_rec_get(r, field);

	evbuffer_add_printf(b, ",\"%s\":", name);
	if (v)
		admin_json_str(b, v);
	else
		evbuffer_add_printf(b, "null");
}

static unsigned long long num_or0(const struct edge_redis_rec *r,
                                  const char *field)
{
	unsigned long long v;

	return num_of(r, field, &v) ? v : 0;
}

/* An allocation record as ALLOCATION (docs/admin.md) as far as the
 * record has the fields; no media and no per-peer detail (those live in
 * the owning node only). */
static void json_record(struct evbuffer *b, const struct edge_redis_rec *r,
                        uint64_t now_s)
{
	unsigned long long created, expires, v;
	const char *relay = edge_redis_rec_get(r, "relay");
	const char *relay2 = edge_redis_rec_get(r, "relay2");

	evbuffer_add_printf(b, "{\"id\":");
	admin_json_str(b, r->id);
	json_text(b, "node", r, "node");
	json_num(b, "worker", r, "worker");
	json_text(b, "user", r, "user");
	json_text(b, "realm", r, "realm");
	json_text(b, "transport", r, "transport");
	json_text(b, "client", r, "client");
	evbuffer_add_printf(b, ",\"relay\":[");
	if (relay && *relay)
		admin_json_str(b, relay);
	if (relay2 && *relay2) {
		if (relay && *relay)
			evbuffer_add(b, ",", 1);
		admin_json_str(b, relay2);
	}
	evbuffer_add(b, "]", 1);
	json_num(b, "created", r, "created");
	if (num_of(r, "created", &created))
		evbuffer_add_printf(b, ",\"age_s\":%llu",
		                    now_s > created ? now_s - created : 0);
	json_num(b, "lifetime_s", r, "lifetime");
	if (num_of(r, "expires", &expires))
		evbuffer_add_printf(b, ",\"expires_in_s\":%llu",
		                    expires > now_s ? expires - now_s : 0);
	json_num(b, "permission_count", r, "permissions");
	json_num(b, "channel_count", r, "channels");
	evbuffer_add_printf(
	        b,
	        ",\"to_peer\":{\"packets\":%llu,\"bytes\":%llu},"
	        "\"to_client\":{\"packets\":%llu,\"bytes\":%llu}",
	        num_or0(r, "to_peer_packets"), num_or0(r, "to_peer_bytes"),
	        num_or0(r, "to_client_packets"), num_or0(r, "to_client_bytes"));
	if (num_of(r, "updated", &v))
		evbuffer_add_printf(b, ",\"updated\":%llu", v);
	evbuffer_add(b, "}", 1);
}

/* A registry entry (n == 0: its hash expired: only the id is known). */
static void json_node(struct evbuffer *b, struct edge_admin *a,
                      const struct edge_redis_rec *r, uint64_t now_ms)
{
	unsigned long long n, max, updated, started;
	const char *dr = edge_redis_rec_get(r, "draining");

	evbuffer_add_printf(b, "{\"id\":");
	admin_json_str(b, r->id);
	evbuffer_add_printf(b, ",\"self\":%s,\"alive\":%s",
	                    strcmp(r->id, a->node_id) == 0 ? "true" : "false",
	                    r->n ? "true" : "false");
	evbuffer_add_printf(b, ",\"draining\":%s",
	                    dr && strcmp(dr, "0") != 0 ? "true" : "false");
	json_num(b, "allocations", r, "allocations");
	json_num(b, "max_allocations", r, "max_allocations");
	if (num_of(r, "allocations", &n) &&
	    num_of(r, "max_allocations", &max) && max > 0)
		evbuffer_add_printf(b, ",\"load\":%.3f", (double)n / max);
	else
		evbuffer_add_printf(b, ",\"load\":null");
	json_num(b, "workers", r, "workers");
	json_text(b, "version", r, "version");
	json_text(b, "listen4", r, "listen4");
	json_text(b, "listen6", r, "listen6");
	json_text(b, "relay4", r, "relay4");
	json_text(b, "relay6", r, "relay6");
	json_num(b, "tls_port", r, "tls_port");
	json_num(b, "dtls_port", r, "dtls_port");
	json_text(b, "domain", r, "domain");
	if (num_of(r, "started", &started))
		evbuffer_add_printf(b, ",\"started\":%llu,\"uptime_s\":%llu",
		                    started / 1000,
		                    now_ms > started ? (now_ms - started) / 1000
		                                     : 0);
	if (num_of(r, "updated", &updated))
		evbuffer_add_printf(
		        b, ",\"updated\":%llu,\"age_s\":%.1f", updated / 1000,
		        now_ms > updated ? (double)(now_ms - updated) / 1000
		                         : 0.0);
	evbuffer_add(b, "}", 1);
}

/* This node alone (no Redis), in the shape of a registry entry. */
static void json_self(struct evbuffer *b, struct edge_admin *a)
{
	struct turn_stats t;
	uint64_t now_s = (uint64_t)time(NULL);
	bool draining = atomic_load(a->draining) != 0;

	admin_sum_turn(a, &t);
	evbuffer_add_printf(b, "{\"id\":");
	admin_json_str(b, a->node_id);
	evbuffer_add_printf(b,
	                    ",\"self\":true,\"alive\":true,\"draining\":%s,"
	                    "\"allocations\":%llu,\"max_allocations\":%u",
	                    draining ? "true" : "false",
	                    (unsigned long long)t.allocations,
	                    a->max_allocations);
	if (a->max_allocations)
		evbuffer_add_printf(b, ",\"load\":%.3f",
		                    (double)t.allocations / a->max_allocations);
	else
		evbuffer_add_printf(b, ",\"load\":null");
	evbuffer_add_printf(b, ",\"workers\":%zu,\"version\":", a->nworkers);
	admin_json_str(b, edge_version());
	evbuffer_add_printf(b,
	                    ",\"started\":%llu,\"uptime_s\":%llu,"
	                    "\"updated\":%llu,\"age_s\":0.0}",
	                    (unsigned long long)a->start_s,
	                    (unsigned long long)(now_s > a->start_s
	                                                 ? now_s - a->start_s
	                                                 : 0),
	                    (unsigned long long)now_s);
}

/* --- answers ----------------------------------------------------------------
 */

static void answer_nodes(struct ask_ctx *x, const struct edge_redis_recs *rs,
                         struct evbuffer *b)
{
	uint64_t now_ms = edge_wall_ms();
	size_t alive = 0;

	for (size_t i = 0; i < rs->n; i++)
		alive += rs->v[i].n != 0;
	evbuffer_add_printf(b, "{\"scope\":\"cluster\",\"node\":");
	admin_json_str(b, x->a->node_id);
	evbuffer_add_printf(b,
	                    ",\"redis\":\"up\",\"count\":%zu,\"alive\":%zu,"
	                    "\"nodes\":[",
	                    rs->n, alive);
	for (size_t i = 0; i < rs->n; i++) {
		if (i)
			evbuffer_add(b, ",", 1);
		json_node(b, x->a, &rs->v[i], now_ms);
	}
	evbuffer_add_printf(b, "]}\n");
}

static void answer_allocs(struct ask_ctx *x, const struct edge_redis_recs *rs,
                          struct evbuffer *b)
{
	uint64_t now_s = (uint64_t)time(NULL);

	evbuffer_add_printf(b, "{\"scope\":\"cluster\",\"node\":");
	admin_json_str(b, x->a->node_id);
	evbuffer_add_printf(b,
	                    ",\"total\":%zu,\"offset\":%zu,\"limit\":%zu,"
	                    "\"allocations\":[",
	                    rs->total, x->offset, x->limit);
	for (size_t i = 0; i < rs->n; i++) {
		if (i)
			evbuffer_add(b, ",", 1);
		json_record(b, &rs->v[i], now_s);
	}
	evbuffer_add_printf(b, "]}\n");
}

/* Totals over the live registry entries (as of each node's last
 * heartbeat, every node-ttl/3). */
static void answer_stats(struct ask_ctx *x, const struct edge_redis_recs *rs,
                         struct evbuffer *b)
{
	static const char *const sums[] = {
	        "allocations",     "allocations_created", "permissions",
	        "channels",        "auth_failures",       "to_peer_packets",
	        "to_peer_bytes",   "to_client_packets",   "to_client_bytes",
	        "max_allocations",
	};
	enum { NSUMS = sizeof(sums) / sizeof(sums[0]) };
	unsigned long long tot[NSUMS] = {0}, v;
	size_t alive = 0, draining = 0;
	bool unlimited = false;
	uint64_t now_ms = edge_wall_ms();

	for (size_t i = 0; i < rs->n; i++) {
		const struct edge_redis_rec *r = &rs->v[i];
		const char *dr = edge_redis_rec_get(r, "draining");
		if (!r->n)
			continue;
		alive++;
		draining += dr && strcmp(dr, "0") != 0;
		for (size_t k = 0; k < NSUMS; k++)
			tot[k] += num_or0(r, sums[k]);
		if (!num_of(r, "max_allocations", &v) || v == 0)
			unlimited = true;
	}
	evbuffer_add_printf(b, "{\"scope\":\"cluster\",\"node\":");
	admin_json_str(b, x->a->node_id);
	evbuffer_add_printf(b, ",\"realm\":");
	admin_json_str(b, x->a->realm);
	evbuffer_add_printf(
	        b,
	        ",\"nodes\":%zu,\"nodes_alive\":%zu,\"nodes_draining\":%zu,"
	        "\"allocations\":%llu,\"max_allocations\":%llu,"
	        "\"allocations_created\":%llu,\"permissions\":%llu,"
	        "\"channels\":%llu,\"auth_failures\":%llu,"
	        "\"relayed\":{\"to_peer\":{\"packets\":%llu,\"bytes\":%llu},"
	        "\"to_client\":{\"packets\":%llu,\"bytes\":%llu}},"
	        "\"redis\":\"up\",\"per_node\":[",
	        rs->n, alive, draining, tot[0], unlimited ? 0ull : tot[9],
	        tot[1], tot[2], tot[3], tot[4], tot[5], tot[6], tot[7], tot[8]);
	for (size_t i = 0; i < rs->n; i++) {
		if (i)
			evbuffer_add(b, ",", 1);
		json_node(b, x->a, &rs->v[i], now_ms);
	}
	evbuffer_add_printf(b, "]}\n");
}

static void on_read(void *arg, int err, struct edge_redis_recs *rs)
{
	struct ask_ctx *x = arg;
	struct evbuffer *b = err ? NULL : evbuffer_new();

	if (!err && !b)
		err = ENOMEM;
	if (err) {
		admin_send_error(x->req, err == ENOMEM ? 500 : 503,
		                 err == ENOMEM ? "Internal Server Error"
		                               : "Service Unavailable",
		                 err == ENOMEM ? "out of memory"
		                               : "redis unavailable");
	} else {
		if (x->kind == ASK_NODES)
			answer_nodes(x, rs, b);
		else if (x->kind == ASK_ALLOCS)
			answer_allocs(x, rs, b);
		else
			answer_stats(x, rs, b);
		admin_send_json(x->req, 200, "OK", b);
	}
	if (b)
		evbuffer_free(b);
	edge_redis_recs_free(rs);
	free(x);
}

static struct ask_ctx *ask_new(struct edge_admin *a, struct evhttp_request *req,
                               enum ask kind)
{
	struct ask_ctx *x = calloc(1, sizeof(*x));

	if (!x) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return NULL;
	}
	x->a = a;
	x->req = req;
	x->kind = kind;
	return x;
}

/* A read that could not start: Redis is down (or out of memory). */
static void ask_failed(struct ask_ctx *x, int err)
{
	on_read(x, err ? err : ENOTCONN, NULL);
}

/* --- endpoints -------------------------------------------------------------
 */

void admin_nodes(struct edge_admin *a, struct evhttp_request *req)
{
	struct evbuffer *b;
	struct ask_ctx *x;
	int err;

	if (a->redis_configured) {
		if (!(x = ask_new(a, req, ASK_NODES)))
			return;
		if ((err = edge_redis_read_nodes(a->reader, on_read, x)) != 0)
			ask_failed(x, err);
		return;
	}
	if (!(b = evbuffer_new())) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	evbuffer_add_printf(b, "{\"scope\":\"node\",\"node\":");
	admin_json_str(b, a->node_id);
	evbuffer_add_printf(b, ",\"redis\":\"not configured\",\"count\":1,"
	                       "\"alive\":1,\"nodes\":[");
	json_self(b, a);
	evbuffer_add_printf(b, "]}\n");
	admin_send_json(req, 200, "OK", b);
	evbuffer_free(b);
}

void admin_cluster_stats(struct edge_admin *a, struct evhttp_request *req)
{
	struct ask_ctx *x = ask_new(a, req, ASK_STATS);
	int err;

	if (x && (err = edge_redis_read_nodes(a->reader, on_read, x)) != 0)
		ask_failed(x, err);
}

void admin_cluster_list(struct edge_admin *a, struct evhttp_request *req,
                        const char *query)
{
	struct edge_redis_alloc_query f = {.limit = LIMIT_DEF};
	char *user = NULL, *realm = NULL;
	const char *why = NULL, *v;
	struct evkeyvalq q;
	struct ask_ctx *x;
	int err;

	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) != 0)
		why = "malformed query string";
	else if (!text_arg(&q, "user", &user))
		why = "user: expected 1 to 799 bytes";
	else if (!text_arg(&q, "realm", &realm))
		why = "realm: expected 1 to 799 bytes";
	else if (evhttp_find_header(&q, "peer"))
		why = "peer: not supported with scope=cluster (allocation "
		      "records have no permissions): ask each node";
	else if ((v = evhttp_find_header(&q, "offset")) &&
	         !parse_size(v, OFFSET_MAX, &f.offset))
		why = "offset: expected 0 to 100000000";
	else if ((v = evhttp_find_header(&q, "limit")) &&
	         (!parse_size(v, LIMIT_MAX, &f.limit) || f.limit == 0))
		why = "limit: expected 1 to 1000";
	evhttp_clear_headers(&q);
	if (why) {
		admin_send_error(req, 400, "Bad Request", why);
	} else if ((x = ask_new(a, req, ASK_ALLOCS))) {
		f.user = user;
		f.realm = realm;
		x->offset = f.offset;
		x->limit = f.limit;
		if ((err = edge_redis_read_allocs(a->reader, &f, on_read, x)))
			ask_failed(x, err);
	}
	free(user);
	free(realm);
}
