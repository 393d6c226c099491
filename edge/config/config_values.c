/*
 * edge/config/config_values.c - the parser and the release function of each
 * value type of the key table (enum edge_config_type). A parser writes into the
 * field of struct edge_config at the key's offset, replacing a scalar or
 * appending to a list, and owns what it stores; release frees it (secrets
 * are wiped first). Messages are "expected ..., got '...'" with secrets as
 * ***. Pure apart from malloc: no I/O, no name resolution.
 */
#include "edge/config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct pctx {
	const struct edge_config_key *k;
	const char *value; /* NULL: bare key */
	char *why;
	size_t why_len;
};

/* The value as it may appear in a message: secrets become ***. */
static const char *shown(const struct pctx *p, char *buf, size_t len)
{
	const char *v = p->value, *cut;

	if (!(p->k->flags & EDGE_CK_SECRET))
		return v;
	if (p->k->type == EDGE_CT_USER_LIST && (cut = strchr(v, ':'))) {
		snprintf(buf, len, "%.*s:***", (int)(cut - v), v);
		return buf;
	}
	if (p->k->type == EDGE_CT_REALM_LIST && (cut = strchr(v, ':'))) {
		const char *c2 = strchr(cut + 1, ':');
		if (strcmp(p->k->name, "realm-user") == 0 && c2)
			cut = c2;
		snprintf(buf, len, "%.*s:***", (int)(cut - v), v);
		return buf;
	}
	if (p->k->type == EDGE_CT_REDIS_URL) {
		if (!(cut = strrchr(v, '@')))
			return v;
		snprintf(buf, len, "redis://***%s", cut);
		return buf;
	}
	return "***";
}

/* Fill why with "expected <what>, got '<value>'"; returns EINVAL. */
__attribute__((format(printf, 2, 3))) static int expected(const struct pctx *p,
                                                          const char *fmt, ...)
{
	char what[160], buf[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!p->value)
		snprintf(p->why, p->why_len, "expected %s, got nothing", what);
	else
		snprintf(p->why, p->why_len, "expected %s, got '%s'", what,
		         shown(p, buf, sizeof(buf)));
	return EINVAL;
}

static void free_secret(char *s, bool secret)
{
	if (s && secret)
		explicit_bzero(s, strlen(s));
	free(s);
}

/* Grow array v of n elements of size bytes by one zeroed element. */
static void *grow(void *v, size_t n, size_t size)
{
	char *a = realloc(v, (n + 1) * size);

	if (a)
		memset(a + n * size, 0, size);
	return a;
}

/* Decimal digits s[0..len) as a number <= max. */
static bool digits(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return v <= max;
}

struct ip {
	int family;
	uint8_t b[16];
};

static size_t ip_bytes(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* An IPv4 or IPv6 literal s[0..len). */
static bool parse_ip(const char *s, size_t len, struct ip *ip)
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(ip, 0, sizeof(*ip));
	ip->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	return inet_pton(ip->family, buf, ip->b) == 1;
}

static socklen_t to_sockaddr(const struct ip *ip, uint16_t port,
                             struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ip->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, ip->b, 4);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	memcpy(&in6->sin6_addr, ip->b, 16);
	return sizeof(*in6);
}

static int parse_bool(const struct pctx *p, void *f)
{
	static const char *const words[] = {"true", "false", "yes", "no",
	                                    "on",   "off",   "1",   "0"};

	if (!p->value) {
		*(bool *)f = true;
		return 0;
	}
	for (size_t i = 0; i < 8; i++) {
		if (strcasecmp(p->value, words[i]) == 0) {
			*(bool *)f = i % 2 == 0;
			return 0;
		}
	}
	return expected(p, "true|false|yes|no|on|off|1|0");
}

/* A decimal in k->min..k->max; EDGE_CT_SIZE also takes a k, m, g suffix. */
static int parse_uint(const struct pctx *p, uint64_t *out)
{
	const struct edge_config_key *k = p->k;
	bool size = k->type == EDGE_CT_SIZE;
	const char *s = p->value ? p->value : "";
	size_t len = strspn(s, "0123456789");
	static const char units[] = "kmg";
	const char *suffix = s + len, *u;
	unsigned shift = 0;
	uint64_t v;

	if (size && *suffix && !suffix[1] &&
	    (u = strchr(units, tolower((unsigned char)*suffix))))
		shift = 10 * (unsigned)(u - units + 1);
	if ((!*suffix || shift) && digits(s, len, UINT64_MAX >> shift, &v) &&
	    (v << shift) >= k->min && (v << shift) <= k->max) {
		*out = v << shift;
		return 0;
	}
	if (size)
		return expected(
		        p, "a size %llu..%llu bytes (suffix k, m, g ok)",
		        (unsigned long long)k->min, (unsigned long long)k->max);
	return expected(p, "an integer %llu..%llu", (unsigned long long)k->min,
	                (unsigned long long)k->max);
}

