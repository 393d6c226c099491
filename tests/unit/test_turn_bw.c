/*
 * tests/unit/test_turn_bw.c - bandwidth classes (turn/bw.c): the token
 * bucket, tables and their bad input, the choice at Allocate as a table
 * of cases, REST ids that carry a class, and the core with classes (an
 * allocation's class, its DSCP on OPEN_RELAY, drops counted per class, a
 * new table for new allocations only), and the node's capacity (the
 * reservation arithmetic, the Allocate that would pass it refused with
 * 508 after the drain check, Refresh never refused, the reservation back
 * on each way an allocation ends).
 */
#include "tests/unit/turn_harness.h"

#include "turn/bw.h"

#include <errno.h>
#include <stdatomic.h>

/* --- the bucket ---------------------------------------------------------- */

START_TEST(test_turn_bw_bucket_full_at_start_then_rate)
{
	struct turn_bw_bucket b;

	turn_bw_bucket_init(&b, 3000, 1000);
	/* the burst at once, then nothing */
	ck_assert(turn_bw_bucket_take(&b, 1000, 3000, 1000, 3000));
	ck_assert(!turn_bw_bucket_take(&b, 1000, 3000, 1000, 1));
	/* 250 ms at 1000 B/s: 250 bytes, not 251 */
	ck_assert(!turn_bw_bucket_take(&b, 1000, 3000, 1250, 251));
	ck_assert(turn_bw_bucket_take(&b, 1000, 3000, 1250, 250));
	/* a long pause fills it to the burst, no more */
	ck_assert(turn_bw_bucket_take(&b, 1000, 3000, 100000, 3000));
	ck_assert(!turn_bw_bucket_take(&b, 1000, 3000, 100000, 1));
	/* fractions of a byte add up: 1 B/s, 1 ms steps */
	turn_bw_bucket_init(&b, 10, 0);
	ck_assert(turn_bw_bucket_take(&b, 1, 10, 0, 10));
	for (uint64_t t = 1; t < 1000; t++)
		ck_assert(!turn_bw_bucket_take(&b, 1, 10, t, 1));
	ck_assert(turn_bw_bucket_take(&b, 1, 10, 1000, 1));
}
END_TEST

START_TEST(test_turn_bw_bucket_limits)
{
	struct turn_bw_bucket b;

	/* rate 0: unlimited */
	turn_bw_bucket_init(&b, 0, 0);
	ck_assert(turn_bw_bucket_take(&b, 0, 0, 0, 65535));
	/* larger than the burst: never */
	turn_bw_bucket_init(&b, 1000, 0);
	ck_assert(!turn_bw_bucket_take(&b, 1000000, 1000, 5000000, 1001));
	/* the largest rate and a clock far ahead: no overflow */
	turn_bw_bucket_init(&b, TURN_BW_RATE_MAX, 0);
	ck_assert(turn_bw_bucket_take(&b, TURN_BW_RATE_MAX, TURN_BW_RATE_MAX, 0,
	                              65535));
	ck_assert(turn_bw_bucket_take(&b, TURN_BW_RATE_MAX, TURN_BW_RATE_MAX,
	                              UINT64_MAX / 2, 65535));
	ck_assert_uint_le(b.tokens_mb, TURN_BW_RATE_MAX * 1000);
}
END_TEST

/* --- tables and their bad input ----------------------------------------- */

static const struct {
	const char *name;
	struct turn_bw_class c[2];
	size_t n;
	const char *def;
	int rc;
} table_rows[] = {
        {"ok",
         {{"viewer", 1000, 0, -1}, {"mcu", 9000, 20000, 46}},
         2,
         "mcu",
         0},
        {"rate 0", {{"viewer", 0, 0, -1}}, 1, NULL, EINVAL},
        {"rate too big", {{"v", TURN_BW_RATE_MAX + 1, 0, -1}}, 1, NULL, EINVAL},
        {"dscp 64", {{"v", 1000, 0, 64}}, 1, NULL, EINVAL},
        {"dscp -2", {{"v", 1000, 0, -2}}, 1, NULL, EINVAL},
        {"name blank", {{"a b", 1000, 0, -1}}, 1, NULL, EINVAL},
        {"name empty", {{"", 1000, 0, -1}}, 1, NULL, EINVAL},
        {"name implicit", {{"max-bps", 1000, 0, -1}}, 1, NULL, EINVAL},
        {"name too long",
         {{"a23456789012345678901234567890123", 1000, 0, -1}},
         1,
         NULL,
         EINVAL},
        {"twice", {{"v", 1000, 0, -1}, {"v", 2000, 0, -1}}, 2, NULL, EEXIST},
        {"default undefined", {{"v", 1000, 0, -1}}, 1, "w", ENOENT},
};

