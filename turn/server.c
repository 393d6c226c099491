/*
 * turn/server.c - the TURN server core (RFC 8656): creation, dispatch of
 * client input (STUN, ChannelData), long-term authentication in the order
 * of auth.h (RFC 8489 s9.2.4), and the server's life. Requests go to
 * alloc.c (Allocate, Refresh; open.c binds relays), perm.c
 * (CreatePermission), chan.c (ChannelBind); data to data.c; responses are
 * built by reply.c. Binding goes to binding.c unchanged. Pure: no
 * sockets, no clock.
 */
#include "turn/turn_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- authentication (auth.h order) ------------------------------------- */

/* The address nonces are bound to: the sender's, or for a ConnectionBind
 * the control connection's (RFC 6062 s4.4: same credentials, and the
 * client reuses the nonce it has). */
static const struct sockaddr *nonce_addr(const struct turn_req *r)
{
	return r->nonce_for ? &r->nonce_for->sa : &r->from->client.sa;
}

/* The realm of the request's tuple: its name, and the store of its
 * credentials (a realm the store lacks borrows the default's algorithms
 * for the challenge; nothing verifies there, see authenticate()). */
static const struct auth_store *realm_of(const struct turn_req *r,
                                         const char **name)
{
	unsigned i = turn_realm_of(r->s, r->from);
	const struct auth_store *st = r->s->rstore[i];

	*name = turn_realm_name(r->s, i);
	return st ? st : r->s->store;
}

static size_t attr_size(size_t len)
{
	return 4 + ((len + 3) & ~(size_t)3);
}

/* Bytes of a challenge: header, ERROR-CODE without reason phrase, REALM,
 * NONCE, PASSWORD-ALGORITHMS (nalgs bytes; 0: none), FINGERPRINT. */
static size_t challenge_len(const struct turn_req *r, const char *realm,
                            size_t nalgs)
{
	return STUN_HEADER_LEN + attr_size(4) + attr_size(strlen(realm)) +
	       attr_size(AUTH_NONCE_LEN) + (nalgs ? attr_size(nalgs) : 0) +
	       (r->sig.fingerprint ? attr_size(4) : 0);
}

/*
 * 401 or 438 with REALM, a fresh NONCE and PASSWORD-ALGORITHMS (RFC 8489
 * s9.2.4), unsigned, no SOFTWARE, no reason phrase: 80 bytes plus the
 * padded realm. When that is more than TURN_AMPLIFICATION_MAX times the
 * request (a bare 20-byte request always; a 28-byte Allocate once the realm
 * passes 32 bytes), the request is too small to be worth a challenge: 400
 * (28 bytes; a real client's first Allocate carries REQUESTED-TRANSPORT at
 * least). Returns true when the challenge was sent.
 */
static bool challenge(struct turn_req *r, uint16_t code)
{
	struct turn_server *s = r->s;
	struct stun_builder b;
	char nonce[AUTH_NONCE_LEN + 1];
	uint8_t algs[16];
	const char *realm;
	const struct auth_store *st = realm_of(r, &realm);
	size_t nalgs = auth_store_algorithms_value(st, algs, sizeof(algs));

	r->sig.authed = false;
	if (challenge_len(r, realm, nalgs) >
	    TURN_AMPLIFICATION_MAX * r->m->len) {
		turn_resp_error(r, 400);
		return false;
	}
	s->stats.responses_error[r->m->method & 0xf]++;
	turn_count_response(s, r->m->method, code);
	if (auth_nonce_mint(s->nonces, st, nonce_addr(r), s->now_s, nonce,
	                    sizeof(nonce)) != 0)
		return false;
	if (!turn_resp_begin(r->out, &b, r->m->method, STUN_CLASS_ERROR,
	                     r->m->tid))
		return false;
	stun_build_error(&b, code, "");
	stun_build_attr(&b, STUN_ATTR_REALM, realm, strlen(realm));
	stun_build_attr(&b, STUN_ATTR_NONCE, nonce, AUTH_NONCE_LEN);
	if (nalgs)
		stun_build_attr(&b, STUN_ATTR_PASSWORD_ALGORITHMS, algs, nalgs);
	turn_resp_send(s, r->out, r->from, &r->sig, &b);
	return true;
}

