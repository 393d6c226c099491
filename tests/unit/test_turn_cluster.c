/*
 * tests/unit/test_turn_cluster.c - what the TURN core does for a cluster
 * (turn/cluster.c) against the fake edge of turn_harness.h: the parked
 * Allocate of the cluster quota (granted, denied, decided locally,
 * retransmitted, expired, late answers), the QUOTA_RELEASE sent exactly
 * once on every way an allocation ends, the ALLOC_EVENTs for the Redis
 * records with turn_alloc_describe(), and 300 Try Alternate with
 * ALTERNATE-SERVER / ALTERNATE-DOMAIN for a draining or full node.
 */
#include "tests/unit/turn_harness.h"

#define PEER "198.51.100.7"

static struct turn_tuple A, B, A6, T;

/* What the fake edge saw of the cluster actions. */
static struct {
	bool manual; /* leave QUOTA_CHECK unanswered */
	enum turn_quota_answer ans;
	unsigned checks, releases, events[3];
	uint32_t token;
	char qkey[64], realm[64], rel_qkey[64], rel_realm[64], reason[64];
	enum turn_alloc_event last;
	struct turn_alloc_view view; /* of the last ALLOC_EVENT */
	struct turn_alloc *alloc;    /* of the last QUOTA_CHECK */
} R;

static void setup(void)
{
	memset(&R, 0, sizeof(R));
	A = h_tuple("192.0.2.10", 40000);
	B = h_tuple("192.0.2.11", 40001);
	A6 = h_tuple("2001:db8::10", 40003);
	T = h_tuple("192.0.2.13", 40004);
	T.transport = TURN_TRANSPORT_TCP;
	T.conn = 7;
}

static void on_cluster(struct h *h, const struct turn_action *a)
{
	switch (a->kind) {
	case TURN_ACT_QUOTA_CHECK:
		R.checks++;
		R.token = a->token;
		R.alloc = a->alloc;
		snprintf(R.qkey, sizeof(R.qkey), "%s", a->qkey);
		snprintf(R.realm, sizeof(R.realm), "%s", a->realm);
		if (!R.manual)
			turn_server_quota_result(h->s, a->token, R.ans,
			                         h->now_ms, h->now_s, &h->out);
		break;
	case TURN_ACT_QUOTA_RELEASE:
		R.releases++;
		snprintf(R.rel_qkey, sizeof(R.rel_qkey), "%s", a->qkey);
		snprintf(R.rel_realm, sizeof(R.rel_realm), "%s", a->realm);
		break;
	case TURN_ACT_ALLOC_EVENT:
		ck_assert_uint_lt(a->event, 3);
		R.events[a->event]++;
		R.last = a->event;
		snprintf(R.reason, sizeof(R.reason), "%s",
		         a->reason ? a->reason : "(null)");
		turn_alloc_describe(a->alloc, &R.view);
		break;
	default:
		ck_abort_msg("not a cluster action");
	}
}

/* A server with the cluster quota and events on (as the Redis edge runs
 * it), a local user quota of uq. */
static struct h *cl_start(uint32_t uq, bool quota, bool events)
{
	struct h *h = h_new();

	h->cfg.cluster_quota = quota;
	h->cfg.alloc_events = events;
	h->cluster_fn = on_cluster;
	h_start(h, uq, 0);
	return h;
}

/* Nonces are bound to the client's address: a fresh one for t. */
static int alloc_on(struct h *h, const struct turn_tuple *t)
{
	h_challenge(h, t);
	return h_allocate(h, t);
}

/* Parse the last SEND_CLIENT of the last call into h->resp. */
static void last_resp(struct h *h)
{
	const struct h_sent *e = h_last(h, TURN_ACT_SEND_CLIENT);

	memset(&h->resp, 0, sizeof(h->resp));
	if (!e)
		return;
	memcpy(h->resp_buf, e->data, e->len);
	ck_assert_int_eq(stun_msg_parse(&h->resp, h->resp_buf, e->len, NULL),
	                 0);
}

/* The edge's answer to a QUOTA_CHECK, as if Redis replied now. */
static void answer(struct h *h, uint32_t token, enum turn_quota_answer ans)
{
	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_quota_result(h->s, token, ans, h->now_ms, h->now_s,
	                         &h->out);
	h_run(h);
	last_resp(h);
}

/* The Allocate again with the same transaction id. */
static void retransmit(struct h *h, const struct turn_tuple *t)
{
	struct stun_builder b;

	h_begin_same(h, &b, STUN_METHOD_ALLOCATE);
	h_transport(&b, STUN_TRANSPORT_UDP);
	h_sign(h, &b);
	h_send(h, &b, t);
}

/* ---- the cluster quota --------------------------------------------------- */

