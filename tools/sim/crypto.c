/*
 * tools/sim/crypto.c - OpenSSL 3 crypto for libsrtp2, plugged in with its
 * public replace API (srtp_replace_cipher_type, srtp_replace_auth_type).
 *
 * Why: Debian 12's libsrtp2 2.5.0 is built against NSS, which creates a
 * PK11 context (malloc, a global lock, futex wake-ups between the MCU and
 * viewer threads) for every packet; that was most of edge-sim's CPU.
 * These types keep one OpenSSL context per libsrtp cipher or auth object,
 * keyed once by init; a packet only sets an IV or restarts the MAC.
 * libsrtp2 still does the SRTP framing, key derivation, replay and
 * authentication checks; only the primitives are ours:
 *   SRTP_AES_ICM_128  AES-128 counter mode (RFC 3711 s4.1.1), also the KDF
 *   SRTP_HMAC_SHA1    HMAC-SHA1 (RFC 2104), tag truncated to out_len
 *   SRTP_AES_GCM_128  AES-128-GCM (RFC 7714), tag 8 or 16 bytes
 * Each type carries known-answer vectors (RFC 3711 B.2, RFC 2202, the
 * McGrew-Viega GCM test case 4), which the replace call runs along with
 * the vectors of the type it replaces. A cipher or auth object is one
 * allocation owned by libsrtp (freed by dealloc); nothing is allocated
 * per packet here (OpenSSL's HMAC restart copies a digest context).
 */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <srtp2/auth.h>
#include <srtp2/cipher.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim/sim.h"

#define SHA1_LEN 20
#define GCM_IV   12

/* A libsrtp cipher object and its state in one allocation. */
struct sim_cipher {
	srtp_cipher_t c; /* first: libsrtp frees what alloc returned */
	EVP_CIPHER_CTX *ctx;
	uint8_t salt[16]; /* ICM: 14-byte salt, last two bytes zero */
	int tag_len;      /* GCM */
	int enc;          /* GCM: direction of the current packet */
};

struct sim_auth {
	srtp_auth_t a;
	EVP_MAC_CTX *ctx;
};

static EVP_MAC *hmac_mac;

static const srtp_cipher_type_t icm_type, gcm_type;
static const srtp_auth_type_t hmac_type;

static srtp_err_status_t cipher_new(srtp_cipher_t **out,
                                    const srtp_cipher_type_t *type, int alg,
                                    int key_len, int tag_len)
{
	struct sim_cipher *s = calloc(1, sizeof(*s));

	if (!s)
		return srtp_err_status_alloc_fail;
	s->ctx = EVP_CIPHER_CTX_new();
	if (!s->ctx) {
		free(s);
		return srtp_err_status_alloc_fail;
	}
	s->c.type = type;
	s->c.state = s;
	s->c.key_len = key_len;
	s->c.algorithm = alg; /* srtp.c tells ICM from GCM by this */
	s->tag_len = tag_len;
	*out = &s->c;
	return srtp_err_status_ok;
}

static srtp_err_status_t cipher_dealloc(srtp_cipher_t *c)
{
	struct sim_cipher *s = (struct sim_cipher *)c;

	if (!s)
		return srtp_err_status_bad_param;
	EVP_CIPHER_CTX_free(s->ctx);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
	return srtp_err_status_ok;
}

/*
 * AES-ICM. libsrtp's counter is the low 16 bits of the block; OpenSSL's
 * CTR counts over all 128, so the two agree while a packet stays under
 * 2^16 blocks (1 MiB), which every SRTP packet and KDF output does.
 */
static srtp_err_status_t icm_alloc(srtp_cipher_t **c, int key_len, int tlen)
{
	(void)tlen;
	if (key_len != SRTP_AES_ICM_128_KEY_LEN_WSALT)
		return srtp_err_status_bad_param;
	return cipher_new(c, &icm_type, SRTP_AES_ICM_128, key_len, 0);
}