static bool paced(struct turn_req *r)
{
	if (auth_ratelimit_allow(r->s->rl, &r->from->client.sa, r->s->now_ms))
		return false;
	r->s->stats.auth_paced++;
	return true;
}

/* true when the request is authenticated (r->sig, user filled); else the
 * answer (or silence) has been produced. */
static bool authenticate(struct turn_req *r)
{
	struct turn_server *s = r->s;
	struct auth_result *res = &s->ares;
	const struct stun_attr *nonce;

	r->sig.fingerprint = r->m->fp_off != 0;
	if (s->cfg.no_auth) {
		r->user = r->qkey = r->bw_user = "anonymous";
		r->qkey_len = 9;
		r->user_hash = turn_user_hash(s, r->user, 9);
		return true;
	}
	/* Only the tuple's realm: its REALM must be named, its users and
	 * secrets verify. A realm the store lacks knows nobody. */
	const struct auth_store *st = s->rstore[turn_realm_of(s, r->from)];
	enum auth_reason why = st ? auth_verify(st, r->m, s->now_s, res)
	                          : auth_verify(s->store, r->m, s->now_s, res);
	if (!st && why == AUTH_OK)
		why = AUTH_ERR_UNKNOWN_REALM;
	if (why == AUTH_ERR_NO_INTEGRITY) {
		if (!paced(r) && challenge(r, 401))
			s->stats.auth_challenges++;
		return false;
	}
	if (why != AUTH_OK) {
		s->stats.auth_failures++;
		s->stats.auth_reasons[why & 0xf]++;
		turn_auth_log(s, auth_reason_str(why), res->username,
		              res->username_len, &r->from->client);
		if ((why == AUTH_ERR_BAD_INTEGRITY ||
		     why == AUTH_ERR_REST_EXPIRED) &&
		    auth_backoff_failure(s->backoff, &r->from->client.sa,
		                         res->username, res->username_len,
		                         s->now_ms) == AUTH_BACKOFF_DROP) {
			s->stats.auth_dropped++;
			return false;
		}
		if (auth_reason_code(why) == 401) {
			if (!paced(r))
				challenge(r, 401);
		} else {
			turn_resp_error(r, 400);
		}
		return false;
	}
	nonce = stun_msg_find(r->m, STUN_ATTR_NONCE);
	if (!nonce ||
	    auth_nonce_check(s->nonces, nonce->value, nonce->len, nonce_addr(r),
	                     s->now_s) != AUTH_NONCE_OK) {
		s->stats.stale_nonces++;
		challenge(r, 438);
		return false;
	}
	auth_backoff_success(s->backoff, &r->from->client.sa, res->username,
	                     res->username_len);
	memcpy(r->sig.key, res->key, res->key_len);
	r->sig.key_len = (uint8_t)res->key_len;
	r->sig.sha256 = res->integrity_sha256;
	r->sig.authed = true;
	r->user = res->username;
	r->user_hash = turn_user_hash(s, res->username, res->username_len);
	r->qkey = res->quota_key;
	r->qkey_len = res->quota_key_len;
	if (!res->rest) {
		r->bw_user = res->username;
	} else if (turn_bw_cred_split(res->quota_key, res->quota_key_len,
	                              &r->qkey_len, &r->bw_class,
	                              &r->bw_class_len)) {
		/* "ID:bw=NAME": the quota counts ID, whatever the class */
		res->quota_key[r->qkey_len] = 0;
		res->quota_key_len = r->qkey_len;
	}
	return true;
}

/* --- dispatch ----------------------------------------------------------- */

