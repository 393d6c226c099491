/*
 * edge/admin/history.c - GET /api/history: the last hour of node totals,
 * one sample every 10 s, for the dashboard's charts. A timer on the admin
 * thread's event base sums the workers' counters (admin_sum_turn: relaxed
 * loads, nothing on the packet path) and turns the difference from the
 * previous tick into rates over the measured interval (monotonic clock);
 * samples go into a ring of 360. Everything here runs on the admin thread.
 *
 * Directions: "in" is what clients send towards peers (to_peer), "out"
 * what peers send back to clients (to_client); application payload only.
 */
#include "edge/admin/admin_int.h"
#include "edge/base/clock.h"

#include <errno.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#define HISTORY_PERIOD_S 10
#define HISTORY_SAMPLES  360 /* one hour */

struct history_sample {
	uint64_t t_s; /* wall clock at the end of the interval */
	uint64_t allocations;
	uint64_t bps_in, bps_out; /* bits per second over the interval */
	uint64_t pps_in, pps_out; /* packets per second */
	uint64_t auth_failures;   /* during the interval */
};

/* The counters a sample is the difference of. */
struct history_mark {
	uint64_t at_ns;
	uint64_t bytes_in, bytes_out, pkts_in, pkts_out, auth_failures;
};

struct admin_history {
	struct edge_admin *a;
	struct event *timer;
	struct turn_stats scratch; /* ~3 kB: not on the stack */
	struct history_mark last;
	struct history_sample ring[HISTORY_SAMPLES];
	size_t head, count; /* head: next slot to write */
};

static void mark(struct admin_history *h, struct history_mark *m)
{
	const struct turn_stats *t = &h->scratch;

	admin_sum_turn(h->a, &h->scratch);
	m->at_ns = edge_mono_ns();
	m->bytes_in = t->relayed_to_peer_bytes;
	m->bytes_out = t->relayed_to_client_bytes;
	m->pkts_in = t->relayed_to_peer_pkts;
	m->pkts_out = t->relayed_to_client_pkts;
	m->auth_failures = t->auth_failures + t->stale_nonces;
}

/* Per second over ns, rounded; a counter that went back counts as 0. */
static uint64_t rate(uint64_t now, uint64_t before, uint64_t scale, uint64_t ns)
{
	if (now <= before || ns == 0)
		return 0;
	return (uint64_t)((double)(now - before) * (double)scale * 1e9 /
	                          (double)ns +
	                  0.5);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct admin_history *h = arg;
	struct history_mark m;
	struct history_sample *s = &h->ring[h->head];
	uint64_t ns;

	mark(h, &m);
	ns = m.at_ns - h->last.at_ns;
	s->t_s = (uint64_t)time(NULL);
	s->allocations = h->scratch.allocations;
	s->bps_in = rate(m.bytes_in, h->last.bytes_in, 8, ns);
	s->bps_out = rate(m.bytes_out, h->last.bytes_out, 8, ns);
	s->pps_in = rate(m.pkts_in, h->last.pkts_in, 1, ns);
	s->pps_out = rate(m.pkts_out, h->last.pkts_out, 1, ns);
	s->auth_failures = m.auth_failures > h->last.auth_failures
	                           ? m.auth_failures - h->last.auth_failures
	                           : 0;
	h->last = m;
	h->head = (h->head + 1) % HISTORY_SAMPLES;
	if (h->count < HISTORY_SAMPLES)
		h->count++;
}

int admin_history_start(struct edge_admin *a)
{
	struct timeval period = {HISTORY_PERIOD_S, 0};
	struct admin_history *h = calloc(1, sizeof(*h));

	if (!h)
		return ENOMEM;
	h->a = a;
	mark(h, &h->last);
	h->timer = event_new(a->base, -1, EV_PERSIST, on_tick, h);
	if (!h->timer || event_add(h->timer, &period) < 0) {
		if (h->timer)
			event_free(h->timer);
		free(h);
		return ENOMEM;
	}
	a->history = h;
	return 0;
}

void admin_history_free(struct edge_admin *a)
{
	if (!a || !a->history)
		return;
	event_free(a->history->timer);
	free(a->history);
	a->history = NULL;
}

/* ?since=UNIX_S (samples after it); false: a bad value. */
static bool since_arg(const char *query, uint64_t *since)
{
	struct evkeyvalq q;
	const char *v;
	char *end;
	bool ok = true;

	*since = 0;
	if (!query || !*query)
		return true;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) != 0)
		return false;
	if ((v = evhttp_find_header(&q, "since"))) {
		errno = 0;
		*since = strtoull(v, &end, 10);
		ok = *v >= '0' && *v <= '9' && !*end && errno == 0;
	}
	evhttp_clear_headers(&q);
	return ok;
}

void admin_history(struct edge_admin *a, struct evhttp_request *req,
                   const char *query)
{
	struct admin_history *h = a->history;
	struct evbuffer *b;
	uint64_t since;
	size_t first, shown = 0;

	if (!since_arg(query, &since)) {
		admin_send_error(req, 400, "Bad Request",
		                 "since: expected unix seconds");
		return;
	}
	if (!h || !(b = evbuffer_new())) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "history unavailable");
		return;
	}
	evbuffer_add_printf(b, "{\"interval_s\":%d,\"samples\":[",
	                    HISTORY_PERIOD_S);
	first = (h->head + HISTORY_SAMPLES - h->count) % HISTORY_SAMPLES;
	for (size_t i = 0; i < h->count; i++) {
		const struct history_sample *s =
		        &h->ring[(first + i) % HISTORY_SAMPLES];
		if (s->t_s <= since)
			continue;
		evbuffer_add_printf(
		        b,
		        "%s{\"t\":%llu,\"allocations\":%llu,\"bps_in\":%llu,"
		        "\"bps_out\":%llu,\"pps_in\":%llu,\"pps_out\":%llu,"
		        "\"auth_failures\":%llu}",
		        shown++ ? "," : "", (unsigned long long)s->t_s,
		        (unsigned long long)s->allocations,
		        (unsigned long long)s->bps_in,
		        (unsigned long long)s->bps_out,
		        (unsigned long long)s->pps_in,
		        (unsigned long long)s->pps_out,
		        (unsigned long long)s->auth_failures);
	}
	evbuffer_add_printf(b, "]}\n");
	admin_send_json(req, 200, "OK", b);
	evbuffer_free(b);
}
