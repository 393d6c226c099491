/*
 * tests/unit/test_auth_creds.c - the credential store and request
 * verification of auth/: user parsing (config values and user-file text),
 * MD5 and SHA-256 long-term keys on real messages built with the stun
 * builder, 0xKEY users, TURN REST credentials (expiry, secrets, rotation,
 * quota key), USERHASH, and the bid-down rules (RFC 8489 s9.2.4).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "tests/unit/check_main.h"

#define REALM "example.org"
#define NOW   1700000000u

static const uint8_t tid[STUN_TID_LEN] = {1, 2, 3, 4,  5,  6,
                                          7, 8, 9, 10, 11, 12};
static const char legacy_nonce[] = "f00dfacecafe"; /* no nonce cookie */

/* A request to build: NULL / 0 leaves an attribute out. */
struct req {
	const char *user;
	const uint8_t *userhash;
	size_t userhash_len;
	const char *realm;
	const char *nonce;
	uint16_t pa; /* PASSWORD-ALGORITHM */
	const uint8_t *pas;
	size_t pas_len;
	const uint8_t *key; /* no integrity without */
	size_t key_len;
	bool sha256; /* MESSAGE-INTEGRITY-SHA256 instead of MESSAGE-INTEGRITY */
};

static uint8_t msgbuf[1500];
static struct stun_msg msg;