START_TEST(test_turn_bw_table_rows)
{
	struct turn_bw_names *names;
	struct turn_bw_table *t = NULL;

	ck_assert_int_eq(turn_bw_names_new(&names), 0);
	ck_assert_msg(turn_bw_table_new(&t, names, table_rows[_i].c,
	                                table_rows[_i].n, table_rows[_i].def) ==
	                      table_rows[_i].rc,
	              "row %s", table_rows[_i].name);
	turn_bw_table_free(t);
	turn_bw_names_free(names);
}
END_TEST

START_TEST(test_turn_bw_table_map_errors)
{
	struct turn_bw_names *names;
	struct turn_bw_table *t;
	struct turn_bw_class c = {"viewer", 1000, 0, -1};

	ck_assert_int_eq(turn_bw_names_new(&names), 0);
	ck_assert_int_eq(turn_bw_table_new(&t, names, &c, 1, NULL), 0);
	ck_assert_int_eq(turn_bw_table_map(t, TURN_BW_MAP_USER, "u", "viewer"),
	                 0);
	ck_assert_int_eq(turn_bw_table_map(t, TURN_BW_MAP_USER, "u", "viewer"),
	                 EEXIST);
	ck_assert_int_eq(turn_bw_table_map(t, TURN_BW_MAP_USER, "v", "nope"),
	                 ENOENT);
	/* the same key as a realm is another map */
	ck_assert_int_eq(turn_bw_table_map(t, TURN_BW_MAP_REALM, "u", "viewer"),
	                 0);
	ck_assert_int_eq(turn_bw_table_map(t, TURN_BW_MAP_REALM, "", "viewer"),
	                 EINVAL);
	turn_bw_table_free(t);
	turn_bw_names_free(names);
}
END_TEST

START_TEST(test_turn_bw_names_slots_for_life)
{
	struct turn_bw_names *names;
	struct turn_bw_table *t1, *t2;
	struct turn_bw_class a[] = {{"viewer", 1000, 0, -1}, {"mcu", 1, 0, -1}};
	struct turn_bw_class b[] = {{"guest", 500, 0, -1},
	                            {"viewer", 2000, 0, -1}};
	struct turn_bw_choice c;

	ck_assert_int_eq(turn_bw_names_new(&names), 0);
	ck_assert_str_eq(turn_bw_names_get(names, 0), "max-bps");
	ck_assert_int_eq(turn_bw_table_new(&t1, names, a, 2, "viewer"), 0);
	ck_assert_int_eq(turn_bw_table_new(&t2, names, b, 2, "viewer"), 0);
	ck_assert_uint_eq(turn_bw_names_count(names), 4);
	ck_assert_str_eq(turn_bw_names_get(names, 1), "viewer");
	ck_assert_str_eq(turn_bw_names_get(names, 3), "guest");
	ck_assert_ptr_null(turn_bw_names_get(names, 4));
	/* viewer has one slot in both tables */
	turn_bw_resolve(t2, NULL, NULL, 0, "r", 0, &c);
	ck_assert_uint_eq(c.slot, 1);
	ck_assert_uint_eq(c.rate_bps, 2000);
	turn_bw_table_free(t1);
	turn_bw_table_free(t2);
	/* full: ENOSPC */
	char nm[16];
	int rc = 0;
	for (int i = 0; i < TURN_BW_SLOTS && !rc; i++) {
		struct turn_bw_class k = {nm, 1000, 0, -1};
		snprintf(nm, sizeof(nm), "c%d", i);
		rc = turn_bw_table_new(&t1, names, &k, 1, NULL);
		if (!rc)
			turn_bw_table_free(t1);
	}
	ck_assert_int_eq(rc, ENOSPC);
	ck_assert_uint_eq(turn_bw_names_count(names), TURN_BW_SLOTS);
	turn_bw_names_free(names);
}
END_TEST

