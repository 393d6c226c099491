/*
 * turn/reply.c - what the TURN core hands back: the caller's action list
 * and its scratch space (responses are built there, 8-byte aligned, valid
 * until the caller resets the list), response building and signing
 * (SOFTWARE, MESSAGE-INTEGRITY or -SHA256 with the request's key,
 * FINGERPRINT when the request had one; no SOFTWARE nor reason phrase to
 * an unauthenticated sender), lifecycle log lines, the
 * server's PRNG, and the lifetime rule of s7.2 / s8. Pure.
 */
#include "turn/turn_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* --- actions and scratch --------------------------------------------- */

void turn_actions_reset(struct turn_actions *out)
{
	out->n = 0;
	out->dropped = 0;
	out->used = 0;
}

struct turn_action *turn_act_push(struct turn_actions *out,
                                  enum turn_action_kind kind)
{
	if (out->n >= TURN_ACTIONS_MAX) {
		out->dropped++;
		return NULL;
	}
	struct turn_action *a = &out->v[out->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

void *turn_scratch(struct turn_actions *out, size_t len)
{
	size_t at = (out->used + 7) & ~(size_t)7;

	if (at > TURN_SCRATCH_LEN || len > TURN_SCRATCH_LEN - at)
		return NULL;
	out->used = at + len;
	return out->scratch + at;
}

/* xoshiro256** */
static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint32_t turn_rng(struct turn_server *s)
{
	uint64_t *r = s->rng;
	uint64_t res = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;

	r[2] ^= r[0];
	r[3] ^= r[1];
	r[1] ^= r[2];
	r[0] ^= r[3];
	r[2] ^= t;
	r[3] = rotl(r[3], 45);
	return (uint32_t)(res >> 32);
}

void turn_log(struct turn_server *s, const char *fmt, ...)
{
	char line[384];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	char *buf = turn_scratch(s->out, len + 1);
	if (!buf)
		return;
	memcpy(buf, line, len + 1);
	struct turn_action *a = turn_act_push(s->out, TURN_ACT_LOG);
	if (a) {
		a->data = (const uint8_t *)buf;
		a->len = len;
	}
}

/* --- responses ---------------------------------------------------------- */

bool turn_resp_begin(struct turn_actions *out, struct stun_builder *b,
                     uint16_t method, uint8_t cls, const uint8_t *tid)
{
	size_t at = (out->used + 7) & ~(size_t)7;

	if (at + TURN_RESP_CAP > TURN_SCRATCH_LEN) {
		out->dropped++;
		return false;
	}
	stun_build_init(b, out->scratch + at, TURN_RESP_CAP, method, cls, tid);
	return true;
}

void turn_resp_send(struct turn_server *s, struct turn_actions *out,
                    const struct turn_tuple *to, const struct turn_signer *sig,
                    struct stun_builder *b)
{
	if (sig->authed) {
		if (s->cfg.software)
			stun_build_attr(b, STUN_ATTR_SOFTWARE, s->cfg.software,
			                strlen(s->cfg.software));
		if (sig->sha256)
			stun_build_integrity_sha256(b, sig->key, sig->key_len);
		else
			stun_build_integrity(b, sig->key, sig->key_len);
	}
	if (sig->fingerprint)
		stun_build_fingerprint(b);
	size_t len = stun_build_finish(b);
	if (len == 0)
		return;
	/* The message is at the aligned start of the free scratch. */
	size_t at = (out->used + 7) & ~(size_t)7;
	out->used = at + len;
	struct turn_tuple *t = turn_scratch(out, sizeof(*t));
	if (!t)
		return;
	*t = *to;
	struct turn_action *a = turn_act_push(out, TURN_ACT_SEND_CLIENT);
	if (!a)
		return;
	a->tuple = t;
	a->data = b->buf;
	a->len = len;
}

void turn_resp_error(struct turn_req *r, uint16_t code)
{
	struct stun_builder b;

	r->s->stats.responses_error[r->m->method & 0xf]++;
	turn_count_response(r->s, r->m->method, code);
	if (!turn_resp_begin(r->out, &b, r->m->method, STUN_CLASS_ERROR,
	                     r->m->tid))
		return;
	stun_build_error(&b, code, r->sig.authed ? NULL : "");
	if (code == 420)
		stun_build_unknown(&b, r->m->unknown, r->m->nunknown);
	turn_resp_send(r->s, r->out, r->from, &r->sig, &b);
}

void turn_resp_ok(struct turn_req *r, bool with_lifetime, uint32_t lifetime_s)
{
	struct stun_builder b;

	turn_count_response(r->s, r->m->method, 0);
	if (!turn_resp_begin(r->out, &b, r->m->method, STUN_CLASS_SUCCESS,
	                     r->m->tid))
		return;
	if (with_lifetime)
		stun_build_u32(&b, STUN_ATTR_LIFETIME, lifetime_s);
	turn_resp_send(r->s, r->out, r->from, &r->sig, &b);
}

uint32_t turn_lifetime(const struct turn_server *s, const struct stun_msg *m,
                       bool *zero)
{
	uint32_t v;

	*zero = false;
	if (stun_msg_get_u32(m, STUN_ATTR_LIFETIME, &v) != 0)
		return s->cfg.default_lifetime_s;
	if (v == 0) {
		*zero = true;
		return 0;
	}
	if (v > s->cfg.max_lifetime_s)
		return s->cfg.max_lifetime_s;
	if (v < s->cfg.default_lifetime_s)
		return s->cfg.default_lifetime_s;
	return v;
}

uint64_t turn_user_hash(const struct turn_server *s, const char *user,
                        size_t len)
{
	return turn_hash(s->hkey, user, len);
}
