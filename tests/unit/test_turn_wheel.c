/*
 * tests/unit/test_turn_wheel.c - timer wheel (turn/wheel.h) on a fake
 * clock: exact edges, cancel, refresh, many timers, far future, callbacks
 * that cancel, re-arm or free.
 */
#include "tests/unit/check_main.h"
#include "turn/wheel.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define RES TURN_WHEEL_RESOLUTION_MS

struct rec {
	struct turn_timer timer;
	struct turn_wheel *wheel;
	uint64_t expires_ms;
	uint64_t fired_at; /* now_ms of the firing advance */
	unsigned fired;
	struct rec *victim;   /* to cancel from the callback */
	uint64_t rearm_delta; /* re-arm at now + this (if rearm) */
	bool rearm;
};

static void on_fire(void *arg, uint64_t now_ms)
{
	struct rec *r = arg;
	r->fired++;
	r->fired_at = now_ms;
	ck_assert(!turn_timer_armed(&r->timer));
	if (r->victim)
		turn_wheel_cancel(&r->victim->timer);
	if (r->rearm)
		turn_wheel_add(r->wheel, &r->timer, now_ms + r->rearm_delta);
}

static struct turn_wheel *wheel_at(uint64_t now_ms)
{
	struct turn_wheel *w = NULL;
	ck_assert_int_eq(turn_wheel_new(&w, now_ms), 0);
	return w;
}

static void arm(struct turn_wheel *w, struct rec *r, uint64_t expires_ms)
{
	turn_timer_init(&r->timer, on_fire, r);
	r->wheel = w;
	r->expires_ms = expires_ms;
	turn_wheel_add(w, &r->timer, expires_ms);
}

/* ---- edges --------------------------------------------------------------- */

static const uint64_t delays_ms[] = {
        0,
        1,
        9,
        10,
        11,
        639,
        640,
        641,
        40959,
        40960,
        40961,
        300000,
        600000,
        2621440,
        3600000,
        86400000,
        167772160,
        1000000000,
        10737418240ull + 5, /* past the top level: parked and re-filed */
        17280000000ull,     /* 200 days */
};
#define NDELAYS (int)(sizeof(delays_ms) / sizeof(delays_ms[0]))

/* One jump to just before the edge, then to the edge. */
START_TEST(test_turn_wheel_fires_at_exact_edge_jump)
{
	uint64_t start = 1000003, exp = start + delays_ms[_i];
	struct turn_wheel *w = wheel_at(start);
	struct rec r = {0};
	arm(w, &r, exp);
	if (exp > start) {
		ck_assert_uint_eq(turn_wheel_advance(w, exp - 1), 0);
		ck_assert_uint_eq(r.fired, 0);
	}
	ck_assert_uint_eq(turn_wheel_advance(w, exp), 1);
	ck_assert_uint_eq(r.fired, 1);
	ck_assert_uint_eq(r.fired_at, exp);
	ck_assert_uint_eq(turn_wheel_advance(w, exp + 100000), 0);
	ck_assert_uint_eq(turn_wheel_count(w), 0);
	turn_wheel_free(w);
}
END_TEST

/* Small irregular steps up to the edge, never early. */
START_TEST(test_turn_wheel_fires_at_exact_edge_steps)
{
	uint64_t start = 77, exp = start + delays_ms[_i];
	uint64_t step = delays_ms[_i] / 211 + 3, now = start;
	struct turn_wheel *w = wheel_at(start);
	struct rec r = {0};
	arm(w, &r, exp);
	while (now + step < exp) {
		now += step;
		turn_wheel_advance(w, now);
		ck_assert_uint_eq(r.fired, 0);
		ck_assert_uint_le(turn_wheel_next_deadline(w), exp);
	}
	turn_wheel_advance(w, exp - 1);
	ck_assert_uint_eq(r.fired, 0);
	turn_wheel_advance(w, exp);
	ck_assert_uint_eq(r.fired, 1);
	turn_wheel_free(w);
}
END_TEST

/* Sleeping until next_deadline reaches the timer exactly, in few wakeups. */
START_TEST(test_turn_wheel_next_deadline_walk)
{
	uint64_t start = 123456, exp = start + delays_ms[_i];
	struct turn_wheel *w = wheel_at(start);
	struct rec r = {0};
	unsigned wakeups = 0;
	ck_assert_uint_eq(turn_wheel_next_deadline(w), UINT64_MAX);
	arm(w, &r, exp);
	while (!r.fired) {
		uint64_t d = turn_wheel_next_deadline(w);
		ck_assert_uint_le(d, exp);
		ck_assert_uint_ne(d, UINT64_MAX);
		turn_wheel_advance(w, d);
		ck_assert_uint_lt(++wakeups, 12);
	}
	ck_assert_uint_eq(r.fired_at, exp);
	ck_assert_uint_eq(turn_wheel_next_deadline(w), UINT64_MAX);
	turn_wheel_free(w);
}
END_TEST

