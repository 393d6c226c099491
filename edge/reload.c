/*
 * edge/reload.c - the node's next snapshot: on SIGHUP the configuration
 * is read again and what can change live is built from it and swapped in
 * (credential store, TLS and DTLS contexts, admin token, log level, the
 * peer policy, the quotas, max-bps and max-allocations); when
 * the credentials or peer lists in Redis, or the admin API's own
 * credentials, change, the store or the peer policy is rebuilt and
 * swapped. Everything here runs on the main thread, except the done
 * callbacks of a swap (on the workers) and the entry points from Redis's
 * control thread and the admin thread, which only queue work for main.
 */
#include "auth/auth.h"
#include "edge/admin/admin.h"
#include "edge/base/log.h"
#include "edge/config/creds.h"
#include "edge/config/realms.h"
#include "edge/daemon.h"
#include "edge/net/dtls.h"
#include "edge/net/tls.h"
#include "edge/redis/redis.h"
#include "turn/bw.h"
#include "turn/policy.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct creds_waiter {
	void (*done)(void *arg, int err);
	void *arg;
	struct creds_waiter *next;
};

static void waiters_done(struct creds_waiter *w, int err)
{
	while (w) {
		struct creds_waiter *next = w->next;
		w->done(w->arg, err);
		free(w);
		w = next;
	}
}

/* The last worker that moved to a new store: tell those waiting for it. */
static void store_after(void *arg)
{
	struct edge_daemon *d = arg;
	struct creds_waiter *w = d->swapping;

	d->swapping = NULL;
	waiters_done(w, 0);
}

static void free_store(void *p)
{
	auth_store_free(p);
}

static void free_policy(void *p)
{
	turn_policy_free(p);
}

static void free_bw(void *p)
{
	turn_bw_table_free(p);
}

static void free_tls(void *p)
{
	edge_tls_ctx_free(p); /* live connections hold their own references */
}

static void free_dtls(void *p)
{
	edge_dtls_ctx_free(p);
}

void edge_reload_init(struct edge_daemon *d)
{
	d->store_swap = (struct edge_swap){
	        .free_old = free_store, .after = store_after, .arg = d};
	d->policy_swap = (struct edge_swap){.free_old = free_policy};
	d->tls_swap = (struct edge_swap){.free_old = free_tls};
	d->bw_swap = (struct edge_swap){.free_old = free_bw};
	d->dtls_swap = (struct edge_swap){.free_old = free_dtls};
	pthread_mutex_init(&d->waiters_mu, NULL);
}

/* Hand st to every worker (main thread, no swap in flight); the old
 * store is freed once all of them moved. */
static void swap_store(struct edge_daemon *d, struct auth_store *st)
{
	edge_swap_begin(&d->store_swap, d->shared.store, d->nworkers);
	d->shared.store = st;
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_set_store(d->workers[i], st, edge_swap_done,
		                      &d->store_swap);
}

int edge_reload_build_store(struct edge_daemon *d,
                            const struct edge_config *cfg,
                            struct auth_store **st, char *why, size_t why_len)
{
	size_t users, secrets;
	int err = edge_build_store(cfg, st, why, why_len);

	if (!err && (err = edge_creds_merge(d->creds, cfg, *st)) != 0) {
		snprintf(why, why_len, "admin API credentials: %s",
		         strerror(err));
		auth_store_free(*st);
		*st = NULL;
	}
	if (!err)
		edge_redis_merge(d->redis, *st, &users, &secrets);
	return err;
}

/* Main thread: the credentials in Redis or those of the admin API
 * changed; rebuild and swap (a swap in flight is waited for). */
static void on_creds(evutil_socket_t fd, short what, void *arg)
{
	struct edge_daemon *d = arg;
	struct timeval later = {0, 100 * 1000};
	struct creds_waiter *w;
	struct auth_store *st;
	char why[256] = "";
	int err;

	(void)fd;
	(void)what;
	if (edge_swap_busy(&d->store_swap)) {
		event_base_once(d->base, -1, EV_TIMEOUT, on_creds, d, &later);
		return;
	}
	atomic_store(&d->creds_queued, 0);
	pthread_mutex_lock(&d->waiters_mu);
	w = d->waiting; /* their changes are in what is built now */
	d->waiting = NULL;
	pthread_mutex_unlock(&d->waiters_mu);
	err = edge_reload_build_store(
	        d, d->has_creds_cfg ? &d->creds_cfg : &d->cfg, &st, why,
	        sizeof(why));
	if (err) {
		edge_err("credentials not applied, old ones stay: %s", why);
		waiters_done(w, err);
		return;
	}
	d->swapping = w;
	swap_store(d, st);
	edge_info("%s: credentials applied: %zu users, %zu REST secrets",
	          w ? "admin API" : "redis", auth_store_user_count(st),
	          auth_store_secret_count(st));
}