/* --- the choice ------------------------------------------------------------
 */

static const struct {
	const char *name;
	const char *user, *cred, *realm;
	bool with_default;
	uint64_t max_bps;
	const char *cls; /* slot name */
	enum turn_bw_source src;
	uint64_t rate;
	bool cred_unknown;
} resolve_rows[] = {
        {"user wins", "u-mcu", "guest", "r-viewer", true, 0, "mcu",
         TURN_BW_FROM_USER, 90000, false},
        {"credential over realm", NULL, "guest", "r-viewer", true, 0, "guest",
         TURN_BW_FROM_CREDENTIAL, 500, false},
        {"credential, unmapped user", "nobody", "guest", "r", true, 0, "guest",
         TURN_BW_FROM_CREDENTIAL, 500, false},
        {"realm over default", NULL, NULL, "r-viewer", true, 0, "viewer",
         TURN_BW_FROM_REALM, 3000, false},
        {"default", NULL, NULL, "other", true, 0, "guest", TURN_BW_FROM_DEFAULT,
         500, false},
        {"no default: max-bps", NULL, NULL, "other", false, 777, "max-bps",
         TURN_BW_FROM_MAX_BPS, 777, false},
        {"no default, max-bps 0: unlimited", "u", NULL, "other", false, 0,
         "max-bps", TURN_BW_FROM_MAX_BPS, 0, false},
        {"unknown credential class: realm", NULL, "gold", "r-viewer", true, 0,
         "viewer", TURN_BW_FROM_REALM, 3000, true},
        {"unknown credential class: default", NULL, "gold", "x", true, 0,
         "guest", TURN_BW_FROM_DEFAULT, 500, true},
};

START_TEST(test_turn_bw_resolve_rows)
{
	struct turn_bw_names *names;
	struct turn_bw_table *t;
	struct turn_bw_class v[] = {{"mcu", 90000, 0, 34},
	                            {"viewer", 3000, 0, -1},
	                            {"guest", 500, 0, -1}};
	struct turn_bw_choice c;
	const __typeof__(resolve_rows[0]) *row = &resolve_rows[_i];

	ck_assert_int_eq(turn_bw_names_new(&names), 0);
	ck_assert_int_eq(turn_bw_table_new(&t, names, v, 3,
	                                   row->with_default ? "guest" : NULL),
	                 0);
	ck_assert_int_eq(turn_bw_table_map(t, TURN_BW_MAP_USER, "u-mcu", "mcu"),
	                 0);
	ck_assert_int_eq(
	        turn_bw_table_map(t, TURN_BW_MAP_REALM, "r-viewer", "viewer"),
	        0);
	turn_bw_resolve(t, row->user, row->cred,
	                row->cred ? strlen(row->cred) : 0, row->realm,
	                row->max_bps, &c);
	ck_assert_msg(strcmp(turn_bw_names_get(names, c.slot), row->cls) == 0,
	              "row %s: class %s", row->name,
	              turn_bw_names_get(names, c.slot));
	ck_assert_msg(c.source == row->src, "row %s", row->name);
	ck_assert_msg(c.rate_bps == row->rate, "row %s", row->name);
	ck_assert_msg(c.cred_unknown == row->cred_unknown, "row %s", row->name);
	turn_bw_table_free(t);
	turn_bw_names_free(names);
}
END_TEST

static const struct {
	const char *id;
	bool split;
	const char *rest, *cls;
} cred_rows[] = {
        {"carol:bw=viewer", true, "carol", "viewer"},
        {"a:b:bw=mcu.v2", true, "a:b", "mcu.v2"},
        {":bw=x", true, "", "x"},
        {"carol", false, NULL, NULL},
        {"carol:bw=", false, NULL, NULL},
        {"carol:bw=a b", false, NULL, NULL},
        {"carol:bw=viewer:x", false, NULL, NULL},
        {"carol:BW=viewer", false, NULL, NULL},
        {"carol:bw=a23456789012345678901234567890123", false, NULL, NULL},
};