START_TEST(test_turn_wheel_past_expiry_fires_next_advance)
{
	struct turn_wheel *w = wheel_at(50000);
	struct rec r = {0};
	arm(w, &r, 10);
	ck_assert_uint_le(turn_wheel_next_deadline(w), 10);
	ck_assert_uint_eq(turn_wheel_advance(w, 50000), 1);
	ck_assert_uint_eq(r.fired, 1);
	turn_wheel_free(w);
}
END_TEST

START_TEST(test_turn_wheel_clock_going_back)
{
	struct turn_wheel *w = wheel_at(0);
	struct rec r = {0};
	turn_wheel_advance(w, 5000);
	arm(w, &r, 4500);
	ck_assert_uint_eq(turn_wheel_advance(w, 4000), 0);
	ck_assert_uint_eq(turn_wheel_advance(w, 4499), 0);
	ck_assert_uint_eq(turn_wheel_advance(w, 4500), 1);
	turn_wheel_free(w);
}
END_TEST

START_TEST(test_turn_wheel_epoch_clock)
{
	uint64_t now = 1700000000123ull; /* a wall-clock-sized value */
	struct turn_wheel *w = wheel_at(now);
	struct rec r = {0};
	arm(w, &r, now + 3600000);
	ck_assert_uint_eq(turn_wheel_advance(w, now + 3599999), 0);
	ck_assert_uint_eq(turn_wheel_advance(w, now + 3600000), 1);
	turn_wheel_free(w);
}
END_TEST

/* ---- cancel and refresh -----------------------------------------------------
 */

START_TEST(test_turn_wheel_cancel)
{
	struct turn_wheel *w = wheel_at(0);
	struct rec a = {0}, b = {0}, idle = {0};
	turn_timer_init(&idle.timer, on_fire, &idle);
	turn_wheel_cancel(&idle.timer); /* unarmed: no-op */
	turn_wheel_cancel(NULL);
	arm(w, &a, 1000);
	arm(w, &b, 1000);
	ck_assert(turn_timer_armed(&a.timer));
	ck_assert_uint_eq(turn_wheel_count(w), 2);
	turn_wheel_cancel(&a.timer);
	turn_wheel_cancel(&a.timer); /* twice: no-op */
	ck_assert(!turn_timer_armed(&a.timer));
	ck_assert_uint_eq(turn_wheel_count(w), 1);
	ck_assert_uint_eq(turn_wheel_advance(w, 5000), 1);
	ck_assert_uint_eq(a.fired, 0);
	ck_assert_uint_eq(b.fired, 1);
	turn_wheel_cancel(&b.timer); /* after firing: no-op */
	ck_assert_uint_eq(turn_wheel_count(w), 0);
	ck_assert_uint_eq(turn_wheel_next_deadline(w), UINT64_MAX);
	turn_wheel_free(w);
}
END_TEST

START_TEST(test_turn_wheel_cancel_far_keeps_deadline_sane)
{
	struct turn_wheel *w = wheel_at(0);
	struct rec a = {0}, b = {0};
	arm(w, &a, 86400000);
	arm(w, &b, 600000);
	turn_wheel_cancel(&b.timer);
	ck_assert_uint_le(turn_wheel_next_deadline(w), 86400000);
	turn_wheel_cancel(&a.timer);
	ck_assert_uint_eq(turn_wheel_next_deadline(w), UINT64_MAX);
	ck_assert_uint_eq(turn_wheel_advance(w, 100000000), 0);
	turn_wheel_free(w);
}
END_TEST

START_TEST(test_turn_wheel_refresh)
{
	struct turn_wheel *w = wheel_at(0);
	struct rec r = {0};
	arm(w, &r, 1000);
	turn_wheel_add(w, &r.timer, 600000); /* refresh: later */
	ck_assert_uint_eq(turn_wheel_count(w), 1);
	ck_assert_uint_eq(turn_wheel_advance(w, 1000), 0);
	ck_assert_uint_eq(turn_wheel_advance(w, 599999), 0);
	turn_wheel_add(w, &r.timer, 700000); /* refresh again */
	ck_assert_uint_eq(turn_wheel_advance(w, 600000), 0);
	turn_wheel_add(w, &r.timer, 650000); /* refresh: earlier */
	ck_assert_uint_eq(turn_wheel_advance(w, 649999), 0);
	ck_assert_uint_eq(turn_wheel_advance(w, 650000), 1);
	ck_assert_uint_eq(r.fired, 1);
	ck_assert_uint_eq(turn_wheel_advance(w, 800000), 0);
	turn_wheel_free(w);
}
END_TEST