static void binding(struct turn_server *s, const struct turn_tuple *from,
                    const struct stun_msg *m, struct turn_actions *out)
{
	enum turn_binding_outcome oc;
	size_t at = (out->used + 7) & ~(size_t)7, len = 0;

	s->stats.requests[STUN_METHOD_BINDING]++;
	if (at + TURN_RESP_CAP > TURN_SCRATCH_LEN)
		return;
	if (turn_binding_respond(m, &from->client.sa, out->scratch + at,
	                         TURN_RESP_CAP, &len, &oc) != 0 ||
	    len == 0)
		return;
	turn_count_response(s, STUN_METHOD_BINDING,
	                    oc == TURN_BINDING_UNKNOWN_ATTR ? 420 : 0);
	out->used = at + len;
	struct turn_tuple *t = turn_scratch(out, sizeof(*t));
	struct turn_action *a =
	        t ? turn_act_push(out, TURN_ACT_SEND_CLIENT) : NULL;
	if (!a)
		return;
	*t = *from;
	a->tuple = t;
	a->data = out->scratch + at;
	a->len = len;
}

static void request(struct turn_server *s, const struct turn_tuple *from,
                    const struct stun_msg *m, struct turn_actions *out)
{
	struct turn_req r = {.s = s, .from = from, .m = m, .out = out};
	struct turn_alloc *a = turn_alloc_find(s, from);

	s->stats.requests[m->method & 0xf]++;
	r.alloc = a;
	r.sig.fingerprint = m->fp_off != 0;
	switch (m->method) {
	case STUN_METHOD_ALLOCATE:
		/* A retransmission while the relay is being bound: absorbed. */
		if (a && a->state == ALLOC_PENDING &&
		    memcmp(a->tid, m->tid, STUN_TID_LEN) == 0)
			return;
		if (!authenticate(&r))
			return;
		break;
	case STUN_METHOD_CONNECTION_BIND:
		/* RFC 6062 s5.4, on a new data connection: no allocation. */
		if (turn_tcp_handoff(&r))
			return;
		/* An unknown CONNECTION-ID is 400 before authentication. */
		if (!(r.nonce_for = turn_tcp_control_addr(s, m))) {
			turn_resp_error(&r, 400);
			return;
		}
		if (!authenticate(&r))
			return;
		break;
	case STUN_METHOD_REFRESH:
	case STUN_METHOD_CREATE_PERMISSION:
	case STUN_METHOD_CHANNEL_BIND:
	case STUN_METHOD_CONNECT:
		if (!a || a->state != ALLOC_ACTIVE) {
			s->stats.drop_no_alloc++;
			turn_resp_error(&r, 437);
			return;
		}
		if (!authenticate(&r))
			return;
		break;
	default:
		turn_resp_error(&r, 400);
		return;
	}
	if (a && a->state == ALLOC_ACTIVE && a->user_hash != r.user_hash) {
		turn_resp_error(&r, 441);
		return;
	}
	if (m->nunknown) {
		turn_resp_error(&r, 420);
		return;
	}
	switch (m->method) {
	case STUN_METHOD_ALLOCATE:
		turn_alloc_request(&r);
		break;
	case STUN_METHOD_REFRESH:
		turn_refresh_request(&r);
		break;
	case STUN_METHOD_CREATE_PERMISSION:
		turn_create_permission_request(&r);
		break;
	case STUN_METHOD_CHANNEL_BIND:
		if (a->tcp) /* RFC 6062: no channels on a TCP allocation */
			turn_resp_error(&r, 400);
		else
			turn_channel_bind_request(&r);
		break;
	case STUN_METHOD_CONNECT:
		turn_connect_request(&r);
		break;
	case STUN_METHOD_CONNECTION_BIND:
		turn_connection_bind_request(&r);
		break;
	}
}

