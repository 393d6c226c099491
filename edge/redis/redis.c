/*
 * edge/redis/redis.c - the node's side of the Redis sync, on a control thread
 * with its own event base and two connections: "control" for the
 * registry heartbeat (every node-ttl/3: the node's entry, its TTL and the
 * TTL of its allocation records), the registry read that picks the
 * alternate for 300 Try Alternate (posted to every worker), enabling
 * keyspace notifications and the credential reads (redis/creds.c); and
 * "subscriber" for the keyspace notifications of the realm's credential
 * keys. The workers' own connections live in redis/worker.c.
 */
#include "auth/auth.h"
#include "edge/base/clock.h"
#include "edge/base/log.h"
#include "edge/config/realms.h"
#include "edge/net/sock.h"
#include "edge/net/worker.h"
#include "edge/redis/redis_int.h"
#include "turn/media.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CREDS_PERIOD_MS 1000  /* secrets: SMEMBERS every second */
#define USERS_POLL_MS   2000  /* users without notifications */
#define USERS_SAFETY_MS 30000 /* users with notifications */
#define NOTIFY_FLAGS    "K$sg"

void edge_node_id(const struct edge_config *cfg, char *buf, size_t cap)
{
	char host[256] = "";

	if (cfg->node_id) {
		snprintf(buf, cap, "%s", cfg->node_id);
		return;
	}
	gethostname(host, sizeof(host) - 1);
	cluster_node_id_from_host(host, buf, cap, EDGE_NODE_ID_MAX);
}

/* --- what the registry entry says about this node ------------------------ */

static void with_port(const struct sockaddr *sa, uint16_t port, char *buf,
                      size_t cap)
{
	struct sockaddr_storage ss;

	memcpy(&ss, sa, edge_addr_len(sa));
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)(void *)&ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons(port);
	edge_addr_str((const void *)&ss, buf, cap);
}

/* Where clients reach this node, per family: the external-ip public
 * address, else a listening-ip, else an advertised relay address; with
 * the listening port. */
static void public_addr(const struct edge_config *cfg,
                        const struct turn_server_cfg *core, int family,
                        char *buf, size_t cap)
{
	buf[0] = 0;
	for (size_t i = 0; i < cfg->external_ips.n; i++) {
		const struct sockaddr *sa =
		        (const void *)&cfg->external_ips.v[i].public_addr;
		if (sa->sa_family == family) {
			with_port(sa, cfg->listening_port, buf, cap);
			return;
		}
	}
	for (size_t i = 0; i < cfg->listening_ips.n; i++) {
		const struct sockaddr *sa =
		        (const void *)&cfg->listening_ips.v[i].addr;
		if (sa->sa_family == family && !edge_addr_is_any(sa)) {
			with_port(sa, cfg->listening_port, buf, cap);
			return;
		}
	}
	for (size_t i = 0; i < core->nrelay_ips; i++)
		if (core->relay_ips[i].advertise.sa.sa_family == family) {
			with_port(&core->relay_ips[i].advertise.sa,
			          cfg->listening_port, buf, cap);
			return;
		}
}

static void relay_addr(const struct turn_server_cfg *core, int family,
                       char *buf, size_t cap)
{
	buf[0] = 0;
	for (size_t i = 0; i < core->nrelay_ips; i++)
		if (core->relay_ips[i].advertise.sa.sa_family == family) {
			with_port(&core->relay_ips[i].advertise.sa, 0, buf,
			          cap);
			/* the port means nothing here: the address only */
			char *colon = strrchr(buf, ':');
			if (colon)
				*colon = 0;
			return;
		}
}

/* The sum over the workers of one counter of struct turn_stats (at
 * offset off), read with relaxed loads. */
static uint64_t node_sum(const struct edge_redis *r, size_t off)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->nworkers; i++) {
		const char *st =
		        (const char *)edge_worker_turn_stats(r->workers[i]);
		n += __atomic_load_n((const uint64_t *)(const void *)(st + off),
		                     __ATOMIC_RELAXED);
	}
	return n;
}

#define NODE_SUM(r, field) node_sum(r, offsetof(struct turn_stats, field))

/* Active RTP flows of the node by band (both directions), from each
 * worker's published summary (edge_worker_media: a copy, no lock). */
static void node_media(const struct edge_redis *r, uint64_t bands[4])
{
	struct turn_media_summary m;

	for (size_t i = 0; i < r->nworkers; i++) {
		if (edge_worker_media(r->workers[i], &m) != 0)
			continue;
		for (unsigned k = 0; k < TURN_MEDIA_BANDS; k++)
			bands[k] += (uint64_t)m.flows[0][k] + m.flows[1][k];
	}
}

