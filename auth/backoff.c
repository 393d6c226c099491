/*
 * auth/backoff.c - integrity-failure back-off per (source, username).
 *
 * Rules (auth.h has the contract): failures chained no more than window_ms
 * apart count up; at `threshold` the pair is blocked for initial_ms, and
 * each failure after a block (still in the chain) blocks again for twice
 * the previous length, capped at max_ms. Failures during a block are
 * dropped and do not extend it. The chain is forgotten after window_ms of
 * quiet counted from the later of the last failure and the block's end,
 * or at once when a request of the pair verifies.
 *
 * Fixed memory: a 4-way set-associative table keyed by SipHash of the
 * source key and a SipHash of the username (no strings stored). When a
 * set is full the victim is the least recently failed pair that is not
 * blocked, else the block that ends soonest: a flood of new pairs can lift
 * blocks (fail open) but never grows memory. Per worker, no locks. Pure:
 * time is now_ms.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"

#define WAYS              4
#define DEFAULT_THRESHOLD 5u
#define DEFAULT_WINDOW    60000u
#define DEFAULT_INITIAL   1000u
#define DEFAULT_MAX       60000u
#define DEFAULT_ENTRIES   4096u
#define MAX_ENTRIES       (1u << 24)

struct bo_entry {
	uint8_t key[16]; /* source */
	uint64_t user;   /* SipHash of the username */
	bool used;
	uint32_t count;    /* failures in the current chain */
	uint32_t next_ms;  /* length of the next block */
	uint64_t last_ms;  /* last failure */
	uint64_t until_ms; /* blocked while now < until_ms */
};

struct auth_backoff {
	uint8_t seed[16];
	struct auth_backoff_config cfg;
	size_t nsets;
	struct auth_backoff_stats stats;
	struct bo_entry *entries;
};

static uint32_t or_default(uint32_t v, uint32_t dflt)
{
	return v ? v : dflt;
}

int auth_backoff_new(struct auth_backoff **out,
                     const struct auth_backoff_config *cfg,
                     const uint8_t seed[16])
{
	struct auth_backoff_config c = {0};

	*out = NULL;
	if (cfg != NULL)
		c = *cfg;
	if (seed == NULL || c.entries > MAX_ENTRIES)
		return EINVAL;
	c.threshold = or_default(c.threshold, DEFAULT_THRESHOLD);
	c.window_ms = or_default(c.window_ms, DEFAULT_WINDOW);
	c.initial_ms = or_default(c.initial_ms, DEFAULT_INITIAL);
	c.max_ms = or_default(c.max_ms, DEFAULT_MAX);
	if (c.max_ms < c.initial_ms)
		return EINVAL;
	size_t entries = pow2_at_least(or_default(c.entries, DEFAULT_ENTRIES));
	if (entries < WAYS)
		entries = WAYS;
	c.entries = (uint32_t)entries;

	struct auth_backoff *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return ENOMEM;
	b->entries = calloc(entries, sizeof(*b->entries));
	if (b->entries == NULL) {
		free(b);
		return ENOMEM;
	}
	memcpy(b->seed, seed, sizeof(b->seed));
	b->cfg = c;
	b->nsets = entries / WAYS;
	*out = b;
	return 0;
}

void auth_backoff_free(struct auth_backoff *b)
{
	if (b == NULL)
		return;
	free(b->entries);
	free(b);
}

/* Identity of a pair: source key and username hash; false for a source
 * of an unknown family (never blocked). */
static bool pair_of(const struct auth_backoff *b, const struct sockaddr *src,
                    const char *user, size_t user_len, uint8_t key[16],
                    uint64_t *uh, size_t *set)
{
	uint8_t both[24];

	if (!source_key(src, key))
		return false;
	*uh = siphash24(b->seed, user, user_len);
	memcpy(both, key, 16);
	memcpy(both + 16, uh, 8);
	*set = siphash24(b->seed, both, sizeof(both)) & (b->nsets - 1);
	return true;
}

