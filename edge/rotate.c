/*
 * edge/rotate.c - the nonce keys change while the node runs
 * (nonce-key-rotation, docs/cluster.md "The nonce key"): the workers
 * share one read-only struct auth_nonces, so a change builds a new one
 * (auth_nonces_dup, then the new keys) and swaps it in like a reloaded
 * store (swap.h). Without redis the node rotates its own key every
 * period on the main thread; with redis the cluster's key is rotated in
 * Redis (redis/nonce.c) and Redis's control thread reports every change,
 * which only queues work for main. Either way the replaced key stays good
 * for one more period.
 */
#include "auth/auth.h"
#include "edge/base/clock.h"
#include "edge/base/log.h"
#include "edge/daemon.h"
#include "edge/net/worker.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <string.h>

static void free_nonces(void *p)
{
	auth_nonces_free(p);
}

void edge_rotate_init(struct edge_daemon *d)
{
	d->nonce_swap = (struct edge_swap){.free_old = free_nonces};
	pthread_mutex_init(&d->nonce_mu, NULL);
}

/* Main thread, no swap in flight: n replaces the workers' nonces. */
static void swap_nonces(struct edge_daemon *d, struct auth_nonces *n)
{
	edge_swap_begin(&d->nonce_swap, d->shared.nonces, d->nworkers);
	d->shared.nonces = n;
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_set_nonces(d->workers[i], n, edge_swap_done,
		                       &d->nonce_swap);
}

/* Standalone: a new random key with the next id; the current one stays
 * good for one period. A swap still in flight (never, at 2 s or more)
 * waits for the next period. */
static void on_rotate(evutil_socket_t fd, short what, void *arg)
{
	struct edge_daemon *d = arg;
	struct auth_nonce_key key;
	struct auth_nonces *n;
	uint64_t now_s = edge_wall_ms() / 1000;

	(void)fd;
	(void)what;
	if (edge_swap_busy(&d->nonce_swap))
		return;
	key.id = auth_nonce_next_id(auth_nonces_current_id(d->shared.nonces));
	if (RAND_bytes(key.bytes, sizeof(key.bytes)) != 1 ||
	    auth_nonces_dup(&n, d->shared.nonces) != 0) {
		edge_err("nonce key not rotated: no memory or randomness");
		return;
	}
	auth_nonces_rotate(n, &key);
	auth_nonces_set_prev_until(n, now_s + d->cfg.nonce_key_rotation_s);
	swap_nonces(d, n);
	edge_info("nonce key rotated (id %u)", (unsigned)key.id);
}

int edge_rotate_start(struct edge_daemon *d)
{
	struct timeval tv = {d->cfg.nonce_key_rotation_s, 0};

	if (d->redis)
		return 0; /* the cluster's key: edge_rotate_redis_keys() */
	d->nonce_timer = event_new(d->base, -1, EV_PERSIST, on_rotate, d);
	if (!d->nonce_timer || event_add(d->nonce_timer, &tv) < 0)
		return ENOMEM;
	return 0;
}

/* Main thread: install the cluster's keys last reported. */
static void on_redis_keys(evutil_socket_t fd, short what, void *arg)
{
	struct edge_daemon *d = arg;
	struct timeval later = {0, 100 * 1000};
	struct edge_nonce_keys k;
	struct auth_nonces *n;

	(void)fd;
	(void)what;
	if (edge_swap_busy(&d->nonce_swap)) {
		event_base_once(d->base, -1, EV_TIMEOUT, on_redis_keys, d,
		                &later);
		return;
	}
	atomic_store(&d->nonce_queued, 0);
	pthread_mutex_lock(&d->nonce_mu);
	k = d->nonce_next;
	pthread_mutex_unlock(&d->nonce_mu);
	if (auth_nonces_dup(&n, d->shared.nonces) != 0 ||
	    auth_nonces_set_keys(n, &k.cur, k.has_prev ? &k.prev : NULL) != 0) {
		auth_nonces_free(n);
		edge_err("redis: nonce key id %u not installed",
		         (unsigned)k.cur.id);
		return;
	}
	if (k.has_prev)
		auth_nonces_set_prev_until(n, k.prev_until_s);
	swap_nonces(d, n);
	explicit_bzero(&k, sizeof(k));
}

void edge_rotate_redis_keys(void *arg, const struct edge_nonce_keys *k)
{
	struct edge_daemon *d = arg;
	struct timeval now = {0, 0};

	pthread_mutex_lock(&d->nonce_mu);
	d->nonce_next = *k;
	pthread_mutex_unlock(&d->nonce_mu);
	if (!atomic_exchange(&d->nonce_queued, 1))
		event_base_once(d->base, -1, EV_TIMEOUT, on_redis_keys, d,
		                &now);
}

void edge_rotate_free(struct edge_daemon *d)
{
	if (d->nonce_timer)
		event_free(d->nonce_timer);
	d->nonce_timer = NULL;
	edge_swap_finish(&d->nonce_swap);
	explicit_bzero(&d->nonce_next, sizeof(d->nonce_next));
}
