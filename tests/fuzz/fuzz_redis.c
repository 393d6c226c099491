/*
 * tests/fuzz/fuzz_redis.c - libFuzzer target for the cluster records
 * (cluster/rec.c, cluster/view.c): the input is a reply as a plain array
 * of strings (elements split at NUL bytes; an element starting with 0xFF
 * stands for one that is not a string), decoded as a registry hash and as
 * an allocation record. Every view written from them must be JSON the
 * reader takes; every element is parsed as an allocation id, whose order
 * must be antisymmetric, and used as a key name. The same elements, cut
 * into registry entries at each non-string one, are a nodes script reply
 * (cluster/nodes.c): the alternate picked must be another node, and every
 * endpoint of the other nodes' list must split into an address and a
 * port. Seeds: tests/fuzz/corpus/redis.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                             \
	do {                                                                   \
		if (!(c))                                                      \
			__builtin_trap();                                      \
	} while (0)

#define ELEMS_MAX 64

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static void parses(struct cluster_buf *b)
{
	struct cluster_json *v;

	if (b->full)
		return; /* out of memory */
	REQUIRE(cluster_json_parse(b->p, b->n, &v) == 0);
	cluster_json_free(v);
	cluster_buf_free(b);
}

static void views(const struct cluster_rec *r, size_t n)
{
	struct cluster_view_opts o[2] = {
	        {.self_id = "n1", .quote_flags = CLUSTER_JSON_HTML},
	        {.updated_null = true}};
	struct cluster_buf b;

	for (int k = 0; k < 2; k++) {
		cluster_buf_init(&b);
		cluster_buf_addstr(&b, "{");
		cluster_view_nodes(&b, r, n, &o[k], 1700000000000ull);
		parses(&b);
		cluster_buf_init(&b);
		cluster_buf_addstr(&b, "{");
		cluster_view_stats(&b, r, n, &o[k], 0);
		parses(&b);
		cluster_buf_init(&b);
		cluster_buf_addstr(&b, "{");
		cluster_view_allocs(&b, r, n, n, 0, n, &o[k], UINT64_MAX);
		parses(&b);
	}
}

static void ids(char *const *e, size_t n)
{
	struct cluster_alloc_id a[ELEMS_MAX];
	char key[96];

	for (size_t i = 0; i < n; i++) {
		cluster_alloc_id_parse(&a[i], e[i] ? e[i] : "");
		REQUIRE(a[i].node_len < strlen(a[i].id) || !a[i].node_len);
		REQUIRE(cluster_alloc_id_cmp(&a[i], &a[i]) == 0);
		if (cluster_key(key, sizeof(key), CLUSTER_KEY_NODE_ALLOCS,
		                a[i].id) == 0)
			REQUIRE(strncmp(key, CLUSTER_NODE_PFX,
			                strlen(CLUSTER_NODE_PFX)) == 0);
	}
	for (size_t i = 0; i + 1 < n; i++)
		REQUIRE(sign(cluster_alloc_id_cmp(&a[i], &a[i + 1])) ==
		        -sign(cluster_alloc_id_cmp(&a[i + 1], &a[i])));
}

/* e[0..n) cut at the NULL elements into at most 8 entries. */
static void registry(const char *const *v, const size_t *lens, size_t n)
{
	struct cluster_rec h[8];
	struct cluster_alternate a;
	size_t nh = 0, start = 0;
	const char *s, *tok;
	size_t len;
	char ip[64], *all;
	uint16_t port;

	for (size_t i = 0; i <= n && nh < 8; i++) {
		if (i < n && v[i])
			continue;
		if (cluster_rec_decode(&h[nh], "", v + start, lens + start,
		                       i - start) != 0) {
			cluster_rec_clear(&h[nh]);
			break;
		}
		nh++;
		start = i + 1;
	}
	cluster_alternate_pick(h, nh, "n1", &a);
	REQUIRE(!a.id || (*a.id && strcmp(a.id, "n1") != 0));
	REQUIRE(a.v4 && a.v6 && a.tls && a.dtls && a.domain);
	cluster_port_of(a.tls);
	if ((all = cluster_peer_endpoints(h, nh, "n1"))) {
		for (s = all; cluster_endpoint_next(&s, &tok, &len);) {
			REQUIRE(len && !memchr(tok, ' ', len));
			if (cluster_endpoint_split(tok, len, ip, sizeof(ip),
			                           &port))
				REQUIRE(port && strlen(ip) < 64);
		}
		free(all);
	}
	for (size_t i = 0; i < nh; i++)
		cluster_rec_clear(&h[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *e[ELEMS_MAX];
	const char *v[ELEMS_MAX];
	size_t lens[ELEMS_MAX], n = 0, start = 0;
	struct cluster_rec r[2];

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = 0;
	for (size_t i = 0; i <= size && n < ELEMS_MAX; i++) {
		if (copy[i] != 0)
			continue;
		bool nil = i > start && (unsigned char)copy[start] == 0xFF;
		e[n] = nil ? NULL : copy + start;
		v[n] = e[n];
		lens[n] = nil ? 0 : i - start;
		n++;
		start = i + 1;
	}
	ids(e, n);
	registry(v, lens, n);
	if (cluster_rec_decode(&r[0], "n1", v, lens, n) == 0 &&
	    cluster_rec_decode(&r[1], n && v[0] ? v[0] : "", v + 1, lens + 1,
	                       n ? n - 1 : 0) == 0)
		views(r, 2);
	cluster_rec_clear(&r[0]);
	cluster_rec_clear(&r[1]);
	free(copy);
	return 0;
}
