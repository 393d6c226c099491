/*
 * turn/inspect.c - what the admin API sees of a server core: snapshots of
 * its allocations (one, or a filtered page of them) copied into caller
 * memory, the kick that ends one, the response-code slots of the
 * counters, the node's relay port usage, and the view of one allocation
 * for the Redis records (turn_alloc_describe). Runs on the owner's thread
 * like every other turn_server_* call. Walking the allocation list is
 * O(allocations of this server): an admin request, never the packet path.
 * Pure: time is now_ms.
 */
#include "turn/turn_int.h"

#include <errno.h>
#include <string.h>

/* --- response code slots ------------------------------------------------ */

static const uint16_t slot_codes[TURN_CODE_SLOTS] = {
        0,   300, 400, 401, 403, 420, 437, 438, 440,
        441, 442, 443, 446, 447, 486, 500, 508, 0 /* other */
};

unsigned turn_code_slot(uint16_t code)
{
	switch (code) {
	case 0:
		return 0;
	case 300:
		return 1;
	case 400:
		return 2;
	case 401:
		return 3;
	case 403:
		return 4;
	case 420:
		return 5;
	case 437:
		return 6;
	case 438:
		return 7;
	case 440:
		return 8;
	case 441:
		return 9;
	case 442:
		return 10;
	case 443:
		return 11;
	case 446:
		return 12;
	case 447:
		return 13;
	case 486:
		return 14;
	case 500:
		return 15;
	case 508:
		return 16;
	default:
		return TURN_CODE_SLOTS - 1;
	}
}

uint16_t turn_slot_code(unsigned slot)
{
	return slot < TURN_CODE_SLOTS ? slot_codes[slot] : 0;
}

/* --- snapshots ----------------------------------------------------------- */

const char *turn_server_realm(const struct turn_server *s)
{
	return s->store ? auth_store_realm(s->store) : "";
}

static uint32_t left_s(uint64_t expires_ms, uint64_t now_ms)
{
	return expires_ms > now_ms ? (uint32_t)((expires_ms - now_ms) / 1000)
	                           : 0;
}

static bool live(const struct turn_alloc *a, uint64_t now_ms)
{
	return a->state == ALLOC_ACTIVE && a->expires_ms > now_ms;
}

static void perm_addr(const struct turn_perm *p, union turn_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (p->ip.family == AF_INET) {
		out->in4.sin_family = AF_INET;
		memcpy(&out->in4.sin_addr, p->ip.ip, 4);
	} else {
		out->in6.sin6_family = AF_INET6;
		memcpy(&out->in6.sin6_addr, p->ip.ip, 16);
	}
}

/* The worst validated stream of each direction over all permissions. */
static void media_summary(const struct turn_alloc *a, struct turn_alloc_info *v)
{
	struct turn_rtpq_ssrc_report r[TURN_RTPQ_MAX_SSRC];
	size_t n;

	for (int dir = 0; dir < 2; dir++) {
		v->loss_pct[dir] = v->jitter_ms[dir] = -1;
		for (const struct turn_perm *p = a->perms; p; p = p->next) {
			turn_rtpq_report(&p->rtpq[dir], r, TURN_RTPQ_MAX_SSRC,
			                 &n);
			for (size_t i = 0; i < n; i++) {
				if (!r[i].validated)
					continue;
				double loss = 100.0 * r[i].loss_fraction;
				if (loss > v->loss_pct[dir])
					v->loss_pct[dir] = loss;
				if (r[i].jitter_ms > v->jitter_ms[dir])
					v->jitter_ms[dir] = r[i].jitter_ms;
			}
		}
	}
}

static void fill(const struct turn_server *s, const struct turn_alloc *a,
                 uint64_t now_ms, struct turn_alloc_info *v)
{
	memset(v, 0, sizeof(*v));
	v->serial = a->serial;
	v->worker = s->cfg.worker_index;
	if (a->qkey) {
		size_t n = a->qkey_len < TURN_INFO_USER_MAX - 1
		                   ? a->qkey_len
		                   : TURN_INFO_USER_MAX - 1;
		memcpy(v->user, a->qkey, n);
	}
	v->transport = a->tuple.transport;
	v->client = a->tuple.client;
	for (int i = 0, k = 0; i < 2; i++) {
		const struct turn_relay *rl = &a->relay[i];
		/* a deleted one (turn_alloc_describe) shows its last ports */
		uint16_t port = rl->handle               ? rl->port
		                : a->state == ALLOC_DEAD ? a->end_port[i]
		                                         : 0;
		if (!rl->family || !port)
			continue;
		union turn_addr *ra = &v->relay[k++];
		*ra = s->cfg.relay_ips[rl->ip_index].advertise;
		if (ra->sa.sa_family == AF_INET)
			ra->in4.sin_port = htons(port);
		else
			ra->in6.sin6_port = htons(port);
	}
	v->created_s = a->created_s;
	v->lifetime_s = a->lifetime_s;
	v->expires_in_s = left_s(a->expires_ms, now_ms);
	v->permissions = a->nperms;
	v->channels = a->nchans;
	memcpy(v->pkts, a->pkts, sizeof(v->pkts));
	memcpy(v->bytes, a->bytes, sizeof(v->bytes));
	media_summary(a, v);
}

