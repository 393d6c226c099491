/*
 * turn/policy.c - peer address policy (RFC 8656 s21; see policy.h for the
 * decision order).
 *
 * Every address is a 128-bit key: IPv6 as is, IPv4 as its IPv4-mapped form
 * ::ffff:a.b.c.d, so one sorted array of merged [first, last] ranges per
 * rule list answers both families by binary search, and ::ffff:10.0.0.1 is
 * the same key as 10.0.0.1 by construction. A peer expands into at most
 * four candidates (its own key plus the IPv4 addresses its IPv6 spelling
 * embeds), each checked on its own. The policy owns its arrays; it is
 * immutable after configuration. Pure: no I/O, no clock.
 */
#include "turn/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SPEC_LEN   128 /* "a - b" with two full IPv6 spellings fits */
#define MAX_CANDIDATES 4   /* peer, Teredo server+client, ISATAP */

struct key {
	uint64_t hi, lo;
};

struct range {
	struct key first, last;
};

/* Sorted by first, non-overlapping, non-adjacent (merged on insert). */
struct ranges {
	struct range *v;
	size_t n, cap;
};

struct own_endpoint {
	struct key key;
	uint16_t port; /* 0: every port */
	bool any_addr; /* wildcard listener: the port on every address */
};

struct candidate {
	struct key key;
	uint16_t port;
};

struct turn_policy {
	struct ranges defaults, allowed, denied;
	struct own_endpoint *own;
	size_t n_own, cap_own;
	bool allow_loopback;
};

/* Deny by default. 169.254.169.254 (cloud metadata) is inside link-local
 * and fd00:ec2::254 inside fc00::/7; 240/4 includes 255.255.255.255. The
 * last IPv6 range is 64:ff9b:1::/48 except its /96 format, whose embedded
 * IPv4 address is checked instead. Documentation ranges stay allowed. */
static const char *const default_deny[] = {
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "100::/64",
        "2001:2::/48",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
        "64:ff9b:1:0:0:1:: - 64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
};

/* ---- 128-bit keys ------------------------------------------------------ */

