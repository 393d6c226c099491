/*
 * auth/verify.c - authenticating a request with the long-term credential
 * mechanism (RFC 8489 s9.2.4, the nonce aside): attribute presence,
 * bid-down protection (s9.2.1, s9.2.4), the password algorithm the client
 * chose (s14.11, s14.12, s18.5), USERNAME or USERHASH (s14.3, s14.4), and
 * MESSAGE-INTEGRITY(-SHA256) (s14.5, s14.6) under each candidate key.
 * Reads the parsed message (which borrows the caller's buffer) and the
 * const store; copies what it returns. Pure.
 */
#include <string.h>

#include "auth/auth_int.h"

static const char *const reason_str[] = {
        [AUTH_OK] = "ok",
        [AUTH_ERR_NO_INTEGRITY] = "no integrity",
        [AUTH_ERR_MISSING_ATTR] = "missing attribute",
        [AUTH_ERR_BAD_ATTR] = "malformed attribute",
        [AUTH_ERR_ALGS_MISSING] = "password algorithms missing",
        [AUTH_ERR_ALGS_MISMATCH] = "password algorithms altered",
        [AUTH_ERR_ALG_NOT_OFFERED] = "password algorithm not offered",
        [AUTH_ERR_UNSUPPORTED_ALG] = "unsupported algorithm",
        [AUTH_ERR_UNKNOWN_REALM] = "unknown realm",
        [AUTH_ERR_NO_USER] = "no user",
        [AUTH_ERR_USERHASH_UNKNOWN] = "userhash unknown",
        [AUTH_ERR_BAD_INTEGRITY] = "bad integrity",
        [AUTH_ERR_REST_EXPIRED] = "expired REST credential",
};

const char *auth_reason_str(enum auth_reason r)
{
	if ((size_t)r >= sizeof(reason_str) / sizeof(reason_str[0]))
		return "?";
	return reason_str[r];
}

uint16_t auth_reason_code(enum auth_reason r)
{
	switch (r) {
	case AUTH_OK:
		return 0;
	case AUTH_ERR_MISSING_ATTR:
	case AUTH_ERR_BAD_ATTR:
	case AUTH_ERR_ALGS_MISSING:
	case AUTH_ERR_ALGS_MISMATCH:
	case AUTH_ERR_ALG_NOT_OFFERED:
	case AUTH_ERR_UNSUPPORTED_ALG:
		return 400;
	default:
		return 401;
	}
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Value length without the trailing NULs old clients leave (s9.2.2). */
static size_t text_len(const struct stun_attr *a)
{
	size_t len = a->len;
	while (len > 0 && a->value[len - 1] == '\0')
		len--;
	return len;
}

/* A PASSWORD-ALGORITHM value: algorithm, parameter length, parameters. */
static bool parse_alg(const struct stun_attr *a, uint16_t *alg, uint16_t *plen)
{
	if (a->len < 4)
		return false;
	*alg = get16(a->value);
	*plen = get16(a->value + 2);
	return (size_t)*plen + 4 == a->len;
}

enum auth_reason auth_check_algorithms(const struct auth_store *s,
                                       const struct stun_msg *m)
{
	const struct stun_attr *nonce = stun_msg_find(m, STUN_ATTR_NONCE);
	struct auth_nonce_info info;

	if (nonce == NULL ||
	    auth_nonce_parse(nonce->value, nonce->len, &info) != 0 ||
	    !(info.features & AUTH_FEATURE_PASSWORD_ALGORITHMS))
		return AUTH_OK;
	const struct stun_attr *pa =
	        stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHM);
	const struct stun_attr *pas =
	        stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHMS);
	if (pa == NULL && pas == NULL)
		return AUTH_OK; /* processed as MD5 */
	if (pa == NULL || pas == NULL)
		return AUTH_ERR_ALGS_MISSING;

	uint8_t bits = info.ours ? info.algs : store_alg_bits(s);
	uint8_t sent[8];
	size_t sent_len = algs_value_from_bits(bits, sent, sizeof(sent));
	if (sent_len == 0 || pas->len != sent_len ||
	    memcmp(pas->value, sent, sent_len) != 0)
		return AUTH_ERR_ALGS_MISMATCH;

	uint16_t alg, plen;
	if (!parse_alg(pa, &alg, &plen))
		return AUTH_ERR_BAD_ATTR;
	/* Our list has no parameters: an entry matches only without. */
	if (plen != 0 ||
	    (alg != STUN_PW_ALG_MD5 && alg != STUN_PW_ALG_SHA256) ||
	    !(bits & ALG_BIT(alg)))
		return AUTH_ERR_ALG_NOT_OFFERED;
	return AUTH_OK;
}

/* The algorithm the client derived its key with: MD5 unless it says. */
static enum auth_reason chosen_alg(const struct stun_msg *m,
                                   enum stun_pw_alg *alg)
{
	const struct stun_attr *pa =
	        stun_msg_find(m, STUN_ATTR_PASSWORD_ALGORITHM);
	uint16_t v, plen;

