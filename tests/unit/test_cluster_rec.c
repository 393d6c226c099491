/*
 * tests/unit/test_cluster_rec.c - cluster/keys.c, cluster/rec.c and
 * cluster/view.c: the Redis key layout and patterns, records decoded from plain
 * arrays, allocation ids and their order, node ids from host names, and the
 * cluster view's JSON (byte layout, hostile strings, always parseable).
 */
#include "cluster/cluster.h"
#include "tests/unit/check_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct key_row {
	enum cluster_key_kind kind;
	const char *name, *want;
};

static const struct key_row key_rows[] = {
        {CLUSTER_KEY_NODE, "n1", "avedge/node/n1"},
        {CLUSTER_KEY_NODE_ALLOCS, "n1", "avedge/node/n1/allocs"},
        {CLUSTER_KEY_ALLOC, "n1-0-7", "avedge/alloc/n1-0-7"},
        {CLUSTER_KEY_SECRETS, "example.org", "turn/realm/example.org/secret"},
        {CLUSTER_KEY_QUOTA_TOTAL, "r.org", "avedge/quota/r.org/total"},
        {CLUSTER_KEY_REALM_USER_QUOTA, "r.org", "turn/realm/r.org/user-quota"},
        {CLUSTER_KEY_REALM_TOTAL_QUOTA, "r.org",
         "turn/realm/r.org/total-quota"},
};

START_TEST(test_cluster_rec_key_layout)
{
	const struct key_row *r = &key_rows[_i];
	char buf[64];

	ck_assert_int_eq(cluster_key(buf, sizeof(buf), r->kind, r->name), 0);
	ck_assert_str_eq(buf, r->want);
	ck_assert_int_eq(cluster_key(buf, strlen(r->want), r->kind, r->name),
	                 ENOSPC);
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_cluster_rec_key_user_coturn)
{
	char buf[64];

	ck_assert_int_eq(cluster_key_user(buf, sizeof(buf), "r.org", "bob"), 0);
	ck_assert_str_eq(buf, "turn/realm/r.org/user/bob/key");
	ck_assert_int_eq(cluster_key_user(buf, 10, "r.org", "bob"), ENOSPC);
	ck_assert_int_eq(cluster_key(buf, sizeof(buf), 99, "x"), ENOSPC);
}
END_TEST

START_TEST(test_cluster_rec_key_quota_user)
{
	char buf[64];

	ck_assert_int_eq(
	        cluster_key_quota_user(buf, sizeof(buf), "r.org", "bob"), 0);
	ck_assert_str_eq(buf, "avedge/quota/r.org/user/bob");
	ck_assert_int_eq(cluster_key_quota_user(buf, 27, "r.org", "bob"),
	                 ENOSPC);
	ck_assert_str_eq(buf, "");
}
END_TEST

struct user_name_row {
	const char *key, *realm, *want; /* want NULL: not a user key */
};

static const struct user_name_row user_name_rows[] = {
        {"turn/realm/r.org/user/bob/key", "r.org", "bob"},
        {"turn/realm/r.org/user/a/b/key", "r.org", "a/b"},
        {"turn/realm/r.org/user//key", "r.org", ""},
        {"turn/realm/r.org/user/bob/kex", "r.org", NULL},
        {"turn/realm/x.org/user/bob/key", "r.org", NULL},
        {"turn/realm/r.org/usr/bob/key", "r.org", NULL},
        {"turn/realm/r.org/user/key", "r.org", NULL},
        {"turn/realm/r*/user/bob/key", "r*", "bob"},
};

START_TEST(test_cluster_rec_key_user_name)
{
	const struct user_name_row *r = &user_name_rows[_i];
	size_t off = 99, n = 99;
	bool ok = cluster_key_user_name(r->key, strlen(r->key), r->realm, &off,
	                                &n);
	char name[64];

	ck_assert(ok == (r->want != NULL));
	if (!ok)
		return;
	snprintf(name, sizeof(name), "%.*s", (int)n, r->key + off);
	ck_assert_str_eq(name, r->want);
	/* the builder's key reads back */
	char key[96];
	ck_assert_int_eq(cluster_key_user(key, sizeof(key), r->realm, name), 0);
	ck_assert(cluster_key_user_name(key, strlen(key), r->realm, &off, &n));
	ck_assert_uint_eq(n, strlen(name));
}
END_TEST

