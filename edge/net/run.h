/*
 * edge/net/run.h - running the core's actions (run.c), and the packet
 * path's core calls, inline: reset the action list, feed the core, run
 * what it asks for. Inside edge/net only.
 */
#ifndef AVEDGE_EDGE_NET_RUN_H
#define AVEDGE_EDGE_NET_RUN_H

#include "edge/net/worker_int.h"

/* run.c: run the actions in w->out (what the last core call appended) */
void edge_run_actions(struct edge_worker *w);

/* The packet path's core calls: the clock was stamped at the start of
 * the batch (edge_io_clock); reset the action list, feed the core, run
 * what it asks for. Everything else goes through edge_worker_core_call. */
static inline void edge_core_input(struct edge_worker *w,
                                   const struct turn_tuple *t, uint8_t *buf,
                                   size_t len)
{
	turn_actions_reset(&w->out);
	turn_server_input(w->core, t, buf, len, w->io.now_ms, w->io.now_s,
	                  &w->out);
	edge_run_actions(w);
}

static inline void edge_core_peer_input(struct edge_worker *w,
                                        struct turn_alloc *alloc,
                                        const union turn_addr *peer,
                                        uint8_t *buf, size_t len)
{
	turn_actions_reset(&w->out);
	turn_server_peer_input(w->core, alloc, peer, buf, len, w->io.now_ms,
	                       &w->out);
	edge_run_actions(w);
}

/* A client connection (TCP, TLS, DTLS) of t ended: tell the core (its
 * allocation goes) and send what that queued. */
void edge_core_conn_closed(struct edge_worker *w, const struct turn_tuple *t);

#endif
