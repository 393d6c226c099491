/*
 * turn/ports.c - relay port pool (see ports.h for the contract).
 *
 * The pool works on pairs {2k, 2k+1}. Each pair has a state byte (which of
 * its two ports are in range, free, quarantined) and a position in order[],
 * an array of all pairs partitioned by how many free ports they have:
 *
 *     order[] = [ two free: n2 | one free: n1 | none free ]
 *
 * with pos[] the inverse. A port changing state moves its pair to the next
 * class by one swap at a class boundary: O(1). A random free port is the
 * r-th of the 2*n2 + n1 free ports counted through that array; a random
 * even pair is one of the first n2 entries. Quarantined ports wait in a
 * FIFO ring (one fixed duration, so the ring is ordered by release time).
 * The pool owns its arrays. Pure: no I/O, no clock.
 */
#include "turn/ports.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

enum {
	FREE_LO = 1 << 0, /* the even port is free */
	FREE_HI = 1 << 1, /* the odd port is free */
	QUAR_LO = 1 << 2,
	QUAR_HI = 1 << 3,
	IN_LO = 1 << 4, /* the even port is inside min..max */
	IN_HI = 1 << 5,
};

struct quarantine {
	uint64_t until_ms;
	uint16_t port;
};

struct turn_ports {
	uint32_t base;  /* even port of pair 0 */
	uint32_t first; /* share: first..last, inclusive */
	uint32_t last;
	uint32_t npairs; /* <= 32768 */
	uint32_t total;
	uint32_t n2, n1; /* pairs with two / one free port(s) */
	uint16_t *order; /* pairs by class, see above */
	uint16_t *pos;   /* pair -> index in order */
	uint8_t *state;  /* pair -> FREE_* | QUAR_* | IN_* */
	struct quarantine *ring;
	uint32_t ring_cap, ring_head, ring_len; /* cap: 0 or a power of 2 */
	uint64_t take_failures, quarantined_ever;
};

static unsigned free_count(uint8_t s)
{
	return (s & FREE_LO ? 1u : 0u) + (s & FREE_HI ? 1u : 0u);
}

static void swap_order(struct turn_ports *pool, uint32_t i, uint32_t j)
{
	uint16_t a = pool->order[i], b = pool->order[j];
	pool->order[i] = b;
	pool->order[j] = a;
	pool->pos[b] = (uint16_t)i;
	pool->pos[a] = (uint16_t)j;
}

/* Move a pair one class down (one port fewer free) or up. */
static void class_down(struct turn_ports *pool, uint16_t pair, unsigned from)
{
	if (from == 2) {
		swap_order(pool, pool->pos[pair], pool->n2 - 1);
		pool->n2--;
		pool->n1++;
	} else {
		swap_order(pool, pool->pos[pair], pool->n2 + pool->n1 - 1);
		pool->n1--;
	}
}

static void class_up(struct turn_ports *pool, uint16_t pair, unsigned from)
{
	if (from == 0) {
		swap_order(pool, pool->pos[pair], pool->n2 + pool->n1);
		pool->n1++;
	} else {
		swap_order(pool, pool->pos[pair], pool->n2);
		pool->n2++;
		pool->n1--;
	}
}

/* Set a pair's state, keeping order[] partitioned. */
static void set_state(struct turn_ports *pool, uint16_t pair, uint8_t s)
{
	unsigned from = free_count(pool->state[pair]), to = free_count(s);
	pool->state[pair] = s;
	for (; from > to; from--)
		class_down(pool, pair, from);
	for (; from < to; from++)
		class_up(pool, pair, from);
}

/* Pair and its FREE_ bit for a port of this share; false if outside. */
static bool locate(const struct turn_ports *pool, uint16_t port, uint16_t *pair,
                   uint8_t *bit)
{
	if (!pool || port < pool->first || port > pool->last)
		return false;
	*pair = (uint16_t)((port - pool->base) >> 1);
	*bit = (port & 1) ? FREE_HI : FREE_LO;
	return true;
}

static uint16_t port_of(const struct turn_ports *pool, uint16_t pair,
                        uint8_t bit)
{
	return (uint16_t)(pool->base + 2u * pair + (bit == FREE_HI));
}