START_TEST(test_turn_bw_cred_split_rows)
{
	const char *id = cred_rows[_i].id, *cls = NULL;
	size_t id_len = 0, cls_len = 0;
	bool ok = turn_bw_cred_split(id, strlen(id), &id_len, &cls, &cls_len);

	ck_assert_msg(ok == cred_rows[_i].split, "row %s", id);
	if (!ok)
		return;
	ck_assert_uint_eq(id_len, strlen(cred_rows[_i].rest));
	ck_assert_int_eq(memcmp(id, cred_rows[_i].rest, id_len), 0);
	ck_assert_uint_eq(cls_len, strlen(cred_rows[_i].cls));
	ck_assert_int_eq(memcmp(cls, cred_rows[_i].cls, cls_len), 0);
}
END_TEST

/* --- the core ---------------------------------------------------------- */

#define PEER "198.51.100.7"

static struct turn_bw_names *core_names;

static struct turn_bw_table *core_table(const char *def)
{
	struct turn_bw_class v[] = {{"viewer", 1000, 0, -1},
	                            {"guest", 400, 600, 10},
	                            {"mcu", 1000000, 0, 46}};
	struct turn_bw_table *t;

	if (!core_names)
		ck_assert_int_eq(turn_bw_names_new(&core_names), 0);
	ck_assert_int_eq(turn_bw_table_new(&t, core_names, v, 3, def), 0);
	ck_assert_int_eq(turn_bw_table_map(t, TURN_BW_MAP_USER, H_USER2, "mcu"),
	                 0);
	return t;
}

static void rest_user(struct h *h, char *user, size_t cap, const char *id,
                      char *pass)
{
	snprintf(user, cap, "%llu:%s", (unsigned long long)H_S0 + 3600, id);
	ck_assert_int_eq(auth_rest_password(H_SECRET, strlen(H_SECRET), user,
	                                    strlen(user), pass, 64),
	                 0);
	h->user = user;
	h->pass = pass;
}

/* Send n ChannelData of len bytes on t's channel 0x4000; how many went. */
static unsigned burst(struct h *h, const struct turn_tuple *t, unsigned n,
                      size_t len)
{
	uint8_t buf[4 + 2048] = {0x40, 0x00, (uint8_t)(len >> 8), (uint8_t)len};
	unsigned sent = 0;

	for (unsigned i = 0; i < n; i++) {
		h_clear(h);
		h_input(h, t, buf, 4 + len);
		sent += (unsigned)h_count(h, TURN_ACT_SEND_PEER);
	}
	return sent;
}

START_TEST(test_turn_bw_core_classes)
{
	struct h *h = h_default();
	struct turn_bw_table *t = core_table("viewer");
	struct turn_tuple A = h_tuple("192.0.2.10", 40000),
	                  B = h_tuple("192.0.2.10", 40001),
	                  C = h_tuple("192.0.2.10", 40002);
	char user[96], pass[64];
	const struct turn_stats *st = turn_server_stats(h->s);

	turn_server_set_bw(h->s, t);
	/* alice: no mapping, the default (viewer, no DSCP) */
	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_int_eq(h->dscp, -1);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0);
	ck_assert_uint_eq(burst(h, &A, 10, 200), 5); /* 1000 bytes */
	/* bob: user-bandwidth-class mcu (DSCP 46), unthrottled here */
	h->user = H_USER2;
	h->pass = H_PASS2;
	ck_assert_int_eq(h_allocate(h, &B), 0);
	ck_assert_int_eq(h->dscp, 46);
	ck_assert_int_eq(h_bind(h, &B, 0x4000, PEER, 5000), 0);
	ck_assert_uint_eq(burst(h, &B, 10, 200), 10);
	/* a REST credential carrying guest: 600 bytes of burst, DSCP 10 */
	rest_user(h, user, sizeof(user), "carol:bw=guest", pass);
	ck_assert_int_eq(h_allocate(h, &C), 0);
	ck_assert_int_eq(h->dscp, 10);
	ck_assert_int_eq(h_bind(h, &C, 0x4000, PEER, 5000), 0);
	ck_assert_uint_eq(burst(h, &C, 10, 200), 3);
	/* counted per class slot and direction */
	ck_assert_uint_eq(st->bw_dropped_pkts[1][0], 5); /* viewer */
	ck_assert_uint_eq(st->bw_dropped_bytes[1][0], 1000);
	ck_assert_uint_eq(st->bw_dropped_pkts[2][0], 7); /* guest */
	ck_assert_uint_eq(st->bw_dropped_pkts[3][0], 0); /* mcu */
	ck_assert_uint_eq(st->drop_rate_limit, 12);
	/* the quota and the admin API name carol, not carol:bw=guest */
	struct turn_alloc_info info[4];
	struct turn_alloc_filter f = {.user = "carol"};
	ck_assert_uint_eq(turn_server_list(h->s, &f, h->now_ms, 0, info, 4), 1);
	h_free(h);
	turn_bw_table_free(t);
}
END_TEST

