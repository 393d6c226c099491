/*
 * turn/media.c - the media quality summary of a server core (media.h):
 * bands, histograms, the lost-packet counter and the worst flows, from the
 * per-permission RTP state of turn/rtpq.c. Runs on the owner's thread on
 * a timer; walking every permission is a monitoring cost, not a packet
 * one. Pure: time is now_ms.
 */
#include "turn/media.h"
#include "turn/turn_int.h"

#include <errno.h>
#include <string.h>

const double turn_media_loss_le[TURN_MEDIA_LOSS_LE] = {0.1, 0.5, 1, 2,
                                                       5,   10,  20};
const double turn_media_jitter_le[TURN_MEDIA_JITTER_LE] = {5,  10,  20, 30,
                                                           60, 100, 200};

/* Band upper bounds (exclusive), good .. poor; beyond is bad. */
static const double band_loss[TURN_BAND_BAD] = {0.5, 2, 5};
static const double band_jitter[TURN_BAND_BAD] = {10, 30, 60};
static const char *const band_names[TURN_MEDIA_BANDS] = {"good", "fair", "poor",
                                                         "bad"};

enum turn_media_band turn_media_band(double loss_pct, double jitter_ms)
{
	unsigned b = 0;

	while (b < TURN_BAND_BAD &&
	       (loss_pct >= band_loss[b] || jitter_ms >= band_jitter[b]))
		b++;
	return (enum turn_media_band)b;
}

const char *turn_media_band_name(enum turn_media_band b)
{
	return (unsigned)b < TURN_MEDIA_BANDS ? band_names[b] : "";
}

unsigned turn_media_bucket(const double *le, size_t n, double v)
{
	unsigned i = 0;

	while (i < n && v > le[i])
		i++;
	return i;
}

bool turn_media_worse(const struct turn_media_flow *a,
                      const struct turn_media_flow *b)
{
	if (a->loss_pct != b->loss_pct)
		return a->loss_pct > b->loss_pct;
	return a->jitter_ms > b->jitter_ms;
}

/* Insert f into the worst list of m if it ranks (stable: ties keep the
 * earlier one first). */
static void keep_worst(struct turn_media_summary *m,
                       const struct turn_media_flow *f)
{
	size_t i = m->nworst;

	if (i == TURN_MEDIA_WORST) {
		if (!turn_media_worse(f, &m->worst[i - 1]))
			return;
		i--;
	} else {
		m->nworst++;
	}
	while (i > 0 && turn_media_worse(f, &m->worst[i - 1])) {
		m->worst[i] = m->worst[i - 1];
		i--;
	}
	m->worst[i] = *f;
}

/* The quality of one direction of one permission: worst active validated
 * stream into f; false when no stream is active. Adds what its streams
 * lost since the last summary to the server's counter. */
static bool flow_quality(struct turn_server *s, struct turn_perm *p,
                         unsigned dir, uint64_t now_ms,
                         struct turn_media_flow *f)
{
	struct turn_rtpq_ssrc_report r[TURN_RTPQ_MAX_SSRC];
	const struct turn_rtpq *q = &p->rtpq[dir];
	uint32_t now32 = (uint32_t)now_ms, lost = 0;
	bool active = false;
	size_t n;

	turn_rtpq_report(q, r, TURN_RTPQ_MAX_SSRC, &n);
	f->loss_pct = f->jitter_ms = 0;
	f->lost = 0;
	for (size_t i = 0; i < n; i++) {
		if (!r[i].validated)
			continue;
		lost += (uint32_t)r[i].lost;
		if (now32 - q->src[i].last_ms >= TURN_MEDIA_ACTIVE_MS)
			continue;
		active = true;
		f->lost += r[i].lost;
		if (100.0 * r[i].loss_fraction > f->loss_pct)
			f->loss_pct = 100.0 * r[i].loss_fraction;
		if (r[i].jitter_ms > f->jitter_ms)
			f->jitter_ms = r[i].jitter_ms;
	}
	/* a counter: a stream that restarted (or a slot taken over) counts
	 * from its new start */
	if (lost > p->lost_seen[dir])
		s->media_lost[dir] += lost - p->lost_seen[dir];
	p->lost_seen[dir] = lost;
	return active;
}

