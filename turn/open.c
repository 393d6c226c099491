/*
 * turn/open.c - binding the relay sockets of an Allocate (RFC 8656 s7.2):
 * relay address choice (round robin over relay-ip per family), relay port
 * choice (turn/ports.h: random, EVEN-PORT pairs, quarantine of ports the
 * kernel refused), the OPEN_RELAY action and its answer through
 * turn_server_relay_result(), the IPv6 half of a dual-stack allocation
 * (ADDITIONAL-ADDRESS-FAMILY, RFC 8656 s7.2 / s18.18), and the relay ports
 * held for a RESERVATION-TOKEN (s14.6, s14.9) for 30 s.
 * The allocation is parked (ALLOC_PENDING) while a bind is outstanding; its
 * struct turn_pending holds the state and is freed on completion. Pure.
 *
 * What a failed bind means: EADDRINUSE is the port's fault (quarantined,
 * another port tried); EMFILE, ENFILE, ENOBUFS and ENOMEM are the node's
 * (out of descriptors or socket memory: the port goes back to the pool,
 * 508 Insufficient Capacity, not counted as port exhaustion and not
 * logged here: the edge counts and logs those, at a bounded rate).
 */
#include "turn/turn_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int turn_pick_relay_ip(struct turn_server *s, int family)
{
	size_t n = s->cfg.nrelay_ips;
	int fi = family == AF_INET6;

	for (size_t k = 0; k < n; k++) {
		size_t i = (s->rr[fi] + k) % n;
		if (s->cfg.relay_ips[i].local.sa.sa_family == family) {
			s->rr[fi] = (unsigned)(i + 1);
			return (int)i;
		}
	}
	return -1;
}

int turn_alloc_take_port(struct turn_alloc *a, int slot, bool even,
                         uint16_t *resv_port)
{
	struct turn_server *s = a->s;
	uint16_t port;
	int err;

	err = turn_node_take(s->node, turn_rng(s), even, &port);
	if (err)
		return err;
	if (even) {
		if (a->pend->reserve)
			*resv_port = (uint16_t)(port + 1);
		else
			turn_node_release(s->node, (uint16_t)(port + 1));
	}
	a->relay[slot].port = port;
	return 0;
}

void turn_alloc_open(struct turn_alloc *a)
{
	struct turn_server *s = a->s;
	struct turn_pending *p = a->pend;
	struct turn_relay *rl = &a->relay[p->slot];

	p->alloc = a;
	p->token = s->next_token++;
	if (s->next_token == 0)
		s->next_token = 1;
	turn_htab_insert(&s->pending, &p->node,
	                 turn_hash(s->hkey, &p->token, sizeof(p->token)));
	p->queued = true;
	struct turn_action *act = turn_act_push(
	        s->out, a->tcp ? TURN_ACT_OPEN_TCP_RELAY : TURN_ACT_OPEN_RELAY);
	if (!act)
		return; /* the pending timeout cleans up */
	act->alloc = a;
	act->token = p->token;
	act->dscp = a->bw_dscp;
	act->bind = s->cfg.relay_ips[rl->ip_index].local;
	if (act->bind.sa.sa_family == AF_INET)
		act->bind.in4.sin_port = htons(rl->port);
	else
		act->bind.in6.sin6_port = htons(rl->port);
}

/* --- reservations (held in the node: any worker may use them) ------ */

/* Keep port+1 of an EVEN-PORT allocation with R set for 30 s. */
static void resv_make(struct turn_alloc *a)
{
	struct turn_server *s = a->s;
	struct turn_pending *p = a->pend;
	uint64_t seed[2] = {((uint64_t)turn_rng(s) << 32) | turn_rng(s),
	                    s->now_ms ^ s->next_token};
	uint64_t tok = turn_hash(s->hkey, seed, sizeof(seed));
	uint8_t token[8];

	memcpy(token, &tok, 8);
	if (turn_node_resv_put(s->node, token, p->resv_port,
	                       a->relay[0].ip_index,
	                       s->now_ms + TURN_RESV_MS) != 0) {
		turn_node_release(s->node, p->resv_port);
		p->resv_port = 0;
		return;
	}
	p->resv_port = 0;
	memcpy(a->resv_token, token, 8);
	a->has_resv_token = true;
}

