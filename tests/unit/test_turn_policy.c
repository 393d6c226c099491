/*
 * tests/unit/test_turn_policy.c - peer address policy (turn/policy.h):
 * the deny-by-default list in every IPv6 spelling of IPv4, allowed-peer-ip,
 * denied-peer-ip, own endpoints and rule parsing.
 */
#include "tests/unit/check_main.h"
#include "turn/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

/* Build a sockaddr from "a.b.c.d" or an IPv6 spelling. */
static struct sockaddr_storage sa(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
	} else {
		ck_assert_msg(inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1,
		              "bad test address %s", addr);
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
	}
	return ss;
}

static enum turn_policy_verdict check(const struct turn_policy *p,
                                      const char *addr, uint16_t port)
{
	struct sockaddr_storage ss = sa(addr, port);
	return turn_policy_check(p, (const struct sockaddr *)&ss);
}

static struct turn_policy *policy(void)
{
	struct turn_policy *p = NULL;
	ck_assert_int_eq(turn_policy_new(&p), 0);
	return p;
}

#define OK   TURN_POLICY_ALLOWED
#define DEF  TURN_POLICY_DENIED_DEFAULT
#define DENY TURN_POLICY_DENIED_PEER_IP
#define OWN  TURN_POLICY_DENIED_OWN_ENDPOINT

/* ---- defaults: every spelling ----------------------------------------- */

static const struct {
	const char *addr;
	enum turn_policy_verdict want;
} default_rows[] = {
        /* IPv4 */
        {"8.8.8.8", OK},
        {"192.0.2.1", OK}, /* documentation: left allowed */
        {"0.0.0.0", DEF},
        {"0.1.2.3", DEF},
        {"10.0.0.1", DEF},
        {"10.255.255.255", DEF},
        {"11.0.0.0", OK},
        {"100.63.255.255", OK},
        {"100.64.0.1", DEF},
        {"100.127.255.255", DEF},
        {"100.128.0.0", OK},
        {"127.0.0.1", DEF},
        {"127.255.255.255", DEF},
        {"169.254.0.1", DEF},
        {"169.254.169.254", DEF},
        {"172.15.255.255", OK},
        {"172.16.0.1", DEF},
        {"172.31.255.255", DEF},
        {"172.32.0.0", OK},
        {"192.0.0.8", DEF},
        {"192.0.1.1", OK},
        {"192.168.1.1", DEF},
        {"198.17.255.255", OK},
        {"198.18.0.1", DEF},
        {"198.19.255.255", DEF},
        {"198.20.0.0", OK},
        {"223.255.255.255", OK},
        {"224.0.0.1", DEF},
        {"239.255.255.250", DEF},
        {"240.0.0.1", DEF},
        {"255.255.255.255", DEF},
        /* IPv6 */
        {"2001:4860:4860::8888", OK},
        {"2001:db8::1", OK},
        {"::", DEF},
        {"::1", DEF},
        {"100::1", DEF},
        {"2001:2::1", DEF},
        {"fc00::1", DEF},
        {"fd00::1", DEF},
        {"fd00:ec2::254", DEF},
        {"fe80::1", DEF},
        {"febf:ffff::1", DEF},
        {"fec0::1", DEF},
        {"ff02::1", DEF},
        {"ff0e::1", DEF},
        /* IPv4-mapped */
        {"::ffff:8.8.8.8", OK},
        {"::ffff:127.0.0.1", DEF},
        {"::ffff:10.0.0.1", DEF},
        {"::ffff:169.254.169.254", DEF},
        {"::ffff:0.0.0.0", DEF},
        {"::ffff:255.255.255.255", DEF},
        /* IPv4-compatible */
        {"::8.8.8.8", OK},
        {"::127.0.0.1", DEF},
        {"::10.1.2.3", DEF},
        {"::0.0.0.2", DEF},
        /* SIIT IPv4-translated */
        {"::ffff:0:8.8.8.8", OK},
        {"::ffff:0:127.0.0.1", DEF},
        {"::ffff:0:192.168.0.1", DEF},
        /* NAT64 well-known prefix */
        {"64:ff9b::8.8.8.8", OK},
        {"64:ff9b::10.0.0.1", DEF},
        {"64:ff9b::169.254.169.254", DEF},
        {"64:ff9b::127.0.0.1", DEF},
        /* NAT64 local-use: /96 format checked, other formats denied */
        {"64:ff9b:1::8.8.8.8", OK},
        {"64:ff9b:1::192.168.0.1", DEF},
        {"64:ff9b:1:a00:1::", DEF}, /* /48 format of 10.0.0.1 */
        {"64:ff9b:1:808:8:800::", DEF},
        /* 6to4 */
        {"2002:808:808::1", OK},
        {"2002:7f00:1::1", DEF},
        {"2002:a9fe:a9fe::1", DEF},
        {"2002:c0a8:101:1::1", DEF},
        /* Teredo: server 65.54.227.120, client XOR ffffffff */
        {"2001:0:4136:e378:8000:63bf:f7f7:f7f7", OK},  /* client 8.8.8.8 */
        {"2001:0:4136:e378:8000:63bf:f5ff:fffe", DEF}, /* client 10.0.0.1 */
        {"2001:0:4136:e378:8000:63bf:80ff:fffe", DEF}, /* 127.0.0.1 */
        {"2001:0:4136:e378:8000:63bf:5601:5601", DEF}, /* 169.254.169.254 */
        {"2001:0:a00:1:8000:63bf:f7f7:f7f7", DEF},     /* server 10.0.0.1 */
        /* ISATAP interface identifiers */
        {"2001:db8::5efe:8.8.8.8", OK},
        {"2001:db8::5efe:10.0.0.1", DEF},
        {"2001:db8::200:5efe:127.0.0.1", DEF},
        {"2002:808:808::5efe:10.0.0.1", DEF}, /* ISATAP under 6to4 */
};

