/*
 * auth/auth.h - credentials and abuse limits of avedge.
 *
 * Implements the server side of the STUN long-term credential mechanism
 * (RFC 8489 s9.2, used by TURN, RFC 8656 s5): static users, TURN REST API
 * time-limited credentials (draft-uberti-behave-turn-rest, coturn's
 * use-auth-secret), the MD5 and SHA-256 password algorithms (s18.5),
 * USERHASH (s14.4), bid-down protection (s9.2.1, s9.2.4), stateless
 * nonces (s9.2) and per-source abuse limits.
 *
 * Pure: no sockets, no clock (time comes in as now_s / now_ms), no files
 * (the daemon reads them and hands over their text), no randomness (keys
 * and hash seeds come in as bytes), no global state. Functions return 0 or
 * a positive errno (EINVAL, ENOMEM, ENOSPC) unless they say otherwise;
 * authentication outcomes are enum auth_reason values, never errnos.
 *
 * Threads. A struct auth_store is built once (auth_store_new + add_*) and
 * then only read: every function taking a const store is safe from any
 * number of threads without a lock. A reload (SIGHUP) builds a new store
 * and swaps the pointer; the old one is freed when no worker uses it any
 * more. struct auth_nonces is read-only for mint/check (shareable);
 * rotating its key mutates it (do it on its owner thread, or build a new
 * one and swap). struct auth_ratelimit and struct auth_backoff are
 * per-worker objects, never locked: one per worker thread.
 *
 * Order of the checks of a request (RFC 8489 s9.2.4) for the caller:
 *   1. auth_verify() == AUTH_ERR_NO_INTEGRITY: pace with
 *      auth_ratelimit_allow(), then answer 401 with REALM, a NONCE from
 *      auth_nonce_mint() and PASSWORD-ALGORITHMS from
 *      auth_store_algorithms_value().
 *   2. other auth_verify() failures: auth_reason_code() says 400 or 401
 *      (auth_verify() runs auth_check_algorithms() itself); feed integrity
 *      failures to auth_backoff_failure() and drop when it says so.
 *   3. auth_nonce_check() != AUTH_NONCE_OK: 438 with a fresh nonce.
 *   4. success: auth_backoff_success(), sign the response with res.key
 *      (MESSAGE-INTEGRITY-SHA256 when res.integrity_sha256, else
 *      MESSAGE-INTEGRITY).
 */
#ifndef AVEDGE_AUTH_H
#define AVEDGE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun/stun.h"

#define AUTH_USERNAME_MAX 512 /* RFC 8489 s14.3: < 513 bytes */
#define AUTH_REALM_MAX    763 /* RFC 8489 s14.9 */
#define AUTH_SECRET_MAX   256 /* bytes of one static-auth-secret */
#define AUTH_SECRETS_MAX  16  /* static-auth-secret entries per realm */
#define AUTH_REALMS_MAX   16  /* realms per store, the default included */
#define AUTH_LINE_MAX     1024
#define AUTH_ERR_MAX      160 /* room for any error string we write */

/* base64(HMAC-SHA1(secret, username)): 28 characters. */
#define AUTH_REST_PASSWORD_LEN 28

/* Why a request did or did not authenticate. */
enum auth_reason {
	AUTH_OK = 0,
	AUTH_ERR_NO_INTEGRITY,     /* 401: no MI / MI-SHA256: challenge */
	AUTH_ERR_MISSING_ATTR,     /* 400: USERNAME/USERHASH, REALM or NONCE */
	AUTH_ERR_BAD_ATTR,         /* 400: malformed USERHASH, PW-ALGORITHM */
	AUTH_ERR_ALGS_MISSING,     /* 400: bid-down: only one of PW-ALG(S) */
	AUTH_ERR_ALGS_MISMATCH,    /* 400: bid-down: list not echoed as sent */
	AUTH_ERR_ALG_NOT_OFFERED,  /* 400: bid-down: PW-ALG not in the list */
	AUTH_ERR_UNSUPPORTED_ALG,  /* 400: unknown algorithm, or the user has
	                            * no key for it (a 0xKEY user and SHA-256) */
	AUTH_ERR_UNKNOWN_REALM,    /* 401 */
	AUTH_ERR_NO_USER,          /* 401: no such user, bad REST username */
	AUTH_ERR_USERHASH_UNKNOWN, /* 401: USERHASH matches no static user */
	AUTH_ERR_BAD_INTEGRITY,    /* 401: no key makes the integrity verify */
	AUTH_ERR_REST_EXPIRED,     /* 401: REST credential verified, expired */
};

