/*
 * turn/alloc.c - allocations (RFC 8656 s7 Allocate, s8 Refresh): request
 * checks, lifetimes on the wheel, and the end of an allocation. Relay
 * sockets are bound by edge/ through OPEN_RELAY (open.c parks the
 * allocation until turn_server_relay_result()). The server owns the
 * allocation; a released one waits in the graveyard until the next call,
 * since actions of this call may still point at it. Pure: time is now_ms.
 */
#include "turn/turn_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Actions the end of one allocation may append (LOG, CLOSE_RELAY x2,
 * ALLOC_EVENT, QUOTA_RELEASE): an expiry that would not fit in the list
 * of this tick waits for the next one rather than lose them. */
#define END_ACTIONS 8

static void on_expire(void *arg, uint64_t now_ms)
{
	struct turn_alloc *a = arg;
	struct turn_server *s = a->s;

	if (s->out && s->out->n + END_ACTIONS > TURN_ACTIONS_MAX) {
		turn_wheel_add(s->wheel, &a->timer, now_ms + 1);
		return;
	}
	if (a->state == ALLOC_PENDING) {
		turn_alloc_release(a, a->pend && a->pend->quota_wait
		                              ? "quota check timeout"
		                              : "relay bind timeout");
		return;
	}
	s->stats.allocations_expired++;
	turn_alloc_release(a, "expired");
}

struct turn_alloc *turn_alloc_find(struct turn_server *s,
                                   const struct turn_tuple *t)
{
	uint64_t h = turn_tuple_hash(s->hkey, t);

	for (struct turn_hnode *n = turn_htab_head(&s->allocs, h); n;
	     n = n->next) {
		struct turn_alloc *a =
		        TURN_CONTAINER(n, struct turn_alloc, node);
		if (n->hash != h || !turn_tuple_equal(&a->tuple, t))
			continue;
		/* Not yet ticked past its end: it is over all the same. */
		if (a->state == ALLOC_ACTIVE && a->expires_ms <= s->now_ms) {
			s->stats.allocations_expired++;
			turn_alloc_release(a, "expired");
			return NULL;
		}
		return a;
	}
	return NULL;
}

struct turn_relay *turn_alloc_relay(struct turn_alloc *a, int family)
{
	uint8_t f = family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0;

	if (a->tcp)
		return NULL; /* RFC 6062: no datagrams on a TCP allocation */
	for (int i = 0; i < 2; i++)
		if (a->relay[i].family == f && f && a->relay[i].handle)
			return &a->relay[i];
	return NULL;
}

bool turn_alloc_has_family(const struct turn_alloc *a, int family)
{
	uint8_t f = family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0;

	return f && (a->relay[0].family == f || a->relay[1].family == f);
}

void turn_alloc_arm(struct turn_alloc *a, uint32_t lifetime_s)
{
	a->lifetime_s = lifetime_s;
	a->expires_ms = a->s->now_ms + (uint64_t)lifetime_s * 1000;
	turn_wheel_add(a->s->wheel, &a->timer, a->expires_ms);
}

/* --- end of an allocation ------------------------------------------------ */

static void close_relays(struct turn_alloc *a)
{
	struct turn_server *s = a->s;

	for (int i = 0; i < 2; i++) {
		struct turn_relay *rl = &a->relay[i];
		if (rl->handle) {
			struct turn_action *act = turn_act_push(
			        s->out, a->tcp ? TURN_ACT_CLOSE_TCP_RELAY
			                       : TURN_ACT_CLOSE_RELAY);
			if (act)
				act->relay = rl->handle;
			rl->handle = NULL;
		}
		if (rl->port)
			turn_node_release(s->node, rl->port);
		rl->port = 0;
	}
}

static void log_alloc(struct turn_alloc *a, const char *what,
                      const char *reason)
{
	char client[64], relay[64];
	union turn_addr ra;
	const struct turn_relay *rl = &a->relay[0];

	turn_addr_str(&a->tuple.client, client, sizeof(client));
	ra = a->s->cfg.relay_ips[rl->ip_index].advertise;
	if (ra.sa.sa_family == AF_INET)
		ra.in4.sin_port = htons(rl->port);
	else
		ra.in6.sin6_port = htons(rl->port);
	turn_addr_str(&ra, relay, sizeof(relay));
	turn_log(a->s, "allocation %s: user=%s client=%s relay=%s%s%s", what,
	         a->qkey ? a->qkey : "-", client, relay,
	         reason ? " reason=" : "", reason ? reason : "");
}

