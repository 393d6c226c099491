/*
 * tests/unit/test_sim_crypto.c - edge-sim's OpenSSL crypto for libsrtp2
 * (tools/sim/crypto.c) against libsrtp2's own (NSS on Debian 12).
 * edge-sim's MCU and viewers share one process and so one implementation:
 * a wrong cipher would still round-trip there. Here each test first
 * protects RTP and RTCP packets with libsrtp2's built-in types, then
 * registers ours and requires the same bytes, unprotects the built-in
 * output with ours, and rejects a flipped bit. Each test starts and ends
 * libsrtp (srtp_shutdown) so the built-in types are back for the next.
 */
#include <srtp2/srtp.h>
#include <string.h>

#include "tests/unit/check_main.h"
#include "tools/sim/sim.h"

#define NPKT 6
#define BUF  (1500 + SRTP_MAX_TRAILER_LEN)

static const int payload_len[NPKT] = {0, 1, 15, 16, 200, 1430};

struct pkts {
	uint8_t b[NPKT + 1][BUF]; /* NPKT RTP, then one RTCP */
	int len[NPKT + 1];
};

static void key_fill(uint8_t *key)
{
	for (int i = 0; i < 30; i++)
		key[i] = (uint8_t)(0x31 * i + 7);
}

static srtp_t session(bool gcm, bool outbound)
{
	uint8_t key[30];
	srtp_policy_t p;
	srtp_t s = NULL;

	key_fill(key);
	memset(&p, 0, sizeof(p));
	if (gcm) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
	}
	p.ssrc.type = outbound ? ssrc_any_outbound : ssrc_any_inbound;
	p.key = key;
	p.window_size = 1024;
	ck_assert_int_eq(srtp_create(&s, &p), srtp_err_status_ok);
	return s;
}

/* RTP: V=2, PT 127, seq 1000+i, ts, SSRC 0x4d000001, patterned payload;
 * RTCP: an empty sender report of the same SSRC. */
static void plain(struct pkts *p)
{
	static const uint8_t sr[28] = {0x80, 0xc8, 0x00, 0x06, 0x4d, 0x00, 0x00,
	                               0x01, 1,    2,    3,    4,    5,    6,
	                               7,    8,    9,    10,   11,   12};

	memset(p, 0, sizeof(*p));
	for (int i = 0; i < NPKT; i++) {
		uint8_t *b = p->b[i];
		uint16_t seq = (uint16_t)(1000 + i);
		uint32_t ts = 90000u * (uint32_t)i;

		b[0] = 0x80;
		b[1] = 127;
		b[2] = (uint8_t)(seq >> 8);
		b[3] = (uint8_t)seq;
		for (int k = 0; k < 4; k++)
			b[4 + k] = (uint8_t)(ts >> (24 - 8 * k));
		b[8] = 0x4d;
		b[11] = 1;
		for (int k = 0; k < payload_len[i]; k++)
			b[12 + k] = (uint8_t)(k * 7 + i);
		p->len[i] = 12 + payload_len[i];
	}
	memcpy(p->b[NPKT], sr, sizeof(sr));
	p->len[NPKT] = sizeof(sr);
}

static void protect_all(struct pkts *p, bool gcm)
{
	srtp_t s = session(gcm, true);

	plain(p);
	for (int i = 0; i < NPKT; i++)
		ck_assert_int_eq(srtp_protect(s, p->b[i], &p->len[i]),
		                 srtp_err_status_ok);
	ck_assert_int_eq(srtp_protect_rtcp(s, p->b[NPKT], &p->len[NPKT]),
	                 srtp_err_status_ok);
	srtp_dealloc(s);
}

/* Unprotect ref with the current types: the plain packets come back. */
static void unprotect_all(const struct pkts *ref, bool gcm)
{
	static struct pkts want, got;
	srtp_t s = session(gcm, false);

	plain(&want);
	memcpy(&got, ref, sizeof(got));
	for (int i = 0; i <= NPKT; i++) {
		srtp_err_status_t st =
		        i < NPKT
		                ? srtp_unprotect(s, got.b[i], &got.len[i])
		                : srtp_unprotect_rtcp(s, got.b[i], &got.len[i]);
		ck_assert_int_eq(st, srtp_err_status_ok);
		ck_assert_int_eq(got.len[i], want.len[i]);
		ck_assert_mem_eq(got.b[i], want.b[i], (size_t)want.len[i]);
	}
	srtp_dealloc(s);
}

/* One flipped bit, in the payload or the tag: auth_fail. */
static void tamper(const struct pkts *ref, bool gcm)
{
	static struct pkts t;

	for (int where = 0; where < 2; where++) {
		srtp_t s = session(gcm, false);
		int i = NPKT - 1;

		memcpy(&t, ref, sizeof(t));
		t.b[i][where ? t.len[i] - 1 : 20] ^= 0x10;
		ck_assert_int_eq(srtp_unprotect(s, t.b[i], &t.len[i]),
		                 srtp_err_status_auth_fail);
		srtp_dealloc(s);
	}
}

static void same_as_builtin(bool gcm)
{
	static struct pkts ref, ours;

	ck_assert_int_eq(srtp_init(), srtp_err_status_ok);
	protect_all(&ref, gcm); /* libsrtp2's own crypto */
	ck_assert_int_eq(sim_crypto_register(), 0);
	protect_all(&ours, gcm);
	for (int i = 0; i <= NPKT; i++) {
		ck_assert_int_eq(ours.len[i], ref.len[i]);
		ck_assert_mem_eq(ours.b[i], ref.b[i], (size_t)ref.len[i]);
	}
	unprotect_all(&ref, gcm);
	tamper(&ref, gcm);
	ck_assert_int_eq(srtp_shutdown(), srtp_err_status_ok);
}

START_TEST(test_sim_crypto_cm_same_bytes_as_libsrtp)
{
	same_as_builtin(false);
}
END_TEST

START_TEST(test_sim_crypto_gcm_same_bytes_as_libsrtp)
{
	same_as_builtin(true);
}
END_TEST

static Suite *sim_suite(void)
{
	Suite *s = suite_create("sim");
	TCase *tc = tcase_create("crypto");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_sim_crypto_cm_same_bytes_as_libsrtp);
	tcase_add_test(tc, test_sim_crypto_gcm_same_bytes_as_libsrtp);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sim_suite)
