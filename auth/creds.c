/*
 * auth/creds.c - the credential store: one realm, its static users and
 * its TURN REST secrets (rest.c), and what the realm offers (password
 * algorithms, RFC 8489 s9.2.4 / s18.5; security features, s18.1).
 *
 * A static user keeps its long-term keys (s9.2.2), never its password:
 * MD5 and SHA-256 for "name:password", MD5 only for "name:0xKEY". Users
 * are found by name and by USERHASH (s14.4) through two open-addressed
 * tables computed while building. The store owns everything in it. It is
 * built by one thread, then only read (see auth.h). Pure.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static uint64_t name_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t userhash_hash(const uint8_t hash[USERHASH_LEN])
{
	uint64_t h = 0;
	for (int i = 0; i < 8; i++) /* already uniform: SHA-256 */
		h = h << 8 | hash[i];
	return h;
}

int auth_store_new(struct auth_store **out, const char *realm, char *err,
                   size_t err_len)
{
	*out = NULL;
	if (realm == NULL)
		return auth_set_err(EINVAL, err, err_len, "realm is missing");
	size_t len = strlen(realm);
	if (len == 0)
		return auth_set_err(EINVAL, err, err_len, "realm is empty");
	if (len > AUTH_REALM_MAX)
		return auth_set_err(EINVAL, err, err_len,
		                    "realm is longer than %d bytes",
		                    AUTH_REALM_MAX);
	if (stun_opaque_string(realm, len) != 0)
		return auth_set_err(
		        EINVAL, err, err_len,
		        "realm has a character outside printable ASCII");
	struct auth_store *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return ENOMEM;
	memcpy(s->realm, realm, len + 1);
	s->realm_len = len;
	*out = s;
	return 0;
}

void auth_store_free(struct auth_store *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nusers; i++)
		free(s->users[i].name);
	free(s->users);
	free(s->by_name);
	free(s->by_hash);
	explicit_bzero(s->secrets, sizeof(s->secrets));
	for (size_t i = 0; i < s->nrealms; i++)
		auth_store_free(s->realms[i]);
	free(s);
}

/* Put user index i into both tables (capacity > 2 * users: a slot is
 * always free). */
static void table_insert(struct auth_store *s, size_t i)
{
	size_t mask = s->table_cap - 1;
	const struct auth_user *u = &s->users[i];
	size_t j = name_hash(u->name, u->name_len) & mask;

	while (s->by_name[j] != 0)
		j = (j + 1) & mask;
	s->by_name[j] = (uint32_t)i + 1;
	j = userhash_hash(u->userhash) & mask;
	while (s->by_hash[j] != 0)
		j = (j + 1) & mask;
	s->by_hash[j] = (uint32_t)i + 1;
}

/* Room for one more user in the array and the tables. */
static int grow(struct auth_store *s)
{
	if (s->nusers == s->users_cap) {
		size_t cap = s->users_cap ? s->users_cap * 2 : 16;
		if (cap > UINT32_MAX / 4)
			return ENOMEM;
		struct auth_user *u = realloc(s->users, cap * sizeof(*u));
		if (u == NULL)
			return ENOMEM;
		s->users = u;
		s->users_cap = cap;
	}
	if ((s->nusers + 1) * 2 <= s->table_cap)
		return 0;
	size_t tcap = pow2_at_least(s->users_cap * 2 + 2);
	uint32_t *a = calloc(tcap, sizeof(*a));
	uint32_t *b = calloc(tcap, sizeof(*b));
	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return ENOMEM;
	}
	free(s->by_name);
	free(s->by_hash);
	s->by_name = a;
	s->by_hash = b;
	s->table_cap = tcap;
	for (size_t i = 0; i < s->nusers; i++)
		table_insert(s, i);
	return 0;
}