START_TEST(test_turn_policy_default_spellings)
{
	struct turn_policy *p = policy();
	enum turn_policy_verdict got = check(p, default_rows[_i].addr, 40000);
	ck_assert_msg(got == default_rows[_i].want, "%s: got %s, want %s",
	              default_rows[_i].addr, turn_policy_verdict_str(got),
	              turn_policy_verdict_str(default_rows[_i].want));
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_invalid_peer)
{
	struct turn_policy *p = policy();
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	ck_assert_int_eq(turn_policy_check(p, NULL),
	                 TURN_POLICY_DENIED_INVALID);
	ck_assert_int_eq(turn_policy_check(p, (struct sockaddr *)&un),
	                 TURN_POLICY_DENIED_INVALID);
	struct sockaddr_storage ss = sa("8.8.8.8", 1);
	ck_assert_int_eq(turn_policy_check(NULL, (struct sockaddr *)&ss),
	                 TURN_POLICY_DENIED_INVALID);
	ck_assert_str_eq(turn_policy_verdict_str(TURN_POLICY_ALLOWED),
	                 "allowed");
	ck_assert_str_eq(turn_policy_verdict_str(OWN), "own-endpoint");
	turn_policy_free(p);
	turn_policy_free(NULL);
}
END_TEST

/* ---- allowed-peer-ip ------------------------------------------------------
 */