START_TEST(test_cluster_rec_key_peer_lists)
{
	ck_assert_int_eq(cluster_peer_ip_list("turn/allowed-peer-ip/1"),
	                 CLUSTER_PEER_ALLOWED);
	ck_assert_int_eq(cluster_peer_ip_list("turn/denied-peer-ip/x"),
	                 CLUSTER_PEER_DENIED);
	ck_assert_int_eq(cluster_peer_ip_list("turn/realm/x/denied-peer-ip/1"),
	                 CLUSTER_PEER_NONE);
	ck_assert_int_eq(cluster_peer_ip_list("turn/allowed-peer-ip"),
	                 CLUSTER_PEER_NONE);
	ck_assert_str_eq(CLUSTER_PEER_IP_MATCH, "turn/*-peer-ip/*");
}
END_TEST

struct pattern_row {
	enum cluster_pattern_kind kind;
	const char *realm, *want;
};

static const struct pattern_row pattern_rows[] = {
        {CLUSTER_PATTERN_USERS, "r.org", "turn/realm/r.org/user/*/key"},
        {CLUSTER_PATTERN_REALM, "r.org", "turn/realm/r.org/*"},
        {CLUSTER_PATTERN_USERS, "a*b?[c]\\d",
         "turn/realm/a\\*b\\?\\[c\\]\\\\d/user/*/key"},
        {CLUSTER_PATTERN_REALM, "", "turn/realm//*"},
};

START_TEST(test_cluster_rec_patterns)
{
	const struct pattern_row *r = &pattern_rows[_i];
	char buf[96], ks[128];

	ck_assert_int_eq(cluster_pattern(buf, sizeof(buf), r->kind, r->realm),
	                 0);
	ck_assert_str_eq(buf, r->want);
	ck_assert_int_eq(cluster_keyspace_pattern(ks, sizeof(ks), 3, buf), 0);
	ck_assert_str_eq(ks + strlen("__keyspace@3__:"), r->want);
	ck_assert(strncmp(ks, "__keyspace@3__:", 15) == 0);
	ck_assert_int_eq(
	        cluster_pattern(buf, strlen(r->want), r->kind, r->realm),
	        ENOSPC);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(cluster_pattern(buf, sizeof(buf), 9, r->realm),
	                 ENOSPC);
}
END_TEST

START_TEST(test_cluster_rec_glob_escape_never_splits)
{
	char buf[3];

	cluster_glob_escape(buf, sizeof(buf), "a*b");
	ck_assert_str_eq(buf, "a"); /* "\\*" would not fit whole */
	cluster_glob_escape(buf, sizeof(buf), "**");
	ck_assert_str_eq(buf, "\\*");
	cluster_glob_escape(buf, 1, "x");
	ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_cluster_rec_alloc_id_and_field)
{
	struct cluster_alloc_id a;
	char buf[64];

	ck_assert_int_eq(
	        cluster_alloc_id_format(buf, sizeof(buf), "n-1", 2, 77ull), 0);
	ck_assert_str_eq(buf, "n-1-2-77");
	cluster_alloc_id_parse(&a, buf);
	ck_assert_uint_eq(a.node_len, 3);
	ck_assert_uint_eq(a.worker, 2);
	ck_assert_uint_eq(a.serial, 77);
	ck_assert_int_eq(cluster_alloc_id_format(buf, 8, "n-1", 2, 77ull),
	                 ENOSPC);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(cluster_quota_field(buf, sizeof(buf), "n1", 3), 0);
	ck_assert_str_eq(buf, "n1/3");
	ck_assert_int_eq(cluster_quota_field(buf, 4, "n1", 3), ENOSPC);
}
END_TEST

/* A record from field/value strings, as an HGETALL gives them. */
static void rec_of(struct cluster_rec *r, const char *id, const char *const *v,
                   size_t n)
{
	size_t lens[32];

	for (size_t i = 0; i < n; i++)
		lens[i] = v[i] ? strlen(v[i]) : 0;
	ck_assert_int_eq(cluster_rec_decode(r, id, v, lens, n), 0);
}

