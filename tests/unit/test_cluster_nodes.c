/*
 * tests/unit/test_cluster_nodes.c - cluster/nodes.c: the alternate for
 * 300 Try Alternate picked from the registry entries (least-loaded, own
 * node, draining and full nodes skipped, ties by id), the other nodes'
 * endpoints, and the endpoint lists split and parsed.
 */
#include "cluster/cluster.h"
#include "tests/unit/check_main.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NODES_MAX 6

/* A registry entry as "field=value" strings (NULL-terminated), decoded
 * as the adapter would. */
struct entry {
	const char *kv[12];
};

static void decode_all(struct cluster_rec *v, const struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *flat[24];
		char buf[12][64];
		size_t lens[24], k = 0;

		for (size_t j = 0; e[i].kv[j]; j++) {
			const char *eq = strchr(e[i].kv[j], '=');
			size_t fl = (size_t)(eq - e[i].kv[j]);
			memcpy(buf[j], e[i].kv[j], fl);
			buf[j][fl] = 0;
			flat[k] = buf[j];
			lens[k++] = fl;
			flat[k] = eq + 1;
			lens[k++] = strlen(eq + 1);
		}
		ck_assert_int_eq(cluster_rec_decode(&v[i], "", flat, lens, k),
		                 0);
	}
}

struct pick_row {
	const char *name;
	struct entry e[NODES_MAX];
	size_t n;
	const char *want_id, *want_v4; /* want_id NULL: none */
};

static const struct pick_row pick_rows[] = {
        {"least loaded",
         {{{"id=a", "allocations=5", "listen4=192.0.2.1:3478", NULL}},
          {{"id=b", "allocations=2", "listen4=192.0.2.2:3478", NULL}},
          {{"id=c", "allocations=9", NULL}}},
         3,
         "b",
         "192.0.2.2:3478"},
        {"own node skipped",
         {{{"id=self", "allocations=0", NULL}},
          {{"id=b", "allocations=4", "listen4=192.0.2.2:3478", NULL}}},
         2,
         "b",
         "192.0.2.2:3478"},
        {"draining skipped, \"0\" and \"\" are not draining",
         {{{"id=a", "allocations=0", "draining=1", NULL}},
          {{"id=b", "allocations=3", "draining=0", NULL}},
          {{"id=c", "allocations=3", "draining=", NULL}},
          {{"id=d", "allocations=1", "draining=yes", NULL}}},
         4,
         "b",
         ""},
        {"full skipped, 0 is no limit",
         {{{"id=a", "allocations=10", "max_allocations=10", NULL}},
          {{"id=b", "allocations=50", "max_allocations=0", NULL}},
          {{"id=c", "allocations=60", "max_allocations=61", NULL}}},
         3,
         "b",
         ""},
        {"ties to the smaller id",
         {{{"id=z", "allocations=1", NULL}},
          {{"id=m", "allocations=1", NULL}},
          {{"id=q", "allocations=1", NULL}}},
         3,
         "m",
         ""},
        {"no id, no entry",
         {{{"allocations=0", "listen4=192.0.2.9:1", NULL}}, {{NULL}}},
         2,
         NULL,
         ""},
        {"only self", {{{"id=self", NULL}}}, 1, NULL, ""},
        {"missing allocations count as 0",
         {{{"id=b", "allocations=1", NULL}}, {{"id=c", NULL}}},
         2,
         "c",
         ""},
        {"none", {{{NULL}}}, 0, NULL, ""},
};

START_TEST(test_cluster_nodes_alternate_pick)
{
	const struct pick_row *r = &pick_rows[_i];
	struct cluster_rec v[NODES_MAX];
	struct cluster_alternate a;

	decode_all(v, r->e, r->n);
	cluster_alternate_pick(v, r->n, "self", &a);
	if (r->want_id) {
		ck_assert_msg(a.id && strcmp(a.id, r->want_id) == 0, "%s: %s",
		              r->name, a.id ? a.id : "none");
	} else {
		ck_assert_msg(a.id == NULL, "%s", r->name);
	}
	ck_assert_str_eq(a.v4, r->want_v4);
	ck_assert_str_eq(a.v6, "");
	ck_assert_str_eq(a.domain, "");
	for (size_t i = 0; i < r->n; i++)
		cluster_rec_clear(&v[i]);
}
END_TEST

START_TEST(test_cluster_nodes_alternate_fields)
{
	const struct entry e[] = {
	        {{"id=b", "listen4=192.0.2.2:3478",
	          "listen6=[2001:db8::2]:3478", "tls_port=5349", "dtls_port=0",
	          "domain=turn.example.org", NULL}}};
	struct cluster_rec v[1];
	struct cluster_alternate a;

	decode_all(v, e, 1);
	cluster_alternate_pick(v, 1, "a", &a);
	ck_assert_str_eq(a.id, "b");
	ck_assert_str_eq(a.v4, "192.0.2.2:3478");
	ck_assert_str_eq(a.v6, "[2001:db8::2]:3478");
	ck_assert_uint_eq(cluster_port_of(a.tls), 5349);
	ck_assert_uint_eq(cluster_port_of(a.dtls), 0);
	ck_assert_str_eq(a.domain, "turn.example.org");
	ck_assert_uint_eq(cluster_port_of("65536"), 0);
	ck_assert_uint_eq(cluster_port_of("x"), 0);
	ck_assert_uint_eq(cluster_port_of("80x"), 80);
	cluster_rec_clear(&v[0]);
}
END_TEST

