/*
 * edge/redis/redis.h - shared state in Redis (redis = redis://...): the node
 * registry and its heartbeat, a record per allocation, cluster-wide
 * quotas, users and REST secrets read from Redis, events on a channel.
 * Optional: without redis nothing here is created and the daemon keeps
 * everything in process. The packet path never waits on Redis; only an
 * Allocate may wait for its quota answer, up to redis-timeout, after which
 * the node decides locally. docs/cluster.md has the key layout.
 *
 * Threads. The node object runs a control thread with its own event base
 * (registry heartbeat, alternates, credential sync, keyspace
 * notifications). Each worker has its own connection on its own event
 * base for its quota checks, allocation records and events: nothing
 * crosses threads on that path.
 *
 * Floor edge/redis (docs/layout.md): uses edge/net through worker.h only
 * (post, core call, hooks), edge/config and edge/base; the admin server
 * and the daemon above use this header.
 */
#ifndef AVEDGE_EDGE_REDIS_H
#define AVEDGE_EDGE_REDIS_H

#include "auth/auth.h"
#include "cluster/cluster.h"
#include "edge/config/config.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_NODE_ID_MAX 64

struct edge_redis;
struct edge_redis_worker;
struct edge_worker;
struct turn_server_cfg;
struct edge_realm_map;
struct auth_nonces;
struct auth_store;
struct turn_action;

/* The cluster's nonce keys as avedge/nonce-key holds them (redis/nonce.c):
 * the current key, and the one it replaced, good through prev_until_s
 * (its replacement's creation plus nonce-key-rotation). */
struct edge_nonce_keys {
	struct auth_nonce_key cur, prev;
	bool has_prev;
	uint64_t prev_until_s;
};

struct edge_redis_opts {
	const struct edge_config *cfg; /* borrowed for the process's life */
	/* what the daemon built from cfg (edge/setup.h), borrowed: */
	const struct turn_server_cfg *core; /* relay addresses */
	const struct edge_realm_map *realms;
	struct auth_nonces *nonces;
	atomic_int *draining; /* the node's drain flag */
	const char *node_id;
	/* Called on the control thread when the credentials read from
	 * Redis changed: the daemon builds a new store (edge_redis_merge)
	 * and swaps it in. */
	void (*creds_changed)(void *arg);
	/* The same (creds_arg too) when the peer lists read from Redis
	 * changed: the daemon rebuilds the peer policy
	 * (edge_redis_policy_add) and swaps it in. */
	void (*peer_ips_changed)(void *arg);
	/* The same (creds_arg too) when the cluster's nonce keys changed
	 * (a rotation, or Redis reached after a start without it): the
	 * daemon builds new nonces from k (copy it) and swaps them in. */
	void (*nonce_keys_changed)(void *arg, const struct edge_nonce_keys *k);
	void *creds_arg;
};

/* The node id: node-id, else the host name reduced to [A-Za-z0-9._-]
 * (the rule the admin API uses). */
void edge_node_id(const struct edge_config *cfg, char *buf, size_t cap);

/* Create (nothing connects yet). 0 or errno with err. */
int edge_redis_new(struct edge_redis **out, const struct edge_redis_opts *o,
                   char *err, size_t err_len);
/* Give worker w (created, not started) its connection; it connects once
 * the worker runs. 0 or ENOMEM. */
int edge_redis_attach(struct edge_redis *r, struct edge_worker *w);
/* Start the control thread once the workers run. 0 or errno. */
int edge_redis_start(struct edge_redis *r, struct edge_worker *const *workers,
                     size_t n);
/* Stop the control thread; before the workers stop. NULL is fine. */
void edge_redis_stop(struct edge_redis *r);
/* Free after the workers are freed. NULL is fine. */
void edge_redis_free(struct edge_redis *r);

/* Add the users and REST secrets last read from Redis to st (a store
 * being built from the configuration; its own users win over Redis users
 * of the same name). Thread-safe. NULL r does nothing. */
void edge_redis_merge(struct edge_redis *r, struct auth_store *st,
                      size_t *users, size_t *secrets);

/* Add the peer ranges last read from Redis (turn/allowed-peer-ip/<id>,
 * turn/denied-peer-ip/<id>) to p, a policy being built from the
 * configuration; allowed / denied count them. Thread-safe. NULL r does
 * nothing (redis/peer_ip.c). */
