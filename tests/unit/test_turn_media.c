/*
 * tests/unit/test_turn_media.c - the media quality summary of the TURN
 * core (turn/media.c): bands and histogram buckets at their edges (tables),
 * the worst-flow order and the merge of several workers' summaries, and a
 * summary taken from a real core after lossy and clean RTP: bands,
 * buckets, the worst flow by name, "active" (RTP in the last 10 s) and the
 * lost-packet counter that never goes down.
 */
#include "tests/unit/turn_harness.h"
#include "turn/media.h"

#define PEER  "198.51.100.7"
#define PEER2 "198.51.100.8"

/* ---- bands and buckets ---------------------------------------------------
 */

struct band_row {
	double loss_pct, jitter_ms;
	enum turn_media_band band;
};

static const struct band_row band_rows[] = {
        {0, 0, TURN_BAND_GOOD},       {0.49, 9.9, TURN_BAND_GOOD},
        {0.5, 0, TURN_BAND_FAIR},     {0, 10, TURN_BAND_FAIR},
        {1.99, 29.9, TURN_BAND_FAIR}, {2, 0, TURN_BAND_POOR},
        {0, 30, TURN_BAND_POOR},      {4.99, 59.9, TURN_BAND_POOR},
        {5, 0, TURN_BAND_BAD},        {0, 60, TURN_BAND_BAD},
        {0.1, 500, TURN_BAND_BAD},    {100, 0, TURN_BAND_BAD},
};

START_TEST(test_turn_media_band_edges)
{
	const struct band_row *r = &band_rows[_i];

	ck_assert_int_eq(turn_media_band(r->loss_pct, r->jitter_ms), r->band);
}
END_TEST

struct bucket_row {
	const double *le;
	size_t n;
	double v;
	unsigned bucket;
};

static const struct bucket_row bucket_rows[] = {
        {turn_media_loss_le, TURN_MEDIA_LOSS_LE, 0, 0},
        {turn_media_loss_le, TURN_MEDIA_LOSS_LE, 0.1, 0},
        {turn_media_loss_le, TURN_MEDIA_LOSS_LE, 0.11, 1},
        {turn_media_loss_le, TURN_MEDIA_LOSS_LE, 10, 5},
        {turn_media_loss_le, TURN_MEDIA_LOSS_LE, 20, 6},
        {turn_media_loss_le, TURN_MEDIA_LOSS_LE, 20.5, TURN_MEDIA_LOSS_LE},
        {turn_media_jitter_le, TURN_MEDIA_JITTER_LE, 0, 0},
        {turn_media_jitter_le, TURN_MEDIA_JITTER_LE, 5.01, 1},
        {turn_media_jitter_le, TURN_MEDIA_JITTER_LE, 200, 6},
        {turn_media_jitter_le, TURN_MEDIA_JITTER_LE, 1e9, TURN_MEDIA_JITTER_LE},
};

START_TEST(test_turn_media_bucket_edges)
{
	const struct bucket_row *r = &bucket_rows[_i];

	ck_assert_uint_eq(turn_media_bucket(r->le, r->n, r->v), r->bucket);
}
END_TEST

START_TEST(test_turn_media_band_names)
{
	ck_assert_str_eq(turn_media_band_name(TURN_BAND_GOOD), "good");
	ck_assert_str_eq(turn_media_band_name(TURN_BAND_FAIR), "fair");
	ck_assert_str_eq(turn_media_band_name(TURN_BAND_POOR), "poor");
	ck_assert_str_eq(turn_media_band_name(TURN_BAND_BAD), "bad");
	ck_assert_str_eq(turn_media_band_name(TURN_MEDIA_BANDS), "");
}
END_TEST

/* ---- merge ----------------------------------------------------------------
 */

static void add_flow(struct turn_media_summary *m, uint64_t serial, double loss,
                     double jitter)
{
	struct turn_media_summary one;

	memset(&one, 0, sizeof(one));
	one.nworst = 1;
	one.worst[0].serial = serial;
	one.worst[0].loss_pct = loss;
	one.worst[0].jitter_ms = jitter;
	one.flows[0][turn_media_band(loss, jitter)] = 1;
	one.loss_sum[0] = loss;
	one.lost_total[1] = 3;
	turn_media_merge(m, &one);
}