void turn_alloc_release(struct turn_alloc *a, const char *reason)
{
	struct turn_server *s = a->s;

	if (a->state == ALLOC_DEAD)
		return;
	if (a->state == ALLOC_ACTIVE) {
		log_alloc(a, "deleted", reason);
		if (s->stats.allocations)
			s->stats.allocations--;
		unsigned t = a->tuple.transport & 3;
		uint64_t *r = &s->stats.allocations_by_realm[turn_realm_of(
		        s, &a->tuple)][t];
		if (s->stats.allocations_by_transport[t])
			s->stats.allocations_by_transport[t]--;
		if (*r)
			(*r)--;
	}
	turn_cluster_ended(a, reason);
	turn_wheel_cancel(&a->timer);
	while (a->perms)
		turn_perm_free(a->perms);
	while (a->chans)
		turn_chan_free(a->chans);
	turn_tcp_release_all(a);
	if (a->pend) {
		if (a->pend->queued)
			turn_htab_remove(&s->pending, &a->pend->node);
		if (a->pend->resv_port)
			turn_node_release(s->node, a->pend->resv_port);
		free(a->pend);
		a->pend = NULL;
	}
	close_relays(a);
	turn_bw_pool_release(s->cfg.bw_pool, a->bw_reserved);
	a->bw_reserved = 0;
	if (a->quota_taken)
		turn_quota_release_in(s->quota, turn_realm_of(s, &a->tuple),
		                      a->qkey, a->qkey_len);
	a->quota_taken = false;
	turn_htab_remove(&s->allocs, &a->node);
	if (a->prev)
		a->prev->next = a->next;
	else
		s->all = a->next;
	if (a->next)
		a->next->prev = a->prev;
	a->state = ALLOC_DEAD;
	a->prev = NULL;
	a->next = s->graveyard;
	s->graveyard = a;
}

void turn_graveyard_flush(struct turn_server *s)
{
	while (s->graveyard) {
		struct turn_alloc *a = s->graveyard;
		s->graveyard = a->next;
		free(a->qkey);
		free(a);
	}
}

/* --- Allocate (s7.2) ----------------------------------------------------- */

/* The success answer (also rebuilt for a retransmission). */
void turn_alloc_answer(struct turn_alloc *a, const struct turn_signer *sig)
{
	struct turn_server *s = a->s;
	struct stun_builder b;

	if (!turn_resp_begin(s->out, &b, STUN_METHOD_ALLOCATE,
	                     STUN_CLASS_SUCCESS, a->tid))
		return;
	for (int i = 0; i < 2; i++) {
		const struct turn_relay *rl = &a->relay[i];
		if (!rl->handle)
			continue;
		union turn_addr ra = s->cfg.relay_ips[rl->ip_index].advertise;
		if (ra.sa.sa_family == AF_INET)
			ra.in4.sin_port = htons(rl->port);
		else
			ra.in6.sin6_port = htons(rl->port);
		stun_build_xor_addr(&b, STUN_ATTR_XOR_RELAYED_ADDRESS, &ra.sa);
	}
	if (a->addr_error) {
		uint8_t v[4 + STUN_REASON_MAX];
		const char *why = stun_error_reason(a->addr_error);
		size_t n = strlen(why);
		v[0] = STUN_FAMILY_IPV6;
		v[1] = 0;
		v[2] = (uint8_t)(a->addr_error / 100);
		v[3] = (uint8_t)(a->addr_error % 100);
		memcpy(v + 4, why, n);
		stun_build_attr(&b, STUN_ATTR_ADDRESS_ERROR_CODE, v, 4 + n);
	}
	stun_build_u32(&b, STUN_ATTR_LIFETIME, a->lifetime_s);
	if (a->has_resv_token)
		stun_build_attr(&b, STUN_ATTR_RESERVATION_TOKEN, a->resv_token,
		                8);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
	                    &a->tuple.client.sa);
	turn_count_response(s, STUN_METHOD_ALLOCATE, 0);
	turn_resp_send(s, s->out, &a->tuple, sig, &b);
}

