/*
 * stun/stun_int.h - helpers shared by the files of the STUN codec; not part
 * of the public API. Big-endian accessors, attribute value rules, and the
 * HMAC used by both the builder and the checks. Pure, no allocation in our
 * code (OpenSSL allocates its own contexts).
 */
#ifndef AVEDGE_STUN_INT_H
#define AVEDGE_STUN_INT_H

#include "stun/stun.h"

/* RFC 8489 s14.3/14.9/14.14 and s14.8: longest values we process. */
#define STUN_USERNAME_MAX 509
#define STUN_TEXT_MAX     763

static inline uint16_t stun_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t stun_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static inline void stun_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void stun_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline size_t stun_pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

/* attr.c: is the type one this codec knows (so not "unknown")? */
bool stun_attr_is_known(uint16_t type);
/* attr.c: 0 when the value of a known type is well formed, else EBADMSG.
 * Unknown types are always 0. */
int stun_attr_check(uint16_t type, const uint8_t *v, size_t len);

enum stun_mac {
	STUN_MAC_SHA1,   /* 20 bytes */
	STUN_MAC_SHA256, /* 32 bytes */
};

/*
 * integrity.c: HMAC over head[0..head_len) followed by rest[0..rest_len)
 * (two pieces so a check can substitute the header's length field without
 * copying the message). Writes 20 or 32 bytes to out. 0, or ENOMEM when
 * OpenSSL fails.
 */
int stun_hmac(enum stun_mac alg, const uint8_t *key, size_t key_len,
              const uint8_t *head, size_t head_len, const uint8_t *rest,
              size_t rest_len, uint8_t *out);

#endif