START_TEST(test_turn_cluster_quota_granted)
{
	struct h *h = cl_start(2, true, false);

	R.ans = TURN_QUOTA_GRANTED;
	ck_assert_int_eq(alloc_on(h, &A), 0);
	ck_assert_int_eq(stun_check_integrity(&h->resp, h->key, h->key_len), 0);
	ck_assert_uint_eq(R.checks, 1);
	ck_assert_str_eq(R.qkey, H_USER);
	ck_assert_str_eq(R.realm, H_REALM);
	ck_assert_uint_eq(h->opens, 1);
	ck_assert_uint_eq(turn_quota_total(h->quota), 1);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 1);
	/* the QUOTA_CHECK came before the OPEN_RELAY, in the same call */
	ck_assert_ptr_eq(R.alloc, h->alloc);
	ck_assert_int_eq(h_refresh(h, &A, 0), 0);
	ck_assert_uint_eq(R.releases, 1);
	ck_assert_str_eq(R.rel_qkey, H_USER);
	ck_assert_str_eq(R.rel_realm, H_REALM);
	ck_assert_uint_eq(turn_quota_total(h->quota), 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_cluster_quota_denied)
{
	struct h *h = cl_start(2, true, true);
	struct turn_tuple t;
	const struct turn_stats *st = turn_server_stats(h->s);

	R.ans = TURN_QUOTA_DENIED;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(alloc_on(h, &A), 486);
		/* signed like every authenticated error */
		ck_assert_int_eq(
		        stun_check_integrity(&h->resp, h->key, h->key_len), 0);
		ck_assert(memcmp(h->resp.tid, h->tid, STUN_TID_LEN) == 0);
	}
	ck_assert_uint_eq(R.checks, 3);
	ck_assert_uint_eq(h->opens, 0);
	ck_assert_uint_eq(R.releases, 0); /* no slot was granted */
	ck_assert_uint_eq(R.events[TURN_ALLOC_CREATED], 0);
	ck_assert_uint_eq(R.events[TURN_ALLOC_DELETED], 0);
	ck_assert_uint_eq(turn_quota_total(h->quota), 0); /* local slot back */
	ck_assert_uint_eq(st->quota_rejects, 3);
	ck_assert_uint_eq(st->cluster_quota_denied, 3);
	ck_assert_uint_eq(
	        st->responses[STUN_METHOD_ALLOCATE][turn_code_slot(486)], 3);
	ck_assert_uint_eq(st->allocations, 0);
	h_free(h);

	/* the relay ports go back too: all 10 can still be had after */
	memset(&R, 0, sizeof(R));
	h = cl_start(0, true, false);
	R.ans = TURN_QUOTA_DENIED;
	for (int i = 0; i < 12; i++) {
		t = h_tuple("192.0.2.50", (uint16_t)(41000 + i));
		ck_assert_int_eq(alloc_on(h, &t), 486);
	}
	R.ans = TURN_QUOTA_GRANTED;
	for (int i = 0; i < 10; i++) {
		t = h_tuple("192.0.2.50", (uint16_t)(42000 + i));
		ck_assert_int_eq(alloc_on(h, &t), 0);
	}
	t = h_tuple("192.0.2.50", 43000);
	ck_assert_int_eq(alloc_on(h, &t), 508); /* now the ports are out */
	ck_assert_uint_eq(R.checks, 12 + 10);   /* the 508 came before it */
	/* and that 508 after no check released nothing */
	ck_assert_uint_eq(R.releases, 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_cluster_quota_local)
{
	struct h *h = cl_start(2, true, false);

	R.ans = TURN_QUOTA_LOCAL;
	ck_assert_int_eq(alloc_on(h, &A), 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->cluster_quota_local, 1);
	ck_assert_uint_eq(turn_quota_total(h->quota), 1);
	/* the local quota still counts while Redis is away */
	ck_assert_int_eq(alloc_on(h, &B), 0);
	struct turn_tuple c = h_tuple("192.0.2.12", 40002);
	ck_assert_int_eq(alloc_on(h, &c), 486);
	ck_assert_uint_eq(R.checks, 2); /* the local 486 asks no one */
	h_challenge(h, &A);
	ck_assert_int_eq(h_refresh(h, &A, 0), 0);
	h_at(h, 601 * 1000); /* B expires */
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 0);
	ck_assert_uint_eq(R.releases, 0); /* no cluster slot was held */
	h_free(h);
}
END_TEST

START_TEST(test_turn_cluster_quota_off)
{
	struct h *h = cl_start(0, false, false);

	ck_assert_int_eq(alloc_on(h, &A), 0);
	ck_assert_int_eq(h_refresh(h, &A, 600), 0);
	ck_assert_int_eq(h_refresh(h, &A, 0), 0);
	ck_assert_uint_eq(R.checks + R.releases, 0);
	ck_assert_uint_eq(R.events[0] + R.events[1] + R.events[2], 0);
	ck_assert_uint_eq(h->opens, 1);
	h_free(h);
}
END_TEST

/* ---- the parked Allocate ------------------------------------------------- */

