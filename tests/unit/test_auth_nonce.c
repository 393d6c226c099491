/*
 * tests/unit/test_auth_nonce.c - stateless nonces of auth/ (RFC 8489 s9.2):
 * format and nonce cookie, expiry edges on a fake clock, binding to the
 * client's address and port, key rotation (previous key good, older key
 * stale), tampering, and malformed input.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "auth/auth.h"
#include "tests/unit/check_main.h"

#define NOW 1700000000u

static struct auth_store *store;
static struct auth_nonces *nonces;
static const struct auth_nonce_key k1 = {.id = 1, .bytes = {0x11, 0x12}};
static const struct auth_nonce_key k2 = {.id = 2, .bytes = {0x21, 0x22}};
static const struct auth_nonce_key k3 = {.id = 3, .bytes = {0x31, 0x32}};

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
	                          .sin_port = htons(port)};
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6,
	                            .sin6_port = htons(port)};
	ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
	return sin6;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void setup(void)
{
	ck_assert_int_eq(auth_store_new(&store, "example.org", NULL, 0), 0);
	ck_assert_int_eq(auth_store_add_user(store, "alice:pw", NULL, 0), 0);
	ck_assert_int_eq(auth_nonces_new(&nonces, 0, &k1), 0);
}

static void teardown(void)
{
	auth_nonces_free(nonces);
	auth_store_free(store);
}

static enum auth_nonce_status check(const char *nonce,
                                    const struct sockaddr *sa, uint64_t now)
{
	return auth_nonce_check(nonces, (const uint8_t *)nonce, strlen(nonce),
	                        sa, now);
}

START_TEST(test_auth_nonce_format)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	char nonce[AUTH_NONCE_LEN + 1];
	struct auth_nonce_info info;

	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, nonce,
	                                 sizeof(nonce)),
	                 0);
	ck_assert_uint_eq(strlen(nonce), AUTH_NONCE_LEN);
	ck_assert_uint_le(strlen(nonce), 32);
	/* Password algorithms and username anonymity: 0xC00000. */
	ck_assert_int_eq(strncmp(nonce, "obMatJos2wAAA", 13), 0);
	for (size_t i = 0; i < AUTH_NONCE_LEN; i++)
		ck_assert(nonce[i] > 0x20 && nonce[i] < 0x7f &&
		          nonce[i] != '"' && nonce[i] != '\\');
	ck_assert_int_eq(
	        auth_nonce_parse((const uint8_t *)nonce, AUTH_NONCE_LEN, &info),
	        0);
	ck_assert(info.ours);
	ck_assert_uint_eq(info.features,
	                  AUTH_FEATURE_PASSWORD_ALGORITHMS |
	                          AUTH_FEATURE_USERNAME_ANONYMITY);
	ck_assert_uint_eq(info.key_id, 1);
	ck_assert_uint_eq(info.algs, 3);
	ck_assert_uint_eq(info.expiry_s, NOW + AUTH_NONCE_LIFETIME_DEFAULT);

	/* With a REST secret: no username anonymity (0x800000). */
	ck_assert_int_eq(auth_store_add_secret(store, "s", NULL, 0), 0);
	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, nonce,
	                                 sizeof(nonce)),
	                 0);
	ck_assert_int_eq(strncmp(nonce, "obMatJos2gAAA", 13), 0);
	ck_assert_int_eq(check(nonce, SA(a), NOW), AUTH_NONCE_OK);
}
END_TEST

START_TEST(test_auth_nonce_deterministic_per_client)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000), b = v4("192.0.2.2", 5000);
	struct sockaddr_in c = v4("192.0.2.1", 5001);
	char na[33], na2[33], nb[33], nc[33];

	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, na, 33), 0);
	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, na2, 33),
	                 0);
	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(b), NOW, nb, 33), 0);
	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(c), NOW, nc, 33), 0);
	ck_assert_str_eq(na, na2);
	ck_assert_str_ne(na, nb);
	ck_assert_str_eq(na, nc); /* the port is not bound */
}
END_TEST

START_TEST(test_auth_nonce_expiry_edge)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	char nonce[AUTH_NONCE_LEN + 1];

	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, nonce,
	                                 sizeof(nonce)),
	                 0);
	ck_assert_int_eq(check(nonce, SA(a), NOW), AUTH_NONCE_OK);
	ck_assert_int_eq(check(nonce, SA(a), NOW + 599), AUTH_NONCE_OK);
	ck_assert_int_eq(check(nonce, SA(a), NOW + 600), AUTH_NONCE_OK);
	ck_assert_int_eq(check(nonce, SA(a), NOW + 601), AUTH_NONCE_STALE);
	ck_assert_str_eq(auth_nonce_status_str(AUTH_NONCE_STALE), "stale");
}
END_TEST