START_TEST(test_turn_media_merge_keeps_worst_first)
{
	struct turn_media_summary m;

	memset(&m, 0, sizeof(m));
	/* 14 flows; loss ties are broken by jitter */
	for (unsigned i = 0; i < 14; i++)
		add_flow(&m, i + 1, (double)(i % 7), (double)i);
	ck_assert_uint_eq(m.nworst, TURN_MEDIA_WORST);
	ck_assert_uint_eq(m.worst[0].serial, 14); /* loss 6, jitter 13 */
	ck_assert_uint_eq(m.worst[1].serial, 7);  /* loss 6, jitter 6 */
	ck_assert_uint_eq(m.worst[2].serial, 13); /* loss 5, jitter 12 */
	for (size_t i = 1; i < m.nworst; i++)
		ck_assert(!turn_media_worse(&m.worst[i], &m.worst[i - 1]));
	ck_assert_uint_eq(m.flows[0][TURN_BAND_GOOD], 2); /* loss 0 */
	ck_assert_uint_eq(m.flows[0][TURN_BAND_FAIR], 2); /* loss 1 */
	ck_assert_uint_eq(m.flows[0][TURN_BAND_POOR], 6); /* loss 2, 3, 4 */
	ck_assert_uint_eq(m.flows[0][TURN_BAND_BAD], 4);
	ck_assert_double_eq_tol(m.loss_sum[0], 2 * (0 + 1 + 2 + 3 + 4 + 5 + 6),
	                        1e-9);
	ck_assert_uint_eq(m.lost_total[1], 14 * 3);
}
END_TEST

/* ---- a core's summary ---------------------------------------------------- */

static struct turn_tuple A;

static void setup(void)
{
	A = h_tuple("192.0.2.10", 40000);
}

