/*
 * tests/unit/test_cluster_encode.c - cluster/encode.c: an allocation
 * record and a registry entry encoded to field/value strings read back by
 * cluster_rec_decode (round trips, tables), the field order the scripts
 * send, and the events' bytes (the layout test_golden.py pins, the cuts of
 * long strings, always parseable).
 */
#include "cluster/cluster.h"
#include "tests/unit/check_main.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Decode what f holds as an HGETALL reply of it would come back. */
static void decode(struct cluster_rec *rec, const char *id,
                   const struct cluster_fields *f)
{
	size_t lens[2 * CLUSTER_FIELDS_MAX];

	for (size_t i = 0; i < 2 * f->n; i++)
		lens[i] = strlen(f->kv[i]);
	ck_assert_int_eq(cluster_rec_decode(rec, id, f->kv, lens, 2 * f->n), 0);
}

static void has(const struct cluster_rec *r, const char *field,
                const char *want)
{
	const char *v = cluster_rec_get(r, field);

	ck_assert_msg(v != NULL, "field %s missing", field);
	ck_assert_str_eq(v, want);
}

static void has_u64(const struct cluster_rec *r, const char *field,
                    uint64_t want)
{
	unsigned long long v;

	ck_assert_msg(cluster_rec_u64(r, field, &v), "field %s", field);
	ck_assert_uint_eq(v, want);
}

/* --- allocation records ----------------------------------------------------
 */

static const struct cluster_alloc_rec alloc_rows[] = {
        {.id = "n1-0-1",
         .node = "n1",
         .worker = 0,
         .realm = "example.org",
         .user = "alice",
         .transport = "udp",
         .client = "192.0.2.1:5000",
         .relay = "198.51.100.1:49152",
         .relay2 = "",
         .created_s = 1700000000,
         .lifetime_s = 600,
         .expires_s = 1700000600,
         .permissions = 2,
         .channels = 1,
         .to_peer_packets = 10,
         .to_peer_bytes = 1000,
         .to_client_packets = 11,
         .to_client_bytes = 1100,
         .updated_s = 1700000005},
        {.id = "a-b-3-18446744073709551615",
         .node = "a-b",
         .worker = 3,
         .realm = "",
         .user = "m\xc3\xa9 \"<x>\"",
         .transport = "dtls",
         .client = "[2001:db8::1]:3478",
         .relay = "",
         .relay2 = "[2001:db8::2]:50000",
         .created_s = UINT64_MAX,
         .lifetime_s = 0,
         .expires_s = 0,
         .to_peer_bytes = UINT64_MAX,
         .updated_s = 1},
};

START_TEST(test_cluster_encode_alloc_round_trip)
{
	const struct cluster_alloc_rec *a = &alloc_rows[_i];
	struct cluster_fields f;
	struct cluster_rec r;

	cluster_alloc_encode(&f, a);
	ck_assert_uint_eq(f.n, 19);
	decode(&r, a->id, &f);
	has(&r, "id", a->id);
	has(&r, "node", a->node);
	has_u64(&r, "worker", a->worker);
	has(&r, "realm", a->realm);
	has(&r, "user", a->user);
	has(&r, "transport", a->transport);
	has(&r, "client", a->client);
	has(&r, "relay", a->relay);
	has(&r, "relay2", a->relay2);
	has_u64(&r, "created", a->created_s);
	has_u64(&r, "lifetime", a->lifetime_s);
	has_u64(&r, "expires", a->expires_s);
	has_u64(&r, "permissions", a->permissions);
	has_u64(&r, "channels", a->channels);
	has_u64(&r, "to_peer_packets", a->to_peer_packets);
	has_u64(&r, "to_peer_bytes", a->to_peer_bytes);
	has_u64(&r, "to_client_packets", a->to_client_packets);
	has_u64(&r, "to_client_bytes", a->to_client_bytes);
	has_u64(&r, "updated", a->updated_s);
	cluster_rec_clear(&r);
}
END_TEST

/* The order the record_put script gets them (docs/cluster.md). */
START_TEST(test_cluster_encode_alloc_field_order)
{
	static const char *const names[] = {"id",
	                                    "node",
	                                    "worker",
	                                    "realm",
	                                    "user",
	                                    "transport",
	                                    "client",
	                                    "relay",
	                                    "relay2",
	                                    "created",
	                                    "lifetime",
	                                    "expires",
	                                    "permissions",
	                                    "channels",
	                                    "to_peer_packets",
	                                    "to_peer_bytes",
	                                    "to_client_packets",
	                                    "to_client_bytes",
	                                    "updated"};
	struct cluster_fields f;

	cluster_alloc_encode(&f, &alloc_rows[0]);
	ck_assert_uint_eq(f.n, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < f.n; i++)
		ck_assert_str_eq(f.kv[2 * i], names[i]);
	ck_assert_str_eq(f.kv[2 * 2 + 1], "0");
	ck_assert_str_eq(f.kv[2 * 9 + 1], "1700000000");
}
END_TEST

