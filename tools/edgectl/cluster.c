/*
 * tools/edgectl/cluster.c - edgectl --redis URL: the cluster scope read
 * straight from Redis, without going through a node (docs/cluster.md has
 * the key layout): the node registry (avedge/nodes, avedge/node/<id>) and
 * every node's allocation records (avedge/node/<id>/allocs,
 * avedge/alloc/<id>). Synchronous hiredis with a connect and a command
 * timeout (a CLI may block). It builds the same JSON the admin API
 * answers for /api/nodes, /api/stats?scope=cluster and
 * /api/allocations?scope=cluster (with "source":"redis"), so --json and
 * the human printers are the same as against a node. Read-only: it never
 * writes to Redis (dead ids stay in avedge/nodes until a node removes
 * them; they are listed as not alive).
 */
#include "tools/edgectl/edgectl.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NODES_PFX "avedge/node/"
#define ALLOC_PFX "avedge/alloc/"
#define NODES_SET "avedge/nodes"
#define BATCH     500

/* --- records -----------------------------------------------------------------
 */

struct rec {
	char *id;
	redisReply *h; /* HGETALL; NULL or empty: gone */
	size_t node_len;
	unsigned long long worker, serial;
	bool keep;
};

static const char *get(const struct rec *r, const char *field)
{
	for (size_t i = 0; r->h && i + 1 < r->h->elements; i += 2)
		if (r->h->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(r->h->element[i]->str, field) == 0 &&
		    r->h->element[i + 1]->type == REDIS_REPLY_STRING)
			return r->h->element[i + 1]->str;
	return NULL;
}

static bool num(const struct rec *r, const char *field, unsigned long long *v)
{
	const char *s = get(r, field);
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end;
}

static unsigned long long num0(const struct rec *r, const char *field)
{
	unsigned long long v;
	return num(r, field, &v) ? v : 0;
}

static void json_num(struct cluster_buf *b, const char *name,
                     const struct rec *r, const char *field)
{
	unsigned long long v;

	if (num(r, field, &v))
		cluster_buf_printf(b, ",\"%s\":%llu", name, v);
	else
		cluster_buf_printf(b, ",\"%s\":null", name);
}

static void json_text(struct cluster_buf *b, const char *name,
                      const struct rec *r, const char *field)
{
	cluster_buf_printf(b, ",\"%s\":", name);
	cluster_json_quote(b, get(r, field), 0);
}

static bool alive(const struct rec *r)
{
	return r->h && r->h->type == REDIS_REPLY_ARRAY && r->h->elements > 0;
}

static bool draining(const struct rec *r)
{
	const char *d = get(r, "draining");
	return d && strcmp(d, "0") != 0;
}

/* "<node>-<worker>-<serial>" sort key; node ids may hold '-'. */
static void id_parse(struct rec *a)
{
	char *last = strrchr(a->id, '-'), *end;
	const char *prev;

	a->node_len = 0;
	if (!last || last == a->id)
		return;
	for (prev = last - 1; prev > a->id && *prev != '-'; prev--)
		;
	if (prev == a->id)
		return;
	a->worker = strtoull(prev + 1, &end, 10);
	if (end != last)
		return;
	a->serial = strtoull(last + 1, &end, 10);
	if (!*end)
		a->node_len = (size_t)(prev - a->id);
}

static int cmp_rec(const void *x, const void *y)
{
	const struct rec *a = x, *b = y;
	size_t n;
	int c;

	if (!a->node_len || !b->node_len)
		return strcmp(a->id, b->id);
	n = a->node_len < b->node_len ? a->node_len : b->node_len;
	if ((c = memcmp(a->id, b->id, n)) != 0)
		return c;
	if (a->node_len != b->node_len)
		return a->node_len < b->node_len ? -1 : 1;
	if (a->worker != b->worker)
		return a->worker < b->worker ? -1 : 1;
	if (a->serial != b->serial)
		return a->serial < b->serial ? -1 : 1;
	return 0;
}

static int cmp_id(const void *x, const void *y)
{
	return strcmp(((const struct rec *)x)->id, ((const struct rec *)y)->id);
}

static void recs_free(struct rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		if (v[i].h)
			freeReplyObject(v[i].h);
	}
	free(v);
}