/* Build and parse; returns the parse result (msg holds the view). */
static int try_build(const struct req *r)
{
	struct stun_builder b;

	stun_build_init(&b, msgbuf, sizeof(msgbuf), STUN_METHOD_ALLOCATE,
	                STUN_CLASS_REQUEST, tid);
	stun_build_u32(&b, STUN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
	if (r->user)
		stun_build_attr(&b, STUN_ATTR_USERNAME, r->user,
		                strlen(r->user));
	if (r->userhash)
		stun_build_attr(&b, STUN_ATTR_USERHASH, r->userhash,
		                r->userhash_len);
	if (r->realm)
		stun_build_attr(&b, STUN_ATTR_REALM, r->realm,
		                strlen(r->realm));
	if (r->nonce)
		stun_build_attr(&b, STUN_ATTR_NONCE, r->nonce,
		                strlen(r->nonce));
	if (r->pa) {
		uint8_t v[4] = {(uint8_t)(r->pa >> 8), (uint8_t)r->pa, 0, 0};
		stun_build_attr(&b, STUN_ATTR_PASSWORD_ALGORITHM, v, 4);
	}
	if (r->pas)
		stun_build_attr(&b, STUN_ATTR_PASSWORD_ALGORITHMS, r->pas,
		                r->pas_len);
	if (r->key && r->sha256)
		stun_build_integrity_sha256(&b, r->key, r->key_len);
	else if (r->key)
		stun_build_integrity(&b, r->key, r->key_len);
	size_t len = stun_build_finish(&b);
	ck_assert_uint_gt(len, 0);
	return stun_msg_parse(&msg, msgbuf, len, NULL);
}

static const struct stun_msg *build(const struct req *r)
{
	ck_assert_int_eq(try_build(r), 0);
	return &msg;
}

static struct auth_store *new_store(void)
{
	struct auth_store *s;
	char err[AUTH_ERR_MAX];
	ck_assert_int_eq(auth_store_new(&s, REALM, err, sizeof(err)), 0);
	return s;
}

static struct auth_store *store_with(const char *user)
{
	struct auth_store *s = new_store();
	char err[AUTH_ERR_MAX];
	ck_assert_msg(auth_store_add_user(s, user, err, sizeof(err)) == 0, "%s",
	              err);
	return s;
}

static size_t key_of(enum stun_pw_alg alg, const char *user, const char *pw,
                     uint8_t key[STUN_KEY_MAX])
{
	size_t len = 0;
	ck_assert_int_eq(stun_long_term_key(alg, user, strlen(user), REALM,
	                                    strlen(REALM), pw, strlen(pw), key,
	                                    &len),
	                 0);
	return len;
}

static size_t rest_key(enum stun_pw_alg alg, const char *secret,
                       const char *user, uint8_t key[STUN_KEY_MAX])
{
	char pw[AUTH_REST_PASSWORD_LEN + 1];
	ck_assert_int_eq(auth_rest_password(secret, strlen(secret), user,
	                                    strlen(user), pw, sizeof(pw)),
	                 0);
	return key_of(alg, user, pw, key);
}

/* --- users --------------------------------------------------------------- */

START_TEST(test_auth_users_file_good)
{
	static const char text[] =
	        "# users of example.org\n"
	        "\n"
	        "alice:wonderland\r\n"
	        "   bob:0xEF57BC8D8C15DDBBE601EA638397EF72  \n"
	        "\t# indented comment\n"
	        "carol:pass:with:colons\n"
	        "dave:last line without newline";
	struct auth_store *s = new_store();
	char err[AUTH_ERR_MAX] = "";

	ck_assert_int_eq(
	        auth_store_load_users(s, text, strlen(text), err, sizeof(err)),
	        0);
	ck_assert_uint_eq(auth_store_user_count(s), 4);
	ck_assert_str_eq(auth_store_realm(s), REALM);
	auth_store_free(s);
}
END_TEST

static const struct {
	const char *text;
	int rc;
	const char *err; /* expected prefix of the error */
} bad_files[] = {
        {"alice:x\nbob\n", EINVAL, "line 2: user entry 'bob': expected"},
        {"# c\n\n:nopass\n", EINVAL, "line 3: user name before ':' is empty"},
        {"alice:\n", EINVAL, "line 1: user 'alice': password is empty"},
        {"a:x\nb:y\nbob:0x1234\n", EINVAL,
         "line 3: user 'bob': a key after 0x must be 32 hex digits"},
        {"bob:0xZZ57BC8D8C15DDBBE601EA638397EF72\n", EINVAL,
         "line 1: user 'bob': a key after 0x"},
        {"alice:a\nalice:b\n", EEXIST, "line 2: user 'alice' is defined twice"},
        {"al ice:secret\n", EINVAL, "line 1: user 'al ice': name has a blank"},
        {"alice:caf\xc3\xa9\n", EINVAL,
         "line 1: user 'alice': password has a character outside"},
        {"x:y\n\n\n\nbad\xff:pw\n", EINVAL, "line 5: user 'bad"},
};

START_TEST(test_auth_users_file_bad_line)
{
	struct auth_store *s = new_store();
	char err[AUTH_ERR_MAX] = "";
	const char *text = bad_files[_i].text;

	ck_assert_int_eq(
	        auth_store_load_users(s, text, strlen(text), err, sizeof(err)),
	        bad_files[_i].rc);
	ck_assert_msg(
	        strncmp(err, bad_files[_i].err, strlen(bad_files[_i].err)) == 0,
	        "got '%s'", err);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_users_long_line_and_nul)
{
	static char text[AUTH_LINE_MAX + 16];
	struct auth_store *s = new_store();
	char err[AUTH_ERR_MAX] = "";

	memcpy(text, "a:b\n", 4);
	memset(text + 4, 'x', AUTH_LINE_MAX + 1);
	ck_assert_int_eq(auth_store_load_users(s, text, AUTH_LINE_MAX + 5, err,
	                                       sizeof(err)),
	                 EINVAL);
	ck_assert_str_eq(err, "line 2: longer than 1024 bytes");
	ck_assert_int_eq(
	        auth_store_load_users(s, "c:d\ne:\0f\n", 9, err, sizeof(err)),
	        EINVAL);
	ck_assert_str_eq(err, "line 2: contains a NUL byte");
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_users_config_values)
{
	struct auth_store *s = new_store();
	char err[AUTH_ERR_MAX] = "";

	ck_assert_int_eq(
	        auth_store_add_user(s, "  alice:pw  ", err, sizeof(err)), 0);
	ck_assert_int_eq(auth_store_add_user(s, "nocolon", err, sizeof(err)),
	                 EINVAL);
	ck_assert_str_eq(err, "user entry 'nocolon': expected name:password "
	                      "or name:0xKEY");
	ck_assert_int_eq(auth_store_add_user(s, NULL, err, sizeof(err)),
	                 EINVAL);
	ck_assert_int_eq(auth_store_add_user(s, "x:y", NULL, 0), 0);
	ck_assert_uint_eq(auth_store_user_count(s), 2);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_users_many_grow_tables)
{
	struct auth_store *s = new_store();
	char spec[64], name[32];
	uint8_t key[STUN_KEY_MAX];
	struct auth_result res;

	for (int i = 0; i < 1000; i++) {
		snprintf(spec, sizeof(spec), "user%d:pw%d", i, i);
		ck_assert_int_eq(auth_store_add_user(s, spec, NULL, 0), 0);
	}
	ck_assert_uint_eq(auth_store_user_count(s), 1000);
	for (int i = 0; i < 1000; i += 97) {
		char pw[32];
		snprintf(name, sizeof(name), "user%d", i);
		snprintf(pw, sizeof(pw), "pw%d", i);
		size_t kl = key_of(STUN_PW_ALG_MD5, name, pw, key);
		struct req r = {.user = name,
		                .realm = REALM,
		                .nonce = legacy_nonce,
		                .key = key,
		                .key_len = kl};
		ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	}
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_store_bad_realm)
{
	struct auth_store *s = (struct auth_store *)&s;
	char err[AUTH_ERR_MAX] = "";

	ck_assert_int_eq(auth_store_new(&s, "", err, sizeof(err)), EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_str_eq(err, "realm is empty");
	ck_assert_int_eq(auth_store_new(&s, "r\x01", err, sizeof(err)), EINVAL);
	ck_assert_str_eq(err, "realm has a character outside printable ASCII");
	ck_assert_int_eq(auth_store_new(&s, NULL, err, sizeof(err)), EINVAL);
	auth_store_free(NULL);
}
END_TEST

/* --- verification: MD5, SHA-256, 0xKEY ---------------------------------- */

START_TEST(test_auth_verify_md5)
{
	struct auth_store *s = store_with("alice:wonderland");
	uint8_t key[STUN_KEY_MAX];
	size_t kl = key_of(STUN_PW_ALG_MD5, "alice", "wonderland", key);
	struct req r = {.user = "alice",
	                .realm = REALM,
	                .nonce = legacy_nonce,
	                .key = key,
	                .key_len = kl};
	struct auth_result res;

	ck_assert_uint_eq(kl, 16);
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert_int_eq(res.reason, AUTH_OK);
	ck_assert_int_eq(res.alg, STUN_PW_ALG_MD5);
	ck_assert(!res.integrity_sha256);
	ck_assert(!res.rest);
	ck_assert(!res.by_userhash);
	ck_assert_str_eq(res.username, "alice");
	ck_assert_str_eq(res.quota_key, "alice");
	ck_assert_uint_eq(res.key_len, 16);
	ck_assert_mem_eq(res.key, key, 16);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_verify_sha256)
{
	struct auth_store *s = store_with("alice:wonderland");
	struct auth_nonces *n;
	struct auth_nonce_key nk = {.id = 1};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 99};
	char nonce[AUTH_NONCE_LEN + 1];
	uint8_t key[STUN_KEY_MAX], pas[16];
	size_t kl = key_of(STUN_PW_ALG_SHA256, "alice", "wonderland", key);
	size_t pas_len = auth_store_algorithms_value(s, pas, sizeof(pas));
	struct auth_result res;

	ck_assert_int_eq(auth_nonces_new(&n, 0, &nk), 0);
	ck_assert_int_eq(auth_nonce_mint(n, s, (struct sockaddr *)&sin, NOW,
	                                 nonce, sizeof(nonce)),
	                 0);
	struct req r = {.user = "alice",
	                .realm = REALM,
	                .nonce = nonce,
	                .pa = STUN_PW_ALG_SHA256,
	                .pas = pas,
	                .pas_len = pas_len,
	                .key = key,
	                .key_len = kl,
	                .sha256 = true};
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert_int_eq(res.alg, STUN_PW_ALG_SHA256);
	ck_assert(res.integrity_sha256);
	ck_assert_uint_eq(res.key_len, 32);
	ck_assert_mem_eq(res.key, key, 32);

	/* The SHA-256 key under the SHA-1 MESSAGE-INTEGRITY works too. */
	r.sha256 = false;
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert(!res.integrity_sha256);

	/* The MD5 key with PASSWORD-ALGORITHM SHA-256 does not. */
	r.key_len = key_of(STUN_PW_ALG_MD5, "alice", "wonderland", key);
	r.sha256 = true;
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_BAD_INTEGRITY);
	auth_nonces_free(n);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_verify_failures)
{
	struct auth_store *s = store_with("alice:wonderland");
	uint8_t key[STUN_KEY_MAX], bad[STUN_KEY_MAX];
	size_t kl = key_of(STUN_PW_ALG_MD5, "alice", "wonderland", key);
	struct auth_result res;
	struct req r = {.user = "alice",
	                .realm = REALM,
	                .nonce = legacy_nonce,
	                .key = key,
	                .key_len = kl};

	key_of(STUN_PW_ALG_MD5, "alice", "wrong", bad);
	r.key = bad;
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_BAD_INTEGRITY);
	ck_assert_str_eq(res.username, "alice");
	ck_assert_uint_eq(res.key_len, 0);
	r.key = key;
	r.user = "mallory";
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_NO_USER);
	r.user = "alice";
	r.realm = "other.org";
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_UNKNOWN_REALM);
	r.realm = NULL;
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_MISSING_ATTR);
	r.realm = REALM;
	r.nonce = NULL;
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_MISSING_ATTR);
	r.nonce = legacy_nonce;
	r.user = NULL;
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_MISSING_ATTR);
	r.user = "alice";
	r.key = NULL;
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_NO_INTEGRITY);
	ck_assert_uint_eq(auth_reason_code(AUTH_ERR_NO_INTEGRITY), 401);
	ck_assert_uint_eq(auth_reason_code(AUTH_ERR_MISSING_ATTR), 400);
	ck_assert_uint_eq(auth_reason_code(AUTH_ERR_BAD_INTEGRITY), 401);
	ck_assert_uint_eq(auth_reason_code(AUTH_OK), 0);
	ck_assert_str_eq(auth_reason_str(AUTH_ERR_USERHASH_UNKNOWN),
	                 "userhash unknown");
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_verify_hexkey_md5_only)
{
	/* 0x... = MD5("bob:example.org:hunter2"), computed outside. */
	struct auth_store *s =
	        store_with("bob:0xef57bc8d8c15ddbbe601ea638397ef72");
	uint8_t key[STUN_KEY_MAX], val[16];
	enum stun_pw_alg algs[2];
	size_t kl = key_of(STUN_PW_ALG_MD5, "bob", "hunter2", key);
	struct req r = {.user = "bob",
	                .realm = REALM,
	                .nonce = legacy_nonce,
	                .key = key,
	                .key_len = kl};
	struct auth_result res;

	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert_int_eq(res.alg, STUN_PW_ALG_MD5);
	ck_assert_uint_eq(auth_store_algorithms(s, algs, 2), 1);
	ck_assert_int_eq(algs[0], STUN_PW_ALG_MD5);
	ck_assert_uint_eq(auth_store_algorithms_value(s, val, sizeof(val)), 4);
	ck_assert_mem_eq(val, "\x00\x01\x00\x00", 4);
	/* Asking for SHA-256 (no bid-down context: legacy nonce). */
	r.pa = STUN_PW_ALG_SHA256;
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_UNSUPPORTED_ALG);
	ck_assert_uint_eq(auth_reason_code(res.reason), 400);
	r.pa = 7;
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_UNSUPPORTED_ALG);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_algorithms_both)
{
	struct auth_store *s = store_with("alice:wonderland");
	enum stun_pw_alg algs[2];
	uint8_t val[8];

	ck_assert_uint_eq(auth_store_algorithms(s, algs, 2), 2);
	ck_assert_int_eq(algs[0], STUN_PW_ALG_SHA256);
	ck_assert_int_eq(algs[1], STUN_PW_ALG_MD5);
	ck_assert_uint_eq(auth_store_algorithms_value(s, val, sizeof(val)), 8);
	ck_assert_mem_eq(val, "\x00\x02\x00\x00\x00\x01\x00\x00", 8);
	ck_assert_uint_eq(auth_store_algorithms_value(s, val, 4), 0);
	ck_assert_int_eq(auth_store_add_secret(s, "north", NULL, 0), 0);
	ck_assert_uint_eq(auth_store_algorithms(s, algs, 2), 2);
	ck_assert_int_eq(
	        auth_store_add_user(s, "bob:0xef57bc8d8c15ddbbe601ea638397ef72",
	                            NULL, 0),
	        0);
	ck_assert_uint_eq(auth_store_algorithms(s, algs, 2), 1);
	auth_store_free(s);
}
END_TEST

