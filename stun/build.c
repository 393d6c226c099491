/*
 * stun/build.c - building STUN messages into a caller buffer (RFC 8489
 * s5, s14): header, attributes with zeroed padding, plain and XOR-coded
 * addresses, ERROR-CODE, UNKNOWN-ATTRIBUTES, MESSAGE-INTEGRITY(-SHA256)
 * and FINGERPRINT.
 *
 * The header length field always equals what has been written, so an
 * integrity attribute or FINGERPRINT covers exactly the message before it
 * with the length ending at itself. Errors are sticky in b->err and end
 * in stun_build_finish(). Pure, no allocation.
 */
#include <errno.h>
#include <string.h>

#include "stun/stun_int.h"

static void set_err(struct stun_builder *b, int err)
{
	if (!b->err)
		b->err = err;
}

/* Reserve an attribute of value length len: write its header, fix the
 * message length, zero the padding. Returns the value pointer or NULL. */
static uint8_t *reserve(struct stun_builder *b, uint16_t type, size_t len)
{
	if (b->err)
		return NULL;
	if (len > 0xFFFF) {
		set_err(b, EINVAL);
		return NULL;
	}
	size_t need = 4 + stun_pad4(len);
	if (need > b->cap - b->len ||
	    b->len - STUN_HEADER_LEN + need > 0xFFFF) {
		set_err(b, ENOSPC);
		return NULL;
	}
	uint8_t *p = b->buf + b->len;
	stun_put16(p, type);
	stun_put16(p + 2, (uint16_t)len);
	memset(p + 4 + len, 0, need - 4 - len);
	b->len += need;
	stun_put16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_LEN));
	return p + 4;
}

void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap,
                     uint16_t method, uint8_t cls, const uint8_t *tid)
{
	if (!b)
		return;
	*b = (struct stun_builder){.buf = buf, .cap = cap, .tid = tid};
	if (!buf || !tid || method > 0xFFF || cls > 3) {
		b->err = EINVAL;
		return;
	}
	if (cap < STUN_HEADER_LEN) {
		b->err = ENOSPC;
		return;
	}
	/* s5: M11..M7 C1 M6..M4 C0 M3..M0 */
	uint16_t type =
	        (uint16_t)((method & 0x000F) | ((method & 0x0070) << 1) |
	                   ((method & 0x0F80) << 2) | ((cls & 1) << 4) |
	                   ((cls & 2) << 7));
	stun_put16(buf, type);
	stun_put16(buf + 2, 0);
	stun_put32(buf + 4, STUN_MAGIC_COOKIE);
	memcpy(buf + 8, tid, STUN_TID_LEN);
	b->len = STUN_HEADER_LEN;
}

void stun_build_attr(struct stun_builder *b, uint16_t type, const void *value,
                     size_t len)
{
	if (!b)
		return;
	if (!value && len) {
		set_err(b, EINVAL);
		return;
	}
	uint8_t *v = reserve(b, type, len);
	if (v && len)
		memcpy(v, value, len);
}

void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v)
{
	uint8_t val[4];

	stun_put32(val, v);
	stun_build_attr(b, type, val, sizeof(val));
}

/* Address value (s14.1); xor: code it as s14.2 with the header's own
 * cookie and transaction id. */
static void put_addr(struct stun_builder *b, uint16_t type,
                     const struct sockaddr *sa, bool xor)
{
	uint8_t val[20];
	size_t n;
	uint16_t port;

	if (!b)
		return;
	if (!sa) {
		set_err(b, EINVAL);
		return;
	}
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		n = 4;
		port = ntohs(sin->sin_port);
		memcpy(val + 4, &sin->sin_addr, 4);
		val[1] = STUN_FAMILY_IPV4;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		n = 16;
		port = ntohs(s6->sin6_port);
		memcpy(val + 4, &s6->sin6_addr, 16);
		val[1] = STUN_FAMILY_IPV6;
	} else {
		set_err(b, EINVAL);
		return;
	}
	if (xor&&!b->err) {
		port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
		for (size_t i = 0; i < n; i++)
			val[4 + i] ^= b->buf[4 + i]; /* cookie || tid */
	}
	val[0] = 0;
	stun_put16(val + 2, port);
	stun_build_attr(b, type, val, 4 + n);
}

void stun_build_addr(struct stun_builder *b, uint16_t type,
                     const struct sockaddr *sa)
{
	put_addr(b, type, sa, false);
}

void stun_build_xor_addr(struct stun_builder *b, uint16_t type,
                         const struct sockaddr *sa)
{
	put_addr(b, type, sa, true);
}

void stun_build_error(struct stun_builder *b, uint16_t code, const char *reason)
{
	if (!b)
		return;
	if (code < 300 || code > 699) {
		set_err(b, EINVAL);
		return;
	}
	if (!reason)
		reason = stun_error_reason(code);
	size_t rlen = strlen(reason);
	if (rlen > STUN_TEXT_MAX) { /* the parser would refuse it */
		set_err(b, EINVAL);
		return;
	}
	uint8_t *v = reserve(b, STUN_ATTR_ERROR_CODE, 4 + rlen);
	if (!v)
		return;
	v[0] = 0;
	v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, rlen);
}

void stun_build_unknown(struct stun_builder *b, const uint16_t *types, size_t n)
{
	if (!b)
		return;
	if (!types && n) {
		set_err(b, EINVAL);
		return;
	}
	uint8_t *v = reserve(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n);
	for (size_t i = 0; v && i < n; i++)
		stun_put16(v + 2 * i, types[i]);
}

/* An HMAC attribute over everything before it: reserve() has already set
 * the length field to end at this attribute, as s14.5/14.6 want. */
static void put_mac(struct stun_builder *b, uint16_t type, enum stun_mac alg,
                    size_t mac_len, const uint8_t *key, size_t key_len)
{
	if (!b)
		return;
	if (!key && key_len) {
		set_err(b, EINVAL);
		return;
	}
	uint8_t *v = reserve(b, type, mac_len);
	if (!v)
		return;
	size_t covered = (size_t)(v - 4 - b->buf);
	if (stun_hmac(alg, key, key_len, b->buf, covered, NULL, 0, v))
		set_err(b, ENOMEM);
}

void stun_build_integrity(struct stun_builder *b, const uint8_t *key,
                          size_t key_len)
{
	put_mac(b, STUN_ATTR_MESSAGE_INTEGRITY, STUN_MAC_SHA1, 20, key,
	        key_len);
}

void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key,
                                 size_t key_len)
{
	put_mac(b, STUN_ATTR_MESSAGE_INTEGRITY_SHA256, STUN_MAC_SHA256, 32, key,
	        key_len);
}

void stun_build_fingerprint(struct stun_builder *b)
{
	if (!b)
		return;
	uint8_t *v = reserve(b, STUN_ATTR_FINGERPRINT, 4);
	if (!v)
		return;
	size_t covered = (size_t)(v - 4 - b->buf);
	stun_put32(v, stun_crc32(b->buf, covered) ^ STUN_FINGERPRINT_XOR);
}

size_t stun_build_finish(struct stun_builder *b)
{
	if (!b)
		return 0;
	return b->err ? 0 : b->len;
}
