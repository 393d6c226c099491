/*
 * edge/redis/query.c - cluster-wide reads for the admin API: the node
 * registry and every node's allocation records (docs/cluster.md), on a
 * connection of the reader's own on the admin thread's event base, so
 * the admin thread never blocks and the control thread's heartbeat is
 * never queued behind a listing.
 *
 * A read is a short chain of commands, one in flight at a time, each
 * bounded by redis-timeout (rconn): SMEMBERS avedge/nodes; for a listing
 * SMEMBERS of each node's allocation set; then the hashes in batches of
 * BATCH keys, each batch one small read-only script (HMGET of user and
 * realm for a filter, HGETALL for the page), so Redis never runs one
 * long command for a big cluster. The first failure ends the read with
 * its error; a command that timed out keeps the read's memory until its
 * late reply (or the connection's end) comes back, then it is freed.
 */
#include "edge/base/log.h"
#include "edge/redis/redis_int.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 500 /* keys per script */

static const char hgetall_src[] =
        "local out = {}\n"
        "for i = 1, #KEYS do out[i] = redis.call('HGETALL', KEYS[i]) end\n"
        "return out\n";
static const char match_src[] =
        "local out = {}\n"
        "for i = 1, #KEYS do\n"
        "  out[i] = redis.call('HMGET', KEYS[i], 'user', 'realm')\n"
        "end\n"
        "return out\n";

struct edge_redis_reader {
	const struct edge_redis *r;
	struct rconn *c;
};

enum step { ST_NODES, ST_ALLOC_SETS, ST_MATCH, ST_FETCH };

/* One allocation id (owned) with its sort key (cluster/rec.c). */
struct aid {
	char *id;
	struct cluster_alloc_id key;
	bool keep;
};

struct read {
	struct edge_redis_reader *q;
	bool allocs; /* else the registry */
	edge_redis_recs_fn *done;
	void *arg;
	char *user, *realm;
	size_t offset, limit;
	enum step step;
	bool busy;     /* a command is out (timed out or not) */
	bool finished; /* done ran */
	char **nodes;  /* sorted node ids */
	size_t nnodes, node_i;
	struct aid *ids; /* allocation ids */
	size_t nids, cap;
	size_t *page; /* indexes into ids (allocs) or nodes */
	size_t npage, batch_i, total;
	struct cluster_recs *out;
};

/* --- records ---------------------------------------------------------------
 */

/* A flat HGETALL array into rec (cluster/rec.c decodes). 0 or ENOMEM. */
static int rec_fill(struct cluster_rec *rec, const char *id,
                    const redisReply *h)
{
	size_t n = h && h->type == REDIS_REPLY_ARRAY ? h->elements : 0;
	const char **v = calloc(n ? n : 1, sizeof(*v));
	size_t *lens = calloc(n ? n : 1, sizeof(*lens));
	int err = ENOMEM;

	for (size_t i = 0; v && lens && i < n; i++) {
		const redisReply *e = h->element[i];
		if (e->type == REDIS_REPLY_STRING ||
		    e->type == REDIS_REPLY_STATUS) {
			v[i] = e->str;
			lens[i] = e->len;
		}
	}
	if (v && lens)
		err = cluster_rec_decode(rec, id, v, lens, n);
	free(v);
	free(lens);
	return err;
}

/* --- the read's life -------------------------------------------------------
 */

static void read_free(struct read *rd)
{
	for (size_t i = 0; i < rd->nnodes; i++)
		free(rd->nodes[i]);
	free(rd->nodes);
	for (size_t i = 0; i < rd->nids; i++)
		free(rd->ids[i].id);
	free(rd->ids);
	free(rd->page);
	free(rd->user);
	free(rd->realm);
	cluster_recs_free(rd->out);
	free(rd);
}

static void finish(struct read *rd, int err)
{
	struct cluster_recs *out = err ? NULL : rd->out;

	if (rd->finished)
		return;
	rd->finished = true;
	if (!err)
		rd->out = NULL; /* the callee's now */
	rd->done(rd->arg, err, out);
}

static void on_reply(struct rconn *c, struct redisReply *rep, enum rc_status st,
                     void *arg);