START_TEST(test_turn_cluster_parked_absorbs_retransmits)
{
	struct h *h = cl_start(0, true, true);
	uint8_t tid[STUN_TID_LEN];
	uint16_t port;

	R.manual = true;
	ck_assert_int_eq(alloc_on(h, &A), -1); /* parked: no answer yet */
	memcpy(tid, h->tid, sizeof(tid));
	ck_assert_uint_eq(R.checks, 1);
	ck_assert_uint_eq(h->opens, 0);
	for (int i = 0; i < 3; i++) {
		retransmit(h, &A);
		ck_assert_uint_eq(h->nsent, 0);
		ck_assert_uint_eq(h->out.n, 0);
	}
	ck_assert_uint_eq(R.checks, 1);
	/* another request on the tuple meanwhile: no allocation yet */
	ck_assert_int_eq(h_refresh(h, &A, 600), 437);
	/* a relay result with the quota token is not the quota answer */
	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_relay_result(h->s, R.token, 0, (void *)0x77, h->now_ms,
	                         h->now_s, &h->out);
	h_run(h);
	ck_assert_uint_eq(h->closes, 1);
	ck_assert_ptr_eq(h->closed[0], (void *)0x77);
	ck_assert_uint_eq(h->nsent, 0);

	answer(h, R.token, TURN_QUOTA_GRANTED);
	ck_assert_int_eq(h_code(h), 0);
	ck_assert_int_eq(stun_check_integrity(&h->resp, h->key, h->key_len), 0);
	ck_assert(memcmp(h->resp.tid, tid, STUN_TID_LEN) == 0);
	ck_assert_uint_eq(h->opens, 1);
	ck_assert_uint_eq(R.events[TURN_ALLOC_CREATED], 1);
	port = h_relay_port(h);
	/* the same answer again once active, not a second allocation */
	memcpy(h->tid, tid, sizeof(tid));
	retransmit(h, &A);
	ck_assert_int_eq(h_code(h), 0);
	ck_assert_uint_eq(h_relay_port(h), port);
	ck_assert_uint_eq(h->opens, 1);
	ck_assert_uint_eq(R.checks, 1);
	/* a second answer to the same token is ignored */
	answer(h, R.token, TURN_QUOTA_DENIED);
	ck_assert_uint_eq(h->out.n, 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_cluster_parked_expires)
{
	struct h *h = cl_start(1, true, true);
	uint32_t token;

	R.manual = true;
	ck_assert_int_eq(alloc_on(h, &A), -1);
	token = R.token;
	ck_assert_uint_eq(turn_quota_total(h->quota), 1);
	h_at(h, 29 * 1000);
	ck_assert_uint_eq(h->nsent, 0);
	ck_assert_uint_eq(turn_quota_total(h->quota), 1);
	h_at(h, 30 * 1000 + 1);
	ck_assert_uint_eq(h->nsent, 0); /* dropped with no answer */
	ck_assert_uint_eq(turn_quota_total(h->quota), 0);
	ck_assert_uint_eq(R.events[TURN_ALLOC_DELETED], 0);
	ck_assert_uint_eq(R.releases, 0);
	/* the late answer: ignored (the edge gives its slot back) */
	answer(h, token, TURN_QUOTA_GRANTED);
	ck_assert_uint_eq(h->out.n, 0);
	/* unknown tokens too */
	answer(h, token + 1000, TURN_QUOTA_GRANTED);
	answer(h, 0, TURN_QUOTA_DENIED);
	ck_assert_uint_eq(h->out.n, 0);
	ck_assert_uint_eq(h->opens, 0);
	/* the client tries again: parked again, then granted */
	ck_assert_int_eq(alloc_on(h, &A), -1);
	ck_assert_uint_ne(R.token, token);
	answer(h, R.token, TURN_QUOTA_GRANTED);
	ck_assert_int_eq(h_code(h), 0);
	ck_assert_uint_eq(turn_quota_total(h->quota), 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_cluster_parked_client_gone)
{
	struct h *h = cl_start(0, true, true);

	R.manual = true;
	h_challenge(h, &T);
	ck_assert_int_eq(h_allocate(h, &T), -1);
	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_conn_closed(h->s, &T, &h->out);
	h_run(h);
	/* Redis answers after the connection went: nothing, no release */
	answer(h, R.token, TURN_QUOTA_GRANTED);
	ck_assert_uint_eq(h->out.n, 0);
	ck_assert_uint_eq(h->opens, 0);
	ck_assert_uint_eq(R.releases, 0);
	ck_assert_uint_eq(R.events[TURN_ALLOC_DELETED], 0);
	h_free(h);
}
END_TEST

/* ---- QUOTA_RELEASE exactly once, ALLOC_EVENT deleted, each way ---------- */

enum way {
	WAY_EXPIRY,
	WAY_EXPIRED_ON_LOOKUP,
	WAY_REFRESH_0,
	WAY_CONN_CLOSED,
	WAY_KICK,
	WAY_BIND_FAILED,
	WAY_BIND_TIMEOUT,
	WAY_DUAL_REFRESH_0,
	WAY_COUNT
};

static const struct {
	const char *name;
	const char *reason; /* of the DELETED event; NULL: never created */
} ways[WAY_COUNT] = {
        [WAY_EXPIRY] = {"expiry", "expired"},
        [WAY_EXPIRED_ON_LOOKUP] = {"expired on lookup", "expired"},
        [WAY_REFRESH_0] = {"refresh 0", "refresh 0"},
        [WAY_CONN_CLOSED] = {"conn closed", "connection closed"},
        [WAY_KICK] = {"kick", "kicked"},
        [WAY_BIND_FAILED] = {"bind failed after grant", NULL},
        [WAY_BIND_TIMEOUT] = {"bind timeout after grant", NULL},
        [WAY_DUAL_REFRESH_0] = {"dual-stack refresh 0", "refresh 0"},
};

static int allocate_dual(struct h *h, const struct turn_tuple *t)
{
	struct stun_builder b;
	uint8_t v[4] = {STUN_FAMILY_IPV6, 0, 0, 0};

	h_challenge(h, t);
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_UDP);
	stun_build_attr(&b, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, v, 4);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

static void end_it(struct h *h, enum way w, const struct turn_tuple *t)
{
	switch (w) {
	case WAY_EXPIRY:
		h_at(h, 600 * 1000);
		break;
	case WAY_EXPIRED_ON_LOOKUP:
		h->now_ms =
		        H_MS0 + 600 * 1000; /* no tick: the lookup sees it */
		h->now_s = H_S0 + 600;
		ck_assert_int_eq(h_refresh(h, t, 600), 437);
		break;
	case WAY_REFRESH_0:
	case WAY_DUAL_REFRESH_0:
		ck_assert_int_eq(h_refresh(h, t, 0), 0);
		break;
	case WAY_CONN_CLOSED:
		h_clear(h);
		turn_actions_reset(&h->out);
		turn_server_conn_closed(h->s, t, &h->out);
		h_run(h);
		break;
	case WAY_KICK:
		h_clear(h);
		turn_actions_reset(&h->out);
		ck_assert_int_eq(turn_server_kick(h->s, R.view.info.serial,
		                                  h->now_ms, &h->out),
		                 0);
		h_run(h);
		break;
	case WAY_BIND_FAILED:
	case WAY_BIND_TIMEOUT:
	case WAY_COUNT:
		break;
	}
}

START_TEST(test_turn_cluster_release_once_each_way)
{
	enum way w = (enum way)_i;
	struct h *h = h_new();
	const struct turn_tuple *t = w == WAY_CONN_CLOSED ? &T : &A;
	int code;

	h->cfg.cluster_quota = true;
	h->cfg.alloc_events = true;
	h->cluster_fn = on_cluster;
	if (w == WAY_DUAL_REFRESH_0)
		h_add_v6(&h->cfg);
	h_start(h, 3, 0);
	R.ans = TURN_QUOTA_GRANTED;
	if (w == WAY_BIND_FAILED) {
		h->relay_errs[0] = EACCES;
		h->nrelay_errs = 1;
	}
	h->manual_relay = w == WAY_BIND_TIMEOUT;
	if (w == WAY_DUAL_REFRESH_0)
		code = allocate_dual(h, t);
	else
		code = alloc_on(h, t);
	ck_assert_uint_eq(R.checks, 1);
	ck_assert_uint_eq(R.releases, w == WAY_BIND_FAILED);
	if (w == WAY_BIND_FAILED) {
		ck_assert_int_eq(code, 508);
	} else if (w == WAY_BIND_TIMEOUT) {
		ck_assert_int_eq(code, -1);
		h_at(h, 30 * 1000 + 1);
		ck_assert_uint_eq(h->nsent, 0);
	} else {
		ck_assert_int_eq(code, 0);
		ck_assert_uint_eq(R.events[TURN_ALLOC_CREATED], 1);
		if (w == WAY_DUAL_REFRESH_0)
			ck_assert_int_eq(R.view.info.relay[1].sa.sa_family,
			                 AF_INET6);
		ck_assert_uint_eq(R.releases, 0);
		end_it(h, w, t);
	}
	ck_assert_msg(R.releases == 1, "%s: %u releases", ways[w].name,
	              R.releases);
	ck_assert_str_eq(R.rel_qkey, H_USER);
	ck_assert_str_eq(R.rel_realm, H_REALM);
	ck_assert_uint_eq(turn_quota_total(h->quota), 0);
	if (ways[w].reason) {
		ck_assert_uint_eq(R.events[TURN_ALLOC_DELETED], 1);
		ck_assert_str_eq(R.reason, ways[w].reason);
		ck_assert(!R.view.active);
	} else {
		ck_assert_uint_eq(R.events[TURN_ALLOC_CREATED], 0);
		ck_assert_uint_eq(R.events[TURN_ALLOC_DELETED], 0);
	}
	/* nothing that happens afterwards releases it again */
	h_at(h, 700 * 1000);
	h_at(h, 4000 * 1000);
	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_conn_closed(h->s, t, &h->out);
	h_run(h);
	ck_assert_int_eq(turn_server_kick(h->s, 1, h->now_ms, &h->out), ENOENT);
	ck_assert_uint_eq(R.releases, 1);
	ck_assert_uint_le(R.events[TURN_ALLOC_DELETED], 1);
	/* a new allocation takes a new slot and gives it back in turn */
	h->manual_relay = false;
	ck_assert_int_eq(alloc_on(h, &B), 0);
	ck_assert_uint_eq(R.checks, 2);
	ck_assert_int_eq(h_refresh(h, &B, 0), 0);
	ck_assert_uint_eq(R.releases, 2);
	h_free(h);
}
END_TEST

/* Many allocations ending in one tick: none of their releases is lost to
 * a full action list (the rest end on the next tick). */
START_TEST(test_turn_cluster_release_mass_expiry)
{
	struct h *h = h_new();
	struct turn_tuple t;
	const unsigned n = 40;

	h->cfg.cluster_quota = true;
	h->cfg.alloc_events = true;
	h->cfg.min_port = 50000;
	h->cfg.max_port = 50099;
	h->cluster_fn = on_cluster;
	h_start(h, 0, 0);
	R.ans = TURN_QUOTA_GRANTED;
	for (unsigned i = 0; i < n; i++) {
		t = h_tuple("192.0.2.60", (uint16_t)(41000 + i));
		ck_assert_int_eq(alloc_on(h, &t), 0);
	}
	ck_assert_uint_eq(R.events[TURN_ALLOC_CREATED], n);
	/* the tick at which they all expire ends as many as fit */
	h_at(h, 600 * 1000);
	ck_assert_uint_eq(h->out.dropped, 0);
	ck_assert_uint_gt(R.releases, 0);
	ck_assert_uint_lt(R.releases, n);
	/* the next ticks the rest */
	for (int k = 1; k < 10 && R.releases < n; k++) {
		h_at(h, 600 * 1000 + 10 * (uint64_t)k);
		ck_assert_uint_eq(h->out.dropped, 0);
	}
	ck_assert_uint_eq(R.releases, n);
	ck_assert_uint_eq(R.events[TURN_ALLOC_DELETED], n);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 0);
	h_free(h);
}
END_TEST

/* ---- lifecycle events ---------------------------------------------------- */

START_TEST(test_turn_cluster_events)
{
	struct h *h = cl_start(0, false, true);
	struct turn_alloc_view *v = &R.view;
	struct stun_builder b;
	const uint8_t payload[10] = {1, 2, 3};
	uint16_t port;

	ck_assert_int_eq(alloc_on(h, &A), 0);
	port = h_relay_port(h);
	ck_assert_uint_eq(R.checks, 0); /* events only: no quota round trip */
	ck_assert_uint_eq(R.events[TURN_ALLOC_CREATED], 1);
	ck_assert_int_eq(R.last, TURN_ALLOC_CREATED);
	ck_assert(v->active);
	ck_assert_uint_eq(v->info.serial, 1);
	ck_assert_uint_eq(v->info.worker, 0);
	ck_assert_str_eq(v->info.user, H_USER);
	ck_assert_str_eq(v->realm, H_REALM);
	ck_assert_uint_eq(v->info.transport, TURN_TRANSPORT_UDP);
	ck_assert(memcmp(&v->info.client, &A.client, sizeof(A.client)) == 0);
	ck_assert_int_eq(v->info.relay[0].sa.sa_family, AF_INET);
	ck_assert_str_eq(inet_ntoa(v->info.relay[0].in4.sin_addr),
	                 "203.0.113.5");
	ck_assert_uint_eq(ntohs(v->info.relay[0].in4.sin_port), port);
	ck_assert_uint_eq(v->info.created_s, H_S0);
	ck_assert_uint_eq(v->info.lifetime_s, 600);
	ck_assert_uint_eq(v->expires_s, H_S0 + 600);

	h->now_ms += 100 * 1000;
	h->now_s += 100;
	ck_assert_int_eq(h_refresh(h, &A, 1200), 0);
	ck_assert_uint_eq(R.events[TURN_ALLOC_REFRESHED], 1);
	ck_assert_int_eq(R.last, TURN_ALLOC_REFRESHED);
	ck_assert_uint_eq(v->info.lifetime_s, 1200);
	ck_assert_uint_eq(v->expires_s, H_S0 + 100 + 1200);
	/* a failed Refresh is no event */
	struct stun_builder rb;
	uint8_t fam[4] = {STUN_FAMILY_IPV6, 0, 0, 0};
	h_begin(h, &rb, STUN_METHOD_REFRESH, STUN_CLASS_REQUEST);
	stun_build_attr(&rb, STUN_ATTR_REQUESTED_ADDRESS_FAMILY, fam, 4);
	h_sign(h, &rb);
	h_send(h, &rb, &A);
	ck_assert_int_eq(h_code(h), 443);
	ck_assert_uint_eq(R.events[TURN_ALLOC_REFRESHED], 1);

	/* some traffic for the counters */
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	h_begin(h, &b, STUN_METHOD_SEND, STUN_CLASS_INDICATION);
	h_peer_attr(&b, PEER, 5004);
	stun_build_attr(&b, STUN_ATTR_DATA, payload, sizeof(payload));
	h_send(h, &b, &A);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 1);

	ck_assert_int_eq(h_refresh(h, &A, 0), 0);
	ck_assert_uint_eq(R.events[TURN_ALLOC_DELETED], 1);
	ck_assert_int_eq(R.last, TURN_ALLOC_DELETED);
	ck_assert_str_eq(R.reason, "refresh 0");
	ck_assert(!v->active);
	ck_assert_uint_eq(v->expires_s, 0);
	ck_assert_uint_eq(v->info.serial, 1);
	ck_assert_str_eq(v->info.user, H_USER);
	ck_assert_str_eq(v->realm, H_REALM);
	/* the relay it had, and what went through it */
	ck_assert_int_eq(v->info.relay[0].sa.sa_family, AF_INET);
	ck_assert_uint_eq(ntohs(v->info.relay[0].in4.sin_port), port);
	ck_assert_uint_eq(v->info.pkts[0], 1);
	ck_assert_uint_eq(v->info.bytes[0], sizeof(payload));
	ck_assert_uint_eq(R.events[TURN_ALLOC_CREATED], 1);
	ck_assert_uint_eq(R.events[TURN_ALLOC_REFRESHED], 1);
	h_free(h);
}
END_TEST

