/*
 * tools/sim/turn.c - the TURN client of edge-sim (RFC 8656 s7-s12) with
 * long-term credentials (RFC 8489 s9.2, MD5 key): Allocate with the 401
 * challenge, Refresh, CreatePermission and ChannelBind per peer, their
 * refreshes (permissions every SIM_PERM_REFRESH_S, channels every
 * SIM_CHAN_REFRESH_S, the allocation at half its LIFETIME), stale nonces
 * (438) and retransmission on timeout (s6.2.1: RTO doubling, Rc tries;
 * once on streams). Up to SIM_TXN_MAX requests are in flight; each keeps
 * its bytes so that a retransmission is the same message.
 *
 * A failure is recorded once in t->err as "<Method> failed: <code>
 * <reason>" and sets t->failed. The client is driven by one thread at a
 * time (setup, then its data thread); time comes in as now (ns).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim/sim.h"

enum peer_state { P_NEW, P_PERM_WAIT, P_CHAN, P_CHAN_WAIT, P_READY };

static const char *method_name(uint16_t m)
{
	switch (m) {
	case STUN_METHOD_ALLOCATE:
		return "Allocate";
	case STUN_METHOD_REFRESH:
		return "Refresh";
	case STUN_METHOD_CREATE_PERMISSION:
		return "CreatePermission";
	case STUN_METHOD_CHANNEL_BIND:
		return "ChannelBind";
	}
	return "request";
}

static uint64_t rnd(struct sim_turn *t)
{
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 0x2545F4914F6CDD1Dull;
}

__attribute__((format(printf, 2, 3))) static void fail(struct sim_turn *t,
                                                       const char *fmt, ...)
{
	va_list ap;

	if (t->failed)
		return;
	t->failed = true;
	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
}

void sim_turn_init(struct sim_turn *t, const struct sim_opts *o,
                   struct sim_conn *c, const char *name, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->o = o;
	t->conn = c;
	t->rng = seed * 0x9E3779B97F4A7C15ull + 1;
	t->lifetime_s = o->lifetime_s;
	snprintf(t->name, sizeof(t->name), "%s", name);
}

int sim_turn_add_peer(struct sim_turn *t, const struct sockaddr_storage *a,
                      uint16_t channel)
{
	struct sim_peer *p =
	        realloc(t->peers, sizeof(*p) * (size_t)(t->npeers + 1));

	if (!p)
		return -1;
	t->peers = p;
	p = &t->peers[t->npeers];
	memset(p, 0, sizeof(*p));
	p->addr = *a;
	p->channel = channel;
	p->state = P_NEW;
	return t->npeers++;
}

static struct sim_txn *free_slot(struct sim_turn *t)
{
	for (int i = 0; i < SIM_TXN_MAX; i++)
		if (!t->txn[i].method)
			return &t->txn[i];
	return NULL;
}

static bool peer_busy(const struct sim_turn *t, int peer)
{
	for (int i = 0; i < SIM_TXN_MAX; i++)
		if (t->txn[i].method && t->txn[i].peer == peer)
			return true;
	return false;
}

/* (Re)build x's request with a fresh transaction id. */
static int build(struct sim_turn *t, struct sim_txn *x, uint32_t lifetime)
{
	struct stun_builder b;
	uint64_t a = rnd(t), c = rnd(t);
	const struct sim_peer *p = x->peer >= 0 ? &t->peers[x->peer] : NULL;

	memcpy(x->tid, &a, 8);
	memcpy(x->tid + 8, &c, 4);
	stun_build_init(&b, x->req, sizeof(x->req), x->method,
	                STUN_CLASS_REQUEST, x->tid);
	switch (x->method) {
	case STUN_METHOD_ALLOCATE:
		stun_build_u32(&b, STUN_ATTR_REQUESTED_TRANSPORT,
		               (uint32_t)STUN_TRANSPORT_UDP << 24);
		stun_build_u32(&b, STUN_ATTR_LIFETIME, lifetime);
		break;
	case STUN_METHOD_REFRESH:
		stun_build_u32(&b, STUN_ATTR_LIFETIME, lifetime);
		break;
	case STUN_METHOD_CHANNEL_BIND:
		stun_build_u32(&b, STUN_ATTR_CHANNEL_NUMBER,
		               (uint32_t)p->channel << 16);
		/* fall through */
	case STUN_METHOD_CREATE_PERMISSION:
		stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS,
		                    (const struct sockaddr *)&p->addr);
		break;
	}
	x->auth = t->nonce_len > 0;
	if (x->auth) {
		stun_build_attr(&b, STUN_ATTR_USERNAME, t->o->user,
		                strlen(t->o->user));
		stun_build_attr(&b, STUN_ATTR_REALM, t->realm, t->realm_len);
		stun_build_attr(&b, STUN_ATTR_NONCE, t->nonce, t->nonce_len);
		stun_build_integrity(&b, t->key, t->key_len);
	}
	stun_build_fingerprint(&b);
	x->len = (uint16_t)stun_build_finish(&b);
	return x->len ? 0 : ENOSPC;
}

