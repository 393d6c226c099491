/*
 * edge/admin/api.c - the allocation API and everything the admin thread
 * asks of the workers. An allocation belongs to one worker's core, which
 * only that worker's thread may touch: a request is split into one job per
 * worker (edge_worker_post), each job takes its snapshot or does its kick
 * on the worker's thread into memory of its own, and posts itself back to
 * the admin base (event_base_once: thread-safe with evthread_use_pthreads,
 * which main() calls first); the last one back answers. A worker that does
 * not answer within ADMIN_GATHER_S gets the request a 503; its job, when
 * it comes back, is just freed.
 *
 * Ids: "<node-id>-<worker>-<serial>", serials counting up per worker from
 * 1 and never reused, so an id is unique on the node and stable for the
 * allocation's life; node ids keep them unique in a cluster.
 *
 * Also here: the loop-lag probe (a job timed from post to run) and the
 * sums of every worker's counters (relaxed loads, no locks).
 */
#include "cluster/cluster.h"
#include "edge/admin/admin_int.h"
#include "edge/base/clock.h"
#include "edge/base/log.h"
#include "edge/net/sock.h"
#include "edge/net/worker.h"

#include <errno.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#define ADMIN_GATHER_S     5
#define ADMIN_LIMIT_DEF    100
#define ADMIN_LIMIT_MAX    1000
#define ADMIN_OFFSET_MAX   100000000
#define ADMIN_SHOW_PERMS   1024
#define ADMIN_SHOW_CHANS   4096
#define ADMIN_REALM_MAX    800
#define ADMIN_USER_ARG_MAX 600

enum job_kind { JOB_LIST, JOB_SHOW, JOB_KICK };

struct gather;

/* One worker's part of a request: inputs from the gather (read-only on
 * the worker), outputs written on the worker, read on the admin thread
 * after the post back. */
struct job {
	struct gather *g;
	struct edge_worker *w;
	/* out */
	int err;
	struct turn_alloc_info *v; /* LIST: up to cap; SHOW: one */
	size_t n, total;
	char realm[ADMIN_REALM_MAX];
	struct turn_perm_info *perms;
	size_t nperms;
	struct turn_chan_info *chans;
	size_t nchans;
};

struct gather {
	struct edge_admin *a;
	struct evhttp_request *req;
	enum job_kind kind;
	unsigned pending; /* jobs not back yet */
	bool answered;
	struct event *timer;
	/* LIST */
	char user[ADMIN_USER_ARG_MAX], realm[ADMIN_REALM_MAX];
	bool has_user, has_realm, has_peer;
	union turn_addr peer;
	size_t offset, limit;
	/* SHOW, KICK */
	uint64_t serial;
	char id[ADMIN_NODE_ID_MAX + 48];
	size_t njobs;
	struct job jobs[];
};

/* --- loop-lag probe ------------------------------------------------------ */

/* On the worker's thread. */
static void probe_run(struct edge_worker *w, void *arg)
{
	struct admin_probe *p = arg;
	uint64_t now = edge_mono_ns(), sent = atomic_load(&p->sent_ns);

	(void)w;
	atomic_store(&p->lag_ns, now > sent ? now - sent : 0);
	atomic_store(&p->in_flight, false);
}

void admin_probe_all(struct edge_admin *a)
{
	for (size_t i = 0; i < a->nworkers; i++) {
		struct admin_probe *p = &a->probes[i];
		if (atomic_load(&p->in_flight))
			continue; /* still queued: lag keeps growing */
		atomic_store(&p->sent_ns, edge_mono_ns());
		atomic_store(&p->in_flight, true);
		if (edge_worker_post(a->workers[i], probe_run, p) != 0)
			atomic_store(&p->in_flight, false);
	}
}

/* --- jobs on the workers --------------------------------------------------
 */

static void job_back(evutil_socket_t fd, short what, void *arg);

static void job_list(const struct edge_core_ctx *c, struct job *j)
{
	struct gather *g = j->g;
	struct turn_alloc_filter f = {
	        .user = g->has_user ? g->user : NULL,
	        .realm = g->has_realm ? g->realm : NULL,
	        .peer = g->has_peer ? &g->peer : NULL,
	};
	size_t have = (size_t)turn_server_stats(c->core)->allocations;
	size_t cap = g->offset + g->limit;

	if (cap > have)
		cap = have;
	j->v = cap ? calloc(cap, sizeof(*j->v)) : NULL;
	if (cap && !j->v) {
		j->err = ENOMEM;
		return;
	}
	j->total = turn_server_list(c->core, &f, c->now_ms, 0, j->v, cap);
	j->n = j->total < cap ? j->total : cap;
}