/* ---- 300 Try Alternate --------------------------------------------------- */

static bool same_addr(const union turn_addr *a, const union turn_addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_port == b->in4.sin_port &&
		       a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
	return a->in6.sin6_port == b->in6.sin6_port &&
	       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
}

static void alt_addr(struct h *h, union turn_addr *out)
{
	const struct stun_attr *at =
	        stun_msg_find(&h->resp, STUN_ATTR_ALTERNATE_SERVER);
	struct sockaddr_storage ss;

	ck_assert_ptr_nonnull(at);
	ck_assert_int_eq(stun_attr_get_addr(at, &ss), 0);
	memset(out, 0, sizeof(*out));
	memcpy(out, &ss,
	       ss.ss_family == AF_INET ? sizeof(out->in4) : sizeof(out->in6));
}

static bool has_domain(struct h *h, const char *domain)
{
	const struct stun_attr *at =
	        stun_msg_find(&h->resp, STUN_ATTR_ALTERNATE_DOMAIN);

	if (!at)
		return false;
	ck_assert_uint_eq(at->len, strlen(domain));
	ck_assert(memcmp(at->value, domain, at->len) == 0);
	return true;
}

START_TEST(test_turn_cluster_300_same_family)
{
	struct h *h = h_new();
	atomic_int draining = 0;
	union turn_addr alt4, alt6, got;
	const struct turn_stats *st;

	h->cfg.draining = &draining;
	h->cfg.cluster_quota = true;
	h->cluster_fn = on_cluster;
	h_start(h, 0, 0);
	st = turn_server_stats(h->s);
	R.ans = TURN_QUOTA_GRANTED;
	h_sa(&alt4, "192.0.2.200", 3478);
	h_sa(&alt6, "2001:db8::200", 3479);
	turn_server_set_alternates(h->s, &alt4, &alt6, "turn2.example.org");
	ck_assert_int_eq(alloc_on(h, &A), 0); /* not draining yet */
	atomic_store(&draining, 1);

	ck_assert_int_eq(alloc_on(h, &B), 300);
	alt_addr(h, &got);
	ck_assert(same_addr(&got, &alt4));
	ck_assert(!has_domain(h, "turn2.example.org")); /* not over UDP */
	ck_assert_int_eq(stun_check_integrity(&h->resp, h->key, h->key_len), 0);
	ck_assert_ptr_nonnull(stun_msg_find(&h->resp, STUN_ATTR_SOFTWARE));
	ck_assert(memcmp(h->resp.tid, h->tid, STUN_TID_LEN) == 0);
	ck_assert_uint_eq(R.checks, 1); /* the redirected one asked no one */
	ck_assert_uint_eq(h->opens, 1);

	ck_assert_int_eq(alloc_on(h, &A6), 300);
	alt_addr(h, &got);
	ck_assert(same_addr(&got, &alt6));

	/* only an IPv4 alternate: the IPv6 client gets 508 */
	turn_server_set_alternates(h->s, &alt4, NULL, "turn2.example.org");
	ck_assert_int_eq(alloc_on(h, &A6), 508);
	ck_assert_ptr_null(stun_msg_find(&h->resp, STUN_ATTR_ALTERNATE_SERVER));
	ck_assert_int_eq(alloc_on(h, &B), 300);
	/* wrong families are not taken */
	turn_server_set_alternates(h->s, &alt6, &alt4, NULL);
	ck_assert_int_eq(alloc_on(h, &B), 508);
	ck_assert_int_eq(alloc_on(h, &A6), 508);
	/* cleared */
	turn_server_set_alternates(h->s, NULL, NULL, NULL);
	ck_assert_int_eq(alloc_on(h, &B), 508);

	ck_assert_uint_eq(st->redirects, 3);
	ck_assert_uint_eq(st->drain_rejects, 7);
	ck_assert_uint_eq(
	        st->responses[STUN_METHOD_ALLOCATE][turn_code_slot(300)], 3);
	ck_assert_uint_eq(
	        st->responses[STUN_METHOD_ALLOCATE][turn_code_slot(508)], 4);
	/* the existing allocation keeps working */
	h_challenge(h, &A);
	ck_assert_int_eq(h_refresh(h, &A, 600), 0);
	atomic_store(&draining, 0);
	turn_server_set_alternates(h->s, &alt4, &alt6, NULL);
	ck_assert_int_eq(alloc_on(h, &B), 0);
	ck_assert_uint_eq(st->redirects, 3);
	h_free(h);
}
END_TEST