static int parse_u16(const struct pctx *p, void *f)
{
	uint64_t v;
	int rc = parse_uint(p, &v);

	if (rc == 0)
		*(uint16_t *)f = (uint16_t)v;
	return rc;
}

static int parse_u32(const struct pctx *p, void *f)
{
	uint64_t v;
	int rc = parse_uint(p, &v);

	if (rc == 0)
		*(uint32_t *)f = (uint32_t)v;
	return rc;
}

static int parse_u64(const struct pctx *p, void *f)
{
	return parse_uint(p, f);
}

/* A string whose length is in k->min..k->max (NAME: of a safe alphabet). */
static int check_str(const struct pctx *p)
{
	const struct edge_config_key *k = p->k;
	size_t len = p->value ? strlen(p->value) : 0;
	static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                 "abcdefghijklmnopqrstuvwxyz"
	                                 "0123456789._-";

	if (k->type == EDGE_CT_NAME && p->value &&
	    strspn(p->value, name_chars) != len)
		return expected(p,
		                "%s of %llu..%llu characters A-Z a-z 0-9 . _ -",
		                k->arg, (unsigned long long)k->min,
		                (unsigned long long)k->max);
	if (p->value && len >= k->min && len <= k->max)
		return 0;
	if (k->type == EDGE_CT_NAME)
		return expected(p,
		                "%s of %llu..%llu characters A-Z a-z 0-9 . _ -",
		                k->arg, (unsigned long long)k->min,
		                (unsigned long long)k->max);
	if (k->min == 0)
		return expected(p, "%s of at most %llu characters", k->arg,
		                (unsigned long long)k->max);
	return expected(p, "%s of %llu..%llu characters", k->arg,
	                (unsigned long long)k->min, (unsigned long long)k->max);
}

static int parse_str(const struct pctx *p, void *f)
{
	char **s = f, *copy = NULL;
	int rc = check_str(p);

	if (rc)
		return rc;
	if (*p->value && !(copy = strdup(p->value)))
		return ENOMEM;
	free_secret(*s, p->k->flags & EDGE_CK_SECRET);
	*s = copy;
	return 0;
}

static int parse_str_list(const struct pctx *p, void *f)
{
	struct edge_str_list *l = f;
	char **a, *copy;
	int rc = check_str(p);

	if (rc)
		return rc;
	if (!(copy = strdup(p->value)))
		return ENOMEM;
	if (!(a = grow(l->v, l->n, sizeof(*a)))) {
		free_secret(copy, p->k->flags & EDGE_CK_SECRET);
		return ENOMEM;
	}
	l->v = a;
	a[l->n++] = copy;
	return 0;
}

static int parse_ip_list(const struct pctx *p, void *f)
{
	struct edge_ip_list *l = f;
	struct edge_ip *a;
	struct ip ip;

	if (!p->value || !parse_ip(p->value, strlen(p->value), &ip))
		return expected(p, "an IPv4 or IPv6 address");
	if (!(a = grow(l->v, l->n, sizeof(*a))))
		return ENOMEM;
	l->v = a;
	if (!(a[l->n].text = strdup(p->value)))
		return ENOMEM;
	a[l->n].addr_len = to_sockaddr(&ip, 0, &a[l->n].addr);
	l->n++;
	return 0;
}

static int parse_external_ip(const struct pctx *p, void *f)
{
	struct edge_external_ip_list *l = f;
	struct edge_external_ip *a;
	const char *v = p->value, *slash = v ? strchr(v, '/') : NULL;
	struct ip pub, priv;
	size_t pub_len = v ? (slash ? (size_t)(slash - v) : strlen(v)) : 0;

	if (!v || !parse_ip(v, pub_len, &pub) ||
	    (slash && (!parse_ip(slash + 1, strlen(slash + 1), &priv) ||
	               priv.family != pub.family)))
		return expected(p, "PUBLIC-IP or PUBLIC-IP/PRIVATE-IP "
		                   "of one address family");
	if (!(a = grow(l->v, l->n, sizeof(*a))))
		return ENOMEM;
	l->v = a;
	if (!(a[l->n].text = strdup(v)))
		return ENOMEM;
	to_sockaddr(&pub, 0, &a[l->n].public_addr);
	if (slash)
		to_sockaddr(&priv, 0, &a[l->n].private_addr);
	a[l->n].has_private = slash != NULL;
	l->n++;
	return 0;
}