/* The allocation is bound: answer, log, arm its lifetime. */
void turn_alloc_complete(struct turn_alloc *a)
{
	struct turn_server *s = a->s;
	struct turn_pending *p = a->pend;

	a->state = ALLOC_ACTIVE;
	turn_alloc_arm(a, a->lifetime_s);
	a->created_s = s->now_s;
	s->stats.allocations++;
	s->stats.allocations_created++;
	s->stats.allocations_by_transport[a->tuple.transport & 3]++;
	s->stats.allocations_by_realm[turn_realm_of(s, &a->tuple)]
	                             [a->tuple.transport & 3]++;
	turn_alloc_answer(a, &p->sig);
	log_alloc(a, "created", NULL);
	turn_alloc_event(a, TURN_ALLOC_CREATED, NULL);
	a->pend = NULL;
	free(p);
}

/* The bandwidth class of a new allocation (bw.h), copied into it. */
static void bw_choose(struct turn_req *r, struct turn_alloc *a)
{
	struct turn_server *s = r->s;
	struct turn_bw_choice c;

	turn_bw_resolve(s->bw, r->bw_user, r->bw_class, r->bw_class_len,
	                a->realm, s->cfg.max_bps, &c);
	if (c.cred_unknown)
		s->stats.bw_cred_unknown++;
	a->bw_implicit = c.source == TURN_BW_FROM_MAX_BPS;
	a->bw_rate = c.rate_bps;
	a->bw_burst = c.burst_bytes;
	a->bw_dscp = (int8_t)c.dscp;
	a->bw_slot = c.slot;
	for (int i = 0; i < 2; i++)
		turn_bw_bucket_init(&a->bucket[i], c.burst_bytes, s->now_ms);
}

static struct turn_alloc *alloc_new(struct turn_req *r, uint32_t lifetime_s)
{
	struct turn_server *s = r->s;
	struct turn_alloc *a = calloc(1, sizeof(*a));
	struct turn_pending *p = calloc(1, sizeof(*p));
	const char *realm = turn_realm_name(s, turn_realm_of(s, r->from));
	size_t rlen = strlen(realm);

	if (a) /* quota key and realm in one block */
		a->qkey = malloc(r->qkey_len + 1 + rlen + 1);
	if (!a || !p || !a->qkey) {
		if (a)
			free(a->qkey);
		free(a);
		free(p);
		return NULL;
	}
	memcpy(a->qkey, r->qkey, r->qkey_len);
	a->qkey[r->qkey_len] = 0;
	a->qkey_len = (uint16_t)r->qkey_len;
	a->realm = a->qkey + r->qkey_len + 1;
	memcpy(a->realm, realm, rlen + 1);
	a->s = s;
	a->serial = ++s->next_serial;
	a->tuple = *r->from;
	a->user_hash = r->user_hash;
	a->lifetime_s = lifetime_s;
	memcpy(a->tid, r->m->tid, STUN_TID_LEN);
	a->pend = p;
	p->sig = r->sig;
	bw_choose(r, a);
	turn_timer_init(&a->timer, on_expire, a);
	turn_wheel_add(s->wheel, &a->timer,
	               s->now_ms + TURN_PENDING_TIMEOUT_S * 1000);
	turn_htab_insert(&s->allocs, &a->node,
	                 turn_tuple_hash(s->hkey, r->from));
	a->next = s->all;
	if (s->all)
		s->all->prev = a;
	s->all = a;
	return a;
}

/* Attribute checks of s7.2 steps 3-7; 0 or the error code. */
struct alloc_args {
	int family; /* of relay[0] */
	bool even, reserve, dual, tcp;
	const uint8_t *token;
};

static uint16_t family_of(const struct stun_attr *a, int *family)
{
	if (a->len != 4)
		return 400;
	if (a->value[0] == STUN_FAMILY_IPV4)
		*family = AF_INET;
	else if (a->value[0] == STUN_FAMILY_IPV6)
		*family = AF_INET6;
	else
		return 440;
	return 0;
}

/* RFC 6062 s5.1: TCP only over a TCP or TLS control connection, and
 * without DONT-FRAGMENT, EVEN-PORT or RESERVATION-TOKEN. */
