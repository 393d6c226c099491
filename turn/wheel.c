/*
 * turn/wheel.c - hierarchical timer wheel (Varghese & Lauck, scheme 7) for
 * the lifetimes of RFC 8656 allocations, permissions, channels and nonces.
 *
 * Time is cut into 10 ms ticks. Level L (0..4) has 64 slots of 64^L ticks;
 * a timer whose tick is less than 64^(L+1) ticks after the current tick
 * `cur` (and not less than 64^L) sits at level L in slot (tick >> 6L) & 63.
 * When `cur` reaches the start of a level-L slot's block, the slot is
 * re-filed one level down ("cascade"); level-0 slots hold single ticks and
 * are fired. A per-level 64-bit occupancy mask finds the next non-empty
 * slot with one count-trailing-zeros, so advance() jumps over idle time in
 * O(levels) instead of walking every tick. Re-filing is always correct
 * (placement depends only on the timer's tick and `cur`), which keeps the
 * invariants simple: each timer is cascaded or fired no later than its
 * tick, and firing compares the exact expires_ms.
 *
 * Lists are circular with sentinels in the wheel; a slot's occupancy bit is
 * recomputed from its list after each unlink, so a timer whose list id is
 * stale (spliced to the firing list) can still be cancelled. The wheel
 * owns no timer memory. Pure: no clock, no I/O.
 */
#include "turn/wheel.h"

#include <errno.h>
#include <stdlib.h>

#define BITS          6
#define SLOTS         (1u << BITS)
#define MASK          (SLOTS - 1)
#define LEVELS        5
#define SLOT_LISTS    (LEVELS * SLOTS)
#define LIST_DEFERRED SLOT_LISTS       /* armed from a callback, due now */
#define LIST_FIRING   (SLOT_LISTS + 1) /* the slot being fired */
#define NLISTS        (SLOT_LISTS + 2)
#define RES           TURN_WHEEL_RESOLUTION_MS

struct turn_wheel {
	struct turn_timer_link lists[NLISTS];
	uint64_t occupied[LEVELS]; /* bit s: slot s of the level non-empty */
	uint64_t cur;              /* current tick; earlier ticks are done */
	uint64_t adv_now_ms;       /* now_ms of the running advance */
	size_t count;              /* armed timers, deferred ones included */
	bool advancing;
};

/* ---- lists ------------------------------------------------------------- */

static void list_init(struct turn_timer_link *head)
{
	head->next = head->prev = head;
}

static bool list_empty(const struct turn_timer_link *head)
{
	return head->next == head;
}

