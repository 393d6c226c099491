/*
 * cluster/quota.c - the decisions of the cluster quota (docs/cluster.md):
 * what a reply of the take script means for a parked Allocate, and what a
 * reconcile round writes for one quota field. Pure: the caller sends the
 * commands (edge/redis/worker.c) and keeps the table.
 */
#include "cluster/cluster.h"

struct cluster_quota_step cluster_quota_on_reply(bool timed_out, bool answered,
                                                 enum cluster_reply_kind kind,
                                                 long long integer)
{
	struct cluster_quota_step s = {CLUSTER_QUOTA_NONE, false, false};
	bool granted =
	        !timed_out && kind == CLUSTER_REPLY_INTEGER && integer == 1;

	if (timed_out)
		s.answer = CLUSTER_QUOTA_LOCAL; /* decide locally */
	else if (answered)
		s.release =
		        granted; /* late: give back a slot taken after all */
	else if (granted) {
		s.answer = CLUSTER_QUOTA_GRANTED;
		s.hold = true;
	} else if (kind == CLUSTER_REPLY_INTEGER)
		s.answer = CLUSTER_QUOTA_DENIED;
	else
		s.answer = CLUSTER_QUOTA_LOCAL;
	return s;
}

struct cluster_quota_fix cluster_quota_reconcile(bool synced, uint32_t inflight,
                                                 uint32_t held, uint32_t live)
{
	struct cluster_quota_fix f = {CLUSTER_QUOTA_KEEP, held, false};

	if (!inflight && (!synced || held != live)) {
		f.write = live ? CLUSTER_QUOTA_SET : CLUSTER_QUOTA_DEL;
		f.held = live;
	}
	f.drop = !f.held && !live && !inflight;
	return f;
}