static size_t rtp(uint8_t *b, uint16_t seq, uint32_t ssrc)
{
	memset(b, 0, 40);
	b[0] = 0x80;
	b[1] = 96;
	b[2] = (uint8_t)(seq >> 8);
	b[3] = (uint8_t)seq;
	uint32_t ts = (uint32_t)seq * 1800; /* 20 ms at 90 kHz */
	for (int i = 0; i < 4; i++) {
		b[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		b[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	return 40;
}

static void send_ind(struct h *h, const char *ip, const uint8_t *data,
                     size_t len)
{
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_SEND, STUN_CLASS_INDICATION);
	h_peer_attr(&b, ip, 5004);
	stun_build_attr(&b, STUN_ATTR_DATA, data, len);
	h_send(h, &b, &A);
}

/* 100 packets each way, 20 ms apart: PEER -> client loses every tenth
 * (10 %), client -> PEER2 is clean. */
static struct turn_alloc *media(struct h *h)
{
	uint8_t pkt[40];

	h_challenge(h, &A);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	struct turn_alloc *alloc = h->alloc;
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	ck_assert_int_eq(h_permit(h, &A, PEER2), 0);
	for (uint16_t i = 0; i < 100; i++) {
		if (i % 10 != 5)
			h_peer(h, alloc, PEER, 5004, pkt,
			       rtp(pkt, (uint16_t)(1000 + i), 0x1111));
		send_ind(h, PEER2, pkt, rtp(pkt, (uint16_t)(7 + i), 0x2222));
		h->now_ms += 20;
	}
	return alloc;
}

START_TEST(test_turn_media_summary_bands_and_worst)
{
	struct h *h = h_default();
	struct turn_media_summary m;

	media(h);
	ck_assert_int_eq(turn_server_media_summary(h->s, h->now_ms, &m), 0);
	ck_assert_uint_eq(m.at_ms, h->now_ms);
	ck_assert_uint_eq(m.flows[1][TURN_BAND_BAD], 1); /* 10 % */
	ck_assert_uint_eq(m.flows[0][TURN_BAND_GOOD], 1);
	ck_assert_uint_eq(
	        m.flows[0][TURN_BAND_BAD] + m.flows[1][TURN_BAND_GOOD], 0);
	/* 10 % is in the le=10 bucket (index 5), 0 % in the first */
	ck_assert_uint_eq(m.loss_hist[1][5], 1);
	ck_assert_uint_eq(m.loss_hist[0][0], 1);
	ck_assert_uint_eq(m.jitter_hist[0][0] + m.jitter_hist[1][0], 2);
	ck_assert_double_eq_tol(m.loss_sum[1], 10.0, 1e-9);
	ck_assert_uint_eq(m.lost_total[1], 10);
	ck_assert_uint_eq(m.lost_total[0], 0);
	ck_assert_uint_eq(m.nworst, 2);
	const struct turn_media_flow *w = &m.worst[0];
	ck_assert_uint_eq(w->dir, 1);
	ck_assert_uint_eq(w->serial, 1);
	ck_assert_str_eq(w->user, H_USER);
	ck_assert_str_eq(w->realm, H_REALM);
	ck_assert_str_eq(inet_ntoa(w->peer.in4.sin_addr), PEER);
	ck_assert_double_eq_tol(w->loss_pct, 10.0, 1e-9);
	ck_assert_uint_eq(w->lost, 10);
	ck_assert_uint_eq(w->packets, 90);
	ck_assert_str_eq(inet_ntoa(m.worst[1].peer.in4.sin_addr), PEER2);
	ck_assert_uint_eq(m.worst[1].dir, 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_media_summary_active_and_counter)
{
	struct h *h = h_default();
	struct turn_media_summary m;
	uint8_t pkt[40];

	struct turn_alloc *alloc = media(h);
	ck_assert_int_eq(turn_server_media_summary(h->s, h->now_ms, &m), 0);
	ck_assert_uint_eq(m.lost_total[1], 10);
	/* a second summary adds nothing new */
	ck_assert_int_eq(turn_server_media_summary(h->s, h->now_ms, &m), 0);
	ck_assert_uint_eq(m.lost_total[1], 10);
	/* 10 s without RTP: no flow is active, the counter stays */
	h->now_ms += TURN_MEDIA_ACTIVE_MS;
	ck_assert_int_eq(turn_server_media_summary(h->s, h->now_ms, &m), 0);
	for (unsigned b = 0; b < TURN_MEDIA_BANDS; b++)
		ck_assert_uint_eq(m.flows[0][b] + m.flows[1][b], 0);
	ck_assert_uint_eq(m.nworst, 0);
	ck_assert_uint_eq(m.lost_total[1], 10);
	/* two more lost later on the same stream: +2 */
	for (uint16_t i = 100; i < 110; i++) {
		if (i != 103 && i != 104)
			h_peer(h, alloc, PEER, 5004, pkt,
			       rtp(pkt, (uint16_t)(1000 + i), 0x1111));
		h->now_ms += 20;
	}
	ck_assert_int_eq(turn_server_media_summary(h->s, h->now_ms, &m), 0);
	ck_assert_uint_eq(m.lost_total[1], 12);
	ck_assert_uint_eq(m.flows[1][TURN_BAND_BAD], 1);
	/* the stream restarts (a jump, then sequential): the counter does
	 * not go down with the stream's own lost count */
	for (uint16_t i = 0; i < 5; i++) {
		h_peer(h, alloc, PEER, 5004, pkt,
		       rtp(pkt, (uint16_t)(40000 + i), 0x1111));
		h->now_ms += 20;
	}
	ck_assert_int_eq(turn_server_media_summary(h->s, h->now_ms, &m), 0);
	ck_assert_uint_ge(m.lost_total[1], 12);
	/* the restarted stream has no loss (its jitter still carries the
	 * 10 s pause: the RFC 3550 estimate decays by 1/16 a packet) */
	ck_assert_uint_eq(m.nworst, 1);
	ck_assert_double_eq_tol(m.worst[0].loss_pct, 0, 1e-9);
	h_free(h);
}
END_TEST

START_TEST(test_turn_media_summary_empty)
{
	struct h *h = h_default();
	struct turn_media_summary m;

	ck_assert_int_eq(turn_server_media_summary(NULL, 0, &m), EINVAL);
	ck_assert_int_eq(turn_server_media_summary(h->s, h->now_ms, NULL),
	                 EINVAL);
	h_challenge(h, &A);
	ck_assert_int_eq(h_allocate(h, &A), 0);
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	send_ind(h, PEER, (const uint8_t *)"not rtp", 7);
	ck_assert_int_eq(turn_server_media_summary(h->s, h->now_ms, &m), 0);
	ck_assert_uint_eq(m.nworst, 0);
	ck_assert_uint_eq(m.flows[0][TURN_BAND_GOOD], 0);
	h_free(h);
}
END_TEST

static Suite *turn_media_suite(void)
{
	Suite *s = suite_create("turn_media");
	TCase *tc = tcase_create("math");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_turn_media_band_edges, 0,
	                    sizeof(band_rows) / sizeof(band_rows[0]));
	tcase_add_loop_test(tc, test_turn_media_bucket_edges, 0,
	                    sizeof(bucket_rows) / sizeof(bucket_rows[0]));
	tcase_add_test(tc, test_turn_media_band_names);
	tcase_add_test(tc, test_turn_media_merge_keeps_worst_first);
	suite_add_tcase(s, tc);

	tc = tcase_create("summary");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_media_summary_bands_and_worst);
	tcase_add_test(tc, test_turn_media_summary_active_and_counter);
	tcase_add_test(tc, test_turn_media_summary_empty);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_media_suite)
