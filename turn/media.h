/*
 * turn/media.h - the media quality of a server core's flows, summed into a
 * fixed-size value for monitoring (docs/media-quality.md, Monitoring):
 * active flows counted by quality band and in histograms of loss and
 * jitter, a lost-packet counter that never goes down, and the worst flows
 * by name. The summary is taken on the owner's thread on a timer (never
 * per packet) and read elsewhere as a copy; its size does not depend on
 * how many allocations there are, so what it feeds (/metrics, the Redis
 * node record) has a fixed cardinality.
 *
 * A flow is one direction of one permission (peer IP) of an allocation:
 * [0] client -> peer ("to_peer"), [1] peer -> client ("to_client"). It is
 * active when a validated RTP stream (SSRC) of it had a packet in the last
 * TURN_MEDIA_ACTIVE_MS; its loss and jitter are those of its worst active
 * stream (loss since the stream started, as in the admin API; jitter is
 * the RFC 3550 running estimate). Pure: time is now_ms.
 */
#ifndef AVEDGE_TURN_MEDIA_H
#define AVEDGE_TURN_MEDIA_H

#include "turn/turn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TURN_MEDIA_ACTIVE_MS 10000 /* RTP within this: the flow counts */
#define TURN_MEDIA_WORST     10    /* worst flows kept per summary */
#define TURN_MEDIA_REALM_MAX 128   /* realm names are cut to this - 1 */
#define TURN_MEDIA_LOSS_LE   7     /* finite loss buckets; +Inf is one more */
#define TURN_MEDIA_JITTER_LE 7     /* finite jitter buckets; +Inf likewise */

/* Quality bands: a flow is in the worse of its loss band and its jitter
 * band. Upper bounds (exclusive): good loss < 0.5 % and jitter < 10 ms,
 * fair < 2 % and < 30 ms, poor < 5 % and < 60 ms, bad beyond. */
enum turn_media_band {
	TURN_BAND_GOOD = 0,
	TURN_BAND_FAIR,
	TURN_BAND_POOR,
	TURN_BAND_BAD,
	TURN_MEDIA_BANDS
};

/* Bucket upper bounds (le, inclusive as in Prometheus), ascending. */
extern const double turn_media_loss_le[TURN_MEDIA_LOSS_LE];     /* percent */
extern const double turn_media_jitter_le[TURN_MEDIA_JITTER_LE]; /* ms */

/* One flow, named for ops (the worst list). */
struct turn_media_flow {
	uint64_t serial;                  /* the allocation's, on worker */
	unsigned worker;                  /* turn_server_cfg.worker_index */
	unsigned dir;                     /* 0 to_peer, 1 to_client */
	union turn_addr peer;             /* the permission's IP, port 0 */
	char user[TURN_INFO_USER_MAX];    /* quota key (truncated) */
	char realm[TURN_MEDIA_REALM_MAX]; /* truncated */
	double loss_pct;                  /* of the worst active stream */
	double jitter_ms;                 /* of the worst active stream */
	uint64_t packets; /* datagrams relayed that way on the permission */
	uint64_t lost;    /* lost packets of the flow's active streams */
};

struct turn_media_summary {
	uint64_t at_ms;                      /* when it was taken */
	uint32_t flows[2][TURN_MEDIA_BANDS]; /* active flows by band */
	/* histograms of active flows, per bucket (not cumulative); the last
	 * bucket is +Inf */
	uint32_t loss_hist[2][TURN_MEDIA_LOSS_LE + 1];
	uint32_t jitter_hist[2][TURN_MEDIA_JITTER_LE + 1];
	double loss_sum[2], jitter_sum[2]; /* over the same flows */
	/* lost packets of every flow since the server started, a counter:
	 * each summary adds what each flow lost since the previous one (a
	 * stream that restarts adds from its new start; what a permission
	 * lost after the last summary before it ended is not counted) */
	uint64_t lost_total[2];
	size_t nworst;
	struct turn_media_flow worst[TURN_MEDIA_WORST]; /* worst first */
};

/* The band of a flow with that loss and jitter. */
enum turn_media_band turn_media_band(double loss_pct, double jitter_ms);
const char *turn_media_band_name(enum turn_media_band b);
/* The bucket of v among n ascending upper bounds le: the first with
 * v <= le[i], or n (+Inf). */
unsigned turn_media_bucket(const double *le, size_t n, double v);
/* True when flow a ranks before b: more loss, then more jitter. */
bool turn_media_worse(const struct turn_media_flow *a,
                      const struct turn_media_flow *b);

/*
 * Summarize s's active flows at now_ms into out (zeroed first; at_ms,
 * lost_total carried over in the server). Walks every permission of every
 * live allocation: O(permissions), a timer's work, not the packet path.
 * Updates the server's lost-packet bookkeeping, so call it on the owner's
 * thread. 0, or EINVAL.
 */
int turn_server_media_summary(struct turn_server *s, uint64_t now_ms,
                              struct turn_media_summary *out);

/* Add from into into: counts, sums and counters summed, the worst lists
 * merged (worst first, at most TURN_MEDIA_WORST); at_ms the older. For
 * the workers of a node. */
void turn_media_merge(struct turn_media_summary *into,
                      const struct turn_media_summary *from);

#endif