START_TEST(test_turn_bw_core_unknown_credential_class)
{
	struct h *h = h_default();
	struct turn_bw_table *t = core_table("viewer");
	struct turn_tuple A = h_tuple("192.0.2.10", 40000);
	char user[96], pass[64];

	turn_server_set_bw(h->s, t);
	rest_user(h, user, sizeof(user), "dave:bw=gold", pass);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->bw_cred_unknown, 1);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0);
	ck_assert_uint_eq(burst(h, &A, 10, 200), 5); /* the default */
	h_free(h);
	turn_bw_table_free(t);
}
END_TEST

START_TEST(test_turn_bw_core_reload_new_allocations_only)
{
	struct h *h = h_default();
	struct turn_bw_table *t1 = core_table("viewer");
	struct turn_bw_table *t2 = core_table("mcu");
	struct turn_tuple A = h_tuple("192.0.2.10", 40000),
	                  B = h_tuple("192.0.2.10", 40001);

	turn_server_set_bw(h->s, t1);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	/* SIGHUP: the old table is gone; A keeps viewer */
	turn_server_set_bw(h->s, t2);
	turn_bw_table_free(t1);
	ck_assert_int_eq(h_allocate(h, &B), 0);
	ck_assert_int_eq(h->dscp, 46);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0);
	ck_assert_int_eq(h_bind(h, &B, 0x4000, PEER, 5000), 0);
	ck_assert_uint_eq(burst(h, &A, 10, 200), 5);
	ck_assert_uint_eq(burst(h, &B, 10, 200), 10);
	/* no table: max-bps, which follows set_limits for live ones */
	turn_server_set_bw(h->s, NULL);
	struct turn_tuple C = h_tuple("192.0.2.10", 40002);
	ck_assert_int_eq(h_allocate(h, &C), 0);
	ck_assert_int_eq(h->dscp, -1);
	ck_assert_int_eq(h_bind(h, &C, 0x4000, PEER, 5000), 0);
	ck_assert_uint_eq(burst(h, &C, 10, 200), 10);
	turn_server_set_limits(h->s, 400, 0);
	h->now_ms += 5000;
	ck_assert_uint_eq(burst(h, &C, 10, 200), 2);
	ck_assert_uint_eq(turn_server_stats(h->s)->bw_dropped_pkts[0][0], 8);
	h_free(h);
	turn_bw_table_free(t2);
}
END_TEST

/* --- the node's capacity ------------------------------------------------ */