struct turn_policy;
void edge_redis_policy_add(struct edge_redis *r, struct turn_policy *p,
                           size_t *allowed, size_t *denied);

/* --- the admin API's credential changes (redis/admin.c) ----------------- */
/* Write a credential in coturn's layout for the node's realm, on the
 * control thread: USER_SET stores hex_key (32 hex digits, the MD5 key:
 * never a password) at turn/realm/<realm>/user/<name>/key, USER_DEL
 * deletes it, SECRET_ADD / SECRET_DEL SADD / SREM the secret in
 * turn/realm/<realm>/secret. name_or_secret and hex_key are copied. Then
 * the credentials are read again at once (every other node reads them
 * within 2 s). done runs once, on the control thread: err 0 (changed:
 * the key or member was there to delete / was new), ENOTCONN (Redis is
 * down: nothing was sent), ETIMEDOUT (no answer within redis-timeout:
 * it may have been applied) or EIO (an error reply). Returns 0 or
 * ENOTCONN / ENOMEM (done will not run). */
enum edge_redis_cred_op {
	EDGE_REDIS_USER_SET,
	EDGE_REDIS_USER_DEL,
	EDGE_REDIS_SECRET_ADD,
	EDGE_REDIS_SECRET_DEL,
};
typedef void edge_redis_cred_fn(void *arg, int err, bool changed);
int edge_redis_cred_write(struct edge_redis *r, enum edge_redis_cred_op op,
                          const char *name_or_secret, const char *hex_key,
                          edge_redis_cred_fn *done, void *arg);
/* The user names last read from Redis (fn under a mutex: it must not
 * call back into r) and how many REST secrets. Thread-safe. */
void edge_redis_each_user(struct edge_redis *r,
                          void (*fn)(void *arg, const char *name, size_t len),
                          void *arg, size_t *nsecrets);

/* --- cluster-wide reads for the admin API (redis/query.c) ---------------- */
/* A reader has a connection of its own on the caller's event base (the
 * admin thread's), so a read never waits on the control thread and never
 * delays its heartbeat. Create, use and free it on the thread that runs
 * base; it connects at once and reconnects with backoff. r must outlive
 * it. 0 or ENOMEM. */
struct event_base;
struct edge_redis_reader;
int edge_redis_reader_new(struct edge_redis_reader **out,
                          const struct edge_redis *r, struct event_base *base);
/* Pending reads end with ENOTCONN first. NULL is fine. */
void edge_redis_reader_free(struct edge_redis_reader *q);

/* What a read gives: records (cluster/cluster.h: struct cluster_rec, a
 * hash's field/value pairs by the id it was found by; n == 0: gone) and
 * how many matched in all (struct cluster_recs). */
/* done runs once, on the reader's thread, never inside the call: err 0
 * with recs (the callee owns them: cluster_recs_free), or ENOTCONN
 * (Redis is down or not connected yet), ETIMEDOUT (a command had no
 * answer within redis-timeout), EIO (an error reply) or ENOMEM, with
 * recs NULL. */
typedef void edge_redis_recs_fn(void *arg, int err, struct cluster_recs *recs);

/* Every member of avedge/nodes, sorted by id, with its registry hash (n
 * 0 for a member whose entry expired). Returns 0 (done will run) or
 * ENOTCONN / ENOMEM (it will not). */
int edge_redis_read_nodes(struct edge_redis_reader *q, edge_redis_recs_fn *done,
                          void *arg);

/* Allocation records of every node in the registry, in a stable order
 * (node id, worker, serial), filtered by user and realm (exact match;
 * NULL: any), the page [offset, offset + limit). total counts the
 * matches; without a filter it is the number of ids in the nodes'
 * allocation sets (a record that expired in between is left out of the
 * page). The filters are copied. Returns as edge_redis_read_nodes. */
struct edge_redis_alloc_query {
	const char *user, *realm;
	size_t offset, limit;
};
int edge_redis_read_allocs(struct edge_redis_reader *q,
                           const struct edge_redis_alloc_query *f,
                           edge_redis_recs_fn *done, void *arg);

/* Health for /metrics and /api/stats; thread-safe, NULL r: not
 * configured. */
bool edge_redis_up(const struct edge_redis *r);
uint64_t edge_redis_local_grants(const struct edge_redis *r);

#endif
