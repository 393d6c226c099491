/*
 * edge/net/nofd.c - running out of file descriptors (DESIGN: "on EMFILE
 * pause the listeners briefly and answer Allocates with 508; never
 * crash"). A socket() or accept() that fails with EMFILE or ENFILE (or
 * ENOBUFS, ENOMEM: no socket memory) is counted in struct edge_stats and
 * logged at most once a second per worker, with how many went unlogged.
 * A relay socket that cannot be opened becomes 508 in the core
 * (turn/open.c). A failed accept() leaves the connection in the backlog,
 * so the listening socket stays readable and libevent would call us again
 * at once, forever: the worker's TCP and TLS listeners are disabled for
 * NOFD_PAUSE_MS and then enabled again by a timer; while descriptors stay
 * short this repeats, one failed accept() per pause. Owned by the worker,
 * on its thread.
 */
#include "edge/base/log.h"
#include "edge/net/worker_int.h"

#include <errno.h>
#include <event2/listener.h>
#include <string.h>

#define NOFD_PAUSE_MS 250
#define NOFD_LOG_MS   1000

bool edge_nofd(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	       err == ENOMEM;
}

/* Count it; log it unless a line went out less than NOFD_LOG_MS ago. */
static void note(struct edge_worker *w, int err, const char *what)
{
	edge_io_clock(&w->io);
	if (w->nofd_logged_ms &&
	    w->io.now_ms < w->nofd_logged_ms + NOFD_LOG_MS) {
		w->nofd_unlogged++;
		return;
	}
	edge_warn("worker %d: %s failed: %s (%llu more since the last such "
	          "line); new allocations get 508, listeners pause %d ms",
	          w->index, what, strerror(err),
	          (unsigned long long)w->nofd_unlogged, NOFD_PAUSE_MS);
	w->nofd_logged_ms = w->io.now_ms;
	w->nofd_unlogged = 0;
}

void edge_nofd_socket(struct edge_worker *w, int err)
{
	EDGE_COUNT(&w->stats, nofd_socket, 1);
	note(w, err, "opening a relay socket");
}

static void set_listeners(struct edge_worker *w, bool on)
{
	int (*set)(struct evconnlistener *) =
	        on ? evconnlistener_enable : evconnlistener_disable;

	for (size_t i = 0; i < w->ntcp; i++)
		set(w->tcp[i]);
	for (size_t i = 0; i < w->ntls; i++)
		set(w->tls[i]);
}

static void resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	set_listeners(arg, true);
}

void edge_nofd_accept(struct edge_worker *w, int err)
{
	struct timeval t = {.tv_usec = NOFD_PAUSE_MS * 1000};

	EDGE_COUNT(&w->stats, nofd_accept, 1);
	note(w, err, "accept()");
	if (!w->nofd_resume) {
		w->nofd_resume = evtimer_new(w->base, resume, w);
		if (!w->nofd_resume)
			return; /* no memory: libevent retries, we count */
	}
	set_listeners(w, false);
	evtimer_add(w->nofd_resume, &t);
}

void edge_nofd_free(struct edge_worker *w)
{
	if (w->nofd_resume)
		event_free(w->nofd_resume);
	w->nofd_resume = NULL;
}