static void job_show(const struct edge_core_ctx *c, struct job *j)
{
	j->v = calloc(1, sizeof(*j->v));
	j->perms = calloc(ADMIN_SHOW_PERMS, sizeof(*j->perms));
	j->chans = calloc(ADMIN_SHOW_CHANS, sizeof(*j->chans));
	if (!j->v || !j->perms || !j->chans) {
		j->err = ENOMEM;
		return;
	}
	j->err = turn_server_inspect(c->core, j->g->serial, c->now_ms, j->v,
	                             j->perms, ADMIN_SHOW_PERMS, &j->nperms,
	                             j->chans, ADMIN_SHOW_CHANS, &j->nchans);
	j->n = j->err ? 0 : 1;
}

/* The actions (relay sockets closed, a log line) run after the call. */
static void job_kick(const struct edge_core_ctx *c, struct job *j)
{
	j->err = turn_server_kick(c->core, j->g->serial, c->now_ms, c->out);
}

static void job_call(struct edge_worker *w, const struct edge_core_ctx *c,
                     void *arg)
{
	struct job *j = arg;

	(void)w;
	snprintf(j->realm, sizeof(j->realm), "%s", turn_server_realm(c->core));
	switch (j->g->kind) {
	case JOB_LIST:
		job_list(c, j);
		break;
	case JOB_SHOW:
		job_show(c, j);
		break;
	case JOB_KICK:
		job_kick(c, j);
		break;
	}
}

/* On the worker's thread: do the job, post it back. */
static void job_run(struct edge_worker *w, void *arg)
{
	struct job *j = arg;
	struct timeval now = {0, 0};

	edge_worker_core_call(w, job_call, j);
	if (event_base_once(j->g->a->base, -1, EV_TIMEOUT, job_back, j, &now) <
	    0)
		edge_err("admin: cannot hand a worker's answer back");
}

/* --- JSON ------------------------------------------------------------------
 */

static const char *transport_name(uint8_t t)
{
	static const char *const names[] = {"udp", "tcp", "tls", "dtls"};
	return t < 4 ? names[t] : "unknown";
}

static void json_flow(struct evbuffer *b, const char *name,
                      const uint64_t *pkts, const uint64_t *bytes, int dir)
{
	evbuffer_add_printf(b, ",\"%s\":{\"packets\":%llu,\"bytes\":%llu}",
	                    name, (unsigned long long)pkts[dir],
	                    (unsigned long long)bytes[dir]);
}

/* "name":{"loss_pct":x,"jitter_ms":y} or null when no RTP went that way. */
static void json_media_summary(struct evbuffer *b, const char *name,
                               double loss_pct, double jitter_ms)
{
	if (loss_pct < 0) {
		evbuffer_add_printf(b, "\"%s\":null", name);
		return;
	}
	evbuffer_add_printf(b, "\"%s\":{\"loss_pct\":%.3f,\"jitter_ms\":%.3f}",
	                    name, loss_pct, jitter_ms);
}

/* Per-SSRC RTP quality of one direction of a permission. */
static void json_media(struct evbuffer *b, const char *name,
                       const struct turn_media_info *m)
{
	evbuffer_add_printf(b, "\"%s\":[", name);
	for (size_t i = 0; i < m->nssrc; i++) {
		const struct turn_rtpq_ssrc_report *r = &m->ssrc[i];
		evbuffer_add_printf(
		        b,
		        "%s{\"ssrc\":%u,\"payload_type\":%u,\"validated\":%s,"
		        "\"clock_hz\":%u,\"received\":%llu,\"expected\":%llu,"
		        "\"lost\":%llu,\"loss_pct\":%.3f,\"reordered\":%u,"
		        "\"duplicates\":%u,\"jitter_ts\":%u,\"jitter_ms\":%."
		        "3f}",
		        i ? "," : "", r->ssrc, r->payload_type,
		        r->validated ? "true" : "false", r->clock_hz,
		        (unsigned long long)r->received,
		        (unsigned long long)r->expected,
		        (unsigned long long)r->lost, 100.0 * r->loss_fraction,
		        r->reordered, r->duplicates, r->jitter_ts,
		        r->jitter_ms);
	}
	evbuffer_add(b, "]", 1);
}

