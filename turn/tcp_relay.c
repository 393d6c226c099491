/*
 * turn/tcp_relay.c - TCP relay allocations (RFC 6062): Connect (s5.2),
 * incoming peer connections and ConnectionAttempt (s5.3), ConnectionBind
 * (s5.4) and the life of a peer connection (s5.5).
 *
 * A peer connection (struct turn_tconn) belongs to a TCP allocation and is
 * CONNECTING (a Connect waiting for the edge's TCP_CONNECT result),
 * PENDING (connected, waiting up to 30 s for a ConnectionBind) or BOUND
 * (the edge pumps bytes between it and a client data connection). The core
 * never sees those bytes. Connections are keyed by CONNECTION-ID, whose
 * top 8 bits name the worker that owns the allocation, so a ConnectionBind
 * that lands on another worker is handed over (TCP_HANDOFF). The edge
 * keeps its sockets by the same id; the core holds no edge pointer. Owned
 * by the allocation: releasing it closes them all (TCP_CLOSE). Pure.
 */
#include "turn/turn_int.h"

#include <stdlib.h>
#include <string.h>

enum { TCONN_CONNECTING = 0, TCONN_PENDING, TCONN_BOUND };

struct turn_tconn {
	struct turn_hnode node;         /* s->tconns by id */
	struct turn_tconn *next, *prev; /* the allocation's */
	struct turn_alloc *alloc;
	struct turn_timer timer;
	union turn_addr peer;
	uint32_t id;
	uint8_t state;
	uint8_t tid[STUN_TID_LEN]; /* of the Connect */
	struct turn_signer sig;    /* to answer the Connect */
};

/* The edge may take up to TURN_TCP_CONNECT_TIMEOUT_S; this is a backstop. */
#define CONNECT_BACKSTOP_MS ((TURN_TCP_CONNECT_TIMEOUT_S + 5) * 1000ull)
#define BIND_TIMEOUT_MS     (TURN_TCP_BIND_TIMEOUT_S * 1000ull)

static uint64_t id_hash(struct turn_server *s, uint32_t id)
{
	return turn_hash(s->hkey, &id, sizeof(id));
}

static struct turn_tconn *find(struct turn_server *s, uint32_t id)
{
	uint64_t h = id_hash(s, id);

	for (struct turn_hnode *n = turn_htab_head(&s->tconns, h); n;
	     n = n->next) {
		struct turn_tconn *c =
		        TURN_CONTAINER(n, struct turn_tconn, node);
		if (n->hash == h && c->id == id)
			return c;
	}
	return NULL;
}

static struct turn_tconn *find_peer(struct turn_alloc *a,
                                    const union turn_addr *peer)
{
	for (struct turn_tconn *c = a->tconns; c; c = c->next)
		if (turn_addr_equal(&c->peer, peer))
			return c;
	return NULL;
}

static void push_close(struct turn_server *s, uint32_t id)
{
	struct turn_action *act = turn_act_push(s->out, TURN_ACT_TCP_CLOSE);

	if (act)
		act->conn_id = id;
}

/* Unlink and free; with close_edge the edge closes its sockets too. */
static void tconn_free(struct turn_tconn *c, bool close_edge)
{
	struct turn_alloc *a = c->alloc;
	struct turn_server *s = a->s;

	if (close_edge)
		push_close(s, c->id);
	turn_wheel_cancel(&c->timer);
	turn_htab_remove(&s->tconns, &c->node);
	if (c->prev)
		c->prev->next = c->next;
	else
		a->tconns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	a->ntconns--;
	if (s->stats.tcp_conns)
		s->stats.tcp_conns--;
	free(c);
}

static void log_conn(struct turn_tconn *c, const char *what)
{
	char peer[64];

	turn_addr_str(&c->peer, peer, sizeof(peer));
	turn_log(c->alloc->s, "tcp relay connection %08x %s: user=%s peer=%s",
	         c->id, what, c->alloc->qkey ? c->alloc->qkey : "-", peer);
}

static void on_timer(void *arg, uint64_t now_ms)
{
	struct turn_tconn *c = arg;
	struct turn_server *s = c->alloc->s;

	(void)now_ms;
	if (c->state == TCONN_PENDING) {
		s->stats.tcp_bind_timeouts++;
		log_conn(c, "not bound in 30 s");
	}
	tconn_free(c, true);
}

static struct turn_tconn *tconn_new(struct turn_alloc *a,
                                    const union turn_addr *peer, uint8_t state)
{
	struct turn_server *s = a->s;
	struct turn_tconn *c;
	uint32_t id = 0;

	if (a->ntconns >= TURN_MAX_TCONNS)
		return NULL;
	for (int i = 0; i < 16 && !id; i++) {
		id = ((uint32_t)s->cfg.worker_index << 24) |
		     (turn_rng(s) & 0xFFFFFF);
		if ((id & 0xFFFFFF) == 0 || find(s, id))
			id = 0;
	}
	if (!id || !(c = calloc(1, sizeof(*c))))
		return NULL;
	c->alloc = a;
	c->id = id;
	c->peer = *peer;
	c->state = state;
	turn_timer_init(&c->timer, on_timer, c);
	turn_htab_insert(&s->tconns, &c->node, id_hash(s, id));
	c->next = a->tconns;
	if (a->tconns)
		a->tconns->prev = c;
	a->tconns = c;
	a->ntconns++;
	s->stats.tcp_conns++;
	s->stats.tcp_conns_created++;
	return c;
}

