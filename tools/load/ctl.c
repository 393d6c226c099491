/*
 * tools/load/ctl.c - the control side of one TURN client over UDP
 * (RFC 8656 s7-s11, long-term credentials of RFC 8489 s9.2 with MD5):
 * Allocate with the 401 challenge, ChannelBind or CreatePermission towards
 * the client's peer, Refresh, Refresh with lifetime 0 to free, stale
 * nonces (438), and retransmission on timeout (s6.2.1, with our own RTO).
 * In --bare mode the same states drive the AVBIND/AVFREE exchange of
 * tools/bare_proto.h instead.
 *
 * One request in flight per client; its bytes stay in c->req so that a
 * retransmission is the same message. A client entering ALLOC, BIND or
 * FREE counts in w->pending until it reaches READY, DONE or FAILED.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tools/bare_proto.h"
#include "tools/load/load.h"

static uint64_t rnd(struct load_worker *w)
{
	w->rng ^= w->rng >> 12;
	w->rng ^= w->rng << 25;
	w->rng ^= w->rng >> 27;
	return w->rng * 0x2545F4914F6CDD1Dull;
}

static void new_tid(struct load_worker *w, struct load_client *c)
{
	uint64_t a = rnd(w), b = rnd(w);

	memcpy(c->tid, &a, 8);
	memcpy(c->tid + 8, &b, 4);
}

static const struct sockaddr *peer_of(struct load_worker *w,
                                      struct load_client *c)
{
	return (const struct sockaddr *)&w->peer[c->peer].addr;
}

/* Leave the pending set (setup or free finished, one way or another). */
static void settle(struct load_worker *w, struct load_client *c,
                   enum load_cstate st)
{
	if (c->state == LOAD_C_ALLOC || c->state == LOAD_C_BIND ||
	    c->state == LOAD_C_FREE)
		w->pending--;
	c->state = (uint8_t)st;
	c->txn = 0;
}

/* Setup finished. A client that gets there after the free pass went by
 * (SIGINT during setup) is freed at once. */
static void set_ready(struct load_worker *w, struct load_client *c,
                      uint64_t now)
{
	settle(w, c, LOAD_C_READY);
	if (w->phase == LOAD_W_FREE || w->phase == LOAD_W_DONE)
		load_ctl_free(w, c, now);
}

static int build_req(struct load_worker *w, struct load_client *c,
                     uint16_t method)
{
	const struct load_opts *o = w->o;
	struct stun_builder b;

	new_tid(w, c);
	stun_build_init(&b, c->req, sizeof(c->req), method, STUN_CLASS_REQUEST,
	                c->tid);
	switch (method) {
	case STUN_METHOD_ALLOCATE:
		stun_build_u32(&b, STUN_ATTR_REQUESTED_TRANSPORT,
		               (uint32_t)STUN_TRANSPORT_UDP << 24);
		if (o->peer_ip.ss_family == AF_INET6)
			stun_build_u32(&b, STUN_ATTR_REQUESTED_ADDRESS_FAMILY,
			               (uint32_t)STUN_FAMILY_IPV6 << 24);
		stun_build_u32(&b, STUN_ATTR_LIFETIME, o->lifetime_s);
		break;
	case STUN_METHOD_REFRESH:
		stun_build_u32(&b, STUN_ATTR_LIFETIME,
		               c->state == LOAD_C_FREE ? 0 : o->lifetime_s);
		break;
	case STUN_METHOD_CHANNEL_BIND:
		stun_build_u32(&b, STUN_ATTR_CHANNEL_NUMBER,
		               (uint32_t)c->channel << 16);
		stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS,
		                    peer_of(w, c));
		break;
	case STUN_METHOD_CREATE_PERMISSION:
		stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS,
		                    peer_of(w, c));
		break;
	}
	c->req_auth = c->nonce_len > 0;
	if (c->req_auth) {
		stun_build_attr(&b, STUN_ATTR_USERNAME, o->user,
		                strlen(o->user));
		stun_build_attr(&b, STUN_ATTR_REALM, w->realm, w->realm_len);
		stun_build_attr(&b, STUN_ATTR_NONCE, c->nonce, c->nonce_len);
		stun_build_integrity(&b, w->key, w->key_len);
	}
	stun_build_fingerprint(&b);
	c->req_len = (uint16_t)stun_build_finish(&b);
	return c->req_len ? 0 : ENOSPC;
}

