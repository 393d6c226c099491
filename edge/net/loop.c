/*
 * edge/net/loop.c - a worker's thread: its event loop, turn by turn, and
 * the work other threads post to it.
 */
#include "edge/net/worker_int.h"

#include <errno.h>
#include <stdlib.h>

/* One loop turn handles every ready socket, then the sends they queued
 * go out together: datagrams for clients leave in one sendmmsg per
 * listening socket, however many relay sockets they came from; the next
 * turn stamps the clock anew (io.h). */
void *edge_worker_loop(void *arg)
{
	struct edge_worker *w = arg;

	while (!atomic_load(&w->stop)) {
		if (event_base_loop(w->base, EVLOOP_ONCE) < 0)
			break;
		edge_io_turn_end(&w->io);
	}
	return NULL;
}

/* Work handed to the worker's thread (edge_worker_post). */
struct post_msg {
	struct edge_worker *w;
	edge_worker_post_fn *fn;
	void *arg;
};

static void run_post(evutil_socket_t fd, short what, void *arg)
{
	struct post_msg *m = arg;

	(void)fd;
	(void)what;
	m->fn(m->w, m->arg);
	free(m);
}

int edge_worker_post(struct edge_worker *w, edge_worker_post_fn *fn, void *arg)
{
	struct post_msg *m = malloc(sizeof(*m));
	struct timeval now = {0, 0};

	if (!m)
		return ENOMEM;
	*m = (struct post_msg){w, fn, arg};
	if (event_base_once(w->base, -1, EV_TIMEOUT, run_post, m, &now) < 0) {
		free(m);
		return ENOMEM;
	}
	return 0;
}
