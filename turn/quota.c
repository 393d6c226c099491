/*
 * turn/quota.c - allocation quotas shared by the workers of a node
 * (coturn's user-quota and total-quota): a mutex-protected hash of quota
 * key -> live allocations, and the total. Taken on Allocate and released
 * when an allocation is freed, never per packet. The key is the static
 * user name or the id of a REST username (auth_result.quota_key), so a
 * fresh REST credential does not reset a user's count. An entry lives
 * while its count is above zero. Keys and totals are per realm (the
 * tuple's realm index); limits per realm, else the defaults.
 */
#include "turn/turn_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct quota_entry {
	struct quota_entry *next;
	uint64_t hash;
	uint32_t count;
	uint16_t len;
	uint8_t realm;
	char key[]; /* len bytes */
};

struct quota_realm {
	bool own; /* limits of its own (turn_quota_set_realm) */
	uint32_t user_quota, total_quota;
	uint32_t total;
};

struct turn_quota {
	pthread_mutex_t lock;
	uint32_t user_quota, total_quota; /* defaults of every realm */
	uint32_t total;                   /* all realms */
	struct quota_realm realm[TURN_MAX_REALMS];
	size_t nbuckets, n; /* power of two */
	struct quota_entry **b;
};

static uint64_t key_hash(unsigned realm, const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: keys are
	                                     * authenticated users */
	h = (h ^ realm) * 0x100000001b3ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)key[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

int turn_quota_new(struct turn_quota **out, uint32_t user_quota,
                   uint32_t total_quota)
{
	struct turn_quota *q;

	if (!out)
		return EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return ENOMEM;
	q->nbuckets = 256;
	q->b = calloc(q->nbuckets, sizeof(*q->b));
	if (!q->b || pthread_mutex_init(&q->lock, NULL) != 0) {
		free(q->b);
		free(q);
		return ENOMEM;
	}
	q->user_quota = user_quota;
	q->total_quota = total_quota;
	*out = q;
	return 0;
}

void turn_quota_free(struct turn_quota *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->nbuckets; i++) {
		struct quota_entry *e = q->b[i];
		while (e) {
			struct quota_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(q->b);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static struct quota_entry **find(struct turn_quota *q, unsigned realm,
                                 const char *key, size_t len, uint64_t h)
{
	struct quota_entry **pp = &q->b[h & (q->nbuckets - 1)];

	while (*pp &&
	       !((*pp)->hash == h && (*pp)->len == len &&
	         (*pp)->realm == realm && memcmp((*pp)->key, key, len) == 0))
		pp = &(*pp)->next;
	return pp;
}

static void grow(struct turn_quota *q)
{
	size_t n = q->nbuckets * 2;
	struct quota_entry **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return;
	for (size_t i = 0; i < q->nbuckets; i++) {
		struct quota_entry *e = q->b[i];
		while (e) {
			struct quota_entry *next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(q->b);
	q->b = nb;
	q->nbuckets = n;
}

int turn_quota_set_realm(struct turn_quota *q, unsigned realm,
                         uint32_t user_quota, uint32_t total_quota)
{
	if (!q || realm >= TURN_MAX_REALMS)
		return EINVAL;
	pthread_mutex_lock(&q->lock);
	q->realm[realm].own = true;
	q->realm[realm].user_quota = user_quota;
	q->realm[realm].total_quota = total_quota;
	pthread_mutex_unlock(&q->lock);
	return 0;
}

void turn_quota_set_limits(struct turn_quota *q, uint32_t user_quota,
                           uint32_t total_quota)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->user_quota = user_quota;
	q->total_quota = total_quota;
	for (unsigned i = 0; i < TURN_MAX_REALMS; i++)
		q->realm[i].own = false;
	pthread_mutex_unlock(&q->lock);
}

/* Under the lock (or before sharing). */
static void limits(const struct turn_quota *q, unsigned realm, uint32_t *uq,
                   uint32_t *tq)
{
	const struct quota_realm *r = &q->realm[realm];

	*uq = r->own ? r->user_quota : q->user_quota;
	*tq = r->own ? r->total_quota : q->total_quota;
}

void turn_quota_limits(const struct turn_quota *q, unsigned realm,
                       uint32_t *user_quota, uint32_t *total_quota)
{
	*user_quota = *total_quota = 0;
	if (!q)
		return;
	struct turn_quota *mq = (struct turn_quota *)q;
	pthread_mutex_lock(&mq->lock);
	limits(q, realm < TURN_MAX_REALMS ? realm : 0, user_quota, total_quota);
	pthread_mutex_unlock(&mq->lock);
}

bool turn_quota_take_in(struct turn_quota *q, unsigned realm, const char *key,
                        size_t key_len)
{
	bool ok = false;
	uint32_t uq, tq;

	if (!q)
		return true;
	if (key_len > 0xFFFF)
		return false;
	if (realm >= TURN_MAX_REALMS)
		realm = 0;
	uint64_t h = key_hash(realm, key, key_len);
	pthread_mutex_lock(&q->lock);
	limits(q, realm, &uq, &tq);
	if (tq && q->realm[realm].total >= tq)
		goto out;
	struct quota_entry **pp = find(q, realm, key, key_len, h);
	if (*pp) {
		if (uq && (*pp)->count >= uq)
			goto out;
		(*pp)->count++;
	} else if (uq) {
		struct quota_entry *e = malloc(sizeof(*e) + key_len);
		if (!e)
			goto out;
		e->hash = h;
		e->count = 1;
		e->len = (uint16_t)key_len;
		e->realm = (uint8_t)realm;
		memcpy(e->key, key, key_len);
		e->next = NULL;
		*pp = e;
		if (++q->n > q->nbuckets)
			grow(q);
	} /* else: nothing to count per key */
	q->realm[realm].total++;
	q->total++;
	ok = true;
out:
	pthread_mutex_unlock(&q->lock);
	return ok;
}

void turn_quota_release_in(struct turn_quota *q, unsigned realm,
                           const char *key, size_t key_len)
{
	if (!q)
		return;
	if (realm >= TURN_MAX_REALMS)
		realm = 0;
	uint64_t h = key_hash(realm, key, key_len);
	pthread_mutex_lock(&q->lock);
	struct quota_entry **pp = find(q, realm, key, key_len, h);
	if (*pp && --(*pp)->count == 0) {
		struct quota_entry *e = *pp;
		*pp = e->next;
		free(e);
		q->n--;
	}
	if (q->realm[realm].total)
		q->realm[realm].total--;
	if (q->total)
		q->total--;
	pthread_mutex_unlock(&q->lock);
}

bool turn_quota_take(struct turn_quota *q, const char *key, size_t key_len)
{
	return turn_quota_take_in(q, 0, key, key_len);
}

void turn_quota_release(struct turn_quota *q, const char *key, size_t key_len)
{
	turn_quota_release_in(q, 0, key, key_len);
}

uint32_t turn_quota_total(const struct turn_quota *q)
{
	uint32_t n;

	if (!q)
		return 0;
	struct turn_quota *mq = (struct turn_quota *)q;
	pthread_mutex_lock(&mq->lock);
	n = q->total;
	pthread_mutex_unlock(&mq->lock);
	return n;
}