/* --- Redis
 * -------------------------------------------------------------------- */

struct conn {
	redisContext *c;
	char where[300];
	char err[512];
};

static int fail(struct conn *k, const char *what)
{
	snprintf(k->err, sizeof(k->err), "%s: %s", what,
	         k->c && k->c->err ? k->c->errstr : "unexpected reply");
	return ECTL_UNREACHABLE;
}

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], as the daemon takes it. */
static int parse_url(const char *url, char *host, size_t hcap, int *port,
                     char *user, char *pass, size_t cap, long *db)
{
	const char *a, *path, *at, *colon, *h, *he;
	char *end;

	if (strncasecmp(url, "redis://", 8) != 0)
		return EINVAL;
	a = url + 8;
	path = a + strcspn(a, "/?#");
	if (strpbrk(path, "?#"))
		return EINVAL;
	user[0] = pass[0] = 0;
	at = NULL;
	for (const char *s = a; s < path; s++)
		if (*s == '@')
			at = s;
	if (at) {
		colon = memchr(a, ':', (size_t)(at - a));
		if (!colon || (size_t)(at - a) >= cap)
			return EINVAL;
		snprintf(user, cap, "%.*s", (int)(colon - a), a);
		snprintf(pass, cap, "%.*s", (int)(at - colon - 1), colon + 1);
		a = at + 1;
	}
	if (*a == '[') {
		h = a + 1;
		he = memchr(h, ']', (size_t)(path - h));
		if (!he)
			return EINVAL;
		colon = he + 1 < path && he[1] == ':' ? he + 1 : NULL;
	} else {
		h = a;
		colon = memchr(a, ':', (size_t)(path - a));
		he = colon ? colon : path;
	}
	if (he == h || (size_t)(he - h) >= hcap)
		return EINVAL;
	snprintf(host, hcap, "%.*s", (int)(he - h), h);
	*port = 6379;
	if (colon) {
		long p = strtol(colon + 1, &end, 10);
		if (end != path || p <= 0 || p > 65535)
			return EINVAL;
		*port = (int)p;
	}
	*db = 0;
	if (path[0] == '/' && path[1]) {
		*db = strtol(path + 1, &end, 10);
		if (*end || *db < 0 || *db > 65535)
			return EINVAL;
	}
	return 0;
}

static redisReply *cmd(struct conn *k, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(k->c, fmt, ap);
	va_end(ap);
	return r;
}

static int connect_redis(struct conn *k, const char *url, double timeout_s)
{
	char host[256], user[512], pass[512];
	struct timeval tv = {
	        (time_t)timeout_s,
	        (suseconds_t)((timeout_s - (time_t)timeout_s) * 1e6)};
	redisReply *r;
	int port;
	long db;

	if (parse_url(url, host, sizeof(host), &port, user, pass, sizeof(user),
	              &db) != 0) {
		snprintf(k->err, sizeof(k->err),
		         "--redis: expected "
		         "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]");
		return ECTL_USAGE;
	}
	snprintf(k->where, sizeof(k->where), "%s:%d db %ld", host, port, db);
	k->c = redisConnectWithTimeout(host, port, tv);
	if (!k->c || k->c->err)
		return fail(k, "cannot connect");
	redisSetTimeout(k->c, tv);
	if (pass[0] || user[0]) {
		r = user[0] ? cmd(k, "AUTH %s %s", user, pass)
		            : cmd(k, "AUTH %s", pass);
		memset(pass, 0, sizeof(pass));
		if (!r || r->type == REDIS_REPLY_ERROR) {
			if (r)
				freeReplyObject(r);
			snprintf(k->err, sizeof(k->err), "AUTH refused");
			return ECTL_UNREACHABLE;
		}
		freeReplyObject(r);
	}
	r = cmd(k, "SELECT %ld", db);
	if (!r || r->type == REDIS_REPLY_ERROR) {
		if (r)
			freeReplyObject(r);
		return fail(k, "SELECT");
	}
	freeReplyObject(r);
	return 0;
}