/* --- TURN REST credentials ---------------------------------------------- */

START_TEST(test_auth_rest_password_vector)
{
	char pw[AUTH_REST_PASSWORD_LEN + 1];
	/* python: base64(hmac.new(b'north', b'1700000000:alice', sha1)) */
	ck_assert_int_eq(auth_rest_password("north", 5, "1700000000:alice", 16,
	                                    pw, sizeof(pw)),
	                 0);
	ck_assert_str_eq(pw, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
	ck_assert_int_eq(auth_rest_password("north", 5, "x", 1, pw, 28),
	                 ENOSPC);
}
END_TEST

START_TEST(test_auth_rest_parse)
{
	uint64_t exp;
	const char *id;
	size_t id_len;

	ck_assert_int_eq(
	        auth_rest_parse("1700000000:alice", 16, &exp, &id, &id_len), 0);
	ck_assert_uint_eq(exp, 1700000000u);
	ck_assert_uint_eq(id_len, 5);
	ck_assert_int_eq(memcmp(id, "alice", 5), 0);
	ck_assert_int_eq(auth_rest_parse("42", 2, &exp, &id, &id_len), 0);
	ck_assert_uint_eq(exp, 42);
	ck_assert_uint_eq(id_len, 0);
	ck_assert_int_eq(auth_rest_parse("alice:17", 8, &exp, &id, &id_len),
	                 EINVAL);
	ck_assert_int_eq(auth_rest_parse(":17", 3, &exp, &id, &id_len), EINVAL);
	ck_assert_int_eq(auth_rest_parse("17x", 3, &exp, &id, &id_len), EINVAL);
	ck_assert_int_eq(auth_rest_parse("99999999999999999999999", 23, &exp,
	                                 &id, &id_len),
	                 EINVAL);
}
END_TEST

static struct auth_store *rest_store(void)
{
	struct auth_store *s = new_store();
	char err[AUTH_ERR_MAX];
	ck_assert_int_eq(auth_store_add_secret(s, "north", err, sizeof(err)),
	                 0);
	return s;
}

START_TEST(test_auth_rest_valid_and_quota_key)
{
	struct auth_store *s = rest_store();
	char user[64];
	uint8_t key[STUN_KEY_MAX];
	struct auth_result res;

	snprintf(user, sizeof(user), "%u:alice", NOW + 3600);
	size_t kl = rest_key(STUN_PW_ALG_MD5, "north", user, key);
	struct req r = {.user = user,
	                .realm = REALM,
	                .nonce = legacy_nonce,
	                .key = key,
	                .key_len = kl};
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert(res.rest);
	ck_assert_uint_eq(res.rest_expiry_s, NOW + 3600);
	ck_assert_str_eq(res.username, user);
	ck_assert_str_eq(res.quota_key, "alice");
	ck_assert_uint_eq(res.quota_key_len, 5);
	ck_assert_mem_eq(res.key, key, kl);

	/* A fresh credential of the same id: same quota key. */
	snprintf(user, sizeof(user), "%u:alice", NOW + 7200);
	r.key_len = rest_key(STUN_PW_ALG_MD5, "north", user, key);
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert_str_eq(res.quota_key, "alice");

	/* Bare expiry: its own quota key. */
	snprintf(user, sizeof(user), "%u", NOW + 60);
	r.key_len = rest_key(STUN_PW_ALG_MD5, "north", user, key);
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert_str_eq(res.quota_key, user);

	/* SHA-256 works for REST credentials. */
	snprintf(user, sizeof(user), "%u:alice", NOW + 60);
	r.key_len = rest_key(STUN_PW_ALG_SHA256, "north", user, key);
	r.pa = STUN_PW_ALG_SHA256;
	r.sha256 = true;
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert_int_eq(res.alg, STUN_PW_ALG_SHA256);
	ck_assert_uint_eq(res.key_len, 32);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_rest_expiry_edge)
{
	struct auth_store *s = rest_store();
	char user[64];
	uint8_t key[STUN_KEY_MAX];
	struct auth_result res;
	struct req r = {.user = user,
	                .realm = REALM,
	                .nonce = legacy_nonce,
	                .key = key};

	snprintf(user, sizeof(user), "%u:alice", NOW);
	r.key_len = rest_key(STUN_PW_ALG_MD5, "north", user, key);
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert_int_eq(auth_verify(s, build(&r), NOW + 1, &res),
	                 AUTH_ERR_REST_EXPIRED);
	ck_assert_uint_eq(res.key_len, 0);
	ck_assert_str_eq(res.quota_key, "alice");
	ck_assert_uint_eq(auth_reason_code(res.reason), 401);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_rest_wrong_secret_and_rotation)
{
	struct auth_store *s = rest_store();
	char user[64], err[AUTH_ERR_MAX];
	uint8_t key[STUN_KEY_MAX];
	struct auth_result res;
	struct req r = {.user = user,
	                .realm = REALM,
	                .nonce = legacy_nonce,
	                .key = key};

	snprintf(user, sizeof(user), "%u:alice", NOW + 600);
	r.key_len = rest_key(STUN_PW_ALG_MD5, "south", user, key);
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_BAD_INTEGRITY);
	/* Rotation: both the old and the new secret are accepted. */
	ck_assert_int_eq(auth_store_add_secret(s, "south", err, sizeof(err)),
	                 0);
	ck_assert_uint_eq(auth_store_secret_count(s), 2);
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	r.key_len = rest_key(STUN_PW_ALG_MD5, "north", user, key);
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	r.key_len = rest_key(STUN_PW_ALG_MD5, "west", user, key);
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_BAD_INTEGRITY);
	/* Not a REST username at all. */
	r.user = "alice";
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_NO_USER);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_rest_secret_rules)
{
	struct auth_store *s = new_store();
	char err[AUTH_ERR_MAX], sec[16];

	ck_assert_int_eq(auth_store_add_secret(s, "", err, sizeof(err)),
	                 EINVAL);
	ck_assert_str_eq(err, "static-auth-secret is empty");
	ck_assert_int_eq(auth_store_add_secret(s, "a\tb", err, sizeof(err)),
	                 EINVAL);
	ck_assert_int_eq(auth_store_add_secret(s, "same", err, sizeof(err)), 0);
	ck_assert_int_eq(auth_store_add_secret(s, "same", err, sizeof(err)), 0);
	ck_assert_uint_eq(auth_store_secret_count(s), 1);
	for (int i = 1; i < AUTH_SECRETS_MAX; i++) {
		snprintf(sec, sizeof(sec), "s%d", i);
		ck_assert_int_eq(auth_store_add_secret(s, sec, NULL, 0), 0);
	}
	ck_assert_int_eq(auth_store_add_secret(s, "one more", err, sizeof(err)),
	                 ENOSPC);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_rest_static_user_wins)
{
	struct auth_store *s = rest_store();
	uint8_t key[STUN_KEY_MAX];
	struct auth_result res;

	ck_assert_int_eq(auth_store_add_user(s, "99999999999:pw", NULL, 0), 0);
	size_t kl = key_of(STUN_PW_ALG_MD5, "99999999999", "pw", key);
	struct req r = {.user = "99999999999",
	                .realm = REALM,
	                .nonce = legacy_nonce,
	                .key = key,
	                .key_len = kl};
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert(!res.rest);
	auth_store_free(s);
}
END_TEST