/* The view written from a decoded record is JSON with the same values. */
START_TEST(test_cluster_encode_alloc_view)
{
	const struct cluster_alloc_rec *a = &alloc_rows[0];
	struct cluster_view_opts o = {0};
	struct cluster_fields f;
	struct cluster_rec r;
	struct cluster_buf b;
	struct cluster_json *v;
	const struct cluster_json *x;

	cluster_alloc_encode(&f, a);
	decode(&r, a->id, &f);
	cluster_buf_init(&b);
	cluster_buf_addstr(&b, "{");
	cluster_view_allocs(&b, &r, 1, 1, 0, 1, &o, a->updated_s);
	ck_assert_int_eq(cluster_json_parse(b.p, b.n, &v), 0);
	x = &cluster_json_get(v, "allocations")->items[0];
	ck_assert_str_eq(cluster_json_string(cluster_json_get(x, "id")), a->id);
	ck_assert_str_eq(cluster_json_string(cluster_json_get(x, "user")),
	                 a->user);
	ck_assert(cluster_json_number(cluster_json_get(x, "age_s"), -1) == 5);
	ck_assert(cluster_json_number(cluster_json_get(x, "expires_in_s"),
	                              -1) == 595);
	cluster_json_free(v);
	cluster_buf_free(&b);
	cluster_rec_clear(&r);
}
END_TEST

/* --- the registry entry ----------------------------------------------------
 */

static const struct cluster_node_rec node_rows[] = {
        {.id = "n1",
         .listen4 = "192.0.2.1:3478",
         .listen6 = "",
         .relay4 = "192.0.2.1",
         .relay6 = "",
         .tls_port = 5349,
         .dtls_port = 0,
         .domain = "",
         .endpoints = "192.0.2.1:3478 192.0.2.1:5349",
         .allocations = 3,
         .max_allocations = 100,
         .draining = false,
         .workers = 2,
         .version = "0.1.0",
         .started_ms = 1700000000000ull,
         .updated_ms = 1700000001000ull,
         .allocations_created = 9,
         .permissions = 4,
         .channels = 2,
         .auth_failures = 1,
         .to_peer_packets = 5,
         .to_peer_bytes = 500,
         .to_client_packets = 6,
         .to_client_bytes = 600,
         .media = {7, 3, 1, 2}},
        {.id = "n2.example",
         .listen4 = "",
         .listen6 = "[2001:db8::1]:3478",
         .relay4 = "",
         .relay6 = "2001:db8::1",
         .tls_port = 65535,
         .dtls_port = 65535,
         .domain = "turn.example.org",
         .endpoints = "",
         .allocations = UINT64_MAX,
         .max_allocations = 0,
         .draining = true,
         .workers = 64,
         .version = "x",
         .to_client_bytes = UINT64_MAX},
};

START_TEST(test_cluster_encode_node_round_trip)
{
	const struct cluster_node_rec *n = &node_rows[_i];
	struct cluster_fields f;
	struct cluster_rec r;

	cluster_node_encode(&f, n);
	ck_assert_uint_eq(f.n, 28);
	ck_assert_str_eq(f.kv[0], "id");
	ck_assert_str_eq(f.kv[2 * 23], "to_client_bytes");
	ck_assert_str_eq(f.kv[2 * 27], "media_bad");
	decode(&r, n->id, &f);
	has(&r, "id", n->id);
	has(&r, "listen4", n->listen4);
	has(&r, "listen6", n->listen6);
	has(&r, "relay4", n->relay4);
	has(&r, "relay6", n->relay6);
	has_u64(&r, "tls_port", n->tls_port);
	has_u64(&r, "dtls_port", n->dtls_port);
	has(&r, "domain", n->domain);
	has(&r, "endpoints", n->endpoints);
	has_u64(&r, "allocations", n->allocations);
	has_u64(&r, "max_allocations", n->max_allocations);
	has(&r, "draining", n->draining ? "1" : "0");
	ck_assert(cluster_rec_draining(&r) == n->draining);
	has_u64(&r, "workers", n->workers);
	has(&r, "version", n->version);
	has_u64(&r, "started", n->started_ms);
	has_u64(&r, "updated", n->updated_ms);
	has_u64(&r, "allocations_created", n->allocations_created);
	has_u64(&r, "permissions", n->permissions);
	has_u64(&r, "channels", n->channels);
	has_u64(&r, "auth_failures", n->auth_failures);
	has_u64(&r, "to_peer_packets", n->to_peer_packets);
	has_u64(&r, "to_peer_bytes", n->to_peer_bytes);
	has_u64(&r, "to_client_packets", n->to_client_packets);
	has_u64(&r, "to_client_bytes", n->to_client_bytes);
	has_u64(&r, "media_good", n->media[0]);
	has_u64(&r, "media_fair", n->media[1]);
	has_u64(&r, "media_poor", n->media[2]);
	has_u64(&r, "media_bad", n->media[3]);
	cluster_rec_clear(&r);
}
END_TEST