START_TEST(test_turn_cluster_300_domain_over_tls)
{
	struct h *h = h_new();
	atomic_int draining = 1;
	union turn_addr alt4, got;
	struct turn_tuple tls = h_tuple("192.0.2.20", 40010);
	struct turn_tuple dtls = h_tuple("192.0.2.21", 40011);
	char longname[TURN_ALT_DOMAIN_MAX + 2];

	tls.transport = TURN_TRANSPORT_TLS;
	tls.conn = 3;
	dtls.transport = TURN_TRANSPORT_DTLS;
	h->cfg.draining = &draining;
	h_start(h, 0, 0);
	h_sa(&alt4, "192.0.2.201", 5349);
	turn_server_set_alternates(h->s, &alt4, NULL, "turn2.example.org");

	ck_assert_int_eq(alloc_on(h, &tls), 300);
	ck_assert(has_domain(h, "turn2.example.org"));
	alt_addr(h, &got);
	ck_assert(same_addr(&got, &alt4));
	ck_assert_int_eq(stun_check_integrity(&h->resp, h->key, h->key_len), 0);
	ck_assert_int_eq(alloc_on(h, &dtls), 300); /* RFC 8489 s10: DTLS too */
	ck_assert(has_domain(h, "turn2.example.org"));
	ck_assert_int_eq(alloc_on(h, &T), 300); /* plain TCP: no domain */
	ck_assert(!has_domain(h, ""));
	ck_assert_int_eq(alloc_on(h, &A), 300);
	ck_assert(!has_domain(h, ""));
	/* no domain set: ALTERNATE-SERVER alone */
	turn_server_set_alternates(h->s, &alt4, NULL, NULL);
	ck_assert_int_eq(alloc_on(h, &tls), 300);
	ck_assert(!has_domain(h, ""));
	/* a name longer than a DNS name is not sent */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	turn_server_set_alternates(h->s, &alt4, NULL, longname);
	ck_assert_int_eq(alloc_on(h, &tls), 300);
	ck_assert(!has_domain(h, ""));
	h_free(h);
}
END_TEST

