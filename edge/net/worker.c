/*
 * edge/net/worker.c - a worker's life cycle and public API (worker.h):
 * it creates the core, the I/O engine's owner, the UDP (udp.c), TCP and
 * TLS (tcp.c) and DTLS (dtls.c) listeners, wires the action runner to
 * them (net_ops), starts the thread (loop.c) and frees it all. A periodic
 * tick drives the core's timers. Reloaded shared state (store, policy,
 * TLS contexts) is handed over on the worker's thread.
 */
#include "edge/base/log.h"
#include "edge/config/realms.h"
#include "edge/net/dtls.h"
#include "edge/net/sock.h"
#include "edge/net/worker_int.h"

#include <errno.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS 50 /* timer resolution for lifetimes */

static void tick_call(struct edge_worker *w, const struct edge_core_ctx *c,
                      void *arg)
{
	(void)w;
	(void)arg;
	turn_server_tick(c->core, c->now_ms, c->out);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct edge_worker *w = arg;

	(void)fd;
	(void)what;
	edge_worker_core_call(w, tick_call, NULL);
	edge_io_flush(&w->io);
}

/* A TCP listener, or with tls a TLS one (edge_tls_accept). */
static int open_tcp(struct edge_worker *w, const struct sockaddr *sa, bool tls,
                    const struct edge_worker_opts *opts)
{
	int fd = edge_tcp_listen(sa, 1024);

	if (fd < 0)
		return -fd;
	struct evconnlistener *l = evconnlistener_new(
	        w->base, tls ? edge_tls_accept : edge_tcp_accept, w,
	        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (!l) {
		close(fd);
		return ENOMEM;
	}
	evconnlistener_set_error_cb(l, edge_tcp_accept_error);
	uint8_t realm = edge_realm_of_listener(opts->realms, sa);
	if (tls) {
		w->tls_realm[w->ntls] = realm;
		w->tls[w->ntls++] = l;
	} else {
		w->tcp_realm[w->ntcp] = realm;
		w->tcp[w->ntcp++] = l;
	}
	return 0;
}

static int open_core(struct edge_worker *w, int index,
                     const struct edge_worker_opts *opts)
{
	struct turn_server_cfg cfg = opts->core;
	struct timeval tick = {.tv_sec = 0, .tv_usec = TICK_MS * 1000};

	cfg.worker_index = (unsigned)index;
	/* Each worker's hashes and port choices get their own seed. */
	cfg.seed[0] ^= (uint8_t)index;
	cfg.seed[1] ^= (uint8_t)(index >> 8);
	edge_io_stamp(&w->io);
	int err = turn_server_new(&w->core, &cfg, opts->store, opts->nonces,
	                          opts->policy, opts->quota, w->io.now_ms);
	if (err)
		return err;
	turn_server_set_bw(w->core, opts->bw);
	w->tick = event_new(w->base, -1, EV_PERSIST, on_tick, w);
	if (!w->tick || event_add(w->tick, &tick) < 0)
		return ENOMEM;
	err = edge_media_start(w);
	return err ? err : edge_tcp_init(w);
}

/* run.c reaches the sockets above it through this (worker_int.h). */
static const struct edge_net_ops net_ops = {
        .send_stream = edge_tcp_send_tuple,
        .send_dtls = edge_dtls_send,
        .relay_open = edge_relay_open,
        .relay_close = edge_relay_free,
        .tcp_relay = edge_tcp_relay_action,
};

int edge_worker_new(struct edge_worker **out, int index,
                    const struct edge_worker_opts *opts,
                    const struct sockaddr **failed)
{
	struct edge_worker *w = calloc(1, sizeof(*w));
	int err = 0;

	*out = NULL;
	*failed = NULL;
	if (!w)
		return ENOMEM;
	w->index = index;
	w->ops = &net_ops;
	w->io.stats = &w->stats;
	w->io.scratch = w->out.scratch;
	w->workers = opts->workers;
	w->idle_timeout_s = opts->idle_timeout_s;
	w->relay_buf = opts->relay_buf;
	w->handshake_timeout_s = opts->handshake_timeout_s;
	w->tls_ctx = opts->tls_ctx;
	w->connlimit = opts->connlimit;
	w->realms = opts->realms;
	w->base = event_base_new();
	if (!w->base) {
		free(w);
		return ENOMEM;
	}
	err = open_core(w, index, opts);
	for (size_t i = 0; i < opts->nudp && !err; i++) {
		err = edge_udp_open(w, (const void *)&opts->udp[i], opts);
		if (err)
			*failed = (const void *)&opts->udp[i];
	}
	for (size_t i = 0; i < opts->ntcp && !err; i++) {
		err = open_tcp(w, (const void *)&opts->tcp[i], false, opts);
		if (err)
			*failed = (const void *)&opts->tcp[i];
	}
	for (size_t i = 0; i < opts->ntls && opts->tls_ctx && !err; i++) {
		err = open_tcp(w, (const void *)&opts->tls[i], true, opts);
		if (err)
			*failed = (const void *)&opts->tls[i];
	}
	if (!err && opts->dtls_ctx && opts->ndtls > 0)
		err = edge_dtls_new(w, opts, failed);
	if (err) {
		edge_worker_free(w);
		return err;
	}
	*out = w;
	return 0;
}

int edge_worker_start(struct edge_worker *w)
{
	int err = pthread_create(&w->thread, NULL, edge_worker_loop, w);

	if (err == 0)
		w->started = true;
	return err;
}

void edge_worker_stop(struct edge_worker *w)
{
	if (!w || !w->started)
		return;
	atomic_store(&w->stop, 1);
	event_base_loopexit(w->base, NULL); /* wakes the loop */
	pthread_join(w->thread, NULL);
	w->started = false;
}

void edge_worker_free(struct edge_worker *w)
{
	if (!w)
		return;
	edge_worker_stop(w);
	if (w->hooks.free) /* before the base it runs on */
		w->hooks.free(w->hooks.ctx);
	edge_udp_close_all(w);
	for (size_t i = 0; i < w->ntcp; i++)
		evconnlistener_free(w->tcp[i]);
	for (size_t i = 0; i < w->ntls; i++)
		evconnlistener_free(w->tls[i]);
	if (w->conn_buckets)
		edge_tcp_close_all(w);
	edge_dtls_free(w);
	edge_relay_close_all(w);
	edge_tcp_relay_free(w);
	turn_server_free(w->core);
	if (w->tick)
		event_free(w->tick);
	edge_media_free(w);
	edge_nofd_free(w);
	event_base_free(w->base);
	free(w);
}

const struct edge_stats *edge_worker_stats(const struct edge_worker *w)
{
	return &w->stats;
}

struct turn_server *edge_worker_core(struct edge_worker *w)
{
	return w->core;
}

const struct turn_stats *edge_worker_turn_stats(const struct edge_worker *w)
{
	return turn_server_stats(w->core);
}

int edge_worker_index(const struct edge_worker *w)
{
	return w->index;
}

struct event_base *edge_worker_base(struct edge_worker *w)
{
	return w->base;
}

uint64_t edge_worker_now_s(const struct edge_worker *w)
{
	return w->io.now_s;
}

void edge_worker_set_hooks(struct edge_worker *w,
                           const struct edge_worker_hooks *h)
{
	w->hooks = *h;
}

/* A reloaded piece of shared state handed to the worker's thread: the
 * credential store, the TLS or the DTLS context, the peer policy, the
 * nonce keys. done() runs there once the worker no longer uses the old
 * one. */
struct swap_msg {
	const struct auth_store *store;   /* or */
	struct ssl_ctx_st *tls;           /* or */
	struct ssl_ctx_st *dtls;          /* or */
	const struct turn_policy *policy; /* or */
	const struct auth_nonces *nonces;
	const struct turn_bw_table *bw; /* or */
	void (*done)(void *arg);
	void *arg;
};

/* A new policy sweeps what it now denies: actions (TCP_CLOSE, LOG). */
static void policy_call(struct edge_worker *w, const struct edge_core_ctx *c,
                        void *arg)
{
	struct swap_msg *m = arg;

	(void)w;
	turn_server_set_policy(c->core, m->policy, c->now_ms, c->out);
}

static void apply_swap(struct edge_worker *w, void *arg)
{
	struct swap_msg *m = arg;

	if (m->store)
		turn_server_set_store(w->core, m->store);
	if (m->tls)
		w->tls_ctx = m->tls; /* live connections keep their SSL */
	if (m->dtls)
		edge_dtls_set_ctx(w, m->dtls);
	if (m->policy) {
		edge_worker_core_call(w, policy_call, m);
		edge_io_flush(&w->io);
	}
	if (m->nonces)
		turn_server_set_nonces(w->core, m->nonces);
	if (m->bw)
		turn_server_set_bw(w->core, m->bw);
	m->done(m->arg);
	free(m);
}

static void post_swap(struct edge_worker *w, struct swap_msg msg)
{
	struct swap_msg *m = malloc(sizeof(*m));

	if (!m)
		return;
	*m = msg;
	if (edge_worker_post(w, apply_swap, m) != 0)
		free(m);
}

void edge_worker_set_store(struct edge_worker *w, const struct auth_store *st,
                           void (*done)(void *arg), void *arg)
{
	post_swap(w, (struct swap_msg){.store = st, .done = done, .arg = arg});
}

void edge_worker_set_tls(struct edge_worker *w, struct ssl_ctx_st *ctx,
                         void (*done)(void *arg), void *arg)
{
	post_swap(w, (struct swap_msg){.tls = ctx, .done = done, .arg = arg});
}

void edge_worker_set_dtls(struct edge_worker *w, struct ssl_ctx_st *ctx,
                          void (*done)(void *arg), void *arg)
{
	post_swap(w, (struct swap_msg){.dtls = ctx, .done = done, .arg = arg});
}

void edge_worker_set_policy(struct edge_worker *w,
                            const struct turn_policy *policy,
                            void (*done)(void *arg), void *arg)
{
	post_swap(w, (struct swap_msg){
	                     .policy = policy, .done = done, .arg = arg});
}

void edge_worker_set_nonces(struct edge_worker *w,
                            const struct auth_nonces *nonces,
                            void (*done)(void *arg), void *arg)
{
	post_swap(w, (struct swap_msg){
	                     .nonces = nonces, .done = done, .arg = arg});
}

void edge_worker_set_bw(struct edge_worker *w, const struct turn_bw_table *t,
                        void (*done)(void *arg), void *arg)
{
	post_swap(w, (struct swap_msg){.bw = t, .done = done, .arg = arg});
}

static void peers_call(struct edge_worker *w, const struct edge_core_ctx *c,
                       void *arg)
{
	(void)w;
	turn_server_set_cluster_peers(c->core, arg, c->now_ms, c->out);
}

static void apply_peers(struct edge_worker *w, void *arg)
{
	edge_worker_core_call(w, peers_call, arg);
	edge_io_flush(&w->io);
}

int edge_worker_set_cluster_peers(struct edge_worker *w,
                                  struct turn_policy *set)
{
	return edge_worker_post(w, apply_peers, set);
}

struct limits_msg {
	uint64_t max_bps;
	uint32_t max_allocations;
};

static void apply_limits(struct edge_worker *w, void *arg)
{
	struct limits_msg *m = arg;

	turn_server_set_limits(w->core, m->max_bps, m->max_allocations);
	free(m);
}

int edge_worker_set_limits(struct edge_worker *w, uint64_t max_bps,
                           uint32_t max_allocations)
{
	struct limits_msg *m = malloc(sizeof(*m));
	int err;

	if (!m)
		return ENOMEM;
	*m = (struct limits_msg){max_bps, max_allocations};
	if ((err = edge_worker_post(w, apply_limits, m)) != 0)
		free(m);
	return err;
}
