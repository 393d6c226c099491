/*
 * tests/unit/turn_harness.h - a fake edge for the TURN core tests: a fake
 * clock, a client that builds (authenticated) requests, and an action
 * runner that answers OPEN_RELAY with turn_server_relay_result() (a fake
 * handle, or a queued errno) and records SEND_CLIENT / SEND_PEER /
 * CLOSE_RELAY / LOG. No sockets, no sleeps. Included by the
 * test_turn_server*.c files (static inline: each uses a different part).
 */
#ifndef AVEDGE_TURN_HARNESS_H
#define AVEDGE_TURN_HARNESS_H

#include "auth/auth.h"
#include "tests/unit/check_main.h"
#include "turn/policy.h"
#include "turn/turn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H_REALM    "example.org"
#define H_USER     "alice"
#define H_PASS     "wonderland"
#define H_USER2    "bob"
#define H_PASS2    "builder"
#define H_SECRET   "rest-secret"
#define H_MS0      1000000ull
#define H_S0       1700000000ull
#define H_MIN_PORT 50000
#define H_MAX_PORT 50009

struct h_sent {
	enum turn_action_kind kind;
	struct turn_tuple tuple;
	union turn_addr peer;
	void *relay;
	uint8_t data[2100];
	size_t len;
	bool df;
	uint32_t conn_id; /* TCP_* actions */
	unsigned worker;  /* TCP_HANDOFF */
};

struct h {
	struct auth_store *store;
	struct auth_nonces *nonces;
	struct turn_policy *policy;
	struct turn_quota *quota;
	struct turn_server *s;
	struct turn_server_cfg cfg;
	struct turn_actions out;
	uint64_t now_ms, now_s;
	/* fake edge */
	bool manual_relay;  /* leave OPEN_RELAY unanswered */
	int relay_errs[16]; /* answer the next OPEN_RELAYs with these */
	size_t nrelay_errs;
	unsigned opens, closes;
	uintptr_t next_handle;
	struct turn_alloc *alloc; /* of the last OPEN_RELAY */
	uint32_t token;           /* of the last OPEN_RELAY */
	union turn_addr bind;     /* of the last OPEN_RELAY */
	int dscp;                 /* of the last OPEN_RELAY */
	void *closed[16];
	struct h_sent sent[16];
	size_t nsent;
	char logs[8][256];
	size_t nlogs;
	/* QUOTA_CHECK, QUOTA_RELEASE, ALLOC_EVENT go here (NULL: ignored) */
	void (*cluster_fn)(struct h *h, const struct turn_action *a);
	/* client */
	uint8_t tid[STUN_TID_LEN];
	uint32_t tid_ctr;
	uint8_t req[1500];
	size_t req_len;
	char nonce[64];
	uint8_t algs[16];
	size_t algs_len;
	const char *user, *pass;
	const char *realm; /* REALM the client signs with; NULL: H_REALM */
	bool sha256;       /* PASSWORD-ALGORITHM SHA-256 + MI-SHA256 */
	bool fingerprint;
	uint8_t key[STUN_KEY_MAX];
	size_t key_len;
	/* last response */
	uint8_t resp_buf[1500];
	struct stun_msg resp;
	/* peer input buffer: headroom, payload, tail */
	uint8_t pbuf[TURN_PEER_HEADROOM + 2048 + 4];
};

static inline void h_sa(union turn_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (strchr(ip, ':')) {
		a->in6.sin6_family = AF_INET6;
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &a->in6.sin6_addr), 1);
		a->in6.sin6_port = htons(port);
	} else {
		a->in4.sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, ip, &a->in4.sin_addr), 1);
		a->in4.sin_port = htons(port);
	}
}

static inline struct turn_tuple h_tuple(const char *ip, uint16_t port)
{
	struct turn_tuple t;

	memset(&t, 0, sizeof(t));
	h_sa(&t.client, ip, port);
	t.transport = TURN_TRANSPORT_UDP;
	return t;
}