START_TEST(test_turn_cluster_300_sha256_and_capacity)
{
	struct h *h = h_new();
	union turn_addr alt4, got;
	const struct turn_stats *st;

	h->cfg.max_allocations = 1;
	h_start(h, 0, 0);
	st = turn_server_stats(h->s);
	h_sa(&alt4, "192.0.2.202", 3478);
	turn_server_set_alternates(h->s, &alt4, NULL, NULL);
	ck_assert_int_eq(alloc_on(h, &A), 0);
	h->sha256 = true;
	h->fingerprint = true;
	ck_assert_int_eq(alloc_on(h, &B), 300);
	alt_addr(h, &got);
	ck_assert(same_addr(&got, &alt4));
	ck_assert_uint_eq(h->resp.mi_off, 0);
	ck_assert_int_eq(
	        stun_check_integrity_sha256(&h->resp, h->key, h->key_len), 0);
	ck_assert_uint_ne(h->resp.fp_off, 0);
	ck_assert_uint_eq(st->capacity_rejects, 1);
	ck_assert_uint_eq(st->redirects, 1);
	ck_assert_uint_eq(h->opens, 1);
	h_free(h);
}
END_TEST

/* RFC 8656 s7.2: a TLS client is sent to the alternate's TLS port, a
 * DTLS client to its DTLS port; a transport the alternate lacks: 508. */
