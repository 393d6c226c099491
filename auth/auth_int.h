/*
 * auth/auth_int.h - what the files of auth/ share and nobody else sees:
 * the layout of the credential store, base64, SipHash, source-address keys
 * and the error-string helper. Pure.
 */
#ifndef AVEDGE_AUTH_INT_H
#define AVEDGE_AUTH_INT_H

#include "auth/auth.h"

#define MD5_KEY_LEN    16
#define SHA256_KEY_LEN 32
#define USERHASH_LEN   32

/* Bits of the "offered algorithms" byte of a nonce: bit (alg - 1). */
#define ALG_BIT(alg) ((uint8_t)(1u << ((unsigned)(alg)-1u)))

struct auth_user {
	char *name; /* NUL-terminated, owned */
	size_t name_len;
	bool has_sha256; /* false for a 0xKEY user */
	uint8_t md5[MD5_KEY_LEN];
	uint8_t sha256[SHA256_KEY_LEN];
	uint8_t userhash[USERHASH_LEN];
};

struct auth_secret {
	size_t len;
	char bytes[AUTH_SECRET_MAX];
};

/*
 * One realm's credentials. Tables are open-addressed arrays of user index
 * + 1 (0 = empty), capacity a power of two at least twice the users, so a
 * probe always ends. Rebuilt whenever the user array grows.
 */
struct auth_store {
	char realm[AUTH_REALM_MAX + 1];
	size_t realm_len;
	struct auth_user *users;
	size_t nusers, users_cap;
	uint32_t *by_name;
	uint32_t *by_hash;
	size_t table_cap;
	size_t nkeyonly; /* 0xKEY users: no SHA-256 for this realm */
	struct auth_secret secrets[AUTH_SECRETS_MAX];
	size_t nsecrets;
	/* realms.c: the other realms of a store (each a store of its own,
	 * owned here, with no realms of its own); NULL in those */
	struct auth_store *realms[AUTH_REALMS_MAX - 1];
	size_t nrealms;
};

/* creds.c: does realm (len bytes) name this store's realm? */
bool store_realm_is(const struct auth_store *s, const char *realm, size_t len);
/* creds.c: the static user called name, or NULL. */
const struct auth_user *store_find_user(const struct auth_store *s,
                                        const char *name, size_t len);
/* creds.c: the algorithms bitmask (ALG_BIT) the store offers. */
uint8_t store_alg_bits(const struct auth_store *s);
/* creds.c: PASSWORD-ALGORITHMS value for an ALG_BIT mask, SHA-256 first. */
size_t algs_value_from_bits(uint8_t bits, uint8_t *buf, size_t cap);

/* rest.c: candidate keys of a REST username, one per secret. */
enum auth_reason rest_keys(const struct auth_store *s, const char *user,
                           size_t user_len, enum stun_pw_alg alg,
                           struct auth_key *keys, size_t cap, size_t *n,
                           uint64_t *expiry_s);

/* util.c: printf into err (if err and err_len), always returns rc. */
int auth_set_err(int rc, char *err, size_t err_len, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* util.c: base64 (RFC 4648 s4 alphabet). encode writes
 * base64_len(n, pad) characters, no NUL. decode of an unpadded text whose
 * length is not 1 mod 4 into out (cap >= 3*len/4): returns the byte count
 * or -1 for a bad character or non-canonical trailing bits. */
size_t base64_len(size_t n, bool pad);
void base64_encode(const uint8_t *in, size_t n, bool pad, char *out);
long base64_decode_nopad(const char *in, size_t len, uint8_t *out, size_t cap);

/* util.c: SipHash-2-4 of data under a 16-byte key. */
uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);

/* util.c: 16-byte key of a source for the abuse tables: IPv4 as an
 * IPv4-mapped IPv6 address, IPv6 masked to its /64. false for another
 * family. */
bool source_key(const struct sockaddr *sa, uint8_t key[16]);

/* util.c: the bytes that bind a nonce to a client: family (4 or 6), IP
 * (4 or 16 bytes, IPv4-mapped IPv6 as IPv4) and port, big endian.
 * Returns the length (7 or 19), or 0 for another family. */
size_t transport_bytes(const struct sockaddr *sa, uint8_t out[19]);

/* util.c: smallest power of two >= n (n >= 1, n <= 2^31). */
size_t pow2_at_least(size_t n);

#endif