void edge_reload_redis_creds(void *arg)
{
	struct edge_daemon *d = arg;
	struct timeval now = {0, 0};

	if (!atomic_exchange(&d->creds_queued, 1))
		event_base_once(d->base, -1, EV_TIMEOUT, on_creds, d, &now);
}

/* The snapshot in force for what reloads live: the last one SIGHUP
 * accepted, else the one the node started from. */
static const struct edge_config *live_cfg(const struct edge_daemon *d)
{
	return d->has_creds_cfg ? &d->creds_cfg : &d->cfg;
}

/* Main thread, no policy swap in flight: rebuild the policy from the live
 * configuration (and the protected endpoints) plus Redis's peer lists and
 * hand it to every worker, whose core withdraws what it now denies. */
static void swap_policy(struct edge_daemon *d, const char *who)
{
	const struct edge_config *cfg = live_cfg(d);
	struct turn_policy *p;
	size_t allowed = 0, denied = 0;
	char why[256] = "";

	if (edge_build_policy(cfg, d->listen.own, d->listen.nown, &p, why,
	                      sizeof(why)) != 0) {
		edge_err("%s: peer policy not rebuilt, old one stays: %s", who,
		         why);
		return;
	}
	edge_redis_policy_add(d->redis, p, &allowed, &denied);
	edge_swap_begin(&d->policy_swap, d->shared.policy, d->nworkers);
	d->shared.policy = p;
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_set_policy(d->workers[i], p, edge_swap_done,
		                       &d->policy_swap);
	edge_info("%s: peer policy applied: %zu allowed and %zu denied "
	          "ranges in the configuration, %zu and %zu from Redis",
	          who, cfg->allowed_peer_ips.n, cfg->denied_peer_ips.n, allowed,
	          denied);
}

/* Main thread: the peer lists in Redis changed, or a SIGHUP found a
 * policy swap in flight; rebuild and swap (a swap in flight is waited
 * for). */
static void on_peers(evutil_socket_t fd, short what, void *arg)
{
	struct edge_daemon *d = arg;
	struct timeval later = {0, 100 * 1000};

	(void)fd;
	(void)what;
	if (edge_swap_busy(&d->policy_swap)) {
		event_base_once(d->base, -1, EV_TIMEOUT, on_peers, d, &later);
		return;
	}
	atomic_store(&d->policy_queued, 0);
	swap_policy(d, "redis");
}

void edge_reload_redis_peers(void *arg)
{
	struct edge_daemon *d = arg;
	struct timeval now = {0, 0};

	if (!atomic_exchange(&d->policy_queued, 1))
		event_base_once(d->base, -1, EV_TIMEOUT, on_peers, d, &now);
}

void edge_reload_api_creds(void *arg, void (*done)(void *done_arg, int err),
                           void *done_arg)
{
	struct edge_daemon *d = arg;
	struct creds_waiter *w = calloc(1, sizeof(*w));

	if (!w) {
		done(done_arg, ENOMEM);
		return;
	}
	w->done = done;
	w->arg = done_arg;
	pthread_mutex_lock(&d->waiters_mu);
	w->next = d->waiting;
	d->waiting = w;
	pthread_mutex_unlock(&d->waiters_mu);
	edge_reload_redis_creds(d);
}

/* SIGHUP with TLS on: a new context from the (re-read) certificate and
 * key for new connections; a certificate that does not load keeps the
 * old one in force. */
static void reload_tls(struct edge_daemon *d, const struct edge_config *cfg)
{
	struct ssl_ctx_st *ctx;
	char why[256] = "";

	if (!d->shared.tls || !cfg->cert || cfg->no_tls)
		return;
	if (edge_swap_busy(&d->tls_swap)) {
		edge_warn("SIGHUP: previous certificate reload in progress");
		return;
	}
	if (edge_tls_ctx_new(&ctx, cfg->cert, cfg->pkey, cfg->cipher_list, why,
	                     sizeof(why)) != 0) {
		edge_err("SIGHUP: certificate rejected, old one stays: %s",
		         why);
		return;
	}
	edge_swap_begin(&d->tls_swap, d->shared.tls, d->nworkers);
	d->shared.tls = ctx;
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_set_tls(d->workers[i], ctx, edge_swap_done,
		                    &d->tls_swap);
	edge_info("SIGHUP: certificate %s reloaded", cfg->cert);
}