/* Short text of a reason, for logs, metrics labels and tests. */
const char *auth_reason_str(enum auth_reason r);
/* The STUN error code to answer with: 0 for AUTH_OK, else 400 or 401. */
uint16_t auth_reason_code(enum auth_reason r);

/* STUN Security Features (RFC 8489 s18.1) as a 24-bit value; bit 0 of the
 * RFC is the most significant bit of the first byte. */
#define AUTH_FEATURE_PASSWORD_ALGORITHMS 0x800000u
#define AUTH_FEATURE_USERNAME_ANONYMITY  0x400000u

/* --- credential store (creds.c, rest.c) ------------------------------- */

struct auth_store;

/*
 * A new empty store for one realm, its default realm (copied; printable
 * ASCII, 1..763 bytes). On EINVAL err (may be NULL) names the problem.
 */
int auth_store_new(struct auth_store **out, const char *realm, char *err,
                   size_t err_len);
/* Free a store and its other realms (NULL is fine). No thread may still
 * use it. */
void auth_store_free(struct auth_store *s);

/*
 * Several realms (tenants) in one store (auth/realms.c). Each realm is a
 * store of its own with its own users and secrets, owned by the default
 * one: every function of this header taking a store works on one realm,
 * so a caller picks the realm's store first (auth_store_find_realm) and
 * a user of one realm never verifies against another's. The store is
 * swapped as a whole on reload.
 */
/* The store of realm (NUL-terminated) in s, added empty when missing:
 * s itself for s's own realm. Only while building. EINVAL (bad name),
 * ENOSPC past AUTH_REALMS_MAX, ENOMEM. */
int auth_store_add_realm(struct auth_store *s, const char *realm,
                         struct auth_store **out, char *err, size_t err_len);
/* The store of realm in s (s itself for its own realm), or NULL. */
const struct auth_store *auth_store_find_realm(const struct auth_store *s,
                                               const char *realm);
/* Realms of s, its own first: i = 0 is s; NULL past the last. */
const struct auth_store *auth_store_realm_at(const struct auth_store *s,
                                             size_t i);

/*
 * Add one static user from a config value: "name:password" (both long-term
 * keys, MD5 and SHA-256, are derived now and the password is not kept) or
 * "name:0xKEY" (32 hex digits: the precomputed MD5 key, as coturn; such a
 * user has no SHA-256 key, and the realm then offers MD5 only). Blanks
 * around the value are ignored; the name is 1..512 printable characters
 * without blanks and without ':'; the password is printable ASCII.
 * Returns 0, EINVAL (err says why: "user 'bob': ..."), EEXIST (the name is
 * already there) or ENOMEM. Only while building: not once the store is
 * shared.
 */
int auth_store_add_user(struct auth_store *s, const char *spec, char *err,
                        size_t err_len);

/*
 * Add the users of a user file's text (len bytes, need not be
 * NUL-terminated): one "name:password" or "name:0xKEY" per line, '#'
 * starts a comment line, blank lines are skipped, CRLF accepted. Stops at
 * the first bad line: err starts with "line N: ". Returns as
 * auth_store_add_user(); users added before the bad line stay (the daemon
 * throws the whole store away anyway).
 */
int auth_store_load_users(struct auth_store *s, const char *text, size_t len,
                          char *err, size_t err_len);

/*
 * Add a TURN REST shared secret (coturn static-auth-secret; repeatable:
 * every secret listed is accepted, so secrets rotate without a restart).
 * 1..256 bytes, no control characters. A duplicate is ignored. EINVAL
 * (err says why) or ENOSPC past AUTH_SECRETS_MAX.
 */