/* key = 16-byte AES key then the 14-byte salt. */
static srtp_err_status_t icm_init(void *state, const uint8_t *key)
{
	struct sim_cipher *s = state;

	memset(s->salt, 0, sizeof(s->salt));
	memcpy(s->salt, key + SRTP_AES_128_KEY_LEN, SRTP_SALT_LEN);
	if (!EVP_EncryptInit_ex(s->ctx, EVP_aes_128_ctr(), NULL, key, NULL))
		return srtp_err_status_init_fail;
	return srtp_err_status_ok;
}

/* iv: 16 bytes; the counter block is salt XOR iv. */
static srtp_err_status_t icm_set_iv(void *state, uint8_t *iv,
                                    srtp_cipher_direction_t dir)
{
	struct sim_cipher *s = state;
	uint8_t ctr[16];

	(void)dir;
	for (int i = 0; i < 16; i++)
		ctr[i] = s->salt[i] ^ iv[i];
	if (!EVP_EncryptInit_ex(s->ctx, NULL, NULL, NULL, ctr))
		return srtp_err_status_cipher_fail;
	return srtp_err_status_ok;
}

/* Encrypt and decrypt alike: XOR the keystream in place. */
static srtp_err_status_t icm_crypt(void *state, uint8_t *buf, unsigned *len)
{
	struct sim_cipher *s = state;
	int n = 0;

	if (*len > 0x7fffffffu)
		return srtp_err_status_bad_param;
	if (!EVP_EncryptUpdate(s->ctx, buf, &n, buf, (int)*len) ||
	    (unsigned)n != *len)
		return srtp_err_status_cipher_fail;
	return srtp_err_status_ok;
}

/* AES-GCM: key = 16-byte AES key then the 12-byte salt, which srtp.c
 * folds into the IV itself (RFC 7714 s8.1), so init uses the key only. */
static srtp_err_status_t gcm_alloc(srtp_cipher_t **c, int key_len, int tlen)
{
	if (key_len != SRTP_AES_GCM_128_KEY_LEN_WSALT ||
	    (tlen != 8 && tlen != 16))
		return srtp_err_status_bad_param;
	return cipher_new(c, &gcm_type, SRTP_AES_GCM_128, key_len, tlen);
}

static srtp_err_status_t gcm_init(void *state, const uint8_t *key)
{
	struct sim_cipher *s = state;

	if (!EVP_CipherInit_ex(s->ctx, EVP_aes_128_gcm(), NULL, key, NULL, 1))
		return srtp_err_status_init_fail;
	return srtp_err_status_ok;
}

/* iv: 12 bytes. Starts one packet in the given direction. */
static srtp_err_status_t gcm_set_iv(void *state, uint8_t *iv,
                                    srtp_cipher_direction_t dir)
{
	struct sim_cipher *s = state;

	if (dir != srtp_direction_encrypt && dir != srtp_direction_decrypt)
		return srtp_err_status_bad_param;
	s->enc = dir == srtp_direction_encrypt;
	if (!EVP_CipherInit_ex(s->ctx, NULL, NULL, NULL, iv, s->enc))
		return srtp_err_status_init_fail;
	return srtp_err_status_ok;
}

/* May be called more than once per packet (SRTCP: header, then index). */
static srtp_err_status_t gcm_set_aad(void *state, const uint8_t *aad,
                                     uint32_t len)
{
	struct sim_cipher *s = state;
	int n = 0;

	if (len > 0x7fffffffu ||
	    !EVP_CipherUpdate(s->ctx, NULL, &n, aad, (int)len))
		return srtp_err_status_algo_fail;
	return srtp_err_status_ok;
}

static srtp_err_status_t gcm_encrypt(void *state, uint8_t *buf, unsigned *len)
{
	struct sim_cipher *s = state;
	int n = 0;

	if (!s->enc || *len > 0x7fffffffu ||
	    !EVP_CipherUpdate(s->ctx, buf, &n, buf, (int)*len))
		return srtp_err_status_cipher_fail;
	return srtp_err_status_ok;
}