static uint16_t tcp_args(const struct turn_req *r)
{
	uint8_t t = r->from->transport;

	if (r->s->cfg.no_tcp_relay)
		return 442;
	if (t != TURN_TRANSPORT_TCP && t != TURN_TRANSPORT_TLS)
		return 400;
	if (stun_msg_find(r->m, STUN_ATTR_DONT_FRAGMENT) ||
	    stun_msg_find(r->m, STUN_ATTR_EVEN_PORT) ||
	    stun_msg_find(r->m, STUN_ATTR_RESERVATION_TOKEN))
		return 400;
	return 0;
}

static uint16_t alloc_args(const struct turn_req *r, struct alloc_args *x)
{
	const struct stun_msg *m = r->m;
	const struct stun_attr *rt, *ev, *tok, *raf, *aaf;
	int fam = AF_INET;
	uint16_t code;

	rt = stun_msg_find(m, STUN_ATTR_REQUESTED_TRANSPORT);
	if (!rt || rt->len != 4)
		return 400;
	x->tcp = rt->value[0] == STUN_TRANSPORT_TCP;
	if (x->tcp && (code = tcp_args(r)) != 0)
		return code;
	if (rt->value[0] != STUN_TRANSPORT_UDP && !x->tcp)
		return 442;
	ev = stun_msg_find(m, STUN_ATTR_EVEN_PORT);
	tok = stun_msg_find(m, STUN_ATTR_RESERVATION_TOKEN);
	raf = stun_msg_find(m, STUN_ATTR_REQUESTED_ADDRESS_FAMILY);
	aaf = stun_msg_find(m, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY);
	if ((ev && ev->len != 1) || (tok && tok->len != 8))
		return 400;
	if (tok && (ev || raf || aaf))
		return 400;
	if (raf && aaf)
		return 400;
	if (aaf && (aaf->len != 4 || aaf->value[0] != STUN_FAMILY_IPV6))
		return 400;
	if (raf && (code = family_of(raf, &fam)) != 0)
		return code;
	x->family = fam;
	x->even = ev != NULL;
	x->reserve = ev && (ev->value[0] & 0x80);
	x->dual = aaf != NULL;
	x->token = tok ? tok->value : NULL;
	return 0;
}

/* A new Allocate while the node drains or is full: 300 Try Alternate with
 * the ALTERNATE-SERVER the edge set (the least loaded healthy node of the
 * client's family, RFC 8489 s10; cluster.c), else 508. true: answered. */
static bool at_capacity(struct turn_req *r)
{
	struct turn_server *s = r->s;
	uint32_t max = s->cfg.max_allocations;

	if (s->cfg.draining &&
	    atomic_load_explicit(s->cfg.draining, memory_order_relaxed)) {
		s->stats.drain_rejects++;
		if (!turn_try_alternate(r))
			turn_resp_error(r, 508);
		return true;
	}
	if (max && (s->quota ? turn_quota_total(s->quota)
	                     : s->stats.allocations) >= max) {
		s->stats.capacity_rejects++;
		bool alt = turn_try_alternate(r);
		turn_log(s, "allocate refused: %s max-allocations %u reached",
		         alt ? "300" : "508", (unsigned)max);
		if (!alt)
			turn_resp_error(r, 508);
		return true;
	}
	return false;
}

/* Reserve a's class's rate in the node's capacity (the rate it has now:
 * an implicit class's max-bps as of this Allocate). false: it does not
 * fit; answered 508, a is released. */
static bool bw_reserve(struct turn_req *r, struct turn_alloc *a)
{
	struct turn_server *s = r->s;
	uint64_t rate = a->bw_implicit ? s->cfg.max_bps : a->bw_rate;
	uint64_t got = turn_bw_pool_take(s->cfg.bw_pool, rate);

	if (got != UINT64_MAX) {
		a->bw_reserved = got;
		return true;
	}
	s->stats.bw_capacity_rejects++;
	turn_log(s, "allocate refused: 508 bps-capacity %llu reached",
	         (unsigned long long)turn_bw_pool_capacity(s->cfg.bw_pool));
	turn_resp_error(r, 508);
	turn_alloc_release(a, "bps-capacity");
	return false;
}

