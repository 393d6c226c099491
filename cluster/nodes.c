/*
 * cluster/nodes.c - the registry as the nodes script returns it (the live
 * entries of avedge/node/<id>, decoded into records by the adapter,
 * edge/redis/peers.c): the alternate a node names in 300 Try Alternate
 * (RFC 8656 s9, redis.c posts it to the workers) and the other nodes'
 * listening endpoints, which are never relay peers (peers.c). Pure; the
 * entries are data other nodes wrote: every field may be missing or odd.
 */
#include "cluster/cluster.h"

#include <stdlib.h>
#include <string.h>

static const char *field(const struct cluster_rec *r, const char *name)
{
	const char *v = cluster_rec_get(r, name);

	return v ? v : "";
}

void cluster_alternate_pick(const struct cluster_rec *v, size_t n,
                            const char *self_id, struct cluster_alternate *out)
{
	unsigned long long least = 0;

	*out = (struct cluster_alternate){NULL, "", "", "", "", ""};
	for (size_t i = 0; i < n; i++) {
		const struct cluster_rec *h = &v[i];
		const char *id = field(h, "id"), *dr = field(h, "draining");
		unsigned long long a =
		        strtoull(field(h, "allocations"), NULL, 10);
		unsigned long long m =
		        strtoull(field(h, "max_allocations"), NULL, 10);

		if (!*id || strcmp(id, self_id) == 0 ||
		    (*dr && strcmp(dr, "0") != 0) || (m && a >= m))
			continue;
		if (out->id &&
		    (a > least || (a == least && strcmp(id, out->id) >= 0)))
			continue;
		least = a;
		*out = (struct cluster_alternate){
		        id,
		        field(h, "listen4"),
		        field(h, "listen6"),
		        field(h, "tls_port"),
		        field(h, "dtls_port"),
		        field(h, "domain"),
		};
	}
}

uint16_t cluster_port_of(const char *s)
{
	unsigned long v = strtoul(s, NULL, 10);

	return v <= 65535 ? (uint16_t)v : 0;
}

char *cluster_peer_endpoints(const struct cluster_rec *v, size_t n,
                             const char *self_id)
{
	size_t cap = 0, k = 0;
	char *all;

	for (size_t i = 0; i < n; i++) {
		const char *ep = cluster_rec_get(&v[i], "endpoints");
		if (ep)
			cap += strlen(ep) + 1;
	}
	if (!(all = malloc(cap + 1)))
		return NULL;
	all[0] = 0;
	for (size_t i = 0; i < n; i++) {
		const char *id = cluster_rec_get(&v[i], "id");
		const char *ep = cluster_rec_get(&v[i], "endpoints");
		if (!id || !ep || strcmp(id, self_id) == 0)
			continue;
		size_t len = strlen(ep);
		memcpy(all + k, ep, len);
		k += len;
		all[k++] = ' ';
		all[k] = 0;
	}
	return all;
}

bool cluster_endpoint_next(const char **s, const char **tok, size_t *len)
{
	const char *p = *s + strspn(*s, " ");

	if (!*p) {
		*s = p;
		return false;
	}
	*tok = p;
	*len = strcspn(p, " ");
	*s = p + *len;
	return true;
}

bool cluster_endpoint_split(const char *s, size_t len, char *ip, size_t cap,
                            uint16_t *port)
{
	char tmp[128];
	const char *colon;
	size_t n;
	long p;

	if (len == 0 || len >= sizeof(tmp) || memchr(s, 0, len))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	s = tmp;
	if (!(colon = strrchr(s, ':')))
		return false;
	n = (size_t)(colon - s);
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return false;
		s++;
		n -= 2;
	}
	if (n >= 64 || n >= cap)
		return false;
	p = strtol(colon + 1, NULL, 10);
	if (p <= 0 || p > 65535)
		return false;
	memcpy(ip, s, n);
	ip[n] = 0;
	*port = (uint16_t)p;
	return true;
}