/* IP, IP/PREFIX (host bits masked) or IP-IP (lo <= hi) into r. */
static bool parse_range(const char *v, struct edge_ip_range *r)
{
	const char *slash = strchr(v, '/'), *dash = strchr(v, '-');
	const char *end = slash ? slash : dash ? dash : v + strlen(v);
	struct ip lo, hi;
	uint64_t prefix;

	if (!parse_ip(v, (size_t)(end - v), &lo))
		return false;
	hi = lo;
	if (slash) {
		size_t bits = 8 * ip_bytes(lo.family);
		if (!digits(slash + 1, strlen(slash + 1), bits, &prefix))
			return false;
		for (size_t i = prefix; i < bits; i++) {
			lo.b[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
			hi.b[i / 8] |= (uint8_t)(0x80u >> (i % 8));
		}
	} else if (dash) {
		if (!parse_ip(dash + 1, strlen(dash + 1), &hi) ||
		    hi.family != lo.family ||
		    memcmp(lo.b, hi.b, ip_bytes(lo.family)) > 0)
			return false;
	}
	r->family = lo.family;
	memcpy(r->lo, lo.b, sizeof(r->lo));
	memcpy(r->hi, hi.b, sizeof(r->hi));
	return true;
}

bool edge_ip_range_parse(const char *v, struct edge_ip_range *r)
{
	return v && parse_range(v, r);
}

static int parse_ip_range(const struct pctx *p, void *f)
{
	struct edge_ip_range_list *l = f;
	struct edge_ip_range r = {0}, *a;

	if (!p->value || !parse_range(p->value, &r))
		return expected(p, "IP, IP/PREFIX or IP-IP (low-high)");
	if (!(a = grow(l->v, l->n, sizeof(*a))))
		return ENOMEM;
	l->v = a;
	if (!(r.text = strdup(p->value)))
		return ENOMEM;
	a[l->n++] = r;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* NAME:PASSWORD or NAME:0x<32 hex digits> into u (strings not yet set). */
static bool split_user(const char *v, struct edge_user *u, size_t *name_len)
{
	const char *colon = strchr(v, ':'), *pw;

	if (!colon || colon == v || !colon[1] || colon - v > 512)
		return false;
	*name_len = (size_t)(colon - v);
	pw = colon + 1;
	if (pw[0] != '0' || (pw[1] != 'x' && pw[1] != 'X'))
		return true;
	if (strlen(pw) != 34)
		return false;
	for (size_t i = 0; i < 16; i++) {
		int hi = hexval(pw[2 + 2 * i]), lo = hexval(pw[3 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		u->key[i] = (uint8_t)(hi << 4 | lo);
	}
	u->has_key = true;
	return true;
}

static int parse_user(const struct pctx *p, void *f)
{
	struct edge_user_list *l = f;
	struct edge_user u = {0}, *a;
	size_t name_len;

	if (!p->value || !split_user(p->value, &u, &name_len))
		return expected(p, "NAME:PASSWORD or NAME:0x + 32 hex digits");
	if (!(a = grow(l->v, l->n, sizeof(*a))))
		return ENOMEM;
	l->v = a;
	u.name = strndup(p->value, name_len);
	if (!u.has_key)
		u.password = strdup(p->value + name_len + 1);
	if (!u.name || (!u.has_key && !u.password)) {
		free(u.name);
		free(u.password);
		return ENOMEM;
	}
	a[l->n++] = u;
	return 0;
}

static int parse_enum(const struct pctx *p, void *f, const char *const *names,
                      size_t n, const char *what)
{
	for (size_t i = 0; i < n && p->value; i++) {
		if (strcasecmp(p->value, names[i]) == 0) {
			*(int *)f = (int)i;
			return 0;
		}
	}
	return expected(p, "%s", what);
}

static int parse_log_level(const struct pctx *p, void *f)
{
	static const char *const names[] = {
	        [EDGE_LOG_ERROR] = "error",
	        [EDGE_LOG_WARN] = "warn",
	        [EDGE_LOG_INFO] = "info",
	        [EDGE_LOG_DEBUG] = "debug",
	};
	_Static_assert(sizeof(enum edge_log_level) == sizeof(int), "enum");
	return parse_enum(p, f, names, 4, "one of error, warn, info, debug");
}

static int parse_log_format(const struct pctx *p, void *f)
{
	static const char *const names[] = {
	        [EDGE_LOG_TEXT] = "text",
	        [EDGE_LOG_JSON] = "json",
	};
	_Static_assert(sizeof(enum edge_log_format) == sizeof(int), "enum");
	return parse_enum(p, f, names, 2, "one of text, json");
}

/* HOST (name, IPv4, or [IPv6]) then optional :PORT in s[0..len). */
static const char *split_host(const char *s, size_t len,
                              struct edge_redis_url *r)
{
	const char *end = s + len, *h = s, *he, *colon;
	static const char host_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                 "abcdefghijklmnopqrstuvwxyz"
	                                 "0123456789.-";
	struct ip ip;
	uint64_t port;

	if (len && *s == '[') {
		h = s + 1;
		if (!(he = memchr(h, ']', len - 1)) ||
		    !parse_ip(h, (size_t)(he - h), &ip) ||
		    ip.family != AF_INET6)
			return "bad [IPv6] host";
		colon = he + 1 < end ? he + 1 : NULL;
		if (colon && *colon != ':')
			return "text after ]";
	} else {
		he = (colon = memchr(s, ':', len)) ? colon : end;
		if (he == h || strspn(h, host_chars) < (size_t)(he - h))
			return "bad host";
	}
	if (colon &&
	    !digits(colon + 1, (size_t)(end - colon - 1), 65535, &port))
		return "bad port";
	r->port = colon ? (uint16_t)port : 6379;
	if (!r->port)
		return "bad port";
	r->host = strndup(h, (size_t)(he - h));
	return NULL;
}

static const char nomem[] = "out of memory";

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] into r; a reason or NULL. */
static const char *split_redis(const char *v, struct edge_redis_url *r)
{
	const char *a = v + 8, *path, *at, *colon, *err;
	uint64_t db = 0;

	if (strncasecmp(v, "redis://", 8) != 0)
		return "scheme must be redis://";
	path = a + strcspn(a, "/?#");
	if (strpbrk(path, "?#"))
		return "no ?query or #fragment";
	at = memrchr(a, '@', (size_t)(path - a));
	if (at) {
		colon = memchr(a, ':', (size_t)(at - a));
		if (!colon || colon + 1 == at)
			return "credentials must be [USER]:PASSWORD@";
		if (colon > a && !(r->user = strndup(a, (size_t)(colon - a))))
			return nomem;
		r->password = strndup(colon + 1, (size_t)(at - colon - 1));
		if (!r->password)
			return nomem;
		a = at + 1;
	}
	if ((err = split_host(a, (size_t)(path - a), r)))
		return err;
	if (!r->host)
		return nomem;
	if (path[0] && path[1] &&
	    !digits(path + 1, strlen(path + 1), 65535, &db))
		return "DB must be a number 0..65535";
	r->db = (uint32_t)db;
	return NULL;
}

static void release_redis(void *f, bool secret);

static int parse_redis(const struct pctx *p, void *f)
{
	struct edge_redis_url r = {0};
	const char *err = split_redis(p->value, &r);

	if (!err && !(r.url = strdup(p->value)))
		err = nomem;
	if (err) {
		release_redis(&r, true);
		if (err == nomem)
			return ENOMEM;
		return expected(p,
		                "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] "
		                "(%s)",
		                err);
	}
	release_redis(f, true);
	*(struct edge_redis_url *)f = r;
	return 0;
}

/* IPv4:PORT or [IPv6]:PORT, port 1..65535. */
static int parse_hostport(const struct pctx *p, void *f)
{
	struct edge_hostport *hp = f;
	const char *v = p->value, *h = NULL, *he = NULL, *colon = NULL;
	struct ip ip;
	uint64_t port = 0;

	if (v && *v == '[') {
		h = v + 1;
		he = strchr(h, ']');
		colon = he && he[1] == ':' ? he + 1 : NULL;
	} else if (v) {
		h = v;
		he = colon = strrchr(v, ':');
	}
	if (!colon || !parse_ip(h, (size_t)(he - h), &ip) ||
	    (ip.family == AF_INET6) != (*v == '[') ||
	    !digits(colon + 1, strlen(colon + 1), 65535, &port) || !port)
		return expected(p, "IPv4:PORT or [IPv6]:PORT");
	char *text = strdup(v);
	if (!text)
		return ENOMEM;
	free(hp->text);
	hp->text = text;
	hp->addr_len = to_sockaddr(&ip, (uint16_t)port, &hp->addr);
	return 0;
}

/* ---- release ---- */

static void release_str(void *f, bool secret)
{
	free_secret(*(char **)f, secret);
	*(char **)f = NULL;
}

static void release_str_list(void *f, bool secret)
{
	struct edge_str_list *l = f;

	for (size_t i = 0; i < l->n; i++)
		free_secret(l->v[i], secret);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void release_ip_list(void *f, bool secret)
{
	struct edge_ip_list *l = f;

	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].text);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void release_external_ip(void *f, bool secret)
{
	struct edge_external_ip_list *l = f;

	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].text);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void release_ip_range(void *f, bool secret)
{
	struct edge_ip_range_list *l = f;

	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].text);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void release_user(void *f, bool secret)
{
	struct edge_user_list *l = f;

	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free_secret(l->v[i].password, true);
	}
	if (l->v)
		explicit_bzero(l->v, l->n * sizeof(*l->v));
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void release_redis(void *f, bool secret)
{
	struct edge_redis_url *r = f;

	free_secret(r->url, true);
	free(r->user);
	free_secret(r->password, true);
	free(r->host);
	memset(r, 0, sizeof(*r));
}

static void release_hostport(void *f, bool secret)
{
	struct edge_hostport *hp = f;

	free(hp->text);
	memset(hp, 0, sizeof(*hp));
}

/* ---- the realm keys (config.h, struct edge_realm_item) ---- */

/* IP, IP:PORT, [IPv6] or [IPv6]:PORT into it->addr (port 0: any). */
static bool split_listener(const char *v, struct edge_realm_item *it)
{
	const char *h = v, *he, *colon = NULL;
	struct ip ip;
	uint64_t port = 0;

	if (*v == '[') {
		h = v + 1;
		if (!(he = strchr(h, ']')) || (he[1] && he[1] != ':'))
			return false;
		colon = he[1] ? he + 1 : NULL;
	} else {
		colon = strchr(v, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL; /* a bare IPv6 address */
		he = colon ? colon : v + strlen(v);
	}
	if (!parse_ip(h, (size_t)(he - h), &ip) ||
	    (colon &&
	     (!digits(colon + 1, strlen(colon + 1), 65535, &port) || !port)))
		return false;
	to_sockaddr(&ip, (uint16_t)port, &it->addr);
	return true;
}

static bool split_host_name(const char *v, struct edge_realm_item *it)
{
	static const char host_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                                 "abcdefghijklmnopqrstuvwxyz"
	                                 "0123456789.-";
	size_t len = strlen(v);

	if (len == 0 || len > 253 || strspn(v, host_chars) != len ||
	    !(it->host = strdup(v)))
		return false;
	for (char *c = it->host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return true;
}

/* What follows REALM and its separator, by key; a reason or NULL. */
static const char *split_realm_rest(const char *name, const char *v,
                                    struct edge_realm_item *it)
{
	size_t nlen;
	uint64_t n;

	if (strcmp(name, "realm-listener") == 0)
		return split_listener(v, it) ? NULL : "IP[:PORT]";
	if (strcmp(name, "realm-sni") == 0)
		return split_host_name(v, it) ? NULL : "a host name";
	if (strcmp(name, "realm-user") == 0) {
		if (!split_user(v, &it->user, &nlen))
			return "NAME:PASSWORD or NAME:0x + 32 hex digits";
		it->user.name = strndup(v, nlen);
		if (!it->user.has_key)
			it->user.password = strdup(v + nlen + 1);
		return it->user.name && (it->user.has_key || it->user.password)
		               ? NULL
		               : nomem;
	}
	if (strcmp(name, "realm-secret") == 0) {
		if (!*v || strlen(v) > 256)
			return "a secret of 1..256 bytes";
		return (it->secret = strdup(v)) ? NULL : nomem;
	}
	if (!digits(v, strlen(v), UINT32_MAX, &n))
		return "a number";
	it->n = (uint32_t)n;
	return NULL;
}

static void release_realm_item(struct edge_realm_item *it)
{
	free_secret(it->text, true);
	free(it->realm);
	free(it->host);
	free(it->user.name);
	free_secret(it->user.password, true);
	free_secret(it->secret, true);
	explicit_bzero(it, sizeof(*it));
}

static int parse_realm(const struct pctx *p, void *f)
{
	struct edge_realm_list *l = f;
	struct edge_realm_item it = {0}, *a;
	bool at = strcmp(p->k->name, "realm-listener") == 0 ||
	          strcmp(p->k->name, "realm-sni") == 0;
	const char *v = p->value, *sep = strchr(v, at ? '@' : ':'), *err;
	size_t rlen = sep ? (size_t)(sep - v) : 0;

	if (!sep || rlen == 0 || rlen > 763 || strcspn(v, " \t:@") < rlen)
		return expected(p, "%s (REALM without blanks, ':' or '@')",
		                p->k->arg);
	for (size_t i = 0; i < rlen; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			return expected(p, "%s (REALM of printable ASCII)",
			                p->k->arg);
	err = split_realm_rest(p->k->name, sep + 1, &it);
	if (!err && (!(it.realm = strndup(v, rlen)) || !(it.text = strdup(v))))
		err = nomem;
	if (!err && !(a = grow(l->v, l->n, sizeof(*a))))
		err = nomem;
	if (err) {
		release_realm_item(&it);
		if (err == nomem)
			return ENOMEM;
		return expected(p, "%s (%s after the realm)", p->k->arg, err);
	}
	l->v = a;
	a[l->n++] = it;
	return 0;
}

static void release_realm(void *f, bool secret)
{
	struct edge_realm_list *l = f;

	(void)secret;
	for (size_t i = 0; i < l->n; i++)
		release_realm_item(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int parse_bw(const struct pctx *p, void *f)
{
	return edge_config_bw_parse(p->k, f, p->value, p->why, p->why_len);
}

static void release_bw(void *f, bool secret)
{
	(void)secret;
	edge_config_bw_release(f);
}

static const struct {
	int (*parse)(const struct pctx *p, void *field);
	void (*release)(void *field, bool secret); /* NULL: nothing owned */
} types[] = {
        [EDGE_CT_BOOL] = {parse_bool, NULL},
        [EDGE_CT_U16] = {parse_u16, NULL},
        [EDGE_CT_U32] = {parse_u32, NULL},
        [EDGE_CT_U64] = {parse_u64, NULL},
        [EDGE_CT_SIZE] = {parse_u32, NULL},
        [EDGE_CT_STR] = {parse_str, release_str},
        [EDGE_CT_NAME] = {parse_str, release_str},
        [EDGE_CT_STR_LIST] = {parse_str_list, release_str_list},
        [EDGE_CT_IP_LIST] = {parse_ip_list, release_ip_list},
        [EDGE_CT_EXTERNAL_IP_LIST] = {parse_external_ip, release_external_ip},
        [EDGE_CT_IP_RANGE_LIST] = {parse_ip_range, release_ip_range},
        [EDGE_CT_USER_LIST] = {parse_user, release_user},
        [EDGE_CT_LOG_LEVEL] = {parse_log_level, NULL},
        [EDGE_CT_LOG_FORMAT] = {parse_log_format, NULL},
        [EDGE_CT_REDIS_URL] = {parse_redis, release_redis},
        [EDGE_CT_HOSTPORT] = {parse_hostport, release_hostport},
        [EDGE_CT_REALM_LIST] = {parse_realm, release_realm},
        [EDGE_CT_BW_LIST] = {parse_bw, release_bw},
};

int edge_config_key_parse(const struct edge_config_key *k,
                          struct edge_config *cfg, const char *value, char *why,
                          size_t why_len)
{
	struct pctx p = {k, value, why, why_len};

	if (value == NULL && k->type != EDGE_CT_BOOL)
		return expected(&p, "%s", k->arg);
	return types[k->type].parse(&p, (char *)cfg + k->offset);
}

void edge_config_key_release(const struct edge_config_key *k,
                             struct edge_config *cfg)
{
	if (types[k->type].release)
		types[k->type].release((char *)cfg + k->offset,
		                       k->flags & EDGE_CK_SECRET);
}
