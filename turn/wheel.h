/*
 * turn/wheel.h - hierarchical timer wheel for allocation, permission,
 * channel, nonce and reservation expiries (RFC 8656 s7-s11 lifetimes).
 *
 * Timers are intrusive: a struct turn_timer lives inside its owner
 * (allocation, permission, ...), so arming one never allocates. The wheel
 * keeps pointers to armed timers; an owner must cancel its timer before
 * freeing itself (x_free does) unless the timer is firing: a timer is
 * disarmed before its callback runs and the wheel never touches it again,
 * so a callback may free its owner, cancel other timers or re-arm itself.
 *
 * Resolution: timers are bucketed by 10 ms ticks, but firing compares the
 * exact expires_ms, so a timer fires at the first turn_wheel_advance()
 * with now_ms >= expires_ms: never early, never late beyond the caller's
 * own schedule. Five levels of 64 slots span 2^30 ticks (about 124 days);
 * later timers are parked at the top level and re-filed when reached.
 * Pure: time is a parameter (any monotonic millisecond clock), no I/O,
 * no globals. One wheel per worker; not thread-safe.
 */
#ifndef AVEDGE_TURN_WHEEL_H
#define AVEDGE_TURN_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TURN_WHEEL_RESOLUTION_MS 10

struct turn_wheel;

/* Called once when the timer expires, with the advance's now_ms (which may
 * be later than expires_ms). The timer is already disarmed. */
typedef void turn_timer_fn(void *arg, uint64_t now_ms);

struct turn_timer_link {
	struct turn_timer_link *next, *prev;
};

/* Embed in the owner; set up with turn_timer_init(). Fields are private
 * (shown only so the owner can embed the struct). */
struct turn_timer {
	struct turn_timer_link link; /* first: in a wheel list while armed */
	struct turn_wheel *wheel;    /* NULL while unarmed */
	uint64_t expires_ms;
	turn_timer_fn *fn;
	void *arg;
	uint16_t list; /* which list of the wheel holds it */
};

/* Initialise an unarmed timer that calls fn(arg, now_ms). Zeroed memory
 * is also a valid unarmed timer, but then fn is NULL: init before adding. */
void turn_timer_init(struct turn_timer *t, turn_timer_fn *fn, void *arg);

/* True while the timer is armed (added and neither fired nor cancelled). */
bool turn_timer_armed(const struct turn_timer *t);

/* Create an empty wheel whose clock starts at now_ms. Returns 0, EINVAL
 * (out NULL) or ENOMEM. */
int turn_wheel_new(struct turn_wheel **out, uint64_t now_ms);

/* Free the wheel; NULL is fine. Timers still armed are disarmed (not
 * fired), so their owners may cancel them later. Not from a callback. */
void turn_wheel_free(struct turn_wheel *w);

/* Arm t to fire at expires_ms, or move it there if already armed in this
 * wheel (refresh). O(1). A time already past fires on the next advance;
 * from a callback, a timer armed for a time <= the running advance's now_ms
 * fires on the next advance too, so a timer re-arming itself cannot spin. */
void turn_wheel_add(struct turn_wheel *w, struct turn_timer *t,
                    uint64_t expires_ms);

/* Disarm t. O(1); a no-op on an unarmed (or fired) timer. */
void turn_wheel_cancel(struct turn_timer *t);

/* Fire every timer with expires_ms <= now_ms exactly once, in order of
 * expiry across ticks (within one 10 ms tick, in order of arming). Returns
 * how many fired. Not re-entrant: from a callback it does nothing. */
size_t turn_wheel_advance(struct turn_wheel *w, uint64_t now_ms);

/* When to call turn_wheel_advance() next: the earliest pending expires_ms,
 * or an earlier moment at which the wheel re-files far timers (at most one
 * extra wake-up per level on the way to a far timer); UINT64_MAX when
 * empty. Never later than the true earliest expiry. */
uint64_t turn_wheel_next_deadline(const struct turn_wheel *w);

/* Number of armed timers. */
size_t turn_wheel_count(const struct turn_wheel *w);

#endif
