/*
 * edge/net/media.c - the worker's media quality summary
 * (turn_server_media_summary, turn/media.h): taken every MEDIA_PERIOD_MS
 * by a timer on the worker's thread (never on the packet path), and
 * published in a seqlock so that the admin and Redis threads copy it
 * without a lock and without waiting for the worker. The worker writes
 * the published copy once a second, so a reader practically never retries.
 */
#include "turn/media.h"
#include "edge/net/worker_int.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define MEDIA_PERIOD_MS  1000
#define MEDIA_READ_TRIES 64

struct edge_media {
	struct event *timer;
	struct turn_media_summary next; /* worker thread only */
	_Atomic uint32_t seq;           /* odd while pub is written */
	struct turn_media_summary pub;
};

static void summary_call(struct edge_worker *w, const struct edge_core_ctx *c,
                         void *arg)
{
	struct edge_media *m = arg;
	uint32_t seq;

	(void)w;
	if (turn_server_media_summary(c->core, c->now_ms, &m->next) != 0)
		return;
	seq = atomic_load_explicit(&m->seq, memory_order_relaxed);
	atomic_store_explicit(&m->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	memcpy(&m->pub, &m->next, sizeof(m->pub));
	atomic_store_explicit(&m->seq, seq + 2, memory_order_release);
}

static void on_media_timer(evutil_socket_t fd, short what, void *arg)
{
	struct edge_worker *w = arg;

	(void)fd;
	(void)what;
	edge_worker_core_call(w, summary_call, w->media);
}

int edge_media_start(struct edge_worker *w)
{
	struct timeval tv = {.tv_sec = MEDIA_PERIOD_MS / 1000,
	                     .tv_usec = (MEDIA_PERIOD_MS % 1000) * 1000};

	w->media = calloc(1, sizeof(*w->media));
	if (!w->media)
		return ENOMEM;
	w->media->timer = event_new(w->base, -1, EV_PERSIST, on_media_timer, w);
	if (!w->media->timer || event_add(w->media->timer, &tv) < 0)
		return ENOMEM;
	return 0;
}

void edge_media_free(struct edge_worker *w)
{
	if (!w->media)
		return;
	if (w->media->timer)
		event_free(w->media->timer);
	free(w->media);
	w->media = NULL;
}

int edge_worker_media(const struct edge_worker *w,
                      struct turn_media_summary *out)
{
	const struct edge_media *m = w->media;

	memset(out, 0, sizeof(*out));
	if (!m)
		return EAGAIN;
	for (int i = 0; i < MEDIA_READ_TRIES; i++) {
		uint32_t s1 =
		        atomic_load_explicit(&m->seq, memory_order_acquire);
		if (s1 & 1) {
			sched_yield();
			continue;
		}
		memcpy(out, &m->pub, sizeof(*out));
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&m->seq, memory_order_relaxed) == s1)
			return 0;
	}
	memset(out, 0, sizeof(*out));
	return EAGAIN;
}
