/*
 * edge/main.c - the avedge daemon: load the configuration (exit non-zero
 * on any error before binding anything), take a lock per listening
 * address, bind every worker's sockets, run the workers, and handle
 * signals on the main thread until SIGINT/SIGTERM.
 */
#include "auth/auth.h"
#include "edge/admin/admin.h"
#include "edge/base/edge.h"
#include "edge/base/log.h"
#include "edge/config/config.h"
#include "edge/config/creds.h"
#include "edge/net/dtls.h"
#include "edge/net/sock.h"
#include "edge/net/tls.h"
#include "edge/net/worker.h"
#include "edge/redis/redis.h"
#include "edge/setup.h"
#include "turn/policy.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORKERS 256

struct daemon {
	struct edge_config cfg;
	int argc;
	char **argv;
	struct edge_shared shared;
	/* SIGHUP: the store being replaced, freed when every worker has
	 * moved to the new one */
	struct auth_store *old_store;
	atomic_int store_pending;
	atomic_int store_busy; /* a swap in flight (cleared after the free) */
	/* The peer policy being replaced (Redis peer lists changed), as
	 * old_store; own: the endpoints it protects, for rebuilds */
	struct turn_policy *old_policy;
	atomic_int policy_pending, policy_busy, policy_queued;
	struct sockaddr_storage own[3 * EDGE_MAX_LISTEN];
	size_t nown;
	struct ssl_ctx_st *old_tls; /* the same for the TLS context */
	atomic_int tls_pending;
	struct ssl_ctx_st *old_dtls; /* and for the DTLS context */
	atomic_int dtls_pending;
	struct event_base *base;
	struct edge_worker *workers[MAX_WORKERS];
	size_t nworkers;
	int lock_fds[3 * EDGE_MAX_LISTEN];
	size_t nlocks;
	struct edge_admin *admin; /* NULL: no admin-listen */
	struct edge_redis *redis; /* NULL: no redis */
	/* The last configuration accepted by SIGHUP: a store is rebuilt
	 * from it (plus Redis) when the credentials in Redis change. */
	struct edge_config creds_cfg;
	bool has_creds_cfg;
	atomic_int creds_queued; /* a Redis rebuild is queued on main */
	/* Users and secrets of the admin API (in process; no Redis), merged
	 * into every store built. Rebuilds it asks for wait in `waiting`
	 * (any thread appends) until one starts; the swap then carries them
	 * (`swapping`, main thread and the last worker) and they are told
	 * once every worker has the new store. */
	struct edge_creds *creds;
	pthread_mutex_t waiters_mu;
	struct creds_waiter *waiting, *swapping;
};

struct creds_waiter {
	void (*done)(void *arg, int err);
	void *arg;
	struct creds_waiter *next;
};

static void redis_creds_changed(void *arg);
static void redis_peers_changed(void *arg);
static void creds_apply(void *arg, void (*done)(void *done_arg, int err),
                        void *done_arg);

/* The addresses every worker binds: listening-ip, or all IPv4 and IPv6
 * addresses when none is given. */
static int listen_addrs(const struct edge_config *cfg,
                        struct sockaddr_storage *out, size_t *n)
{
	*n = 0;
	if (cfg->listening_ips.n == 0) {
		edge_addr_parse("0.0.0.0", cfg->listening_port, &out[(*n)++]);
		edge_addr_parse("::", cfg->listening_port, &out[(*n)++]);
		return 0;
	}
	if (cfg->listening_ips.n > EDGE_MAX_LISTEN) {
		edge_err("at most %d listening-ip values are supported",
		         EDGE_MAX_LISTEN);
		return EINVAL;
	}
	for (size_t i = 0; i < cfg->listening_ips.n; i++) {
		memcpy(&out[*n], &cfg->listening_ips.v[i].addr,
		       sizeof(out[*n]));
		struct sockaddr *sa = (struct sockaddr *)&out[*n];
		if (sa->sa_family == AF_INET)
			((struct sockaddr_in *)(void *)sa)->sin_port =
			        htons(cfg->listening_port);
		else
			((struct sockaddr_in6 *)(void *)sa)->sin6_port =
			        htons(cfg->listening_port);
		(*n)++;
	}
	return 0;
}

/* lock-dir, or /run/lock/avedge, or a per-user directory under $TMPDIR
 * (SO_REUSEPORT sharing needs the same user, so per-user locks suffice). */