/* --- USERHASH ------------------------------------------------------------ */

START_TEST(test_auth_userhash)
{
	struct auth_store *s = store_with("alice:wonderland");
	uint8_t key[STUN_KEY_MAX], uh[32];
	size_t kl = key_of(STUN_PW_ALG_MD5, "alice", "wonderland", key);
	struct auth_result res;
	size_t len;

	ck_assert_int_eq(auth_store_add_user(s, "bob:builder", NULL, 0), 0);
	stun_userhash("alice", 5, REALM, strlen(REALM), uh);
	ck_assert_str_eq(
	        auth_store_find_userhash(s, REALM, strlen(REALM), uh, &len),
	        "alice");
	ck_assert_ptr_null(auth_store_find_userhash(s, "x", 1, uh, &len));
	struct req r = {.userhash = uh,
	                .userhash_len = 32,
	                .realm = REALM,
	                .nonce = legacy_nonce,
	                .key = key,
	                .key_len = kl};
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res), AUTH_OK);
	ck_assert(res.by_userhash);
	ck_assert_str_eq(res.username, "alice");
	ck_assert_str_eq(res.quota_key, "alice");

	stun_userhash("carol", 5, REALM, strlen(REALM), uh);
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_USERHASH_UNKNOWN);
	/* A short USERHASH: the codec or auth/ rejects it. */
	r.userhash_len = 20;
	if (try_build(&r) == 0)
		ck_assert_int_eq(auth_verify(s, &msg, NOW, &res),
		                 AUTH_ERR_BAD_ATTR);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_userhash_rest_unknown_and_features)
{
	struct auth_store *s = store_with("alice:wonderland");
	char user[64];
	uint8_t key[STUN_KEY_MAX], uh[32];
	struct auth_result res;

	ck_assert_uint_eq(auth_store_features(s),
	                  AUTH_FEATURE_PASSWORD_ALGORITHMS |
	                          AUTH_FEATURE_USERNAME_ANONYMITY);
	ck_assert_int_eq(auth_store_add_secret(s, "north", NULL, 0), 0);
	ck_assert_uint_eq(auth_store_features(s),
	                  AUTH_FEATURE_PASSWORD_ALGORITHMS);
	snprintf(user, sizeof(user), "%u:alice", NOW + 60);
	size_t kl = rest_key(STUN_PW_ALG_MD5, "north", user, key);
	stun_userhash(user, strlen(user), REALM, strlen(REALM), uh);
	struct req r = {.userhash = uh,
	                .userhash_len = 32,
	                .realm = REALM,
	                .nonce = legacy_nonce,
	                .key = key,
	                .key_len = kl};
	ck_assert_int_eq(auth_verify(s, build(&r), NOW, &res),
	                 AUTH_ERR_USERHASH_UNKNOWN);
	auth_store_free(s);
}
END_TEST