START_TEST(test_cluster_rec_decode_and_get)
{
	const char *v[] = {"user", "alice", "n",   "12", "bad", "12x",
	                   "neg",  "-1",    "nil", NULL, "odd"};
	struct cluster_rec r;
	unsigned long long x;

	rec_of(&r, "n1-0-1", v, 11);
	ck_assert_uint_eq(r.n, 5);
	ck_assert_str_eq(r.id, "n1-0-1");
	ck_assert_str_eq(cluster_rec_get(&r, "user"), "alice");
	ck_assert_str_eq(cluster_rec_get(&r, "nil"), "");
	ck_assert_ptr_null(cluster_rec_get(&r, "odd"));
	ck_assert(cluster_rec_u64(&r, "n", &x) && x == 12);
	ck_assert(!cluster_rec_u64(&r, "bad", &x));
	ck_assert(!cluster_rec_u64(&r, "neg", &x));
	ck_assert(!cluster_rec_u64(&r, "missing", &x));
	ck_assert_uint_eq(cluster_rec_u64_or0(&r, "bad"), 0);
	ck_assert(!cluster_rec_draining(&r));
	cluster_rec_clear(&r);
	ck_assert_ptr_null(r.id);
}
END_TEST

START_TEST(test_cluster_rec_decode_embedded_nul_and_lengths)
{
	const char *v[] = {"f\0x", "ab"};
	size_t lens[] = {3, 1};
	struct cluster_rec r;

	ck_assert_int_eq(cluster_rec_decode(&r, "i", v, lens, 2), 0);
	ck_assert_str_eq(cluster_rec_get(&r, "f"), "a");
	cluster_rec_clear(&r);
}
END_TEST

START_TEST(test_cluster_rec_draining_field)
{
	const char *on[] = {"draining", "1"}, *off[] = {"draining", "0"};
	struct cluster_rec r;

	rec_of(&r, "n", on, 2);
	ck_assert(cluster_rec_draining(&r));
	cluster_rec_clear(&r);
	rec_of(&r, "n", off, 2);
	ck_assert(!cluster_rec_draining(&r));
	cluster_rec_clear(&r);
}
END_TEST

struct id_row {
	const char *id;
	size_t node_len;
	unsigned long long worker, serial;
};

static const struct id_row id_rows[] = {
        {"n1-0-7", 2, 0, 7},  {"edge-a-b-12-345", 8, 12, 345},
        {"n1-0-", 0, 0, 0},   {"n1--7", 0, 0, 0},
        {"n1-x-7", 0, 0, 0},  {"-0-7", 0, 0, 0},
        {"n1-+1-7", 0, 0, 0}, {"n1-1-7 ", 0, 0, 0},
        {"plain", 0, 0, 0},   {"", 0, 0, 0},
        {"a-1", 0, 0, 0},
};

START_TEST(test_cluster_rec_alloc_id_parse)
{
	const struct id_row *r = &id_rows[_i];
	struct cluster_alloc_id a;

	cluster_alloc_id_parse(&a, r->id);
	ck_assert_msg(a.node_len == r->node_len, "%s: %zu", r->id, a.node_len);
	if (r->node_len) {
		ck_assert_uint_eq(a.worker, r->worker);
		ck_assert_uint_eq(a.serial, r->serial);
	}
}
END_TEST

static int cmp_ids(const void *x, const void *y)
{
	return cluster_alloc_id_cmp(x, y);
}

START_TEST(test_cluster_rec_alloc_id_order)
{
	const char *in[] = {"n2-0-1",   "n1-1-1",  "n1-0-10", "n1-0-9",
	                    "n1-a-0-1", "n1-0-09", "zz",      "aa"};
	const char *want[] = {"aa",     "n1-0-09",  "n1-0-9", "n1-0-10",
	                      "n1-1-1", "n1-a-0-1", "n2-0-1", "zz"};
	enum { N = sizeof(in) / sizeof(in[0]) };
	struct cluster_alloc_id v[N];

	for (size_t i = 0; i < N; i++)
		cluster_alloc_id_parse(&v[i], in[i]);
	qsort(v, N, sizeof(v[0]), cmp_ids);
	for (size_t i = 0; i < N; i++)
		ck_assert_str_eq(v[i].id, want[i]);
}
END_TEST

