/*
 * tests/fuzz/fuzz_json.c - libFuzzer target for the one JSON reader and
 * writer (cluster/json.c). Each input is parsed as a JSON text; every
 * string of the tree is written back with the writer, which must give
 * JSON the reader takes, and the same string again when it was valid
 * UTF-8 without NUL. The input is also read as an admin API request body
 * (cluster_json_fields, the network-facing use) and written into a small
 * fixed buffer, which must still close its literal. Seeds:
 * tests/fuzz/corpus/json.
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

static bool clean_utf8(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t k;
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (!(k = cluster_utf8_len((const unsigned char *)s + i,
		                           len - i)))
			return false;
		i += k;
	}
	return true;
}

static void round_trip(const char *s, size_t len, unsigned flags)
{
	struct cluster_buf b;
	struct cluster_json *v;
	char small[24];

	cluster_buf_init(&b);
	cluster_json_quote(&b, s, flags);
	if (b.full) {
		cluster_buf_free(&b);
		return; /* out of memory */
	}
	REQUIRE(cluster_json_parse(b.p, b.n, &v) == 0);
	REQUIRE(v->type == CLUSTER_JSTR);
	if (clean_utf8(s, len))
		REQUIRE(v->len == len && memcmp(v->s, s, len) == 0);
	cluster_json_free(v);
	cluster_buf_free(&b);

	cluster_buf_fixed(&b, small, sizeof(small));
	cluster_json_quote(&b, s, flags);
	REQUIRE(b.n < sizeof(small) && small[b.n] == 0);
	REQUIRE(cluster_json_parse(b.p, b.n, &v) == 0);
	cluster_json_free(v);
}

static void walk(const struct cluster_json *v, int depth)
{
	REQUIRE(depth <= CLUSTER_JSON_DEPTH_MAX + 1);
	if (v->type == CLUSTER_JSTR) {
		round_trip(v->s, v->len, 0);
		round_trip(v->s, v->len, CLUSTER_JSON_HTML);
	}
	for (size_t i = 0; i < v->n; i++) {
		if (v->keys)
			round_trip(v->keys[i], strlen(v->keys[i]), 0);
		walk(&v->items[i], depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct cluster_json *v;
	struct cluster_json_field f[3] = {
	        {.key = "name"}, {.key = "password"}, {.key = "key"}};

	if (cluster_json_parse(text, size, &v) == 0) {
		walk(v, 0);
		cluster_json_free(v);
	}
	if (cluster_json_fields(text, size, f, 3, 1023) == 0) {
		for (int i = 0; i < 3; i++)
			REQUIRE(!f[i].val || (f[i].len <= 1023 &&
			                      strlen(f[i].val) == f[i].len));
		cluster_json_fields_free(f, 3);
	} else {
		for (int i = 0; i < 3; i++)
			REQUIRE(!f[i].val);
	}
	return 0;
}
