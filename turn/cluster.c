/*
 * turn/cluster.c - what the core does for a cluster of nodes that share
 * state in Redis (DESIGN.md "State and scale-out"), without knowing Redis:
 * - the cluster quota round trip of an Allocate: once every local check
 *   has passed (local quota slot and relay port held), the allocation is
 *   parked on TURN_ACT_QUOTA_CHECK until turn_server_quota_result(); a
 *   GRANTED slot is handed back with exactly one TURN_ACT_QUOTA_RELEASE
 *   when the allocation ends, whichever way it ends;
 * - allocation lifecycle events for the Redis records and the event
 *   channel (TURN_ACT_ALLOC_EVENT: created, refreshed, deleted + reason);
 * - 300 Try Alternate with ALTERNATE-SERVER (and ALTERNATE-DOMAIN over
 *   TLS/DTLS) for a draining or full node (RFC 8656 s7.2; RFC 8489 s10,
 *   s14.15, s14.16).
 * The parked Allocate is an ALLOC_PENDING allocation whose turn_pending
 * has quota_wait set, keyed by token in s->pending like a relay bind
 * (open.c), expiring with it after TURN_PENDING_TIMEOUT_S. The allocation
 * owns its cluster slot flag. Pure: time comes in as now_ms / now_s.
 */
#include "turn/turn_int.h"

#include <string.h>

/* --- cluster quota ------------------------------------------------------- */

void turn_quota_park(struct turn_alloc *a)
{
	struct turn_server *s = a->s;
	struct turn_pending *p = a->pend;

	p->alloc = a;
	p->token = s->next_token++;
	if (s->next_token == 0)
		s->next_token = 1;
	p->quota_wait = true;
	turn_htab_insert(&s->pending, &p->node,
	                 turn_hash(s->hkey, &p->token, sizeof(p->token)));
	p->queued = true;
	struct turn_action *act = turn_act_push(s->out, TURN_ACT_QUOTA_CHECK);
	if (!act)
		return; /* the pending timeout cleans up */
	act->alloc = a;
	act->token = p->token;
	act->qkey = a->qkey;
	act->realm = a->realm;
	turn_quota_limits(s->quota, turn_realm_of(s, &a->tuple),
	                  &act->user_quota, &act->total_quota);
}

static struct turn_pending *parked(struct turn_server *s, uint32_t token)
{
	uint64_t h = turn_hash(s->hkey, &token, sizeof(token));

	for (struct turn_hnode *n = turn_htab_head(&s->pending, h); n;
	     n = n->next) {
		struct turn_pending *p =
		        TURN_CONTAINER(n, struct turn_pending, node);
		if (n->hash == h && p->token == token && p->quota_wait)
			return p;
	}
	return NULL;
}

/* 486 to the parked Allocate; its local slot and port go back. */
static void deny(struct turn_alloc *a)
{
	struct turn_server *s = a->s;
	struct stun_builder b;

	s->stats.quota_rejects++;
	s->stats.cluster_quota_denied++;
	s->stats.responses_error[STUN_METHOD_ALLOCATE]++;
	turn_count_response(s, STUN_METHOD_ALLOCATE, 486);
	if (turn_resp_begin(s->out, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_ERROR,
	                    a->tid)) {
		stun_build_error(&b, 486, NULL);
		turn_resp_send(s, s->out, &a->tuple, &a->pend->sig, &b);
	}
	turn_alloc_release(a, "cluster quota reached");
}

void turn_cluster_quota_result(struct turn_server *s, uint32_t token,
                               enum turn_quota_answer ans)
{
	struct turn_pending *p = parked(s, token);

	if (!p)
		return; /* late or unknown: the edge gives its slot back */
	turn_htab_remove(&s->pending, &p->node);
	p->queued = false;
	p->quota_wait = false;
	struct turn_alloc *a = p->alloc;
	switch (ans) {
	case TURN_QUOTA_GRANTED:
		a->cluster_slot = true;
		break;
	case TURN_QUOTA_LOCAL:
		s->stats.cluster_quota_local++;
		break;
	case TURN_QUOTA_DENIED:
	default: /* an answer we do not know: no */
		deny(a);
		return;
	}
	turn_alloc_open(a);
}

void turn_server_quota_result(struct turn_server *s, uint32_t token,
                              enum turn_quota_answer ans, uint64_t now_ms,
                              uint64_t now_s, struct turn_actions *out)
{
	if (!s || !out)
		return;
	/* Like turn_server_relay_result(): may run inside an action list,
	 * so the graveyard is not flushed here. */
	s->out = out;
	if (now_ms > s->now_ms)
		s->now_ms = now_ms;
	s->now_s = now_s;
	turn_cluster_quota_result(s, token, ans);
}

/* --- lifecycle events ------------------------------------------------------
 */

