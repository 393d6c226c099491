/*
 * edge/redis/redis_int.h - the inside of the Redis state sync, shared by
 * redis/conn.c (one async connection with timeouts and reconnects),
 * redis/scripts.c (the Lua scripts), redis.c (the node object and its
 * control thread: registry, alternates), redis/creds.c (credentials) and
 * redis/worker.c (a worker's quota checks, allocation records, events).
 * Key layout: cluster/cluster.h (keys.c), docs/cluster.md.
 */
#ifndef AVEDGE_EDGE_REDIS_INT_H
#define AVEDGE_EDGE_REDIS_INT_H

#include "cluster/cluster.h"
#include "edge/config/config.h"
#include "edge/redis/redis.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct redisReply;

/* --- redis/conn.c: one async connection on one event base ------------ */
/* Everything on the base's thread. It connects at once, sends AUTH and
 * SELECT from the URL, and is "up" once they are answered; when the
 * connection fails it reconnects with backoff (100 ms doubling to 5 s).
 * A command's reply function runs once with RC_OK (reply, or an error
 * reply) or RC_DOWN (reply NULL: the connection went away first), or
 * with RC_TIMEOUT after the timeout (reply NULL) and later once more with
 * RC_LATE (the reply that came after all, or NULL). After a timeout the
 * connection is not "up" (commands are refused) until a reply arrives. A
 * connection with a
 * command unanswered for 5 timeouts (at least 2 s) is dropped and
 * reconnected (a hung server). */
enum rc_status { RC_OK, RC_DOWN, RC_TIMEOUT, RC_LATE };

struct rconn;
typedef void rconn_reply_fn(struct rconn *c, struct redisReply *r,
                            enum rc_status st, void *arg);
typedef void rconn_state_fn(struct rconn *c, bool up, void *arg);

struct rconn_opts {
	struct event_base *base;
	const struct edge_redis_url *url; /* borrowed */
	uint32_t timeout_ms;
	const char *name; /* for the log: "control", "worker 0" */
	rconn_state_fn *on_state;
	void *arg;
};

/* A Lua script: EVALSHA with the SHA1 of src (what SCRIPT LOAD returns),
 * EVAL when the server answers NOSCRIPT (a restarted Redis). */
struct rscript {
	const char *src;
};

int rconn_new(struct rconn **out, const struct rconn_opts *o);
/* Close; pending reply functions run with RC_DOWN. NULL is fine. */
void rconn_free(struct rconn *c);
bool rconn_up(const struct rconn *c);
/* Send a command (argv[i] of lens[i] bytes, copied). fn NULL: no reply
 * wanted, no timeout. 0, ENOTCONN (not up: fn will not run) or ENOMEM. */
int rconn_cmd(struct rconn *c, rconn_reply_fn *fn, void *arg, int argc,
              const char **argv, const size_t *lens);
/* The same with argc NUL-terminated strings as the arguments. */
int rconn_cmdv(struct rconn *c, rconn_reply_fn *fn, void *arg, int argc, ...);
/* Run script s: argv[0..argc) are the nkeys keys, then the arguments. */
int rconn_script(struct rconn *c, const struct rscript *s, rconn_reply_fn *fn,
                 void *arg, int nkeys, int argc, const char **argv,
                 const size_t *lens);
/* PSUBSCRIBE pattern: fn runs with RC_OK for each message (and the
 * confirmation), with RC_DOWN once when the connection goes. */
int rconn_psubscribe(struct rconn *c, const char *pattern, rconn_reply_fn *fn,
                     void *arg);

/* --- redis/scripts.c ----------------------------------------------------- */
extern const struct rscript redis_script_quota_take;
extern const struct rscript redis_script_quota_release;
extern const struct rscript redis_script_record_put;
extern const struct rscript redis_script_beat;
extern const struct rscript redis_script_nodes;
extern const struct rscript redis_script_nonce_rotate;
/* The script's SHA1 in hex (made once, from any thread). */
const char *redis_script_sha(const struct rscript *s);

/* --- redis/creds.c: credentials from Redis (control thread) ------------ */
struct redis_creds;
int redis_creds_new(struct redis_creds **out, struct edge_redis *r);
void redis_creds_free(struct redis_creds *cr);
/* Read the credential keys now (or as soon as the read in progress ends);
 * users: also SCAN the user keys (else only the secret sets). */
void redis_creds_sync(struct redis_creds *cr, bool users);
/* Add the users and secrets last read to st (thread-safe). */
void redis_creds_merge(struct redis_creds *cr, struct auth_store *st,
                       size_t *users, size_t *secrets);
/* The user names last read (fn under the snapshot's mutex: it must not
 * call back) and how many secrets (thread-safe). */
