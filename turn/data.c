/*
 * turn/data.c - the data path (RFC 8656 s11 Send and Data indications,
 * s12 ChannelData): client -> peer and peer -> client. Every lookup is one
 * hash (tuple, channel number, peer address, permission); nothing is
 * allocated and no payload is copied: a SEND_PEER points into the client's
 * buffer, and peer data gets its ChannelData or Data indication header
 * written in place into the headroom before it (padding after it).
 * The allocation's bandwidth class (bw.h, or max_bps) is a token bucket
 * per allocation and direction. Pure: time is the now_ms of the call.
 */
#include "turn/turn_int.h"

#include <string.h>

/* Payload relayed to (dir 0) or from (dir 1) a permitted peer IP. */
static void flow_count(struct turn_perm *p, int dir, size_t len)
{
	p->pkts[dir]++;
	p->bytes[dir] += len;
}

/* Take len bytes from the bucket of a direction (0: to peer, 1: to
 * client); false when over the allocation's class (counted). */
static bool bucket_take(struct turn_server *s, struct turn_alloc *a, int dir,
                        size_t len)
{
	uint64_t rate = a->bw_implicit ? s->cfg.max_bps : a->bw_rate;
	uint64_t burst = a->bw_implicit ? s->cfg.max_bps : a->bw_burst;

	if (turn_bw_bucket_take(&a->bucket[dir], rate, burst, s->now_ms, len))
		return true;
	s->stats.drop_rate_limit++;
	s->stats.bw_dropped_pkts[a->bw_slot][dir]++;
	s->stats.bw_dropped_bytes[a->bw_slot][dir] += len;
	return false;
}

static void send_peer(struct turn_server *s, struct turn_alloc *a,
                      struct turn_relay *rl, const union turn_addr *peer,
                      const uint8_t *data, size_t len, bool df)
{
	struct turn_action *act = turn_act_push(s->out, TURN_ACT_SEND_PEER);

	if (!act)
		return;
	act->relay = rl->handle;
	act->peer = peer;
	act->data = data;
	act->len = len;
	act->dont_fragment = df;
	a->bytes[0] += len;
	a->pkts[0]++;
	s->stats.relayed_to_peer_pkts++;
	s->stats.relayed_to_peer_bytes += len;
}

static struct turn_alloc *active_alloc(struct turn_server *s,
                                       const struct turn_tuple *from)
{
	struct turn_alloc *a = turn_alloc_find(s, from);

	if (!a || a->state != ALLOC_ACTIVE) {
		s->stats.drop_no_alloc++;
		return NULL;
	}
	return a;
}

void turn_send_indication(struct turn_server *s, const struct turn_tuple *from,
                          const struct stun_msg *m, struct turn_actions *out)
{
	struct sockaddr_storage ss;
	const struct stun_attr *data;
	struct turn_alloc *a = active_alloc(s, from);
	struct turn_relay *rl;
	struct turn_perm *p = NULL;

	if (!a)
		return;
	data = stun_msg_find(m, STUN_ATTR_DATA);
	if (!data ||
	    stun_msg_get_xor_addr(m, STUN_ATTR_XOR_PEER_ADDRESS, &ss) != 0) {
		s->stats.drop_malformed++;
		return;
	}
	rl = turn_alloc_relay(a, ss.ss_family);
	if (!rl ||
	    !(p = turn_perm_find(s, a, (struct sockaddr *)&ss, s->now_ms))) {
		s->stats.drop_no_permission++;
		return;
	}
	/* The permission admits the IP; the node's own ports, and other
	 * nodes' listeners, stay closed. */
	if (turn_policy_check(s->policy, (struct sockaddr *)&ss) !=
	            TURN_POLICY_ALLOWED ||
	    turn_cluster_peer_denied(s, (struct sockaddr *)&ss)) {
		s->stats.drop_denied_peer++;
		return;
	}
	if (!bucket_take(s, a, 0, data->len))
		return;
	union turn_addr *peer = turn_scratch(out, sizeof(*peer));
	if (!peer) {
		out->dropped++;
		return;
	}
	turn_addr_copy(peer, (struct sockaddr *)&ss);
	turn_rtpq_update(&p->rtpq[0], data->value, data->len, s->now_ms);
	flow_count(p, 0, data->len);
	send_peer(s, a, rl, peer, data->value, data->len,
	          stun_msg_find(m, STUN_ATTR_DONT_FRAGMENT) != NULL);
}

void turn_channel_data(struct turn_server *s, const struct turn_tuple *from,
                       uint8_t *buf, size_t len)
{
	struct stun_chandata cd;
	enum stun_reason why;
	struct turn_alloc *a;
	struct turn_chan *c;
	struct turn_relay *rl;
	struct turn_perm *p;

	if (stun_chandata_parse(&cd, buf, len, &why) != 0 ||
	    cd.channel > turn_channel_max(s)) {
		s->stats.drop_malformed++;
		return;
	}
	if (!(a = active_alloc(s, from)))
		return;
	c = turn_chan_by_number(s, a, cd.channel);
	if (!c || c->expires_ms <= s->now_ms) {
		s->stats.drop_no_channel++;
		return;
	}
	rl = turn_alloc_relay(a, c->peer.sa.sa_family);
	if (!rl || !(p = turn_perm_find(s, a, &c->peer.sa, s->now_ms))) {
		s->stats.drop_no_permission++;
		return;
	}
	if (!bucket_take(s, a, 0, cd.len))
		return;
	turn_rtpq_update(&p->rtpq[0], buf + 4, cd.len, s->now_ms);
	flow_count(p, 0, cd.len);
	send_peer(s, a, rl, &c->peer, buf + 4, cd.len, false);
}