START_TEST(test_turn_policy_allow_opens_subnet)
{
	struct turn_policy *p = policy();
	ck_assert_int_eq(turn_policy_allow(p, "10.1.0.0/16"), 0);
	ck_assert_int_eq(check(p, "10.1.2.3", 5000), OK);
	ck_assert_int_eq(check(p, "10.1.255.255", 5000), OK);
	ck_assert_int_eq(check(p, "10.2.0.1", 5000), DEF);
	ck_assert_int_eq(check(p, "10.0.255.255", 5000), DEF);
	ck_assert_int_eq(check(p, "::ffff:10.1.2.3", 5000), OK);
	ck_assert_int_eq(check(p, "64:ff9b::10.1.2.3", 5000), OK);
	ck_assert_int_eq(check(p, "::ffff:10.2.0.1", 5000), DEF);
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_allow_single_and_range)
{
	struct turn_policy *p = policy();
	ck_assert_int_eq(turn_policy_allow(p, "127.0.0.1"), 0);
	ck_assert_int_eq(turn_policy_allow(p, "fd00::10 - fd00::1f"), 0);
	ck_assert_int_eq(check(p, "127.0.0.1", 1), OK);
	ck_assert_int_eq(check(p, "127.0.0.2", 1), DEF);
	ck_assert_int_eq(check(p, "fd00::10", 1), OK);
	ck_assert_int_eq(check(p, "fd00::1f", 1), OK);
	ck_assert_int_eq(check(p, "fd00::20", 1), DEF);
	ck_assert_int_eq(check(p, "fd00::f", 1), DEF);
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_allow_merges_overlaps)
{
	struct turn_policy *p = policy();
	ck_assert_int_eq(turn_policy_allow(p, "10.0.1.6"), 0);
	ck_assert_int_eq(turn_policy_allow(p, "10.0.0.0/24"), 0);
	ck_assert_int_eq(turn_policy_allow(p, "10.0.0.128-10.0.1.5"), 0);
	ck_assert_int_eq(turn_policy_allow(p, "10.0.0.7"), 0);
	ck_assert_int_eq(check(p, "10.0.0.0", 1), OK);
	ck_assert_int_eq(check(p, "10.0.1.5", 1), OK);
	ck_assert_int_eq(check(p, "10.0.1.6", 1), OK);
	ck_assert_int_eq(check(p, "10.0.1.7", 1), DEF);
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_allow_everything)
{
	struct turn_policy *p = policy();
	ck_assert_int_eq(turn_policy_allow(p, "::/0"), 0);
	ck_assert_int_eq(turn_policy_allow(p, "0.0.0.0/0"), 0);
	ck_assert_int_eq(check(p, "10.0.0.1", 1), OK);
	ck_assert_int_eq(check(p, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1),
	                 OK);
	ck_assert_int_eq(check(p, "::", 1), OK);
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_allow_mapped_spelling_is_v4)
{
	struct turn_policy *p = policy();
	ck_assert_int_eq(turn_policy_allow(p, "::ffff:10.0.0.0/104"), 0);
	ck_assert_int_eq(check(p, "10.9.9.9", 1), OK);
	ck_assert_int_eq(check(p, "11.0.0.0", 1), OK);
	ck_assert_int_eq(check(p, "192.168.0.1", 1), DEF);
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_allowing_6to4_keeps_embedded_checked)
{
	struct turn_policy *p = policy();
	ck_assert_int_eq(turn_policy_allow(p, "2002::/16"), 0);
	ck_assert_int_eq(turn_policy_allow(p, "64:ff9b:1::/48"), 0);
	ck_assert_int_eq(check(p, "2002:a00:1::1", 1), DEF);
	ck_assert_int_eq(check(p, "64:ff9b:1::10.0.0.1", 1), DEF);
	ck_assert_int_eq(check(p, "64:ff9b:1:a00:1::", 1), OK);
	ck_assert_int_eq(check(p, "2002:808:808::1", 1), OK);
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_allow_loopback_flag)
{
	struct turn_policy *p = policy();
	turn_policy_set_allow_loopback(p, true);
	ck_assert_int_eq(check(p, "127.0.0.5", 1), OK);
	ck_assert_int_eq(check(p, "::1", 1), OK);
	ck_assert_int_eq(check(p, "::ffff:127.0.0.1", 1), OK);
	ck_assert_int_eq(check(p, "10.0.0.1", 1), DEF);
	ck_assert_int_eq(check(p, "::", 1), DEF);
	turn_policy_set_allow_loopback(p, false);
	ck_assert_int_eq(check(p, "127.0.0.5", 1), DEF);
	turn_policy_free(p);
}
END_TEST

/* ---- denied-peer-ip ------------------------------------------------------ */

