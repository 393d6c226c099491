/*
 * turn/perm.c - peer permissions of an allocation (RFC 8656 s9, s10).
 * A permission admits a peer IP (not a port) for permission_lifetime_s
 * (300 s) after the request that last installed it (CreatePermission, or
 * ChannelBind, s11). Owned by the allocation; kept in the server-wide
 * table keyed by (allocation, IP) so the data path finds it with one hash.
 * CreatePermission is all-or-nothing (s10.2). Pure: time is now_ms.
 */
#include "turn/turn_int.h"

#include <stdlib.h>
#include <string.h>

struct perm_key {
	uint64_t alloc;
	struct turn_ipkey ip;
};

static uint64_t perm_hash(struct turn_server *s, const struct turn_alloc *a,
                          const struct turn_ipkey *ip)
{
	struct perm_key k;

	memset(&k, 0, sizeof(k));
	k.alloc = (uint64_t)(uintptr_t)a;
	k.ip = *ip;
	return turn_hash(s->hkey, &k, sizeof(k));
}

static struct turn_perm *lookup(struct turn_server *s, struct turn_alloc *a,
                                const struct turn_ipkey *ip)
{
	uint64_t h = perm_hash(s, a, ip);

	for (struct turn_hnode *n = turn_htab_head(&s->perms, h); n;
	     n = n->next) {
		struct turn_perm *p = TURN_CONTAINER(n, struct turn_perm, node);
		if (n->hash == h && p->alloc == a &&
		    memcmp(&p->ip, ip, sizeof(*ip)) == 0)
			return p;
	}
	return NULL;
}

struct turn_perm *turn_perm_find(struct turn_server *s, struct turn_alloc *a,
                                 const struct sockaddr *peer, uint64_t now_ms)
{
	struct turn_ipkey ip;
	struct turn_perm *p;

	if (!turn_ipkey_set(&ip, peer, false))
		return NULL;
	p = lookup(s, a, &ip);
	/* Past its end but not yet ticked: gone all the same. */
	return p && p->expires_ms > now_ms ? p : NULL;
}

void turn_perm_free(struct turn_perm *p)
{
	struct turn_alloc *a = p->alloc;
	struct turn_server *s = a->s;

	turn_wheel_cancel(&p->timer);
	turn_htab_remove(&s->perms, &p->node);
	if (p->prev)
		p->prev->next = p->next;
	else
		a->perms = p->next;
	if (p->next)
		p->next->prev = p->prev;
	a->nperms--;
	if (s->stats.permissions)
		s->stats.permissions--;
	free(p);
}

static void perm_expire(void *arg, uint64_t now_ms)
{
	(void)now_ms;
	turn_perm_free(arg);
}

bool turn_perm_install(struct turn_server *s, struct turn_alloc *a,
                       const struct sockaddr *peer)
{
	struct turn_ipkey ip;
	struct turn_perm *p;

	if (!turn_ipkey_set(&ip, peer, false))
		return false;
	p = lookup(s, a, &ip);
	if (!p) {
		if (a->nperms >= TURN_MAX_PERMS)
			return false;
		p = calloc(1, sizeof(*p));
		if (!p)
			return false;
		p->alloc = a;
		p->ip = ip;
		turn_timer_init(&p->timer, perm_expire, p);
		turn_htab_insert(&s->perms, &p->node, perm_hash(s, a, &ip));
		p->next = a->perms;
		if (a->perms)
			a->perms->prev = p;
		a->perms = p;
		a->nperms++;
		s->stats.permissions++;
	}
	p->expires_ms =
	        s->now_ms + (uint64_t)s->cfg.permission_lifetime_s * 1000;
	turn_wheel_add(s->wheel, &p->timer, p->expires_ms);
	return true;
}

uint16_t turn_peer_check(struct turn_req *r, const struct sockaddr *peer,
                         bool with_port)
{
	union turn_addr probe;

	if (!turn_alloc_has_family(r->alloc, peer->sa_family))
		return 443;
	turn_addr_copy(&probe, peer);
	if (!with_port) {
		if (probe.sa.sa_family == AF_INET)
			probe.in4.sin_port = 0;
		else
			probe.in6.sin6_port = 0;
	}
	if (turn_policy_check(r->s->policy, &probe.sa) != TURN_POLICY_ALLOWED ||
	    turn_cluster_peer_denied(r->s, &probe.sa)) {
		r->s->stats.drop_denied_peer++;
		return 403;
	}
	return 0;
}

/* s10.2: every XOR-PEER-ADDRESS must pass before any is installed. */
void turn_create_permission_request(struct turn_req *r)
{
	const struct stun_msg *m = r->m;
	struct sockaddr_storage ss;
	size_t npeers = 0;
	uint16_t code = 0;

	for (size_t i = 0; i < m->nattrs && !code; i++) {
		if (m->attrs[i].type != STUN_ATTR_XOR_PEER_ADDRESS)
			continue;
		npeers++;
		if (stun_attr_get_xor_addr(&m->attrs[i], m, &ss) != 0)
			code = 400;
		else
			code = turn_peer_check(r, (struct sockaddr *)&ss,
			                       false);
	}
	if (!code && npeers == 0)
		code = 400;
	if (code) {
		turn_resp_error(r, code);
		return;
	}
	for (size_t i = 0; i < m->nattrs; i++) {
		if (m->attrs[i].type != STUN_ATTR_XOR_PEER_ADDRESS)
			continue;
		stun_attr_get_xor_addr(&m->attrs[i], m, &ss);
		if (!turn_perm_install(r->s, r->alloc,
		                       (struct sockaddr *)&ss)) {
			turn_resp_error(r, 508);
			return;
		}
	}
	turn_resp_ok(r, false, 0);
}
