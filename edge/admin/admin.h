/*
 * edge/admin/admin.h - the admin HTTP(S) server (admin-listen): Prometheus
 * metrics, health and readiness, the allocation API, drain. It runs on
 * its own thread with its own event base, never on a worker; what only a
 * worker may touch (its allocations) is asked for with edge_worker_post()
 * and answered back on the admin thread. docs/admin.md describes the API.
 *
 * Floor edge/admin (docs/layout.md): uses edge/redis, edge/net through
 * worker.h only, edge/config and edge/base; only the daemon (edge/) is
 * above it.
 */
#ifndef AVEDGE_EDGE_ADMIN_H
#define AVEDGE_EDGE_ADMIN_H

#include "edge/config/config.h"

#include <stdatomic.h>
#include <stddef.h>

struct edge_admin;
struct edge_worker;
struct edge_realm_map;
struct turn_node;
struct turn_bw_names;
struct turn_bw_pool;
struct edge_redis;
struct edge_creds;

/* What the admin server reads; everything is borrowed and must outlive
 * it. */
struct edge_admin_opts {
	const struct edge_config *cfg; /* admin-*, node-id, max-allocations */
	struct turn_node *node;        /* relay port pool */
	/* the node's bandwidth class names by counter slot (the class
	 * label); NULL: none */
	const struct turn_bw_names *bw_names;
	/* bps-capacity and what is reserved of it; NULL: none */
	const struct turn_bw_pool *bw_pool;
	atomic_int *draining; /* the node's drain flag */
	/* Redis health for /metrics and /api/stats, and where the API
	 * writes users and secrets; NULL: no redis */
	struct edge_redis *redis;
	/* /api/users and /api/secrets (NULL: not served): the API's own
	 * credentials, and the daemon's rebuild of the store, which calls
	 * done (from any thread) once every worker has the new store. */
	struct edge_creds *creds;
	void (*creds_apply)(void *arg, void (*done)(void *done_arg, int err),
	                    void *done_arg);
	void *creds_arg;
	/* the node's realms by index (turn_tuple.realm), for the realm label
	 * of avedge_allocations; NULL: the default realm only */
	const struct edge_realm_map *realms;
};

/* Create the server and bind admin-listen (on the calling thread, so a
 * bind failure is reported before anything runs). cfg->admin_listen must
 * be set. 0 or errno with err naming the address or file and the
 * problem. Logs a warning when no token is configured (every API call
 * then answers 403). */
int edge_admin_new(struct edge_admin **out, const struct edge_admin_opts *o,
                   char *err, size_t err_len);
/* Start the thread once the workers run (workers[0..n-1] are borrowed
 * until edge_admin_stop). 0 or errno. */
int edge_admin_start(struct edge_admin *a, struct edge_worker **workers,
                     size_t n);
/* Stop and join the thread. Call before the workers are freed; free the
 * server after them (answers they post back land in its base). */
void edge_admin_stop(struct edge_admin *a);
void edge_admin_free(struct edge_admin *a);

/* SIGHUP: re-read admin-token / admin-token-file and (when HTTPS is on)
 * admin-cert / admin-pkey; the admin thread swaps them in, open
 * connections keep theirs. On error (err says which file and why) the old
 * ones stay. Call from any thread while the server runs. */
int edge_admin_reload(struct edge_admin *a, const struct edge_config *cfg,
                      char *err, size_t err_len);

/* Start or stop draining (SIGUSR1 / SIGUSR2 and the API share this):
 * new Allocates get 508, existing allocations keep running; the process
 * never exits because of it. why is logged. Thread-safe; works without an
 * admin server. */
void edge_admin_set_draining(atomic_int *draining, bool on, const char *why);

#endif