START_TEST(test_turn_bw_pool_arithmetic)
{
	struct turn_bw_pool *p;

	ck_assert_int_eq(turn_bw_pool_new(&p, 1000, 300), 0);
	ck_assert_uint_eq(turn_bw_pool_take(p, 400), 400);
	ck_assert_uint_eq(turn_bw_pool_take(p, 0), 300); /* unlimited */
	ck_assert_uint_eq(turn_bw_pool_reserved(p), 700);
	/* exactly full fits; one byte more does not, and takes nothing */
	ck_assert_uint_eq(turn_bw_pool_take(p, 301), UINT64_MAX);
	ck_assert_uint_eq(turn_bw_pool_reserved(p), 700);
	ck_assert_uint_eq(turn_bw_pool_take(p, 300), 300);
	ck_assert_uint_eq(turn_bw_pool_take(p, 1), UINT64_MAX);
	turn_bw_pool_release(p, 400);
	ck_assert_uint_eq(turn_bw_pool_reserved(p), 600);
	/* lowered below what is held: nothing fits until enough goes */
	turn_bw_pool_set(p, 500, 300);
	ck_assert_uint_eq(turn_bw_pool_take(p, 1), UINT64_MAX);
	turn_bw_pool_release(p, 300);
	ck_assert_uint_eq(turn_bw_pool_take(p, 200), 200);
	/* 0: no limit, still counted */
	turn_bw_pool_set(p, 0, 300);
	ck_assert_uint_eq(turn_bw_pool_take(p, TURN_BW_RATE_MAX),
	                  TURN_BW_RATE_MAX);
	ck_assert_uint_eq(turn_bw_pool_capacity(p), 0);
	/* a NULL pool reserves nothing and never refuses */
	ck_assert_uint_eq(turn_bw_pool_take(NULL, 5), 0);
	ck_assert_uint_eq(turn_bw_pool_reserved(NULL), 0);
	turn_bw_pool_free(p);
	turn_bw_pool_free(NULL);
}
END_TEST

/* A core with classes viewer (1000 B/s) for alice and mcu for bob, and a
 * capacity of cap_bps (unlimited ones reserve 500). */
static struct h *cap_core(struct turn_bw_pool **pool, uint64_t cap_bps,
                          struct turn_bw_table **t)
{
	struct h *h = h_new();

	ck_assert_int_eq(turn_bw_pool_new(pool, cap_bps, 500), 0);
	h->cfg.bw_pool = *pool;
	h_start(h, 0, 0);
	*t = core_table("viewer");
	turn_server_set_bw(h->s, *t);
	return h;
}

static void cap_free(struct h *h, struct turn_bw_pool *p,
                     struct turn_bw_table *t)
{
	h_free(h);
	ck_assert_uint_eq(turn_bw_pool_reserved(p), 0);
	turn_bw_pool_free(p);
	turn_bw_table_free(t);
}

START_TEST(test_turn_bw_core_capacity_refuses_exactly)
{
	struct turn_bw_pool *p;
	struct turn_bw_table *t;
	struct h *h = cap_core(&p, 3000, &t);
	struct turn_tuple c[4];

	for (int i = 0; i < 4; i++)
		c[i] = h_tuple("192.0.2.10", (uint16_t)(40000 + i));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(h_allocate(h, &c[i]), 0);
	ck_assert_uint_eq(turn_bw_pool_reserved(p), 3000);
	ck_assert_int_eq(h_allocate(h, &c[3]), 508);
	ck_assert_uint_eq(turn_server_stats(h->s)->bw_capacity_rejects, 1);
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 3);
	ck_assert_uint_eq(turn_bw_pool_reserved(p), 3000);
	/* a Refresh is never refused for capacity, even over it */
	turn_bw_pool_set(p, 1000, 500);
	ck_assert_int_eq(h_refresh(h, &c[0], 600), 0);
	/* refresh 0 gives one back, but 2000 held > 1000: still refused */
	ck_assert_int_eq(h_refresh(h, &c[0], 0), 0);
	ck_assert_uint_eq(turn_bw_pool_reserved(p), 2000);
	ck_assert_int_eq(h_allocate(h, &c[3]), 508);
	turn_bw_pool_set(p, 3000, 500);
	ck_assert_int_eq(h_allocate(h, &c[3]), 0);
	cap_free(h, p, t);
}
END_TEST