static void list_append(struct turn_timer_link *head, struct turn_timer_link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static void list_unlink(struct turn_timer_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->next = l->prev = NULL;
}

/* Move every element of from to the end of to; from becomes empty. */
static void list_splice(struct turn_timer_link *from,
                        struct turn_timer_link *to)
{
	if (list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	list_init(from);
}

static struct turn_timer *list_pop(struct turn_timer_link *head)
{
	struct turn_timer_link *l = head->next;
	list_unlink(l);
	return (struct turn_timer *)l; /* link is the first member */
}

/* ---- filing ------------------------------------------------------------ */

static void update_bit(struct turn_wheel *w, unsigned id)
{
	if (id >= SLOT_LISTS)
		return;
	uint64_t bit = 1ull << (id % SLOTS);
	if (list_empty(&w->lists[id]))
		w->occupied[id / SLOTS] &= ~bit;
	else
		w->occupied[id / SLOTS] |= bit;
}

/* The list a timer expiring at expires_ms belongs in, relative to cur. */
static unsigned list_for(const struct turn_wheel *w, uint64_t expires_ms)
{
	uint64_t tick = expires_ms / RES;
	if (tick < w->cur)
		tick = w->cur; /* overdue: the current tick */
	uint64_t delta = tick - w->cur;
	for (unsigned level = 0; level < LEVELS; level++)
		if (delta < 1ull << (BITS * (level + 1)))
			return level * SLOTS +
			       ((tick >> (BITS * level)) & MASK);
	/* Beyond the top level: park at its farthest slot, re-filed later. */
	tick = w->cur + (1ull << (BITS * LEVELS)) - 1;
	return (LEVELS - 1) * SLOTS + ((tick >> (BITS * (LEVELS - 1))) & MASK);
}

static void file_timer(struct turn_wheel *w, struct turn_timer *t, unsigned id)
{
	t->list = (uint16_t)id;
	list_append(&w->lists[id], &t->link);
	update_bit(w, id);
}

static void unfile_timer(struct turn_timer *t)
{
	struct turn_wheel *w = t->wheel;
	list_unlink(&t->link);
	update_bit(w, t->list);
	w->count--;
	t->wheel = NULL;
}

/* ---- public: timers ------------------------------------------------------ */

void turn_timer_init(struct turn_timer *t, turn_timer_fn *fn, void *arg)
{
	*t = (struct turn_timer){.fn = fn, .arg = arg};
}

bool turn_timer_armed(const struct turn_timer *t)
{
	return t && t->wheel;
}

void turn_wheel_add(struct turn_wheel *w, struct turn_timer *t,
                    uint64_t expires_ms)
{
	if (!w || !t)
		return;
	if (t->wheel)
		unfile_timer(t);
	t->wheel = w;
	t->expires_ms = expires_ms;
	w->count++;
	if (w->advancing && expires_ms <= w->adv_now_ms)
		file_timer(w, t, LIST_DEFERRED);
	else
		file_timer(w, t, list_for(w, expires_ms));
}

void turn_wheel_cancel(struct turn_timer *t)
{
	if (t && t->wheel)
		unfile_timer(t);
}

/* ---- public: wheel ------------------------------------------------------- */

int turn_wheel_new(struct turn_wheel **out, uint64_t now_ms)
{
	if (!out)
		return EINVAL;
	struct turn_wheel *w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	for (unsigned i = 0; i < NLISTS; i++)
		list_init(&w->lists[i]);
	w->cur = now_ms / RES;
	*out = w;
	return 0;
}

void turn_wheel_free(struct turn_wheel *w)
{
	if (!w)
		return;
	for (unsigned i = 0; i < NLISTS; i++)
		while (!list_empty(&w->lists[i]))
			list_pop(&w->lists[i])->wheel = NULL;
	free(w);
}

size_t turn_wheel_count(const struct turn_wheel *w)
{
	return w ? w->count : 0;
}

static uint64_t rotr64(uint64_t x, unsigned s)
{
	return s ? (x >> s) | (x << (64 - s)) : x;
}

/* The tick at which level L next needs work: for level 0 the tick of the
 * first non-empty slot from cur on, for higher levels the start of the
 * first non-empty slot's block after the current one. UINT64_MAX if the
 * level is empty. */
static uint64_t level_event(const struct turn_wheel *w, unsigned level)
{
	uint64_t occ = w->occupied[level];
	if (!occ)
		return UINT64_MAX;
	unsigned shift = BITS * level;
	unsigned idx = (unsigned)(w->cur >> shift) & MASK;
	if (level == 0)
		return w->cur + (unsigned)__builtin_ctzll(rotr64(occ, idx));
	unsigned from = (idx + 1) & MASK;
	uint64_t d = (unsigned)__builtin_ctzll(rotr64(occ, from));
	return ((w->cur >> shift) + 1 + d) << shift;
}

static uint64_t next_event(const struct turn_wheel *w)
{
	uint64_t best = UINT64_MAX;
	for (unsigned level = 0; level < LEVELS; level++) {
		uint64_t ev = level_event(w, level);
		if (ev < best)
			best = ev;
	}
	return best;
}

/* Re-file the slots whose block starts at tick cur, top level first. */
static void cascade(struct turn_wheel *w)
{
	struct turn_timer_link tmp;
	list_init(&tmp);
	for (unsigned level = LEVELS - 1; level > 0; level--) {
		unsigned shift = BITS * level;
		if (w->cur & ((1ull << shift) - 1))
			continue;
		unsigned id = level * SLOTS + ((w->cur >> shift) & MASK);
		list_splice(&w->lists[id], &tmp);
		update_bit(w, id);
		while (!list_empty(&tmp)) {
			struct turn_timer *t = list_pop(&tmp);
			file_timer(w, t, list_for(w, t->expires_ms));
		}
	}
}

/* Fire the due timers of the current tick's slot; re-file the others. */
static size_t fire_slot(struct turn_wheel *w, uint64_t now_ms)
{
	unsigned id = w->cur & MASK;
	struct turn_timer_link *firing = &w->lists[LIST_FIRING];
	size_t fired = 0;
	list_splice(&w->lists[id], firing);
	update_bit(w, id);
	while (!list_empty(firing)) {
		struct turn_timer *t = list_pop(firing);
		if (t->expires_ms > now_ms) {
			file_timer(w, t, id);
			continue;
		}
		t->wheel = NULL; /* from here on the callback owns t */
		w->count--;
		fired++;
		if (t->fn)
			t->fn(t->arg, now_ms);
	}
	return fired;
}

size_t turn_wheel_advance(struct turn_wheel *w, uint64_t now_ms)
{
	if (!w || w->advancing)
		return 0;
	w->advancing = true;
	w->adv_now_ms = now_ms;
	uint64_t tick_now = now_ms / RES;
	size_t fired = 0;
	for (;;) { /* whole ticks before tick_now: everything in them is due */
		uint64_t ev = next_event(w);
		if (ev >= tick_now)
			break;
		if (ev > w->cur) {
			w->cur = ev;
			cascade(w);
		}
		if (w->occupied[0] & 1ull << (w->cur & MASK))
			fired += fire_slot(w, now_ms);
	}
	if (tick_now > w->cur) {
		w->cur = tick_now;
		cascade(w);
	}
	fired += fire_slot(w, now_ms); /* the current tick, up to now_ms */
	w->advancing = false;
	struct turn_timer_link *deferred = &w->lists[LIST_DEFERRED];
	while (!list_empty(deferred)) {
		struct turn_timer *t = list_pop(deferred);
		file_timer(w, t, list_for(w, t->expires_ms));
	}
	return fired;
}

static uint64_t min_expiry(const struct turn_timer_link *head)
{
	uint64_t best = UINT64_MAX;
	for (const struct turn_timer_link *l = head->next; l != head;
	     l = l->next) {
		const struct turn_timer *t = (const struct turn_timer *)l;
		if (t->expires_ms < best)
			best = t->expires_ms;
	}
	return best;
}

uint64_t turn_wheel_next_deadline(const struct turn_wheel *w)
{
	if (!w || w->count == 0)
		return UINT64_MAX;
	uint64_t best = min_expiry(&w->lists[LIST_DEFERRED]);
	uint64_t ev0 = level_event(w, 0);
	if (ev0 != UINT64_MAX) {
		uint64_t m = min_expiry(&w->lists[ev0 & MASK]);
		best = m < best ? m : best;
	}
	for (unsigned level = 1; level < LEVELS; level++) {
		uint64_t ev = level_event(w, level);
		if (ev != UINT64_MAX && ev * RES < best)
			best = ev * RES;
	}
	return best;
}