static const char *lock_dir(const struct edge_config *cfg, char *buf,
                            size_t cap)
{
	const char *tmp = getenv("TMPDIR");

	if (cfg->lock_dir)
		return cfg->lock_dir;
	if (access("/run/lock", W_OK) == 0)
		return "/run/lock/avedge";
	snprintf(buf, cap, "%s/avedge-locks-%u", tmp && *tmp ? tmp : "/tmp",
	         (unsigned)getuid());
	return buf;
}

static int take_locks(struct daemon *d, const struct sockaddr_storage *addrs,
                      size_t n)
{
	char where[EDGE_ADDRSTR_LEN], buf[512];
	const char *dir = lock_dir(&d->cfg, buf, sizeof(buf));

	for (size_t i = 0; i < n; i++) {
		const struct sockaddr *sa = (const void *)&addrs[i];
		bool seen = false;
		/* One lock per address and port, whatever the protocols. */
		for (size_t j = 0; j < i && !seen; j++)
			seen = memcmp(&addrs[j], &addrs[i], sizeof(addrs[i])) ==
			       0;
		if (seen)
			continue;
		int fd = edge_port_lock(dir, sa);
		if (fd < 0) {
			edge_err("cannot lock %s in %s: %s%s",
			         edge_addr_str(sa, where, sizeof(where)), dir,
			         strerror(-fd),
			         fd == -EADDRINUSE
			                 ? " (another avedge serves it)"
			                 : "");
			return -fd;
		}
		d->lock_fds[d->nlocks++] = fd;
	}
	return 0;
}

/* The TLS or DTLS endpoints: the listening addresses on that port. */
static void port_addrs(uint16_t port, const struct sockaddr_storage *addrs,
                       size_t n, struct sockaddr_storage *out)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = addrs[i];
		struct sockaddr *sa = (struct sockaddr *)&out[i];
		if (sa->sa_family == AF_INET)
			((struct sockaddr_in *)(void *)sa)->sin_port =
			        htons(port);
		else
			((struct sockaddr_in6 *)(void *)sa)->sin6_port =
			        htons(port);
	}
}

/* dtls-listening-port, 0 meaning tls-listening-port (as coturn). */
static uint16_t dtls_port(const struct edge_config *cfg)
{
	return cfg->dtls_listening_port ? cfg->dtls_listening_port
	                                : cfg->tls_listening_port;
}