START_TEST(test_auth_nonce_lifetime_configurable)
{
	struct auth_nonces *n;
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	char nonce[AUTH_NONCE_LEN + 1];

	ck_assert_int_eq(auth_nonces_new(&n, 30, &k1), 0);
	ck_assert_int_eq(
	        auth_nonce_mint(n, store, SA(a), NOW, nonce, sizeof(nonce)), 0);
	ck_assert_int_eq(auth_nonce_check(n, (const uint8_t *)nonce, 32, SA(a),
	                                  NOW + 30),
	                 AUTH_NONCE_OK);
	ck_assert_int_eq(auth_nonce_check(n, (const uint8_t *)nonce, 32, SA(a),
	                                  NOW + 31),
	                 AUTH_NONCE_STALE);
	auth_nonces_free(n);
	ck_assert_int_eq(auth_nonces_new(&n, 86401, &k1), EINVAL);
	ck_assert_int_eq(auth_nonces_new(&n, 0, NULL), EINVAL);
}
END_TEST

START_TEST(test_auth_nonce_wrong_address)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	struct sockaddr_in other_ip = v4("192.0.2.9", 5000);
	struct sockaddr_in other_port = v4("192.0.2.1", 5002);
	struct sockaddr_in6 mapped = v6("::ffff:192.0.2.1", 5000);
	struct sockaddr_in6 six = v6("2001:db8::1", 5000);
	struct sockaddr_in6 six_other = v6("2001:db8::2", 5000);
	struct sockaddr unknown = {.sa_family = AF_UNIX};
	char nonce[AUTH_NONCE_LEN + 1], n6[AUTH_NONCE_LEN + 1];

	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, nonce,
	                                 sizeof(nonce)),
	                 0);
	ck_assert_int_eq(check(nonce, SA(other_ip), NOW),
	                 AUTH_NONCE_WRONG_ADDRESS);
	/* bound to the IP, not the port (a new connection keeps it) */
	ck_assert_int_eq(check(nonce, SA(other_port), NOW), AUTH_NONCE_OK);
	ck_assert_int_eq(check(nonce, SA(mapped), NOW), AUTH_NONCE_OK);
	ck_assert_int_eq(check(nonce, &unknown, NOW), AUTH_NONCE_WRONG_ADDRESS);
	ck_assert_int_eq(
	        auth_nonce_mint(nonces, store, SA(six), NOW, n6, sizeof(n6)),
	        0);
	ck_assert_int_eq(check(n6, SA(six), NOW), AUTH_NONCE_OK);
	ck_assert_int_eq(check(n6, SA(six_other), NOW),
	                 AUTH_NONCE_WRONG_ADDRESS);
	ck_assert_int_eq(check(n6, SA(a), NOW), AUTH_NONCE_WRONG_ADDRESS);
}
END_TEST

START_TEST(test_auth_nonce_rotation)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	char n1[AUTH_NONCE_LEN + 1], n2[AUTH_NONCE_LEN + 1];
	char n3[AUTH_NONCE_LEN + 1];

	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, n1, 33), 0);
	ck_assert_int_eq(auth_nonces_rotate(nonces, &k2), 0);
	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, n2, 33), 0);
	ck_assert_str_ne(n1, n2);
	ck_assert_int_eq(check(n1, SA(a), NOW), AUTH_NONCE_OK); /* previous */
	ck_assert_int_eq(check(n2, SA(a), NOW), AUTH_NONCE_OK);
	ck_assert_int_eq(auth_nonces_rotate(nonces, &k3), 0);
	ck_assert_int_eq(check(n1, SA(a), NOW), AUTH_NONCE_STALE); /* older */
	ck_assert_int_eq(check(n2, SA(a), NOW), AUTH_NONCE_OK);
	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, n3, 33), 0);
	ck_assert_int_eq(check(n3, SA(a), NOW), AUTH_NONCE_OK);
	/* The same id twice is refused: it would orphan the current key. */
	ck_assert_int_eq(auth_nonces_rotate(nonces, &k3), EINVAL);

	/* A joining node sets both keys at once. */
	ck_assert_int_eq(auth_nonces_set_keys(nonces, &k1, &k2), 0);
	ck_assert_int_eq(check(n1, SA(a), NOW), AUTH_NONCE_OK);
	ck_assert_int_eq(check(n2, SA(a), NOW), AUTH_NONCE_OK);
	ck_assert_int_eq(check(n3, SA(a), NOW), AUTH_NONCE_STALE);
	ck_assert_int_eq(auth_nonces_set_keys(nonces, &k1, NULL), 0);
	ck_assert_int_eq(check(n2, SA(a), NOW), AUTH_NONCE_STALE);
	ck_assert_int_eq(auth_nonces_set_keys(nonces, &k1, &k1), EINVAL);
}
END_TEST