static void name_flow(const struct turn_server *s, const struct turn_alloc *a,
                      const struct turn_perm *p, struct turn_media_flow *f)
{
	const char *realm = a->realm ? a->realm : turn_server_realm(s);
	size_t n;

	f->serial = a->serial;
	f->worker = s->cfg.worker_index;
	memset(&f->peer, 0, sizeof(f->peer));
	if (p->ip.family == AF_INET) {
		f->peer.in4.sin_family = AF_INET;
		memcpy(&f->peer.in4.sin_addr, p->ip.ip, 4);
	} else {
		f->peer.in6.sin6_family = AF_INET6;
		memcpy(&f->peer.in6.sin6_addr, p->ip.ip, 16);
	}
	n = a->qkey ? a->qkey_len : 0;
	if (n > TURN_INFO_USER_MAX - 1)
		n = TURN_INFO_USER_MAX - 1;
	memcpy(f->user, a->qkey ? a->qkey : "", n);
	f->user[n] = 0;
	n = strlen(realm);
	if (n > TURN_MEDIA_REALM_MAX - 1)
		n = TURN_MEDIA_REALM_MAX - 1;
	memcpy(f->realm, realm, n);
	f->realm[n] = 0;
	f->packets = p->pkts[f->dir];
}

static void count_flow(struct turn_media_summary *m,
                       const struct turn_media_flow *f)
{
	unsigned d = f->dir;

	m->flows[d][turn_media_band(f->loss_pct, f->jitter_ms)]++;
	m->loss_hist[d][turn_media_bucket(turn_media_loss_le,
	                                  TURN_MEDIA_LOSS_LE, f->loss_pct)]++;
	m->jitter_hist[d][turn_media_bucket(
	        turn_media_jitter_le, TURN_MEDIA_JITTER_LE, f->jitter_ms)]++;
	m->loss_sum[d] += f->loss_pct;
	m->jitter_sum[d] += f->jitter_ms;
}

int turn_server_media_summary(struct turn_server *s, uint64_t now_ms,
                              struct turn_media_summary *out)
{
	struct turn_media_flow f;

	if (!s || !out)
		return EINVAL;
	memset(out, 0, sizeof(*out));
	out->at_ms = now_ms;
	for (struct turn_alloc *a = s->all; a; a = a->next) {
		if (a->state != ALLOC_ACTIVE || a->expires_ms <= now_ms)
			continue;
		for (struct turn_perm *p = a->perms; p; p = p->next) {
			for (unsigned dir = 0; dir < 2; dir++) {
				if (!p->rtpq[dir].n)
					continue;
				f.dir = dir;
				if (!flow_quality(s, p, dir, now_ms, &f))
					continue;
				count_flow(out, &f);
				if (out->nworst < TURN_MEDIA_WORST ||
				    turn_media_worse(
				            &f, &out->worst[out->nworst - 1])) {
					name_flow(s, a, p, &f);
					keep_worst(out, &f);
				}
			}
		}
	}
	out->lost_total[0] = s->media_lost[0];
	out->lost_total[1] = s->media_lost[1];
	return 0;
}

void turn_media_merge(struct turn_media_summary *into,
                      const struct turn_media_summary *from)
{
	if (!into->at_ms || (from->at_ms && from->at_ms < into->at_ms))
		into->at_ms = from->at_ms;
	for (unsigned d = 0; d < 2; d++) {
		for (unsigned b = 0; b < TURN_MEDIA_BANDS; b++)
			into->flows[d][b] += from->flows[d][b];
		for (unsigned i = 0; i <= TURN_MEDIA_LOSS_LE; i++)
			into->loss_hist[d][i] += from->loss_hist[d][i];
		for (unsigned i = 0; i <= TURN_MEDIA_JITTER_LE; i++)
			into->jitter_hist[d][i] += from->jitter_hist[d][i];
		into->loss_sum[d] += from->loss_sum[d];
		into->jitter_sum[d] += from->jitter_sum[d];
		into->lost_total[d] += from->lost_total[d];
	}
	for (size_t i = 0; i < from->nworst && i < TURN_MEDIA_WORST; i++)
		keep_worst(into, &from->worst[i]);
}