int auth_store_add_secret(struct auth_store *s, const char *secret, char *err,
                          size_t err_len);

const char *auth_store_realm(const struct auth_store *s);
size_t auth_store_user_count(const struct auth_store *s);
size_t auth_store_secret_count(const struct auth_store *s);

/*
 * The password algorithms the realm offers, in preference order: SHA-256
 * then MD5, or MD5 alone when some credential source cannot derive a
 * SHA-256 key (a 0xKEY user). REST secrets derive both. Writes up to cap
 * entries, returns how many there are (1 or 2).
 */
size_t auth_store_algorithms(const struct auth_store *s, enum stun_pw_alg *algs,
                             size_t cap);
/* The same list as a PASSWORD-ALGORITHMS attribute value (s14.11: 4 bytes
 * per algorithm, no parameters). Returns its length, 0 if cap < it. */
size_t auth_store_algorithms_value(const struct auth_store *s, uint8_t *buf,
                                   size_t cap);
/*
 * Security features to put in the nonce cookie: always "password
 * algorithms" (we always send PASSWORD-ALGORITHMS); "username anonymity"
 * when every user can be found by USERHASH, i.e. the realm has no REST
 * secret (a REST username cannot be recovered from its hash).
 */
uint32_t auth_store_features(const struct auth_store *s);

/*
 * One candidate long-term key for a username in a realm. A static user
 * has one; a REST username has one per secret (the client's secret is not
 * known until one of them verifies the message).
 */
struct auth_key {
	uint8_t key[STUN_KEY_MAX];
	size_t len;
};

/*
 * Look up the keys of user (user_len bytes) in realm for algorithm alg.
 * Writes up to cap keys to keys and their number to *n. Returns an
 * auth_reason: AUTH_OK, AUTH_ERR_UNKNOWN_REALM, AUTH_ERR_NO_USER or
 * AUTH_ERR_UNSUPPORTED_ALG. *rest tells whether it is a REST username
 * (then *expiry_s is its expiry; the caller checks it against the clock).
 * Static users win over a REST username of the same spelling.
 */
enum auth_reason auth_store_lookup(const struct auth_store *s,
                                   const char *realm, size_t realm_len,
                                   const char *user, size_t user_len,
                                   enum stun_pw_alg alg, struct auth_key *keys,
                                   size_t cap, size_t *n, bool *rest,
                                   uint64_t *expiry_s);

/* The name of the static user whose USERHASH (s14.4, 32 bytes) this is,
 * or NULL. The name lives as long as the store; *len gets its length. */
const char *auth_store_find_userhash(const struct auth_store *s,
                                     const char *realm, size_t realm_len,
                                     const uint8_t hash[32], size_t *len);

/*
 * TURN REST API password: base64(HMAC-SHA1(secret, username)), 28
 * characters and a NUL written to out (cap >= 29, else ENOSPC). For tests
 * and tools; the daemon never needs the password itself.
 */
int auth_rest_password(const char *secret, size_t secret_len, const char *user,
                       size_t user_len, char *out, size_t cap);

/*
 * Parse a REST username "expiry:id" or a bare "expiry" (decimal unix
 * seconds). 0 and *expiry_s, *id (into user, may be empty) and *id_len;
 * EINVAL when it is not of that form.
 */
int auth_rest_parse(const char *user, size_t user_len, uint64_t *expiry_s,
                    const char **id, size_t *id_len);

/* --- verifying a request (verify.c) ----------------------------------- */

/* What auth_verify() found. Copies: nothing borrows the message. */
struct auth_result {
	enum auth_reason reason;
	enum stun_pw_alg alg;  /* password algorithm of the key */
	bool integrity_sha256; /* verified MI-SHA256: sign the response with
	                        * it; else with MESSAGE-INTEGRITY */
	bool by_userhash;      /* the request carried USERHASH */
	bool rest;             /* a TURN REST credential */
	uint64_t rest_expiry_s;
	uint8_t key[STUN_KEY_MAX]; /* sign the response with this */
	size_t key_len;
	char username[AUTH_USERNAME_MAX + 1]; /* NUL-terminated */
	size_t username_len;
	/* What quotas count against: the static user's name, or the id after
	 * ':' of a REST username (a fresh credential does not reset a user's
	 * quota; a bare expiry counts as itself). NUL-terminated. */
	char quota_key[AUTH_USERNAME_MAX + 1];
	size_t quota_key_len;
};