/* nonce-key-rotation of period P: a rotation at NOW + P keeps k1 until
 * NOW + 2P; a nonce minted under k1 is good within that period, stale
 * after it even if the next rotation is late (438), and stale after the
 * next rotation anyway. */
#define PERIOD 2u
START_TEST(test_auth_nonce_periodic_rotation_keeps_prev_one_period)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	char n1[AUTH_NONCE_LEN + 1], n2[AUTH_NONCE_LEN + 1];
	const uint64_t t1 = NOW + PERIOD, t2 = NOW + 2 * PERIOD;

	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, n1, 33), 0);
	ck_assert(!auth_nonce_rotation_due(NOW, PERIOD, t1 - 1));
	ck_assert(auth_nonce_rotation_due(NOW, PERIOD, t1));
	ck_assert_int_eq(auth_nonces_rotate(nonces, &k2), 0);
	auth_nonces_set_prev_until(nonces, t1 + PERIOD);
	ck_assert_uint_eq(auth_nonces_current_id(nonces), 2);
	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), t1, n2, 33), 0);
	ck_assert_int_eq(check(n1, SA(a), t1), AUTH_NONCE_OK);
	ck_assert_int_eq(check(n1, SA(a), t2), AUTH_NONCE_OK); /* inclusive */
	ck_assert_int_eq(check(n1, SA(a), t2 + 1), AUTH_NONCE_STALE);
	ck_assert_int_eq(check(n2, SA(a), t2 + 1), AUTH_NONCE_OK);
	/* the next rotation, on time: k1 is gone, k2 previous */
	ck_assert_int_eq(auth_nonces_rotate(nonces, &k3), 0);
	auth_nonces_set_prev_until(nonces, t2 + PERIOD);
	ck_assert_int_eq(check(n1, SA(a), t2), AUTH_NONCE_STALE);
	ck_assert_int_eq(check(n2, SA(a), t2 + PERIOD), AUTH_NONCE_OK);
	ck_assert_int_eq(check(n2, SA(a), t2 + PERIOD + 1), AUTH_NONCE_STALE);
}
END_TEST

START_TEST(test_auth_nonce_prev_until_zero_and_set_keys)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	char n1[AUTH_NONCE_LEN + 1];

	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, n1, 33), 0);
	ck_assert_int_eq(auth_nonces_set_keys(nonces, &k2, &k1), 0);
	auth_nonces_set_prev_until(nonces, NOW + 5);
	ck_assert_int_eq(check(n1, SA(a), NOW + 5), AUTH_NONCE_OK);
	ck_assert_int_eq(check(n1, SA(a), NOW + 6), AUTH_NONCE_STALE);
	/* set_keys and rotate start with no end of the previous key */
	ck_assert_int_eq(auth_nonces_set_keys(nonces, &k2, &k1), 0);
	ck_assert_int_eq(check(n1, SA(a), NOW + 6), AUTH_NONCE_OK);
	auth_nonces_set_prev_until(nonces, 0);
	ck_assert_int_eq(check(n1, SA(a), NOW + 599), AUTH_NONCE_OK);
}
END_TEST

START_TEST(test_auth_nonce_dup_is_independent)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	char n1[AUTH_NONCE_LEN + 1];
	struct auth_nonces *copy;

	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, n1, 33), 0);
	ck_assert_int_eq(auth_nonces_dup(&copy, nonces), 0);
	ck_assert_int_eq(auth_nonces_rotate(copy, &k2), 0);
	ck_assert_int_eq(auth_nonces_rotate(copy, &k3), 0);
	ck_assert_int_eq(
	        auth_nonce_check(copy, (const uint8_t *)n1, 32, SA(a), NOW),
	        AUTH_NONCE_STALE);
	ck_assert_int_eq(check(n1, SA(a), NOW), AUTH_NONCE_OK);
	ck_assert_uint_eq(auth_nonces_current_id(nonces), 1);
	auth_nonces_free(copy);
}
END_TEST

START_TEST(test_auth_nonce_next_id_wraps_past_255)
{
	ck_assert_uint_eq(auth_nonce_next_id(1), 2);
	ck_assert_uint_eq(auth_nonce_next_id(254), 255);
	ck_assert_uint_eq(auth_nonce_next_id(255), 1);
	ck_assert_uint_eq(auth_nonce_next_id(0), 1);
}
END_TEST

START_TEST(test_auth_nonce_same_id_other_bytes)
{
	/* Another node with the same id but another key: MAC fails. */
	struct auth_nonce_key other = k1;
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	char nonce[AUTH_NONCE_LEN + 1];

	other.bytes[31] ^= 1;
	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, nonce,
	                                 sizeof(nonce)),
	                 0);
	ck_assert_int_eq(auth_nonces_set_keys(nonces, &other, NULL), 0);
	ck_assert_int_eq(check(nonce, SA(a), NOW), AUTH_NONCE_WRONG_ADDRESS);
}
END_TEST