static void build_bare(struct load_client *c, const char *tag,
                       const struct sockaddr_storage *peer)
{
	uint8_t *p = c->req + 4;
	uint16_t len = BARE_TAG_LEN;

	memcpy(p, tag, BARE_TAG_LEN);
	if (peer) {
		bare_put_addr(p + BARE_TAG_LEN, peer);
		len = BARE_ADDR_LEN;
	}
	c->req_len = (uint16_t)stun_chandata_build(c->req, sizeof(c->req),
	                                           c->channel, p, len, false);
}

static void transmit(struct load_worker *w, struct load_client *c, uint64_t now)
{
	uint64_t rto = (uint64_t)w->o->rto_ms << (c->tries < 6 ? c->tries : 6);

	if (send(c->fd, c->req, c->req_len, 0) < 0 && errno == ECONNREFUSED)
		w->st.conn_refused++;
	c->tries++;
	c->rto_at = now + rto * 1000000ull;
}

static void request(struct load_worker *w, struct load_client *c,
                    uint16_t method, uint64_t now)
{
	c->txn = method;
	c->tries = 0;
	if (method == LOAD_BARE_METHOD)
		build_bare(c, c->state == LOAD_C_FREE ? BARE_FREE : BARE_BIND,
		           c->state == LOAD_C_FREE ? NULL
		                                   : &w->peer[c->peer].addr);
	else if (build_req(w, c, method)) {
		load_ctl_fail(w, c, LOAD_ERR_LOCAL);
		return;
	}
	transmit(w, c, now);
}

static uint16_t bind_method(const struct load_opts *o)
{
	return o->send_ind ? STUN_METHOD_CREATE_PERMISSION
	                   : STUN_METHOD_CHANNEL_BIND;
}

void load_ctl_start(struct load_worker *w, struct load_client *c, uint64_t now)
{
	w->pending++;
	c->state = LOAD_C_ALLOC;
	c->auth_tries = 0;
	c->txn_start = now;
	if (!w->st.alloc_first_ns)
		w->st.alloc_first_ns = now;
	if (load_client_socket(w, c)) {
		load_ctl_fail(w, c, LOAD_ERR_LOCAL);
		return;
	}
	if (w->o->bare) {
		c->state = LOAD_C_BIND;
		request(w, c, LOAD_BARE_METHOD, now);
	} else {
		request(w, c, STUN_METHOD_ALLOCATE, now);
	}
}

void load_ctl_free(struct load_worker *w, struct load_client *c, uint64_t now)
{
	if (c->state != LOAD_C_READY)
		return;
	c->state = LOAD_C_FREE;
	w->pending++;
	c->auth_tries = 0;
	c->txn_start = now;
	request(w, c, w->o->bare ? LOAD_BARE_METHOD : STUN_METHOD_REFRESH, now);
}

void load_ctl_fail(struct load_worker *w, struct load_client *c, uint16_t code)
{
	c->err = code;
	w->st.last_err = code;
	if (code >= LOAD_ERR_MIN && code < LOAD_ERR_MIN + LOAD_ERR_N)
		w->st.err[code - LOAD_ERR_MIN]++;
	switch (c->state) {
	case LOAD_C_ALLOC:
		w->st.allocs_fail++;
		break;
	case LOAD_C_BIND:
		w->st.binds_fail++;
		if (!w->o->bare && c->req_auth) {
			/* The allocation exists: free it. */
			settle(w, c, LOAD_C_READY);
			load_ctl_free(w, c, load_now_ns());
			return;
		}
		break;
	case LOAD_C_FREE:
		w->st.frees_fail++;
		break;
	case LOAD_C_READY:
		w->st.refresh_fail++;
		break;
	}
	settle(w, c, LOAD_C_FAILED);
	load_client_close(c);
}