static void stun_input(struct turn_server *s, const struct turn_tuple *from,
                       const uint8_t *buf, size_t len, struct turn_actions *out)
{
	struct stun_msg m;
	enum stun_reason why;

	if (stun_msg_parse(&m, buf, len, &why) != 0) {
		s->stats.drop_malformed++;
		return;
	}
	if (m.method == STUN_METHOD_BINDING) {
		if (m.cls == STUN_CLASS_REQUEST ||
		    m.cls == STUN_CLASS_INDICATION)
			binding(s, from, &m, out);
		return;
	}
	if (m.rfc3489)
		return; /* RFC 3489 clients get Binding only */
	if (m.cls == STUN_CLASS_REQUEST)
		request(s, from, &m, out);
	else if (m.cls == STUN_CLASS_INDICATION && m.method == STUN_METHOD_SEND)
		turn_send_indication(s, from, &m, out);
}

static void enter(struct turn_server *s, struct turn_actions *out,
                  uint64_t now_ms, bool flush)
{
	if (flush)
		turn_graveyard_flush(s);
	s->out = out;
	if (now_ms > s->now_ms)
		s->now_ms = now_ms;
}

void turn_enter(struct turn_server *s, struct turn_actions *out,
                uint64_t now_ms)
{
	enter(s, out, now_ms, true);
}

void turn_server_input(struct turn_server *s, const struct turn_tuple *from,
                       uint8_t *buf, size_t len, uint64_t now_ms,
                       uint64_t now_s, struct turn_actions *out)
{
	if (!s || !from || !buf || !out)
		return;
	enter(s, out, now_ms, true);
	s->now_s = now_s;
	switch (stun_demux(buf, len)) {
	case STUN_KIND_CHANNELDATA:
		turn_channel_data(s, from, buf, len);
		break;
	case STUN_KIND_STUN:
		stun_input(s, from, buf, len, out);
		break;
	default:
		s->stats.drop_malformed++;
		break;
	}
}

void turn_server_peer_input(struct turn_server *s, struct turn_alloc *alloc,
                            const union turn_addr *peer, uint8_t *buf,
                            size_t len, uint64_t now_ms,
                            struct turn_actions *out)
{
	if (!s || !alloc || !peer || !buf || !out)
		return;
	enter(s, out, now_ms, true);
	turn_peer_data(s, alloc, peer, buf, len, out);
}

void turn_server_peer_icmp(struct turn_server *s, struct turn_alloc *alloc,
                           const union turn_addr *peer, uint8_t type,
                           uint8_t code, uint32_t info, uint64_t now_ms,
                           struct turn_actions *out)
{
	if (!s || !alloc || !peer || !out)
		return;
	enter(s, out, now_ms, true);
	turn_peer_icmp(s, alloc, peer, type, code, info);
}

void turn_server_relay_result(struct turn_server *s, uint32_t token, int err,
                              void *relay, uint64_t now_ms, uint64_t now_s,
                              struct turn_actions *out)
{
	if (!s || !out)
		return;
	/* Called while the caller runs the actions of an earlier call: the
	 * graveyard must stay until that list is done. */
	enter(s, out, now_ms, false);
	s->now_s = now_s;
	turn_alloc_relay_result(s, token, err, relay);
}

void turn_server_tcp_connect_result(struct turn_server *s, uint32_t conn_id,
                                    int err, uint64_t now_ms,
                                    struct turn_actions *out)
{
	if (!s || !out)
		return;
	enter(s, out, now_ms, false); /* may run inside an action list */
	turn_tcp_connect_result(s, conn_id, err);
}

uint32_t turn_server_tcp_incoming(struct turn_server *s,
                                  struct turn_alloc *alloc,
                                  const union turn_addr *peer, uint64_t now_ms,
                                  struct turn_actions *out)
{
	if (!s || !alloc || !peer || !out)
		return 0;
	enter(s, out, now_ms, true);
	return turn_tcp_incoming(s, alloc, peer);
}