void turn_alloc_event(struct turn_alloc *a, enum turn_alloc_event ev,
                      const char *reason)
{
	struct turn_action *act;

	if (!a->s->cfg.alloc_events)
		return;
	act = turn_act_push(a->s->out, TURN_ACT_ALLOC_EVENT);
	if (!act)
		return;
	act->alloc = a;
	act->event = ev;
	act->reason = reason;
	act->qkey = a->qkey;
	act->realm = a->realm;
}

void turn_cluster_ended(struct turn_alloc *a, const char *reason)
{
	struct turn_action *act;

	for (int i = 0; i < 2; i++)
		a->end_port[i] = a->relay[i].handle ? a->relay[i].port : 0;
	if (a->state == ALLOC_ACTIVE)
		turn_alloc_event(a, TURN_ALLOC_DELETED, reason ? reason : "");
	if (!a->cluster_slot)
		return;
	a->cluster_slot = false; /* once, even if the action is dropped */
	act = turn_act_push(a->s->out, TURN_ACT_QUOTA_RELEASE);
	if (!act)
		return;
	act->alloc = a;
	act->qkey = a->qkey;
	act->realm = a->realm;
}

/* --- 300 Try Alternate -----------------------------------------------------
 */

void turn_server_set_alternates(struct turn_server *s,
                                const union turn_addr *v4,
                                const union turn_addr *v6, const char *domain)
{
	if (!s)
		return;
	memset(s->alt, 0, sizeof(s->alt));
	if (v4 && v4->sa.sa_family == AF_INET)
		s->alt[0].in4 = v4->in4;
	if (v6 && v6->sa.sa_family == AF_INET6)
		s->alt[1].in6 = v6->in6;
	s->alt_ports = false;
	s->alt_domain[0] = 0;
	if (domain) {
		size_t n = strnlen(domain, TURN_ALT_DOMAIN_MAX + 1);
		if (n <= TURN_ALT_DOMAIN_MAX) /* longer: none */
			memcpy(s->alt_domain, domain, n + 1);
	}
}

void turn_server_set_alternate_ports(struct turn_server *s, uint16_t tls_port,
                                     uint16_t dtls_port)
{
	if (!s)
		return;
	s->alt_tls_port = tls_port;
	s->alt_dtls_port = dtls_port;
	s->alt_ports = true;
}

void turn_server_set_cluster_peers(struct turn_server *s,
                                   struct turn_policy *set, uint64_t now_ms,
                                   struct turn_actions *out)
{
	if (!s) {
		turn_policy_free(set);
		return;
	}
	turn_policy_free(s->cluster_peers);
	s->cluster_peers = set;
	if (!set)
		return; /* fewer denials: nothing to withdraw */
	turn_sweep_start(s);
	if (out) {
		turn_enter(s, out, now_ms);
		turn_sweep_run(s);
	}
}

bool turn_cluster_peer_denied(const struct turn_server *s,
                              const struct sockaddr *peer)
{
	return s->cluster_peers && turn_policy_protects(s->cluster_peers, peer);
}

/* The alternate of the client's family and transport (RFC 8489 s10, RFC
 * 8656 s7.2) into out; false: none. */
static bool alternate_for(const struct turn_server *s,
                          const struct turn_tuple *from, union turn_addr *out)
{
	int family = from->client.sa.sa_family;
	uint8_t t = from->transport;
	uint16_t port;

	*out = s->alt[family == AF_INET6];
	if (out->sa.sa_family == 0 || out->sa.sa_family != family)
		return false;
	if (!s->alt_ports ||
	    (t != TURN_TRANSPORT_TLS && t != TURN_TRANSPORT_DTLS))
		return true;
	port = t == TURN_TRANSPORT_TLS ? s->alt_tls_port : s->alt_dtls_port;
	if (port == 0)
		return false;
	if (family == AF_INET)
		out->in4.sin_port = htons(port);
	else
		out->in6.sin6_port = htons(port);
	return true;
}

bool turn_try_alternate(struct turn_req *r)
{
	struct turn_server *s = r->s;
	union turn_addr alt_addr;
	const union turn_addr *alt = &alt_addr;
	uint8_t t = r->from->transport;
	struct stun_builder b;

	if (!alternate_for(s, r->from, &alt_addr))
		return false;
	s->stats.redirects++;
	s->stats.responses_error[r->m->method & 0xf]++;
	turn_count_response(s, r->m->method, 300);
	if (!turn_resp_begin(r->out, &b, r->m->method, STUN_CLASS_ERROR,
	                     r->m->tid))
		return true;
	stun_build_error(&b, 300, NULL);
	stun_build_addr(&b, STUN_ATTR_ALTERNATE_SERVER, &alt->sa);
	if (s->alt_domain[0] &&
	    (t == TURN_TRANSPORT_TLS || t == TURN_TRANSPORT_DTLS))
		stun_build_attr(&b, STUN_ATTR_ALTERNATE_DOMAIN, s->alt_domain,
		                strlen(s->alt_domain));
	/* Signed with the request's key like every authenticated error: a
	 * client ignores an unsigned ALTERNATE-SERVER (RFC 8489 s10). */
	turn_resp_send(s, r->out, r->from, &r->sig, &b);
	return true;
}
