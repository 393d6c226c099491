/*
 * edge/redis/worker.c - a worker's part of the Redis sync, all on the
 * worker's own thread and event base with its own connection: the
 * cluster quota check of an Allocate (answered within redis-timeout, else
 * decided locally), the slot's release, the allocation records and their
 * counters, and the events published for allocations and auth failures.
 *
 * Quota bookkeeping. The worker owns one field, "<node>/<worker>", in
 * each quota hash (redis/scripts.c). It keeps a table of what it holds
 * there per user hash; every PERIOD_MS, and at once after a (re)connect,
 * it counts its live allocations per quota key (turn_server_list) and
 * sets its fields to those counts where they differ. That reconciles
 * whatever Redis missed: slots granted locally while Redis was down or
 * slow (LOCAL answers, which the core never releases), releases sent
 * while it was down, and a restarted, empty Redis. Keys with a check in
 * flight are left for the next round.
 */
#include "edge/net/worker.h"
#include "cluster/cluster.h"
#include "edge/base/log.h"
#include "edge/net/sock.h"
#include "edge/redis/redis_int.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PERIOD_MS 5000
#define LIST_PAGE 128

struct qentry {
	struct qentry *next;
	uint32_t held;     /* slots this worker holds in Redis */
	uint32_t live;     /* counted in the last round */
	uint32_t inflight; /* checks sent, not answered */
	char *realm;       /* into key[] */
	char key[];        /* the user hash; then the realm */
};

struct edge_redis_worker {
	struct edge_redis *r;
	struct edge_worker *w;
	struct rconn *c;
	struct event *timer;
	char field[EDGE_NODE_ID_MAX + 16];
	struct qentry **b;
	size_t nb, n;
	struct turn_alloc_info *list; /* LIST_PAGE */
	bool closing;
	bool synced; /* reconciled since the connection came up */
};

/* One quota check in flight. */
struct qcheck {
	struct edge_redis_worker *rw;
	struct qentry *e;
	uint32_t token;
	bool answered;
};

/* --- the table of held slots ------------------------------------------- */

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

static int table_grow(struct edge_redis_worker *rw)
{
	size_t nb = rw->nb ? rw->nb * 2 : 64;
	struct qentry **b = calloc(nb, sizeof(*b));

	if (!b)
		return ENOMEM;
	for (size_t i = 0; i < rw->nb; i++) {
		struct qentry *e = rw->b[i];
		while (e) {
			struct qentry *next = e->next;
			size_t k = hash_str(e->key) & (nb - 1);
			e->next = b[k];
			b[k] = e;
			e = next;
		}
	}
	free(rw->b);
	rw->b = b;
	rw->nb = nb;
	return 0;
}

/* The entry of (realm, qkey); created when create. NULL: none, ENOMEM. */
static struct qentry *table_get(struct edge_redis_worker *rw, const char *realm,
                                const char *qkey, bool create)
{
	char key[CLUSTER_KEY_MAX];

	cluster_key_quota_user(key, sizeof(key), realm, qkey);
	if (rw->nb) {
		for (struct qentry *e = rw->b[hash_str(key) & (rw->nb - 1)]; e;
		     e = e->next)
			if (strcmp(e->key, key) == 0)
				return e;
	}
	if (!create || (rw->n >= rw->nb && table_grow(rw) != 0))
		return NULL;
	size_t klen = strlen(key), rlen = strlen(realm);
	struct qentry *e = calloc(1, sizeof(*e) + klen + rlen + 2);
	if (!e)
		return NULL;
	memcpy(e->key, key, klen + 1);
	e->realm = e->key + klen + 1;
	memcpy(e->realm, realm, rlen + 1);
	size_t k = hash_str(key) & (rw->nb - 1);
	e->next = rw->b[k];
	rw->b[k] = e;
	rw->n++;
	return e;
}

static void table_free(struct edge_redis_worker *rw)
{
	for (size_t i = 0; i < rw->nb; i++)
		while (rw->b[i]) {
			struct qentry *e = rw->b[i];
			rw->b[i] = e->next;
			free(e);
		}
	free(rw->b);
	rw->b = NULL;
	rw->nb = rw->n = 0;
}

/* --- quota ------------------------------------------------------------- */

struct quota_answer {
	uint32_t token;
	enum turn_quota_answer ans;
};

static void answer_call(struct edge_worker *w, const struct edge_core_ctx *c,
                        void *arg)
{
	const struct quota_answer *qa = arg;

	(void)w;
	turn_server_quota_result(c->core, qa->token, qa->ans, c->now_ms,
	                         c->now_s, c->out);
}

