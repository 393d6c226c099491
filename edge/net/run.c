/*
 * edge/net/run.c - runs what the TURN core asks for (struct turn_action):
 * datagrams to the I/O engine's send queue, stream and DTLS sends, relay
 * sockets and RFC 6062 relays through the worker's ops table (they sit
 * above this file), cluster actions through the hooks a floor above
 * installed (edge/redis), log lines to the log. And the one core call for
 * code outside the packet path: clock, reset, call, actions.
 */
#include "edge/net/run.h"
#include "edge/base/log.h"
#include "edge/net/worker_int.h"

static void send_client(struct edge_worker *w, const struct turn_action *a)
{
	const struct turn_tuple *t = a->tuple;

	if (t->transport == TURN_TRANSPORT_UDP) {
		if (t->listener < w->nudp)
			edge_io_send(&w->io, w->udp[t->listener].fd,
			             EDGE_SOCK_LISTENER, &t->client, a->data,
			             a->len, false);
	} else if (t->transport == TURN_TRANSPORT_DTLS) {
		w->ops->send_dtls(w, t, a->data, a->len);
	} else {
		w->ops->send_stream(w, t, a->data, a->len);
	}
}

/* QUOTA and ALLOC_EVENT actions go to the hook (edge/redis); without
 * one a QUOTA_CHECK is decided locally: the local quota has already
 * counted it. */
static void hook_action(struct edge_worker *w, const struct turn_action *a)
{
	if (w->hooks.action) {
		struct edge_core_ctx c = {w->core, w->io.now_ms, w->io.now_s,
		                          &w->out};
		w->hooks.action(w->hooks.ctx, &c, a);
	} else if (a->kind == TURN_ACT_QUOTA_CHECK) {
		turn_server_quota_result(w->core, a->token, TURN_QUOTA_LOCAL,
		                         w->io.now_ms, w->io.now_s, &w->out);
	}
}

void edge_run_actions(struct edge_worker *w)
{
	struct turn_actions *out = &w->out;

	if (out->dropped)
		EDGE_COUNT(&w->stats, actions_dropped, out->dropped);
	/* relay_result may append actions while this runs: re-read n. */
	for (size_t i = 0; i < out->n; i++) {
		struct turn_action *a = &out->v[i];
		struct edge_relay *r;
		int err;

		switch (a->kind) {
		case TURN_ACT_SEND_CLIENT:
			send_client(w, a);
			break;
		case TURN_ACT_SEND_PEER:
			r = a->relay;
			edge_io_send(&w->io, r->fd, EDGE_SOCK_RELAY, a->peer,
			             a->data, a->len, a->dont_fragment);
			EDGE_COUNT(&w->stats, relay_tx, 1);
			break;
		case TURN_ACT_OPEN_RELAY:
			r = NULL;
			err = w->ops->relay_open(w, a, &r);
			if (err)
				EDGE_COUNT(&w->stats, relay_open_failures, 1);
			turn_server_relay_result(w->core, a->token, err, r,
			                         w->io.now_ms, w->io.now_s,
			                         out);
			break;
		case TURN_ACT_CLOSE_RELAY:
			/* Datagrams queued from it go out first. */
			edge_io_flush(&w->io);
			if (a->relay)
				w->ops->relay_close(a->relay);
			break;
		case TURN_ACT_LOG:
			edge_info("%.*s", (int)a->len, (const char *)a->data);
			if (w->hooks.log) /* auth failures become events */
				w->hooks.log(w->hooks.ctx,
				             (const char *)a->data, a->len);
			break;
		case TURN_ACT_OPEN_TCP_RELAY:
		case TURN_ACT_CLOSE_TCP_RELAY:
		case TURN_ACT_TCP_CONNECT:
		case TURN_ACT_TCP_CLOSE:
		case TURN_ACT_TCP_BIND_DATA:
		case TURN_ACT_TCP_HANDOFF:
			w->ops->tcp_relay(w, a); /* RFC 6062: tcp_relay.c */
			break;
		case TURN_ACT_QUOTA_CHECK:
		case TURN_ACT_QUOTA_RELEASE:
		case TURN_ACT_ALLOC_EVENT:
			hook_action(w, a);
			break;
		}
	}
}

void edge_worker_core_call(struct edge_worker *w, edge_core_fn *fn, void *arg)
{
	edge_io_clock(&w->io);
	turn_actions_reset(&w->out);
	struct edge_core_ctx c = {w->core, w->io.now_ms, w->io.now_s, &w->out};
	fn(w, &c, arg);
	edge_run_actions(w);
}

static void closed_call(struct edge_worker *w, const struct edge_core_ctx *c,
                        void *arg)
{
	(void)w;
	turn_server_conn_closed(c->core, arg, c->out);
}

void edge_core_conn_closed(struct edge_worker *w, const struct turn_tuple *t)
{
	edge_worker_core_call(w, closed_call, (void *)t);
	edge_io_flush(&w->io);
}
