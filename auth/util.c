/*
 * auth/util.c - small helpers of auth/: error strings, base64 (RFC 4648),
 * SipHash-2-4 (Aumasson and Bernstein, for the abuse tables, so that a
 * sender cannot pick addresses that collide), and the byte forms of
 * addresses that nonces and tables key on. Pure, no allocation.
 */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "auth/auth_int.h"

int auth_set_err(int rc, char *err, size_t err_len, const char *fmt, ...)
{
	if (err != NULL && err_len > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, err_len, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static const char b64_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_len(size_t n, bool pad)
{
	if (pad)
		return (n + 2) / 3 * 4;
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

void base64_encode(const uint8_t *in, size_t n, bool pad, char *out)
{
	size_t i = 0, o = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		             in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (n - i == 0)
		return;
	uint32_t v = (uint32_t)in[i] << 16;
	if (n - i == 2)
		v |= (uint32_t)in[i + 1] << 8;
	out[o++] = b64_alphabet[v >> 18];
	out[o++] = b64_alphabet[(v >> 12) & 63];
	if (n - i == 2)
		out[o++] = b64_alphabet[(v >> 6) & 63];
	else if (pad)
		out[o++] = '=';
	if (pad)
		out[o++] = '=';
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long base64_decode_nopad(const char *in, size_t len, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;

	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) /* leftover bits must be zero: one text per value */
		return -1;
	return (long)o;
}

/* --- SipHash-2-4 ------------------------------------------------------- */

static uint64_t rotl64(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t load64_le(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = rotl64(v1, 13) ^ v0;                                      \
		v0 = rotl64(v0, 32);                                           \
		v2 += v3;                                                      \
		v3 = rotl64(v3, 16) ^ v2;                                      \
		v0 += v3;                                                      \
		v3 = rotl64(v3, 21) ^ v0;                                      \
		v2 += v1;                                                      \
		v1 = rotl64(v1, 17) ^ v2;                                      \
		v2 = rotl64(v2, 32);                                           \
	} while (0)

uint64_t siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = load64_le(key), k1 = load64_le(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
	uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
	uint64_t v3 = k1 ^ 0x7465646279746573ull;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t m = load64_le(p + i);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)len << 56;
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* --- addresses --------------------------------------------------------- */

static bool is_v4mapped(const struct in6_addr *a)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0,    0,
	                                   0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a->s6_addr, prefix, sizeof(prefix)) == 0;
}

bool source_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		key[10] = 0xff;
		key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		        (const struct sockaddr_in6 *)sa;
		memcpy(key, &in6->sin6_addr, 16);
		if (!is_v4mapped(&in6->sin6_addr))
			memset(key + 8, 0, 8); /* one host: one /64 */
		return true;
	}
	return false;
}

size_t transport_bytes(const struct sockaddr *sa, uint8_t out[19])
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		out[0] = 4;
		memcpy(out + 1, &in->sin_addr, 4);
		memcpy(out + 5, &in->sin_port, 2);
		return 7;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		        (const struct sockaddr_in6 *)sa;
		if (is_v4mapped(&in6->sin6_addr)) {
			out[0] = 4;
			memcpy(out + 1, in6->sin6_addr.s6_addr + 12, 4);
			memcpy(out + 5, &in6->sin6_port, 2);
			return 7;
		}
		out[0] = 6;
		memcpy(out + 1, &in6->sin6_addr, 16);
		memcpy(out + 17, &in6->sin6_port, 2);
		return 19;
	}
	return 0;
}

size_t pow2_at_least(size_t n)
{
	size_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}
