/*
 * edge/net/connlimit.c - node-wide connection counts per client IP, in an
 * open-addressing table keyed by the 16-byte address (IPv4 as IPv4-mapped
 * IPv6) that grows as needed; entries at zero are removed (backward-shift
 * deletion) so the table holds only addresses with open connections.
 */
#include "edge/net/connlimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct slot {
	uint8_t ip[16];
	uint32_t count; /* 0: empty */
};

struct edge_connlimit {
	pthread_mutex_t mu;
	uint32_t max_total, max_per_ip;
	uint32_t total;
	struct slot *v;
	size_t cap, used; /* cap a power of two */
};

static void ip_key(const struct sockaddr *sa, uint8_t ip[16])
{
	memset(ip, 0, 16);
	if (sa->sa_family == AF_INET6) {
		memcpy(ip,
		       &((const struct sockaddr_in6 *)(const void *)sa)
		                ->sin6_addr,
		       16);
	} else {
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12,
		       &((const struct sockaddr_in *)(const void *)sa)
		                ->sin_addr,
		       4);
	}
}

static size_t ip_hash(const uint8_t ip[16], size_t mask)
{
	uint64_t a, b;

	memcpy(&a, ip, 8);
	memcpy(&b, ip + 8, 8);
	uint64_t h = (a ^ (b * 0x9E3779B97F4A7C15ull)) * 0xBF58476D1CE4E5B9ull;
	return (size_t)(h ^ (h >> 31)) & mask;
}

static struct slot *find(struct edge_connlimit *cl, const uint8_t ip[16])
{
	size_t mask = cl->cap - 1;

	for (size_t i = ip_hash(ip, mask);; i = (i + 1) & mask) {
		if (cl->v[i].count == 0 || memcmp(cl->v[i].ip, ip, 16) == 0)
			return &cl->v[i];
	}
}

static int grow(struct edge_connlimit *cl)
{
	struct slot *old = cl->v;
	size_t ocap = cl->cap;

	cl->v = calloc(ocap * 2, sizeof(*cl->v));
	if (!cl->v) {
		cl->v = old;
		return ENOMEM;
	}
	cl->cap = ocap * 2;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].count)
			*find(cl, old[i].ip) = old[i];
	free(old);
	return 0;
}

/* Remove slot s and shift the following cluster back (linear probing). */
static void erase(struct edge_connlimit *cl, struct slot *s)
{
	size_t mask = cl->cap - 1, i = (size_t)(s - cl->v), j = i;

	cl->v[i].count = 0;
	for (;;) {
		j = (j + 1) & mask;
		if (cl->v[j].count == 0)
			break;
		size_t home = ip_hash(cl->v[j].ip, mask);
		/* Move j to i when its home is not in (i, j]. */
		if ((i <= j) ? (home <= i || home > j)
		             : (home <= i && home > j)) {
			cl->v[i] = cl->v[j];
			cl->v[j].count = 0;
			i = j;
		}
	}
	cl->used--;
}

int edge_connlimit_new(struct edge_connlimit **out, uint32_t total,
                       uint32_t per_ip)
{
	struct edge_connlimit *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return ENOMEM;
	cl->cap = 1024;
	cl->v = calloc(cl->cap, sizeof(*cl->v));
	if (!cl->v) {
		free(cl);
		return ENOMEM;
	}
	cl->max_total = total;
	cl->max_per_ip = per_ip;
	pthread_mutex_init(&cl->mu, NULL);
	*out = cl;
	return 0;
}

void edge_connlimit_free(struct edge_connlimit *cl)
{
	if (!cl)
		return;
	pthread_mutex_destroy(&cl->mu);
	free(cl->v);
	free(cl);
}

bool edge_connlimit_acquire(struct edge_connlimit *cl,
                            const struct sockaddr *addr)
{
	uint8_t ip[16];
	bool ok = false;

	ip_key(addr, ip);
	pthread_mutex_lock(&cl->mu);
	if (cl->max_total && cl->total >= cl->max_total)
		goto out;
	if ((cl->used + 1) * 2 > cl->cap && grow(cl) != 0)
		goto out;
	struct slot *s = find(cl, ip);
	if (cl->max_per_ip && s->count >= cl->max_per_ip)
		goto out;
	if (s->count == 0) {
		memcpy(s->ip, ip, 16);
		cl->used++;
	}
	s->count++;
	cl->total++;
	ok = true;
out:
	pthread_mutex_unlock(&cl->mu);
	return ok;
}

void edge_connlimit_release(struct edge_connlimit *cl,
                            const struct sockaddr *addr)
{
	uint8_t ip[16];

	ip_key(addr, ip);
	pthread_mutex_lock(&cl->mu);
	struct slot *s = find(cl, ip);
	if (s->count > 0) {
		cl->total--;
		if (--s->count == 0)
			erase(cl, s);
	}
	pthread_mutex_unlock(&cl->mu);
}

uint32_t edge_connlimit_total(struct edge_connlimit *cl)
{
	pthread_mutex_lock(&cl->mu);
	uint32_t n = cl->total;
	pthread_mutex_unlock(&cl->mu);
	return n;
}