static inline void h_cfg_default(struct turn_server_cfg *c)
{
	memset(c, 0, sizeof(*c));
	h_sa(&c->relay_ips[0].local, "10.0.0.5", 0);
	h_sa(&c->relay_ips[0].advertise, "203.0.113.5", 0);
	c->nrelay_ips = 1;
	c->min_port = H_MIN_PORT;
	c->max_port = H_MAX_PORT;
	c->nworkers = 1;
	c->default_lifetime_s = 600;
	c->max_lifetime_s = 3600;
	c->permission_lifetime_s = 300;
	c->channel_lifetime_s = 600;
	c->software = "avedge-test";
	for (int i = 0; i < 16; i++)
		c->seed[i] = (uint8_t)(i * 7 + 1);
}

static inline void h_add_v6(struct turn_server_cfg *c)
{
	h_sa(&c->relay_ips[c->nrelay_ips].local, "fd00::5", 0);
	h_sa(&c->relay_ips[c->nrelay_ips].advertise, "2001:db8::5", 0);
	c->nrelay_ips++;
}

/* Create the stores and the server from h->cfg (set it up first with
 * h_cfg_default and changes). */
static inline void h_start(struct h *h, uint32_t user_quota,
                           uint32_t total_quota)
{
	char err[AUTH_ERR_MAX];
	struct auth_nonce_key nk = {.id = 1};

	memset(nk.bytes, 0x5a, sizeof(nk.bytes));
	ck_assert_int_eq(auth_store_new(&h->store, H_REALM, err, sizeof(err)),
	                 0);
	ck_assert_int_eq(auth_store_add_user(h->store, H_USER ":" H_PASS, err,
	                                     sizeof(err)),
	                 0);
	ck_assert_int_eq(auth_store_add_user(h->store, H_USER2 ":" H_PASS2, err,
	                                     sizeof(err)),
	                 0);
	ck_assert_int_eq(
	        auth_store_add_secret(h->store, H_SECRET, err, sizeof(err)), 0);
	ck_assert_int_eq(auth_nonces_new(&h->nonces, 0, &nk), 0);
	ck_assert_int_eq(turn_policy_new(&h->policy), 0);
	if (user_quota || total_quota)
		ck_assert_int_eq(
		        turn_quota_new(&h->quota, user_quota, total_quota), 0);
	h->now_ms = H_MS0;
	h->now_s = H_S0;
	h->next_handle = 0x1000;
	h->user = H_USER;
	h->pass = H_PASS;
	ck_assert_int_eq(turn_server_new(&h->s, &h->cfg, h->store, h->nonces,
	                                 h->policy, h->quota, h->now_ms),
	                 0);
}

static inline struct h *h_new(void)
{
	struct h *h = calloc(1, sizeof(*h));

	ck_assert_ptr_nonnull(h);
	h_cfg_default(&h->cfg);
	return h;
}

static inline struct h *h_default(void)
{
	struct h *h = h_new();
	h_start(h, 0, 0);
	return h;
}

static inline void h_free(struct h *h)
{
	turn_server_free(h->s);
	turn_quota_free(h->quota);
	turn_policy_free(h->policy);
	auth_nonces_free(h->nonces);
	auth_store_free(h->store);
	free(h);
}

/* --- the fake edge ------------------------------------------------------ */

static inline void h_record(struct h *h, const struct turn_action *a)
{
	if (h->nsent == 16)
		memmove(h->sent, h->sent + 1, sizeof(h->sent[0]) * 15),
		        h->nsent--;
	struct h_sent *e = &h->sent[h->nsent++];
	e->kind = a->kind;
	if (a->tuple)
		e->tuple = *a->tuple;
	if (a->peer)
		e->peer = *a->peer;
	e->relay = a->relay;
	ck_assert_uint_le(a->len, sizeof(e->data));
	if (a->len)
		memcpy(e->data, a->data, a->len);
	e->len = a->len;
	e->df = a->dont_fragment;
}