/*
 * Authenticate a parsed request against the store (RFC 8489 s9.2.4 except
 * the nonce, which auth_nonce_check() judges): finds USERNAME (or USERHASH
 * when there is no USERNAME) and REALM, checks the bid-down rules
 * (auth_check_algorithms()), takes the password algorithm the client chose
 * (PASSWORD-ALGORITHM, MD5 when absent), tries each candidate key on
 * MESSAGE-INTEGRITY-SHA256 when present, else MESSAGE-INTEGRITY, and for a
 * REST credential that verifies, rejects it when expiry_s < now_s.
 * Fills *res (username and quota key only when the user was found; key
 * only on AUTH_OK) and returns res->reason.
 */
enum auth_reason auth_verify(const struct auth_store *s,
                             const struct stun_msg *m, uint64_t now_s,
                             struct auth_result *res);

/*
 * Bid-down protection (RFC 8489 s9.2.4): when the request's NONCE starts
 * with a nonce cookie whose "password algorithms" bit is set, the request
 * either carries neither PASSWORD-ALGORITHM nor PASSWORD-ALGORITHMS (MD5
 * then), or both, with PASSWORD-ALGORITHMS byte-equal to the list sent
 * with that nonce and PASSWORD-ALGORITHM one of its entries. The list sent
 * is the one recorded in our nonce when it is ours (so a reload that
 * changes the list does not break outstanding nonces), else the store's.
 * Returns AUTH_OK or a 400 reason (AUTH_ERR_ALGS_*, AUTH_ERR_BAD_ATTR).
 * The cookie is trusted: auth_nonce_check() must pass as well (its MAC
 * covers the cookie, so a stripped feature bit is caught there).
 */
enum auth_reason auth_check_algorithms(const struct auth_store *s,
                                       const struct stun_msg *m);

/* --- stateless nonces (nonce.c) ---------------------------------------- */

/*
 * Nonce = "obMatJos2" + base64(3 bytes of security features) (the s9.2
 * nonce cookie, 13 characters) + unpadded base64 of 14 bytes:
 *   key id (1) | offered algorithms (1: bit 0 MD5, bit 1 SHA-256) |
 *   expiry (4, unix seconds, big endian) | MAC (8)
 * = 32 characters, printable, no quotes. MAC = HMAC-SHA256 under the key
 * of that id over the cookie, key id, algorithms, expiry and the client's
 * IP address (family and IP, not the port; an IPv4-mapped IPv6 address
 * counts as IPv4), truncated to 64 bits. So any worker, and any node
 * sharing the key, checks a nonce without state, and a nonce is only good
 * from the host it was minted for. Not the port: a client that opens
 * another connection keeps its nonce (a stream client following a 300 to
 * another node, an RFC 6062 data connection, a NAT rebinding), which
 * Chromium needs (it gives up on a 438 after a redirect).
 */
#define AUTH_NONCE_LEN              32
#define AUTH_NONCE_KEY_LEN          32
#define AUTH_NONCE_LIFETIME_DEFAULT 600 /* s, as coturn */

/* A nonce key: random bytes from the caller, and an id (change it with
 * every rotation) that names the key inside the nonces it mints. */
struct auth_nonce_key {
	uint8_t id;
	uint8_t bytes[AUTH_NONCE_KEY_LEN];
};

struct auth_nonces;

/* lifetime_s: 0 means AUTH_NONCE_LIFETIME_DEFAULT; at most one day. */
int auth_nonces_new(struct auth_nonces **out, uint32_t lifetime_s,
                    const struct auth_nonce_key *key);
void auth_nonces_free(struct auth_nonces *n);
/*
 * Rotate: key becomes current, the current one previous (nonces minted
 * under it still verify until they expire), the previous one is
 * forgotten (its nonces are stale). EINVAL if key->id equals the current
 * id. Rotate at least one lifetime apart so no live nonce is orphaned.
 */