/* --- alternates ------------------------------------------------------------
 */

struct alt_msg {
	union turn_addr v4, v6;
	bool has4, has6;
	uint16_t tls_port, dtls_port;
	char domain[TURN_ALT_DOMAIN_MAX + 1];
};

static void apply_alt(struct edge_worker *w, void *arg)
{
	struct alt_msg *m = arg;

	turn_server_set_alternates(edge_worker_core(w), m->has4 ? &m->v4 : NULL,
	                           m->has6 ? &m->v6 : NULL,
	                           m->domain[0] ? m->domain : NULL);
	turn_server_set_alternate_ports(edge_worker_core(w), m->tls_port,
	                                m->dtls_port);
	free(m);
}

static void post_alternates(struct edge_redis *r,
                            const struct cluster_alternate *e)
{
	if (r->alt_posted && strcmp(r->alt[0], e->v4) == 0 &&
	    strcmp(r->alt[1], e->v6) == 0 && strcmp(r->alt_tls, e->tls) == 0 &&
	    strcmp(r->alt_dtls, e->dtls) == 0 &&
	    strcmp(r->alt_domain, e->domain) == 0)
		return;
	snprintf(r->alt[0], sizeof(r->alt[0]), "%s", e->v4);
	snprintf(r->alt[1], sizeof(r->alt[1]), "%s", e->v6);
	snprintf(r->alt_tls, sizeof(r->alt_tls), "%s", e->tls);
	snprintf(r->alt_dtls, sizeof(r->alt_dtls), "%s", e->dtls);
	snprintf(r->alt_domain, sizeof(r->alt_domain), "%s", e->domain);
	r->alt_posted = true;
	edge_info("redis: alternate server for 300 Try Alternate: %s%s%s%s%s"
	          "%s%s%s%s",
	          *e->v4 ? e->v4 : "", *e->v4 && *e->v6 ? " " : "",
	          *e->v4 || *e->v6 ? e->v6 : "none (508 when draining or full)",
	          cluster_port_of(e->tls) ? " tls port " : "",
	          cluster_port_of(e->tls) ? e->tls : "",
	          cluster_port_of(e->dtls) ? " dtls port " : "",
	          cluster_port_of(e->dtls) ? e->dtls : "",
	          *e->domain ? " domain " : "", e->domain);
	for (size_t i = 0; i < r->nworkers; i++) {
		struct alt_msg *m = calloc(1, sizeof(*m));
		if (!m)
			continue;
		m->has4 = edge_addr_parse_hostport(e->v4, &m->v4);
		m->has6 = edge_addr_parse_hostport(e->v6, &m->v6);
		m->tls_port = cluster_port_of(e->tls);
		m->dtls_port = cluster_port_of(e->dtls);
		snprintf(m->domain, sizeof(m->domain), "%s", e->domain);
		if (edge_worker_post(r->workers[i], apply_alt, m) != 0)
			free(m);
	}
}

/* The least-loaded healthy other node (cluster_alternate_pick; the
 * script returns live entries only), and the other nodes' listeners for
 * the workers' peer checks (redis/peers.c). */
static void on_nodes(struct rconn *c, struct redisReply *r, enum rc_status st,
                     void *arg)
{
	struct edge_redis *er = arg;
	struct cluster_recs *nodes;
	struct cluster_alternate best;

	(void)c;
	if (st != RC_OK || !r || redis_nodes_decode(r, &nodes) != 0)
		return;
	redis_peers_update(er, nodes);
	cluster_alternate_pick(nodes->v, nodes->n, er->node_id, &best);
	post_alternates(er, &best);
	cluster_recs_free(nodes);
}

/* --- heartbeat ------------------------------------------------------------ */

static void on_beat(struct rconn *c, struct redisReply *r, enum rc_status st,
                    void *arg)
{
	struct edge_redis *er = arg;
	const char *argv[2] = {CLUSTER_NODES_SET, CLUSTER_NODE_PFX};
	size_t lens[2] = {strlen(argv[0]), strlen(argv[1])};

	if (st != RC_OK)
		return;
	if (r && r->type == REDIS_REPLY_ERROR) {
		edge_warn("redis: heartbeat: %s", r->str);
		return;
	}
	rconn_script(c, &redis_script_nodes, on_nodes, er, 1, 2, argv, lens);
}