START_TEST(test_turn_wheel_move_between_wheels)
{
	struct turn_wheel *w1 = wheel_at(0), *w2 = wheel_at(0);
	struct rec r = {0};
	arm(w1, &r, 100);
	turn_wheel_add(w2, &r.timer, 200);
	ck_assert_uint_eq(turn_wheel_count(w1), 0);
	ck_assert_uint_eq(turn_wheel_count(w2), 1);
	ck_assert_uint_eq(turn_wheel_advance(w1, 1000), 0);
	ck_assert_uint_eq(turn_wheel_advance(w2, 1000), 1);
	turn_wheel_free(w1);
	turn_wheel_free(w2);
}
END_TEST

/* ---- many ---------------------------------------------------------------- */

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

static uint64_t last_tick;
static uint64_t adv_prev, adv_now;

static void on_fire_ordered(void *arg, uint64_t now_ms)
{
	struct rec *r = arg;
	on_fire(arg, now_ms);
	ck_assert_uint_le(r->expires_ms, now_ms);          /* never early */
	ck_assert_uint_gt(r->expires_ms, adv_prev);        /* never late */
	ck_assert_uint_ge(r->expires_ms / RES, last_tick); /* in order */
	last_tick = r->expires_ms / RES;
}

START_TEST(test_turn_wheel_many_timers)
{
	enum { N = 20000 };
	struct rec *recs = calloc(N, sizeof(*recs));
	struct turn_wheel *w = wheel_at(0);
	uint64_t seed = 42, max_exp = 0;
	for (int i = 0; i < N; i++) {
		uint64_t exp = lcg(&seed) % 7200000;
		arm(w, &recs[i], exp);
		recs[i].timer.fn = on_fire_ordered;
		max_exp = exp > max_exp ? exp : max_exp;
	}
	/* refresh a third, cancel a tenth */
	for (int i = 0; i < N; i += 3) {
		recs[i].expires_ms = lcg(&seed) % 7200000;
		turn_wheel_add(w, &recs[i].timer, recs[i].expires_ms);
	}
	for (int i = 0; i < N; i += 10)
		turn_wheel_cancel(&recs[i].timer);
	ck_assert_uint_eq(turn_wheel_count(w), N - N / 10);
	adv_prev = 0;
	size_t total = 0;
	while (turn_wheel_count(w) > 0) {
		adv_now = adv_prev + 1 + lcg(&seed) % 20000;
		last_tick = 0;
		total += turn_wheel_advance(w, adv_now);
		adv_prev = adv_now;
	}
	ck_assert_uint_eq(total, N - N / 10);
	for (int i = 0; i < N; i++)
		ck_assert_uint_eq(recs[i].fired, i % 10 == 0 ? 0 : 1);
	free(recs);
	turn_wheel_free(w);
}
END_TEST

START_TEST(test_turn_wheel_far_future)
{
	struct turn_wheel *w = wheel_at(1000);
	struct rec day = {0}, hour = {0}, far = {0};
	arm(w, &day, 1000 + 86400000);
	arm(w, &hour, 1000 + 3600000);
	arm(w, &far, 1000 + 200ull * 86400000);
	uint64_t d;
	unsigned wakeups = 0;
	while ((d = turn_wheel_next_deadline(w)) != UINT64_MAX) {
		turn_wheel_advance(w, d);
		wakeups++;
	}
	ck_assert_uint_eq(hour.fired_at, hour.expires_ms);
	ck_assert_uint_eq(day.fired_at, day.expires_ms);
	ck_assert_uint_eq(far.fired_at, far.expires_ms);
	ck_assert_uint_lt(wakeups, 40);
	turn_wheel_free(w);
}
END_TEST

/* ---- callbacks -------------------------------------------------------------
 */

START_TEST(test_turn_wheel_callback_cancels_other)
{
	struct turn_wheel *w = wheel_at(0);
	struct rec a = {0}, b = {0}, c = {0}, d = {0};
	arm(w, &a, 100);
	arm(w, &b, 100); /* same tick, after a */
	arm(w, &c, 150);
	arm(w, &d, 5000);
	a.victim = &b;
	c.victim = &d;
	ck_assert_uint_eq(turn_wheel_advance(w, 10000), 2);
	ck_assert_uint_eq(a.fired, 1);
	ck_assert_uint_eq(b.fired, 0);
	ck_assert_uint_eq(c.fired, 1);
	ck_assert_uint_eq(d.fired, 0);
	ck_assert_uint_eq(turn_wheel_count(w), 0);
	turn_wheel_free(w);
}
END_TEST