START_TEST(test_turn_cluster_300_tls_port)
{
	struct h *h = h_new();
	atomic_int draining = 1;
	union turn_addr alt4, got, want;
	struct turn_tuple tls = h_tuple("192.0.2.30", 40020);
	struct turn_tuple dtls = h_tuple("192.0.2.31", 40021);

	tls.transport = TURN_TRANSPORT_TLS;
	tls.conn = 4;
	dtls.transport = TURN_TRANSPORT_DTLS;
	h->cfg.draining = &draining;
	h_start(h, 0, 0);
	h_sa(&alt4, "192.0.2.203", 3478);
	turn_server_set_alternates(h->s, &alt4, NULL, "turn3.example.org");
	turn_server_set_alternate_ports(h->s, 5349, 5350);

	ck_assert_int_eq(alloc_on(h, &tls), 300);
	alt_addr(h, &got);
	h_sa(&want, "192.0.2.203", 5349);
	ck_assert(same_addr(&got, &want));
	ck_assert(has_domain(h, "turn3.example.org"));
	ck_assert_int_eq(alloc_on(h, &dtls), 300);
	alt_addr(h, &got);
	h_sa(&want, "192.0.2.203", 5350);
	ck_assert(same_addr(&got, &want));
	ck_assert_int_eq(alloc_on(h, &A), 300); /* UDP: the listening port */
	alt_addr(h, &got);
	ck_assert(same_addr(&got, &alt4));
	ck_assert_int_eq(alloc_on(h, &T), 300);
	alt_addr(h, &got);
	ck_assert(same_addr(&got, &alt4));

	/* the alternate has no TLS/DTLS listener */
	turn_server_set_alternate_ports(h->s, 0, 0);
	ck_assert_int_eq(alloc_on(h, &tls), 508);
	ck_assert_int_eq(alloc_on(h, &dtls), 508);
	ck_assert_int_eq(alloc_on(h, &A), 300);
	/* a new alternate without ports: its port for every transport */
	turn_server_set_alternates(h->s, &alt4, NULL, NULL);
	ck_assert_int_eq(alloc_on(h, &tls), 300);
	alt_addr(h, &got);
	ck_assert(same_addr(&got, &alt4));
	h_free(h);
}
END_TEST

