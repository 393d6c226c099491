/*
 * turn/chan.c - channels of an allocation (RFC 8656 s11 ChannelBind, s12).
 * A channel binds a number 0x4000-0x4FFF (0x4000-0x7FFF with
 * cfg.rfc5766_channel_numbers, see turn_channel_max) to one peer
 * transport address (IP and port) for channel_lifetime_s (600 s); binding or
 * refreshing it also installs or refreshes the permission for the peer's IP. A
 * number stays with its peer and a peer with its number while bound. Owned by
 * the allocation; kept in two server-wide tables, by (allocation, number) for
 * client ChannelData and by (allocation, peer) for peer data, so both
 * directions find it with one hash. Pure: time is now_ms.
 */
#include "turn/turn_int.h"

#include <stdlib.h>
#include <string.h>

struct num_key {
	uint64_t alloc;
	uint64_t number;
};

struct peer_key {
	uint64_t alloc;
	struct turn_ipkey addr;
};

static uint64_t num_hash(struct turn_server *s, const struct turn_alloc *a,
                         uint16_t number)
{
	struct num_key k = {(uint64_t)(uintptr_t)a, number};

	return turn_hash(s->hkey, &k, sizeof(k));
}

static uint64_t peer_hash(struct turn_server *s, const struct turn_alloc *a,
                          const union turn_addr *peer)
{
	struct peer_key k;

	memset(&k, 0, sizeof(k));
	k.alloc = (uint64_t)(uintptr_t)a;
	turn_ipkey_set(&k.addr, &peer->sa, true);
	return turn_hash(s->hkey, &k, sizeof(k));
}

struct turn_chan *turn_chan_by_number(struct turn_server *s,
                                      struct turn_alloc *a, uint16_t number)
{
	uint64_t h = num_hash(s, a, number);

	for (struct turn_hnode *n = turn_htab_head(&s->chans_num, h); n;
	     n = n->next) {
		struct turn_chan *c =
		        TURN_CONTAINER(n, struct turn_chan, num_node);
		if (n->hash == h && c->alloc == a && c->number == number)
			return c;
	}
	return NULL;
}

struct turn_chan *turn_chan_by_peer(struct turn_server *s, struct turn_alloc *a,
                                    const union turn_addr *peer)
{
	uint64_t h = peer_hash(s, a, peer);

	for (struct turn_hnode *n = turn_htab_head(&s->chans_peer, h); n;
	     n = n->next) {
		struct turn_chan *c =
		        TURN_CONTAINER(n, struct turn_chan, peer_node);
		if (n->hash == h && c->alloc == a &&
		    turn_addr_equal(&c->peer, peer))
			return c;
	}
	return NULL;
}

void turn_chan_free(struct turn_chan *c)
{
	struct turn_alloc *a = c->alloc;
	struct turn_server *s = a->s;

	turn_wheel_cancel(&c->timer);
	turn_htab_remove(&s->chans_num, &c->num_node);
	turn_htab_remove(&s->chans_peer, &c->peer_node);
	if (c->prev)
		c->prev->next = c->next;
	else
		a->chans = c->next;
	if (c->next)
		c->next->prev = c->prev;
	a->nchans--;
	if (s->stats.channels)
		s->stats.channels--;
	free(c);
}

static void chan_expire(void *arg, uint64_t now_ms)
{
	(void)now_ms;
	turn_chan_free(arg);
}

static struct turn_chan *chan_new(struct turn_server *s, struct turn_alloc *a,
                                  uint16_t number, const union turn_addr *peer)
{
	struct turn_chan *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->alloc = a;
	c->number = number;
	c->peer = *peer;
	turn_timer_init(&c->timer, chan_expire, c);
	turn_htab_insert(&s->chans_num, &c->num_node, num_hash(s, a, number));
	turn_htab_insert(&s->chans_peer, &c->peer_node, peer_hash(s, a, peer));
	c->next = a->chans;
	if (a->chans)
		a->chans->prev = c;
	a->chans = c;
	a->nchans++;
	s->stats.channels++;
	return c;
}

uint16_t turn_channel_max(const struct turn_server *s)
{
	return s->cfg.rfc5766_channel_numbers ? STUN_CHANNEL_MAX
	                                      : STUN_CHANNEL_MAX_RFC8656;
}

/* s11.2 checks: 0 or the error code; *peer decoded. */
static uint16_t bind_args(struct turn_req *r, uint16_t *number,
                          union turn_addr *peer)
{
	const struct stun_attr *cn;
	struct sockaddr_storage ss;

	cn = stun_msg_find(r->m, STUN_ATTR_CHANNEL_NUMBER);
	if (!cn || cn->len != 4)
		return 400;
	*number = (uint16_t)((cn->value[0] << 8) | cn->value[1]);
	if (*number < STUN_CHANNEL_MIN || *number > turn_channel_max(r->s))
		return 400;
	if (stun_msg_get_xor_addr(r->m, STUN_ATTR_XOR_PEER_ADDRESS, &ss) != 0)
		return 400;
	turn_addr_copy(peer, (struct sockaddr *)&ss);
	return turn_peer_check(r, &peer->sa, true);
}

void turn_channel_bind_request(struct turn_req *r)
{
	struct turn_server *s = r->s;
	struct turn_alloc *a = r->alloc;
	union turn_addr peer;
	uint16_t number = 0, code;
	struct turn_chan *c, *other;

	if ((code = bind_args(r, &number, &peer)) != 0) {
		turn_resp_error(r, code);
		return;
	}
	c = turn_chan_by_number(s, a, number);
	other = turn_chan_by_peer(s, a, &peer);
	if ((c && !turn_addr_equal(&c->peer, &peer)) || (other && other != c)) {
		turn_resp_error(r, 400);
		return;
	}
	if (!turn_perm_install(s, a, &peer.sa)) {
		turn_resp_error(r, 508);
		return;
	}
	if (!c && !(c = chan_new(s, a, number, &peer))) {
		turn_resp_error(r, 508);
		return;
	}
	c->expires_ms = s->now_ms + (uint64_t)s->cfg.channel_lifetime_s * 1000;
	turn_wheel_add(s->wheel, &c->timer, c->expires_ms);
	turn_resp_ok(r, false, 0);
}