static struct bo_entry *find(struct auth_backoff *b, size_t set,
                             const uint8_t key[16], uint64_t uh)
{
	struct bo_entry *e = &b->entries[set * WAYS];
	for (int i = 0; i < WAYS; i++)
		if (e[i].used && e[i].user == uh &&
		    memcmp(e[i].key, key, 16) == 0)
			return &e[i];
	return NULL;
}

/* Is victim a better one to evict than cur? Free first, then unblocked
 * by oldest failure, then blocked by soonest end. */
static bool better_victim(const struct bo_entry *cur, const struct bo_entry *e,
                          uint64_t now_ms)
{
	if (!cur->used)
		return false;
	if (!e->used)
		return true;
	bool cur_blocked = cur->until_ms > now_ms;
	bool e_blocked = e->until_ms > now_ms;
	if (cur_blocked != e_blocked)
		return cur_blocked;
	if (!e_blocked)
		return e->last_ms < cur->last_ms;
	return e->until_ms < cur->until_ms;
}

static struct bo_entry *insert(struct auth_backoff *b, size_t set,
                               const uint8_t key[16], uint64_t uh,
                               uint64_t now_ms)
{
	struct bo_entry *e = &b->entries[set * WAYS], *victim = e;

	for (int i = 1; i < WAYS; i++)
		if (better_victim(victim, &e[i], now_ms))
			victim = &e[i];
	if (victim->used)
		b->stats.evictions++;
	memset(victim, 0, sizeof(*victim));
	memcpy(victim->key, key, 16);
	victim->user = uh;
	victim->used = true;
	victim->next_ms = b->cfg.initial_ms;
	return victim;
}

enum auth_backoff_verdict auth_backoff_failure(struct auth_backoff *b,
                                               const struct sockaddr *src,
                                               const char *user,
                                               size_t user_len, uint64_t now_ms)
{
	uint8_t key[16];
	uint64_t uh;
	size_t set;

	b->stats.failures++;
	if (!pair_of(b, src, user, user_len, key, &uh, &set))
		return AUTH_BACKOFF_ANSWER;
	struct bo_entry *e = find(b, set, key, uh);
	if (e == NULL)
		e = insert(b, set, key, uh, now_ms);
	if (e->until_ms > now_ms) {
		b->stats.dropped++;
		return AUTH_BACKOFF_DROP;
	}
	uint64_t quiet_from =
	        e->last_ms > e->until_ms ? e->last_ms : e->until_ms;
	if (e->count > 0 && now_ms > quiet_from &&
	    now_ms - quiet_from > b->cfg.window_ms) {
		e->count = 0;
		e->next_ms = b->cfg.initial_ms;
	}
	e->count++;
	e->last_ms = now_ms;
	if (e->count >= b->cfg.threshold) {
		e->until_ms = now_ms + e->next_ms;
		e->next_ms = e->next_ms > b->cfg.max_ms / 2 ? b->cfg.max_ms
		                                            : e->next_ms * 2;
		b->stats.backoffs++;
	}
	return AUTH_BACKOFF_ANSWER;
}

void auth_backoff_success(struct auth_backoff *b, const struct sockaddr *src,
                          const char *user, size_t user_len)
{
	uint8_t key[16];
	uint64_t uh;
	size_t set;

	if (!pair_of(b, src, user, user_len, key, &uh, &set))
		return;
	struct bo_entry *e = find(b, set, key, uh);
	if (e == NULL)
		return;
	b->stats.resets++;
	memset(e, 0, sizeof(*e));
}

bool auth_backoff_blocked(struct auth_backoff *b, const struct sockaddr *src,
                          const char *user, size_t user_len, uint64_t now_ms)
{
	uint8_t key[16];
	uint64_t uh;
	size_t set;

	if (!pair_of(b, src, user, user_len, key, &uh, &set))
		return false;
	const struct bo_entry *e = find(b, set, key, uh);
	if (e == NULL || e->until_ms <= now_ms)
		return false;
	b->stats.dropped++;
	return true;
}

void auth_backoff_stats(const struct auth_backoff *b,
                        struct auth_backoff_stats *st)
{
	*st = b->stats;
}