void turn_server_tcp_closed(struct turn_server *s, uint32_t conn_id,
                            uint64_t to_peer, uint64_t to_client,
                            struct turn_actions *out)
{
	if (!s || !out)
		return;
	enter(s, out, s->now_ms, true);
	turn_tcp_closed(s, conn_id, to_peer, to_client);
}

void turn_server_conn_closed(struct turn_server *s,
                             const struct turn_tuple *tuple,
                             struct turn_actions *out)
{
	if (!s || !tuple || !out)
		return;
	enter(s, out, s->now_ms, true);
	struct turn_alloc *a = turn_alloc_find(s, tuple);
	if (a) {
		s->stats.allocations_deleted++;
		s->stats.allocations_closed++;
		turn_alloc_release(a, "connection closed");
	}
}

void turn_server_tick(struct turn_server *s, uint64_t now_ms,
                      struct turn_actions *out)
{
	if (!s || !out)
		return;
	enter(s, out, now_ms, true);
	turn_wheel_advance(s->wheel, now_ms);
	turn_node_expire(s->node, now_ms);
	if (s->sweep_due)
		turn_sweep_run(s);
}

uint64_t turn_server_next_deadline(const struct turn_server *s)
{
	uint64_t w = turn_wheel_next_deadline(s->wheel);
	uint64_t p = turn_node_next_deadline(s->node);

	if (s->sweep_due)
		return s->now_ms;
	return w < p ? w : p;
}

const struct turn_stats *turn_server_stats(const struct turn_server *s)
{
	return &s->stats;
}

const char *turn_realm_name(const struct turn_server *s, unsigned realm)
{
	if (realm == 0 || realm >= s->cfg.nrealms || !s->cfg.realms[realm])
		return s->store ? auth_store_realm(s->store) : "";
	return s->cfg.realms[realm];
}

const char *turn_server_realm_name(const struct turn_server *s, size_t i)
{
	if (!s || i >= (s->cfg.nrealms ? s->cfg.nrealms : 1))
		return NULL;
	return turn_realm_name(s, (unsigned)i);
}

/* The store of each realm, looked up once per store (not per request). */
static void realm_stores(struct turn_server *s)
{
	s->rstore[0] = s->store;
	for (size_t i = 1; i < s->cfg.nrealms; i++)
		s->rstore[i] = s->cfg.realms[i] && s->store
		                       ? auth_store_find_realm(s->store,
		                                               s->cfg.realms[i])
		                       : NULL;
}

void turn_server_set_store(struct turn_server *s, const struct auth_store *st)
{
	if (s && st) {
		s->store = st;
		realm_stores(s);
	}
}

void turn_server_set_policy(struct turn_server *s,
                            const struct turn_policy *policy, uint64_t now_ms,
                            struct turn_actions *out)
{
	if (!s || !policy)
		return;
	s->policy = policy;
	turn_sweep_start(s);
	if (out) {
		enter(s, out, now_ms, true);
		turn_sweep_run(s);
	}
}

void turn_server_set_nonces(struct turn_server *s,
                            const struct auth_nonces *nonces)
{
	if (s && nonces)
		s->nonces = nonces;
}

void turn_server_set_bw(struct turn_server *s, const struct turn_bw_table *t)
{
	if (s)
		s->bw = t;
}

void turn_server_set_limits(struct turn_server *s, uint64_t max_bps,
                            uint32_t max_allocations)
{
	if (!s)
		return;
	s->cfg.max_bps = max_bps;
	s->cfg.max_allocations = max_allocations;
}

/* --- life --------------------------------------------------------------- */

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int tables_init(struct turn_server *s)
{
	if (turn_htab_init(&s->allocs, 256) ||
	    turn_htab_init(&s->pending, 16) || turn_htab_init(&s->perms, 256) ||
	    turn_htab_init(&s->chans_num, 256) ||
	    turn_htab_init(&s->chans_peer, 256) ||
	    turn_htab_init(&s->tconns, 16))
		return ENOMEM;
	return 0;
}

