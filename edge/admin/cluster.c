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
 * What Redis holds is data written by other nodes; its JSON is written
 * by cluster/view.c, shared with edgectl --redis.
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

/* The admin API's view options: "self", and < > & escaped. */
static struct cluster_view_opts view_opts(const struct edge_admin *a)
{
	return (struct cluster_view_opts){.self_id = a->node_id,
	                                  .quote_flags = CLUSTER_JSON_HTML};
}

/* {"scope":"cluster","node":ID, then the view (cluster/view.c). */
static void head(struct cluster_buf *j, const struct edge_admin *a)
{
	cluster_buf_addstr(j, "{\"scope\":\"cluster\",\"node\":");
	cluster_json_quote(j, a->node_id, CLUSTER_JSON_HTML);
}

static void answer(struct ask_ctx *x, const struct cluster_recs *rs,
                   struct cluster_buf *j)
{
	struct cluster_view_opts o = view_opts(x->a);

	head(j, x->a);
	if (x->kind == ASK_NODES) {
		cluster_buf_addstr(j, ",\"redis\":\"up\",");
		cluster_view_nodes(j, rs->v, rs->n, &o, edge_wall_ms());
	} else if (x->kind == ASK_ALLOCS) {
		cluster_buf_addstr(j, ",");
		cluster_view_allocs(j, rs->v, rs->n, rs->total, x->offset,
		                    x->limit, &o, (uint64_t)time(NULL));
	} else {
		cluster_buf_addstr(j, ",\"realm\":");
		cluster_json_quote(j, x->a->realm, CLUSTER_JSON_HTML);
		cluster_buf_addstr(j, ",");
		cluster_view_stats(j, rs->v, rs->n, &o, edge_wall_ms());
	}
}

static void on_read(void *arg, int err, struct cluster_recs *rs)
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
		struct cluster_buf j;
		cluster_buf_init(&j);
		answer(x, rs, &j);
		if (j.full) {
			admin_send_error(x->req, 500, "Internal Server Error",
			                 "out of memory");
		} else {
			evbuffer_add(b, j.p, j.n);
			admin_send_json(x->req, 200, "OK", b);
		}
		cluster_buf_free(&j);
	}
	if (b)
		evbuffer_free(b);
	cluster_recs_free(rs);
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