/* SMEMBERS key into *v (ids only). 0 or ECTL_UNREACHABLE. */
static int members(struct conn *k, const char *key, struct rec **v, size_t *n,
                   size_t *cap)
{
	redisReply *r = cmd(k, "SMEMBERS %s", key);

	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		return fail(k, "SMEMBERS");
	}
	for (size_t i = 0; i < r->elements; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING)
			continue;
		if (*n == *cap) {
			size_t c = *cap ? 2 * *cap : 64;
			struct rec *p = realloc(*v, c * sizeof(*p));
			if (!p)
				break;
			*v = p;
			*cap = c;
		}
		memset(&(*v)[*n], 0, sizeof(**v));
		(*v)[*n].id = strdup(r->element[i]->str);
		if ((*v)[*n].id)
			id_parse(&(
			        *v)[(*n)++]); /* the sort key of an alloc id */
	}
	freeReplyObject(r);
	return 0;
}

/* Pipelined: "HGETALL prefix+id" (or HMGET user realm, match) for
 * v[idx[i]], BATCH at a time. */
static int hashes(struct conn *k, const char *prefix, struct rec *v,
                  const size_t *idx, size_t n, bool match,
                  const struct ectl_cluster_query *q)
{
	for (size_t from = 0; from < n; from += BATCH) {
		size_t to = from + BATCH < n ? from + BATCH : n;
		for (size_t i = from; i < to; i++) {
			struct rec *r = &v[idx ? idx[i] : i];
			if (match)
				redisAppendCommand(k->c,
				                   "HMGET %s%s user realm",
				                   prefix, r->id);
			else
				redisAppendCommand(k->c, "HGETALL %s%s", prefix,
				                   r->id);
		}
		for (size_t i = from; i < to; i++) {
			struct rec *r = &v[idx ? idx[i] : i];
			redisReply *rep = NULL;
			if (redisGetReply(k->c, (void **)&rep) != REDIS_OK ||
			    !rep || rep->type != REDIS_REPLY_ARRAY) {
				if (rep)
					freeReplyObject(rep);
				return fail(k, match ? "HMGET" : "HGETALL");
			}
			if (!match) {
				r->h = rep;
				continue;
			}
			r->keep =
			        rep->elements == 2 &&
			        rep->element[0]->type == REDIS_REPLY_STRING &&
			        (!q->user ||
			         strcmp(rep->element[0]->str, q->user) == 0) &&
			        (!q->realm ||
			         (rep->element[1]->type == REDIS_REPLY_STRING &&
			          strcmp(rep->element[1]->str, q->realm) == 0));
			freeReplyObject(rep);
		}
	}
	return 0;
}

/* The registry, sorted by id, each with its hash. */
static int read_nodes(struct conn *k, struct rec **v, size_t *n)
{
	size_t cap = 0;
	int rc;

	*v = NULL;
	*n = 0;
	if ((rc = members(k, NODES_SET, v, n, &cap)))
		return rc;
	qsort(*v, *n, sizeof(**v), cmp_id);
	return hashes(k, NODES_PFX, *v, NULL, *n, false, NULL);
}