/* The node's shared pool, or a private one (unit tests, one worker). */
static int node_init(struct turn_server *s, const struct turn_server_cfg *cfg)
{
	if (cfg->node) {
		s->node = cfg->node;
		return 0;
	}
	s->own_node = true;
	return turn_node_new(&s->node, cfg->min_port, cfg->max_port);
}

static bool cfg_ok(const struct turn_server_cfg *cfg, const void *store,
                   const void *nonces)
{
	if (cfg->nrelay_ips == 0 || cfg->nrelay_ips > TURN_MAX_RELAY_IPS ||
	    cfg->nworkers == 0 || cfg->worker_index >= cfg->nworkers ||
	    cfg->nrealms > TURN_MAX_REALMS || (cfg->nrealms && !cfg->realms))
		return false;
	if (!cfg->no_auth && (!store || !nonces))
		return false;
	return cfg->default_lifetime_s > 0 && cfg->permission_lifetime_s > 0 &&
	       cfg->channel_lifetime_s > 0;
}

int turn_server_new(struct turn_server **out, const struct turn_server_cfg *cfg,
                    const struct auth_store *store,
                    const struct auth_nonces *nonces,
                    const struct turn_policy *policy, struct turn_quota *quota,
                    uint64_t now_ms)
{
	struct turn_server *s;
	uint64_t x;
	int err;

	if (!out || !cfg || !policy || !cfg_ok(cfg, store, nonces))
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->cfg = *cfg;
	if (s->cfg.max_lifetime_s < s->cfg.default_lifetime_s)
		s->cfg.max_lifetime_s = s->cfg.default_lifetime_s;
	s->store = store;
	realm_stores(s);
	s->nonces = nonces;
	s->policy = policy;
	s->quota = quota;
	s->now_ms = now_ms;
	memcpy(&x, cfg->seed, 8);
	s->hkey[0] = splitmix(&x);
	s->hkey[1] = splitmix(&x);
	memcpy(&x, cfg->seed + 8, 8);
	for (int i = 0; i < 4; i++)
		s->rng[i] = splitmix(&x);
	s->next_token = 1;
	struct auth_ratelimit_config rl_cfg = {
	        .rate_per_s = cfg->auth_rate_limit,
	        .burst = cfg->auth_rate_burst,
	        .unlimited = cfg->auth_rate_limit == 0,
	};
	err = tables_init(s);
	if (!err)
		err = turn_wheel_new(&s->wheel, now_ms);
	if (!err)
		err = node_init(s, cfg);
	if (!err)
		err = auth_ratelimit_new(&s->rl, &rl_cfg, cfg->seed);
	if (!err)
		err = auth_backoff_new(&s->backoff, NULL, cfg->seed);
	if (err) {
		turn_server_free(s);
		return err == EINVAL ? EINVAL : ENOMEM;
	}
	*out = s;
	return 0;
}

void turn_server_free(struct turn_server *s)
{
	struct turn_actions sink;

	if (!s)
		return;
	/* Releasing appends CLOSE_RELAY etc.: into a throwaway list (the
	 * caller closes its sockets itself). */
	turn_actions_reset(&sink);
	s->out = &sink;
	while (s->all) {
		turn_actions_reset(&sink);
		turn_alloc_release(s->all, "shutdown");
	}
	turn_graveyard_flush(s);
	turn_wheel_free(s->wheel);
	if (s->own_node)
		turn_node_free(s->node);
	auth_ratelimit_free(s->rl);
	auth_backoff_free(s->backoff);
	turn_policy_free(s->cluster_peers);
	turn_htab_destroy(&s->allocs);
	turn_htab_destroy(&s->pending);
	turn_htab_destroy(&s->perms);
	turn_htab_destroy(&s->chans_num);
	turn_htab_destroy(&s->chans_peer);
	turn_htab_destroy(&s->tconns);
	free(s);
}
