/*
 * auth/ratelimit.c - challenge pacing: a token bucket per source (IPv4
 * address or IPv6 /64) so that one sender cannot make us answer 401s at
 * line rate (each 401 costs a nonce MAC and a packet out).
 *
 * Memory is fixed at creation: a 4-way set-associative table hashed with
 * SipHash under the caller's seed. A source not in its set replaces the
 * least recently seen entry there and starts with a full bucket. The
 * trade-off (auth.h): a flood of new sources can evict a paced one and
 * hand it a fresh burst, but memory never grows and a lookup is O(1).
 * Tokens are counted in thousandths so refills need no floating point.
 * Per worker, no locks. Pure: time is now_ms.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"

#define WAYS          4
#define MILLI         1000u
#define DEFAULT_RATE  500u
#define DEFAULT_BURST 2000u
#define DEFAULT_ENTRY 4096u
#define MAX_BURST     1000000u
#define MAX_ENTRIES   (1u << 24)

struct rl_entry {
	uint8_t key[16];
	bool used;
	uint64_t last_ms;
	uint64_t tokens; /* thousandths of a token */
};

struct auth_ratelimit {
	uint8_t seed[16];
	uint64_t rate; /* thousandths per ms == tokens per s */
	uint64_t cap;  /* burst in thousandths */
	bool unlimited;
	size_t nsets; /* power of two */
	struct auth_ratelimit_stats stats;
	struct rl_entry *entries;
};

int auth_ratelimit_new(struct auth_ratelimit **out,
                       const struct auth_ratelimit_config *cfg,
                       const uint8_t seed[16])
{
	struct auth_ratelimit_config c = {0};

	*out = NULL;
	if (cfg != NULL)
		c = *cfg;
	if (seed == NULL || c.entries > MAX_ENTRIES)
		return EINVAL;
	struct auth_ratelimit *rl = calloc(1, sizeof(*rl));
	if (rl == NULL)
		return ENOMEM;
	size_t entries = pow2_at_least(c.entries ? c.entries : DEFAULT_ENTRY);
	if (entries < WAYS)
		entries = WAYS;
	rl->entries = calloc(entries, sizeof(*rl->entries));
	if (rl->entries == NULL) {
		free(rl);
		return ENOMEM;
	}
	memcpy(rl->seed, seed, sizeof(rl->seed));
	rl->nsets = entries / WAYS;
	rl->rate = c.rate_per_s ? c.rate_per_s : DEFAULT_RATE;
	uint64_t burst = c.burst ? c.burst : DEFAULT_BURST;
	rl->cap = (burst > MAX_BURST ? MAX_BURST : burst) * MILLI;
	rl->unlimited = c.unlimited;
	*out = rl;
	return 0;
}

void auth_ratelimit_free(struct auth_ratelimit *rl)
{
	if (rl == NULL)
		return;
	free(rl->entries);
	free(rl);
}

/* The entry of key: found in its set, or the set's least recently seen
 * (or free) entry, reset to a full bucket. */
static struct rl_entry *slot(struct auth_ratelimit *rl, const uint8_t key[16],
                             uint64_t now_ms)
{
	size_t set = siphash24(rl->seed, key, 16) & (rl->nsets - 1);
	struct rl_entry *e = &rl->entries[set * WAYS], *victim = e;

	for (int i = 0; i < WAYS; i++) {
		if (e[i].used && memcmp(e[i].key, key, 16) == 0)
			return &e[i];
		if (!e[i].used)
			victim = &e[i];
		else if (victim->used && e[i].last_ms < victim->last_ms)
			victim = &e[i];
	}
	if (victim->used)
		rl->stats.evictions++;
	memcpy(victim->key, key, 16);
	victim->used = true;
	victim->last_ms = now_ms;
	victim->tokens = rl->cap;
	return victim;
}

static void refill(const struct auth_ratelimit *rl, struct rl_entry *e,
                   uint64_t now_ms)
{
	if (now_ms <= e->last_ms)
		return; /* same ms, or the clock went back: nothing */
	uint64_t elapsed = now_ms - e->last_ms;
	e->last_ms = now_ms;
	if (elapsed >= rl->cap / rl->rate + 1) {
		e->tokens = rl->cap;
		return;
	}
	e->tokens += elapsed * rl->rate;
	if (e->tokens > rl->cap)
		e->tokens = rl->cap;
}

bool auth_ratelimit_allow(struct auth_ratelimit *rl, const struct sockaddr *src,
                          uint64_t now_ms)
{
	uint8_t key[16];

	if (rl->unlimited || !source_key(src, key)) {
		rl->stats.allowed++;
		return true;
	}
	struct rl_entry *e = slot(rl, key, now_ms);
	refill(rl, e, now_ms);
	if (e->tokens < MILLI) {
		rl->stats.paced++;
		return false;
	}
	e->tokens -= MILLI;
	rl->stats.allowed++;
	return true;
}

void auth_ratelimit_stats(const struct auth_ratelimit *rl,
                          struct auth_ratelimit_stats *st)
{
	*st = rl->stats;
}