START_TEST(test_turn_bw_core_capacity_draining_first)
{
	struct turn_bw_pool *p;
	struct h *h = h_new();
	atomic_int draining = 1;
	struct turn_tuple A = h_tuple("192.0.2.10", 40000);

	ck_assert_int_eq(turn_bw_pool_new(&p, 100, 500), 0);
	h->cfg.bw_pool = p;
	h->cfg.draining = &draining;
	h_start(h, 0, 0);
	ck_assert_int_eq(h_allocate(h, &A), 508);
	ck_assert_uint_eq(turn_server_stats(h->s)->drain_rejects, 1);
	ck_assert_uint_eq(turn_server_stats(h->s)->bw_capacity_rejects, 0);
	draining = 0;
	ck_assert_int_eq(h_allocate(h, &A), 508); /* unlimited: 500 > 100 */
	ck_assert_uint_eq(turn_server_stats(h->s)->bw_capacity_rejects, 1);
	h_free(h);
	ck_assert_uint_eq(turn_bw_pool_reserved(p), 0);
	turn_bw_pool_free(p);
}
END_TEST

/* Each way an allocation ends gives its reservation back. */
enum cap_way {
	CAP_EXPIRY = 0,
	CAP_KICK,
	CAP_CONN_CLOSED,
	CAP_BIND_FAILED,
	CAP_WAYS
};

START_TEST(test_turn_bw_core_capacity_released_each_way)
{
	enum cap_way w = (enum cap_way)_i;
	struct turn_bw_pool *p;
	struct turn_bw_table *t;
	struct h *h = cap_core(&p, 1000, &t);
	struct turn_tuple A = h_tuple("192.0.2.10", 40000);
	struct turn_alloc_info info;

	if (w == CAP_CONN_CLOSED) {
		A.transport = TURN_TRANSPORT_TCP;
		A.conn = 7;
	}
	if (w == CAP_BIND_FAILED) {
		h->relay_errs[0] = EMFILE;
		h->nrelay_errs = 1;
		ck_assert_int_eq(h_allocate(h, &A), 508);
		ck_assert_uint_eq(turn_bw_pool_reserved(p), 0);
		cap_free(h, p, t);
		return;
	}
	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_uint_eq(turn_bw_pool_reserved(p), 1000);
	h_clear(h);
	turn_actions_reset(&h->out);
	if (w == CAP_EXPIRY) {
		h_at(h, 600 * 1000);
	} else if (w == CAP_KICK) {
		ck_assert_uint_eq(
		        turn_server_list(h->s, NULL, h->now_ms, 0, &info, 1),
		        1);
		ck_assert_int_eq(
		        turn_server_kick(h->s, info.serial, h->now_ms, &h->out),
		        0);
		h_run(h);
	} else {
		turn_server_conn_closed(h->s, &A, &h->out);
		h_run(h);
	}
	ck_assert_uint_eq(turn_server_stats(h->s)->allocations, 0);
	ck_assert_uint_eq(turn_bw_pool_reserved(p), 0);
	cap_free(h, p, t);
}
END_TEST

static void teardown(void)
{
	turn_bw_names_free(core_names);
	core_names = NULL;
}

static Suite *turn_bw_suite(void)
{
	Suite *s = suite_create("turn_bw");
	TCase *tc = tcase_create("bucket");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_bw_bucket_full_at_start_then_rate);
	tcase_add_test(tc, test_turn_bw_bucket_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_bw_table_rows, 0,
	                    sizeof(table_rows) / sizeof(table_rows[0]));
	tcase_add_test(tc, test_turn_bw_table_map_errors);
	tcase_add_test(tc, test_turn_bw_names_slots_for_life);
	suite_add_tcase(s, tc);

	tc = tcase_create("resolve");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_bw_resolve_rows, 0,
	                    sizeof(resolve_rows) / sizeof(resolve_rows[0]));
	tcase_add_loop_test(tc, test_turn_bw_cred_split_rows, 0,
	                    sizeof(cred_rows) / sizeof(cred_rows[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("core");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_turn_bw_core_classes);
	tcase_add_test(tc, test_turn_bw_core_unknown_credential_class);
	tcase_add_test(tc, test_turn_bw_core_reload_new_allocations_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("capacity");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_turn_bw_pool_arithmetic);
	tcase_add_test(tc, test_turn_bw_core_capacity_refuses_exactly);
	tcase_add_test(tc, test_turn_bw_core_capacity_draining_first);
	tcase_add_loop_test(tc, test_turn_bw_core_capacity_released_each_way, 0,
	                    CAP_WAYS);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_bw_suite)
