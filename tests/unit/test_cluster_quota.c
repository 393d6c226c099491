/*
 * tests/unit/test_cluster_quota.c - the cluster quota's decisions
 * (cluster/quota.c) as tables: a take script reply for a parked Allocate
 * (timeout, late grant, full, error, lost connection), and a reconcile
 * round's write for one quota field.
 */
#include "cluster/cluster.h"
#include "tests/unit/check_main.h"

struct reply_row {
	const char *name;
	bool timed_out, answered;
	enum cluster_reply_kind kind;
	long long integer;
	enum cluster_quota_answer answer;
	bool hold, release;
};

static const struct reply_row reply_rows[] = {
        {"granted", false, false, CLUSTER_REPLY_INTEGER, 1,
         CLUSTER_QUOTA_GRANTED, true, false},
        {"user_full", false, false, CLUSTER_REPLY_INTEGER, 0,
         CLUSTER_QUOTA_DENIED, false, false},
        {"total_full", false, false, CLUSTER_REPLY_INTEGER, -1,
         CLUSTER_QUOTA_DENIED, false, false},
        {"error_reply", false, false, CLUSTER_REPLY_ERROR, 0,
         CLUSTER_QUOTA_LOCAL, false, false},
        {"odd_reply", false, false, CLUSTER_REPLY_OTHER, 1, CLUSTER_QUOTA_LOCAL,
         false, false},
        {"connection_gone", false, false, CLUSTER_REPLY_NONE, 0,
         CLUSTER_QUOTA_LOCAL, false, false},
        {"timeout", true, false, CLUSTER_REPLY_NONE, 0, CLUSTER_QUOTA_LOCAL,
         false, false},
        {"late_grant_released", false, true, CLUSTER_REPLY_INTEGER, 1,
         CLUSTER_QUOTA_NONE, false, true},
        {"late_full", false, true, CLUSTER_REPLY_INTEGER, 0, CLUSTER_QUOTA_NONE,
         false, false},
        {"late_error", false, true, CLUSTER_REPLY_ERROR, 0, CLUSTER_QUOTA_NONE,
         false, false},
};

START_TEST(test_cluster_quota_on_reply)
{
	const struct reply_row *r = &reply_rows[_i];
	struct cluster_quota_step s = cluster_quota_on_reply(
	        r->timed_out, r->answered, r->kind, r->integer);

	ck_assert_msg(s.answer == r->answer, "%s: answer %d", r->name,
	              s.answer);
	ck_assert_msg(s.hold == r->hold, "%s: hold", r->name);
	ck_assert_msg(s.release == r->release, "%s: release", r->name);
}
END_TEST

struct fix_row {
	const char *name;
	bool synced;
	uint32_t inflight, held, live;
	enum cluster_quota_write write;
	uint32_t held_after;
	bool drop;
};

static const struct fix_row fix_rows[] = {
        {"in_sync", true, 0, 2, 2, CLUSTER_QUOTA_KEEP, 2, false},
        {"local_grants_counted", true, 0, 1, 3, CLUSTER_QUOTA_SET, 3, false},
        {"released_while_down", true, 0, 3, 1, CLUSTER_QUOTA_SET, 1, false},
        {"all_gone", true, 0, 2, 0, CLUSTER_QUOTA_DEL, 0, true},
        {"after_reconnect_rewrites", false, 0, 2, 2, CLUSTER_QUOTA_SET, 2,
         false},
        {"after_reconnect_empty", false, 0, 0, 0, CLUSTER_QUOTA_DEL, 0, true},
        {"inflight_waits", true, 1, 0, 5, CLUSTER_QUOTA_KEEP, 0, false},
        {"inflight_kept", false, 2, 0, 0, CLUSTER_QUOTA_KEEP, 0, false},
        {"idle_forgotten", true, 0, 0, 0, CLUSTER_QUOTA_KEEP, 0, true},
};

START_TEST(test_cluster_quota_reconcile)
{
	const struct fix_row *r = &fix_rows[_i];
	struct cluster_quota_fix f = cluster_quota_reconcile(
	        r->synced, r->inflight, r->held, r->live);

	ck_assert_msg(f.write == r->write, "%s: write %d", r->name, f.write);
	ck_assert_msg(f.held == r->held_after, "%s: held %u", r->name, f.held);
	ck_assert_msg(f.drop == r->drop, "%s: drop", r->name);
}
END_TEST

static Suite *cluster_quota_suite(void)
{
	Suite *s = suite_create("cluster_quota");
	TCase *tc = tcase_create("reply");

	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_cluster_quota_on_reply, 0,
	                    sizeof(reply_rows) / sizeof(reply_rows[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("reconcile");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_loop_test(tc, test_cluster_quota_reconcile, 0,
	                    sizeof(fix_rows) / sizeof(fix_rows[0]));
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cluster_quota_suite)