START_TEST(test_cluster_rec_node_id_from_host)
{
	char buf[8];

	cluster_node_id_from_host("ed ge/1.x_y", buf, sizeof(buf), 64);
	ck_assert_str_eq(buf, "edge1.x");
	cluster_node_id_from_host("abcdef", buf, sizeof(buf), 3);
	ck_assert_str_eq(buf, "abc");
	cluster_node_id_from_host("  /", buf, sizeof(buf), 64);
	ck_assert_str_eq(buf, "avedge");
}
END_TEST

/* --- view ------------------------------------------------------------------
 */

START_TEST(test_cluster_view_node_layout)
{
	const char *f[] = {"allocations",     "3",
	                   "max_allocations", "8",
	                   "workers",         "2",
	                   "version",         "0.1.0",
	                   "listen4",         "1.2.3.4:3478",
	                   "started",         "1000",
	                   "updated",         "9500",
	                   "draining",        "0"};
	struct cluster_rec r[2];
	struct cluster_buf b;
	struct cluster_view_opts o = {.self_id = "n1"};

	rec_of(&r[0], "n1", f, 16);
	rec_of(&r[1], "n2", NULL, 0);
	cluster_buf_init(&b);
	cluster_view_nodes(&b, r, 2, &o, 10000);
	ck_assert_str_eq(
	        b.p,
	        "\"count\":2,\"alive\":1,\"nodes\":[{\"id\":\"n1\",\"self\":"
	        "true,\"alive\":true,\"draining\":false,\"allocations\":3,"
	        "\"max_allocations\":8,\"load\":0.375,\"workers\":2,"
	        "\"version\":"
	        "\"0.1.0\",\"listen4\":\"1.2.3.4:3478\",\"listen6\":null,"
	        "\"relay4\":null,\"relay6\":null,\"tls_port\":null,"
	        "\"dtls_port\":null,\"domain\":null,\"media\":null,"
	        "\"started\":1,\"uptime_s\":"
	        "9,\"updated\":9,\"age_s\":0.5},{\"id\":\"n2\",\"self\":false,"
	        "\"alive\":false,\"draining\":false,\"allocations\":null,"
	        "\"max_allocations\":null,\"load\":null,\"workers\":null,"
	        "\"version\":null,\"listen4\":null,\"listen6\":null,\"relay4\":"
	        "null,\"relay6\":null,\"tls_port\":null,\"dtls_port\":null,"
	        "\"domain\":null,\"media\":null}]}\n");
	cluster_buf_free(&b);
	cluster_rec_clear(&r[0]);
	cluster_rec_clear(&r[1]);
}
END_TEST

START_TEST(test_cluster_view_stats_totals)
{
	const char *a[] = {"allocations",   "3",   "max_allocations", "8",
	                   "to_peer_bytes", "100", "draining",        "1"};
	const char *c[] = {"allocations", "2", "max_allocations", "0",
	                   "media_good",  "4", "media_fair",      "3",
	                   "media_poor",  "2", "media_bad",       "1"};
	struct cluster_rec r[3];
	struct cluster_buf b;
	struct cluster_view_opts o = {0};

	rec_of(&r[0], "a", a, 8);
	rec_of(&r[1], "b", NULL, 0);
	rec_of(&r[2], "c", c, 12);
	cluster_buf_init(&b);
	cluster_view_stats(&b, r, 3, &o, 0);
	static const char want[] =
	        "\"nodes\":3,\"nodes_alive\":2,\"nodes_draining\":1,"
	        "\"allocations\":5,\"max_allocations\":0,";
	ck_assert_msg(strncmp(b.p, want, sizeof(want) - 1) == 0, "%s", b.p);
	ck_assert_ptr_nonnull(strstr(b.p, "\"to_peer\":{\"packets\":0,"
	                                  "\"bytes\":100}"));
	/* a: an older build's record, no media fields: counts 0 */
	ck_assert_ptr_nonnull(strstr(b.p, "}},\"media\":{\"good\":4,\"fair\":3,"
	                                  "\"poor\":2,\"bad\":1},\"redis\""));
	ck_assert_ptr_nonnull(strstr(b.p, "\"id\":\"a\""));
	cluster_buf_free(&b);
	for (int i = 0; i < 3; i++)
		cluster_rec_clear(&r[i]);
}
END_TEST