/* --- peer -> client ---------------------------------------------------- */

static void send_client(struct turn_server *s, struct turn_alloc *a,
                        const uint8_t *data, size_t len, size_t payload)
{
	struct turn_action *act = turn_act_push(s->out, TURN_ACT_SEND_CLIENT);

	if (!act)
		return;
	act->tuple = &a->tuple;
	act->data = data;
	act->len = len;
	a->bytes[1] += payload;
	a->pkts[1]++;
	s->stats.relayed_to_client_pkts++;
	s->stats.relayed_to_client_bytes += payload;
}

/* Data indication (s11.4) around buf: header, XOR-PEER-ADDRESS and the
 * DATA attribute header in the headroom, zero padding after. */
static void data_indication(struct turn_server *s, struct turn_alloc *a,
                            const union turn_addr *peer, uint8_t *buf,
                            size_t len)
{
	size_t alen = peer->sa.sa_family == AF_INET ? 8 : 20;
	size_t hdr = STUN_HEADER_LEN + 4 + alen + 4;
	size_t pad = (4 - (len & 3)) & 3;
	uint8_t tid[STUN_TID_LEN];
	struct stun_builder b;

	if (hdr - STUN_HEADER_LEN + len + pad > 0xFFFF)
		return;
	for (int i = 0; i < 3; i++) {
		uint32_t r = turn_rng(s);
		memcpy(tid + 4 * i, &r, 4);
	}
	uint8_t *h = buf - hdr;
	stun_build_init(&b, h, hdr - 4, STUN_METHOD_DATA, STUN_CLASS_INDICATION,
	                tid);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &peer->sa);
	if (b.err || b.len != hdr - 4)
		return;
	uint8_t *d = h + hdr - 4;
	d[0] = (uint8_t)(STUN_ATTR_DATA >> 8);
	d[1] = (uint8_t)STUN_ATTR_DATA;
	d[2] = (uint8_t)(len >> 8);
	d[3] = (uint8_t)len;
	memset(buf + len, 0, pad);
	size_t mlen = hdr - STUN_HEADER_LEN + len + pad;
	h[2] = (uint8_t)(mlen >> 8);
	h[3] = (uint8_t)mlen;
	send_client(s, a, h, hdr + len + pad, len);
}

void turn_peer_data(struct turn_server *s, struct turn_alloc *a,
                    const union turn_addr *peer, uint8_t *buf, size_t len,
                    struct turn_actions *out)
{
	struct turn_chan *c;
	struct turn_perm *p;

	(void)out;
	if (a->state != ALLOC_ACTIVE || a->expires_ms <= s->now_ms) {
		s->stats.drop_no_alloc++;
		return;
	}
	if (!(p = turn_perm_find(s, a, &peer->sa, s->now_ms))) {
		s->stats.drop_no_permission++;
		return;
	}
	/* A permission admits an IP; another node's listener on it stays
	 * shut (a denied IP has no permission left: turn/sweep.c). */
	if (s->cluster_peers && turn_cluster_peer_denied(s, &peer->sa)) {
		s->stats.drop_denied_peer++;
		return;
	}
	if (!bucket_take(s, a, 1, len))
		return;
	turn_rtpq_update(&p->rtpq[1], buf, len, s->now_ms);
	flow_count(p, 1, len);
	c = turn_chan_by_peer(s, a, peer);
	if (!c || c->expires_ms <= s->now_ms) {
		data_indication(s, a, peer, buf, len);
		return;
	}
	if (len > 0xFFFF)
		return;
	bool pad = a->tuple.transport != TURN_TRANSPORT_UDP;
	size_t n = stun_chandata_build(buf - 4, len + 8, c->number, buf,
	                               (uint16_t)len, pad);
	if (n)
		send_client(s, a, buf - 4, n, len);
}

/* ICMP from the kernel for a datagram this allocation sent to peer
 * (RFC 8656 s11.6, s18.13): a Data indication with XOR-PEER-ADDRESS and
 * ICMP (2 reserved bytes, type, code, 4 bytes of error data: the next-hop
 * MTU for "fragmentation needed" / "packet too big", else 0), only for a
 * peer the allocation has a permission for. */
void turn_peer_icmp(struct turn_server *s, struct turn_alloc *a,
                    const union turn_addr *peer, uint8_t type, uint8_t code,
                    uint32_t info)
{
	uint8_t tid[STUN_TID_LEN], icmp[8] = {0, 0, type, code};
	struct stun_builder b;
	uint8_t *buf;

	if (a->state != ALLOC_ACTIVE || a->expires_ms <= s->now_ms ||
	    !turn_perm_find(s, a, &peer->sa, s->now_ms))
		return;
	icmp[4] = (uint8_t)(info >> 24);
	icmp[5] = (uint8_t)(info >> 16);
	icmp[6] = (uint8_t)(info >> 8);
	icmp[7] = (uint8_t)info;
	for (int i = 0; i < 3; i++) {
		uint32_t r = turn_rng(s);
		memcpy(tid + 4 * i, &r, 4);
	}
	buf = turn_scratch(s->out, 128);
	if (!buf)
		return;
	stun_build_init(&b, buf, 128, STUN_METHOD_DATA, STUN_CLASS_INDICATION,
	                tid);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS, &peer->sa);
	stun_build_attr(&b, STUN_ATTR_ICMP, icmp, sizeof(icmp));
	size_t n = stun_build_finish(&b);
	struct turn_action *act =
	        n ? turn_act_push(s->out, TURN_ACT_SEND_CLIENT) : NULL;
	if (act) {
		act->tuple = &a->tuple;
		act->data = buf;
		act->len = n;
		s->stats.icmp_relayed++;
	}
}