/* After gcm_encrypt: the tag_len-byte tag into tag, its length in *len. */
static srtp_err_status_t gcm_get_tag(void *state, uint8_t *tag, uint32_t *len)
{
	struct sim_cipher *s = state;
	int n = 0;

	if (!EVP_CipherFinal_ex(s->ctx, tag, &n) ||
	    !EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, s->tag_len, tag))
		return srtp_err_status_algo_fail;
	*len = (uint32_t)s->tag_len;
	return srtp_err_status_ok;
}

/* buf holds ciphertext then tag; *len counts both and becomes the
 * plaintext length. A tag that does not match: auth_fail. */
static srtp_err_status_t gcm_decrypt(void *state, uint8_t *buf, unsigned *len)
{
	struct sim_cipher *s = state;
	int n = 0, fin = 0;
	unsigned body;

	if (s->enc || *len > 0x7fffffffu)
		return srtp_err_status_cipher_fail;
	if (*len < (unsigned)s->tag_len)
		return srtp_err_status_auth_fail;
	body = *len - (unsigned)s->tag_len;
	if (!EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, s->tag_len,
	                         buf + body) ||
	    !EVP_CipherUpdate(s->ctx, buf, &n, buf, (int)body))
		return srtp_err_status_cipher_fail;
	if (EVP_CipherFinal_ex(s->ctx, buf + n, &fin) <= 0)
		return srtp_err_status_auth_fail;
	*len = body;
	return srtp_err_status_ok;
}

/* HMAC-SHA1: key_len and out_len at most 20 bytes. */
static srtp_err_status_t hmac_alloc(srtp_auth_t **out, int key_len, int out_len)
{
	struct sim_auth *h;

	if (key_len < 0 || key_len > SHA1_LEN || out_len < 0 ||
	    out_len > SHA1_LEN)
		return srtp_err_status_bad_param;
	h = calloc(1, sizeof(*h));
	if (!h)
		return srtp_err_status_alloc_fail;
	h->ctx = EVP_MAC_CTX_new(hmac_mac);
	if (!h->ctx) {
		free(h);
		return srtp_err_status_alloc_fail;
	}
	h->a.type = &hmac_type;
	h->a.state = h;
	h->a.key_len = key_len;
	h->a.out_len = out_len;
	h->a.prefix_len = 0;
	*out = &h->a;
	return srtp_err_status_ok;
}

static srtp_err_status_t hmac_dealloc(srtp_auth_t *a)
{
	struct sim_auth *h = (struct sim_auth *)a;

	if (!h)
		return srtp_err_status_bad_param;
	EVP_MAC_CTX_free(h->ctx);
	OPENSSL_cleanse(h, sizeof(*h));
	free(h);
	return srtp_err_status_ok;
}

static srtp_err_status_t hmac_init(void *state, const uint8_t *key, int key_len)
{
	struct sim_auth *h = state;
	static const uint8_t empty[1];
	OSSL_PARAM p[] = {
	        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA1",
	                                         0),
	        OSSL_PARAM_construct_end(),
	};

	if (!EVP_MAC_init(h->ctx, key_len ? key : empty, (size_t)key_len, p))
		return srtp_err_status_init_fail;
	return srtp_err_status_ok;
}

/* A new message under the key init set (a NULL key keeps it). */
static srtp_err_status_t hmac_start(void *state)
{
	struct sim_auth *h = state;

	return EVP_MAC_init(h->ctx, NULL, 0, NULL) ? srtp_err_status_ok
	                                           : srtp_err_status_auth_fail;
}

static srtp_err_status_t hmac_update(void *state, const uint8_t *buf, int len)
{
	struct sim_auth *h = state;

	if (len < 0 || !EVP_MAC_update(h->ctx, buf, (size_t)len))
		return srtp_err_status_auth_fail;
	return srtp_err_status_ok;
}