static void json_alloc(struct evbuffer *b, struct edge_admin *a,
                       const struct turn_alloc_info *v, const char *realm)
{
	char id[ADMIN_NODE_ID_MAX + 48];
	uint64_t now_s = (uint64_t)time(NULL);

	cluster_alloc_id_format(id, sizeof(id), a->node_id, v->worker,
	                        (unsigned long long)v->serial);
	evbuffer_add_printf(b, "{\"id\":");
	admin_json_str(b, id);
	evbuffer_add_printf(b, ",\"node\":");
	admin_json_str(b, a->node_id);
	evbuffer_add_printf(b, ",\"worker\":%u,\"user\":", v->worker);
	admin_json_str(b, v->user);
	evbuffer_add_printf(b, ",\"realm\":");
	admin_json_str(b, realm);
	evbuffer_add_printf(b, ",\"transport\":\"%s\",\"client\":",
	                    transport_name(v->transport));
	admin_json_addr(b, &v->client, true);
	evbuffer_add_printf(b, ",\"relay\":[");
	for (int i = 0; i < 2 && v->relay[i].sa.sa_family; i++) {
		if (i)
			evbuffer_add(b, ",", 1);
		admin_json_addr(b, &v->relay[i], true);
	}
	evbuffer_add_printf(
	        b,
	        "],\"created\":%llu,\"age_s\":%llu,\"lifetime_s\":%u,"
	        "\"expires_in_s\":%u,\"permission_count\":%u,"
	        "\"channel_count\":%u",
	        (unsigned long long)v->created_s,
	        (unsigned long long)(now_s > v->created_s ? now_s - v->created_s
	                                                  : 0),
	        v->lifetime_s, v->expires_in_s, v->permissions, v->channels);
	json_flow(b, "to_peer", v->pkts, v->bytes, 0);
	json_flow(b, "to_client", v->pkts, v->bytes, 1);
	evbuffer_add_printf(b, ",\"media\":{");
	json_media_summary(b, "to_peer", v->loss_pct[0], v->jitter_ms[0]);
	evbuffer_add(b, ",", 1);
	json_media_summary(b, "to_client", v->loss_pct[1], v->jitter_ms[1]);
	evbuffer_add(b, "}", 1);
}

static void json_detail(struct evbuffer *b, const struct job *j)
{
	/* What the relay sees is loss and jitter upstream of it: a stream
	 * to_peer was hurt between the client and the edge, a stream
	 * to_client between the peer and the edge. */
	evbuffer_add_printf(b, ",\"media_note\":\"RTP loss and jitter as "
	                       "received by the relay: they describe the "
	                       "path upstream of it, not end to end\"");
	evbuffer_add_printf(b, ",\"permissions\":[");
	for (size_t i = 0; i < j->nperms; i++) {
		const struct turn_perm_info *p = &j->perms[i];
		evbuffer_add_printf(b, "%s{\"peer\":", i ? "," : "");
		admin_json_addr(b, &p->peer, false);
		evbuffer_add_printf(b, ",\"expires_in_s\":%u", p->expires_in_s);
		json_flow(b, "to_peer", p->pkts, p->bytes, 0);
		json_flow(b, "to_client", p->pkts, p->bytes, 1);
		evbuffer_add_printf(b, ",\"media\":{");
		json_media(b, "to_peer", &p->media[0]);
		evbuffer_add(b, ",", 1);
		json_media(b, "to_client", &p->media[1]);
		evbuffer_add(b, "}}", 2);
	}
	evbuffer_add_printf(b, "],\"channels\":[");
	for (size_t i = 0; i < j->nchans; i++) {
		const struct turn_chan_info *c = &j->chans[i];
		evbuffer_add_printf(b,
		                    "%s{\"number\":%u,\"peer\":", i ? "," : "",
		                    c->number);
		admin_json_addr(b, &c->peer, true);
		evbuffer_add_printf(b, ",\"expires_in_s\":%u}",
		                    c->expires_in_s);
	}
	evbuffer_add(b, "]", 1);
}

/* --- answers ----------------------------------------------------------------
 */