static bool has_peer(const struct turn_alloc *a, const struct turn_ipkey *k)
{
	for (const struct turn_perm *p = a->perms; p; p = p->next)
		if (p->ip.family == k->family &&
		    memcmp(p->ip.ip, k->ip, sizeof(k->ip)) == 0)
			return true;
	return false;
}

static bool matches(const struct turn_server *s, const struct turn_alloc *a,
                    const struct turn_alloc_filter *f,
                    const struct turn_ipkey *peer, uint64_t now_ms)
{
	if (!live(a, now_ms))
		return false;
	if (f && f->user && (!a->qkey || strcmp(a->qkey, f->user) != 0))
		return false;
	if (f && f->realm &&
	    strcmp(a->realm ? a->realm : turn_server_realm(s), f->realm) != 0)
		return false;
	return !peer || has_peer(a, peer);
}

size_t turn_server_list(const struct turn_server *s,
                        const struct turn_alloc_filter *f, uint64_t now_ms,
                        size_t skip, struct turn_alloc_info *v, size_t cap)
{
	struct turn_ipkey key, *peer = NULL;
	size_t total = 0, rank;

	if (!s)
		return 0;
	if (f && f->peer) {
		if (!turn_ipkey_set(&key, &f->peer->sa, false))
			return 0;
		peer = &key;
	}
	for (const struct turn_alloc *a = s->all; a; a = a->next)
		total += matches(s, a, f, peer, now_ms);
	/* s->all is newest first: serials run down it, ranks count up. */
	rank = total;
	for (const struct turn_alloc *a = s->all; a; a = a->next) {
		if (!matches(s, a, f, peer, now_ms))
			continue;
		rank--;
		if (rank >= skip && rank - skip < cap)
			fill(s, a, now_ms, &v[rank - skip]);
	}
	return total;
}

static struct turn_alloc *by_serial(const struct turn_server *s,
                                    uint64_t serial)
{
	for (struct turn_alloc *a = s->all; a; a = a->next)
		if (a->serial == serial)
			return a;
	return NULL;
}

int turn_server_inspect(const struct turn_server *s, uint64_t serial,
                        uint64_t now_ms, struct turn_alloc_info *info,
                        struct turn_perm_info *perms, size_t pcap, size_t *np,
                        struct turn_chan_info *chans, size_t ccap, size_t *nc)
{
	const struct turn_alloc *a = s ? by_serial(s, serial) : NULL;
	size_t n = 0;

	*np = *nc = 0;
	if (!a || !live(a, now_ms))
		return ENOENT;
	fill(s, a, now_ms, info);
	for (const struct turn_perm *p = a->perms; p && n < pcap; p = p->next) {
		struct turn_perm_info *pi = &perms[n++];
		memset(pi, 0, sizeof(*pi));
		perm_addr(p, &pi->peer);
		pi->expires_in_s = left_s(p->expires_ms, now_ms);
		memcpy(pi->pkts, p->pkts, sizeof(pi->pkts));
		memcpy(pi->bytes, p->bytes, sizeof(pi->bytes));
		for (int dir = 0; dir < 2; dir++)
			turn_rtpq_report(&p->rtpq[dir], pi->media[dir].ssrc,
			                 TURN_RTPQ_MAX_SSRC,
			                 &pi->media[dir].nssrc);
	}
	*np = n;
	n = 0;
	for (const struct turn_chan *c = a->chans; c && n < ccap; c = c->next) {
		struct turn_chan_info *ci = &chans[n++];
		memset(ci, 0, sizeof(*ci));
		ci->number = c->number;
		ci->peer = c->peer;
		ci->expires_in_s = left_s(c->expires_ms, now_ms);
	}
	*nc = n;
	return 0;
}

int turn_server_kick(struct turn_server *s, uint64_t serial, uint64_t now_ms,
                     struct turn_actions *out)
{
	struct turn_alloc *a;

	if (!s || !out)
		return EINVAL;
	turn_graveyard_flush(s);
	s->out = out;
	if (now_ms > s->now_ms)
		s->now_ms = now_ms;
	a = by_serial(s, serial);
	if (!a || !live(a, s->now_ms))
		return ENOENT;
	s->stats.allocations_deleted++;
	s->stats.allocations_kicked++;
	turn_alloc_release(a, "kicked");
	return 0;
}

/* For the Redis records (cluster.c emits the events). */
void turn_alloc_describe(const struct turn_alloc *a, struct turn_alloc_view *v)
{
	const struct turn_server *s = a->s;

	fill(s, a, s->now_ms, &v->info);
	v->realm = a->realm ? a->realm : turn_server_realm(s);
	v->active = a->state == ALLOC_ACTIVE;
	v->expires_s = v->active ? s->now_s + v->info.expires_in_s : 0;
}

void turn_node_usage(struct turn_node *n, uint32_t *in_use, uint32_t *free_,
                     uint32_t *total)
{
	struct turn_ports_stats st;

	memset(&st, 0, sizeof(st));
	if (n)
		turn_node_ports_stats(n, &st);
	*in_use = st.in_use;
	*free_ = st.free;
	*total = st.total;
}
