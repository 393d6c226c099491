/*
 * edge/main.c - the avedge daemon, as steps: read the configuration
 * snapshot (exit non-zero on any error before binding anything), work out
 * where to listen and lock it, build what the workers share from the
 * snapshot, make and start the workers, Redis and the admin server, then
 * handle signals on the main thread until SIGINT/SIGTERM. A reload builds
 * the next snapshot and swaps it in (reload.c).
 */
#include "auth/auth.h"
#include "edge/admin/admin.h"
#include "edge/base/edge.h"
#include "edge/base/log.h"
#include "edge/config/config.h"
#include "edge/config/creds.h"
#include "edge/daemon.h"
#include "edge/listen.h"
#include "edge/net/sock.h"
#include "edge/net/worker.h"
#include "edge/redis/redis.h"
#include "edge/setup.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int start_redis(struct edge_daemon *d, char *why, size_t why_len)
{
	char id[EDGE_NODE_ID_MAX + 1];

	edge_node_id(&d->cfg, id, sizeof(id));
	return edge_redis_new(
	        &d->redis,
	        &(struct edge_redis_opts){
	                .cfg = &d->cfg,
	                .core = &d->shared.core,
	                .realms = &d->shared.realms,
	                .nonces = d->shared.nonces,
	                .draining = &d->shared.draining,
	                .node_id = id,
	                .creds_changed = edge_reload_redis_creds,
	                .peer_ips_changed = edge_reload_redis_peers,
	                .nonce_keys_changed = edge_rotate_redis_keys,
	                .creds_arg = d},
	        why, why_len);
}

static int start_admin(struct edge_daemon *d, char *why, size_t why_len)
{
	return edge_admin_new(
	        &d->admin,
	        &(struct edge_admin_opts){.cfg = &d->cfg,
	                                  .node = d->shared.node,
	                                  .bw_names = d->shared.bw_names,
	                                  .bw_pool = d->shared.bw_pool,
	                                  .draining = &d->shared.draining,
	                                  .redis = d->redis,
	                                  .creds = d->creds,
	                                  .creds_apply = edge_reload_api_creds,
	                                  .creds_arg = d,
	                                  .realms = &d->shared.realms},
	        why, why_len);
}

static void log_worker_error(unsigned i, int err, const struct sockaddr *sa)
{
	char where[EDGE_ADDRSTR_LEN];

	if (sa)
		edge_err("cannot listen on %s: %s",
		         edge_addr_str(sa, where, sizeof(where)),
		         strerror(err));
	else
		edge_err("cannot start worker %u: %s%s", i, strerror(err),
		         err == EINVAL ? " (is the relay port range too small "
		                         "for the threads?)"
		                       : "");
}

/* Bind every worker's sockets (on this thread, so a failure is reported
 * before anything runs), then start them. */
static int start_workers(struct edge_daemon *d)
{
	struct edge_worker_opts opts;
	unsigned n = edge_worker_count(&d->cfg, EDGE_MAX_WORKERS);
	int err;

	edge_worker_opts_build(&d->cfg, &d->listen, &d->shared, d->workers, n,
	                       &opts);
	for (unsigned i = 0; i < n; i++) {
		const struct sockaddr *failed = NULL;
		err = edge_worker_new(&d->workers[i], (int)i, &opts, &failed);
		if (err) {
			log_worker_error(i, err, failed);
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
	return 0;
}

/* From the snapshot d->cfg to a running node. */
static int start(struct edge_daemon *d)
{
	char why[512] = "";
	int err;

	if ((err = edge_listen_plan(&d->cfg, &d->listen)) != 0 ||
	    (err = edge_listen_lock(&d->cfg, &d->listen, d->lock_fds,
	                            &d->nlocks)) != 0)
		return err;
	if ((err = edge_setup_shared(&d->cfg, d->listen.own, d->listen.nown,
	                             &d->shared, why, sizeof(why))) != 0) {
		edge_err("%s", why);
		return err;
	}
	/* the admin API's own credentials go into every store built */
	if ((err = edge_creds_merge(d->creds, &d->cfg, d->shared.store)) != 0)
		return err;
	if ((d->cfg.redis.url && (err = start_redis(d, why, sizeof(why)))) ||
	    (d->cfg.admin_listen.text &&
	     (err = start_admin(d, why, sizeof(why))))) {
		edge_err("%s", why);
		return err;
	}
	if ((err = start_workers(d)) != 0 ||
	    (d->redis && (err = edge_redis_start(d->redis, d->workers,
	                                         d->nworkers)) != 0) ||
	    (d->admin && (err = edge_admin_start(d->admin, d->workers,
	                                         d->nworkers)) != 0) ||
	    (err = edge_rotate_start(d)) != 0)
		return err;
	edge_listen_log(&d->cfg, &d->listen);
	edge_info("%zu worker threads", d->nworkers);
	return 0;
}

/* Everything start() made, in the order that keeps each user before what
 * it uses. */
static void stop(struct edge_daemon *d)
{
	edge_admin_stop(d->admin); /* before the workers it asks */
	edge_redis_stop(d->redis); /* before the workers it posts to */
	for (size_t i = 0; i < d->nworkers; i++)
		edge_worker_free(d->workers[i]);
	edge_admin_free(d->admin);
	edge_redis_free(d->redis);
	for (size_t i = 0; i < d->nlocks; i++)
		close(d->lock_fds[i]);
	edge_reload_free(d); /* workers are gone */
	edge_rotate_free(d);
	edge_shared_free(&d->shared);
	edge_creds_free(d->creds);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct edge_daemon *d = arg;

	(void)what;
	edge_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(d->base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	int err = edge_log_reopen();

	(void)sig;
	(void)what;
	if (err)
		edge_err("SIGHUP: cannot reopen the log file: %s",
		         strerror(err));
	else
		edge_info("SIGHUP: log file reopened");
	edge_reload(arg);
}

/* SIGUSR1 starts draining, SIGUSR2 stops it; never exits by itself. */
static void on_drain(evutil_socket_t sig, short what, void *arg)
{
	struct edge_daemon *d = arg;

	(void)what;
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

static int run(struct edge_daemon *d)
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
	edge_reload_init(d);
	edge_rotate_init(d);
	err = edge_creds_new(&d->creds);
	if (!err)
		err = start(d);
	if (!err) {
		edge_info("avedge %s ready", edge_version());
		event_base_dispatch(d->base);
	}
	stop(d);
	for (int i = 0; i < 5; i++)
		event_free(sigs[i]);
	event_base_free(d->base);
	return err;
}

int main(int argc, char **argv)
{
	static struct edge_daemon d;
	struct edge_config_err cerr;
	int err;

	d.argc = argc;
	d.argv = argv;
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