const struct auth_user *store_find_user(const struct auth_store *s,
                                        const char *name, size_t len)
{
	if (s->table_cap == 0)
		return NULL;
	size_t mask = s->table_cap - 1;
	for (size_t j = name_hash(name, len) & mask; s->by_name[j] != 0;
	     j = (j + 1) & mask) {
		const struct auth_user *u = &s->users[s->by_name[j] - 1];
		if (u->name_len == len && memcmp(u->name, name, len) == 0)
			return u;
	}
	return NULL;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "0x" + 32 hex digits into an MD5 key; false when it is not that. */
static bool parse_hex_key(const char *p, size_t len, uint8_t key[MD5_KEY_LEN])
{
	if (len != 2 + 2 * MD5_KEY_LEN)
		return false;
	for (size_t i = 0; i < MD5_KEY_LEN; i++) {
		int hi = hex_digit(p[2 + 2 * i]), lo = hex_digit(p[3 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static int check_name(const char *name, size_t len, char *err, size_t err_len)
{
	if (len == 0)
		return auth_set_err(EINVAL, err, err_len,
		                    "user name before ':' is empty");
	if (len > AUTH_USERNAME_MAX)
		return auth_set_err(EINVAL, err, err_len,
		                    "user name is longer than %d bytes",
		                    AUTH_USERNAME_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] <= 0x20 ||
		    (unsigned char)name[i] >= 0x7f)
			return auth_set_err(
			        EINVAL, err, err_len,
			        "user '%.*s': name has a blank or a "
			        "character outside printable ASCII",
			        (int)(len > 64 ? 64 : len), name);
	return 0;
}

/* Derive the keys of u from the secret part (password or 0xKEY). */
static int user_keys(const struct auth_store *s, struct auth_user *u,
                     const char *pw, size_t pw_len, char *err, size_t err_len)
{
	int shown = (int)(u->name_len > 64 ? 64 : u->name_len);
	size_t klen;

	if (pw_len == 0)
		return auth_set_err(EINVAL, err, err_len,
		                    "user '%.*s': password is empty", shown,
		                    u->name);
	if (pw_len >= 2 && pw[0] == '0' && (pw[1] == 'x' || pw[1] == 'X')) {
		if (!parse_hex_key(pw, pw_len, u->md5))
			return auth_set_err(
			        EINVAL, err, err_len,
			        "user '%.*s': a key after 0x must be "
			        "32 hex digits (the MD5 key)",
			        shown, u->name);
		u->has_sha256 = false;
		return 0;
	}
	uint8_t md5[STUN_KEY_MAX];
	int rc = stun_long_term_key(STUN_PW_ALG_MD5, u->name, u->name_len,
	                            s->realm, s->realm_len, pw, pw_len, md5,
	                            &klen);
	if (rc == 0 && klen != MD5_KEY_LEN)
		rc = EINVAL;
	if (rc == 0)
		rc = stun_long_term_key(STUN_PW_ALG_SHA256, u->name,
		                        u->name_len, s->realm, s->realm_len, pw,
		                        pw_len, u->sha256, &klen);
	memcpy(u->md5, md5, MD5_KEY_LEN);
	explicit_bzero(md5, sizeof(md5));
	if (rc != 0)
		return auth_set_err(
		        EINVAL, err, err_len,
		        "user '%.*s': password has a character outside "
		        "printable ASCII",
		        shown, u->name);
	u->has_sha256 = true;
	return 0;
}

int auth_store_add_user(struct auth_store *s, const char *spec, char *err,
                        size_t err_len)
{
	if (spec == NULL)
		return auth_set_err(EINVAL, err, err_len,
		                    "user entry is missing");
	size_t len = strlen(spec);
	while (len > 0 && is_blank(spec[len - 1]))
		len--;
	while (len > 0 && is_blank(*spec))
		spec++, len--;
	const char *colon = memchr(spec, ':', len);
	if (colon == NULL)
		return auth_set_err(
		        EINVAL, err, err_len,
		        "user entry '%.*s': expected name:password or "
		        "name:0xKEY",
		        (int)(len > 64 ? 64 : len), spec);
	size_t name_len = (size_t)(colon - spec);
	int rc = check_name(spec, name_len, err, err_len);
	if (rc != 0)
		return rc;
	if (store_find_user(s, spec, name_len) != NULL)
		return auth_set_err(EEXIST, err, err_len,
		                    "user '%.*s' is defined twice",
		                    (int)(name_len > 64 ? 64 : name_len), spec);

	struct auth_user u = {.name_len = name_len};
	u.name = malloc(name_len + 1);
	if (u.name == NULL)
		return ENOMEM;
	memcpy(u.name, spec, name_len);
	u.name[name_len] = '\0';
	rc = user_keys(s, &u, colon + 1, len - name_len - 1, err, err_len);
	if (rc == 0)
		rc = grow(s);
	if (rc != 0) {
		free(u.name);
		explicit_bzero(&u, sizeof(u));
		return rc;
	}
	stun_userhash(u.name, u.name_len, s->realm, s->realm_len, u.userhash);
	if (!u.has_sha256)
		s->nkeyonly++;
	s->users[s->nusers] = u;
	table_insert(s, s->nusers);
	s->nusers++;
	return 0;
}

int auth_store_load_users(struct auth_store *s, const char *text, size_t len,
                          char *err, size_t err_len)
{
	char line[AUTH_LINE_MAX + 1];
	char why[AUTH_ERR_MAX];
	unsigned lineno = 0;
	size_t pos = 0;

	while (pos < len) {
		const char *start = text + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		pos += n + (nl ? 1 : 0);
		lineno++;
		if (n > AUTH_LINE_MAX)
			return auth_set_err(EINVAL, err, err_len,
			                    "line %u: longer than %d bytes",
			                    lineno, AUTH_LINE_MAX);
		memcpy(line, start, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL)
			return auth_set_err(EINVAL, err, err_len,
			                    "line %u: contains a NUL byte",
			                    lineno);
		size_t skip = 0;
		while (skip < n && is_blank(line[skip]))
			skip++;
		if (skip == n || line[skip] == '#')
			continue;
		int rc = auth_store_add_user(s, line, why, sizeof(why));
		if (rc != 0)
			return auth_set_err(
			        rc, err, err_len, "line %u: %s", lineno,
			        rc == ENOMEM ? "out of memory" : why);
	}
	return 0;
}

bool store_realm_is(const struct auth_store *s, const char *realm, size_t len)
{
	return len == s->realm_len && memcmp(realm, s->realm, len) == 0;
}

const char *auth_store_realm(const struct auth_store *s)
{
	return s->realm;
}

size_t auth_store_user_count(const struct auth_store *s)
{
	return s->nusers;
}

size_t auth_store_secret_count(const struct auth_store *s)
{
	return s->nsecrets;
}

uint8_t store_alg_bits(const struct auth_store *s)
{
	uint8_t bits = ALG_BIT(STUN_PW_ALG_MD5);
	if (s->nkeyonly == 0)
		bits |= ALG_BIT(STUN_PW_ALG_SHA256);
	return bits;
}

size_t auth_store_algorithms(const struct auth_store *s, enum stun_pw_alg *algs,
                             size_t cap)
{
	uint8_t bits = store_alg_bits(s);
	size_t n = 0;

	if (bits & ALG_BIT(STUN_PW_ALG_SHA256)) {
		if (n < cap)
			algs[n] = STUN_PW_ALG_SHA256;
		n++;
	}
	if (n < cap)
		algs[n] = STUN_PW_ALG_MD5;
	return n + 1;
}

size_t algs_value_from_bits(uint8_t bits, uint8_t *buf, size_t cap)
{
	static const uint16_t order[] = {STUN_PW_ALG_SHA256, STUN_PW_ALG_MD5};
	size_t len = 0;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(bits & ALG_BIT(order[i])))
			continue;
		if (len + 4 > cap)
			return 0;
		buf[len++] = (uint8_t)(order[i] >> 8);
		buf[len++] = (uint8_t)order[i];
		buf[len++] = 0; /* no parameters (s14.11) */
		buf[len++] = 0;
	}
	return len;
}

size_t auth_store_algorithms_value(const struct auth_store *s, uint8_t *buf,
                                   size_t cap)
{
	return algs_value_from_bits(store_alg_bits(s), buf, cap);
}

uint32_t auth_store_features(const struct auth_store *s)
{
	uint32_t f = AUTH_FEATURE_PASSWORD_ALGORITHMS;
	if (s->nsecrets == 0)
		f |= AUTH_FEATURE_USERNAME_ANONYMITY;
	return f;
}

const char *auth_store_find_userhash(const struct auth_store *s,
                                     const char *realm, size_t realm_len,
                                     const uint8_t hash[32], size_t *len)
{
	if (!store_realm_is(s, realm, realm_len) || s->table_cap == 0)
		return NULL;
	size_t mask = s->table_cap - 1;
	for (size_t j = userhash_hash(hash) & mask; s->by_hash[j] != 0;
	     j = (j + 1) & mask) {
		const struct auth_user *u = &s->users[s->by_hash[j] - 1];
		if (memcmp(u->userhash, hash, USERHASH_LEN) == 0) {
			*len = u->name_len;
			return u->name;
		}
	}
	return NULL;
}

enum auth_reason auth_store_lookup(const struct auth_store *s,
                                   const char *realm, size_t realm_len,
                                   const char *user, size_t user_len,
                                   enum stun_pw_alg alg, struct auth_key *keys,
                                   size_t cap, size_t *n, bool *rest,
                                   uint64_t *expiry_s)
{
	*n = 0;
	*rest = false;
	*expiry_s = 0;
	if (!store_realm_is(s, realm, realm_len))
		return AUTH_ERR_UNKNOWN_REALM;
	if (alg != STUN_PW_ALG_MD5 && alg != STUN_PW_ALG_SHA256)
		return AUTH_ERR_UNSUPPORTED_ALG;
	const struct auth_user *u = store_find_user(s, user, user_len);
	if (u != NULL) {
		if (alg == STUN_PW_ALG_SHA256 && !u->has_sha256)
			return AUTH_ERR_UNSUPPORTED_ALG;
		if (cap == 0)
			return AUTH_OK;
		keys[0].len =
		        alg == STUN_PW_ALG_MD5 ? MD5_KEY_LEN : SHA256_KEY_LEN;
		memcpy(keys[0].key, alg == STUN_PW_ALG_MD5 ? u->md5 : u->sha256,
		       keys[0].len);
		*n = 1;
		return AUTH_OK;
	}
	if (s->nsecrets == 0)
		return AUTH_ERR_NO_USER;
	enum auth_reason r =
	        rest_keys(s, user, user_len, alg, keys, cap, n, expiry_s);
	*rest = r == AUTH_OK;
	return r;
}