/* An entry written by one node is a NODE of the cluster view. */
START_TEST(test_cluster_encode_node_view)
{
	struct cluster_view_opts o = {.self_id = "n1"};
	struct cluster_fields f;
	struct cluster_rec r;
	struct cluster_buf b;
	struct cluster_json *v;
	const struct cluster_json *x;

	cluster_node_encode(&f, &node_rows[0]);
	decode(&r, "n1", &f);
	cluster_buf_init(&b);
	cluster_buf_addstr(&b, "{");
	cluster_view_nodes(&b, &r, 1, &o, 1700000002000ull);
	ck_assert_int_eq(cluster_json_parse(b.p, b.n, &v), 0);
	x = &cluster_json_get(v, "nodes")->items[0];
	ck_assert_str_eq(cluster_json_string(cluster_json_get(x, "id")), "n1");
	ck_assert(cluster_json_get(x, "self")->b);
	ck_assert(!cluster_json_get(x, "draining")->b);
	ck_assert(cluster_json_number(cluster_json_get(x, "tls_port"), 0) ==
	          5349);
	ck_assert(cluster_json_number(cluster_json_get(x, "workers"), 0) == 2);
	x = cluster_json_get(x, "media");
	ck_assert(cluster_json_number(cluster_json_get(x, "good"), 0) == 7);
	ck_assert(cluster_json_number(cluster_json_get(x, "bad"), 0) == 2);
	cluster_json_free(v);
	cluster_buf_free(&b);
	cluster_rec_clear(&r);
}
END_TEST

/* --- events ----------------------------------------------------------------
 */

START_TEST(test_cluster_encode_event_alloc_bytes)
{
	char json[2048];
	struct cluster_buf b;

	cluster_buf_fixed(&b, json, sizeof(json));
	ck_assert(cluster_event_alloc(&b, "created", &alloc_rows[0], NULL,
	                              1700000001));
	ck_assert_str_eq(
	        json,
	        "{\"event\":\"allocation.created\",\"node\":\"n1\","
	        "\"id\":\"n1-0-1\",\"realm\":\"example.org\","
	        "\"user\":\"alice\",\"transport\":\"udp\","
	        "\"client\":\"192.0.2.1:5000\","
	        "\"relay\":\"198.51.100.1:49152\",\"lifetime\":600,"
	        "\"expires\":1700000600,\"reason\":\"\",\"ts\":1700000001}");
	cluster_buf_fixed(&b, json, sizeof(json));
	ck_assert(cluster_event_alloc(&b, "deleted", &alloc_rows[1], "expired",
	                              7));
	ck_assert_str_eq(
	        json,
	        "{\"event\":\"allocation.deleted\",\"node\":\"a-b\","
	        "\"id\":\"a-b-3-18446744073709551615\",\"realm\":\"\","
	        "\"user\":\"m\xc3\xa9 \\\"<x>\\\"\",\"transport\":\"dtls\","
	        "\"client\":\"[2001:db8::1]:3478\",\"relay\":\"\","
	        "\"lifetime\":0,\"expires\":0,\"reason\":\"expired\","
	        "\"ts\":7}");
}
END_TEST

/* Long strings are cut short (799, 599, 127 bytes of literal), never left
 * open: the event still parses. */
