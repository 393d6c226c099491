/*
 * tests/fuzz/fuzz_stun.c - libFuzzer target for the STUN codec. Each input
 * is tried as a datagram (STUN and ChannelData), as a stream cut into
 * frames, and as credentials. Every attribute of a parsed message is
 * decoded, integrity is checked with a fixed key, and the message is
 * rebuilt from its attributes: the rebuild must parse and verify, or the
 * target traps. Seeds: tests/fuzz/corpus/stun (tests/fuzz/make-corpus.py).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stun/stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[] = "fuzz key";
static uint8_t out[STUN_HEADER_LEN + 65536];

#define REQUIRE(c)                                                             \
	do {                                                                   \
		if (!(c))                                                      \
			__builtin_trap();                                      \
	} while (0)

static bool is_integrity(uint16_t t)
{
	return t == STUN_ATTR_MESSAGE_INTEGRITY ||
	       t == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
	       t == STUN_ATTR_FINGERPRINT;
}

static void decode_all(const struct stun_msg *m)
{
	struct sockaddr_storage ss;
	uint16_t code;
	const char *reason;
	size_t rlen;
	uint32_t v;

	for (size_t i = 0; i < m->nattrs; i++) {
		const struct stun_attr *a = &m->attrs[i];
		REQUIRE(a->value >= m->buf + STUN_HEADER_LEN + 4);
		REQUIRE(a->value + a->len <= m->buf + m->len);
		(void)stun_attr_get_addr(a, &ss);
		(void)stun_attr_get_xor_addr(a, m, &ss);
		(void)stun_msg_get_u32(m, a->type, &v);
		REQUIRE(stun_msg_find(m, a->type) != NULL);
	}
	if (stun_msg_get_error(m, &code, &reason, &rlen) == 0)
		REQUIRE(code >= 300 && code <= 699);
	(void)stun_check_integrity(m, key, sizeof(key));
	(void)stun_check_integrity_sha256(m, key, sizeof(key));
	REQUIRE(stun_check_fingerprint(m) != EACCES); /* parse checked it */
}

/* Rebuild with the same attributes and fresh integrity: it must parse
 * and verify. */
static void rebuild(const struct stun_msg *m)
{
	struct stun_builder b;
	struct stun_msg again;
	size_t kept = 0;

	if (m->rfc3489)
		return;
	stun_build_init(&b, out, sizeof(out), m->method, m->cls, m->tid);
	for (size_t i = 0; i < m->nattrs && kept < STUN_MAX_ATTRS - 3; i++) {
		const struct stun_attr *a = &m->attrs[i];
		if (is_integrity(a->type))
			continue;
		stun_build_attr(&b, a->type, a->value, a->len);
		kept++;
	}
	stun_build_integrity(&b, key, sizeof(key));
	stun_build_integrity_sha256(&b, key, sizeof(key));
	stun_build_fingerprint(&b);
	size_t len = stun_build_finish(&b);
	if (len == 0)
		return; /* too long once integrity is added */
	REQUIRE(stun_msg_parse(&again, out, len, NULL) == 0);
	REQUIRE(again.method == m->method && again.cls == m->cls);
	REQUIRE(again.nattrs == kept + 3);
	REQUIRE(stun_check_integrity(&again, key, sizeof(key)) == 0);
	REQUIRE(stun_check_integrity_sha256(&again, key, sizeof(key)) == 0);
	REQUIRE(stun_check_fingerprint(&again) == 0);
}

static void one_frame(const uint8_t *f, size_t len)
{
	struct stun_msg m;
	struct stun_chandata cd;

	if (stun_msg_parse(&m, f, len, NULL) == 0) {
		decode_all(&m);
		rebuild(&m);
	}
	if (stun_chandata_parse(&cd, f, len, NULL) == 0)
		REQUIRE(cd.data + cd.len <= f + len);
}

static void as_stream(const uint8_t *data, size_t size)
{
	size_t off = 0, n = 0;

	while (stun_frame_len(data + off, size - off, 4096, &n, NULL) == 0) {
		REQUIRE(n >= 4 && n <= 4096);
		if (n > size - off)
			break;
		one_frame(data + off, n);
		off += n;
	}
}

static void as_credentials(const uint8_t *data, size_t size)
{
	uint8_t k[STUN_KEY_MAX], uh[32];
	size_t klen = 0, third = size / 3;
	const char *s = (const char *)data;

	(void)stun_opaque_string(s, size);
	if (stun_long_term_key(STUN_PW_ALG_SHA256, s, third, s + third, third,
	                       s + 2 * third, size - 2 * third, k, &klen) == 0)
		REQUIRE(klen == 32);
	stun_userhash(s, third, s + third, size - third, uh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)stun_demux(data, size);
	one_frame(data, size);
	as_stream(data, size);
	as_credentials(data, size);
	return 0;
}