/* The same for the DTLS context. */
static void reload_dtls(struct edge_daemon *d, const struct edge_config *cfg)
{
	struct ssl_ctx_st *ctx;
	char why[256] = "";

	if (!d->shared.dtls || !cfg->cert || cfg->no_dtls)
		return;
	if (edge_swap_busy(&d->dtls_swap)) {
		edge_warn("SIGHUP: previous DTLS reload in progress");
		return;
	}
	if (edge_dtls_ctx_new(&ctx, cfg->cert, cfg->pkey, cfg->cipher_list, why,
	                      sizeof(why)) != 0) {
		edge_err("SIGHUP: DTLS certificate rejected, old one stays: %s",
		         why);
		return;
	}
	edge_swap_begin(&d->dtls_swap, d->shared.dtls, d->nworkers);
	d->shared.dtls = ctx;
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_set_dtls(d->workers[i], ctx, edge_swap_done,
		                     &d->dtls_swap);
	edge_info("SIGHUP: DTLS certificate %s reloaded", cfg->cert);
}

/* Keys that rebuild the peer policy, and the allocation limits. */
static const char *const policy_keys[] = {"allowed-peer-ip", "denied-peer-ip",
                                          "allow-loopback-peers", NULL};
static const char *const limit_keys[] = {
        "max-bps",          "max-allocations",   "user-quota", "total-quota",
        "realm-user-quota", "realm-total-quota", NULL};
/* Keys of the bandwidth classes. */
static const char *const bw_keys[] = {
        "bandwidth-class", "default-bandwidth-class", "realm-bandwidth-class",
        "user-bandwidth-class", NULL};
/* Keys of the node's capacity. */
static const char *const capacity_keys[] = {
        "bps-capacity", "unlimited-class-reservation", NULL};
/* Keys that decide the realm indices the realm quotas are kept under. */
static const char *const realm_keys[] = {"realm", "realm-listener", "realm-sni",
                                         NULL};

static bool changed(const struct edge_config *a, const struct edge_config *b,
                    const char *const *names)
{
	for (; *names; names++)
		if (!edge_config_key_equal(edge_config_key_find(*names), a, b))
			return true;
	return false;
}

/* SIGHUP: the peer policy of cfg, now (or once a swap in flight is
 * over: on_peers reads the live snapshot then). */
static void reload_policy(struct edge_daemon *d)
{
	if (edge_swap_busy(&d->policy_swap)) {
		edge_reload_redis_peers(d);
		return;
	}
	swap_policy(d, "SIGHUP");
}

/* SIGHUP: user-quota, total-quota and the realm quotas into the node's
 * quota (live allocations stay; the next Allocate counts against them),
 * max-bps and max-allocations into every worker's core. */
static void reload_limits(struct edge_daemon *d, const struct edge_config *cfg)
{
	turn_quota_set_limits(d->shared.quota, cfg->user_quota,
	                      cfg->total_quota);
	if (changed(&d->cfg, cfg, realm_keys))
		edge_warn("SIGHUP: realm quotas stay the defaults until the "
		          "restart that applies the new realms");
	else if (edge_realms_set_quotas(cfg, d->shared.quota) != 0)
		edge_err("SIGHUP: realm quotas not applied");
	for (size_t i = 0; i < d->nworkers; i++)
		if (edge_worker_set_limits(d->workers[i], cfg->max_bps,
		                           cfg->max_allocations) != 0)
			edge_err("SIGHUP: worker %zu keeps its old max-bps and "
			         "max-allocations (no memory)",
			         i);
	edge_info("SIGHUP: limits applied: max-bps=%llu max-allocations=%u "
	          "user-quota=%u total-quota=%u",
	          (unsigned long long)cfg->max_bps, cfg->max_allocations,
	          cfg->user_quota, cfg->total_quota);
}

/* SIGHUP: bps-capacity and unlimited-class-reservation, at once (live
 * allocations keep what they reserved). */
static void reload_capacity(struct edge_daemon *d,
                            const struct edge_config *cfg)
{
	turn_bw_pool_set(d->shared.bw_pool, cfg->bps_capacity,
	                 cfg->unlimited_reservation);
	edge_info("SIGHUP: bps-capacity=%llu unlimited-class-reservation=%llu "
	          "(reserved now %llu)",
	          (unsigned long long)cfg->bps_capacity,
	          (unsigned long long)cfg->unlimited_reservation,
	          (unsigned long long)turn_bw_pool_reserved(d->shared.bw_pool));
}