/* The last buf of the message; the first tag_len bytes of the MAC. */
static srtp_err_status_t hmac_compute(void *state, const uint8_t *buf, int len,
                                      int tag_len, uint8_t *tag)
{
	struct sim_auth *h = state;
	uint8_t mac[EVP_MAX_MD_SIZE];
	size_t n = 0;

	if (tag_len < 0 || tag_len > SHA1_LEN || hmac_update(state, buf, len) ||
	    !EVP_MAC_final(h->ctx, mac, &n, sizeof(mac)) || n != SHA1_LEN)
		return srtp_err_status_auth_fail;
	memcpy(tag, mac, (size_t)tag_len);
	return srtp_err_status_ok;
}

/* RFC 3711 B.2: AES-CM keystream, key 2B7E..., salt F0F1...FD, index 0. */
static const uint8_t icm_key[30] = {
        0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7,
        0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c, 0xf0, 0xf1, 0xf2, 0xf3,
        0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd,
};
static uint8_t icm_iv[16];
static const uint8_t icm_zero[48];
static const uint8_t icm_stream[48] = {
        0xe0, 0x3e, 0xad, 0x09, 0x35, 0xc9, 0x5e, 0x80, 0xe1, 0x66, 0xb1, 0x6d,
        0xd9, 0x2b, 0x4e, 0xb4, 0xd2, 0x35, 0x13, 0x16, 0x2b, 0x02, 0xd0, 0xf7,
        0x2a, 0x43, 0xa2, 0xfe, 0x4a, 0x5f, 0x97, 0xab, 0x41, 0xe9, 0x5b, 0x3b,
        0xb0, 0xa2, 0xe8, 0xdd, 0x47, 0x79, 0x01, 0xe4, 0xfc, 0xa8, 0x94, 0xc0,
};
static const srtp_cipher_test_case_t icm_test = {
        .key_length_octets = sizeof(icm_key),
        .key = icm_key,
        .idx = icm_iv,
        .plaintext_length_octets = sizeof(icm_zero),
        .plaintext = icm_zero,
        .ciphertext_length_octets = sizeof(icm_stream),
        .ciphertext = icm_stream,
};

/* RFC 2202 s3, HMAC-SHA1 test cases 2 and 1. */
static const uint8_t hmac_key1[20] = {
        0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
        0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
};
static const uint8_t hmac_tag1[20] = {
        0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72, 0x64, 0xe2, 0x8b,
        0xc0, 0xb6, 0xfb, 0x37, 0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00,
};
static const uint8_t hmac_tag2[20] = {
        0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
        0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79,
};
static const srtp_auth_test_case_t hmac_test1 = {
        .key_length_octets = 20,
        .key = hmac_key1,
        .data_length_octets = 8,
        .data = (const uint8_t *)"Hi There",
        .tag_length_octets = 20,
        .tag = hmac_tag1,
};
static const srtp_auth_test_case_t hmac_test2 = {
        .key_length_octets = 4,
        .key = (const uint8_t *)"Jefe",
        .data_length_octets = 28,
        .data = (const uint8_t *)"what do ya want for nothing?",
        .tag_length_octets = 20,
        .tag = hmac_tag2,
        .next_test_case = &hmac_test1,
};

/* The GCM spec's (McGrew-Viega) test case 4, as in libsrtp: 16- and
 * 8-byte tags. */