static void transmit(struct sim_turn *t, struct sim_txn *x, uint64_t now)
{
	unsigned shift = x->tries < 6 ? x->tries : 6;

	sim_conn_send(t->conn, x->req, x->len);
	if (x->tries)
		t->retransmits++;
	x->tries++;
	x->rto_at = now + ((uint64_t)t->o->rto_ms << shift) * 1000000ull;
}

static uint32_t txn_lifetime(const struct sim_turn *t, uint16_t method)
{
	return method == STUN_METHOD_ALLOCATE || method == STUN_METHOD_REFRESH
	               ? t->lifetime_s
	               : 0;
}

static void start(struct sim_turn *t, uint16_t method, int peer, uint64_t now)
{
	struct sim_txn *x = free_slot(t);

	if (!x)
		return;
	memset(x, 0, offsetof(struct sim_txn, req));
	x->method = method;
	x->peer = peer;
	if (build(t, x, txn_lifetime(t, method))) {
		x->method = 0;
		fail(t, "%s failed: request too large", method_name(method));
		return;
	}
	transmit(t, x, now);
}

void sim_turn_allocate(struct sim_turn *t, uint64_t now)
{
	t->alloc_started = true;
	start(t, STUN_METHOD_ALLOCATE, -1, now);
}

/* REALM and NONCE from a 401 or 438: 0, or EPROTO. */
static int learn(struct sim_turn *t, const struct stun_msg *m)
{
	const struct stun_attr *n = stun_msg_find(m, STUN_ATTR_NONCE);
	const struct stun_attr *r = stun_msg_find(m, STUN_ATTR_REALM);

	if (!n || n->len >= SIM_TEXT_MAX || (!r && !t->realm_len) ||
	    (r && r->len >= SIM_TEXT_MAX))
		return EPROTO;
	memcpy(t->nonce, n->value, n->len);
	t->nonce_len = n->len;
	if (!r ||
	    (r->len == t->realm_len && !memcmp(r->value, t->realm, r->len)))
		return 0;
	memcpy(t->realm, r->value, r->len);
	t->realm_len = r->len;
	return stun_long_term_key(STUN_PW_ALG_MD5, t->o->user,
	                          strlen(t->o->user), t->realm, t->realm_len,
	                          t->o->pass, strlen(t->o->pass), t->key,
	                          &t->key_len)
	               ? EPROTO
	               : 0;
}

static void on_error(struct sim_turn *t, struct sim_txn *x,
                     const struct stun_msg *m, uint64_t now)
{
	uint16_t code = 0;
	const char *reason = "";
	size_t rlen = 0;

	if (stun_msg_get_error(m, &code, &reason, &rlen)) {
		fail(t, "%s failed: error without ERROR-CODE",
		     method_name(x->method));
		x->method = 0;
		return;
	}
	if (!rlen) {
		reason = stun_error_reason(code);
		rlen = strlen(reason);
	}
	bool challenge = code == 401 && !x->auth;
	if ((challenge || code == 438) && x->auth_tries < 3 && !learn(t, m)) {
		x->auth_tries++;
		x->tries = 0;
		build(t, x, txn_lifetime(t, x->method));
		transmit(t, x, now);
		return;
	}
	fail(t, "%s failed: %u %.*s", method_name(x->method), code, (int)rlen,
	     reason);
	x->method = 0;
}