static int key_cmp(struct key a, struct key b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

static bool key_eq(struct key a, struct key b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

static struct key key_from_v4(uint32_t v4)
{
	struct key k = {0, 0x0000ffff00000000ull | v4};
	return k;
}

static uint64_t be64(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static struct key key_from_v6(const uint8_t b[16])
{
	struct key k = {be64(b), be64(b + 8)};
	return k;
}

/* Host-part mask of a prefix of plen bits (0..128) in the 128-bit space. */
static struct key host_mask(unsigned plen)
{
	struct key m;
	m.hi = plen >= 64 ? 0 : (plen == 0 ? ~0ull : ~0ull >> plen);
	m.lo = plen >= 128 ? 0 : (plen <= 64 ? ~0ull : ~0ull >> (plen - 64));
	return m;
}

static bool key_is_max(struct key k)
{
	return k.hi == ~0ull && k.lo == ~0ull;
}

static struct key key_next(struct key k)
{
	k.lo++;
	if (k.lo == 0)
		k.hi++;
	return k;
}

/* ---- range lists -------------------------------------------------------- */

static int range_cmp(const void *a, const void *b)
{
	return key_cmp(((const struct range *)a)->first,
	               ((const struct range *)b)->first);
}

/* Sort and merge overlapping or adjacent ranges in place. */
static void ranges_normalize(struct ranges *r)
{
	if (r->n < 2)
		return;
	qsort(r->v, r->n, sizeof(r->v[0]), range_cmp);
	size_t out = 0;
	for (size_t i = 1; i < r->n; i++) {
		struct range *cur = &r->v[out];
		bool touches = key_is_max(cur->last) ||
		               key_cmp(r->v[i].first, key_next(cur->last)) <= 0;
		if (touches) {
			if (key_cmp(r->v[i].last, cur->last) > 0)
				cur->last = r->v[i].last;
		} else {
			r->v[++out] = r->v[i];
		}
	}
	r->n = out + 1;
}

static int ranges_add(struct ranges *r, struct range add)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 8;
		struct range *v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = add;
	ranges_normalize(r);
	return 0;
}

static bool ranges_contain(const struct ranges *r, struct key k)
{
	size_t lo = 0, hi = r->n; /* find the last range with first <= k */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_cmp(r->v[mid].first, k) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && key_cmp(k, r->v[lo - 1].last) <= 0;
}

/* ---- parsing "a", "a/n", "a-b" ------------------------------------------ */

/* Parse one address; *family is AF_INET or AF_INET6. */
static int parse_addr(const char *s, struct key *k, int *family)
{
	uint8_t b[16];
	if (inet_pton(AF_INET, s, b) == 1) {
		*k = key_from_v4(be32(b));
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		*k = key_from_v6(b);
		*family = AF_INET6;
		return 0;
	}
	return EINVAL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int parse_prefix_len(const char *s, unsigned max, unsigned *plen)
{
	unsigned v = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 3)
		return EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return EINVAL;
	*plen = v;
	return 0;
}

static int parse_cidr(char *addr, char *len, struct range *out)
{
	int family;
	unsigned plen;
	if (parse_addr(trim(addr), &out->first, &family))
		return EINVAL;
	if (parse_prefix_len(trim(len), family == AF_INET ? 32 : 128, &plen))
		return EINVAL;
	struct key host = host_mask(family == AF_INET ? plen + 96 : plen);
	if ((out->first.hi & host.hi) || (out->first.lo & host.lo))
		return EINVAL; /* host bits set: a typo more often than not */
	out->last.hi = out->first.hi | host.hi;
	out->last.lo = out->first.lo | host.lo;
	return 0;
}

static int parse_range(char *a, char *b, struct range *out)
{
	int fa, fb;
	if (parse_addr(trim(a), &out->first, &fa) ||
	    parse_addr(trim(b), &out->last, &fb))
		return EINVAL;
	if (fa != fb || key_cmp(out->first, out->last) > 0)
		return EINVAL;
	return 0;
}

static int parse_spec(const char *spec, struct range *out)
{
	char buf[MAX_SPEC_LEN + 1];
	size_t n = strlen(spec);
	if (n == 0 || n > MAX_SPEC_LEN)
		return EINVAL;
	memcpy(buf, spec, n + 1);
	char *dash = strchr(buf, '-'); /* IPv6 spellings never contain '-' */
	char *slash = strchr(buf, '/');
	if (dash && slash)
		return EINVAL;
	if (dash) {
		*dash = '\0';
		return parse_range(buf, dash + 1, out);
	}
	if (slash) {
		*slash = '\0';
		return parse_cidr(buf, slash + 1, out);
	}
	int family;
	if (parse_addr(trim(buf), &out->first, &family))
		return EINVAL;
	out->last = out->first;
	return 0;
}

static int add_rule(struct ranges *r, const char *spec)
{
	struct range range;
	if (!spec || parse_spec(spec, &range))
		return EINVAL;
	return ranges_add(r, range);
}

/* ---- construction -------------------------------------------------------- */

int turn_policy_new(struct turn_policy **out)
{
	if (!out)
		return EINVAL;
	struct turn_policy *p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	for (size_t i = 0; i < sizeof(default_deny) / sizeof(*default_deny);
	     i++) {
		int err = add_rule(&p->defaults, default_deny[i]);
		if (err) {
			turn_policy_free(p);
			return err; /* ENOMEM: the table itself parses */
		}
	}
	*out = p;
	return 0;
}

void turn_policy_free(struct turn_policy *p)
{
	if (!p)
		return;
	free(p->defaults.v);
	free(p->allowed.v);
	free(p->denied.v);
	free(p->own);
	free(p);
}

int turn_policy_allow(struct turn_policy *p, const char *spec)
{
	return p ? add_rule(&p->allowed, spec) : EINVAL;
}

int turn_policy_deny(struct turn_policy *p, const char *spec)
{
	return p ? add_rule(&p->denied, spec) : EINVAL;
}

void turn_policy_set_allow_loopback(struct turn_policy *p, bool allow)
{
	if (p)
		p->allow_loopback = allow;
}

/* Key and port of an AF_INET/AF_INET6 sockaddr; EINVAL otherwise. */
static int sockaddr_key(const struct sockaddr *sa, struct key *k,
                        uint16_t *port)
{
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		*k = key_from_v4(ntohl(in->sin_addr.s_addr));
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		*k = key_from_v6(in6->sin6_addr.s6_addr);
		*port = ntohs(in6->sin6_port);
		return 0;
	}
	return EINVAL;
}

int turn_policy_protect(struct turn_policy *p, const struct sockaddr *endpoint)
{
	struct own_endpoint e = {0};
	if (!p || sockaddr_key(endpoint, &e.key, &e.port))
		return EINVAL;
	e.any_addr = key_eq(e.key, key_from_v4(0)) || (!e.key.hi && !e.key.lo);
	if (p->n_own == p->cap_own) {
		size_t cap = p->cap_own ? p->cap_own * 2 : 8;
		struct own_endpoint *v = realloc(p->own, cap * sizeof(*v));
		if (!v)
			return ENOMEM;
		p->own = v;
		p->cap_own = cap;
	}
	p->own[p->n_own++] = e;
	return 0;
}

/* ---- the check ----------------------------------------------------------- */

static const uint8_t zero12[12];

/* The IPv4 addresses an IPv6 address stands for (see policy.h); appends
 * to c[] and returns the new count. The IPv4-mapped form needs nothing:
 * its key is the IPv4 key. */
static size_t embedded_v4(const uint8_t *b, uint16_t port, struct candidate *c,
                          size_t n)
{
	static const uint8_t nat64_wkp[12] = {0x00, 0x64, 0xff, 0x9b};
	static const uint8_t nat64_local[12] = {0x00, 0x64, 0xff, 0x9b, 0, 1};
	static const uint8_t siit[12] = {[8] = 0xff, [9] = 0xff};
	uint32_t low = be32(b + 12);

	if (!memcmp(b, zero12, 12) && low > 1) /* compat, not :: or ::1 */
		c[n++] = (struct candidate){key_from_v4(low), port};
	else if (!memcmp(b, siit, 12) || !memcmp(b, nat64_wkp, 12) ||
	         !memcmp(b, nat64_local, 12))
		c[n++] = (struct candidate){key_from_v4(low), port};
	else if (b[0] == 0x20 && b[1] == 0x02) /* 6to4 */
		c[n++] = (struct candidate){key_from_v4(be32(b + 2)), port};
	else if (b[0] == 0x20 && b[1] == 0x01 && !b[2] && !b[3]) { /* Teredo */
		uint16_t mapped_port = (uint16_t) ~(b[10] << 8 | b[11]);
		c[n++] = (struct candidate){key_from_v4(be32(b + 4)), port};
		c[n++] = (struct candidate){key_from_v4(~low), mapped_port};
	}
	/* ISATAP interface id, under any prefix (6to4 and Teredo included) */
	if ((b[8] == 0x00 || b[8] == 0x02) && !b[9] && b[10] == 0x5e &&
	    b[11] == 0xfe)
		c[n++] = (struct candidate){key_from_v4(low), port};
	return n;
}

static size_t candidates(const struct sockaddr *sa, struct candidate *c)
{
	if (sockaddr_key(sa, &c[0].key, &c[0].port))
		return 0;
	if (sa->sa_family != AF_INET6)
		return 1;
	const struct sockaddr_in6 *in6 = (const void *)sa;
	return embedded_v4(in6->sin6_addr.s6_addr, c[0].port, c, 1);
}

static bool is_own(const struct turn_policy *p, const struct candidate *c)
{
	for (size_t i = 0; i < p->n_own; i++) {
		const struct own_endpoint *e = &p->own[i];
		if ((e->any_addr || key_eq(e->key, c->key)) &&
		    (e->port == 0 || e->port == c->port))
			return true;
	}
	return false;
}

static bool is_loopback(struct key k)
{
	return (k.hi == 0 && k.lo == 1) ||
	       (k.hi == 0 && (k.lo >> 24) == 0x0000ffff7full);
}

static bool is_opened(const struct turn_policy *p, struct key k)
{
	return ranges_contain(&p->allowed, k) ||
	       (p->allow_loopback && is_loopback(k));
}

enum turn_policy_verdict turn_policy_check(const struct turn_policy *p,
                                           const struct sockaddr *peer)
{
	struct candidate c[MAX_CANDIDATES];
	size_t n = p ? candidates(peer, c) : 0;
	if (n == 0)
		return TURN_POLICY_DENIED_INVALID;
	for (size_t i = 0; i < n; i++)
		if (is_own(p, &c[i]))
			return TURN_POLICY_DENIED_OWN_ENDPOINT;
	for (size_t i = 0; i < n; i++)
		if (ranges_contain(&p->denied, c[i].key))
			return TURN_POLICY_DENIED_PEER_IP;
	for (size_t i = 0; i < n; i++)
		if (!is_opened(p, c[i].key) &&
		    ranges_contain(&p->defaults, c[i].key))
			return TURN_POLICY_DENIED_DEFAULT;
	return TURN_POLICY_ALLOWED;
}

bool turn_policy_protects(const struct turn_policy *p,
                          const struct sockaddr *peer)
{
	struct candidate c[MAX_CANDIDATES];
	size_t n = p && peer ? candidates(peer, c) : 0;

	for (size_t i = 0; i < n; i++)
		if (is_own(p, &c[i]))
			return true;
	return false;
}

const char *turn_policy_verdict_str(enum turn_policy_verdict v)
{
	switch (v) {
	case TURN_POLICY_ALLOWED:
		return "allowed";
	case TURN_POLICY_DENIED_DEFAULT:
		return "default-deny";
	case TURN_POLICY_DENIED_PEER_IP:
		return "denied-peer-ip";
	case TURN_POLICY_DENIED_OWN_ENDPOINT:
		return "own-endpoint";
	case TURN_POLICY_DENIED_INVALID:
		return "invalid";
	}
	return "unknown";
}