START_TEST(test_cluster_view_alloc_hostile_strings_parse)
{
	const char *f[] = {"user",          "m\xc3\xa9<&>\"\\\x01\xff",
	                   "relay",         "",
	                   "relay2",        "1.2.3.4:5",
	                   "created",       "5",
	                   "expires",       "20",
	                   "to_peer_bytes", "12x"};
	struct cluster_rec r[2];
	struct cluster_buf b;
	struct cluster_json *v;
	struct cluster_view_opts o = {.quote_flags = CLUSTER_JSON_HTML};
	const struct cluster_json *x;

	rec_of(&r[0], "weird<&>", f, 12);
	rec_of(&r[1], "gone", NULL, 0);
	cluster_buf_init(&b);
	cluster_buf_addstr(&b, "{");
	cluster_view_allocs(&b, r, 2, 7, 0, 100, &o, 10);
	ck_assert_ptr_null(strchr(b.p, '<'));
	ck_assert_int_eq(cluster_json_parse(b.p, b.n, &v), 0);
	ck_assert(cluster_json_number(cluster_json_get(v, "total"), 0) == 7);
	x = cluster_json_get(v, "allocations");
	ck_assert_uint_eq(x->n, 1); /* the gone record left out */
	x = &x->items[0];
	ck_assert_str_eq(cluster_json_string(cluster_json_get(x, "user")),
	                 "m\xc3\xa9<&>\"\\\x01\xef\xbf\xbd");
	ck_assert_uint_eq(cluster_json_get(x, "relay")->n, 1);
	ck_assert(cluster_json_number(cluster_json_get(x, "age_s"), 0) == 5);
	ck_assert(cluster_json_number(cluster_json_get(x, "expires_in_s"), 0) ==
	          10);
	ck_assert_ptr_null(cluster_json_get(x, "updated"));
	cluster_json_free(v);
	cluster_buf_free(&b);

	o.updated_null = true;
	cluster_buf_init(&b);
	cluster_view_allocs(&b, r, 1, 1, 0, 1, &o, 10);
	ck_assert_ptr_nonnull(strstr(b.p, ",\"updated\":null}"));
	cluster_buf_free(&b);
	cluster_rec_clear(&r[0]);
	cluster_rec_clear(&r[1]);
}
END_TEST

static Suite *cluster_rec_suite(void)
{
	Suite *s = suite_create("cluster_rec");
	TCase *tc = tcase_create("keys");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_cluster_rec_key_layout, 0,
	                    sizeof(key_rows) / sizeof(key_rows[0]));
	tcase_add_test(tc, test_cluster_rec_key_user_coturn);
	tcase_add_test(tc, test_cluster_rec_key_quota_user);
	tcase_add_loop_test(tc, test_cluster_rec_key_user_name, 0,
	                    sizeof(user_name_rows) / sizeof(user_name_rows[0]));
	tcase_add_test(tc, test_cluster_rec_key_peer_lists);
	tcase_add_loop_test(tc, test_cluster_rec_patterns, 0,
	                    sizeof(pattern_rows) / sizeof(pattern_rows[0]));
	tcase_add_test(tc, test_cluster_rec_glob_escape_never_splits);
	tcase_add_test(tc, test_cluster_rec_alloc_id_and_field);
	suite_add_tcase(s, tc);

	tc = tcase_create("records");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_cluster_rec_decode_and_get);
	tcase_add_test(tc, test_cluster_rec_decode_embedded_nul_and_lengths);
	tcase_add_test(tc, test_cluster_rec_draining_field);
	suite_add_tcase(s, tc);

	tc = tcase_create("ids");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_cluster_rec_alloc_id_parse, 0,
	                    sizeof(id_rows) / sizeof(id_rows[0]));
	tcase_add_test(tc, test_cluster_rec_alloc_id_order);
	tcase_add_test(tc, test_cluster_rec_node_id_from_host);
	suite_add_tcase(s, tc);

	tc = tcase_create("view");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_cluster_view_node_layout);
	tcase_add_test(tc, test_cluster_view_stats_totals);
	tcase_add_test(tc, test_cluster_view_alloc_hostile_strings_parse);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cluster_rec_suite)