static void answer_list(struct gather *g)
{
	struct evbuffer *b = evbuffer_new();
	size_t total = 0, rank = 0, shown = 0;

	if (!b) {
		admin_send_error(g->req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	for (size_t i = 0; i < g->njobs; i++)
		total += g->jobs[i].total;
	evbuffer_add_printf(b, "{\"scope\":\"node\",\"node\":");
	admin_json_str(b, g->a->node_id);
	evbuffer_add_printf(b,
	                    ",\"total\":%zu,\"offset\":%zu,\"limit\":%zu,"
	                    "\"allocations\":[",
	                    total, g->offset, g->limit);
	/* Worker by worker, each in serial order: one stable ranking. */
	for (size_t i = 0; i < g->njobs; i++) {
		const struct job *j = &g->jobs[i];
		for (size_t k = 0; k < j->total; k++, rank++) {
			if (rank < g->offset || shown >= g->limit || k >= j->n)
				continue;
			if (shown++)
				evbuffer_add(b, ",", 1);
			json_alloc(b, g->a, &j->v[k], j->realm);
			evbuffer_add(b, "}", 1);
		}
	}
	evbuffer_add_printf(b, "]}\n");
	admin_send_json(g->req, 200, "OK", b);
	evbuffer_free(b);
}

static void answer_show(struct gather *g)
{
	const struct job *j = &g->jobs[0];
	struct evbuffer *b;

	if (j->err == ENOENT) {
		admin_send_error(g->req, 404, "Not Found",
		                 "no such allocation");
		return;
	}
	if (j->err || !(b = evbuffer_new())) {
		admin_send_error(g->req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	json_alloc(b, g->a, j->v, j->realm);
	json_detail(b, j);
	evbuffer_add_printf(b, "}\n");
	admin_send_json(g->req, 200, "OK", b);
	evbuffer_free(b);
}

static void answer(struct gather *g)
{
	int err = 0;

	for (size_t i = 0; i < g->njobs; i++)
		if (g->jobs[i].err && g->jobs[i].err != ENOENT)
			err = g->jobs[i].err;
	switch (g->kind) {
	case JOB_LIST:
		if (err)
			admin_send_error(g->req, 500, "Internal Server Error",
			                 "out of memory");
		else
			answer_list(g);
		break;
	case JOB_SHOW:
		answer_show(g);
		break;
	case JOB_KICK:
		if (g->jobs[0].err == ENOENT) {
			admin_send_error(g->req, 404, "Not Found",
			                 "no such allocation");
		} else {
			edge_info("admin API: allocation %s kicked", g->id);
			evhttp_send_reply(g->req, 204, "No Content", NULL);
		}
		break;
	}
	g->answered = true;
}

static void gather_free(struct gather *g)
{
	for (size_t i = 0; i < g->njobs; i++) {
		free(g->jobs[i].v);
		free(g->jobs[i].perms);
		free(g->jobs[i].chans);
	}
	if (g->timer)
		event_free(g->timer);
	free(g);
}

/* On the admin thread: a job is back. */
static void job_back(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct gather *g = j->g;

	if (--g->pending > 0)
		return;
	if (!g->answered)
		answer(g);
	gather_free(g);
}

static void gather_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct gather *g = arg;

	if (g->answered)
		return;
	edge_warn("admin API: a worker did not answer within %d s",
	          ADMIN_GATHER_S);
	admin_send_error(g->req, 503, "Service Unavailable",
	                 "a worker did not answer in time");
	g->answered = true;
}

static struct gather *gather_new(struct edge_admin *a,
                                 struct evhttp_request *req, enum job_kind kind,
                                 size_t njobs)
{
	struct gather *g = calloc(1, sizeof(*g) + njobs * sizeof(g->jobs[0]));

	if (!g)
		return NULL;
	g->a = a;
	g->req = req;
	g->kind = kind;
	g->njobs = njobs;
	return g;
}

/* Post the jobs (workers from first on, one per job); the answer comes
 * from job_back. */
static void gather_start(struct gather *g, size_t first)
{
	struct timeval t = {ADMIN_GATHER_S, 0};

	g->timer = evtimer_new(g->a->base, gather_timeout, g);
	if (!g->timer || evtimer_add(g->timer, &t) < 0) {
		admin_send_error(g->req, 500, "Internal Server Error",
		                 "out of memory");
		gather_free(g);
		return;
	}
	for (size_t i = 0; i < g->njobs; i++) {
		g->jobs[i].g = g;
		g->jobs[i].w = g->a->workers[first + i];
	}
	g->pending = (unsigned)g->njobs;
	for (size_t i = 0; i < g->njobs; i++) {
		if (edge_worker_post(g->jobs[i].w, job_run, &g->jobs[i]) != 0) {
			/* never runs: counts as back with an error */
			g->jobs[i].err = ENOMEM;
			g->pending--;
		}
	}
	if (g->pending == 0) {
		answer(g);
		gather_free(g);
	}
}

/* --- requests ----------------------------------------------------------------
 */

static bool parse_size(const char *s, size_t max, size_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = (size_t)v;
	return true;
}

static bool copy_arg(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

/* ?user=&realm=&peer=&offset=&limit= into g; false: a bad value. */
static bool list_args(struct gather *g, const char *query, const char **why)
{
	struct evkeyvalq q;
	const char *v;
	struct sockaddr_storage ss;
	bool ok = true;

	g->limit = ADMIN_LIMIT_DEF;
	TAILQ_INIT(&q);
	if (query && evhttp_parse_query_str(query, &q) != 0) {
		*why = "malformed query string";
		return false;
	}
	if ((v = evhttp_find_header(&q, "user")) &&
	    !(g->has_user = copy_arg(g->user, sizeof(g->user), v)))
		ok = false, *why = "user: expected 1 to 599 bytes";
	if (ok && (v = evhttp_find_header(&q, "realm")) &&
	    !(g->has_realm = copy_arg(g->realm, sizeof(g->realm), v)))
		ok = false, *why = "realm: expected 1 to 799 bytes";
	if (ok && (v = evhttp_find_header(&q, "peer"))) {
		if (edge_addr_parse(v, 0, &ss) != 0) {
			ok = false;
			*why = "peer: expected an IP address";
		} else {
			memcpy(&g->peer, &ss, sizeof(g->peer));
			g->has_peer = true;
		}
	}
	if (ok && (v = evhttp_find_header(&q, "offset")) &&
	    !parse_size(v, ADMIN_OFFSET_MAX, &g->offset))
		ok = false, *why = "offset: expected 0 to 100000000";
	if (ok && (v = evhttp_find_header(&q, "limit")) &&
	    (!parse_size(v, ADMIN_LIMIT_MAX, &g->limit) || g->limit == 0))
		ok = false, *why = "limit: expected 1 to 1000";
	evhttp_clear_headers(&q);
	return ok;
}

void admin_list(struct edge_admin *a, struct evhttp_request *req,
                const char *query)
{
	struct gather *g = gather_new(a, req, JOB_LIST, a->nworkers);
	const char *why = "bad query";

	if (!g) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	if (!list_args(g, query, &why)) {
		admin_send_error(req, 400, "Bad Request", why);
		gather_free(g);
		return;
	}
	gather_start(g, 0);
}

/* "<node-id>-<worker>-<serial>" of this node: false otherwise. */
static bool parse_id(struct edge_admin *a, const char *id, size_t *worker,
                     uint64_t *serial)
{
	size_t nlen = strlen(a->node_id), w;
	const char *rest, *dash;
	char num[24];

	if (strncmp(id, a->node_id, nlen) != 0 || id[nlen] != '-')
		return false;
	rest = id + nlen + 1;
	dash = strchr(rest, '-');
	if (!dash || (size_t)(dash - rest) >= sizeof(num))
		return false;
	memcpy(num, rest, (size_t)(dash - rest));
	num[dash - rest] = 0;
	size_t s;
	if (!parse_size(num, a->nworkers ? a->nworkers - 1 : 0, &w) ||
	    !parse_size(dash + 1, SIZE_MAX, &s) || s == 0)
		return false;
	*worker = w;
	*serial = s;
	return true;
}

static void by_id(struct edge_admin *a, struct evhttp_request *req,
                  const char *id, enum job_kind kind)
{
	size_t worker;
	uint64_t serial;
	struct gather *g;

	size_t nlen = strlen(a->node_id);

	if (!parse_id(a, id, &worker, &serial)) {
		/* another node's id (it starts with that node's id): no
		 * proxying; the text is fixed, nothing of id is echoed */
		bool ours =
		        strncmp(id, a->node_id, nlen) == 0 && id[nlen] == '-';
		admin_send_error(
		        req, 404, "Not Found",
		        ours || !a->redis_configured
		                ? "no such allocation"
		                : "no such allocation on this node: an "
		                  "allocation id starts with the id of "
		                  "the node that holds it (see "
		                  "/api/nodes): ask that node");
		return;
	}
	if (!(g = gather_new(a, req, kind, 1))) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	g->serial = serial;
	snprintf(g->id, sizeof(g->id), "%s", id);
	gather_start(g, worker);
}

void admin_show(struct edge_admin *a, struct evhttp_request *req,
                const char *id)
{
	by_id(a, req, id, JOB_SHOW);
}

void admin_kick(struct edge_admin *a, struct evhttp_request *req,
                const char *id)
{
	by_id(a, req, id, JOB_KICK);
}