/* Answer a parked Allocate: in c, the core call whose actions are being
 * run (appended to them, as relay_result), or NULL from a Redis reply. */
static void answer(struct edge_redis_worker *rw, uint32_t token,
                   enum turn_quota_answer ans, const struct edge_core_ctx *c)
{
	struct quota_answer qa = {token, ans};

	if (ans == TURN_QUOTA_LOCAL)
		atomic_fetch_add_explicit(&rw->r->local_grants, 1,
		                          memory_order_relaxed);
	if (c)
		answer_call(rw->w, c, &qa);
	else
		edge_worker_core_call(rw->w, answer_call, &qa);
}

static void send_release(struct edge_redis_worker *rw, const struct qentry *e)
{
	char tkey[CLUSTER_KEY_MAX];
	const char *argv[3] = {e->key, tkey, rw->field};
	size_t lens[3];

	cluster_key(tkey, sizeof(tkey), CLUSTER_KEY_QUOTA_TOTAL, e->realm);
	for (int i = 0; i < 3; i++)
		lens[i] = strlen(argv[i]);
	rconn_script(rw->c, &redis_script_quota_release, NULL, NULL, 2, 3, argv,
	             lens);
}

static void on_quota(struct rconn *c, struct redisReply *r, enum rc_status st,
                     void *arg)
{
	struct qcheck *q = arg;
	struct edge_redis_worker *rw = q->rw;
	static const enum turn_quota_answer ans[] = {
	        [CLUSTER_QUOTA_GRANTED] = TURN_QUOTA_GRANTED,
	        [CLUSTER_QUOTA_DENIED] = TURN_QUOTA_DENIED,
	        [CLUSTER_QUOTA_LOCAL] = TURN_QUOTA_LOCAL};
	enum cluster_reply_kind kind =
	        !r                               ? CLUSTER_REPLY_NONE
	        : r->type == REDIS_REPLY_INTEGER ? CLUSTER_REPLY_INTEGER
	        : r->type == REDIS_REPLY_ERROR   ? CLUSTER_REPLY_ERROR
	                                         : CLUSTER_REPLY_OTHER;
	struct cluster_quota_step s = cluster_quota_on_reply(
	        st == RC_TIMEOUT, q->answered, kind, r ? r->integer : 0);

	(void)c;
	if (rw->closing) {
		if (st != RC_TIMEOUT)
			free(q);
		return;
	}
	if (st == RC_TIMEOUT) { /* decide locally; the reply may come */
		q->answered = true;
		answer(rw, q->token, TURN_QUOTA_LOCAL, NULL);
		return;
	}
	q->e->inflight--;
	if (s.release)
		send_release(rw, q->e);
	if (s.hold)
		q->e->held++;
	if (kind == CLUSTER_REPLY_ERROR && !q->answered)
		edge_warn("redis worker %d: quota script: %s",
		          edge_worker_index(rw->w), r->str);
	if (s.answer != CLUSTER_QUOTA_NONE)
		answer(rw, q->token, ans[s.answer], NULL);
	free(q);
}

/* ARGV user-quota and total-quota: the realm's (the action's), which the
 * realm's keys in Redis override. */
static int quota_send(struct edge_redis_worker *rw, struct qcheck *q,
                      const char *realm, const struct turn_action *a)
{
	const struct edge_redis *r = rw->r;
	char tkey[CLUSTER_KEY_MAX], uq_key[CLUSTER_KEY_MAX];
	char tq_key[CLUSTER_KEY_MAX];
	char uq[16], tq[16];
	const char *argv[9];
	size_t lens[9];

	cluster_key(tkey, sizeof(tkey), CLUSTER_KEY_QUOTA_TOTAL, realm);
	cluster_key(uq_key, sizeof(uq_key), CLUSTER_KEY_REALM_USER_QUOTA,
	            realm);
	cluster_key(tq_key, sizeof(tq_key), CLUSTER_KEY_REALM_TOTAL_QUOTA,
	            realm);
	snprintf(uq, sizeof(uq), "%u", (unsigned)a->user_quota);
	snprintf(tq, sizeof(tq), "%u", (unsigned)a->total_quota);
	argv[0] = q->e->key;
	argv[1] = tkey;
	argv[2] = uq_key;
	argv[3] = tq_key;
	argv[4] = rw->field;
	argv[5] = uq;
	argv[6] = tq;
	argv[7] = CLUSTER_NODE_PFX;
	argv[8] = r->node_id;
	for (int i = 0; i < 9; i++)
		lens[i] = strlen(argv[i]);
	return rconn_script(rw->c, &redis_script_quota_take, on_quota, q, 4, 9,
	                    argv, lens);
}

