/*
 * turn/sweep.c - withdraw what a new peer policy denies (RFC 8656 s21:
 * the server may refuse a peer at any time). A permission, channel or RFC
 * 6062 connection is checked against the policy when it is installed;
 * when the policy or the cluster-peer set changes (a reload, Redis peer
 * lists, another node's listener in the registry), every allocation is
 * checked again: a permission whose IP is denied now, a channel or peer
 * connection whose peer (IP and port) is denied now, is removed, so the
 * data path (which looks up channels and permissions, not the policy)
 * stops relaying to and from that peer at once. Each allocation that lost
 * something gets one LOG line; the counts go to turn_stats.
 *
 * A sweep is resumable: it marks each allocation it has checked with the
 * sweep generation and stops when the caller's action list is nearly full
 * (TCP_CLOSE and LOG need slots); turn_server_tick runs the rest. Pure.
 */
#include "turn/turn_int.h"

#include <string.h>

/* Action slots and scratch bytes one allocation's LOG line needs. */
#define LOG_SLOTS   1
#define LOG_SCRATCH 400

bool turn_peer_denied(const struct turn_server *s, const struct sockaddr *peer)
{
	return turn_policy_check(s->policy, peer) != TURN_POLICY_ALLOWED ||
	       turn_cluster_peer_denied(s, peer);
}

void turn_sweep_start(struct turn_server *s)
{
	s->sweep_gen++;
	s->sweep_due = true;
}

/* The permission's IP with port 0 (the check CreatePermission makes). */
static void perm_addr(const struct turn_perm *p, union turn_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (p->ip.family == AF_INET) {
		a->in4.sin_family = AF_INET;
		memcpy(&a->in4.sin_addr, p->ip.ip, 4);
	} else {
		a->in6.sin6_family = AF_INET6;
		memcpy(&a->in6.sin6_addr, p->ip.ip, 16);
	}
}

static void withdraw_perms(struct turn_alloc *a)
{
	struct turn_server *s = a->s;
	union turn_addr ip;

	for (struct turn_perm *p = a->perms, *next; p; p = next) {
		next = p->next;
		perm_addr(p, &ip);
		if (!turn_peer_denied(s, &ip.sa))
			continue;
		turn_perm_free(p);
		a->withdrawn[0]++;
		s->stats.permissions_withdrawn++;
	}
}

static void withdraw_chans(struct turn_alloc *a)
{
	struct turn_server *s = a->s;

	for (struct turn_chan *c = a->chans, *next; c; c = next) {
		next = c->next;
		if (!turn_peer_denied(s, &c->peer.sa))
			continue;
		turn_chan_free(c);
		a->withdrawn[1]++;
		s->stats.channels_withdrawn++;
	}
}

static void log_withdrawn(struct turn_alloc *a)
{
	char client[64];

	turn_addr_str(&a->tuple.client, client, sizeof(client));
	turn_log(a->s,
	         "allocation peers withdrawn: user=%s client=%s serial=%llu "
	         "permissions=%u channels=%u tcp=%u reason=peer denied now",
	         a->qkey ? a->qkey : "-", client, (unsigned long long)a->serial,
	         (unsigned)a->withdrawn[0], (unsigned)a->withdrawn[1],
	         (unsigned)a->withdrawn[2]);
	memset(a->withdrawn, 0, sizeof(a->withdrawn));
}

static bool room(const struct turn_actions *out)
{
	return out->n + LOG_SLOTS + 1 < TURN_ACTIONS_MAX &&
	       out->used + LOG_SCRATCH < TURN_SCRATCH_LEN;
}

/* true: a is done with this generation. */
static bool sweep_alloc(struct turn_alloc *a)
{
	bool more = false;

	if (a->state == ALLOC_ACTIVE) {
		withdraw_perms(a);
		withdraw_chans(a);
		a->withdrawn[2] += turn_tcp_withdraw(a, LOG_SLOTS, &more);
	}
	if (more)
		return false;
	if (a->withdrawn[0] || a->withdrawn[1] || a->withdrawn[2])
		log_withdrawn(a);
	a->sweep_gen = a->s->sweep_gen;
	return true;
}

void turn_sweep_run(struct turn_server *s)
{
	if (!s->sweep_due || !s->out)
		return;
	for (struct turn_alloc *a = s->all; a; a = a->next) {
		if (a->sweep_gen == s->sweep_gen)
			continue;
		if (!room(s->out) || !sweep_alloc(a))
			return; /* the rest at the next tick */
	}
	s->sweep_due = false;
}