/* --- relay results ------------------------------------------------------- */

static void finish(struct turn_alloc *a)
{
	if (a->pend->reserve && a->pend->resv_port)
		resv_make(a);
	turn_alloc_complete(a);
}

static void start_v6(struct turn_alloc *a)
{
	struct turn_pending *p = a->pend;
	int ip = turn_pick_relay_ip(a->s, AF_INET6);

	if (ip < 0) {
		a->addr_error = 440;
		finish(a);
		return;
	}
	a->relay[1].ip_index = (uint8_t)ip;
	a->relay[1].family = 6;
	p->slot = 1;
	p->tries = 0;
	if (turn_alloc_take_port(a, 1, false, NULL) != 0) {
		a->relay[1].family = 0;
		a->addr_error = 508;
		finish(a);
		return;
	}
	turn_alloc_open(a);
}

/* The node, not the port, lacked something to open a socket. */
static bool out_of_resources(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	       err == ENOMEM;
}

static void fail(struct turn_alloc *a, uint16_t code, bool no_port)
{
	struct turn_server *s = a->s;
	struct stun_builder b;

	if (no_port)
		s->stats.port_exhausted++;
	s->stats.responses_error[STUN_METHOD_ALLOCATE]++;
	turn_count_response(s, STUN_METHOD_ALLOCATE, code);
	if (turn_resp_begin(s->out, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_ERROR,
	                    a->tid)) {
		stun_build_error(&b, code, NULL);
		turn_resp_send(s, s->out, &a->tuple, &a->pend->sig, &b);
	}
	turn_alloc_release(a, "relay bind failed");
}

/* The bind of the current slot failed with err. */
static void bind_failed(struct turn_alloc *a, int err)
{
	struct turn_server *s = a->s;
	struct turn_pending *p = a->pend;
	struct turn_relay *rl = &a->relay[p->slot];

	if (!out_of_resources(err))
		turn_log(s, "relay port %u: bind failed (errno %d)%s", rl->port,
		         err, p->from_resv ? " for a reserved port" : "");
	if (err == EADDRINUSE) {
		turn_node_quarantine(s->node, rl->port, s->now_ms);
	} else {
		turn_node_release(s->node, rl->port);
	}
	rl->port = 0;
	if (p->slot == 0 && p->resv_port) {
		turn_node_release(s->node, p->resv_port);
		p->resv_port = 0;
	}
	if (err == EADDRINUSE && !p->from_resv &&
	    ++p->tries < TURN_BIND_TRIES &&
	    turn_alloc_take_port(a, p->slot, p->slot == 0 && p->even,
	                         &p->resv_port) == 0) {
		turn_alloc_open(a);
		return;
	}
	if (p->slot == 1) {
		rl->family = 0;
		a->addr_error = 508;
		finish(a);
		return;
	}
	fail(a, 508, !out_of_resources(err));
}

void turn_alloc_relay_result(struct turn_server *s, uint32_t token, int err,
                             void *relay)
{
	uint64_t h = turn_hash(s->hkey, &token, sizeof(token));
	struct turn_pending *p = NULL;

	for (struct turn_hnode *n = turn_htab_head(&s->pending, h); n;
	     n = n->next) {
		struct turn_pending *q =
		        TURN_CONTAINER(n, struct turn_pending, node);
		/* (a token parked on QUOTA_CHECK is not a relay's) */
		if (n->hash == h && q->token == token && !q->quota_wait) {
			p = q;
			break;
		}
	}
	if (!p) {
		/* The allocation went away meanwhile: close the socket. */
		struct turn_action *act;
		if (!err && relay &&
		    (act = turn_act_push(s->out, TURN_ACT_CLOSE_RELAY)))
			act->relay = relay;
		return;
	}
	turn_htab_remove(&s->pending, &p->node);
	p->queued = false;
	struct turn_alloc *a = p->alloc;
	if (!err && !relay)
		err = EINVAL;
	if (err) {
		bind_failed(a, err);
		return;
	}
	a->relay[p->slot].handle = relay;
	if (p->slot == 0 && p->want_v6)
		start_v6(a);
	else
		finish(a);
}