static void quota_check(struct edge_redis_worker *rw,
                        const struct edge_core_ctx *c,
                        const struct turn_action *a)
{
	const char *realm = a->realm ? a->realm : "";
	const char *qkey = a->qkey ? a->qkey : "";
	struct qcheck *q = NULL;
	struct qentry *e = NULL;

	if (rconn_up(rw->c) && (e = table_get(rw, realm, qkey, true)) &&
	    (q = calloc(1, sizeof(*q)))) {
		q->rw = rw;
		q->e = e;
		q->token = a->token;
		if (quota_send(rw, q, realm, a) == 0) {
			e->inflight++;
			return;
		}
	}
	free(q);
	answer(rw, a->token, TURN_QUOTA_LOCAL, c);
}

static void quota_release(struct edge_redis_worker *rw,
                          const struct turn_action *a)
{
	struct qentry *e = table_get(rw, a->realm ? a->realm : "",
	                             a->qkey ? a->qkey : "", false);

	if (!e || e->held == 0)
		return; /* never counted in Redis: nothing to give back */
	e->held--;
	if (rconn_up(rw->c))
		send_release(rw, e);
	/* else the reconcile after the reconnect sets the count */
}

/* --- records and events ------------------------------------------------ */

static const char *transport_name(uint8_t t)
{
	static const char *const names[] = {"udp", "tcp", "tls", "dtls"};

	return t < 4 ? names[t] : "?";
}

/* An allocation's record as text (cluster_alloc_rec borrows these). */
struct rec_text {
	char id[EDGE_NODE_ID_MAX + 48];
	char client[EDGE_ADDRSTR_LEN], relay[2][EDGE_ADDRSTR_LEN];
};

static void addr_or_empty(const union turn_addr *a, char *buf, size_t cap)
{
	if (a->sa.sa_family == AF_INET || a->sa.sa_family == AF_INET6)
		edge_addr_str(&a->sa, buf, cap);
	else
		buf[0] = 0;
}

static struct cluster_alloc_rec rec_of(const struct edge_redis_worker *rw,
                                       const struct turn_alloc_info *in,
                                       const char *realm, uint64_t expires_s,
                                       uint64_t now_s, struct rec_text *t)
{
	cluster_alloc_id_format(t->id, sizeof(t->id), rw->r->node_id,
	                        in->worker, (unsigned long long)in->serial);
	addr_or_empty(&in->client, t->client, sizeof(t->client));
	addr_or_empty(&in->relay[0], t->relay[0], sizeof(t->relay[0]));
	addr_or_empty(&in->relay[1], t->relay[1], sizeof(t->relay[1]));
	return (struct cluster_alloc_rec){
	        .id = t->id,
	        .node = rw->r->node_id,
	        .worker = in->worker,
	        .realm = realm,
	        .user = in->user,
	        .transport = transport_name(in->transport),
	        .client = t->client,
	        .relay = t->relay[0],
	        .relay2 = t->relay[1],
	        .created_s = in->created_s,
	        .lifetime_s = in->lifetime_s,
	        .expires_s = expires_s,
	        .permissions = in->permissions,
	        .channels = in->channels,
	        .to_peer_packets = in->pkts[0],
	        .to_peer_bytes = in->bytes[0],
	        .to_client_packets = in->pkts[1],
	        .to_client_bytes = in->bytes[1],
	        .updated_s = now_s,
	};
}

/* Write (or overwrite) the record of one allocation. */
static void record_put(struct edge_redis_worker *rw,
                       const struct cluster_alloc_rec *a)
{
	char key[CLUSTER_KEY_MAX], ttl[24];
	struct cluster_fields f;
	const char *argv[4 + 2 * CLUSTER_FIELDS_MAX];
	size_t lens[4 + 2 * CLUSTER_FIELDS_MAX];
	int n = 0;

	cluster_key(key, sizeof(key), CLUSTER_KEY_ALLOC, a->id);
	snprintf(ttl, sizeof(ttl), "%llu",
	         (unsigned long long)rw->r->cfg.node_ttl_s * 1000);
	cluster_alloc_encode(&f, a);
	argv[n++] = key;
	argv[n++] = rw->r->allocs_key;
	argv[n++] = ttl;
	argv[n++] = a->id;
	for (size_t i = 0; i < 2 * f.n; i++)
		argv[n++] = f.kv[i];
	for (int i = 0; i < n; i++)
		lens[i] = strlen(argv[i]);
	rconn_script(rw->c, &redis_script_record_put, NULL, NULL, 2, n, argv,
	             lens);
}

