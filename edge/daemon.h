/*
 * edge/daemon.h - the running node, as main.c starts it and reload.c
 * changes it: the configuration snapshot it started from, what was built
 * from it (listening plan, shared state), the workers, the admin server
 * and Redis, and the swaps in flight. Private to edge/main.c and the
 * files beside it; nothing below edge/ sees it.
 */
#ifndef AVEDGE_EDGE_DAEMON_H
#define AVEDGE_EDGE_DAEMON_H

#include "edge/config/config.h"
#include "edge/listen.h"
#include "edge/redis/redis.h"
#include "edge/setup.h"
#include "edge/swap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define EDGE_MAX_WORKERS 256

struct event_base;
struct edge_admin;
struct edge_redis;
struct edge_creds;
struct creds_waiter;

struct edge_daemon {
	struct edge_config cfg; /* the snapshot the node started from */
	int argc;               /* the command line, to read the next one */
	char **argv;
	struct edge_listen listen;
	struct edge_shared shared;
	/* reloads (reload.c): the credential store, the peer policy (Redis
	 * peer lists), the TLS and DTLS contexts */
	struct edge_swap store_swap, policy_swap, tls_swap, dtls_swap;
	struct edge_swap bw_swap; /* the table of bandwidth classes */
	/* nonce keys (rotate.c): the swap, the standalone rotation timer,
	 * the cluster's keys last read by Redis's control thread (under
	 * nonce_mu) and whether a swap of them is queued on main */
	struct edge_swap nonce_swap;
	struct event *nonce_timer;
	pthread_mutex_t nonce_mu;
	struct edge_nonce_keys nonce_next;
	atomic_int nonce_queued;
	struct event_base *base; /* the main thread's: signals, rebuilds */
	struct edge_worker *workers[EDGE_MAX_WORKERS];
	size_t nworkers;
	int lock_fds[EDGE_MAX_OWN];
	size_t nlocks;
	struct edge_admin *admin; /* NULL: no admin-listen */
	struct edge_redis *redis; /* NULL: no redis */
	/* The last snapshot accepted by SIGHUP: a store or the peer policy
	 * is rebuilt from it (plus Redis) when Redis's credentials or peer
	 * lists change. */
	struct edge_config creds_cfg;
	bool has_creds_cfg;
	atomic_int creds_queued;  /* a credentials rebuild is queued on main */
	atomic_int policy_queued; /* a peer policy rebuild is queued on main */
	/* Users and secrets of the admin API (in process; no Redis), merged
	 * into every store built. Rebuilds it asks for wait in `waiting`
	 * (any thread appends) until one starts; the swap then carries them
	 * (`swapping`, main thread and the last worker) and they are told
	 * once every worker has the new store. */
	struct edge_creds *creds;
	pthread_mutex_t waiters_mu;
	struct creds_waiter *waiting, *swapping;
};

/* reload.c: the next snapshot, built and swapped in */
void edge_reload_init(struct edge_daemon *d);
/* SIGHUP: re-read the configuration; credentials, certificates, the admin
 * token, the log level, the peer policy (allowed/denied-peer-ip,
 * allow-loopback-peers), the limits (max-bps, max-allocations, the
 * quotas) and the bandwidth classes (for new allocations) change live, other
 * changed keys are named as needing a restart; what does not load leaves the
 * old one in force. */
void edge_reload(struct edge_daemon *d);
/* A store from cfg's credentials, the admin API's and Redis's. */
int edge_reload_build_store(struct edge_daemon *d,
                            const struct edge_config *cfg,
                            struct auth_store **st, char *why, size_t why_len);
/* Callbacks of edge_redis_opts and edge_admin_opts (arg: the daemon):
 * the credentials or peer lists in Redis changed; the admin API changed
 * its credentials (done once every worker has the new store). */
void edge_reload_redis_creds(void *arg);
void edge_reload_redis_peers(void *arg);
void edge_reload_api_creds(void *arg, void (*done)(void *done_arg, int err),
                           void *done_arg);
/* At stop, once the workers are gone: free what swaps still hold. */
void edge_reload_free(struct edge_daemon *d);

/* rotate.c: the nonce keys change (nonce-key-rotation) and are swapped
 * into every worker. Init before start; start once the workers run: a
 * node without redis then rotates its own key every period on the main
 * thread, a node with redis installs what edge_rotate_redis_keys()
 * reports (Redis's control thread: the cluster's key changed). Free at
 * stop, once the workers are gone. */
void edge_rotate_init(struct edge_daemon *d);
int edge_rotate_start(struct edge_daemon *d);
void edge_rotate_redis_keys(void *arg, const struct edge_nonce_keys *k);
void edge_rotate_free(struct edge_daemon *d);

#endif
