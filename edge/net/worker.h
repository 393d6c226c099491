/*
 * edge/net/worker.h - one worker thread: an event base, its own UDP socket per
 * listening address (SO_REUSEPORT), its own TCP, TLS and DTLS listeners, its
 * own TURN server core with the allocations and relay sockets it owns, and the
 * counters of what it did. Nothing on its packet path takes a lock.
 *
 * Floor edge/net (docs/layout.md): workers and everything on their threads
 * (loop, I/O engine, sockets, the action runner). Uses edge/config,
 * edge/base and the core; the floors above (redis, admin, the daemon)
 * reach a worker only through this header.
 */
#ifndef AVEDGE_EDGE_WORKER_H
#define AVEDGE_EDGE_WORKER_H

#include "edge/net/types.h"
#include "turn/turn.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct edge_worker;

/* Create a worker's sockets and core (in the calling thread, so a bind
 * failure is reported before anything runs). 0 or errno; *failed names
 * the address that failed (NULL for other errors). */
int edge_worker_new(struct edge_worker **out, int index,
                    const struct edge_worker_opts *opts,
                    const struct sockaddr **failed);
/* Start the worker's thread. 0 or errno. */
int edge_worker_start(struct edge_worker *w);
/* Ask the loop to stop and join the thread. Thread-safe. */
void edge_worker_stop(struct edge_worker *w);
/* Free a stopped (or never started) worker; NULL is fine. */
void edge_worker_free(struct edge_worker *w);
const struct edge_stats *edge_worker_stats(const struct edge_worker *w);
/* Run fn(w, arg) on the worker's thread, soon (a per-worker queue: an
 * admin request, work that arrived on another worker). From any thread.
 * 0, or ENOMEM (fn will not run; arg is still the caller's). */
typedef void edge_worker_post_fn(struct edge_worker *w, void *arg);
int edge_worker_post(struct edge_worker *w, edge_worker_post_fn *fn, void *arg);

/* --- the worker's thread -------------------------------------------
 * What another floor (edge/redis, edge/admin) may do with a worker: post a
 * function to its thread, and from there read its core or run one core
 * entry point. Nothing outside edge/net sees the inside of a worker. */

/* On the worker's thread (a posted function, a timer or socket of its
 * base): stamp the clock, reset the action list, fn(w, c, arg), then run
 * the actions fn appended. The one place where code outside the packet
 * path drives the core. */
void edge_worker_core_call(struct edge_worker *w, edge_core_fn *fn, void *arg);

/* On the worker's thread: its core (to read or list; a call that appends
 * actions goes through edge_worker_core_call). */
struct turn_server *edge_worker_core(struct edge_worker *w);
/* From any thread: the core's counters (relaxed loads). */
const struct turn_stats *edge_worker_turn_stats(const struct edge_worker *w);
int edge_worker_index(const struct edge_worker *w);
/* The worker's event base: for timers and connections of a floor above
 * that run on the worker's thread. */
struct event_base *edge_worker_base(struct edge_worker *w);
/* The clock of the current loop turn, on the worker's thread. */
uint64_t edge_worker_now_s(const struct edge_worker *w);

/* From any thread: a copy of the worker's media quality summary
 * (turn/media.h), taken on its thread every second; all zero before the
 * first. 0, or EAGAIN (out zeroed: not started, or the worker was
 * writing it every time we looked). */
struct turn_media_summary;
int edge_worker_media(const struct edge_worker *w,
                      struct turn_media_summary *out);

/* Install hooks (copied) before edge_worker_start. */
void edge_worker_set_hooks(struct edge_worker *w,
                           const struct edge_worker_hooks *h);

/* Hand a new credential store to the worker (from any thread); done() is
 * called on the worker's thread once it no longer uses the old one. */
void edge_worker_set_store(struct edge_worker *w, const struct auth_store *st,
                           void (*done)(void *arg), void *arg);

/* Hand a new peer policy to the worker (SIGHUP, Redis peer lists);
 * done() as above. On its thread the core sweeps its permissions,
 * channels and RFC 6062 connections against it (turn_server_set_policy)
 * and the actions that asks for run at once. */
void edge_worker_set_policy(struct edge_worker *w,
                            const struct turn_policy *policy,
                            void (*done)(void *arg), void *arg);

/* Hand new nonce keys to the worker (nonce-key-rotation); done() as
 * above. */
struct auth_nonces;
void edge_worker_set_nonces(struct edge_worker *w,
                            const struct auth_nonces *nonces,
                            void (*done)(void *arg), void *arg);

/* Hand a new table of bandwidth classes (SIGHUP) to the worker: its
 * next Allocates take their class from it (turn_server_set_bw); done()
 * as above. */
struct turn_bw_table;
void edge_worker_set_bw(struct edge_worker *w, const struct turn_bw_table *t,
                        void (*done)(void *arg), void *arg);

/* Hand the other nodes' listeners (a set of protected endpoints, owned
 * by the worker's core once this returns 0) to the worker: on its
 * thread, turn_server_set_cluster_peers and the actions of its sweep.
 * 0, or ENOMEM (set is still the caller's). From any thread. */
int edge_worker_set_cluster_peers(struct edge_worker *w,
                                  struct turn_policy *set);

/* New max-bps and max-allocations (SIGHUP) for the worker's core, on its
 * thread (turn_server_set_limits). 0 or ENOMEM. From any thread. */
int edge_worker_set_limits(struct edge_worker *w, uint64_t max_bps,
                           uint32_t max_allocations);

/* Hand a new TLS context (certificate reload) to the worker: new
 * connections use it, live ones keep theirs. done() as above. */
void edge_worker_set_tls(struct edge_worker *w, struct ssl_ctx_st *ctx,
                         void (*done)(void *arg), void *arg);
/* The same for the DTLS context. */
void edge_worker_set_dtls(struct edge_worker *w, struct ssl_ctx_st *ctx,
                          void (*done)(void *arg), void *arg);

#endif