static inline void h_run(struct h *h)
{
	struct turn_actions *out = &h->out;

	for (size_t i = 0; i < out->n; i++) {
		const struct turn_action *a = &out->v[i];
		switch (a->kind) {
		case TURN_ACT_SEND_CLIENT:
		case TURN_ACT_SEND_PEER:
			h_record(h, a);
			break;
		case TURN_ACT_TCP_CONNECT:
		case TURN_ACT_TCP_CLOSE:
		case TURN_ACT_TCP_BIND_DATA:
		case TURN_ACT_TCP_HANDOFF:
			h_record(h, a);
			h->sent[h->nsent - 1].conn_id = a->conn_id;
			h->sent[h->nsent - 1].worker = a->worker;
			break;
		case TURN_ACT_OPEN_RELAY:
		case TURN_ACT_OPEN_TCP_RELAY: {
			h->opens++;
			h->alloc = a->alloc;
			h->token = a->token;
			h->bind = a->bind;
			h->dscp = a->dscp;
			if (h->manual_relay)
				break;
			int err = 0;
			if (h->nrelay_errs) {
				err = h->relay_errs[0];
				memmove(h->relay_errs, h->relay_errs + 1,
				        sizeof(int) * --h->nrelay_errs);
			}
			void *handle = err ? NULL : (void *)h->next_handle++;
			turn_server_relay_result(h->s, a->token, err, handle,
			                         h->now_ms, h->now_s, out);
			break;
		}
		case TURN_ACT_CLOSE_RELAY:
		case TURN_ACT_CLOSE_TCP_RELAY:
			if (h->closes < 16)
				h->closed[h->closes] = a->relay;
			h->closes++;
			break;
		case TURN_ACT_LOG:
			ck_assert_uint_eq(strlen((const char *)a->data),
			                  a->len);
			if (h->nlogs < 8)
				snprintf(h->logs[h->nlogs++], 256, "%s",
				         (const char *)a->data);
			break;
		case TURN_ACT_QUOTA_CHECK:
		case TURN_ACT_QUOTA_RELEASE:
		case TURN_ACT_ALLOC_EVENT:
			if (h->cluster_fn)
				h->cluster_fn(h, a);
			break;
		}
	}
}

static inline void h_clear(struct h *h)
{
	h->nsent = 0;
	h->nlogs = 0;
}

/* Deliver client bytes (copied: the core may write in place). */
static inline void h_input(struct h *h, const struct turn_tuple *t,
                           const uint8_t *buf, size_t len)
{
	static uint8_t copy[4096];

	h_clear(h);
	memcpy(copy, buf, len);
	turn_actions_reset(&h->out);
	turn_server_input(h->s, t, copy, len, h->now_ms, h->now_s, &h->out);
	h_run(h);
}

/* Peer datagram on alloc's relay socket. */
static inline void h_peer(struct h *h, struct turn_alloc *alloc, const char *ip,
                          uint16_t port, const uint8_t *data, size_t len)
{
	union turn_addr peer;

	h_clear(h);
	h_sa(&peer, ip, port);
	memset(h->pbuf, 0xEE, sizeof(h->pbuf));
	memcpy(h->pbuf + TURN_PEER_HEADROOM, data, len);
	turn_actions_reset(&h->out);
	turn_server_peer_input(h->s, alloc, &peer, h->pbuf + TURN_PEER_HEADROOM,
	                       len, h->now_ms, &h->out);
	h_run(h);
}

/* Move the clock to abs ms since start and tick. */
static inline void h_at(struct h *h, uint64_t ms)
{
	h->now_ms = H_MS0 + ms;
	h->now_s = H_S0 + ms / 1000;
	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_tick(h->s, h->now_ms, &h->out);
	h_run(h);
}

/* A new peer policy (borrowed) or cluster-peer set (owned by the core
 * from now on), as the edge hands it over: with an action list, run. */
static inline void h_set_policy(struct h *h, const struct turn_policy *p)
{
	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_set_policy(h->s, p, h->now_ms, &h->out);
	h_run(h);
}