/* Uniform index in [0, n) from 32 random bits (multiply-shift). */
static uint32_t pick(uint32_t rng, uint32_t n)
{
	return (uint32_t)(((uint64_t)rng * n) >> 32);
}

/* ---- construction ------------------------------------------------------ */

static void init_pairs(struct turn_ports *pool, uint16_t min_port,
                       uint16_t max_port)
{
	pool->n2 = pool->n1 = 0;
	for (uint32_t i = 0; i < pool->npairs; i++) {
		uint32_t lo = pool->base + 2 * i;
		uint8_t s = 0;
		if (lo >= min_port && lo <= max_port)
			s |= IN_LO | FREE_LO;
		if (lo + 1 >= min_port && lo + 1 <= max_port)
			s |= IN_HI | FREE_HI;
		pool->state[i] = s;
		pool->total += free_count(s);
		pool->order[i] = (uint16_t)i;
		pool->pos[i] = (uint16_t)i;
	}
	/* All pairs start in class 2 except cut ones at the ends. */
	pool->n2 = pool->npairs;
	for (uint32_t i = 0; i < pool->npairs; i++) {
		unsigned fc = free_count(pool->state[i]);
		for (unsigned c = 2; c > fc; c--)
			class_down(pool, (uint16_t)i, c);
	}
}

int turn_ports_new(struct turn_ports **out, uint16_t min_port,
                   uint16_t max_port, unsigned worker_index, unsigned nworkers)
{
	if (!out || min_port == 0 || min_port > max_port || nworkers == 0 ||
	    worker_index >= nworkers)
		return EINVAL;
	uint32_t q0 = min_port >> 1, all = (max_port >> 1) - q0 + 1u;
	uint32_t qa = q0 + (uint32_t)((uint64_t)all * worker_index / nworkers);
	uint32_t qb = q0 + (uint32_t)((uint64_t)all * (worker_index + 1) /
	                              nworkers); /* exclusive */
	if (qa == qb)
		return EINVAL;
	struct turn_ports *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return ENOMEM;
	pool->base = 2 * qa;
	pool->npairs = qb - qa;
	pool->first = pool->base < min_port ? min_port : pool->base;
	pool->last = 2 * qb - 1 > max_port ? max_port : 2 * qb - 1;
	pool->order = malloc(pool->npairs * sizeof(*pool->order));
	pool->pos = malloc(pool->npairs * sizeof(*pool->pos));
	pool->state = malloc(pool->npairs * sizeof(*pool->state));
	if (!pool->order || !pool->pos || !pool->state) {
		turn_ports_free(pool);
		return ENOMEM;
	}
	init_pairs(pool, min_port, max_port);
	*out = pool;
	return 0;
}

void turn_ports_free(struct turn_ports *pool)
{
	if (!pool)
		return;
	free(pool->order);
	free(pool->pos);
	free(pool->state);
	free(pool->ring);
	free(pool);
}

void turn_ports_share(const struct turn_ports *pool, uint16_t *first,
                      uint16_t *last)
{
	*first = pool ? (uint16_t)pool->first : 0;
	*last = pool ? (uint16_t)pool->last : 0;
}

/* ---- take and release ---------------------------------------------------- */

int turn_ports_take(struct turn_ports *pool, uint32_t rng, uint16_t *port)
{
	if (!pool || !port)
		return EINVAL;
	uint32_t nfree = 2 * pool->n2 + pool->n1;
	if (nfree == 0) {
		pool->take_failures++;
		return ENOSPC;
	}
	uint32_t r = pick(rng, nfree);
	uint16_t pair;
	uint8_t bit;
	if (r < 2 * pool->n2) {
		pair = pool->order[r / 2];
		bit = (r & 1) ? FREE_HI : FREE_LO;
	} else {
		pair = pool->order[pool->n2 + (r - 2 * pool->n2)];
		bit = (pool->state[pair] & FREE_LO) ? FREE_LO : FREE_HI;
	}
	set_state(pool, pair, pool->state[pair] & (uint8_t)~bit);
	*port = port_of(pool, pair, bit);
	return 0;
}