static void existing(struct turn_req *r)
{
	struct turn_alloc *a = r->alloc;

	if (a->state == ALLOC_ACTIVE &&
	    memcmp(a->tid, r->m->tid, STUN_TID_LEN) == 0) {
		turn_alloc_answer(a, &r->sig); /* a retransmission */
		return;
	}
	turn_resp_error(r, 437);
}

void turn_alloc_request(struct turn_req *r)
{
	struct turn_server *s = r->s;
	struct alloc_args x = {0};
	uint16_t resv_port = 0;
	uint8_t resv_ip = 0;
	bool zero;
	uint16_t code;
	int ip;

	if (r->alloc) {
		existing(r);
		return;
	}
	if ((code = alloc_args(r, &x)) != 0) {
		turn_resp_error(r, code);
		return;
	}
	if (at_capacity(r))
		return;
	uint32_t lifetime = turn_lifetime(s, r->m, &zero);
	if (zero)
		lifetime = s->cfg.default_lifetime_s;
	if (x.token) {
		if (!turn_node_resv_take(s->node, x.token, &resv_port,
		                         &resv_ip)) {
			turn_log(s, "allocate refused: 508 unknown or expired "
			            "reservation token");
			turn_resp_error(r, 508);
			return;
		}
		ip = resv_ip;
	} else if ((ip = turn_pick_relay_ip(s, x.family)) < 0) {
		turn_resp_error(r, 440);
		return;
	}
	unsigned realm = turn_realm_of(s, r->from);
	if (!turn_quota_take_in(s->quota, realm, r->qkey, r->qkey_len)) {
		s->stats.quota_rejects++;
		if (resv_port)
			turn_node_release(s->node, resv_port);
		turn_resp_error(r, 486);
		return;
	}
	struct turn_alloc *a = alloc_new(r, lifetime);
	if (!a) {
		turn_quota_release_in(s->quota, realm, r->qkey, r->qkey_len);
		if (resv_port)
			turn_node_release(s->node, resv_port);
		turn_resp_error(r, 508);
		return;
	}
	a->quota_taken = s->quota != NULL;
	if (!bw_reserve(r, a)) {
		if (resv_port)
			turn_node_release(s->node, resv_port);
		return;
	}
	a->relay[0].ip_index = (uint8_t)ip;
	a->relay[0].family =
	        s->cfg.relay_ips[ip].local.sa.sa_family == AF_INET ? 4 : 6;
	a->pend->even = x.even;
	a->pend->reserve = x.reserve;
	a->pend->want_v6 = x.dual && x.family == AF_INET && !x.tcp;
	a->tcp = x.tcp;
	/* One relayed address per TCP allocation. */
	if (x.tcp && x.dual)
		a->addr_error = 440;
	if (resv_port) {
		/* The reserved port moves to this allocation. */
		a->relay[0].port = resv_port;
		a->pend->from_resv = true;
	} else if (turn_alloc_take_port(a, 0, x.even, &a->pend->resv_port)) {
		s->stats.port_exhausted++;
		turn_log(s, "allocate refused: 508 no free relay port");
		turn_resp_error(r, 508);
		turn_alloc_release(a, "no relay port");
		return;
	}
	if (s->cfg.cluster_quota)
		turn_quota_park(a); /* opened on turn_server_quota_result() */
	else
		turn_alloc_open(a);
}

/* --- Refresh (s8) -------------------------------------------------------- */

void turn_refresh_request(struct turn_req *r)
{
	struct turn_alloc *a = r->alloc;
	const struct stun_attr *raf;
	bool zero;
	int fam;

	raf = stun_msg_find(r->m, STUN_ATTR_REQUESTED_ADDRESS_FAMILY);
	if (raf) {
		uint16_t code = family_of(raf, &fam);
		if (code == 0 && !turn_alloc_has_family(a, fam))
			code = 443;
		if (code) {
			turn_resp_error(r, code);
			return;
		}
	}
	uint32_t lifetime = turn_lifetime(r->s, r->m, &zero);
	if (zero) {
		turn_resp_ok(r, true, 0);
		r->s->stats.allocations_deleted++;
		r->s->stats.allocations_refreshed_0++;
		turn_alloc_release(a, "refresh 0");
		return;
	}
	turn_alloc_arm(a, lifetime);
	turn_resp_ok(r, true, lifetime);
	turn_alloc_event(a, TURN_ALLOC_REFRESHED, NULL);
}