/* --- bid-down protection -------------------------------------------------- */

static const uint8_t both[8] = {0, 2, 0, 0, 0, 1, 0, 0};
static const uint8_t md5_only[4] = {0, 1, 0, 0};
static const uint8_t reversed[8] = {0, 1, 0, 0, 0, 2, 0, 0};

static const struct {
	const char *name;
	uint16_t pa;
	const uint8_t *pas;
	size_t pas_len;
	enum auth_reason want;
} biddown[] = {
        {"neither: processed as MD5", 0, NULL, 0, AUTH_OK},
        {"both, SHA-256", STUN_PW_ALG_SHA256, both, 8, AUTH_OK},
        {"both, MD5", STUN_PW_ALG_MD5, both, 8, AUTH_OK},
        {"algorithm only", STUN_PW_ALG_SHA256, NULL, 0, AUTH_ERR_ALGS_MISSING},
        {"list only", 0, both, 8, AUTH_ERR_ALGS_MISSING},
        {"list reordered", STUN_PW_ALG_MD5, reversed, 8,
         AUTH_ERR_ALGS_MISMATCH},
        {"list shortened", STUN_PW_ALG_MD5, md5_only, 4,
         AUTH_ERR_ALGS_MISMATCH},
        {"algorithm not listed", 9, both, 8, AUTH_ERR_ALG_NOT_OFFERED},
};