int turn_ports_take_even_pair(struct turn_ports *pool, uint32_t rng,
                              uint16_t *port)
{
	if (!pool || !port)
		return EINVAL;
	if (pool->n2 == 0) {
		pool->take_failures++;
		return ENOSPC;
	}
	uint16_t pair = pool->order[pick(rng, pool->n2)];
	set_state(pool, pair,
	          pool->state[pair] & (uint8_t) ~(FREE_LO | FREE_HI));
	*port = port_of(pool, pair, FREE_LO);
	return 0;
}

int turn_ports_take_specific(struct turn_ports *pool, uint16_t port)
{
	uint16_t pair;
	uint8_t bit;
	if (!locate(pool, port, &pair, &bit))
		return EINVAL;
	if (!(pool->state[pair] & bit))
		return EADDRINUSE;
	set_state(pool, pair, pool->state[pair] & (uint8_t)~bit);
	return 0;
}

int turn_ports_release(struct turn_ports *pool, uint16_t port)
{
	uint16_t pair;
	uint8_t bit;
	if (!locate(pool, port, &pair, &bit))
		return EINVAL;
	uint8_t s = pool->state[pair], quar = (uint8_t)(bit << 2);
	if (s & (bit | quar))
		return EINVAL; /* free already, or the pool's own */
	set_state(pool, pair, s | bit);
	return 0;
}

/* ---- quarantine ------------------------------------------------------------
 */

static int ring_grow(struct turn_ports *pool)
{
	uint32_t cap = pool->ring_cap ? pool->ring_cap * 2 : 16;
	struct quarantine *r = malloc(cap * sizeof(*r));
	if (!r)
		return ENOMEM;
	for (uint32_t i = 0; i < pool->ring_len; i++)
		r[i] = pool->ring[(pool->ring_head + i) & (pool->ring_cap - 1)];
	free(pool->ring);
	pool->ring = r;
	pool->ring_cap = cap;
	pool->ring_head = 0;
	return 0;
}

int turn_ports_quarantine(struct turn_ports *pool, uint16_t port,
                          uint64_t now_ms)
{
	uint16_t pair;
	uint8_t bit;
	if (!locate(pool, port, &pair, &bit))
		return EINVAL;
	uint8_t s = pool->state[pair], quar = (uint8_t)(bit << 2);
	if (s & (bit | quar))
		return EINVAL;
	if (pool->ring_len == pool->ring_cap && ring_grow(pool))
		return ENOMEM;
	uint32_t tail =
	        (pool->ring_head + pool->ring_len) & (pool->ring_cap - 1);
	pool->ring[tail] =
	        (struct quarantine){now_ms + TURN_PORTS_QUARANTINE_MS, port};
	pool->ring_len++;
	pool->state[pair] = s | quar; /* still not free: class unchanged */
	pool->quarantined_ever++;
	return 0;
}

unsigned turn_ports_expire(struct turn_ports *pool, uint64_t now_ms)
{
	unsigned n = 0;
	while (pool && pool->ring_len > 0 &&
	       pool->ring[pool->ring_head].until_ms <= now_ms) {
		uint16_t pair = 0;
		uint8_t bit = 0;
		if (!locate(pool, pool->ring[pool->ring_head].port, &pair,
		            &bit))
			abort(); /* only ports of this share are queued */
		pool->ring_head = (pool->ring_head + 1) & (pool->ring_cap - 1);
		pool->ring_len--;
		uint8_t s = pool->state[pair] & (uint8_t) ~(bit << 2);
		set_state(pool, pair, s | bit);
		n++;
	}
	return n;
}

uint64_t turn_ports_next_deadline(const struct turn_ports *pool)
{
	if (!pool || pool->ring_len == 0)
		return UINT64_MAX;
	return pool->ring[pool->ring_head].until_ms;
}

void turn_ports_stats(const struct turn_ports *pool,
                      struct turn_ports_stats *st)
{
	*st = (struct turn_ports_stats){0};
	if (!pool)
		return;
	st->total = pool->total;
	st->free = 2 * pool->n2 + pool->n1;
	st->quarantined = pool->ring_len;
	st->in_use = st->total - st->free - st->quarantined;
	st->free_pairs = pool->n2;
	st->take_failures = pool->take_failures;
	st->quarantined_ever = pool->quarantined_ever;
}