	*alg = STUN_PW_ALG_MD5;
	if (pa == NULL)
		return AUTH_OK;
	if (!parse_alg(pa, &v, &plen))
		return AUTH_ERR_BAD_ATTR;
	if (plen != 0 || (v != STUN_PW_ALG_MD5 && v != STUN_PW_ALG_SHA256))
		return AUTH_ERR_UNSUPPORTED_ALG;
	*alg = (enum stun_pw_alg)v;
	return AUTH_OK;
}

static void copy_text(char *dst, size_t *dst_len, const char *src, size_t len)
{
	memcpy(dst, src, len);
	dst[len] = '\0';
	*dst_len = len;
}

/* Fill username from USERNAME, or from the static user of USERHASH. */
static enum auth_reason find_name(const struct auth_store *s,
                                  const struct stun_msg *m, const char *realm,
                                  size_t realm_len, struct auth_result *res)
{
	const struct stun_attr *un = stun_msg_find(m, STUN_ATTR_USERNAME);
	const char *name;
	size_t len;

	if (un != NULL) {
		name = (const char *)un->value;
		len = text_len(un);
		if (len == 0 || len > AUTH_USERNAME_MAX ||
		    memchr(name, '\0', len) != NULL)
			return AUTH_ERR_NO_USER;
	} else {
		const struct stun_attr *uh =
		        stun_msg_find(m, STUN_ATTR_USERHASH);
		if (uh->len != USERHASH_LEN)
			return AUTH_ERR_BAD_ATTR;
		name = auth_store_find_userhash(s, realm, realm_len, uh->value,
		                                &len);
		if (name == NULL)
			return AUTH_ERR_USERHASH_UNKNOWN;
		res->by_userhash = true;
	}
	copy_text(res->username, &res->username_len, name, len);
	return AUTH_OK;
}

static bool integrity_ok(const struct stun_msg *m, const struct auth_key *k)
{
	if (m->mi256_off != 0)
		return stun_check_integrity_sha256(m, k->key, k->len) == 0;
	return stun_check_integrity(m, k->key, k->len) == 0;
}

static void set_quota_key(struct auth_result *res)
{
	const char *id = res->username;
	size_t id_len = res->username_len;
	uint64_t expiry;

	if (res->rest &&
	    auth_rest_parse(res->username, res->username_len, &expiry, &id,
	                    &id_len) == 0 &&
	    id_len == 0) {
		id = res->username; /* bare expiry: counts as itself */
		id_len = res->username_len;
	}
	copy_text(res->quota_key, &res->quota_key_len, id, id_len);
}

static enum auth_reason done(struct auth_result *res, enum auth_reason r)
{
	res->reason = r;
	return r;
}

enum auth_reason auth_verify(const struct auth_store *s,
                             const struct stun_msg *m, uint64_t now_s,
                             struct auth_result *res)
{
	struct auth_key keys[AUTH_SECRETS_MAX];
	size_t n = 0;
	enum auth_reason r;

	memset(res, 0, sizeof(*res));
	res->alg = STUN_PW_ALG_MD5;
	if (m->mi_off == 0 && m->mi256_off == 0)
		return done(res, AUTH_ERR_NO_INTEGRITY);
	const struct stun_attr *realm = stun_msg_find(m, STUN_ATTR_REALM);
	if ((stun_msg_find(m, STUN_ATTR_USERNAME) == NULL &&
	     stun_msg_find(m, STUN_ATTR_USERHASH) == NULL) ||
	    realm == NULL || stun_msg_find(m, STUN_ATTR_NONCE) == NULL)
		return done(res, AUTH_ERR_MISSING_ATTR);
	if ((r = auth_check_algorithms(s, m)) != AUTH_OK ||
	    (r = chosen_alg(m, &res->alg)) != AUTH_OK)
		return done(res, r);
	const char *realm_v = (const char *)realm->value;
	size_t realm_len = text_len(realm);
	if (!store_realm_is(s, realm_v, realm_len))
		return done(res, AUTH_ERR_UNKNOWN_REALM);
	if ((r = find_name(s, m, realm_v, realm_len, res)) != AUTH_OK)
		return done(res, r);
	r = auth_store_lookup(s, realm_v, realm_len, res->username,
	                      res->username_len, res->alg, keys,
	                      AUTH_SECRETS_MAX, &n, &res->rest,
	                      &res->rest_expiry_s);
	if (r != AUTH_OK)
		return done(res, r);
	set_quota_key(res);

	size_t i = 0;
	while (i < n && !integrity_ok(m, &keys[i]))
		i++;
	if (i == n)
		r = AUTH_ERR_BAD_INTEGRITY;
	else if (res->rest && res->rest_expiry_s < now_s)
		r = AUTH_ERR_REST_EXPIRED;
	if (r == AUTH_OK) {
		memcpy(res->key, keys[i].key, keys[i].len);
		res->key_len = keys[i].len;
		res->integrity_sha256 = m->mi256_off != 0;
	}
	explicit_bzero(keys, sizeof(keys));
	return done(res, r);
}
