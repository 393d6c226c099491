/*
 * auth/nonce.c - stateless nonces (RFC 8489 s9.2, s9.2.1 nonce cookie,
 * s18.1 security features). The format is in auth.h; in short:
 *
 *   "obMatJos2" base64(features, 3 bytes)              13 characters
 *   base64-unpadded(id | algs | expiry | MAC64)         19 characters
 *
 * The MAC (HMAC-SHA256, truncated to 8 bytes) covers the cookie too, so a
 * man in the middle who strips a feature bit from a 401 produces a nonce
 * that fails here (bid-down protection needs the bits to be genuine).
 * Two keys are kept, current and previous, so a nonce minted just before
 * a rotation stays good until it expires, or until the previous key's
 * own end (prev_until_s: one rotation period after it was replaced).
 * The object owns copies of the keys and nothing else. Pure: time is
 * now_s, keys come from the caller.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/auth_int.h"

#define COOKIE        "obMatJos2"
#define COOKIE_PREFIX 9
#define COOKIE_LEN    13 /* prefix + 4 base64 characters */
#define PAYLOAD_LEN   14 /* id, algs, expiry (4), MAC (8) */
#define MAC_LEN       8
#define LIFETIME_MAX  86400u

struct auth_nonces {
	uint32_t lifetime_s;
	struct auth_nonce_key cur, prev;
	bool has_prev;
	uint64_t prev_until_s; /* 0: until replaced */
};

int auth_nonces_new(struct auth_nonces **out, uint32_t lifetime_s,
                    const struct auth_nonce_key *key)
{
	*out = NULL;
	if (key == NULL || lifetime_s > LIFETIME_MAX)
		return EINVAL;
	struct auth_nonces *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return ENOMEM;
	n->lifetime_s = lifetime_s ? lifetime_s : AUTH_NONCE_LIFETIME_DEFAULT;
	n->cur = *key;
	*out = n;
	return 0;
}

void auth_nonces_free(struct auth_nonces *n)
{
	if (n == NULL)
		return;
	explicit_bzero(n, sizeof(*n));
	free(n);
}

int auth_nonces_rotate(struct auth_nonces *n, const struct auth_nonce_key *key)
{
	if (key == NULL || key->id == n->cur.id)
		return EINVAL;
	n->prev = n->cur;
	n->has_prev = true;
	n->prev_until_s = 0;
	n->cur = *key;
	return 0;
}

void auth_nonces_set_prev_until(struct auth_nonces *n, uint64_t until_s)
{
	n->prev_until_s = until_s;
}

int auth_nonces_dup(struct auth_nonces **out, const struct auth_nonces *n)
{
	*out = malloc(sizeof(**out));
	if (*out == NULL)
		return ENOMEM;
	**out = *n;
	return 0;
}

uint8_t auth_nonces_current_id(const struct auth_nonces *n)
{
	return n->cur.id;
}

uint8_t auth_nonce_next_id(uint8_t id)
{
	return id >= 255 ? 1 : (uint8_t)(id + 1);
}

bool auth_nonce_rotation_due(uint64_t created_s, uint32_t period_s,
                             uint64_t now_s)
{
	return now_s >= created_s + period_s;
}

int auth_nonces_set_keys(struct auth_nonces *n,
                         const struct auth_nonce_key *cur,
                         const struct auth_nonce_key *prev)
{
	if (cur == NULL || (prev != NULL && prev->id == cur->id))
		return EINVAL;
	n->cur = *cur;
	n->has_prev = prev != NULL;
	n->prev_until_s = 0;
	if (prev != NULL)
		n->prev = *prev;
	else
		explicit_bzero(&n->prev, sizeof(n->prev));
	return 0;
}

const char *auth_nonce_status_str(enum auth_nonce_status st)
{
	switch (st) {
	case AUTH_NONCE_OK:
		return "ok";
	case AUTH_NONCE_STALE:
		return "stale";
	case AUTH_NONCE_WRONG_ADDRESS:
		return "wrong address";
	case AUTH_NONCE_MALFORMED:
		return "malformed";
	}
	return "?";
}

/* The client's family and IP (transport_bytes without the port): nonces
 * are bound to the host, not the port, so a client that opens another
 * connection (a stream client following a 300 redirect, an RFC 6062 data
 * connection) or whose NAT moves it to another port keeps its nonce, while
 * a nonce still cannot be used from another address. */
static size_t ip_bytes(const struct sockaddr *sa, uint8_t out[19])
{
	size_t n = transport_bytes(sa, out);

	return n > 2 ? n - 2 : 0;
}

