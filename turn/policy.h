/*
 * turn/policy.h - peer address policy: which peers a relay may reach
 * (RFC 8656 s21, "Security Considerations"; DESIGN.md "Peer policy").
 *
 * A policy is built once from configuration (allowed-peer-ip,
 * denied-peer-ip, allow-loopback-peers, the node's own endpoints) and is
 * then read-only: turn_policy_check() takes a const pointer, so one policy
 * may be shared by every worker and swapped whole on reload. Pure: no I/O,
 * no clock, no globals.
 *
 * Decision, first match wins:
 *   1. the node's own endpoints (listening, admin, Redis, other nodes):
 *      always denied, whatever the allows say;
 *   2. denied-peer-ip;
 *   3. allowed-peer-ip (and allow-loopback-peers), which open ranges of the
 *      deny-by-default list, e.g. the internal MCU subnet;
 *   4. the deny-by-default list (loopback, unspecified, RFC 1918, CGNAT,
 *      link-local and cloud metadata, ULA, multicast, reserved, broadcast,
 *      IETF protocol assignments, benchmarking, discard-only);
 *   5. otherwise allowed.
 *
 * Every IPv6 spelling of an IPv4 address is checked as that IPv4 address:
 * IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), SIIT
 * (::ffff:0:a.b.c.d), NAT64 (64:ff9b::/96 and 64:ff9b:1::/96), 6to4
 * (2002:AABB:CCDD::/48), Teredo (2001:0::/32: server and XOR-ed client
 * address) and ISATAP (interface id 0:5efe:a.b.c.d or 200:5efe:a.b.c.d).
 * Such a peer passes only if the IPv6 address and every embedded IPv4
 * address pass steps 1-4 on their own: allowing 2002::/16 does not open
 * 6to4 addresses that embed 10.0.0.1. The rest of the NAT64 local-use
 * prefix 64:ff9b:1::/48 (the /48../64 formats of RFC 6052, which hide the
 * IPv4 address elsewhere) is denied by default.
 */
#ifndef AVEDGE_TURN_POLICY_H
#define AVEDGE_TURN_POLICY_H

#include <stdbool.h>
#include <sys/socket.h>

struct turn_policy;

/* Outcome of turn_policy_check(). Only TURN_POLICY_ALLOWED admits a peer;
 * the others say why not (for logs, metrics and tests; the client sees 403
 * Forbidden whatever the reason). */
enum turn_policy_verdict {
	TURN_POLICY_ALLOWED = 0,
	TURN_POLICY_DENIED_DEFAULT,      /* in the deny-by-default list */
	TURN_POLICY_DENIED_PEER_IP,      /* matches a denied-peer-ip rule */
	TURN_POLICY_DENIED_OWN_ENDPOINT, /* one of the node's own endpoints */
	TURN_POLICY_DENIED_INVALID,      /* NULL or not AF_INET/AF_INET6 */
};

/* Create an empty policy: deny-by-default list only, loopback denied, no
 * protected endpoints. Returns 0, EINVAL (out NULL) or ENOMEM. */
int turn_policy_new(struct turn_policy **out);

/* Free a policy; NULL is fine. */
void turn_policy_free(struct turn_policy *p);

/* Add an allowed-peer-ip / denied-peer-ip rule. spec is one of
 *   "10.1.2.3"  "fd00::1"                 one address
 *   "10.1.0.0/16"  "2001:db8::/32"        CIDR; host bits must be zero
 *   "10.0.0.1-10.0.0.9"  "fd00::1 - fd00::ff"   inclusive range, a <= b,
 *                                         both of the same family
 * with optional blanks around the whole spec and around '-'. IPv4-mapped
 * IPv6 spellings (::ffff:10.0.0.0/104) mean the IPv4 range. Returns 0,
 * EINVAL (p or spec NULL, or spec malformed: the policy is unchanged) or
 * ENOMEM. */
int turn_policy_allow(struct turn_policy *p, const char *spec);
int turn_policy_deny(struct turn_policy *p, const char *spec);

/* allow-loopback-peers: open 127.0.0.0/8 and ::1 (for tests and local
 * MCUs). Own endpoints and denied-peer-ip still win. */
void turn_policy_set_allow_loopback(struct turn_policy *p, bool allow);

/* Protect one of the node's own endpoints (IPv4 or IPv6 address and port,
 * copied). A wildcard address (0.0.0.0 or ::) protects the port on every
 * address, loopback included, in both families: a pure module cannot know
 * the local addresses, so this also blocks that port on remote peers; the
 * caller may instead protect each local address (getifaddrs) plus
 * loopback. Port 0 protects every port of the address (e.g. a whole
 * admin host). Returns 0, EINVAL (NULL, other family) or ENOMEM. */
int turn_policy_protect(struct turn_policy *p, const struct sockaddr *endpoint);

/* Decide whether a relay may exchange data with peer (address and port;
 * port 0 for a check by IP alone, as CreatePermission does, which then
 * only matches endpoints protected with port 0). Cost: O(number of
 * protected endpoints + log(number of rules)). Never fails; a NULL or
 * non-IP peer is TURN_POLICY_DENIED_INVALID. */
enum turn_policy_verdict turn_policy_check(const struct turn_policy *p,
                                           const struct sockaddr *peer);

/* Step 1 alone: whether peer (address and port, every IPv6 spelling of
 * an IPv4 address included) is one of p's protected endpoints. NULL p or
 * a non-IP peer: false. Same cost as turn_policy_check's step 1. */
bool turn_policy_protects(const struct turn_policy *p,
                          const struct sockaddr *peer);

/* Short static name of a verdict, e.g. "own-endpoint". */
const char *turn_policy_verdict_str(enum turn_policy_verdict v);

#endif
