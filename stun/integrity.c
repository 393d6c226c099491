/*
 * stun/integrity.c - MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 s14.5),
 * MESSAGE-INTEGRITY-SHA256 (s14.6), FINGERPRINT (CRC-32, s14.7), long-term
 * keys (s9.2.2, s18.5), USERHASH (s14.4) and the ASCII subset of the
 * OpaqueString profile (RFC 8265 s4.2).
 *
 * Checks read a parsed view and never modify the message: the header length
 * the sender used is substituted by hashing a 4-byte copy of the header's
 * start, then the rest of the message in place. Pure; OpenSSL 3 allocates
 * its own contexts, our code allocates nothing. Thread-safe.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "stun/stun_int.h"

/* CRC-32 (ISO-HDLC, the one zlib uses), reflected, four bits at a time. */
static const uint32_t crc_nibble[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu,
        0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
        0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
        0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

uint32_t stun_crc32(const uint8_t *buf, size_t len)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++) {
		c = crc_nibble[(c ^ buf[i]) & 0x0F] ^ (c >> 4);
		c = crc_nibble[(c ^ (buf[i] >> 4)) & 0x0F] ^ (c >> 4);
	}
	return c ^ 0xFFFFFFFFu;
}

/* The HMAC implementation, fetched once per process and kept (it is
 * reference counted by OpenSSL and safe to share between threads). */
static EVP_MAC *hmac_method(void)
{
	static _Atomic(EVP_MAC *) cached;
	EVP_MAC *mac = atomic_load(&cached);

	if (mac)
		return mac;
	mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	if (!mac)
		return NULL;
	EVP_MAC *expected = NULL;
	if (!atomic_compare_exchange_strong(&cached, &expected, mac)) {
		EVP_MAC_free(mac); /* another thread won */
		mac = expected;
	}
	return mac;
}

int stun_hmac(enum stun_mac alg, const uint8_t *key, size_t key_len,
              const uint8_t *head, size_t head_len, const uint8_t *rest,
              size_t rest_len, uint8_t *out)
{
	static const uint8_t empty_key = 0; /* OpenSSL wants a non-NULL key */
	char sha1[] = "SHA1", sha256[] = "SHA256";
	size_t want = alg == STUN_MAC_SHA1 ? 20 : 32;
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_utf8_string(
	                OSSL_MAC_PARAM_DIGEST,
	                alg == STUN_MAC_SHA1 ? sha1 : sha256, 0),
	        OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = hmac_method();
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t got = 0;

	if (!ctx)
		return ENOMEM;
	int ok = EVP_MAC_init(ctx, key ? key : &empty_key, key_len, params) &&
	         EVP_MAC_update(ctx, head, head_len) &&
	         (rest_len == 0 || EVP_MAC_update(ctx, rest, rest_len)) &&
	         EVP_MAC_final(ctx, out, &got, want);
	EVP_MAC_CTX_free(ctx);
	return ok && got == want ? 0 : ENOMEM;
}

/*
 * Verify the HMAC attribute at off whose value is mac_len bytes: the
 * sender computed it over the message before the attribute with the
 * header length ending at the attribute (s14.5, s14.6), whatever follows.
 * A value shorter than the full HMAC is a truncation (s14.6).
 */
static int check_mac(const struct stun_msg *m, size_t off, enum stun_mac alg,
                     const uint8_t *key, size_t key_len)
{
	uint8_t head[4], mac[32];

	if (!m || !m->buf || (!key && key_len))
		return EINVAL;
	if (!off)
		return ENOENT;
	size_t vlen = stun_get16(m->buf + off + 2);
	memcpy(head, m->buf, 2);
	stun_put16(head + 2, (uint16_t)(off + 4 + vlen - STUN_HEADER_LEN));
	if (stun_hmac(alg, key, key_len, head, sizeof(head), m->buf + 4,
	              off - 4, mac))
		return EACCES; /* cannot verify: fail closed */
	return CRYPTO_memcmp(mac, m->buf + off + 4, vlen) ? EACCES : 0;
}

int stun_check_integrity(const struct stun_msg *m, const uint8_t *key,
                         size_t key_len)
{
	return check_mac(m, m ? m->mi_off : 0, STUN_MAC_SHA1, key, key_len);
}

int stun_check_integrity_sha256(const struct stun_msg *m, const uint8_t *key,
                                size_t key_len)
{
	return check_mac(m, m ? m->mi256_off : 0, STUN_MAC_SHA256, key,
	                 key_len);
}

int stun_check_fingerprint(const struct stun_msg *m)
{
	if (!m || !m->buf)
		return EINVAL;
	if (!m->fp_off)
		return ENOENT;
	uint32_t want = stun_get32(m->buf + m->fp_off + 4);
	uint32_t crc = stun_crc32(m->buf, m->fp_off) ^ STUN_FINGERPRINT_XOR;
	return crc == want ? 0 : EACCES;
}

int stun_opaque_string(const char *in, size_t len)
{
	if (!in || len == 0)
		return EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c < 0x20 || c > 0x7E)
			return EILSEQ;
	}
	return 0;
}

/* Digest of a ":" b ":" c (c may be absent): the shape of both the
 * long-term key and USERHASH. */
static int digest3(const EVP_MD *md, const char *a, size_t a_len, const char *b,
                   size_t b_len, const char *c, size_t c_len, uint8_t *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	if (!ctx)
		return ENOMEM;
	ok = EVP_DigestInit_ex(ctx, md, NULL) &&
	     EVP_DigestUpdate(ctx, a, a_len) && EVP_DigestUpdate(ctx, ":", 1) &&
	     EVP_DigestUpdate(ctx, b, b_len);
	if (ok && c)
		ok = EVP_DigestUpdate(ctx, ":", 1) &&
		     EVP_DigestUpdate(ctx, c, c_len);
	ok = ok && EVP_DigestFinal_ex(ctx, out, NULL);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : ENOMEM;
}

int stun_long_term_key(enum stun_pw_alg alg, const char *user, size_t user_len,
                       const char *realm, size_t realm_len,
                       const char *password, size_t password_len,
                       uint8_t key[STUN_KEY_MAX], size_t *key_len)
{
	const EVP_MD *md;
	int err;

	if ((!user && user_len) || !key || !key_len)
		return EINVAL;
	if ((err = stun_opaque_string(realm, realm_len)) ||
	    (err = stun_opaque_string(password, password_len)))
		return err;
	switch (alg) {
	case STUN_PW_ALG_MD5:
		md = EVP_md5();
		*key_len = 16;
		break;
	case STUN_PW_ALG_SHA256:
		md = EVP_sha256();
		*key_len = 32;
		break;
	default:
		return EINVAL;
	}
	err = digest3(md, user ? user : "", user_len, realm, realm_len,
	              password, password_len, key);
	if (err)
		*key_len = 0;
	return err;
}

void stun_userhash(const char *user, size_t user_len, const char *realm,
                   size_t realm_len, uint8_t out[32])
{
	if (!out)
		return;
	if ((!user && user_len) || (!realm && realm_len) ||
	    digest3(EVP_sha256(), user ? user : "", user_len,
	            realm ? realm : "", realm_len, NULL, 0, out))
		memset(out, 0, 32);
}
