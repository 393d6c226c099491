/*
 * tests/unit/test_edge_creds.c - the admin API's in-process credentials
 * (edge/config/creds.c): merged into a store after the configuration's, which
 * the API may not change (EPERM) and which win on a name clash; listing;
 * the secret limit.
 */
#include "auth/auth.h"
#include "edge/config/creds.h"
#include "edge/setup.h"
#include "tests/unit/check_main.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void load(struct edge_config *cfg)
{
	char *argv[] = {"avedge",           "--realm",
	                "test.local",       "--user",
	                "alice:wonderland", "--static-auth-secret",
	                "config-secret"};
	struct edge_config_err err;

	ck_assert_int_eq(edge_config_load(cfg, 7, argv, &err), 0);
}

/* The store built as the daemon does: configuration, then the API. */
static struct auth_store *build(struct edge_creds *c,
                                const struct edge_config *cfg)
{
	struct auth_store *st;
	char why[256];

	ck_assert_int_eq(edge_build_store(cfg, &st, why, sizeof(why)), 0);
	ck_assert_int_eq(edge_creds_merge(c, cfg, st), 0);
	return st;
}

static bool has_user(const struct auth_store *st, const char *name)
{
	struct auth_key keys[2];
	size_t n = 0;
	bool rest = false;
	uint64_t expiry;

	return auth_store_lookup(st, "test.local", 10, name, strlen(name),
	                         STUN_PW_ALG_MD5, keys, 2, &n, &rest,
	                         &expiry) == AUTH_OK &&
	       !rest && n == 1;
}

struct seen {
	char text[256];
};

static void note(void *arg, const char *name, enum edge_cred_source src)
{
	struct seen *s = arg;
	size_t k = strlen(s->text);

	snprintf(s->text + k, sizeof(s->text) - k, "%s=%s ", name,
	         src == EDGE_CRED_CONFIG ? "config" : "api");
}

START_TEST(test_edge_creds_users_merge_and_refuse)
{
	struct edge_config cfg;
	struct edge_creds *c;
	struct auth_store *st;
	struct seen seen = {""};
	uint8_t key[16] = {1, 2, 3};
	bool created;

	load(&cfg);
	ck_assert_int_eq(edge_creds_new(&c), 0);
	auth_store_free(build(c, &cfg)); /* learns the configuration */
	ck_assert(edge_creds_is_config_user(c, "alice"));
	ck_assert_int_eq(edge_creds_set_user(c, "alice", "x", key, &created),
	                 EPERM);
	ck_assert_int_eq(edge_creds_set_user(c, "carol", "pw", key, &created),
	                 0);
	ck_assert(created);
	ck_assert_int_eq(edge_creds_set_user(c, "carol", "pw2", key, &created),
	                 0);
	ck_assert(!created);
	ck_assert_int_eq(edge_creds_set_user(c, "dave", NULL, key, &created),
	                 0);
	st = build(c, &cfg);
	ck_assert(has_user(st, "alice"));
	ck_assert(has_user(st, "carol"));
	ck_assert(has_user(st, "dave"));
	ck_assert_uint_eq(auth_store_user_count(st), 3);
	auth_store_free(st);
	edge_creds_each_user(c, note, &seen);
	ck_assert_str_eq(seen.text, "alice=config carol=api dave=api ");
	ck_assert_int_eq(edge_creds_del_user(c, "alice"), EPERM);
	ck_assert_int_eq(edge_creds_del_user(c, "carol"), 0);
	ck_assert_int_eq(edge_creds_del_user(c, "carol"), ENOENT);
	st = build(c, &cfg);
	ck_assert(!has_user(st, "carol"));
	ck_assert_uint_eq(auth_store_user_count(st), 2);
	auth_store_free(st);
	edge_creds_free(c);
	edge_config_free(&cfg);
}
END_TEST

START_TEST(test_edge_creds_secrets_limit_and_config)
{
	struct edge_config cfg;
	struct edge_creds *c;
	struct edge_creds_counts n;
	struct auth_store *st;
	char secret[32];
	bool created;

	load(&cfg);
	ck_assert_int_eq(edge_creds_new(&c), 0);
	auth_store_free(build(c, &cfg));
	ck_assert(edge_creds_is_config_secret(c, "config-secret"));
	ck_assert_int_eq(
	        edge_creds_add_secret(c, "config-secret", 16, &created), EPERM);
	ck_assert_int_eq(edge_creds_del_secret(c, "config-secret"), EPERM);
	for (int i = 0; i < 15; i++) {
		snprintf(secret, sizeof(secret), "api-secret-%d", i);
		ck_assert_int_eq(edge_creds_add_secret(c, secret, 16, &created),
		                 0);
		ck_assert(created);
	}
	ck_assert_int_eq(edge_creds_add_secret(c, "api-secret-3", 16, &created),
	                 0);
	ck_assert(!created);
	ck_assert_int_eq(edge_creds_add_secret(c, "one-too-many", 16, &created),
	                 ENOSPC);
	st = build(c, &cfg);
	ck_assert_uint_eq(auth_store_secret_count(st), 16);
	auth_store_free(st);
	ck_assert_int_eq(edge_creds_del_secret(c, "api-secret-3"), 0);
	ck_assert_int_eq(edge_creds_del_secret(c, "api-secret-3"), ENOENT);
	edge_creds_counts(c, &n);
	ck_assert_uint_eq(n.config_secrets, 1);
	ck_assert_uint_eq(n.api_secrets, 14);
	ck_assert_uint_eq(n.config_users, 1);
	edge_creds_free(c);
	edge_config_free(&cfg);
}
END_TEST

static Suite *creds_suite(void)
{
	Suite *s = suite_create("edge_creds");
	TCase *tc = tcase_create("api_credentials");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_edge_creds_users_merge_and_refuse);
	tcase_add_test(tc, test_edge_creds_secrets_limit_and_config);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(creds_suite)