int auth_nonces_rotate(struct auth_nonces *n, const struct auth_nonce_key *key);
/* Set both keys at once (a node joining a cluster); prev may be NULL. */
int auth_nonces_set_keys(struct auth_nonces *n,
                         const struct auth_nonce_key *cur,
                         const struct auth_nonce_key *prev);
/*
 * Periodic rotation (nonce-key-rotation): after auth_nonces_rotate() or
 * auth_nonces_set_keys(), accept the previous key's nonces only through
 * until_s (unix seconds, inclusive; 0: until the next rotation, the
 * default). The daemon passes the rotation time plus one period, so a
 * nonce minted before a rotation is good for one more period, then 438.
 */
void auth_nonces_set_prev_until(struct auth_nonces *n, uint64_t until_s);
/* A copy (keys, lifetime) to change and swap in while n stays in use by
 * the workers. 0 or ENOMEM. */
int auth_nonces_dup(struct auth_nonces **out, const struct auth_nonces *n);
uint8_t auth_nonces_current_id(const struct auth_nonces *n);
/* The id of the key after one with id: 1..255, 255 wraps to 1 (ids are
 * never 0). */
uint8_t auth_nonce_next_id(uint8_t id);
/* Is a key created at created_s (unix seconds) due for replacement at
 * now_s with a rotation period of period_s? */
bool auth_nonce_rotation_due(uint64_t created_s, uint32_t period_s,
                             uint64_t now_s);

/*
 * Mint a nonce for a client transport address, valid from now_s through
 * now_s + lifetime (inclusive), carrying the store's features and
 * algorithms. Writes AUTH_NONCE_LEN characters and a NUL to out (cap >
 * AUTH_NONCE_LEN, else ENOSPC). EINVAL for an address that is not
 * AF_INET/AF_INET6 or a time past 2106.
 */
int auth_nonce_mint(const struct auth_nonces *n, const struct auth_store *s,
                    const struct sockaddr *client, uint64_t now_s, char *out,
                    size_t cap);

enum auth_nonce_status {
	AUTH_NONCE_OK = 0,
	AUTH_NONCE_STALE,         /* expired, or minted under a key we lost */
	AUTH_NONCE_WRONG_ADDRESS, /* MAC fails: minted for another address
	                           * (or altered); also answered 438 */
	AUTH_NONCE_MALFORMED,     /* not one of our nonces at all */
};
const char *auth_nonce_status_str(enum auth_nonce_status st);

/* Judge a NONCE value (len bytes) from client at now_s. Every status but
 * AUTH_NONCE_OK is answered 438 with a fresh nonce. */
enum auth_nonce_status auth_nonce_check(const struct auth_nonces *n,
                                        const uint8_t *nonce, size_t len,
                                        const struct sockaddr *client,
                                        uint64_t now_s);

/* What a nonce says about itself, unauthenticated (no key needed). */
struct auth_nonce_info {
	uint32_t features; /* AUTH_FEATURE_* */
	bool ours;         /* our full format; then the fields below are set */
	uint8_t key_id;
	uint8_t algs; /* bit (alg - 1) for each enum stun_pw_alg offered */
	uint32_t expiry_s;
};
/* 0 when the nonce starts with a nonce cookie (info filled), else
 * ENOENT. */
int auth_nonce_parse(const uint8_t *nonce, size_t len,
                     struct auth_nonce_info *info);

/* --- abuse limits (ratelimit.c, backoff.c) ------------------------------ */

/*
 * Challenge pacing: a token bucket per source (IPv4 address, or IPv6 /64:
 * one host owns a whole /64) in a fixed table, 4-way set associative,
 * hashed with SipHash under the caller's random seed so senders cannot aim
 * at one set. A new source evicts the least recently seen one of its set
 * and starts with a full bucket: memory never grows, at the price that a
 * flood of sources (spoofed UDP) can evict a paced source and give it a
 * fresh burst. Pacing fails open, never locks a good client out.
 */