/* Take REALM and NONCE from a 401 or 438; 0 or EPROTO. */
static int learn(struct load_worker *w, struct load_client *c,
                 const struct stun_msg *m)
{
	const struct stun_attr *n = stun_msg_find(m, STUN_ATTR_NONCE);
	const struct stun_attr *r = stun_msg_find(m, STUN_ATTR_REALM);

	if (!n || n->len >= LOAD_TEXT_MAX || (!r && !w->realm_len))
		return EPROTO;
	memcpy(c->nonce, n->value, n->len);
	c->nonce_len = (uint8_t)n->len;
	if (!r || r->len >= LOAD_TEXT_MAX ||
	    (r->len == w->realm_len && !memcmp(r->value, w->realm, r->len)))
		return r && r->len >= LOAD_TEXT_MAX ? EPROTO : 0;
	memcpy(w->realm, r->value, r->len);
	w->realm_len = (uint8_t)r->len;
	return stun_long_term_key(STUN_PW_ALG_MD5, w->o->user,
	                          strlen(w->o->user), w->realm, w->realm_len,
	                          w->o->password, strlen(w->o->password),
	                          w->key, &w->key_len)
	               ? EPROTO
	               : 0;
}

static void on_error(struct load_worker *w, struct load_client *c,
                     const struct stun_msg *m, uint64_t now)
{
	uint16_t code = 0;
	bool challenge;

	if (stun_msg_get_error(m, &code, NULL, NULL)) {
		load_ctl_fail(w, c, LOAD_ERR_PROTO);
		return;
	}
	challenge = code == 401 && !c->req_auth;
	if ((code == 401 || code == 438) && c->auth_tries < 3) {
		if (learn(w, c, m)) {
			load_ctl_fail(w, c, LOAD_ERR_PROTO);
			return;
		}
		if (challenge)
			w->st.challenges++;
		else if (code == 438)
			w->st.stale_nonce++;
		else
			w->st.reauth++;
		c->auth_tries += !challenge;
		request(w, c, c->txn, now);
		return;
	}
	if (code == 437 && c->state == LOAD_C_FREE) {
		w->st.frees_ok++; /* already gone */
		settle(w, c, LOAD_C_DONE);
		load_client_close(c);
		return;
	}
	load_ctl_fail(w, c, code);
}

static void on_allocated(struct load_worker *w, struct load_client *c,
                         const struct stun_msg *m, uint64_t now)
{
	uint32_t lt = w->o->lifetime_s;

	if (stun_msg_get_xor_addr(m, STUN_ATTR_XOR_RELAYED_ADDRESS,
	                          &c->relayed)) {
		load_ctl_fail(w, c, LOAD_ERR_PROTO);
		return;
	}
	stun_msg_get_u32(m, STUN_ATTR_LIFETIME, &lt);
	c->alloc_refresh_at = lt ? now + (uint64_t)lt * 500000000ull : 0;
	w->st.allocs_ok++;
	w->st.alloc_last_ns = now;
	load_hist_add(&w->st.alloc_lat, now - c->txn_start);
	if (w->o->mode == LOAD_MODE_ALLOCS) {
		set_ready(w, c, now);
		return;
	}
	c->state = LOAD_C_BIND;
	request(w, c, bind_method(w->o), now);
}