static inline void h_set_cluster_peers(struct h *h, struct turn_policy *set)
{
	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_set_cluster_peers(h->s, set, h->now_ms, &h->out);
	h_run(h);
}

/* --- the client --------------------------------------------------------- */

static inline void h_begin(struct h *h, struct stun_builder *b, uint16_t method,
                           uint8_t cls)
{
	h->tid_ctr++;
	memset(h->tid, 0xA5, sizeof(h->tid));
	memcpy(h->tid, &h->tid_ctr, sizeof(h->tid_ctr));
	stun_build_init(b, h->req, sizeof(h->req), method, cls, h->tid);
}

/* Same transaction id again (a retransmission). */
static inline void h_begin_same(struct h *h, struct stun_builder *b,
                                uint16_t method)
{
	stun_build_init(b, h->req, sizeof(h->req), method, STUN_CLASS_REQUEST,
	                h->tid);
}

static inline void h_transport(struct stun_builder *b, uint8_t proto)
{
	uint8_t v[4] = {proto, 0, 0, 0};
	stun_build_attr(b, STUN_ATTR_REQUESTED_TRANSPORT, v, 4);
}

static inline void h_peer_attr(struct stun_builder *b, const char *ip,
                               uint16_t port)
{
	union turn_addr a;
	h_sa(&a, ip, port);
	stun_build_xor_addr(b, STUN_ATTR_XOR_PEER_ADDRESS, &a.sa);
}

/* USERNAME, REALM, NONCE, the algorithm attributes and the integrity. */
static inline void h_sign(struct h *h, struct stun_builder *b)
{
	enum stun_pw_alg alg = h->sha256 ? STUN_PW_ALG_SHA256 : STUN_PW_ALG_MD5;
	const char *realm = h->realm ? h->realm : H_REALM;

	stun_build_attr(b, STUN_ATTR_USERNAME, h->user, strlen(h->user));
	stun_build_attr(b, STUN_ATTR_REALM, realm, strlen(realm));
	stun_build_attr(b, STUN_ATTR_NONCE, h->nonce, strlen(h->nonce));
	if (h->sha256) {
		uint8_t v[4] = {0, STUN_PW_ALG_SHA256, 0, 0};
		stun_build_attr(b, STUN_ATTR_PASSWORD_ALGORITHM, v, 4);
		stun_build_attr(b, STUN_ATTR_PASSWORD_ALGORITHMS, h->algs,
		                h->algs_len);
	}
	ck_assert_int_eq(stun_long_term_key(alg, h->user, strlen(h->user),
	                                    realm, strlen(realm), h->pass,
	                                    strlen(h->pass), h->key,
	                                    &h->key_len),
	                 0);
	if (h->sha256)
		stun_build_integrity_sha256(b, h->key, h->key_len);
	else
		stun_build_integrity(b, h->key, h->key_len);
}

/* Finish, send from t; returns the number of SEND_CLIENTs and parses the
 * last one into h->resp. */
static inline size_t h_send(struct h *h, struct stun_builder *b,
                            const struct turn_tuple *t)
{
	size_t n = 0;

	if (h->fingerprint)
		stun_build_fingerprint(b);
	h->req_len = stun_build_finish(b);
	ck_assert_uint_gt(h->req_len, 0);
	h_input(h, t, h->req, h->req_len);
	memset(&h->resp, 0, sizeof(h->resp));
	for (size_t i = 0; i < h->nsent; i++) {
		if (h->sent[i].kind != TURN_ACT_SEND_CLIENT)
			continue;
		n++;
		memcpy(h->resp_buf, h->sent[i].data, h->sent[i].len);
		ck_assert_int_eq(stun_msg_parse(&h->resp, h->resp_buf,
		                                h->sent[i].len, NULL),
		                 0);
	}
	return n;
}