/* MAC over cookie | id | algs | expiry | client IP. */
static int nonce_mac(const struct auth_nonce_key *k, const char *cookie,
                     const uint8_t head[6], const uint8_t *addr,
                     size_t addr_len, uint8_t mac[MAC_LEN])
{
	uint8_t msg[COOKIE_LEN + 6 + 19];
	uint8_t full[EVP_MAX_MD_SIZE];
	unsigned full_len = 0;

	memcpy(msg, cookie, COOKIE_LEN);
	memcpy(msg + COOKIE_LEN, head, 6);
	memcpy(msg + COOKIE_LEN + 6, addr, addr_len);
	if (HMAC(EVP_sha256(), k->bytes, AUTH_NONCE_KEY_LEN, msg,
	         COOKIE_LEN + 6 + addr_len, full, &full_len) == NULL)
		return ENOMEM;
	memcpy(mac, full, MAC_LEN);
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int auth_nonce_mint(const struct auth_nonces *n, const struct auth_store *s,
                    const struct sockaddr *client, uint64_t now_s, char *out,
                    size_t cap)
{
	uint8_t addr[19], payload[PAYLOAD_LEN];
	size_t addr_len = ip_bytes(client, addr);
	uint32_t f = auth_store_features(s);
	uint8_t fb[3] = {(uint8_t)(f >> 16), (uint8_t)(f >> 8), (uint8_t)f};

	if (cap < AUTH_NONCE_LEN + 1)
		return ENOSPC;
	if (addr_len == 0 || now_s > UINT32_MAX - n->lifetime_s)
		return EINVAL;
	memcpy(out, COOKIE, COOKIE_PREFIX);
	base64_encode(fb, 3, false, out + COOKIE_PREFIX);
	payload[0] = n->cur.id;
	payload[1] = store_alg_bits(s);
	put32(payload + 2, (uint32_t)(now_s + n->lifetime_s));
	int rc = nonce_mac(&n->cur, out, payload, addr, addr_len, payload + 6);
	if (rc != 0)
		return rc;
	base64_encode(payload, PAYLOAD_LEN, false, out + COOKIE_LEN);
	out[AUTH_NONCE_LEN] = '\0';
	return 0;
}

int auth_nonce_parse(const uint8_t *nonce, size_t len,
                     struct auth_nonce_info *info)
{
	uint8_t fb[3], payload[PAYLOAD_LEN];

	memset(info, 0, sizeof(*info));
	if (len < COOKIE_LEN || memcmp(nonce, COOKIE, COOKIE_PREFIX) != 0 ||
	    base64_decode_nopad((const char *)nonce + COOKIE_PREFIX, 4, fb,
	                        sizeof(fb)) != 3)
		return ENOENT;
	info->features = (uint32_t)fb[0] << 16 | (uint32_t)fb[1] << 8 | fb[2];
	if (len == AUTH_NONCE_LEN &&
	    base64_decode_nopad((const char *)nonce + COOKIE_LEN,
	                        AUTH_NONCE_LEN - COOKIE_LEN, payload,
	                        sizeof(payload)) == PAYLOAD_LEN) {
		info->ours = true;
		info->key_id = payload[0];
		info->algs = payload[1];
		info->expiry_s = (uint32_t)payload[2] << 24 |
		                 (uint32_t)payload[3] << 16 |
		                 (uint32_t)payload[4] << 8 | payload[5];
	}
	return 0;
}

enum auth_nonce_status auth_nonce_check(const struct auth_nonces *n,
                                        const uint8_t *nonce, size_t len,
                                        const struct sockaddr *client,
                                        uint64_t now_s)
{
	uint8_t payload[PAYLOAD_LEN], addr[19], mac[MAC_LEN];
	const struct auth_nonce_key *k;

	if (len != AUTH_NONCE_LEN || memcmp(nonce, COOKIE, COOKIE_PREFIX) != 0)
		return AUTH_NONCE_MALFORMED;
	if (base64_decode_nopad((const char *)nonce + COOKIE_PREFIX, 4, mac,
	                        3) != 3 ||
	    base64_decode_nopad((const char *)nonce + COOKIE_LEN,
	                        AUTH_NONCE_LEN - COOKIE_LEN, payload,
	                        sizeof(payload)) != PAYLOAD_LEN)
		return AUTH_NONCE_MALFORMED;
	if (payload[0] == n->cur.id)
		k = &n->cur;
	else if (n->has_prev && payload[0] == n->prev.id &&
	         (n->prev_until_s == 0 || now_s <= n->prev_until_s))
		k = &n->prev;
	else
		return AUTH_NONCE_STALE;
	size_t addr_len = ip_bytes(client, addr);
	if (addr_len == 0 ||
	    nonce_mac(k, (const char *)nonce, payload, addr, addr_len, mac) !=
	            0 ||
	    CRYPTO_memcmp(mac, payload + 6, MAC_LEN) != 0)
		return AUTH_NONCE_WRONG_ADDRESS;
	uint32_t expiry = (uint32_t)payload[2] << 24 |
	                  (uint32_t)payload[3] << 16 |
	                  (uint32_t)payload[4] << 8 | payload[5];
	if (expiry < now_s)
		return AUTH_NONCE_STALE;
	return AUTH_NONCE_OK;
}