static unsigned worker_count(const struct edge_config *cfg)
{
	long n = cfg->threads;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

static int start_workers(struct daemon *d)
{
	struct edge_worker_opts opts;
	/* addrs: the listening addresses, then the same on the TLS port,
	 * then on the DTLS port */
	struct sockaddr_storage addrs[3 * EDGE_MAX_LISTEN];
	size_t naddrs, nown, dtls_at = 0;
	char where[EDGE_ADDRSTR_LEN];
	bool tls = d->cfg.cert && !d->cfg.no_tls;
	bool dtls = d->cfg.cert && !d->cfg.no_dtls;
	int err;

	memset(&opts, 0, sizeof(opts));
	if ((err = listen_addrs(&d->cfg, addrs, &naddrs)) != 0)
		return err;
	nown = naddrs;
	if (tls) {
		port_addrs(d->cfg.tls_listening_port, addrs, naddrs,
		           &addrs[naddrs]);
		nown += naddrs;
	}
	if (dtls && !d->cfg.no_udp &&
	    dtls_port(&d->cfg) == d->cfg.listening_port) {
		edge_err("dtls-listening-port %u is the UDP listening-port: "
		         "choose another",
		         (unsigned)dtls_port(&d->cfg));
		return EINVAL;
	}
	if (dtls) {
		dtls_at = nown;
		port_addrs(dtls_port(&d->cfg), addrs, naddrs, &addrs[nown]);
		nown += naddrs;
	}
	if ((err = take_locks(d, addrs, nown)) != 0)
		return err;
	memcpy(d->own, addrs, nown * sizeof(addrs[0]));
	d->nown = nown;
	char why[512] = "";
	err = edge_setup_shared(&d->cfg, addrs, nown, &d->shared, why,
	                        sizeof(why));
	if (err) {
		edge_err("%s", why);
		return err;
	}
	if ((err = edge_creds_new(&d->creds)) != 0 ||
	    (err = edge_creds_merge(d->creds, &d->cfg, d->shared.store)) != 0)
		return err;
	if (d->cfg.redis.url) {
		char id[EDGE_NODE_ID_MAX + 1];
		edge_node_id(&d->cfg, id, sizeof(id));
		err = edge_redis_new(
		        &d->redis,
		        &(struct edge_redis_opts){
		                .cfg = &d->cfg,
		                .core = &d->shared.core,
		                .realms = &d->shared.realms,
		                .nonces = d->shared.nonces,
		                .draining = &d->shared.draining,
		                .node_id = id,
		                .creds_changed = redis_creds_changed,
		                .peer_ips_changed = redis_peers_changed,
		                .creds_arg = d},
		        why, sizeof(why));
		if (err) {
			edge_err("%s", why);
			return err;
		}
	}
	if (d->cfg.admin_listen.text &&
	    (err = edge_admin_new(
	             &d->admin,
	             &(struct edge_admin_opts){.cfg = &d->cfg,
	                                       .node = d->shared.node,
	                                       .draining = &d->shared.draining,
	                                       .redis = d->redis,
	                                       .creds = d->creds,
	                                       .creds_apply = creds_apply,
	                                       .creds_arg = d,
	                                       .realms = &d->shared.realms},
	             why, sizeof(why))) != 0) {
		edge_err("%s", why);
		return err;
	}
	opts.core = d->shared.core;
	opts.store = d->shared.store;
	opts.nonces = d->shared.nonces;
	opts.policy = d->shared.policy;
	opts.quota = d->shared.quota;
	opts.workers = d->workers; /* filled below, read once running */
	opts.realms = &d->shared.realms;
	for (size_t i = 0; i < naddrs; i++) {
		if (!d->cfg.no_udp)
			opts.udp[opts.nudp++] = addrs[i];
		if (!d->cfg.no_tcp)
			opts.tcp[opts.ntcp++] = addrs[i];
		if (tls)
			opts.tls[opts.ntls++] = addrs[naddrs + i];
		if (dtls)
			opts.dtls[opts.ndtls++] = addrs[dtls_at + i];
	}
	opts.tls_ctx = d->shared.tls;
	opts.dtls_ctx = d->shared.dtls;
	memcpy(opts.dtls_cookie_key, d->shared.dtls_cookie_key,
	       sizeof(opts.dtls_cookie_key));
	opts.connlimit = d->shared.connlimit;
	opts.handshake_timeout_s = d->cfg.handshake_timeout_s;
	opts.rcvbuf = (int)d->cfg.socket_rcvbuf;
	opts.sndbuf = (int)d->cfg.socket_sndbuf;
	opts.idle_timeout_s = d->cfg.idle_timeout_s;

	unsigned n = worker_count(&d->cfg);
	opts.core.nworkers = n;
	for (unsigned i = 0; i < n; i++) {
		const struct sockaddr *failed = NULL;
		err = edge_worker_new(&d->workers[i], (int)i, &opts, &failed);
		if (err) {
			if (failed)
				edge_err("cannot listen on %s: %s",
				         edge_addr_str(failed, where,
				                       sizeof(where)),
				         strerror(err));
			else
				edge_err("cannot start worker %u: %s%s", i,
				         strerror(err),
				         err == EINVAL ? " (is the relay port "
				                         "range too small for "
				                         "the threads?)"
				                       : "");
			return err;
		}
		d->nworkers++;
		if (d->redis &&
		    (err = edge_redis_attach(d->redis, d->workers[i])) != 0)
			return err;
	}
	for (size_t i = 0; i < d->nworkers; i++)
		if ((err = edge_worker_start(d->workers[i])) != 0)
			return err;
	if (d->redis &&
	    (err = edge_redis_start(d->redis, d->workers, d->nworkers)) != 0)
		return err;
	if (d->admin &&
	    (err = edge_admin_start(d->admin, d->workers, d->nworkers)) != 0)
		return err;
	for (size_t i = 0; i < naddrs; i++)
		edge_info("listening on %s%s%s",
		          edge_addr_str((const void *)&addrs[i], where,
		                        sizeof(where)),
		          d->cfg.no_udp ? "" : " udp",
		          d->cfg.no_tcp ? "" : " tcp");
	if (tls)
		edge_info("TLS on port %u (cert %s)",
		          (unsigned)d->cfg.tls_listening_port, d->cfg.cert);
	else
		edge_info("TLS is off: %s",
		          d->cfg.no_tls ? "no-tls is set" : "no cert is set");
	if (dtls)
		edge_info("DTLS on port %u (cert %s)",
		          (unsigned)dtls_port(&d->cfg), d->cfg.cert);
	else
		edge_info("DTLS is off: %s",
		          d->cfg.no_dtls ? "no-dtls is set" : "no cert is set");
	edge_info("%zu worker threads", d->nworkers);
	return 0;
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	edge_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(d->base);
}

static void waiters_done(struct creds_waiter *w, int err)
{
	while (w) {
		struct creds_waiter *next = w->next;
		w->done(w->arg, err);
		free(w);
		w = next;
	}
}

static void store_done(void *arg)
{
	struct daemon *d = arg;

	/* Runs on each worker; the last one frees the old store. */
	if (atomic_fetch_sub(&d->store_pending, 1) == 1) {
		struct creds_waiter *w = d->swapping;
		d->swapping = NULL;
		auth_store_free(d->old_store);
		d->old_store = NULL;
		atomic_store(&d->store_busy, 0); /* main may swap again */
		waiters_done(w, 0);
	}
}

/* Hand st to every worker (main thread, no swap in flight); the old
 * store is freed once all of them moved. */
static void swap_store(struct daemon *d, struct auth_store *st)
{
	d->old_store = d->shared.store;
	d->shared.store = st;
	atomic_store(&d->store_busy, 1);
	atomic_store(&d->store_pending, (int)d->nworkers);
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_set_store(d->workers[i], st, store_done, d);
}

/* A store from cfg's credentials plus those last read from Redis. */
static int build_store(struct daemon *d, const struct edge_config *cfg,
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
static void on_redis_creds(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval later = {0, 100 * 1000};
	struct creds_waiter *w;
	struct auth_store *st;
	char why[256] = "";
	int err;

	if (atomic_load(&d->store_busy)) {
		event_base_once(d->base, -1, EV_TIMEOUT, on_redis_creds, d,
		                &later);
		return;
	}
	atomic_store(&d->creds_queued, 0);
	pthread_mutex_lock(&d->waiters_mu);
	w = d->waiting; /* their changes are in what is built now */
	d->waiting = NULL;
	pthread_mutex_unlock(&d->waiters_mu);
	err = build_store(d, d->has_creds_cfg ? &d->creds_cfg : &d->cfg, &st,
	                  why, sizeof(why));
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

/* Redis control thread: hop to the main thread. */
static void redis_creds_changed(void *arg)
{
	struct daemon *d = arg;
	struct timeval now = {0, 0};

	if (!atomic_exchange(&d->creds_queued, 1))
		event_base_once(d->base, -1, EV_TIMEOUT, on_redis_creds, d,
		                &now);
}

static void policy_done(void *arg)
{
	struct daemon *d = arg;

	/* Runs on each worker; the last one frees the old policy. */
	if (atomic_fetch_sub(&d->policy_pending, 1) == 1) {
		turn_policy_free(d->old_policy);
		d->old_policy = NULL;
		atomic_store(&d->policy_busy, 0); /* main may swap again */
	}
}

/* Main thread: the peer lists in Redis changed; rebuild the policy from
 * the configuration (and the protected endpoints) plus them, and hand it
 * to every worker (a swap in flight is waited for). */
static void on_redis_peers(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct timeval later = {0, 100 * 1000};
	struct turn_policy *p;
	size_t allowed, denied;
	char why[256] = "";

	(void)fd;
	(void)what;
	if (atomic_load(&d->policy_busy)) {
		event_base_once(d->base, -1, EV_TIMEOUT, on_redis_peers, d,
		                &later);
		return;
	}
	atomic_store(&d->policy_queued, 0);
	if (edge_build_policy(&d->cfg, d->own, d->nown, &p, why, sizeof(why)) !=
	    0) {
		edge_err("peer policy not rebuilt, old one stays: %s", why);
		return;
	}
	edge_redis_policy_add(d->redis, p, &allowed, &denied);
	d->old_policy = d->shared.policy;
	d->shared.policy = p;
	atomic_store(&d->policy_busy, 1);
	atomic_store(&d->policy_pending, (int)d->nworkers);
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_set_policy(d->workers[i], p, policy_done, d);
	edge_info("redis: peer policy applied: %zu allowed and %zu denied "
	          "ranges from Redis beside the configuration's",
	          allowed, denied);
}

/* Redis control thread: hop to the main thread. */
static void redis_peers_changed(void *arg)
{
	struct daemon *d = arg;
	struct timeval now = {0, 0};

	if (!atomic_exchange(&d->policy_queued, 1))
		event_base_once(d->base, -1, EV_TIMEOUT, on_redis_peers, d,
		                &now);
}

/* Admin thread: the API changed its users or secrets; rebuild the store
 * on the main thread, done(done_arg, err) once every worker has it. */
static void creds_apply(void *arg, void (*done)(void *done_arg, int err),
                        void *done_arg)
{
	struct daemon *d = arg;
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
	redis_creds_changed(d);
}

static void tls_done(void *arg)
{
	struct daemon *d = arg;

	/* SSL objects hold references: live connections are unaffected. */
	if (atomic_fetch_sub(&d->tls_pending, 1) == 1) {
		edge_tls_ctx_free(d->old_tls);
		d->old_tls = NULL;
	}
}

/* SIGHUP with TLS on: a new context from the (re-read) certificate and
 * key for new connections; a certificate that does not load keeps the
 * old one in force. */
static void reload_tls(struct daemon *d, const struct edge_config *cfg)
{
	struct ssl_ctx_st *ctx;
	char why[256] = "";

	if (!d->shared.tls || !cfg->cert || cfg->no_tls)
		return;
	if (atomic_load(&d->tls_pending) > 0) {
		edge_warn("SIGHUP: previous certificate reload in progress");
		return;
	}
	if (edge_tls_ctx_new(&ctx, cfg->cert, cfg->pkey, cfg->cipher_list, why,
	                     sizeof(why)) != 0) {
		edge_err("SIGHUP: certificate rejected, old one stays: %s",
		         why);
		return;
	}
	d->old_tls = d->shared.tls;
	d->shared.tls = ctx;
	atomic_store(&d->tls_pending, (int)d->nworkers);
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_set_tls(d->workers[i], ctx, tls_done, d);
	edge_info("SIGHUP: certificate %s reloaded", cfg->cert);
}

static void dtls_done(void *arg)
{
	struct daemon *d = arg;

	if (atomic_fetch_sub(&d->dtls_pending, 1) == 1) {
		edge_dtls_ctx_free(d->old_dtls);
		d->old_dtls = NULL;
	}
}

/* The same for the DTLS context. */
static void reload_dtls(struct daemon *d, const struct edge_config *cfg)
{
	struct ssl_ctx_st *ctx;
	char why[256] = "";

	if (!d->shared.dtls || !cfg->cert || cfg->no_dtls)
		return;
	if (atomic_load(&d->dtls_pending) > 0) {
		edge_warn("SIGHUP: previous DTLS reload in progress");
		return;
	}
	if (edge_dtls_ctx_new(&ctx, cfg->cert, cfg->pkey, cfg->cipher_list, why,
	                      sizeof(why)) != 0) {
		edge_err("SIGHUP: DTLS certificate rejected, old one stays: %s",
		         why);
		return;
	}
	d->old_dtls = d->shared.dtls;
	d->shared.dtls = ctx;
	atomic_store(&d->dtls_pending, (int)d->nworkers);
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_set_dtls(d->workers[i], ctx, dtls_done, d);
	edge_info("SIGHUP: DTLS certificate %s reloaded", cfg->cert);
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

/* SIGHUP: re-read the configuration for credentials (users, user-file,
 * REST secrets) and the TLS certificate, and hand them to every worker.
 * What does not load keeps the old one in force. */
static void reload_credentials(struct daemon *d)
{
	struct edge_config cfg;
	struct edge_config_err cerr;
	struct auth_store *st;
	char why[256] = "";

	if (atomic_load(&d->store_busy)) {
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
	if (build_store(d, &cfg, &st, why, sizeof(why)) != 0) {
		edge_err("SIGHUP: credentials rejected, old ones stay: %s",
		         why);
		edge_config_free(&cfg);
		return;
	}
	if (d->has_creds_cfg)
		edge_config_free(&d->creds_cfg);
	d->creds_cfg = cfg; /* kept for rebuilds when Redis changes */
	d->has_creds_cfg = true;
	swap_store(d, st);
	edge_info("SIGHUP: %zu users, %zu REST secrets loaded",
	          auth_store_user_count(st), auth_store_secret_count(st));
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	int err = edge_log_reopen();

	if (err)
		edge_err("SIGHUP: cannot reopen the log file: %s",
		         strerror(err));
	else
		edge_info("SIGHUP: log file reopened");
	reload_credentials(arg);
}

/* SIGUSR1 starts draining, SIGUSR2 stops it; never exits by itself. */
static void on_drain(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	edge_admin_set_draining(&d->shared.draining, sig == SIGUSR1,
	                        sig == SIGUSR1 ? "SIGUSR1" : "SIGUSR2");
}

static void log_capacity(void)
{
	long fds = edge_raise_fd_limit();

	/* An allocation holds one relay socket (two for dual-stack) and its
	 * client may hold a TCP connection: about two descriptors each. */
	edge_info("file descriptor limit %ld: room for about %ld allocations",
	          fds, fds > 64 ? (fds - 64) / 2 : 0);
}

static int run(struct daemon *d)
{
	struct event *sigs[5];
	const int signums[5] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
	event_callback_fn fns[5] = {on_stop, on_stop, on_hup, on_drain,
	                            on_drain};
	int err;

	d->base = event_base_new();
	if (!d->base)
		return ENOMEM;
	for (int i = 0; i < 5; i++) {
		sigs[i] = evsignal_new(d->base, signums[i], fns[i], d);
		evsignal_add(sigs[i], NULL);
	}
	log_capacity();
	err = start_workers(d);
	if (err == 0) {
		edge_info("avedge %s ready", edge_version());
		event_base_dispatch(d->base);
	}
	edge_admin_stop(d->admin); /* before the workers it asks */
	edge_redis_stop(d->redis); /* before the workers it posts to */
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_free(d->workers[i]);
	edge_admin_free(d->admin);
	edge_redis_free(d->redis);
	if (d->has_creds_cfg)
		edge_config_free(&d->creds_cfg);
	for (size_t i = 0; i < d->nlocks; i++)
		close(d->lock_fds[i]);
	for (int i = 0; i < 5; i++)
		event_free(sigs[i]);
	event_base_free(d->base);
	if (atomic_load(&d->store_busy))
		auth_store_free(d->old_store); /* workers are gone */
	if (atomic_load(&d->policy_busy))
		turn_policy_free(d->old_policy);
	if (atomic_load(&d->tls_pending) > 0)
		edge_tls_ctx_free(d->old_tls);
	if (atomic_load(&d->dtls_pending) > 0)
		edge_dtls_ctx_free(d->old_dtls);
	edge_shared_free(&d->shared);
	edge_creds_free(d->creds);
	for (struct creds_waiter *w = d->waiting, *next; w; w = next) {
		next = w->next;
		free(w);
	}
	return err;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	struct edge_config_err cerr;
	int err;

	d.argc = argc;
	d.argv = argv;
	pthread_mutex_init(&d.waiters_mu, NULL);
	if (edge_config_load(&d.cfg, argc, argv, &cerr) != 0) {
		fprintf(stderr, "avedge: %s\n", cerr.msg);
		return 2;
	}
	if (d.cfg.help) {
		edge_config_help(stdout);
		edge_config_free(&d.cfg);
		return 0;
	}
	if (d.cfg.version) {
		printf("avedge %s\n", edge_version());
		edge_config_free(&d.cfg);
		return 0;
	}
	if ((err = edge_log_open(d.cfg.log_file, d.cfg.log_level,
	                         d.cfg.log_format, d.cfg.syslog)) != 0) {
		fprintf(stderr, "avedge: cannot open log-file %s: %s\n",
		        d.cfg.log_file, strerror(err));
		edge_config_free(&d.cfg);
		return 1;
	}
	for (size_t i = 0; i < d.cfg.warnings.n; i++)
		edge_warn("%s", d.cfg.warnings.v[i]);
	signal(SIGPIPE, SIG_IGN);
	evthread_use_pthreads();
	err = run(&d);
	edge_info("stopped");
	edge_config_free(&d.cfg);
	edge_log_close();
	libevent_global_shutdown();
	return err ? 1 : 0;
}