/* SIGHUP: a new table of bandwidth classes for new allocations (live
 * ones keep the class they have). */
static void reload_bw(struct edge_daemon *d, const struct edge_config *cfg)
{
	struct turn_bw_table *t;
	char why[256] = "";

	if (edge_swap_busy(&d->bw_swap)) {
		edge_err("SIGHUP: bandwidth classes not applied: the previous "
		         "ones are still being installed; send SIGHUP again");
		return;
	}
	if (edge_build_bw(cfg, d->shared.bw_names, &t, why, sizeof(why))) {
		edge_err("SIGHUP: bandwidth classes rejected, old ones stay: "
		         "%s",
		         why);
		return;
	}
	edge_swap_begin(&d->bw_swap, d->shared.bw, d->nworkers);
	d->shared.bw = t;
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_set_bw(d->workers[i], t, edge_swap_done,
		                   &d->bw_swap);
	edge_info("SIGHUP: bandwidth classes applied to new allocations: "
	          "%zu classes, default %s",
	          turn_bw_table_count(t),
	          cfg->default_bw_class ? cfg->default_bw_class : "max-bps");
}

/* SIGHUP: name every key that changed but only takes effect at start;
 * the running value stays. */
static void log_needs_restart(const struct edge_config *running,
                              const struct edge_config *cfg)
{
	for (size_t i = 0; i < edge_config_nkeys; i++) {
		const struct edge_config_key *k = &edge_config_keys[i];
		if (k->flags &
		    (EDGE_CK_RELOAD | EDGE_CK_ALIAS | EDGE_CK_CMDLINE))
			continue;
		if (!edge_config_key_equal(k, running, cfg))
			edge_warn("SIGHUP: %s changed: needs restart (the "
			          "running value stays)",
			          k->name);
	}
}

void edge_reload(struct edge_daemon *d)
{
	struct edge_config cfg;
	struct edge_config_err cerr;
	struct auth_store *st;
	char why[256] = "";

	if (edge_swap_busy(&d->store_swap)) {
		edge_warn("SIGHUP: previous reload still in progress");
		return;
	}
	if (edge_config_load(&cfg, d->argc, d->argv, &cerr) != 0) {
		edge_err("SIGHUP: configuration rejected, old one stays: %s",
		         cerr.msg);
		return;
	}
	log_needs_restart(&d->cfg, &cfg);
	edge_log_set_level(cfg.log_level);
	reload_tls(d, &cfg);
	reload_dtls(d, &cfg);
	if (d->admin && edge_admin_reload(d->admin, &cfg, why, sizeof(why)))
		edge_err("SIGHUP: admin settings rejected, old ones stay: %s",
		         why);
	if (edge_reload_build_store(d, &cfg, &st, why, sizeof(why)) != 0) {
		edge_err("SIGHUP: credentials rejected, old ones stay: %s",
		         why);
		edge_config_free(&cfg);
		return;
	}
	bool policy = changed(live_cfg(d), &cfg, policy_keys);
	bool limits = changed(live_cfg(d), &cfg, limit_keys);
	bool bw = changed(live_cfg(d), &cfg, bw_keys);
	bool capacity = changed(live_cfg(d), &cfg, capacity_keys);
	if (d->has_creds_cfg)
		edge_config_free(&d->creds_cfg);
	d->creds_cfg = cfg; /* kept for rebuilds when Redis changes */
	d->has_creds_cfg = true;
	swap_store(d, st);
	edge_info("SIGHUP: %zu users, %zu REST secrets loaded",
	          auth_store_user_count(st), auth_store_secret_count(st));
	if (policy)
		reload_policy(d);
	if (limits)
		reload_limits(d, &d->creds_cfg);
	if (bw)
		reload_bw(d, &d->creds_cfg);
	if (capacity)
		reload_capacity(d, &d->creds_cfg);
}

void edge_reload_free(struct edge_daemon *d)
{
	edge_swap_finish(&d->store_swap);
	edge_swap_finish(&d->policy_swap);
	edge_swap_finish(&d->tls_swap);
	edge_swap_finish(&d->dtls_swap);
	edge_swap_finish(&d->bw_swap);
	if (d->has_creds_cfg)
		edge_config_free(&d->creds_cfg);
	for (struct creds_waiter *w = d->waiting, *next; w; w = next) {
		next = w->next;
		free(w);
	}
	d->waiting = NULL;
}