static void beat(struct edge_redis *r)
{
	char ttl[24];
	struct cluster_fields f;
	struct cluster_node_rec n = {
	        .id = r->node_id,
	        .listen4 = r->listen4,
	        .listen6 = r->listen6,
	        .relay4 = r->relay4,
	        .relay6 = r->relay6,
	        .tls_port = r->tls_port,
	        .dtls_port = r->dtls_port,
	        .domain = r->domain ? r->domain : "",
	        .endpoints = r->endpoints,
	        .allocations = NODE_SUM(r, allocations),
	        .max_allocations = r->cfg.max_allocations,
	        .draining = atomic_load(r->draining) != 0,
	        .workers = r->nworkers,
	        .version = AVEDGE_VERSION,
	        .started_ms = r->start_ms,
	        .updated_ms = edge_wall_ms(),
	        .allocations_created = NODE_SUM(r, allocations_created),
	        .permissions = NODE_SUM(r, permissions),
	        .channels = NODE_SUM(r, channels),
	        .auth_failures =
	                NODE_SUM(r, auth_failures) + NODE_SUM(r, stale_nonces),
	        .to_peer_packets = NODE_SUM(r, relayed_to_peer_pkts),
	        .to_peer_bytes = NODE_SUM(r, relayed_to_peer_bytes),
	        .to_client_packets = NODE_SUM(r, relayed_to_client_pkts),
	        .to_client_bytes = NODE_SUM(r, relayed_to_client_bytes),
	};
	const char *argv[6 + 2 * CLUSTER_FIELDS_MAX];
	size_t lens[6 + 2 * CLUSTER_FIELDS_MAX];
	int k = 0;

	if (!rconn_up(r->ctl))
		return;
	node_media(r, n.media);
	cluster_node_encode(&f, &n);
	snprintf(ttl, sizeof(ttl), "%llu",
	         (unsigned long long)r->cfg.node_ttl_s * 1000);
	argv[k++] = r->node_key;
	argv[k++] = CLUSTER_NODES_SET;
	argv[k++] = r->allocs_key;
	argv[k++] = ttl;
	argv[k++] = r->node_id;
	argv[k++] = CLUSTER_ALLOC_PFX;
	for (size_t i = 0; i < 2 * f.n; i++)
		argv[k++] = f.kv[i];
	for (int i = 0; i < k; i++)
		lens[i] = strlen(argv[i]);
	rconn_script(r->ctl, &redis_script_beat, on_beat, r, 3, k, argv, lens);
}

static void on_beat_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	beat(arg);
}

static void on_nonce_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	redis_nonce_poll(arg);
}

/* --- credentials and keyspace notifications --------------------------------
 */

static void creds_due(struct edge_redis *r, bool force_users)
{
	uint64_t now = edge_mono_ms();
	uint64_t every = r->notify ? USERS_SAFETY_MS : USERS_POLL_MS;
	/* half a tick of slack: the 1 s timer must not turn 2 s into 3 */
	bool users = force_users ||
	             now - r->users_read_ms + CREDS_PERIOD_MS / 2 >= every;

	if (users)
		r->users_read_ms = now;
	redis_creds_sync(r->creds, users);
	if (users) /* the peer lists with the user keys */
		redis_peer_ip_sync(r->peer_ip);
}

static void on_creds_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	creds_due(arg, false);
}

static void on_config_set(struct rconn *c, struct redisReply *r,
                          enum rc_status st, void *arg)
{
	struct edge_redis *er = arg;
	bool ok = st == RC_OK && r && r->type == REDIS_REPLY_STATUS;

	(void)c;
	if (st == RC_LATE)
		return;
	if (ok != er->notify || !ok)
		edge_info("redis: keyspace notifications %s%s%s",
		          ok ? "on: credential changes arrive at once"
		             : "unavailable (",
		          ok                                  ? ""
		          : r && r->type == REDIS_REPLY_ERROR ? r->str
		                                              : "no answer",
		          ok ? "" : "): user keys are read every 2 s");
	er->notify = ok;
}

/* CONFIG GET, then CONFIG SET with K$sg added to what is there (managed
 * Redis may refuse CONFIG: the periodic reads then carry the changes). */
static void on_config_get(struct rconn *c, struct redisReply *r,
                          enum rc_status st, void *arg)
{
	struct edge_redis *er = arg;
	char flags[64] = "";
	const char *cur = "";