static void record_del(struct edge_redis_worker *rw,
                       const struct cluster_alloc_rec *a)
{
	char key[CLUSTER_KEY_MAX];

	cluster_key(key, sizeof(key), CLUSTER_KEY_ALLOC, a->id);
	rconn_cmdv(rw->c, NULL, NULL, 2, "DEL", key);
	rconn_cmdv(rw->c, NULL, NULL, 3, "SREM", rw->r->allocs_key, a->id);
}

static void publish(struct edge_redis_worker *rw, const char *json)
{
	rconn_cmdv(rw->c, NULL, NULL, 3, "PUBLISH", CLUSTER_EVENTS, json);
}

static void alloc_event(struct edge_redis_worker *rw,
                        const struct edge_core_ctx *c,
                        const struct turn_action *a)
{
	static const char *const names[] = {"created", "refreshed", "deleted"};
	struct turn_alloc_view v;
	struct rec_text t;
	struct cluster_buf b;
	char json[2048];

	if (!rconn_up(rw->c) || (unsigned)a->event > TURN_ALLOC_DELETED)
		return; /* the reconcile after the reconnect writes them */
	turn_alloc_describe(a->alloc, &v);
	const struct cluster_alloc_rec rec = rec_of(
	        rw, &v.info, v.realm ? v.realm : "", v.expires_s, c->now_s, &t);
	if (a->event == TURN_ALLOC_DELETED)
		record_del(rw, &rec);
	else
		record_put(rw, &rec);
	cluster_buf_fixed(&b, json, sizeof(json));
	if (cluster_event_alloc(&b, names[a->event], &rec, a->reason, c->now_s))
		publish(rw, json);
}

static void hook_log(void *ctx, const char *line, size_t len)
{
	struct edge_redis_worker *rw = ctx;
	struct cluster_buf b;
	char json[1400];

	if (!rw || !rconn_up(rw->c))
		return;
	cluster_buf_fixed(&b, json, sizeof(json));
	if (cluster_event_auth_failure(&b, rw->r->node_id,
	                               edge_worker_index(rw->w), line, len,
	                               edge_worker_now_s(rw->w)))
		publish(rw, json);
}

static void hook_action(void *ctx, const struct edge_core_ctx *c,
                        const struct turn_action *a)
{
	struct edge_redis_worker *rw = ctx;

	switch (a->kind) {
	case TURN_ACT_QUOTA_CHECK:
		quota_check(rw, c, a);
		break;
	case TURN_ACT_QUOTA_RELEASE:
		quota_release(rw, a);
		break;
	case TURN_ACT_ALLOC_EVENT:
		alloc_event(rw, c, a);
		break;
	default:
		break;
	}
}

/* --- the periodic round: records, counters, quota reconcile ------------ */

static void count_live(struct edge_redis_worker *rw,
                       const struct edge_core_ctx *c, const char *realm)
{
	struct turn_alloc_filter f = {.realm = realm};
	size_t skip = 0, total;

	do {
		size_t got;
		total = turn_server_list(c->core, &f, c->now_ms, skip, rw->list,
		                         LIST_PAGE);
		got = total - skip < LIST_PAGE ? total - skip : LIST_PAGE;
		for (size_t i = 0; i < got; i++) {
			const struct turn_alloc_info *in = &rw->list[i];
			struct qentry *e = table_get(rw, realm, in->user, true);
			if (e)
				e->live++;
			struct rec_text t;
			struct cluster_alloc_rec rec = rec_of(
			        rw, in, realm, c->now_s + in->expires_in_s,
			        c->now_s, &t);
			record_put(rw, &rec);
		}
		skip += got;
	} while (skip < total);
}

/* Set this worker's quota fields to the live counts where they differ;
 * the total of each realm of the core. */