struct auth_ratelimit_config {
	uint32_t rate_per_s; /* tokens per second (auth-rate-limit); 0: 500 */
	uint32_t burst;      /* bucket size; 0: 2000 (capped at 1000000) */
	uint32_t entries;    /* table size, rounded up to a power of two;
	                      * 0: 4096 */
	bool unlimited;      /* allow everything (still counted) */
};

struct auth_ratelimit_stats {
	uint64_t allowed;   /* challenges sent */
	uint64_t paced;     /* challenges refused: bucket empty */
	uint64_t evictions; /* a source pushed out by another */
};

struct auth_ratelimit;

/* seed: 16 random bytes (keys the table hash). cfg may be NULL. */
int auth_ratelimit_new(struct auth_ratelimit **out,
                       const struct auth_ratelimit_config *cfg,
                       const uint8_t seed[16]);
void auth_ratelimit_free(struct auth_ratelimit *rl);
/* Take one token for a source at now_ms (monotonic ms; a clock that goes
 * back refills nothing). true: send the challenge; false: drop. */
bool auth_ratelimit_allow(struct auth_ratelimit *rl, const struct sockaddr *src,
                          uint64_t now_ms);
void auth_ratelimit_stats(const struct auth_ratelimit *rl,
                          struct auth_ratelimit_stats *st);

/*
 * Integrity-failure back-off per (source, username): the source as in
 * pacing, the username as a 64-bit keyed hash (no strings are kept).
 * After `threshold` failures, each no more than window_ms after the
 * previous one (or after the end of the last block), the pair is blocked
 * for initial_ms; every failure after a block ends (still within the
 * window) blocks again for twice as long, up to max_ms: 1, 2, 4 ... 32,
 * 60, 60 s by default. While blocked, failures are dropped unanswered and
 * do not extend the block. A request that verifies is never dropped and
 * clears the pair (auth_backoff_success()). Quiet for window_ms:
 * forgotten.
 * Fixed table as above; on a full set the victim is the least recently
 * seen unblocked pair, else the block that ends soonest.
 *
 * Mode: this silences a password guesser (no 401s to count on, fewer log
 * lines) but, with verified requests never dropped, does not slow the
 * guessing itself. A caller that prefers to stop guessing calls
 * auth_backoff_blocked() before verifying and drops then, at the cost
 * that the real user behind the same source waits out the block.
 */
struct auth_backoff_config {
	uint32_t threshold;  /* 0: 5 */
	uint32_t window_ms;  /* 0: 60000 */
	uint32_t initial_ms; /* 0: 1000 */
	uint32_t max_ms;     /* 0: 60000 */
	uint32_t entries;    /* 0: 4096 */
};

struct auth_backoff_stats {
	uint64_t failures;  /* integrity failures reported */
	uint64_t backoffs;  /* blocks started */
	uint64_t dropped;   /* failures (or requests) dropped while blocked */
	uint64_t resets;    /* successes that cleared a pair with failures */
	uint64_t evictions; /* a pair pushed out by another */
};

struct auth_backoff;

int auth_backoff_new(struct auth_backoff **out,
                     const struct auth_backoff_config *cfg,
                     const uint8_t seed[16]);
void auth_backoff_free(struct auth_backoff *b);

enum auth_backoff_verdict {
	AUTH_BACKOFF_ANSWER = 0, /* answer the failure (401) */
	AUTH_BACKOFF_DROP,       /* blocked: drop it, no answer */
};

/* Report an integrity failure (or an expired REST credential) of user
 * from src at now_ms and learn whether to answer it. */
enum auth_backoff_verdict
auth_backoff_failure(struct auth_backoff *b, const struct sockaddr *src,
                     const char *user, size_t user_len, uint64_t now_ms);
/* A request of user from src verified: forget its failures. */
void auth_backoff_success(struct auth_backoff *b, const struct sockaddr *src,
                          const char *user, size_t user_len);
/* Is the pair blocked now? Counts a drop when it is (the caller drops). */
bool auth_backoff_blocked(struct auth_backoff *b, const struct sockaddr *src,
                          const char *user, size_t user_len, uint64_t now_ms);
void auth_backoff_stats(const struct auth_backoff *b,
                        struct auth_backoff_stats *st);

#endif