	if (st == RC_LATE)
		return;
	if (st == RC_OK && r && r->type == REDIS_REPLY_ARRAY &&
	    r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
		cur = r->element[1]->str;
	else {
		on_config_set(c, r, st, arg);
		return;
	}
	snprintf(flags, sizeof(flags), "%s", cur);
	for (const char *f = NOTIFY_FLAGS; *f; f++) {
		bool have = strchr(cur, *f) != NULL ||
		            (*f != 'K' && *f != 'E' && strchr(cur, 'A'));
		size_t k = strlen(flags);
		if (!have && k + 1 < sizeof(flags)) {
			flags[k] = *f;
			flags[k + 1] = 0;
		}
	}
	if (strcmp(flags, cur) == 0) {
		er->notify = true;
		return;
	}
	if (rconn_cmdv(c, on_config_set, er, 4, "CONFIG", "SET",
	               "notify-keyspace-events", flags) != 0)
		er->notify = false;
}

static void on_keyspace(struct rconn *c, struct redisReply *r,
                        enum rc_status st, void *arg)
{
	struct edge_redis *er = arg;

	(void)c;
	if (st != RC_OK || !r || r->type != REDIS_REPLY_ARRAY ||
	    r->elements < 4 || r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "pmessage") != 0)
		return;
	edge_debug("redis: keyspace event %s", r->element[2]->str);
	creds_due(er, true);
}

static void on_sub_state(struct rconn *c, bool up, void *arg)
{
	struct edge_redis *r = arg;
	char keys[2 * CLUSTER_KEY_MAX + 32], pattern[sizeof(keys) + 32];
	unsigned db = (unsigned)r->cfg.url->db;

	if (!up)
		return;
	if (cluster_pattern(keys, sizeof(keys), CLUSTER_PATTERN_REALM,
	                    r->cfg.realm) != 0 ||
	    cluster_keyspace_pattern(pattern, sizeof(pattern), db, keys) != 0 ||
	    rconn_psubscribe(c, pattern, on_keyspace, r) != 0)
		edge_warn("redis subscriber: cannot subscribe");
	if (cluster_keyspace_pattern(pattern, sizeof(pattern), db,
	                             CLUSTER_PEER_IP_MATCH) != 0 ||
	    rconn_psubscribe(c, pattern, on_keyspace, r) != 0)
		edge_warn("redis subscriber: cannot subscribe to peer lists");
	creds_due(r, true); /* what changed while we were away */
}

static void on_ctl_state(struct rconn *c, bool up, void *arg)
{
	struct edge_redis *r = arg;

	atomic_store(&r->up, up ? 1 : 0);
	if (!up)
		return; /* the last alternates stay: the nodes may be fine */
	rconn_cmdv(c, on_config_get, r, 3, "CONFIG", "GET",
	           "notify-keyspace-events");
	beat(r);             /* the registry entry comes back at once */
	redis_nonce_poll(r); /* the key, if start could not share it */
	creds_due(r, true);
}

/* --- life ------------------------------------------------------------------
 */

int edge_redis_new(struct edge_redis **out, const struct edge_redis_opts *o,
                   char *err, size_t err_len)
{
	const struct edge_config *cfg = o->cfg;
	struct edge_redis *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return ENOMEM;
	r->cfg.url = &cfg->redis;
	r->cfg.realm = cfg->realm ? cfg->realm : "";
	r->cfg.realms = (const char *const *)o->realms->names;
	r->cfg.nrealms = o->realms->n;
	r->cfg.node_ttl_s = cfg->node_ttl_s;
	r->cfg.timeout_ms = cfg->redis_timeout_ms;
	r->cfg.user_quota = cfg->user_quota;
	r->cfg.total_quota = cfg->total_quota;
	r->cfg.max_allocations = cfg->max_allocations;
	snprintf(r->node_id, sizeof(r->node_id), "%s", o->node_id);
	cluster_key(r->node_key, sizeof(r->node_key), CLUSTER_KEY_NODE,
	            r->node_id);
	cluster_key(r->allocs_key, sizeof(r->allocs_key),
	            CLUSTER_KEY_NODE_ALLOCS, r->node_id);
	public_addr(cfg, o->core, AF_INET, r->listen4, sizeof(r->listen4));
	public_addr(cfg, o->core, AF_INET6, r->listen6, sizeof(r->listen6));
	relay_addr(o->core, AF_INET, r->relay4, sizeof(r->relay4));
	relay_addr(o->core, AF_INET6, r->relay6, sizeof(r->relay6));
	redis_endpoints_init(r, cfg, o->core);
	r->domain = cfg->node_domain;
	r->start_ms = edge_wall_ms();
	r->draining = o->draining;
	r->creds_changed = o->creds_changed;
	r->peer_ips_changed = o->peer_ips_changed;
	r->creds_arg = o->creds_arg;
	r->nonce_keys_changed = o->nonce_keys_changed;
	r->nonce_period_s = cfg->nonce_key_rotation_s;
	redis_nonce_share(r, o->nonces);
	r->base = event_base_new();
	if (!r->base || redis_creds_new(&r->creds, r) != 0 ||
	    redis_peer_ip_new(&r->peer_ip, r) != 0) {
		snprintf(err, err_len, "redis: out of memory");
		edge_redis_free(r);
		return ENOMEM;
	}
	edge_info("redis: node %s at %s:%u db %u (node-ttl %u s, timeout "
	          "%u ms)",
	          r->node_id, cfg->redis.host, (unsigned)cfg->redis.port,
	          (unsigned)cfg->redis.db, (unsigned)cfg->node_ttl_s,
	          (unsigned)cfg->redis_timeout_ms);
	*out = r;
	return 0;
}