static void reconcile(struct edge_redis_worker *rw)
{
	char tkey[CLUSTER_KEY_MAX], num[16];
	uint64_t sums[TURN_MAX_REALMS] = {0};
	const char *realm;
	bool busy = false;
	const struct turn_server *core = edge_worker_core(rw->w);

	for (size_t i = 0; i < rw->nb; i++) {
		struct qentry **pp = &rw->b[i];
		while (*pp) {
			struct qentry *e = *pp;
			for (size_t k = 0;
			     (realm = turn_server_realm_name(core, k)); k++)
				if (strcmp(e->realm, realm) == 0)
					sums[k] += e->live;
			struct cluster_quota_fix f = cluster_quota_reconcile(
			        rw->synced, e->inflight, e->held, e->live);
			busy |= e->inflight != 0;
			snprintf(num, sizeof(num), "%u", e->live);
			if (f.write == CLUSTER_QUOTA_SET)
				rconn_cmdv(rw->c, NULL, NULL, 4, "HSET", e->key,
				           rw->field, num);
			else if (f.write == CLUSTER_QUOTA_DEL)
				rconn_cmdv(rw->c, NULL, NULL, 3, "HDEL", e->key,
				           rw->field);
			e->held = f.held;
			if (f.drop) {
				*pp = e->next;
				free(e);
				rw->n--;
				continue;
			}
			e->live = 0;
			pp = &e->next;
		}
	}
	if (busy)
		return; /* the total waits for the checks in flight */
	for (size_t k = 0; (realm = turn_server_realm_name(core, k)); k++) {
		cluster_key(tkey, sizeof(tkey), CLUSTER_KEY_QUOTA_TOTAL, realm);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)sums[k]);
		if (sums[k])
			rconn_cmdv(rw->c, NULL, NULL, 4, "HSET", tkey,
			           rw->field, num);
		else
			rconn_cmdv(rw->c, NULL, NULL, 3, "HDEL", tkey,
			           rw->field);
	}
	rw->synced = true;
}

static void round_call(struct edge_worker *w, const struct edge_core_ctx *c,
                       void *arg)
{
	struct edge_redis_worker *rw = arg;
	const char *realm;

	(void)w;
	for (size_t i = 0; i < rw->nb; i++)
		for (struct qentry *e = rw->b[i]; e; e = e->next)
			e->live = 0;
	for (size_t k = 0; (realm = turn_server_realm_name(c->core, k)); k++)
		count_live(rw, c, realm);
	reconcile(rw);
}

static void round_now(struct edge_redis_worker *rw)
{
	if (rconn_up(rw->c))
		edge_worker_core_call(rw->w, round_call, rw);
}

static void on_period(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	round_now(arg);
}

static void on_state(struct rconn *c, bool up, void *arg)
{
	struct edge_redis_worker *rw = arg;

	(void)c;
	rw->synced = false;
	if (up && !rw->closing)
		round_now(rw); /* re-publish records, reconcile the quota */
}

static void start_on_worker(struct edge_worker *w, void *arg)
{
	struct edge_redis_worker *rw = arg;
	struct timeval tv = {PERIOD_MS / 1000, 0};
	char name[32];

	snprintf(name, sizeof(name), "worker %d", edge_worker_index(w));
	rw->timer =
	        event_new(edge_worker_base(w), -1, EV_PERSIST, on_period, rw);
	if (!rw->timer || event_add(rw->timer, &tv) < 0 ||
	    rconn_new(&rw->c,
	              &(struct rconn_opts){.base = edge_worker_base(w),
	                                   .url = rw->r->cfg.url,
	                                   .timeout_ms = rw->r->cfg.timeout_ms,
	                                   .name = name,
	                                   .on_state = on_state,
	                                   .arg = rw}) != 0)
		edge_err("redis %s: cannot start (out of memory)", name);
}

static void hook_free(void *ctx)
{
	struct edge_redis_worker *rw = ctx;

	rw->closing = true;
	rconn_free(rw->c); /* pending checks see closing */
	if (rw->timer)
		event_free(rw->timer);
	table_free(rw);
	free(rw->list);
	free(rw);
}

int edge_redis_attach(struct edge_redis *r, struct edge_worker *w)
{
	struct edge_redis_worker *rw = calloc(1, sizeof(*rw));

	if (!rw || !(rw->list = calloc(LIST_PAGE, sizeof(*rw->list))) ||
	    table_grow(rw) != 0) {
		if (rw)
			free(rw->list);
		free(rw);
		return ENOMEM;
	}
	rw->r = r;
	rw->w = w;
	cluster_quota_field(rw->field, sizeof(rw->field), r->node_id,
	                    edge_worker_index(w));
	if (edge_worker_post(w, start_on_worker, rw) != 0) {
		table_free(rw);
		free(rw->list);
		free(rw);
		return ENOMEM;
	}
	edge_worker_set_hooks(w,
	                      &(struct edge_worker_hooks){.action = hook_action,
	                                                  .log = hook_log,
	                                                  .free = hook_free,
	                                                  .ctx = rw});
	return 0;
}