static void on_success(struct load_worker *w, struct load_client *c,
                       const struct stun_msg *m, uint64_t now)
{
	if (c->req_auth &&
	    stun_check_integrity(m, w->key, w->key_len) == EACCES)
		w->st.bad_mi++;
	switch (c->txn) {
	case STUN_METHOD_ALLOCATE:
		on_allocated(w, c, m, now);
		return;
	case STUN_METHOD_CHANNEL_BIND:
	case STUN_METHOD_CREATE_PERMISSION:
		c->bind_refresh_at =
		        now + (uint64_t)w->o->bind_refresh_s * 1000000000ull;
		if (c->state == LOAD_C_BIND) {
			w->st.binds_ok++;
			set_ready(w, c, now);
		} else {
			w->st.refreshes++;
			c->txn = 0;
		}
		return;
	case STUN_METHOD_REFRESH:
		if (c->state == LOAD_C_FREE) {
			w->st.frees_ok++;
			settle(w, c, LOAD_C_DONE);
			load_client_close(c);
			return;
		}
		uint32_t lt = w->o->lifetime_s;
		stun_msg_get_u32(m, STUN_ATTR_LIFETIME, &lt);
		c->alloc_refresh_at = now + (uint64_t)lt * 500000000ull;
		w->st.refreshes++;
		c->txn = 0;
		return;
	}
}

void load_ctl_input(struct load_worker *w, struct load_client *c,
                    const uint8_t *buf, size_t len, uint64_t now)
{
	struct stun_msg m;

	if (stun_msg_parse(&m, buf, len, NULL)) {
		w->st.bad_pkt++;
		return;
	}
	if (!c->txn || m.method != c->txn || m.rfc3489 ||
	    memcmp(m.tid, c->tid, STUN_TID_LEN))
		return; /* late answer to an earlier transmission */
	if (m.cls == STUN_CLASS_ERROR)
		on_error(w, c, &m, now);
	else if (m.cls == STUN_CLASS_SUCCESS)
		on_success(w, c, &m, now);
}

void load_ctl_bare_input(struct load_worker *w, struct load_client *c,
                         const uint8_t *p, size_t len, uint64_t now)
{
	if (c->txn != LOAD_BARE_METHOD)
		return;
	if (c->state == LOAD_C_BIND && len >= BARE_ADDR_LEN &&
	    !memcmp(p, BARE_BOUND, BARE_TAG_LEN)) {
		bare_get_addr(p + BARE_TAG_LEN, &c->relayed);
		w->st.allocs_ok++;
		w->st.binds_ok++;
		w->st.alloc_last_ns = now;
		load_hist_add(&w->st.alloc_lat, now - c->txn_start);
		set_ready(w, c, now);
	} else if (c->state == LOAD_C_FREE && len >= BARE_TAG_LEN &&
	           !memcmp(p, BARE_FREED, BARE_TAG_LEN)) {
		w->st.frees_ok++;
		settle(w, c, LOAD_C_DONE);
		load_client_close(c);
	}
}

/* A READY client with nothing in flight: refresh what is due. */
static void refresh_due(struct load_worker *w, struct load_client *c,
                        uint64_t now)
{
	if (w->o->bare)
		return;
	if (c->alloc_refresh_at && now >= c->alloc_refresh_at)
		request(w, c, STUN_METHOD_REFRESH, now);
	else if (w->o->mode != LOAD_MODE_ALLOCS && now >= c->bind_refresh_at)
		request(w, c, bind_method(w->o), now);
}

void load_ctl_scan(struct load_worker *w, uint64_t now)
{
	for (int i = 0; i < w->ncl; i++) {
		struct load_client *c = &w->cl[i];

		if (c->txn && now >= c->rto_at) {
			if (c->tries >= w->o->max_tries) {
				w->st.ctl_timeouts++;
				load_ctl_fail(w, c, LOAD_ERR_TIMEOUT);
			} else {
				w->st.retransmits++;
				transmit(w, c, now);
			}
		} else if (c->state == LOAD_C_READY && !c->txn &&
		           w->phase != LOAD_W_FREE) {
			refresh_due(w, c, now);
		}
	}
}