static void arm(struct turn_tconn *c, uint64_t after_ms)
{
	struct turn_server *s = c->alloc->s;

	turn_wheel_add(s->wheel, &c->timer, s->now_ms + after_ms);
}

void turn_tcp_release_all(struct turn_alloc *a)
{
	while (a->tconns)
		tconn_free(a->tconns, true);
}

static void answer_connect(struct turn_tconn *c, uint16_t code);

uint32_t turn_tcp_withdraw(struct turn_alloc *a, size_t keep, bool *more)
{
	struct turn_server *s = a->s;
	uint32_t n = 0;

	for (struct turn_tconn *c = a->tconns, *next; c; c = next) {
		next = c->next;
		if (!turn_peer_denied(s, &c->peer.sa))
			continue;
		/* TCP_CLOSE, and a 403 for a Connect still waiting */
		if (s->out->n + keep + 2 >= TURN_ACTIONS_MAX ||
		    s->out->used + 2 * TURN_RESP_CAP > TURN_SCRATCH_LEN) {
			*more = true;
			break;
		}
		if (c->state == TCONN_CONNECTING)
			answer_connect(c, 403);
		tconn_free(c, true);
		s->stats.tcp_conns_withdrawn++;
		n++;
	}
	return n;
}

/* --- Connect (s5.2) ------------------------------------------------------ */

/* The answer to the Connect of c: success with CONNECTION-ID, or code. */
static void answer_connect(struct turn_tconn *c, uint16_t code)
{
	struct turn_alloc *a = c->alloc;
	struct turn_server *s = a->s;
	struct stun_builder b;

	if (code)
		s->stats.responses_error[STUN_METHOD_CONNECT]++;
	turn_count_response(s, STUN_METHOD_CONNECT, code);
	if (!turn_resp_begin(s->out, &b, STUN_METHOD_CONNECT,
	                     code ? STUN_CLASS_ERROR : STUN_CLASS_SUCCESS,
	                     c->tid))
		return;
	if (code)
		stun_build_error(&b, code, NULL);
	else
		stun_build_u32(&b, STUN_ATTR_CONNECTION_ID, c->id);
	turn_resp_send(s, s->out, &a->tuple, &c->sig, &b);
}

/* The relayed address of a with its port: where connections come from. */
static void relayed_local(const struct turn_alloc *a, union turn_addr *out)
{
	const struct turn_relay *rl = &a->relay[0];

	*out = a->s->cfg.relay_ips[rl->ip_index].local;
	if (out->sa.sa_family == AF_INET)
		out->in4.sin_port = htons(rl->port);
	else
		out->in6.sin6_port = htons(rl->port);
}

/* s5.2 checks in the RFC's order; 0 or the error code. The list has no
 * permission check: a Connect reaches any peer the policy allows (403 only
 * from turn_peer_check), as coturn does. Peers connecting in still need a
 * permission (turn_tcp_incoming, s5.3). */
static uint16_t connect_args(struct turn_req *r, union turn_addr *peer)
{
	struct sockaddr_storage ss;

	if (!r->alloc->tcp)
		return 400; /* Connect on a UDP allocation */
	if (stun_msg_get_xor_addr(r->m, STUN_ATTR_XOR_PEER_ADDRESS, &ss) != 0)
		return 400;
	turn_addr_copy(peer, (struct sockaddr *)&ss);
	if (find_peer(r->alloc, peer))
		return 446;
	return turn_peer_check(r, &peer->sa, true);
}

void turn_connect_request(struct turn_req *r)
{
	union turn_addr peer, *to;
	struct turn_tconn *c;
	struct turn_action *act;
	uint16_t code = connect_args(r, &peer);

	if (code) {
		turn_resp_error(r, code);
		return;
	}
	to = turn_scratch(r->out, sizeof(*to));
	if (!to || !(c = tconn_new(r->alloc, &peer, TCONN_CONNECTING))) {
		turn_resp_error(r, 508);
		return;
	}
	*to = peer;
	memcpy(c->tid, r->m->tid, STUN_TID_LEN);
	c->sig = r->sig;
	arm(c, CONNECT_BACKSTOP_MS);
	if (!(act = turn_act_push(r->out, TURN_ACT_TCP_CONNECT))) {
		tconn_free(c, false);
		return;
	}
	act->alloc = r->alloc;
	act->conn_id = c->id;
	act->peer = to;
	relayed_local(r->alloc, &act->bind);
}

