/*
 * auth/rest.c - TURN REST API credentials (draft-uberti-behave-turn-rest
 * s2.2, coturn use-auth-secret / static-auth-secret).
 *
 * The web tier and avedge share secrets. A credential is
 *   username = "<expiry>:<id>" (or a bare "<expiry>"), expiry in unix s
 *   password = base64(HMAC-SHA1(secret, username))
 * and the long-term key is derived from that password as for any user
 * (RFC 8489 s9.2.2), for MD5 or SHA-256 alike. Several secrets may be
 * valid at once (rotation): the key of each is a candidate, and the one
 * that verifies the message wins (verify.c). Keys are computed per
 * authenticated request, never stored. Pure.
 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/auth_int.h"

#define SHA1_LEN 20

int auth_store_add_secret(struct auth_store *s, const char *secret, char *err,
                          size_t err_len)
{
	if (secret == NULL || secret[0] == '\0')
		return auth_set_err(EINVAL, err, err_len,
		                    "static-auth-secret is empty");
	size_t len = strlen(secret);
	if (len > AUTH_SECRET_MAX)
		return auth_set_err(
		        EINVAL, err, err_len,
		        "static-auth-secret is longer than %d bytes",
		        AUTH_SECRET_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)secret[i] < 0x20 ||
		    (unsigned char)secret[i] == 0x7f)
			return auth_set_err(EINVAL, err, err_len,
			                    "static-auth-secret has a control "
			                    "character");
	for (size_t i = 0; i < s->nsecrets; i++)
		if (s->secrets[i].len == len &&
		    memcmp(s->secrets[i].bytes, secret, len) == 0)
			return 0;
	if (s->nsecrets == AUTH_SECRETS_MAX)
		return auth_set_err(ENOSPC, err, err_len,
		                    "more than %d static-auth-secret values",
		                    AUTH_SECRETS_MAX);
	s->secrets[s->nsecrets].len = len;
	memcpy(s->secrets[s->nsecrets].bytes, secret, len);
	s->nsecrets++;
	return 0;
}

int auth_rest_password(const char *secret, size_t secret_len, const char *user,
                       size_t user_len, char *out, size_t cap)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;

	if (cap < AUTH_REST_PASSWORD_LEN + 1)
		return ENOSPC;
	if (secret_len > INT32_MAX ||
	    HMAC(EVP_sha1(), secret, (int)secret_len, (const uint8_t *)user,
	         user_len, mac, &mac_len) == NULL ||
	    mac_len != SHA1_LEN)
		return ENOMEM;
	base64_encode(mac, SHA1_LEN, true, out);
	out[AUTH_REST_PASSWORD_LEN] = '\0';
	explicit_bzero(mac, sizeof(mac));
	return 0;
}

int auth_rest_parse(const char *user, size_t user_len, uint64_t *expiry_s,
                    const char **id, size_t *id_len)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < user_len && user[i] >= '0' && user[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return EINVAL;
		v = v * 10 + (uint64_t)(user[i] - '0');
	}
	if (i == 0 || (i < user_len && user[i] != ':'))
		return EINVAL;
	*expiry_s = v;
	*id = i < user_len ? user + i + 1 : user + i;
	*id_len = i < user_len ? user_len - i - 1 : 0;
	return 0;
}

enum auth_reason rest_keys(const struct auth_store *s, const char *user,
                           size_t user_len, enum stun_pw_alg alg,
                           struct auth_key *keys, size_t cap, size_t *n,
                           uint64_t *expiry_s)
{
	const char *id;
	size_t id_len;
	char pw[AUTH_REST_PASSWORD_LEN + 1];

	*n = 0;
	if (auth_rest_parse(user, user_len, expiry_s, &id, &id_len) != 0)
		return AUTH_ERR_NO_USER;
	for (size_t i = 0; i < s->nsecrets && *n < cap; i++) {
		const struct auth_secret *sec = &s->secrets[i];
		struct auth_key *k = &keys[*n];
		if (auth_rest_password(sec->bytes, sec->len, user, user_len, pw,
		                       sizeof(pw)) != 0 ||
		    stun_long_term_key(alg, user, user_len, s->realm,
		                       s->realm_len, pw, AUTH_REST_PASSWORD_LEN,
		                       k->key, &k->len) != 0)
			continue;
		(*n)++;
	}
	explicit_bzero(pw, sizeof(pw));
	return *n > 0 ? AUTH_OK : AUTH_ERR_NO_USER;
}