/* Error code of the last response, 0 for success, -1 for none. */
static inline int h_code(struct h *h)
{
	uint16_t code;

	if (!h->resp.buf)
		return -1;
	if (h->resp.cls == STUN_CLASS_SUCCESS)
		return 0;
	ck_assert_int_eq(h->resp.cls, STUN_CLASS_ERROR);
	ck_assert_int_eq(stun_msg_get_error(&h->resp, &code, NULL, NULL), 0);
	return code;
}

/* Remember NONCE and PASSWORD-ALGORITHMS of a 401/438. */
static inline void h_take_nonce(struct h *h)
{
	const struct stun_attr *n = stun_msg_find(&h->resp, STUN_ATTR_NONCE);
	const struct stun_attr *a =
	        stun_msg_find(&h->resp, STUN_ATTR_PASSWORD_ALGORITHMS);

	ck_assert_ptr_nonnull(n);
	ck_assert_uint_lt(n->len, sizeof(h->nonce));
	memcpy(h->nonce, n->value, n->len);
	h->nonce[n->len] = 0;
	if (a) {
		memcpy(h->algs, a->value, a->len);
		h->algs_len = a->len;
	}
}

/* An unauthenticated Allocate to get a nonce (expects 401). */
static inline void h_challenge(struct h *h, const struct turn_tuple *t)
{
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_UDP);
	ck_assert_uint_eq(h_send(h, &b, t), 1);
	ck_assert_int_eq(h_code(h), 401);
	h_take_nonce(h);
}

/* Authenticated Allocate (UDP); returns the response code. */
static inline int h_allocate(struct h *h, const struct turn_tuple *t)
{
	struct stun_builder b;

	if (!h->nonce[0])
		h_challenge(h, t);
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_UDP);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

static inline int h_refresh(struct h *h, const struct turn_tuple *t,
                            int64_t lifetime)
{
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_REFRESH, STUN_CLASS_REQUEST);
	if (lifetime >= 0)
		stun_build_u32(&b, STUN_ATTR_LIFETIME, (uint32_t)lifetime);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

static inline int h_permit(struct h *h, const struct turn_tuple *t,
                           const char *ip)
{
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_CREATE_PERMISSION, STUN_CLASS_REQUEST);
	h_peer_attr(&b, ip, 0);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

static inline int h_bind(struct h *h, const struct turn_tuple *t,
                         uint16_t channel, const char *ip, uint16_t port)
{
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_CHANNEL_BIND, STUN_CLASS_REQUEST);
	stun_build_u32(&b, STUN_ATTR_CHANNEL_NUMBER, (uint32_t)channel << 16);
	h_peer_attr(&b, ip, port);
	h_sign(h, &b);
	h_send(h, &b, t);
	return h_code(h);
}

static inline bool h_tuple_eq(const struct turn_tuple *a,
                              const struct turn_tuple *b)
{
	return a->listener == b->listener && a->conn == b->conn &&
	       a->transport == b->transport &&
	       memcmp(&a->client, &b->client, sizeof(a->client)) == 0;
}

/* Count of recorded actions of a kind. */
static inline size_t h_count(const struct h *h, enum turn_action_kind kind)
{
	size_t n = 0;
	for (size_t i = 0; i < h->nsent; i++)
		n += h->sent[i].kind == kind;
	return n;
}

static inline const struct h_sent *h_last(const struct h *h,
                                          enum turn_action_kind kind)
{
	for (size_t i = h->nsent; i-- > 0;)
		if (h->sent[i].kind == kind)
			return &h->sent[i];
	return NULL;
}

/* XOR-RELAYED-ADDRESS port of the last success response (first one). */
static inline uint16_t h_relay_port(struct h *h)
{
	struct sockaddr_storage ss;

	ck_assert_int_eq(stun_msg_get_xor_addr(
	                         &h->resp, STUN_ATTR_XOR_RELAYED_ADDRESS, &ss),
	                 0);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static inline uint32_t h_lifetime(struct h *h)
{
	uint32_t v = 0;
	ck_assert_int_eq(stun_msg_get_u32(&h->resp, STUN_ATTR_LIFETIME, &v), 0);
	return v;
}

#endif