/* --- the answers ---------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void json_node(struct cluster_buf *b, const struct rec *r, uint64_t now)
{
	unsigned long long n, max, t;

	cluster_buf_printf(b, "{\"id\":");
	cluster_json_quote(b, r->id, 0);
	cluster_buf_printf(b, ",\"alive\":%s,\"draining\":%s",
	                   alive(r) ? "true" : "false",
	                   draining(r) ? "true" : "false");
	json_num(b, "allocations", r, "allocations");
	json_num(b, "max_allocations", r, "max_allocations");
	if (num(r, "allocations", &n) && num(r, "max_allocations", &max) && max)
		cluster_buf_printf(b, ",\"load\":%.3f", (double)n / max);
	else
		cluster_buf_printf(b, ",\"load\":null");
	json_num(b, "workers", r, "workers");
	json_text(b, "version", r, "version");
	json_text(b, "listen4", r, "listen4");
	json_text(b, "listen6", r, "listen6");
	json_text(b, "relay4", r, "relay4");
	json_text(b, "relay6", r, "relay6");
	json_num(b, "tls_port", r, "tls_port");
	json_num(b, "dtls_port", r, "dtls_port");
	json_text(b, "domain", r, "domain");
	if (num(r, "started", &t))
		cluster_buf_printf(b, ",\"started\":%llu,\"uptime_s\":%llu",
		                   t / 1000, now > t ? (now - t) / 1000 : 0);
	if (num(r, "updated", &t))
		cluster_buf_printf(b, ",\"updated\":%llu,\"age_s\":%.1f",
		                   t / 1000,
		                   now > t ? (double)(now - t) / 1000 : 0.0);
	cluster_buf_add(b, "}", 1);
}

static void nodes_json(struct cluster_buf *b, const struct rec *v, size_t n)
{
	uint64_t now = now_ms();
	size_t live = 0;

	for (size_t i = 0; i < n; i++)
		live += alive(&v[i]);
	cluster_buf_printf(
	        b,
	        "{\"scope\":\"cluster\",\"source\":\"redis\",\"count\":%zu,"
	        "\"alive\":%zu,\"nodes\":[",
	        n, live);
	for (size_t i = 0; i < n; i++) {
		if (i)
			cluster_buf_add(b, ",", 1);
		json_node(b, &v[i], now);
	}
	cluster_buf_printf(b, "]}\n");
}

static void stats_json(struct cluster_buf *b, const struct rec *v, size_t n)
{
	static const char *const sums[] = {
	        "allocations",     "allocations_created", "permissions",
	        "channels",        "auth_failures",       "to_peer_packets",
	        "to_peer_bytes",   "to_client_packets",   "to_client_bytes",
	        "max_allocations",
	};
	enum { NSUMS = sizeof(sums) / sizeof(sums[0]) };
	unsigned long long tot[NSUMS] = {0}, m;
	size_t live = 0, dr = 0;
	bool unlimited = false;

	for (size_t i = 0; i < n; i++) {
		if (!alive(&v[i]))
			continue;
		live++;
		dr += draining(&v[i]);
		for (size_t k = 0; k < NSUMS; k++)
			tot[k] += num0(&v[i], sums[k]);
		if (!num(&v[i], "max_allocations", &m) || m == 0)
			unlimited = true;
	}
	cluster_buf_printf(
	        b,
	        "{\"scope\":\"cluster\",\"source\":\"redis\",\"nodes\":%zu,"
	        "\"nodes_alive\":%zu,\"nodes_draining\":%zu,"
	        "\"allocations\":%llu,\"max_allocations\":%llu,",
	        n, live, dr, tot[0], unlimited ? 0ull : tot[9]);
	cluster_buf_printf(b,
	                   "\"allocations_created\":%llu,\"permissions\":%llu,"
	                   "\"channels\":%llu,\"auth_failures\":%llu,",
	                   tot[1], tot[2], tot[3], tot[4]);
	cluster_buf_printf(
	        b,
	        "\"relayed\":{\"to_peer\":{\"packets\":%llu,\"bytes\":%llu},"
	        "\"to_client\":{\"packets\":%llu,\"bytes\":%llu}},"
	        "\"redis\":\"up\",\"per_node\":[",
	        tot[5], tot[6], tot[7], tot[8]);
	uint64_t now = now_ms();
	for (size_t i = 0; i < n; i++) {
		if (i)
			cluster_buf_add(b, ",", 1);
		json_node(b, &v[i], now);
	}
	cluster_buf_printf(b, "]}\n");
}

static void alloc_json(struct cluster_buf *b, const struct rec *r,
                       uint64_t now_s)
{
	unsigned long long t;
	const char *relay = get(r, "relay"), *relay2 = get(r, "relay2");

	cluster_buf_printf(b, "{\"id\":");
	cluster_json_quote(b, r->id, 0);
	json_text(b, "node", r, "node");
	json_num(b, "worker", r, "worker");
	json_text(b, "user", r, "user");
	json_text(b, "realm", r, "realm");
	json_text(b, "transport", r, "transport");
	json_text(b, "client", r, "client");
	cluster_buf_printf(b, ",\"relay\":[");
	if (relay && *relay)
		cluster_json_quote(b, relay, 0);
	if (relay2 && *relay2) {
		if (relay && *relay)
			cluster_buf_add(b, ",", 1);
		cluster_json_quote(b, relay2, 0);
	}
	cluster_buf_add(b, "]", 1);
	json_num(b, "created", r, "created");
	if (num(r, "created", &t))
		cluster_buf_printf(b, ",\"age_s\":%llu",
		                   now_s > t ? now_s - t : 0);
	json_num(b, "lifetime_s", r, "lifetime");
	if (num(r, "expires", &t))
		cluster_buf_printf(b, ",\"expires_in_s\":%llu",
		                   t > now_s ? t - now_s : 0);
	json_num(b, "permission_count", r, "permissions");
	json_num(b, "channel_count", r, "channels");
	cluster_buf_printf(b, ",\"to_peer\":{\"packets\":%llu,\"bytes\":%llu}",
	                   num0(r, "to_peer_packets"),
	                   num0(r, "to_peer_bytes"));
	cluster_buf_printf(
	        b, ",\"to_client\":{\"packets\":%llu,\"bytes\":%llu}",
	        num0(r, "to_client_packets"), num0(r, "to_client_bytes"));
	json_num(b, "updated", r, "updated");
	cluster_buf_add(b, "}", 1);
}

static int allocs_json(struct conn *k, struct cluster_buf *b,
                       const struct rec *nodes, size_t nn,
                       const struct ectl_cluster_query *q)
{
	struct rec *v = NULL;
	size_t n = 0, cap = 0, total = 0, rank = 0, np = 0, shown = 0;
	size_t *page = NULL;
	bool filtered = q->user || q->realm;
	char key[1024];
	int rc = 0;

	for (size_t i = 0; !rc && i < nn; i++) {
		snprintf(key, sizeof(key), NODES_PFX "%s/allocs", nodes[i].id);
		rc = members(k, key, &v, &n, &cap);
	}
	if (!rc) {
		qsort(v, n, sizeof(*v), cmp_rec);
		if (filtered)
			rc = hashes(k, ALLOC_PFX, v, NULL, n, true, q);
	}
	if (!rc && !(page = calloc(q->limit ? q->limit : 1, sizeof(*page))))
		rc = ECTL_REFUSED;
	for (size_t i = 0; !rc && i < n; i++) {
		if (filtered && !v[i].keep)
			continue;
		total++;
		if (rank++ >= q->offset && np < q->limit)
			page[np++] = i;
	}
	if (!rc)
		rc = hashes(k, ALLOC_PFX, v, page, np, false, NULL);
	if (!rc) {
		uint64_t now_s = now_ms() / 1000;
		cluster_buf_printf(
		        b,
		        "{\"scope\":\"cluster\",\"source\":\"redis\","
		        "\"total\":%zu,\"offset\":%zu,\"limit\":%zu,"
		        "\"allocations\":[",
		        total, q->offset, q->limit);
		for (size_t i = 0; i < np; i++) {
			if (!alive(&v[page[i]]))
				continue; /* expired in between */
			if (shown++)
				cluster_buf_add(b, ",", 1);
			alloc_json(b, &v[page[i]], now_s);
		}
		cluster_buf_printf(b, "]}\n");
	}
	free(page);
	recs_free(v, n);
	return rc;
}