START_TEST(test_cluster_encode_event_alloc_cuts)
{
	static char realm[1000], user[1000], reason[300];
	struct cluster_alloc_rec a = alloc_rows[0];
	struct cluster_json *v;
	struct cluster_buf b;
	char json[2048];

	memset(realm, 'r', sizeof(realm) - 1);
	memset(user, '"', sizeof(user) - 1);
	memset(reason, 'x', sizeof(reason) - 1);
	a.realm = realm;
	a.user = user;
	cluster_buf_fixed(&b, json, sizeof(json));
	ck_assert(cluster_event_alloc(&b, "refreshed", &a, reason, 1));
	ck_assert_int_eq(cluster_json_parse(b.p, b.n, &v), 0);
	ck_assert_uint_eq(cluster_json_get(v, "realm")->len, 797);
	ck_assert_uint_eq(cluster_json_get(v, "user")->len, 298);
	ck_assert_uint_eq(cluster_json_get(v, "reason")->len, 125);
	cluster_json_free(v);
	cluster_buf_fixed(&b, json, 100); /* too small: full */
	ck_assert(!cluster_event_alloc(&b, "refreshed", &a, reason, 1));
}
END_TEST

struct auth_row {
	const char *line, *want; /* want NULL: not an auth failure */
};

static const struct auth_row auth_rows[] = {
        {"auth failure: 401 user=bob from 192.0.2.1:5000",
         "{\"event\":\"auth.failure\",\"node\":\"n1\",\"worker\":2,"
         "\"detail\":\"401 user=bob from 192.0.2.1:5000\",\"ts\":99}"},
        {"auth failure: ", "{\"event\":\"auth.failure\",\"node\":\"n1\","
                           "\"worker\":2,\"detail\":\"\",\"ts\":99}"},
        {"auth failure: \"q\"\x01",
         "{\"event\":\"auth.failure\",\"node\":\"n1\",\"worker\":2,"
         "\"detail\":\"\\\"q\\\"\\u0001\",\"ts\":99}"},
        {"auth failure:", NULL},
        {"allocation created", NULL},
        {"", NULL},
};

START_TEST(test_cluster_encode_event_auth_failure)
{
	const struct auth_row *r = &auth_rows[_i];
	char json[1400] = "untouched";
	struct cluster_buf b;
	bool ok;

	cluster_buf_fixed(&b, json, sizeof(json));
	ok = cluster_event_auth_failure(&b, "n1", 2, r->line, strlen(r->line),
	                                99);
	ck_assert(ok == (r->want != NULL));
	if (r->want)
		ck_assert_str_eq(json, r->want);
	else
		ck_assert_uint_eq(b.n, 0);
}
END_TEST

/* The text is the line's first 1023 bytes (the tag included), up to a NUL. */
START_TEST(test_cluster_encode_event_auth_failure_cut)
{
	static char line[3000];
	char json[1400];
	struct cluster_buf b;
	struct cluster_json *v;

	memset(line, 'a', sizeof(line));
	memcpy(line, "auth failure: ", 14);
	cluster_buf_fixed(&b, json, sizeof(json));
	ck_assert(
	        cluster_event_auth_failure(&b, "n1", 0, line, sizeof(line), 1));
	ck_assert_int_eq(cluster_json_parse(b.p, b.n, &v), 0);
	ck_assert_uint_eq(cluster_json_get(v, "detail")->len, 1023 - 14);
	cluster_json_free(v);
	line[20] = 0; /* a NUL ends the text */
	cluster_buf_fixed(&b, json, sizeof(json));
	ck_assert(
	        cluster_event_auth_failure(&b, "n1", 0, line, sizeof(line), 1));
	ck_assert_int_eq(cluster_json_parse(b.p, b.n, &v), 0);
	ck_assert_uint_eq(cluster_json_get(v, "detail")->len, 6);
	cluster_json_free(v);
}
END_TEST

static Suite *cluster_encode_suite(void)
{
	Suite *s = suite_create("cluster_encode");
	TCase *tc = tcase_create("records");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_cluster_encode_alloc_round_trip, 0,
	                    sizeof(alloc_rows) / sizeof(alloc_rows[0]));
	tcase_add_test(tc, test_cluster_encode_alloc_field_order);
	tcase_add_test(tc, test_cluster_encode_alloc_view);
	tcase_add_loop_test(tc, test_cluster_encode_node_round_trip, 0,
	                    sizeof(node_rows) / sizeof(node_rows[0]));
	tcase_add_test(tc, test_cluster_encode_node_view);
	suite_add_tcase(s, tc);

	tc = tcase_create("events");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_cluster_encode_event_alloc_bytes);
	tcase_add_test(tc, test_cluster_encode_event_alloc_cuts);
	tcase_add_loop_test(tc, test_cluster_encode_event_auth_failure, 0,
	                    sizeof(auth_rows) / sizeof(auth_rows[0]));
	tcase_add_test(tc, test_cluster_encode_event_auth_failure_cut);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cluster_encode_suite)