void redis_creds_each_user(struct redis_creds *cr,
                           void (*fn)(void *arg, const char *name, size_t len),
                           void *arg, size_t *nsecrets);

/* --- redis/peer_ip.c: peer lists from Redis (control thread) ----------- */
struct redis_peer_ip;
int redis_peer_ip_new(struct redis_peer_ip **out, struct edge_redis *r);
void redis_peer_ip_free(struct redis_peer_ip *pi); /* NULL is fine */
/* Read the peer-list keys now (or when the read in progress ends). */
void redis_peer_ip_sync(struct redis_peer_ip *pi);

/* --- redis/nonce.c: the cluster's nonce key ----------------------------- */
struct auth_nonces;
/* avedge/nonce-key's value: ID:CREATED:HEX:PREV_ID:PREV_HEX at most */
#define REDIS_NONCE_VALUE_MAX 192
/* Blocking, before the workers run: publish a random key as the
 * cluster's nonce key unless one is there, and install the keys Redis
 * holds into n (remembered in r->nonce_last). false (logged) if Redis
 * could not be asked: n is unchanged. */
bool redis_nonce_share(struct edge_redis *r, struct auth_nonces *n);
/* Control thread, every quarter period: read the key, replace it when it
 * is a period old, report a change (r->nonce_keys_changed). */
void redis_nonce_poll(struct edge_redis *r);

/* --- redis/peers.c: other nodes' listeners ------------------------------ */
struct turn_server_cfg;
/* The registry's endpoints, tls_port and dtls_port fields of this node. */
void redis_endpoints_init(struct edge_redis *r, const struct edge_config *cfg,
                          const struct turn_server_cfg *core);
/* The nodes script's reply (an array of flat HGETALL arrays) as n records
 * (cluster/nodes.c reads them): pairs whose field or value is not a
 * string are left out, an element that is not an array is a record with
 * no fields. 0, EBADMSG (not an array) or ENOMEM; free with
 * cluster_recs_free. */
int redis_nodes_decode(const struct redisReply *rep, struct cluster_recs **out);
/* From a registry read: when the other nodes' endpoints changed, post
 * each worker its new set (control thread). */
void redis_peers_update(struct edge_redis *r, const struct cluster_recs *nodes);

/* --- the node object (redis.c) ------------------------------------------ */
struct edge_redis {
	struct edge_config_ref {
		const struct edge_redis_url *url;
		const char *realm;
		/* every realm of the node, [0] realm (edge/config/realms.h) */
		const char *const *realms;
		size_t nrealms;
		uint32_t node_ttl_s, timeout_ms;
		uint32_t user_quota, total_quota, max_allocations;
	} cfg;
	char node_id[EDGE_NODE_ID_MAX + 1];
	char node_key[sizeof(CLUSTER_NODE_PFX) + EDGE_NODE_ID_MAX];
	char allocs_key[sizeof(CLUSTER_NODE_PFX) + EDGE_NODE_ID_MAX +
	                sizeof(CLUSTER_ALLOCS_SFX)];
	/* the registry entry's addresses, "ip:port" or "" */
	char listen4[64], listen6[64], relay4[64], relay6[64];
	/* every listening "ip:port", blank-separated (redis/peers.c); the
	 * TLS and DTLS ports (0: none); node-domain or NULL */
	char endpoints[1024];
	uint16_t tls_port, dtls_port;
	const char *domain;
	char *peers_last;  /* other nodes' endpoints last posted */
	uint64_t start_ms; /* wall clock */
	atomic_int *draining;
	void (*creds_changed)(void *arg);
	void (*peer_ips_changed)(void *arg); /* also creds_arg */
	void (*nonce_keys_changed)(void *arg, const struct edge_nonce_keys *k);
	void *creds_arg;
	/* the nonce key (redis/nonce.c): period, the value last installed */
	uint32_t nonce_period_s;
	char nonce_last[REDIS_NONCE_VALUE_MAX];

	struct edge_worker *const *workers;
	size_t nworkers;
	/* control thread */
	struct event_base *base;
	pthread_t thread;
	bool started;
	struct rconn *ctl, *sub;
	struct event *beat, *creds_timer, *nonce_timer;
	atomic_int stop;
	struct redis_creds *creds;
	struct redis_peer_ip *peer_ip;
	/* v4, v6 "ip:port", TLS and DTLS ports and domain of the alternate
	 * last posted to the workers */
	char alt[2][64], alt_tls[8], alt_dtls[8], alt_domain[256];
	bool alt_posted;
	bool notify;            /* keyspace notifications are on */
	uint64_t users_read_ms; /* last SCAN of the user keys */

	atomic_int up; /* control connection up */
	_Atomic uint64_t local_grants;
};

#endif