static void mint(const struct auth_store *s, char *nonce)
{
	struct auth_nonces *n;
	struct auth_nonce_key nk = {.id = 7, .bytes = {1, 2, 3}};
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = 1};

	ck_assert_int_eq(auth_nonces_new(&n, 0, &nk), 0);
	ck_assert_int_eq(auth_nonce_mint(n, s, (struct sockaddr *)&sin, NOW,
	                                 nonce, AUTH_NONCE_LEN + 1),
	                 0);
	auth_nonces_free(n);
}

START_TEST(test_auth_biddown_table)
{
	struct auth_store *s = store_with("alice:wonderland");
	char nonce[AUTH_NONCE_LEN + 1];
	uint8_t key[STUN_KEY_MAX];
	struct auth_result res;

	mint(s, nonce);
	struct req r = {.user = "alice",
	                .realm = REALM,
	                .nonce = nonce,
	                .pa = biddown[_i].pa,
	                .pas = biddown[_i].pas,
	                .pas_len = biddown[_i].pas_len,
	                .key = key};
	r.key_len = key_of(r.pa == STUN_PW_ALG_SHA256 ? STUN_PW_ALG_SHA256
	                                              : STUN_PW_ALG_MD5,
	                   "alice", "wonderland", key);
	const struct stun_msg *m = build(&r);
	ck_assert_msg(auth_check_algorithms(s, m) == biddown[_i].want, "%s",
	              biddown[_i].name);
	ck_assert_msg(auth_verify(s, m, NOW, &res) == biddown[_i].want, "%s",
	              biddown[_i].name);
	if (biddown[_i].want != AUTH_OK)
		ck_assert_uint_eq(auth_reason_code(res.reason), 400);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_biddown_md5_realm)
{
	struct auth_store *s =
	        store_with("bob:0xef57bc8d8c15ddbbe601ea638397ef72");
	char nonce[AUTH_NONCE_LEN + 1];
	uint8_t key[STUN_KEY_MAX];
	struct req r = {.user = "bob",
	                .realm = REALM,
	                .nonce = nonce,
	                .pa = STUN_PW_ALG_SHA256,
	                .pas = md5_only,
	                .pas_len = 4,
	                .key = key};

	mint(s, nonce);
	r.key_len = key_of(STUN_PW_ALG_MD5, "bob", "hunter2", key);
	ck_assert_int_eq(auth_check_algorithms(s, build(&r)),
	                 AUTH_ERR_ALG_NOT_OFFERED);
	r.pa = STUN_PW_ALG_MD5;
	ck_assert_int_eq(auth_check_algorithms(s, build(&r)), AUTH_OK);
	r.pas = both; /* an attacker's longer list */
	r.pas_len = 8;
	ck_assert_int_eq(auth_check_algorithms(s, build(&r)),
	                 AUTH_ERR_ALGS_MISMATCH);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_biddown_no_cookie_or_bit)
{
	struct auth_store *s = store_with("alice:wonderland");
	struct req r = {.user = "alice",
	                .realm = REALM,
	                .nonce = legacy_nonce,
	                .pa = STUN_PW_ALG_SHA256};

	/* No nonce cookie: an RFC 5389 server's nonce, nothing to check. */
	ck_assert_int_eq(auth_check_algorithms(s, build(&r)), AUTH_OK);
	/* A cookie without the password-algorithms bit. */
	r.nonce = "obMatJos2AAAAanything";
	ck_assert_int_eq(auth_check_algorithms(s, build(&r)), AUTH_OK);
	r.nonce = "obMatJos2gAAAanything";
	ck_assert_int_eq(auth_check_algorithms(s, build(&r)),
	                 AUTH_ERR_ALGS_MISSING);
	/* A foreign nonce with the bit: checked against the store's list. */
	r.pas = both;
	r.pas_len = 8;
	ck_assert_int_eq(auth_check_algorithms(s, build(&r)), AUTH_OK);
	auth_store_free(s);
}
END_TEST