int ectl_cluster(const char *url, double timeout_s, const char *command,
                 const struct ectl_cluster_query *q, char **json, size_t *len)
{
	struct conn k = {0};
	struct cluster_buf b = {0};
	struct rec *nodes = NULL;
	size_t nn = 0;
	int rc;

	*json = NULL;
	*len = 0;
	rc = connect_redis(&k, url, timeout_s);
	if (!rc)
		rc = read_nodes(&k, &nodes, &nn);
	if (!rc) {
		if (strcmp(command, "nodes") == 0)
			nodes_json(&b, nodes, nn);
		else if (strcmp(command, "status") == 0)
			stats_json(&b, nodes, nn);
		else
			rc = allocs_json(&k, &b, nodes, nn, q);
	}
	if (rc == ECTL_UNREACHABLE)
		fprintf(stderr, "edgectl: %s: Redis at %s: %s\n", command,
		        k.where[0] ? k.where : url, k.err);
	else if (rc == ECTL_USAGE)
		fprintf(stderr, "edgectl: %s\n(edgectl --help for usage)\n",
		        k.err);
	else if (!rc && b.full) {
		fprintf(stderr, "edgectl: %s: out of memory\n", command);
		rc = ECTL_REFUSED;
	}
	recs_free(nodes, nn);
	if (k.c)
		redisFree(k.c);
	if (rc) {
		free(b.p);
		return rc;
	}
	*json = b.p;
	*len = b.n;
	return 0;
}