START_TEST(test_turn_policy_deny_closes_public_range)
{
	struct turn_policy *p = policy();
	ck_assert_int_eq(turn_policy_deny(p, "8.8.8.0/24"), 0);
	ck_assert_int_eq(turn_policy_deny(p, "1.1.1.1-1.1.1.3"), 0);
	ck_assert_int_eq(turn_policy_deny(p, "2001:4860::/32"), 0);
	ck_assert_int_eq(check(p, "8.8.8.8", 1), DENY);
	ck_assert_int_eq(check(p, "8.8.4.4", 1), OK);
	ck_assert_int_eq(check(p, "1.1.1.2", 1), DENY);
	ck_assert_int_eq(check(p, "1.1.1.4", 1), OK);
	ck_assert_int_eq(check(p, "2001:4860:4860::8888", 1), DENY);
	/* every spelling of a denied IPv4 address */
	ck_assert_int_eq(check(p, "::ffff:8.8.8.8", 1), DENY);
	ck_assert_int_eq(check(p, "::8.8.8.8", 1), DENY);
	ck_assert_int_eq(check(p, "64:ff9b::8.8.8.8", 1), DENY);
	ck_assert_int_eq(check(p, "2002:808:808::1", 1), DENY);
	ck_assert_int_eq(check(p, "2001:0:4136:e378:8000:63bf:f7f7:f7f7", 1),
	                 DENY);
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_deny_beats_allow)
{
	struct turn_policy *p = policy();
	ck_assert_int_eq(turn_policy_allow(p, "10.0.0.0/8"), 0);
	ck_assert_int_eq(turn_policy_deny(p, "10.0.5.0/24"), 0);
	ck_assert_int_eq(check(p, "10.0.4.1", 1), OK);
	ck_assert_int_eq(check(p, "10.0.5.1", 1), DENY);
	ck_assert_int_eq(turn_policy_deny(p, "64:ff9b::/96"), 0);
	ck_assert_int_eq(check(p, "64:ff9b::10.0.4.1", 1), DENY);
	turn_policy_free(p);
}
END_TEST

/* ---- own endpoints --------------------------------------------------------
 */

static void protect(struct turn_policy *p, const char *addr, uint16_t port)
{
	struct sockaddr_storage ss = sa(addr, port);
	ck_assert_int_eq(turn_policy_protect(p, (struct sockaddr *)&ss), 0);
}