static const uint8_t gcm_key[28] = {
        0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a,
        0x8f, 0x94, 0x67, 0x30, 0x83, 0x08, 0x01, 0x02, 0x03, 0x04,
        0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
};
static uint8_t gcm_iv[12] = {
        0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce, 0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88,
};
static const uint8_t gcm_plain[60] = {
        0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5, 0xa5, 0x59, 0x09, 0xc5,
        0xaf, 0xf5, 0x26, 0x9a, 0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda,
        0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31, 0x8a, 0x72, 0x1c, 0x3c, 0x0c, 0x95,
        0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49, 0xa6, 0xb5, 0x25,
        0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39,
};
static const uint8_t gcm_aad[20] = {
        0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed,
        0xfa, 0xce, 0xde, 0xad, 0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2,
};
static const uint8_t gcm_cipher[76] = {
        0x42,
        0x83,
        0x1e,
        0xc2,
        0x21,
        0x77,
        0x74,
        0x24,
        0x4b,
        0x72,
        0x21,
        0xb7,
        0x84,
        0xd0,
        0xd4,
        0x9c,
        0xe3,
        0xaa,
        0x21,
        0x2f,
        0x2c,
        0x02,
        0xa4,
        0xe0,
        0x35,
        0xc1,
        0x7e,
        0x23,
        0x29,
        0xac,
        0xa1,
        0x2e,
        0x21,
        0xd5,
        0x14,
        0xb2,
        0x54,
        0x66,
        0x93,
        0x1c,
        0x7d,
        0x8f,
        0x6a,
        0x5a,
        0xac,
        0x84,
        0xaa,
        0x05,
        0x1b,
        0xa3,
        0x0b,
        0x39,
        0x6a,
        0x0a,
        0xac,
        0x97,
        0x3d,
        0x58,
        0xe0,
        0x91,
        /* tag */
        0x5b,
        0xc9,
        0x4f,
        0xbc,
        0x32,
        0x21,
        0xa5,
        0xdb,
        0x94,
        0xfa,
        0xe9,
        0x5a,
        0xe7,
        0x12,
        0x1a,
        0x47,
};
static const srtp_cipher_test_case_t gcm_test8 = {
        .key_length_octets = sizeof(gcm_key),
        .key = gcm_key,
        .idx = gcm_iv,
        .plaintext_length_octets = sizeof(gcm_plain),
        .plaintext = gcm_plain,
        .ciphertext_length_octets = sizeof(gcm_plain) + 8,
        .ciphertext = gcm_cipher, /* the first 8 bytes of the tag */
        .aad_length_octets = sizeof(gcm_aad),
        .aad = gcm_aad,
        .tag_length_octets = 8,
};
static const srtp_cipher_test_case_t gcm_test16 = {
        .key_length_octets = sizeof(gcm_key),
        .key = gcm_key,
        .idx = gcm_iv,
        .plaintext_length_octets = sizeof(gcm_plain),
        .plaintext = gcm_plain,
        .ciphertext_length_octets = sizeof(gcm_cipher),
        .ciphertext = gcm_cipher,
        .aad_length_octets = sizeof(gcm_aad),
        .aad = gcm_aad,
        .tag_length_octets = 16,
        .next_test_case = &gcm_test8,
};

static const srtp_cipher_type_t icm_type = {
        .alloc = icm_alloc,
        .dealloc = cipher_dealloc,
        .init = icm_init,
        .encrypt = icm_crypt,
        .decrypt = icm_crypt,
        .set_iv = icm_set_iv,
        .description = "AES-128 counter mode (edge-sim, OpenSSL)",
        .test_data = &icm_test,
        .id = SRTP_AES_ICM_128,
};

static const srtp_cipher_type_t gcm_type = {
        .alloc = gcm_alloc,
        .dealloc = cipher_dealloc,
        .init = gcm_init,
        .set_aad = gcm_set_aad,
        .encrypt = gcm_encrypt,
        .decrypt = gcm_decrypt,
        .set_iv = gcm_set_iv,
        .get_tag = gcm_get_tag,
        .description = "AES-128 GCM (edge-sim, OpenSSL)",
        .test_data = &gcm_test16,
        .id = SRTP_AES_GCM_128,
};

static const srtp_auth_type_t hmac_type = {
        .alloc = hmac_alloc,
        .dealloc = hmac_dealloc,
        .init = hmac_init,
        .compute = hmac_compute,
        .update = hmac_update,
        .start = hmac_start,
        .description = "HMAC-SHA1 (edge-sim, OpenSSL)",
        .test_data = &hmac_test2,
        .id = SRTP_HMAC_SHA1,
};

int sim_crypto_register(void)
{
	if (!hmac_mac)
		hmac_mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	if (!hmac_mac)
		return EIO;
	if (srtp_replace_cipher_type(&icm_type, SRTP_AES_ICM_128) ||
	    srtp_replace_cipher_type(&gcm_type, SRTP_AES_GCM_128) ||
	    srtp_replace_auth_type(&hmac_type, SRTP_HMAC_SHA1))
		return EIO;
	return 0;
}