START_TEST(test_auth_nonce_tampered)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	char nonce[AUTH_NONCE_LEN + 1], t[AUTH_NONCE_LEN + 1];

	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, nonce,
	                                 sizeof(nonce)),
	                 0);
	/* Stripping the feature bits (bid-down): "wAAA" -> "AAAA". */
	memcpy(t, nonce, sizeof(t));
	memcpy(t + 9, "AAAA", 4);
	ck_assert_int_eq(check(t, SA(a), NOW), AUTH_NONCE_WRONG_ADDRESS);
	/* Stretching the expiry: flip a bit of the expiry bytes. Character
	 * 13+3 holds bits of payload bytes 2 and 3 (expiry high bytes). */
	for (size_t pos = 15; pos < 20; pos++) {
		memcpy(t, nonce, sizeof(t));
		t[pos] = t[pos] == 'A' ? 'B' : 'A';
		ck_assert_int_ne(check(t, SA(a), NOW), AUTH_NONCE_OK);
	}
}
END_TEST

static const struct {
	const char *nonce;
} malformed[] = {
        {""},
        {"obMatJos2"},
        {"abcdefghijklmnopqrstuvwxyz012345"},  /* 32, no cookie */
        {"obMatJos2wAAAAQMAAAAAAAAAAAAAAAAA"}, /* 33 characters */
        {"obMatJos2wAAAAQMAAAAAAAAAAAAAAA"},   /* 31 characters */
        {"obMatJos2wAAAAQMAAAAAAAAAAAAAA*A"},  /* not base64 */
        {"obMatJos2w*AAAQMAAAAAAAAAAAAAAAA"},  /* bad cookie base64 */
        {"obMatJos2wAAAAQMAAAAAAAAAAAAAAAB"},  /* non-canonical tail */
        {"obMatJos2wAAAAQMAAAAAAAAAAAAAAA="},  /* padding */
};

START_TEST(test_auth_nonce_malformed)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	const char *n = malformed[_i].nonce;

	ck_assert_msg(check(n, SA(a), NOW) == AUTH_NONCE_MALFORMED, "'%s'", n);
}
END_TEST

START_TEST(test_auth_nonce_mint_errors)
{
	struct sockaddr_in a = v4("192.0.2.1", 5000);
	struct sockaddr unknown = {.sa_family = AF_UNIX};
	char nonce[AUTH_NONCE_LEN + 1];
	struct auth_nonce_info info;

	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), NOW, nonce,
	                                 AUTH_NONCE_LEN),
	                 ENOSPC);
	ck_assert_int_eq(auth_nonce_mint(nonces, store, &unknown, NOW, nonce,
	                                 sizeof(nonce)),
	                 EINVAL);
	ck_assert_int_eq(auth_nonce_mint(nonces, store, SA(a), UINT32_MAX,
	                                 nonce, sizeof(nonce)),
	                 EINVAL);
	ck_assert_int_eq(auth_nonce_parse((const uint8_t *)"plain", 5, &info),
	                 ENOENT);
	ck_assert_int_eq(
	        auth_nonce_parse((const uint8_t *)"obMatJos2AAAAxy", 15, &info),
	        0);
	ck_assert(!info.ours);
	ck_assert_uint_eq(info.features, 0);
}
END_TEST

static Suite *auth_nonce_suite(void)
{
	Suite *s = suite_create("auth_nonce");
	TCase *tc;

	tc = tcase_create("nonce");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_auth_nonce_format);
	tcase_add_test(tc, test_auth_nonce_deterministic_per_client);
	tcase_add_test(tc, test_auth_nonce_expiry_edge);
	tcase_add_test(tc, test_auth_nonce_lifetime_configurable);
	tcase_add_test(tc, test_auth_nonce_wrong_address);
	tcase_add_test(tc, test_auth_nonce_rotation);
	tcase_add_test(tc,
	               test_auth_nonce_periodic_rotation_keeps_prev_one_period);
	tcase_add_test(tc, test_auth_nonce_prev_until_zero_and_set_keys);
	tcase_add_test(tc, test_auth_nonce_dup_is_independent);
	tcase_add_test(tc, test_auth_nonce_next_id_wraps_past_255);
	tcase_add_test(tc, test_auth_nonce_same_id_other_bytes);
	tcase_add_test(tc, test_auth_nonce_tampered);
	tcase_add_loop_test(tc, test_auth_nonce_malformed, 0,
	                    sizeof(malformed) / sizeof(malformed[0]));
	tcase_add_test(tc, test_auth_nonce_mint_errors);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(auth_nonce_suite)