START_TEST(test_turn_policy_own_endpoint_even_when_allowed)
{
	struct turn_policy *p = policy();
	ck_assert_int_eq(turn_policy_allow(p, "10.0.0.0/8"), 0);
	ck_assert_int_eq(turn_policy_allow(p, "203.0.113.0/24"), 0);
	protect(p, "203.0.113.5", 3478);
	protect(p, "10.0.0.9", 6379); /* Redis */
	protect(p, "10.0.0.20", 0);   /* admin host: every port */
	protect(p, "fd00::5", 8080);  /* another node */
	ck_assert_int_eq(check(p, "203.0.113.5", 3478), OWN);
	ck_assert_int_eq(check(p, "203.0.113.5", 3479), OK);
	ck_assert_int_eq(check(p, "203.0.113.6", 3478), OK);
	ck_assert_int_eq(check(p, "::ffff:203.0.113.5", 3478), OWN);
	ck_assert_int_eq(check(p, "64:ff9b::203.0.113.5", 3478), OWN);
	ck_assert_int_eq(check(p, "10.0.0.9", 6379), OWN);
	ck_assert_int_eq(check(p, "10.0.0.9", 6380), OK);
	ck_assert_int_eq(check(p, "10.0.0.20", 1), OWN);
	ck_assert_int_eq(check(p, "10.0.0.20", 0), OWN);
	ck_assert_int_eq(check(p, "fd00::5", 8080), OWN);
	ck_assert_int_eq(check(p, "fd00::5", 8081), DEF);
	ck_assert_int_eq(turn_policy_allow(p, "fd00::/8"), 0);
	ck_assert_int_eq(check(p, "fd00::5", 8080), OWN);
	ck_assert_int_eq(check(p, "fd00::5", 8081), OK);
	/* IP-only check (CreatePermission) matches only port-0 endpoints */
	ck_assert_int_eq(check(p, "203.0.113.5", 0), OK);
	/* own endpoint beats denied-peer-ip too */
	ck_assert_int_eq(turn_policy_deny(p, "203.0.113.5"), 0);
	ck_assert_int_eq(check(p, "203.0.113.5", 3478), OWN);
	ck_assert_int_eq(check(p, "203.0.113.5", 3479), DENY);
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_own_wildcard_port_everywhere)
{
	struct turn_policy *p = policy();
	turn_policy_set_allow_loopback(p, true);
	protect(p, "0.0.0.0", 3478);
	protect(p, "::", 5349);
	ck_assert_int_eq(check(p, "127.0.0.1", 3478), OWN);
	ck_assert_int_eq(check(p, "::1", 3478), OWN);
	ck_assert_int_eq(check(p, "127.0.0.1", 5349), OWN);
	ck_assert_int_eq(check(p, "198.51.100.7", 3478), OWN);
	ck_assert_int_eq(check(p, "127.0.0.1", 3479), OK);
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_own_teredo_embedded_port)
{
	struct turn_policy *p = policy();
	protect(p, "8.8.8.8", 3478);
	/* Teredo client 8.8.8.8, mapped port 3478 ^ 0xffff = 0xf269 */
	ck_assert_int_eq(check(p, "2001:0:4136:e378:8000:f269:f7f7:f7f7", 9),
	                 OWN);
	ck_assert_int_eq(check(p, "2001:0:4136:e378:8000:f26a:f7f7:f7f7", 9),
	                 OK);
	turn_policy_free(p);
}
END_TEST

/* An endpoint set (other nodes' listeners): step 1 alone. */
START_TEST(test_turn_policy_protects_endpoints_only)
{
	struct turn_policy *p = policy();
	struct sockaddr_storage ss;
	protect(p, "127.0.0.2", 3478);
	ss = sa("127.0.0.2", 3478);
	ck_assert(turn_policy_protects(p, (struct sockaddr *)&ss));
	ss = sa("::ffff:127.0.0.2", 3478);
	ck_assert(turn_policy_protects(p, (struct sockaddr *)&ss));
	ss = sa("127.0.0.2", 3479);
	ck_assert(!turn_policy_protects(p, (struct sockaddr *)&ss));
	ss = sa("127.0.0.2", 0); /* an IP alone (CreatePermission) */
	ck_assert(!turn_policy_protects(p, (struct sockaddr *)&ss));
	ss = sa("10.0.0.1", 3478); /* default-deny is not its business */
	ck_assert(!turn_policy_protects(p, (struct sockaddr *)&ss));
	ck_assert(!turn_policy_protects(NULL, (struct sockaddr *)&ss));
	ck_assert(!turn_policy_protects(p, NULL));
	turn_policy_free(p);
}
END_TEST

START_TEST(test_turn_policy_protect_bad_args)
{
	struct turn_policy *p = policy();
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	ck_assert_int_eq(turn_policy_protect(p, (struct sockaddr *)&un),
	                 EINVAL);
	ck_assert_int_eq(turn_policy_protect(p, NULL), EINVAL);
	ck_assert_int_eq(turn_policy_allow(NULL, "10.0.0.1"), EINVAL);
	ck_assert_int_eq(turn_policy_allow(p, NULL), EINVAL);
	ck_assert_int_eq(turn_policy_new(NULL), EINVAL);
	turn_policy_free(p);
}
END_TEST

/* ---- parsing --------------------------------------------------------------
 */