START_TEST(test_turn_wheel_callback_rearms_itself)
{
	struct turn_wheel *w = wheel_at(0);
	struct rec r = {0};
	arm(w, &r, 1000);
	r.rearm = true;
	r.rearm_delta = 1000;
	ck_assert_uint_eq(turn_wheel_advance(w, 1000), 1);
	ck_assert(turn_timer_armed(&r.timer));
	ck_assert_uint_le(turn_wheel_next_deadline(w), 2000);
	ck_assert_uint_eq(turn_wheel_advance(w, 1999), 0);
	ck_assert_uint_eq(turn_wheel_advance(w, 2500), 1);
	ck_assert_uint_eq(r.fired_at, 2500);
	/* re-arming for "now" cannot spin: it fires on the next advance */
	r.rearm_delta = 0;
	ck_assert_uint_eq(turn_wheel_advance(w, 3500), 1);
	ck_assert_uint_le(turn_wheel_next_deadline(w), 3500);
	ck_assert_uint_eq(turn_wheel_advance(w, 3500), 1);
	ck_assert_uint_eq(r.fired, 4);
	r.rearm = false;
	ck_assert_uint_eq(turn_wheel_advance(w, 3500), 1);
	ck_assert_uint_eq(turn_wheel_count(w), 0);
	turn_wheel_free(w);
}
END_TEST

struct owner {
	struct turn_timer timer;
	struct owner **slot; /* cleared when freed */
};

static void free_owner(void *arg, uint64_t now_ms)
{
	struct owner *o = arg;
	*o->slot = NULL;
	free(o);
}

START_TEST(test_turn_wheel_callback_frees_owner)
{
	enum { N = 64 };
	struct owner *owners[N];
	struct turn_wheel *w = wheel_at(0);
	for (int i = 0; i < N; i++) {
		owners[i] = malloc(sizeof(*owners[i]));
		owners[i]->slot = &owners[i];
		turn_timer_init(&owners[i]->timer, free_owner, owners[i]);
		turn_wheel_add(w, &owners[i]->timer, 300000 + (uint64_t)i % 4);
	}
	ck_assert_uint_eq(turn_wheel_advance(w, 300001), 2 * N / 4);
	ck_assert_uint_eq(turn_wheel_advance(w, 400000), 2 * N / 4);
	for (int i = 0; i < N; i++)
		ck_assert_ptr_null(owners[i]);
	turn_wheel_free(w);
}
END_TEST

START_TEST(test_turn_wheel_free_disarms)
{
	struct turn_wheel *w = wheel_at(0);
	struct rec a = {0}, b = {0};
	arm(w, &a, 100);
	arm(w, &b, 86400000);
	turn_wheel_free(w);
	ck_assert(!turn_timer_armed(&a.timer));
	ck_assert(!turn_timer_armed(&b.timer));
	turn_wheel_cancel(&a.timer); /* safe after the wheel is gone */
	turn_wheel_free(NULL);
	ck_assert_int_eq(turn_wheel_new(NULL, 0), EINVAL);
}
END_TEST

static Suite *turn_wheel_suite(void)
{
	Suite *s = suite_create("turn_wheel");
	TCase *tc = tcase_create("edges");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_wheel_fires_at_exact_edge_jump, 0,
	                    NDELAYS);
	tcase_add_loop_test(tc, test_turn_wheel_fires_at_exact_edge_steps, 0,
	                    NDELAYS);
	tcase_add_loop_test(tc, test_turn_wheel_next_deadline_walk, 0, NDELAYS);
	tcase_add_test(tc, test_turn_wheel_past_expiry_fires_next_advance);
	tcase_add_test(tc, test_turn_wheel_clock_going_back);
	tcase_add_test(tc, test_turn_wheel_epoch_clock);
	suite_add_tcase(s, tc);

	tc = tcase_create("cancel_refresh");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_wheel_cancel);
	tcase_add_test(tc, test_turn_wheel_cancel_far_keeps_deadline_sane);
	tcase_add_test(tc, test_turn_wheel_refresh);
	tcase_add_test(tc, test_turn_wheel_move_between_wheels);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_wheel_many_timers);
	tcase_add_test(tc, test_turn_wheel_far_future);
	suite_add_tcase(s, tc);

	tc = tcase_create("callbacks");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_wheel_callback_cancels_other);
	tcase_add_test(tc, test_turn_wheel_callback_rearms_itself);
	tcase_add_test(tc, test_turn_wheel_callback_frees_owner);
	tcase_add_test(tc, test_turn_wheel_free_disarms);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_wheel_suite)