START_TEST(test_auth_biddown_list_survives_reload)
{
	struct auth_store *a = store_with("alice:wonderland");
	struct auth_store *b =
	        store_with("bob:0xef57bc8d8c15ddbbe601ea638397ef72");
	char nonce[AUTH_NONCE_LEN + 1];
	struct req r = {.user = "alice",
	                .realm = REALM,
	                .nonce = nonce,
	                .pa = STUN_PW_ALG_MD5,
	                .pas = both,
	                .pas_len = 8};

	mint(a, nonce); /* 401 sent with SHA-256 and MD5 */
	/* The store was swapped for an MD5-only one since: the list that
	 * counts is the one sent with the nonce. */
	ck_assert_int_eq(auth_check_algorithms(b, build(&r)), AUTH_OK);
	auth_store_free(a);
	auth_store_free(b);
}
END_TEST

static Suite *auth_creds_suite(void)
{
	Suite *s = suite_create("auth_creds");
	TCase *tc;

	tc = tcase_create("users");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_auth_users_file_good);
	tcase_add_loop_test(tc, test_auth_users_file_bad_line, 0,
	                    sizeof(bad_files) / sizeof(bad_files[0]));
	tcase_add_test(tc, test_auth_users_long_line_and_nul);
	tcase_add_test(tc, test_auth_users_config_values);
	tcase_add_test(tc, test_auth_users_many_grow_tables);
	tcase_add_test(tc, test_auth_store_bad_realm);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_auth_verify_md5);
	tcase_add_test(tc, test_auth_verify_sha256);
	tcase_add_test(tc, test_auth_verify_failures);
	tcase_add_test(tc, test_auth_verify_hexkey_md5_only);
	tcase_add_test(tc, test_auth_algorithms_both);
	suite_add_tcase(s, tc);

	tc = tcase_create("rest");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_auth_rest_password_vector);
	tcase_add_test(tc, test_auth_rest_parse);
	tcase_add_test(tc, test_auth_rest_valid_and_quota_key);
	tcase_add_test(tc, test_auth_rest_expiry_edge);
	tcase_add_test(tc, test_auth_rest_wrong_secret_and_rotation);
	tcase_add_test(tc, test_auth_rest_secret_rules);
	tcase_add_test(tc, test_auth_rest_static_user_wins);
	suite_add_tcase(s, tc);

	tc = tcase_create("userhash");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_auth_userhash);
	tcase_add_test(tc, test_auth_userhash_rest_unknown_and_features);
	suite_add_tcase(s, tc);

	tc = tcase_create("biddown");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_auth_biddown_table, 0,
	                    sizeof(biddown) / sizeof(biddown[0]));
	tcase_add_test(tc, test_auth_biddown_md5_realm);
	tcase_add_test(tc, test_auth_biddown_no_cookie_or_bit);
	tcase_add_test(tc, test_auth_biddown_list_survives_reload);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(auth_creds_suite)
