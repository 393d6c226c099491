/*
 * turn/table.c - the hash tables of the TURN core: intrusive chains in a
 * power-of-two bucket array that doubles at load 1, a keyed hash (seeded
 * per server from cfg.seed, so a client cannot aim its keys at one chain),
 * and the address helpers the tables key on. Lookups are O(1) and
 * allocate nothing; insertion may grow the bucket array. Pure.
 */
#include "turn/turn_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int turn_htab_init(struct turn_htab *t, size_t nbuckets)
{
	size_t n = 16;

	while (n < nbuckets)
		n <<= 1;
	t->b = calloc(n, sizeof(*t->b));
	if (!t->b)
		return ENOMEM;
	t->mask = n - 1;
	t->n = 0;
	return 0;
}

void turn_htab_destroy(struct turn_htab *t)
{
	free(t->b);
	t->b = NULL;
	t->n = 0;
}

static void grow(struct turn_htab *t)
{
	size_t n = (t->mask + 1) * 2;
	struct turn_hnode **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* longer chains, still correct */
	for (size_t i = 0; i <= t->mask; i++) {
		struct turn_hnode *e = t->b[i];
		while (e) {
			struct turn_hnode *next = e->next;
			size_t j = e->hash & (n - 1);
			e->next = nb[j];
			nb[j] = e;
			e = next;
		}
	}
	free(t->b);
	t->b = nb;
	t->mask = n - 1;
}

void turn_htab_insert(struct turn_htab *t, struct turn_hnode *n, uint64_t hash)
{
	if (t->n >= t->mask + 1)
		grow(t);
	n->hash = hash;
	n->next = t->b[hash & t->mask];
	t->b[hash & t->mask] = n;
	t->n++;
}

void turn_htab_remove(struct turn_htab *t, struct turn_hnode *n)
{
	struct turn_hnode **pp = &t->b[n->hash & t->mask];

	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = n->next;
		t->n--;
	}
	n->next = NULL;
}

/* 64x64 -> 128 multiply folded (the mixing step of wyhash). */
static uint64_t mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

uint64_t turn_hash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = key[0] ^ (len * 0x9E3779B97F4A7C15ull);

	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = mum(h ^ w, key[1] ^ 0xA0761D6478BD642Full);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;
		memcpy(&w, p, len);
		h = mum(h ^ w, key[1] ^ 0xE7037ED1A0B428DBull);
	}
	return mum(h, key[0] ^ 0x8EBC6AF09C88C6E3ull);
}

bool turn_ipkey_set(struct turn_ipkey *k, const struct sockaddr *sa,
                    bool with_port)
{
	memset(k, 0, sizeof(*k));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(k->ip, &in->sin_addr, 4);
		k->port = with_port ? ntohs(in->sin_port) : 0;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		        (const struct sockaddr_in6 *)sa;
		memcpy(k->ip, &in6->sin6_addr, 16);
		k->port = with_port ? ntohs(in6->sin6_port) : 0;
	} else {
		return false;
	}
	k->family = (uint8_t)sa->sa_family;
	return true;
}

bool turn_addr_equal(const union turn_addr *a, const union turn_addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in4.sin_port == b->in4.sin_port &&
		       a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
	return false;
}

bool turn_tuple_equal(const struct turn_tuple *a, const struct turn_tuple *b)
{
	return a->listener == b->listener && a->conn == b->conn &&
	       a->transport == b->transport &&
	       turn_addr_equal(&a->client, &b->client);
}

uint64_t turn_tuple_hash(const uint64_t key[2], const struct turn_tuple *t)
{
	struct {
		struct turn_ipkey ip;
		uint32_t listener, conn;
		uint32_t transport;
	} k;

	memset(&k, 0, sizeof(k));
	turn_ipkey_set(&k.ip, &t->client.sa, true);
	k.listener = t->listener;
	k.conn = t->conn;
	k.transport = t->transport;
	return turn_hash(key, &k, sizeof(k));
}

void turn_addr_copy(union turn_addr *dst, const struct sockaddr *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->sa_family == AF_INET)
		memcpy(&dst->in4, src, sizeof(dst->in4));
	else if (src->sa_family == AF_INET6)
		memcpy(&dst->in6, src, sizeof(dst->in6));
}

void turn_addr_str(const union turn_addr *a, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->in4.sin_addr, ip, sizeof(ip));
		snprintf(buf, cap, "%s:%u", ip, ntohs(a->in4.sin_port));
	} else if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, cap, "[%s]:%u", ip, ntohs(a->in6.sin6_port));
	} else {
		snprintf(buf, cap, "-");
	}
}
