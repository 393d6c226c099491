/*
 * edge/admin/admin_int.h - the inside of the admin server, shared by admin.c
 * (HTTP, access control, routing, health, drain), admin/metrics.c
 * (/metrics, /api/stats) and admin/api.c (the allocation API and every
 * exchange with the workers). Everything here runs on the admin thread
 * unless a comment says otherwise.
 */
#ifndef AVEDGE_EDGE_ADMIN_INT_H
#define AVEDGE_EDGE_ADMIN_INT_H

#include "edge/admin/admin.h"
#include "turn/turn.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define ADMIN_NODE_ID_MAX 64

/* The loop-lag probe of one worker: posted by the admin thread every
 * second, run on the worker (which writes lag_ns), so a worker busy for
 * N ms shows N ms of lag. */
struct admin_probe {
	struct edge_admin *a;
	unsigned index;
	atomic_bool in_flight;
	_Atomic uint64_t sent_ns; /* monotonic, when posted */
	_Atomic uint64_t lag_ns;  /* the last probe's wait */
};

struct edge_admin {
	struct event_base *base;
	struct evhttp *http;
	struct ssl_ctx_st *tls; /* NULL: plain HTTP */
	pthread_t thread;
	bool started;
	char *token; /* NULL: no token configured, the API answers 403 */
	size_t token_len;
	char node_id[ADMIN_NODE_ID_MAX + 1];
	char *realm;                         /* the node's realm at start */
	const struct edge_realm_map *realms; /* NULL: the default only */
	uint32_t max_allocations;
	bool redis_configured;
	/* NULL: redis not configured */
	struct edge_redis *redis;
	/* cluster-scope reads (admin/cluster.c): a Redis connection on this
	 * thread's base, created when the thread starts; NULL without redis */
	struct edge_redis_reader *reader;
	/* users and secrets of the API (admin/creds.c); NULL: not served */
	struct edge_creds *creds;
	void (*creds_apply)(void *arg, void (*done)(void *done_arg, int err),
	                    void *done_arg);
	void *creds_arg;
	uint64_t cred_changes[4]; /* ADMIN_CRED_* (admin thread only) */
	uint64_t start_s;         /* wall clock */
	struct turn_node *node;
	const struct turn_bw_names *bw_names; /* NULL: none */
	const struct turn_bw_pool *bw_pool;   /* NULL: none */
	atomic_int *draining;
	struct edge_worker **workers;
	size_t nworkers;
	struct admin_probe *probes; /* nworkers */
	struct event *probe_timer;
	struct admin_history *history;
	uint64_t unauthorized; /* 401s (admin thread only) */
	uint64_t forbidden;    /* 403s: no token configured */
};

/* http.c: answers */
void admin_send_json(struct evhttp_request *req, int code, const char *reason,
                     struct evbuffer *body);
/* {"error":"msg"} with code; msg is a fixed text, never user input. */
void admin_send_error(struct evhttp_request *req, int code, const char *reason,
                      const char *msg);
/* A JSON string (quotes included): '"', '\\', control characters, '<',
 * '>', '&' and invalid UTF-8 are escaped, so any bytes are safe. */
void admin_json_str(struct evbuffer *b, const char *s);
void admin_json_addr(struct evbuffer *b, const union turn_addr *a, bool port);
void admin_send_empty(struct evhttp_request *req, int code, const char *reason);
void admin_send_text(struct evhttp_request *req, int code, const char *reason,
                     const char *text);

/* state.c: the node's counters and port pool */
bool admin_ports_exhausted(struct edge_admin *a);
/* Sums of every worker's counters, read with relaxed loads. */
void admin_sum_turn(struct edge_admin *a, struct turn_stats *out);
struct edge_stats;
void admin_sum_edge(struct edge_admin *a, struct edge_stats *out);

/* admin/metrics.c */
void admin_metrics(struct edge_admin *a, struct evhttp_request *req);
void admin_stats(struct edge_admin *a, struct evhttp_request *req);

/* admin/media.c: media quality (turn/media.h) of the node, the workers'
 * summaries merged: the avedge_media_* families of /metrics, GET
 * /api/media/worst */
void admin_media_metrics(struct edge_admin *a, struct evbuffer *b);
void admin_media_worst(struct edge_admin *a, struct evhttp_request *req);

/* admin/api.c: allocations (asked of the workers), the loop-lag probe */
void admin_list(struct edge_admin *a, struct evhttp_request *req,
                const char *query);
void admin_show(struct edge_admin *a, struct evhttp_request *req,
                const char *id);
void admin_kick(struct edge_admin *a, struct evhttp_request *req,
                const char *id);
void admin_probe_all(struct edge_admin *a);

/* admin/cluster.c: the cluster scope, read from Redis without blocking
 * (503 "redis unavailable" when it cannot be read in time). scope: the
 * ?scope= of query, "node" (default) or "cluster"; 0 or EINVAL. */
int admin_scope(const char *query, bool *cluster);
/* GET /api/nodes: the registry, or this node alone without redis. */
void admin_nodes(struct edge_admin *a, struct evhttp_request *req);
/* ?scope=cluster of /api/allocations and /api/stats (redis only). */
void admin_cluster_list(struct edge_admin *a, struct evhttp_request *req,
                        const char *query);
void admin_cluster_stats(struct edge_admin *a, struct evhttp_request *req);

/* admin/history.c: GET /api/history, a sample of the node totals every
 * 10 s for the last hour. start (once the workers are known): 0 or
 * ENOMEM; free accepts a server without history. */
int admin_history_start(struct edge_admin *a);
void admin_history_free(struct edge_admin *a);
void admin_history(struct edge_admin *a, struct evhttp_request *req,
                   const char *query);

/* admin/creds.c: /api/users and /api/secrets; true if path was one of
 * them (and answered). */
enum {
	ADMIN_CRED_USER_ADD,
	ADMIN_CRED_USER_DEL,
	ADMIN_CRED_SECRET_ADD,
	ADMIN_CRED_SECRET_DEL,
	ADMIN_CRED_KINDS
};
bool admin_creds_route(struct edge_admin *a, struct evhttp_request *req,
                       const char *path);
const char *admin_cred_kind_name(unsigned kind);

/* admin/www.c: the embedded dashboard; true if path was one of its files
 * (and answered), false to route it elsewhere. No token needed. */
bool admin_www(struct evhttp_request *req, const char *path);

#endif