static void *ctl_main(void *arg)
{
	struct edge_redis *r = arg;

	while (!atomic_load(&r->stop))
		if (event_base_loop(r->base, EVLOOP_ONCE) < 0)
			break;
	return NULL;
}

int edge_redis_start(struct edge_redis *r, struct edge_worker *const *workers,
                     size_t n)
{
	uint32_t beat_ms = r->cfg.node_ttl_s * 1000 / 3;
	struct timeval tb = {beat_ms / 1000, (beat_ms % 1000) * 1000};
	struct timeval tc = {CREDS_PERIOD_MS / 1000, 0};
	uint64_t nonce_ms = (uint64_t)r->nonce_period_s * 1000 / 4;
	int err;

	nonce_ms = nonce_ms < 500 ? 500 : nonce_ms > 30000 ? 30000 : nonce_ms;
	struct timeval tn = {(time_t)(nonce_ms / 1000),
	                     (suseconds_t)(nonce_ms % 1000) * 1000};

	r->workers = workers;
	r->nworkers = n;
	r->beat = event_new(r->base, -1, EV_PERSIST, on_beat_timer, r);
	r->creds_timer = event_new(r->base, -1, EV_PERSIST, on_creds_timer, r);
	r->nonce_timer = event_new(r->base, -1, EV_PERSIST, on_nonce_timer, r);
	if (!r->beat || !r->creds_timer || !r->nonce_timer ||
	    event_add(r->beat, &tb) < 0 || event_add(r->creds_timer, &tc) < 0 ||
	    event_add(r->nonce_timer, &tn) < 0)
		return ENOMEM;
	if ((err = rconn_new(
	             &r->ctl,
	             &(struct rconn_opts){.base = r->base,
	                                  .url = r->cfg.url,
	                                  .timeout_ms = r->cfg.timeout_ms,
	                                  .name = "control",
	                                  .on_state = on_ctl_state,
	                                  .arg = r})) != 0 ||
	    (err = rconn_new(&r->sub, &(struct rconn_opts){
	                                      .base = r->base,
	                                      .url = r->cfg.url,
	                                      .timeout_ms = r->cfg.timeout_ms,
	                                      .name = "subscriber",
	                                      .on_state = on_sub_state,
	                                      .arg = r})) != 0)
		return err;
	if ((err = pthread_create(&r->thread, NULL, ctl_main, r)) != 0)
		return err;
	r->started = true;
	return 0;
}

void edge_redis_stop(struct edge_redis *r)
{
	if (!r || !r->started)
		return;
	atomic_store(&r->stop, 1);
	event_base_loopbreak(r->base); /* wakes the loop */
	pthread_join(r->thread, NULL);
	r->started = false;
}

void edge_redis_free(struct edge_redis *r)
{
	if (!r)
		return;
	edge_redis_stop(r);
	rconn_free(r->ctl);
	rconn_free(r->sub);
	if (r->beat)
		event_free(r->beat);
	if (r->creds_timer)
		event_free(r->creds_timer);
	if (r->nonce_timer)
		event_free(r->nonce_timer);
	redis_creds_free(r->creds);
	redis_peer_ip_free(r->peer_ip);
	free(r->peers_last);
	if (r->base)
		event_base_free(r->base);
	free(r);
}

void edge_redis_merge(struct edge_redis *r, struct auth_store *st,
                      size_t *users, size_t *secrets)
{
	*users = *secrets = 0;
	if (r)
		redis_creds_merge(r->creds, st, users, secrets);
}

bool edge_redis_up(const struct edge_redis *r)
{
	return r && atomic_load(&((struct edge_redis *)r)->up) != 0;
}

uint64_t edge_redis_local_grants(const struct edge_redis *r)
{
	return r ? atomic_load_explicit(&((struct edge_redis *)r)->local_grants,
	                                memory_order_relaxed)
	         : 0;
}