static void on_success(struct sim_turn *t, struct sim_txn *x,
                       const struct stun_msg *m, uint64_t now)
{
	uint32_t lt = t->lifetime_s;
	struct sim_peer *p = x->peer >= 0 ? &t->peers[x->peer] : NULL;

	switch (x->method) {
	case STUN_METHOD_ALLOCATE:
		if (stun_msg_get_xor_addr(m, STUN_ATTR_XOR_RELAYED_ADDRESS,
		                          &t->relayed)) {
			fail(t, "Allocate failed: no XOR-RELAYED-ADDRESS");
			break;
		}
		t->allocated = true;
		/* fall through */
	case STUN_METHOD_REFRESH:
		stun_msg_get_u32(m, STUN_ATTR_LIFETIME, &lt);
		t->lifetime_s = lt;
		t->alloc_due = now + (uint64_t)(lt ? lt : 600) * 500000000ull;
		t->refreshes += x->method == STUN_METHOD_REFRESH;
		break;
	case STUN_METHOD_CREATE_PERMISSION:
		p->perm_due = now + SIM_PERM_REFRESH_S * 1000000000ull;
		if (p->state == P_PERM_WAIT)
			p->state = P_CHAN;
		break;
	case STUN_METHOD_CHANNEL_BIND:
		p->chan_due = now + SIM_CHAN_REFRESH_S * 1000000000ull;
		p->state = P_READY;
		break;
	}
	x->method = 0;
}

void sim_turn_input(struct sim_turn *t, const uint8_t *buf, size_t len,
                    uint64_t now)
{
	struct stun_msg m;

	if (stun_msg_parse(&m, buf, len, NULL) || m.rfc3489)
		return;
	for (int i = 0; i < SIM_TXN_MAX; i++) {
		struct sim_txn *x = &t->txn[i];

		if (!x->method || x->method != m.method ||
		    memcmp(m.tid, x->tid, STUN_TID_LEN))
			continue;
		if (m.cls == STUN_CLASS_ERROR)
			on_error(t, x, &m, now);
		else if (m.cls == STUN_CLASS_SUCCESS)
			on_success(t, x, &m, now);
		return;
	}
}

static void next_steps(struct sim_turn *t, uint64_t now)
{
	if (t->allocated && now >= t->alloc_due && !peer_busy(t, -1)) {
		t->alloc_due = now + 5000000000ull; /* until the answer */
		start(t, STUN_METHOD_REFRESH, -1, now);
	}
	for (int i = 0; i < t->npeers && t->allocated; i++) {
		struct sim_peer *p = &t->peers[i];

		if (!free_slot(t))
			return;
		if (p->state == P_NEW) {
			p->state = P_PERM_WAIT;
			start(t, STUN_METHOD_CREATE_PERMISSION, i, now);
		} else if (p->state == P_CHAN) {
			p->state = P_CHAN_WAIT;
			start(t, STUN_METHOD_CHANNEL_BIND, i, now);
		} else if (p->state == P_READY && !peer_busy(t, i)) {
			if (now >= p->chan_due)
				start(t, STUN_METHOD_CHANNEL_BIND, i, now);
			else if (now >= p->perm_due)
				start(t, STUN_METHOD_CREATE_PERMISSION, i, now);
		}
	}
}

void sim_turn_tick(struct sim_turn *t, uint64_t now)
{
	if (t->failed)
		return;
	for (int i = 0; i < SIM_TXN_MAX; i++) {
		struct sim_txn *x = &t->txn[i];

		if (!x->method || now < x->rto_at)
			continue;
		if (x->tries >= t->o->max_tries) {
			fail(t, "%s failed: timeout after %d tries",
			     method_name(x->method), x->tries);
			x->method = 0;
			return;
		}
		if (t->conn->tr == SIM_UDP)
			transmit(t, x, now);
		else /* reliable: wait as long as the retransmits would */
			x->rto_at =
			        now + ((uint64_t)t->o->rto_ms << x->tries++) *
			                      1000000ull;
	}
	next_steps(t, now);
}

bool sim_turn_ready(const struct sim_turn *t)
{
	if (!t->allocated || t->failed)
		return false;
	for (int i = 0; i < t->npeers; i++)
		if (t->peers[i].state != P_READY)
			return false;
	return true;
}

void sim_turn_free(struct sim_turn *t)
{
	struct sim_txn *x = &t->txn[0];

	if (!t->allocated || !t->conn || t->conn->fd < 0)
		return;
	memset(x, 0, offsetof(struct sim_txn, req));
	x->method = STUN_METHOD_REFRESH;
	x->peer = -1;
	if (!build(t, x, 0))
		sim_conn_send(t->conn, x->req, x->len);
	x->method = 0;
	t->allocated = false;
}