START_TEST(test_cluster_nodes_peer_endpoints)
{
	const struct entry e[] = {
	        {{"id=a", "endpoints=192.0.2.1:3478 192.0.2.1:5349", NULL}},
	        {{"id=self", "endpoints=192.0.2.9:3478", NULL}},
	        {{"endpoints=192.0.2.7:3478", NULL}},
	        {{"id=b", NULL}},
	        {{"id=c", "endpoints=[2001:db8::3]:3478", NULL}},
	        {{"id=d", "endpoints=", NULL}},
	};
	struct cluster_rec v[6];
	char *all;

	decode_all(v, e, 6);
	all = cluster_peer_endpoints(v, 6, "self");
	ck_assert_str_eq(all, "192.0.2.1:3478 192.0.2.1:5349 "
	                      "[2001:db8::3]:3478  ");
	free(all);
	all = cluster_peer_endpoints(v, 0, "self");
	ck_assert_str_eq(all, "");
	free(all);
	for (size_t i = 0; i < 6; i++)
		cluster_rec_clear(&v[i]);
}
END_TEST

START_TEST(test_cluster_nodes_endpoint_tokens)
{
	const char *s = "  a:1 b:2   [::1]:3 ", *tok;
	const char *want[] = {"a:1", "b:2", "[::1]:3"};
	size_t len, k = 0;

	while (cluster_endpoint_next(&s, &tok, &len)) {
		ck_assert_uint_lt(k, 3);
		ck_assert_uint_eq(len, strlen(want[k]));
		ck_assert(memcmp(tok, want[k], len) == 0);
		k++;
	}
	ck_assert_uint_eq(k, 3);
	s = "";
	ck_assert(!cluster_endpoint_next(&s, &tok, &len));
}
END_TEST

struct split_row {
	const char *in, *ip; /* ip NULL: refused */
	uint16_t port;
};

static const struct split_row split_rows[] = {
        {"192.0.2.1:3478", "192.0.2.1", 3478},
        {"[2001:db8::1]:5349", "2001:db8::1", 5349},
        {"2001:db8::1:5349", "2001:db8::1", 5349}, /* last colon */
        {"host:1", "host", 1},
        {"192.0.2.1:65535", "192.0.2.1", 65535},
        {"192.0.2.1:80x", "192.0.2.1", 80},
        {"192.0.2.1:0", NULL, 0},
        {"192.0.2.1:65536", NULL, 0},
        {"192.0.2.1:-1", NULL, 0},
        {"192.0.2.1:", NULL, 0},
        {"192.0.2.1", NULL, 0},
        {"[]:1", NULL, 0},
        {"[::1:1", NULL, 0},
        {"", NULL, 0},
        {"0123456789012345678901234567890123456789012345678901234567890123:1",
         NULL, 0},
};

START_TEST(test_cluster_nodes_endpoint_split)
{
	const struct split_row *r = &split_rows[_i];
	char ip[64] = "untouched";
	uint16_t port = 7;
	bool ok = cluster_endpoint_split(r->in, strlen(r->in), ip, sizeof(ip),
	                                 &port);

	ck_assert_msg(ok == (r->ip != NULL), "%s", r->in);
	if (!ok)
		return;
	ck_assert_str_eq(ip, r->ip);
	ck_assert_uint_eq(port, r->port);
}
END_TEST

/* The length is the token's: what follows is not read. */
START_TEST(test_cluster_nodes_endpoint_split_bounded)
{
	char ip[64];
	uint16_t port;

	ck_assert(cluster_endpoint_split("10.0.0.1:3478 10.0.0.2:1", 13, ip,
	                                 sizeof(ip), &port));
	ck_assert_str_eq(ip, "10.0.0.1");
	ck_assert_uint_eq(port, 3478);
	ck_assert(
	        !cluster_endpoint_split("a:1\0b:2", 7, ip, sizeof(ip), &port));
	ck_assert(!cluster_endpoint_split("abcd:1", 6, ip, 4, &port));
}
END_TEST

static Suite *cluster_nodes_suite(void)
{
	Suite *s = suite_create("cluster_nodes");
	TCase *tc = tcase_create("alternates");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_cluster_nodes_alternate_pick, 0,
	                    sizeof(pick_rows) / sizeof(pick_rows[0]));
	tcase_add_test(tc, test_cluster_nodes_alternate_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("endpoints");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_cluster_nodes_peer_endpoints);
	tcase_add_test(tc, test_cluster_nodes_endpoint_tokens);
	tcase_add_loop_test(tc, test_cluster_nodes_endpoint_split, 0,
	                    sizeof(split_rows) / sizeof(split_rows[0]));
	tcase_add_test(tc, test_cluster_nodes_endpoint_split_bounded);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cluster_nodes_suite)