/* Send the next command of the read; false: it ended (done ran). */
static bool send_cmd(struct read *rd, int argc, const char **argv,
                     const size_t *lens)
{
	int err = rconn_cmd(rd->q->c, on_reply, rd, argc, argv, lens);

	if (err) {
		finish(rd, err == ENOMEM ? ENOMEM : ENOTCONN);
		return false;
	}
	rd->busy = true;
	return true;
}

static bool send_smembers(struct read *rd, const char *key)
{
	const char *argv[2] = {"SMEMBERS", key};
	size_t lens[2] = {8, strlen(key)};

	return send_cmd(rd, 2, argv, lens);
}

/* One script over the keys prefix + name of names[idx[from..to)]. */
static bool send_batch(struct read *rd, const char *src, const char *prefix,
                       size_t from, size_t to)
{
	size_t n = to - from, plen = strlen(prefix);
	const char **argv = calloc(n + 3, sizeof(*argv));
	size_t *lens = calloc(n + 3, sizeof(*lens));
	char **keys = calloc(n, sizeof(*keys));
	char nk[24];
	bool ok = argv && lens && keys;

	snprintf(nk, sizeof(nk), "%zu", n);
	if (ok) {
		argv[0] = "EVAL";
		argv[1] = src;
		argv[2] = nk;
	}
	for (size_t i = 0; ok && i < n; i++) {
		size_t k = rd->page ? rd->page[from + i] : from + i;
		const char *name = rd->allocs ? rd->ids[k].id : rd->nodes[k];
		size_t len = strlen(name);
		if (!(keys[i] = malloc(plen + len + 1))) {
			ok = false;
			break;
		}
		memcpy(keys[i], prefix, plen);
		memcpy(keys[i] + plen, name, len + 1);
		argv[i + 3] = keys[i];
	}
	if (ok) {
		for (size_t i = 0; i < n + 3; i++)
			lens[i] = strlen(argv[i]);
		ok = send_cmd(rd, (int)(n + 3), argv, lens);
	} else {
		finish(rd, ENOMEM);
	}
	for (size_t i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
	free(argv);
	free(lens);
	return ok;
}

/* --- ordering --------------------------------------------------------------
 */

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static int cmp_aid(const void *x, const void *y)
{
	return cluster_alloc_id_cmp(&((const struct aid *)x)->key,
	                            &((const struct aid *)y)->key);
}

/* --- steps ------------------------------------------------------------------
 */

static void fetch_next(struct read *rd);

/* The page (indexes of the kept ids from offset on) and its fetch. */
static void start_fetch(struct read *rd, bool filtered)
{
	size_t rank = 0;

	rd->step = ST_FETCH;
	rd->batch_i = 0;
	rd->total = 0;
	free(rd->page);
	rd->page = calloc(rd->limit ? rd->limit : 1, sizeof(*rd->page));
	if (!rd->page) {
		finish(rd, ENOMEM);
		return;
	}
	rd->npage = 0;
	for (size_t i = 0; i < rd->nids; i++) {
		if (filtered && !rd->ids[i].keep)
			continue;
		rd->total++;
		if (rank++ >= rd->offset && rd->npage < rd->limit)
			rd->page[rd->npage++] = i;
	}
	fetch_next(rd);
}

static void fetch_next(struct read *rd)
{
	size_t to = rd->batch_i + BATCH;
	size_t n = rd->allocs ? rd->npage : rd->nnodes;

	if (rd->batch_i >= n) {
		rd->out->total = rd->allocs ? rd->total : rd->nnodes;
		finish(rd, 0);
		return;
	}
	send_batch(rd, hgetall_src,
	           rd->allocs ? CLUSTER_ALLOC_PFX : CLUSTER_NODE_PFX,
	           rd->batch_i, to < n ? to : n);
}

static void match_next(struct read *rd)
{
	size_t to = rd->batch_i + BATCH;

	if (rd->batch_i >= rd->nids) {
		start_fetch(rd, true);
		return;
	}
	send_batch(rd, match_src, CLUSTER_ALLOC_PFX, rd->batch_i,
	           to < rd->nids ? to : rd->nids);
}

static void sets_next(struct read *rd)
{
	char key[sizeof(CLUSTER_NODE_PFX) + 2 * EDGE_NODE_ID_MAX + 16];

	while (rd->node_i < rd->nnodes &&
	       cluster_key(key, sizeof(key), CLUSTER_KEY_NODE_ALLOCS,
	                   rd->nodes[rd->node_i]) != 0)
		rd->node_i++; /* not a node id of ours: too long */
	if (rd->node_i < rd->nnodes) {
		send_smembers(rd, key);
		return;
	}
	qsort(rd->ids, rd->nids, sizeof(*rd->ids), cmp_aid);
	rd->batch_i = 0;
	if (rd->user || rd->realm) {
		rd->step = ST_MATCH;
		match_next(rd);
	} else {
		start_fetch(rd, false);
	}
}

/* Strings of an array reply, copied; false: out of memory. */
static bool take_members(const redisReply *rep, char ***v, size_t *n)
{
	size_t k = 0;

	*v = calloc(rep->elements ? rep->elements : 1, sizeof(**v));
	if (!*v)
		return false;
	for (size_t i = 0; i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		if (e->type != REDIS_REPLY_STRING)
			continue;
		if (!((*v)[k] = strndup(e->str, e->len))) {
			*n = k;
			return false;
		}
		k++;
	}
	*n = k;
	return true;
}

static bool add_alloc_ids(struct read *rd, const redisReply *rep)
{
	for (size_t i = 0; i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		if (e->type != REDIS_REPLY_STRING)
			continue;
		if (rd->nids == rd->cap) {
			size_t cap = rd->cap ? 2 * rd->cap : 64;
			struct aid *v = realloc(rd->ids, cap * sizeof(*v));
			if (!v)
				return false;
			rd->ids = v;
			rd->cap = cap;
		}
		struct aid *a = &rd->ids[rd->nids];
		memset(a, 0, sizeof(*a));
		if (!(a->id = strndup(e->str, e->len)))
			return false;
		cluster_alloc_id_parse(&a->key, a->id);
		rd->nids++;
	}
	return true;
}

static bool same(const redisReply *e, const char *want)
{
	return !want ||
	       (e->type == REDIS_REPLY_STRING && strlen(want) == e->len &&
	        memcmp(e->str, want, e->len) == 0);
}

static void on_match(struct read *rd, const redisReply *rep)
{
	for (size_t i = 0; i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		if (rd->batch_i + i >= rd->nids)
			break;
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
			continue;
		rd->ids[rd->batch_i + i].keep =
		        e->element[0]->type == REDIS_REPLY_STRING &&
		        same(e->element[0], rd->user) &&
		        same(e->element[1], rd->realm);
	}
	rd->batch_i += BATCH;
	match_next(rd);
}

static void on_fetch(struct read *rd, const redisReply *rep)
{
	struct cluster_recs *out = rd->out;

	for (size_t i = 0; i < rep->elements; i++) {
		size_t k = rd->batch_i + i;
		const char *id;
		if (rd->allocs) {
			if (k >= rd->npage)
				break;
			id = rd->ids[rd->page[k]].id;
			if (rep->element[i]->elements == 0)
				continue; /* expired in between */
		} else {
			if (k >= rd->nnodes)
				break;
			id = rd->nodes[k];
		}
		if (rec_fill(&out->v[out->n++], id, rep->element[i]) != 0) {
			finish(rd, ENOMEM);
			return;
		}
	}
	rd->batch_i += BATCH;
	fetch_next(rd);
}

static void on_nodes(struct read *rd, const redisReply *rep)
{
	size_t cap;

	if (!take_members(rep, &rd->nodes, &rd->nnodes)) {
		finish(rd, ENOMEM);
		return;
	}
	qsort(rd->nodes, rd->nnodes, sizeof(*rd->nodes), cmp_str);
	rd->node_i = 0;
	if (rd->allocs) {
		rd->step = ST_ALLOC_SETS;
		cap = rd->limit;
	} else {
		rd->step = ST_FETCH;
		cap = rd->nnodes;
	}
	rd->out = calloc(1, sizeof(*rd->out));
	if (rd->out)
		rd->out->v = calloc(cap ? cap : 1, sizeof(*rd->out->v));
	if (!rd->out || !rd->out->v) {
		finish(rd, ENOMEM);
		return;
	}
	if (rd->allocs)
		sets_next(rd);
	else
		fetch_next(rd);
}

static void step_reply(struct read *rd, const redisReply *rep)
{
	if (rep->type != REDIS_REPLY_ARRAY) {
		finish(rd, EIO);
		return;
	}
	switch (rd->step) {
	case ST_NODES:
		on_nodes(rd, rep);
		break;
	case ST_ALLOC_SETS:
		if (!add_alloc_ids(rd, rep)) {
			finish(rd, ENOMEM);
			return;
		}
		rd->node_i++;
		sets_next(rd);
		break;
	case ST_MATCH:
		on_match(rd, rep);
		break;
	case ST_FETCH:
		on_fetch(rd, rep);
		break;
	}
}

static void on_reply(struct rconn *c, struct redisReply *rep, enum rc_status st,
                     void *arg)
{
	struct read *rd = arg;

	(void)c;
	if (st == RC_TIMEOUT) {
		finish(rd, ETIMEDOUT); /* the late reply frees */
		return;
	}
	rd->busy = false;
	if (st == RC_LATE || rd->finished) {
		read_free(rd);
		return;
	}
	if (st == RC_DOWN || !rep)
		finish(rd, ENOTCONN);
	else if (rep->type == REDIS_REPLY_ERROR) {
		edge_warn("redis admin reads: %s", rep->str);
		finish(rd, EIO);
	} else
		step_reply(rd, rep);
	if (rd->finished && !rd->busy)
		read_free(rd);
}

/* --- the API ----------------------------------------------------------------
 */

int edge_redis_reader_new(struct edge_redis_reader **out,
                          const struct edge_redis *r, struct event_base *base)
{
	struct edge_redis_reader *q = calloc(1, sizeof(*q));
	int err;

	*out = NULL;
	if (!q)
		return ENOMEM;
	q->r = r;
	err = rconn_new(&q->c, &(struct rconn_opts){
	                               .base = base,
	                               .url = r->cfg.url,
	                               .timeout_ms = r->cfg.timeout_ms,
	                               .name = "admin reads",
	                       });
	if (err) {
		free(q);
		return err;
	}
	*out = q;
	return 0;
}

void edge_redis_reader_free(struct edge_redis_reader *q)
{
	if (!q)
		return;
	rconn_free(q->c); /* pending reads end with ENOTCONN */
	free(q);
}

static int start(struct edge_redis_reader *q, struct read *rd)
{
	const char *argv[2] = {"SMEMBERS", CLUSTER_NODES_SET};
	size_t lens[2] = {8, strlen(CLUSTER_NODES_SET)};
	int err;

	rd->q = q;
	rd->step = ST_NODES;
	if (!q || !rconn_up(q->c)) {
		read_free(rd);
		return ENOTCONN;
	}
	if ((err = rconn_cmd(q->c, on_reply, rd, 2, argv, lens)) != 0) {
		read_free(rd);
		return err;
	}
	rd->busy = true;
	return 0;
}

int edge_redis_read_nodes(struct edge_redis_reader *q, edge_redis_recs_fn *done,
                          void *arg)
{
	struct read *rd = calloc(1, sizeof(*rd));

	if (!rd)
		return ENOMEM;
	rd->done = done;
	rd->arg = arg;
	return start(q, rd);
}

int edge_redis_read_allocs(struct edge_redis_reader *q,
                           const struct edge_redis_alloc_query *f,
                           edge_redis_recs_fn *done, void *arg)
{
	struct read *rd = calloc(1, sizeof(*rd));

	if (!rd)
		return ENOMEM;
	rd->allocs = true;
	rd->done = done;
	rd->arg = arg;
	rd->offset = f->offset;
	rd->limit = f->limit;
	if ((f->user && !(rd->user = strdup(f->user))) ||
	    (f->realm && !(rd->realm = strdup(f->realm)))) {
		read_free(rd);
		return ENOMEM;
	}
	return start(q, rd);
}
