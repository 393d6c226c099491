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

#define BATCH 500

/* --- records -----------------------------------------------------------------
 */

/* A set member: a node or allocation id, its sort key, and its hash
 * once read (cluster/rec.c). */
struct rec {
	char *id;
	struct cluster_alloc_id key;
	struct cluster_rec h; /* h.n == 0: gone (or not read) */
	bool keep;
};

static int cmp_rec(const void *x, const void *y)
{
	return cluster_alloc_id_cmp(&((const struct rec *)x)->key,
	                            &((const struct rec *)y)->key);
}

static int cmp_id(const void *x, const void *y)
{
	return strcmp(((const struct rec *)x)->id, ((const struct rec *)y)->id);
}

static void recs_free(struct rec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].id);
		cluster_rec_clear(&v[i].h);
	}
	free(v);
}

/* An HGETALL reply into r->h. 0 or ENOMEM. */
static int rec_fill(struct rec *r, const redisReply *h)
{
	size_t n = h->elements;
	const char **v = calloc(n ? n : 1, sizeof(*v));
	size_t *lens = calloc(n ? n : 1, sizeof(*lens));
	int err = ENOMEM;

	for (size_t i = 0; v && lens && i < n; i++)
		if (h->element[i]->type == REDIS_REPLY_STRING) {
			v[i] = h->element[i]->str;
			lens[i] = h->element[i]->len;
		}
	if (v && lens)
		err = cluster_rec_decode(&r->h, r->id, v, lens, n);
	free(v);
	free(lens);
	return err;
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
		if ((*v)[*n].id) { /* the sort key of an alloc id */
			cluster_alloc_id_parse(&(*v)[*n].key, (*v)[*n].id);
			(*n)++;
		}
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
				int err = rec_fill(r, rep);
				freeReplyObject(rep);
				if (err) {
					snprintf(k->err, sizeof(k->err),
					         "out of memory");
					return ECTL_UNREACHABLE;
				}
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
	if ((rc = members(k, CLUSTER_NODES_SET, v, n, &cap)))
		return rc;
	qsort(*v, *n, sizeof(**v), cmp_id);
	return hashes(k, CLUSTER_NODE_PFX, *v, NULL, *n, false, NULL);
}

/* --- the answers ---------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* edgectl's view: no "self", "updated":null when missing (cluster/view.c). */
static const struct cluster_view_opts view_opts = {.updated_null = true};

/* The records of v[idx[0..n)] (idx NULL: v[0..n)), copied out. */
static struct cluster_rec *hashes_of(const struct rec *v, const size_t *idx,
                                     size_t n)
{
	struct cluster_rec *h = calloc(n ? n : 1, sizeof(*h));

	for (size_t i = 0; h && i < n; i++)
		h[i] = v[idx ? idx[i] : i].h; /* borrowed: never cleared */
	return h;
}

static int nodes_json(struct cluster_buf *b, const struct rec *v, size_t n,
                      bool stats)
{
	struct cluster_rec *h = hashes_of(v, NULL, n);

	if (!h)
		return ECTL_REFUSED;
	cluster_buf_addstr(b, "{\"scope\":\"cluster\",\"source\":\"redis\",");
	if (stats)
		cluster_view_stats(b, h, n, &view_opts, now_ms());
	else
		cluster_view_nodes(b, h, n, &view_opts, now_ms());
	free(h);
	return 0;
}

static int allocs_json(struct conn *k, struct cluster_buf *b,
                       const struct rec *nodes, size_t nn,
                       const struct ectl_cluster_query *q)
{
	struct rec *v = NULL;
	size_t n = 0, cap = 0, total = 0, rank = 0, np = 0;
	size_t *page = NULL;
	bool filtered = q->user || q->realm;
	char key[1024];
	int rc = 0;

	for (size_t i = 0; !rc && i < nn; i++) {
		if (cluster_key(key, sizeof(key), CLUSTER_KEY_NODE_ALLOCS,
		                nodes[i].id) != 0)
			continue; /* too long for a node id */
		rc = members(k, key, &v, &n, &cap);
	}
	if (!rc) {
		qsort(v, n, sizeof(*v), cmp_rec);
		if (filtered)
			rc = hashes(k, CLUSTER_ALLOC_PFX, v, NULL, n, true, q);
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
		rc = hashes(k, CLUSTER_ALLOC_PFX, v, page, np, false, NULL);
	if (!rc) {
		struct cluster_rec *h = hashes_of(v, page, np);
		if (!h)
			rc = ECTL_REFUSED;
		cluster_buf_addstr(
		        b, "{\"scope\":\"cluster\",\"source\":\"redis\",");
		if (h)
			cluster_view_allocs(b, h, np, total, q->offset,
			                    q->limit, &view_opts,
			                    now_ms() / 1000);
		free(h);
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
			rc = nodes_json(&b, nodes, nn, false);
		else if (strcmp(command, "status") == 0)
			rc = nodes_json(&b, nodes, nn, true);
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