void turn_tcp_connect_result(struct turn_server *s, uint32_t id, int err)
{
	struct turn_tconn *c = find(s, id);

	if (!c || c->state != TCONN_CONNECTING) {
		if (!err)
			push_close(s, id); /* the Connect is over: drop it */
		return;
	}
	if (err) {
		s->stats.tcp_connect_failures++;
		log_conn(c, "connect failed");
		answer_connect(c, 447);
		tconn_free(c, false);
		return;
	}
	c->state = TCONN_PENDING;
	arm(c, BIND_TIMEOUT_MS);
	answer_connect(c, 0);
	log_conn(c, "connected");
}

/* --- incoming peer connections (s5.3) ----------------------------------- */

static void connection_attempt(struct turn_tconn *c)
{
	struct turn_alloc *a = c->alloc;
	struct turn_server *s = a->s;
	struct turn_signer none = {.authed = false};
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN];

	for (int i = 0; i < STUN_TID_LEN; i += 4) {
		uint32_t x = turn_rng(s);
		memcpy(tid + i, &x, 4);
	}
	if (!turn_resp_begin(s->out, &b, STUN_METHOD_CONNECTION_ATTEMPT,
	                     STUN_CLASS_INDICATION, tid))
		return;
	stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &c->peer.sa);
	stun_build_u32(&b, STUN_ATTR_CONNECTION_ID, c->id);
	turn_resp_send(s, s->out, &a->tuple, &none, &b);
}

uint32_t turn_tcp_incoming(struct turn_server *s, struct turn_alloc *a,
                           const union turn_addr *peer)
{
	struct turn_tconn *c;

	if (a->state != ALLOC_ACTIVE || !a->tcp)
		return 0;
	if (!turn_perm_find(s, a, &peer->sa, s->now_ms)) {
		s->stats.drop_no_permission++;
		return 0;
	}
	if (turn_cluster_peer_denied(s, &peer->sa)) {
		s->stats.drop_denied_peer++;
		return 0;
	}
	if (!(c = tconn_new(a, peer, TCONN_PENDING)))
		return 0;
	arm(c, BIND_TIMEOUT_MS);
	connection_attempt(c);
	log_conn(c, "accepted");
	return c->id;
}

/* --- ConnectionBind (s5.4) ----------------------------------------------- */

static bool stream(const struct turn_tuple *t)
{
	return t->transport == TURN_TRANSPORT_TCP ||
	       t->transport == TURN_TRANSPORT_TLS;
}

static bool conn_id_of(const struct stun_msg *m, uint32_t *id)
{
	return stun_msg_get_u32(m, STUN_ATTR_CONNECTION_ID, id) == 0;
}

bool turn_tcp_handoff(struct turn_req *r)
{
	struct turn_server *s = r->s;
	struct turn_tuple *t;
	struct turn_action *act;
	uint32_t id;

	if (!stream(r->from) || !conn_id_of(r->m, &id))
		return false;
	unsigned w = TURN_TCP_CONN_WORKER(id);
	if (w == s->cfg.worker_index || w >= s->cfg.nworkers)
		return false; /* ours, or unknown: answered here */
	t = turn_scratch(r->out, sizeof(*t));
	if (!t || !(act = turn_act_push(r->out, TURN_ACT_TCP_HANDOFF)))
		return true;
	*t = *r->from;
	act->tuple = t;
	act->worker = w;
	act->conn_id = id;
	act->data = r->m->buf;
	act->len = r->m->len;
	return true;
}

const union turn_addr *turn_tcp_control_addr(struct turn_server *s,
                                             const struct stun_msg *m)
{
	struct turn_tconn *c;
	uint32_t id;

	if (!conn_id_of(m, &id) || !(c = find(s, id)))
		return NULL;
	return &c->alloc->tuple.client;
}

void turn_connection_bind_request(struct turn_req *r)
{
	struct turn_server *s = r->s;
	struct turn_tconn *c = NULL;
	struct turn_tuple *t;
	struct turn_action *act;
	uint32_t id;

	/* Only on a new stream connection: not UDP, not a control one. */
	if (stream(r->from) && !r->alloc && conn_id_of(r->m, &id))
		c = find(s, id);
	if (!c || c->state != TCONN_PENDING) {
		turn_resp_error(r, 400);
		return;
	}
	if (c->alloc->user_hash != r->user_hash) {
		turn_resp_error(r, 441);
		return;
	}
	t = turn_scratch(r->out, sizeof(*t));
	if (!t) {
		turn_resp_error(r, 508);
		return;
	}
	*t = *r->from;
	c->state = TCONN_BOUND;
	turn_wheel_cancel(&c->timer);
	turn_resp_ok(r, false, 0);
	if ((act = turn_act_push(r->out, TURN_ACT_TCP_BIND_DATA))) {
		act->conn_id = id;
		act->tuple = t;
	}
	log_conn(c, "bound");
}

void turn_tcp_closed(struct turn_server *s, uint32_t id, uint64_t to_peer,
                     uint64_t to_client)
{
	struct turn_tconn *c = find(s, id);

	if (!c)
		return;
	c->alloc->bytes[0] += to_peer;
	c->alloc->bytes[1] += to_client;
	s->stats.tcp_to_peer_bytes += to_peer;
	s->stats.tcp_to_client_bytes += to_client;
	tconn_free(c, false);
}
