/*
 * tools/sim/srtp.c - SRTP sessions (RFC 3711, libsrtp2) of edge-sim.
 * Each viewer has its own master key and salt per direction:
 *   HMAC-SHA256(secret, "edge-sim srtp <down|up> <viewer>")
 * truncated to the suite's key+salt length (30 bytes for
 * AES_CM_128_HMAC_SHA1_80, 28 for AEAD_AES_128_GCM), where secret is
 * --srtp-secret (default "edge-sim:<seed>") and viewer is 1-based, so
 * split MCU and viewer processes derive the same keys. A session serves
 * every SSRC of its direction (ssrc_any_*), replay window 1024.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#include "tools/sim/sim.h"

int sim_srtp_init(void)
{
	if (srtp_init() != srtp_err_status_ok)
		return EIO;
	return sim_crypto_register();
}

int sim_srtp_tag_len(const struct sim_opts *o)
{
	return o->gcm ? 16 : 10;
}

int sim_srtp_session(srtp_t *s, const struct sim_opts *o, int viewer, bool up,
                     bool outbound)
{
	uint8_t key[EVP_MAX_MD_SIZE];
	unsigned key_len = 0;
	char label[64];
	srtp_policy_t p;

	snprintf(label, sizeof(label), "edge-sim srtp %s %d",
	         up ? "up" : "down", viewer + 1);
	if (!HMAC(EVP_sha256(), o->srtp_secret, (int)strlen(o->srtp_secret),
	          (const uint8_t *)label, strlen(label), key, &key_len))
		return EIO;
	memset(&p, 0, sizeof(p));
	if (o->gcm) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
	}
	p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	p.key = key;
	p.window_size = 1024;
	p.allow_repeat_tx = 0;
	return srtp_create(s, &p) == srtp_err_status_ok ? 0 : EIO;
}