/* ---- other nodes' listeners ---------------------------------------------- */

static struct turn_policy *peer_set(const char *ip, uint16_t port)
{
	struct turn_policy *p;
	union turn_addr a;

	ck_assert_int_eq(turn_policy_new(&p), 0);
	h_sa(&a, ip, port);
	ck_assert_int_eq(turn_policy_protect(p, &a.sa), 0);
	return p;
}

static size_t send_to(struct h *h, const char *ip, uint16_t port)
{
	static const uint8_t payload[] = {1, 2, 3, 4};
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_SEND, STUN_CLASS_INDICATION);
	h_peer_attr(&b, ip, port);
	stun_build_attr(&b, STUN_ATTR_DATA, payload, sizeof(payload));
	h_send(h, &b, &A); /* the actions of this input only */
	return h_count(h, TURN_ACT_SEND_PEER);
}

START_TEST(test_turn_cluster_peers_denied)
{
	struct h *h = h_new();
	const struct turn_stats *st;

	h_start(h, 0, 0);
	st = turn_server_stats(h->s);
	ck_assert_int_eq(alloc_on(h, &A), 0);
	h_set_cluster_peers(h, peer_set(PEER, 3478));
	ck_assert_int_eq(h_permit(h, &A, PEER), 0); /* the IP alone is fine */
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 3478), 403);
	ck_assert_int_eq(h_bind(h, &A, 0x4001, PEER, 3479), 0);
	uint64_t denied = st->drop_denied_peer;
	ck_assert_uint_eq(send_to(h, PEER, 3478), 0);
	ck_assert_uint_eq(st->drop_denied_peer, denied + 1);
	ck_assert_uint_eq(send_to(h, PEER, 5004), 1);
	/* replaced (the old set is freed: valgrind/ASan say so), then
	 * cleared */
	h_set_cluster_peers(h, peer_set(PEER, 5004));
	ck_assert_uint_eq(send_to(h, PEER, 5004), 0);
	ck_assert_uint_eq(send_to(h, PEER, 3478), 1);
	h_set_cluster_peers(h, NULL);
	ck_assert_uint_eq(send_to(h, PEER, 5004), 1);
	ck_assert_int_eq(h_bind(h, &A, 0x4002, PEER, 3478), 0);
	/* freed with the server */
	h_set_cluster_peers(h, peer_set(PEER, 1));
	h_free(h);
}
END_TEST

static Suite *turn_cluster_suite(void)
{
	Suite *s = suite_create("turn_cluster");
	TCase *tc = tcase_create("quota");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_cluster_quota_granted);
	tcase_add_test(tc, test_turn_cluster_quota_denied);
	tcase_add_test(tc, test_turn_cluster_quota_local);
	tcase_add_test(tc, test_turn_cluster_quota_off);
	tcase_add_test(tc, test_turn_cluster_parked_absorbs_retransmits);
	tcase_add_test(tc, test_turn_cluster_parked_expires);
	tcase_add_test(tc, test_turn_cluster_parked_client_gone);
	suite_add_tcase(s, tc);

	tc = tcase_create("release");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_cluster_release_once_each_way, 0,
	                    WAY_COUNT);
	tcase_add_test(tc, test_turn_cluster_release_mass_expiry);
	suite_add_tcase(s, tc);

	tc = tcase_create("events");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_cluster_events);
	suite_add_tcase(s, tc);

	tc = tcase_create("alternate");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_cluster_300_same_family);
	tcase_add_test(tc, test_turn_cluster_300_domain_over_tls);
	tcase_add_test(tc, test_turn_cluster_300_sha256_and_capacity);
	tcase_add_test(tc, test_turn_cluster_300_tls_port);
	suite_add_tcase(s, tc);

	tc = tcase_create("peers");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_cluster_peers_denied);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_cluster_suite)