static const char *const bad_specs[] = {
        "",
        "   ",
        "10.0.0.0/33",
        "10.0.0.1/8", /* host bits set */
        "10.0.0.0/",
        "/8",
        "10.0.0.0/8/8",
        "10.0.0.0/-1",
        "10.0.0.0/8x",
        "10.0.0.0/0008",
        "10.0.0.256",
        "10.0.0",
        "10.0.0.9-10.0.0.1", /* reversed */
        "10.0.0.1-::1",      /* mixed families */
        "10.0.0.1-",
        "-10.0.0.1",
        "10.0.0.1--10.0.0.2",
        "10.0.0.0/8-10.0.0.9",
        "::/129",
        "fd00::1/64",
        "fe80::1%eth0",
        "fd00::2-fd00::1",
        "hello",
        "10.0.0.1 10.0.0.2",
        ("012345678901234567890123456789012345678901234567890123456789012345678"
         "9"
         "012345678901234567890123456789012345678901234567890123456789012345678"
         "9"),
};

START_TEST(test_turn_policy_parse_errors)
{
	struct turn_policy *p = policy();
	ck_assert_msg(turn_policy_allow(p, bad_specs[_i]) == EINVAL,
	              "allow accepted \"%s\"", bad_specs[_i]);
	ck_assert_msg(turn_policy_deny(p, bad_specs[_i]) == EINVAL,
	              "deny accepted \"%s\"", bad_specs[_i]);
	/* nothing changed */
	ck_assert_int_eq(check(p, "10.0.0.1", 1), DEF);
	ck_assert_int_eq(check(p, "8.8.8.8", 1), OK);
	turn_policy_free(p);
}
END_TEST

static const char *const good_specs[] = {
        "10.0.0.0/8",    " 10.0.0.1 ",         "10.0.0.1-10.0.0.1",
        "0.0.0.0/0",     "255.255.255.255/32", "::/0",
        "fd00::1",       "fd00::1 - fd00::ff", "2001:db8::/32",
        "::ffff:0:0/96", "10.0.0.0 / 8",       "fd00::/128",
};

START_TEST(test_turn_policy_parse_accepts)
{
	struct turn_policy *p = policy();
	ck_assert_msg(turn_policy_allow(p, good_specs[_i]) == 0,
	              "allow refused \"%s\"", good_specs[_i]);
	ck_assert_msg(turn_policy_deny(p, good_specs[_i]) == 0,
	              "deny refused \"%s\"", good_specs[_i]);
	turn_policy_free(p);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *turn_policy_suite(void)
{
	Suite *s = suite_create("turn_policy");
	TCase *tc = tcase_create("defaults");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_policy_default_spellings, 0,
	                    N(default_rows));
	tcase_add_test(tc, test_turn_policy_invalid_peer);
	suite_add_tcase(s, tc);

	tc = tcase_create("allow");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_policy_allow_opens_subnet);
	tcase_add_test(tc, test_turn_policy_allow_single_and_range);
	tcase_add_test(tc, test_turn_policy_allow_merges_overlaps);
	tcase_add_test(tc, test_turn_policy_allow_everything);
	tcase_add_test(tc, test_turn_policy_allow_mapped_spelling_is_v4);
	tcase_add_test(tc,
	               test_turn_policy_allowing_6to4_keeps_embedded_checked);
	tcase_add_test(tc, test_turn_policy_allow_loopback_flag);
	suite_add_tcase(s, tc);

	tc = tcase_create("deny");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_policy_deny_closes_public_range);
	tcase_add_test(tc, test_turn_policy_deny_beats_allow);
	suite_add_tcase(s, tc);

	tc = tcase_create("own_endpoints");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_policy_own_endpoint_even_when_allowed);
	tcase_add_test(tc, test_turn_policy_own_wildcard_port_everywhere);
	tcase_add_test(tc, test_turn_policy_own_teredo_embedded_port);
	tcase_add_test(tc, test_turn_policy_protect_bad_args);
	tcase_add_test(tc, test_turn_policy_protects_endpoints_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_policy_parse_errors, 0, N(bad_specs));
	tcase_add_loop_test(tc, test_turn_policy_parse_accepts, 0,
	                    N(good_specs));
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_policy_suite)
