/*
 * tests/unit/test_turn_data.c - the TURN core's permissions, channels and
 * data path (turn/perm.c, chan.c, data.c) against a fake edge and clock:
 * CreatePermission and ChannelBind rules, Send indications, ChannelData
 * both ways with the header written in place, Data indications, expiry
 * edges and max_bps.
 */
#include "tests/unit/turn_harness.h"

#define PEER  "198.51.100.7"
#define PEER2 "198.51.100.8"

static struct turn_tuple A;

static void setup(void)
{
	A = h_tuple("192.0.2.10", 40000);
}

/* An allocation on A; returns its core handle (from OPEN_RELAY). */
static struct turn_alloc *alloc_on(struct h *h, const struct turn_tuple *t)
{
	ck_assert_int_eq(h_allocate(h, t), 0);
	return h->alloc;
}

static void send_ind(struct h *h, const struct turn_tuple *t, const char *ip,
                     uint16_t port, const void *data, size_t len, bool df)
{
	struct stun_builder b;

	h_begin(h, &b, STUN_METHOD_SEND, STUN_CLASS_INDICATION);
	h_peer_attr(&b, ip, port);
	if (df)
		stun_build_attr(&b, STUN_ATTR_DONT_FRAGMENT, NULL, 0);
	stun_build_attr(&b, STUN_ATTR_DATA, data, len);
	h_send(h, &b, t);
}

static void chandata(struct h *h, const struct turn_tuple *t, uint16_t ch,
                     const void *data, size_t len)
{
	uint8_t buf[1600];

	memcpy(buf + 4, data, len);
	size_t n = stun_chandata_build(buf, sizeof(buf), ch, buf + 4,
	                               (uint16_t)len, false);
	ck_assert_uint_gt(n, 0);
	h_input(h, t, buf, n);
}

/* ICMP from the kernel for a permitted peer becomes a Data indication with
 * XOR-PEER-ADDRESS and ICMP (type, code, error data) and no DATA; for a
 * peer without a permission nothing reaches the client. */
START_TEST(test_turn_data_icmp_to_client)
{
	struct h *h = h_default();
	struct turn_alloc *alloc = alloc_on(h, &A);
	union turn_addr peer, other;
	struct stun_msg m;
	struct sockaddr_storage got;

	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	h_sa(&peer, PEER, 5004);
	h_sa(&other, PEER2, 5004);

	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_peer_icmp(h->s, alloc, &other, 3, 3, 0, h->now_ms, &h->out);
	h_run(h);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 0);

	h_clear(h);
	turn_actions_reset(&h->out);
	turn_server_peer_icmp(h->s, alloc, &peer, 3, 4, 1400, h->now_ms,
	                      &h->out);
	h_run(h);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 1);
	const struct h_sent *e = h_last(h, TURN_ACT_SEND_CLIENT);
	ck_assert_int_eq(stun_msg_parse(&m, e->data, e->len, NULL), 0);
	ck_assert_uint_eq(m.method, STUN_METHOD_DATA);
	ck_assert_uint_eq(m.cls, STUN_CLASS_INDICATION);
	ck_assert_ptr_null(stun_msg_find(&m, STUN_ATTR_DATA));
	const struct stun_attr *icmp = stun_msg_find(&m, STUN_ATTR_ICMP);
	ck_assert_ptr_nonnull(icmp);
	ck_assert_uint_eq(icmp->len, 8);
	ck_assert_uint_eq(icmp->value[2], 3);
	ck_assert_uint_eq(icmp->value[3], 4);
	ck_assert_uint_eq((uint32_t)icmp->value[6] << 8 | icmp->value[7], 1400);
	ck_assert_int_eq(
	        stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_PEER_ADDRESS, &got), 0);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&got)->sin_port), 5004);
	h_free(h);
}
END_TEST

/* ---- CreatePermission
 * -------------------------------------------------------- */

START_TEST(test_turn_perm_denied_peers)
{
	static const char *denied[] = {"127.0.0.1", "10.0.0.1",
	                               "::ffff:127.0.0.1", "169.254.169.254"};
	struct h *h = h_default();
	struct turn_alloc *a = alloc_on(h, &A);

	for (size_t i = 0; i < 4; i++) {
		int code = h_permit(h, &A, denied[i]);
		/* an IPv6 peer on an IPv4 allocation is 443 first */
		ck_assert_int_eq(code, strchr(denied[i], ':') ? 443 : 403);
	}
	/* all or nothing: a good peer with a bad one installs nothing */
	struct stun_builder b;
	h_begin(h, &b, STUN_METHOD_CREATE_PERMISSION, STUN_CLASS_REQUEST);
	h_peer_attr(&b, PEER, 0);
	h_peer_attr(&b, "10.0.0.1", 0);
	h_sign(h, &b);
	h_send(h, &b, &A);
	ck_assert_int_eq(h_code(h), 403);
	ck_assert_uint_eq(turn_server_stats(h->s)->permissions, 0);
	h_peer(h, a, PEER, 5000, (const uint8_t *)"x", 1);
	ck_assert_uint_eq(h->nsent, 0);
	h_peer(h, a, "127.0.0.1", 5000, (const uint8_t *)"x", 1);
	ck_assert_uint_eq(h->nsent, 0);
	ck_assert_uint_ge(turn_server_stats(h->s)->drop_denied_peer, 3);
	h_free(h);
}
END_TEST

START_TEST(test_turn_perm_loopback_v6_mapped)
{
	struct h *h = h_new();

	h_add_v6(&h->cfg);
	h_start(h, 0, 0);
	/* dual-stack so the IPv6 family passes: policy must still deny */
	struct stun_builder b;
	h_challenge(h, &A);
	h_begin(h, &b, STUN_METHOD_ALLOCATE, STUN_CLASS_REQUEST);
	h_transport(&b, STUN_TRANSPORT_UDP);
	stun_build_u32(&b, STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY, 0x02000000);
	h_sign(h, &b);
	h_send(h, &b, &A);
	ck_assert_int_eq(h_code(h), 0);
	ck_assert_int_eq(h_permit(h, &A, "::ffff:127.0.0.1"), 403);
	ck_assert_int_eq(h_permit(h, &A, "::1"), 403);
	ck_assert_int_eq(h_permit(h, &A, "2001:db8::7"), 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_perm_allow_loopback)
{
	struct h *h = h_default();

	alloc_on(h, &A);
	ck_assert_int_eq(h_permit(h, &A, "127.0.0.1"), 403);
	turn_policy_set_allow_loopback(h->policy, true);
	ck_assert_int_eq(h_permit(h, &A, "127.0.0.1"), 0);
	h_free(h);
}
END_TEST

/* A policy swapped in (Redis peer lists) rules the next CreatePermission
 * and Send; a deny in the new one stops Sends of a live permission. */
START_TEST(test_turn_perm_set_policy)
{
	struct h *h = h_default();
	struct turn_policy *open, *shut;

	alloc_on(h, &A);
	ck_assert_int_eq(turn_policy_new(&open), 0);
	ck_assert_int_eq(turn_policy_new(&shut), 0);
	ck_assert_int_eq(turn_policy_allow(open, "127.0.0.1"), 0);
	ck_assert_int_eq(turn_policy_allow(shut, "127.0.0.1"), 0);
	ck_assert_int_eq(turn_policy_deny(shut, "127.0.0.0-127.0.0.1"), 0);
	ck_assert_int_eq(h_permit(h, &A, "127.0.0.1"), 403);
	h_set_policy(h, open);
	ck_assert_int_eq(h_permit(h, &A, "127.0.0.1"), 0);
	send_ind(h, &A, "127.0.0.1", 6000, "x", 1, false);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 1);
	h_set_policy(h, NULL); /* ignored */
	h_set_policy(h, shut);
	send_ind(h, &A, "127.0.0.1", 6000, "x", 1, false);
	ck_assert_uint_eq(h->nsent, 0);
	ck_assert_int_eq(h_permit(h, &A, "127.0.0.1"), 403);
	h_set_policy(h, h->policy);
	turn_policy_free(open);
	turn_policy_free(shut);
	h_free(h);
}
END_TEST

START_TEST(test_turn_perm_request_errors)
{
	struct h *h = h_default();
	struct stun_builder b;

	alloc_on(h, &A);
	h_begin(h, &b, STUN_METHOD_CREATE_PERMISSION, STUN_CLASS_REQUEST);
	h_sign(h, &b);
	h_send(h, &b, &A);
	ck_assert_int_eq(h_code(h), 400);
	ck_assert_int_eq(h_permit(h, &A, "2001:db8::7"), 443);
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->permissions, 1);
	ck_assert_int_eq(h_permit(h, &A, PEER), 0); /* refresh */
	ck_assert_uint_eq(turn_server_stats(h->s)->permissions, 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_perm_expires_at_300s)
{
	struct h *h = h_default();
	struct turn_alloc *a = alloc_on(h, &A);

	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	h_at(h, 299999);
	h_peer(h, a, PEER, 7000, (const uint8_t *)"abc", 3);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 1);
	h->now_ms = H_MS0 + 300000; /* not ticked: expired all the same */
	h_peer(h, a, PEER, 7000, (const uint8_t *)"abc", 3);
	ck_assert_uint_eq(h->nsent, 0);
	h_at(h, 300000);
	ck_assert_uint_eq(turn_server_stats(h->s)->permissions, 0);
	h_free(h);
}
END_TEST

/* ---- ChannelBind
 * ---------------------------------------------------------------- */

START_TEST(test_turn_chan_bind_rules)
{
	struct h *h = h_default();
	struct stun_builder b;

	alloc_on(h, &A);
	ck_assert_int_eq(h_bind(h, &A, 0x3FFF, PEER, 5000), 400);
	/* RFC 8656 s12's range by default (STUN_CHANNEL_MAX_RFC8656) */
	ck_assert_int_eq(
	        h_bind(h, &A, STUN_CHANNEL_MAX_RFC8656 + 1, PEER, 5000), 400);
	ck_assert_int_eq(h_bind(h, &A, 0xFFFF, PEER, 5000), 400);
	ck_assert_int_eq(h_bind(h, &A, 0, PEER, 5000), 400);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, "10.1.2.3", 5000), 403);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, "2001:db8::1", 5000), 443);
	ck_assert_uint_eq(turn_server_stats(h->s)->channels, 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4FFF, PEER, 5001), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0); /* refresh */
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER2, 5000), 400);
	ck_assert_int_eq(h_bind(h, &A, 0x4001, PEER, 5000), 400);
	ck_assert_uint_eq(turn_server_stats(h->s)->channels, 2);
	ck_assert_uint_eq(turn_server_stats(h->s)->permissions, 1);
	/* no peer address */
	h_begin(h, &b, STUN_METHOD_CHANNEL_BIND, STUN_CLASS_REQUEST);
	stun_build_u32(&b, STUN_ATTR_CHANNEL_NUMBER, 0x40020000);
	h_sign(h, &b);
	h_send(h, &b, &A);
	ck_assert_int_eq(h_code(h), 400);
	/* no channel number */
	h_begin(h, &b, STUN_METHOD_CHANNEL_BIND, STUN_CLASS_REQUEST);
	h_peer_attr(&b, PEER, 6000);
	h_sign(h, &b);
	h_send(h, &b, &A);
	ck_assert_int_eq(h_code(h), 400);
	h_free(h);
}
END_TEST

/* RFC 8656 s12: channel numbers 0x4000-0x4FFF; 0x5000-0x7FFF are
 * reserved (RFC 7983, RFC 9443 demultiplex on them). */
START_TEST(test_rfc8656_s12_channel_bind_outside_0x4000_0x4fff_400)
{
	struct h *h = h_default();

	alloc_on(h, &A);
	ck_assert_int_eq(h_bind(h, &A, 0x5000, PEER, 5000), 400);
	ck_assert_int_eq(h_bind(h, &A, 0x7FFF, PEER, 5000), 400);
	ck_assert_int_eq(h_bind(h, &A, 0x8000, PEER, 5000), 400);
	ck_assert_uint_eq(turn_server_stats(h->s)->channels, 0);
	ck_assert_int_eq(h_bind(h, &A, 0x4FFF, PEER, 5000), 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->channels, 1);
	h_free(h);
}
END_TEST

START_TEST(test_rfc8656_s12_channeldata_outside_0x4000_0x4fff_dropped)
{
	struct h *h = h_default();

	alloc_on(h, &A);
	ck_assert_int_eq(h_bind(h, &A, 0x4FFF, PEER, 5000), 0);
	uint64_t malformed = turn_server_stats(h->s)->drop_malformed;
	chandata(h, &A, 0x5000, "hello", 5);
	chandata(h, &A, 0x7FFF, "hello", 5);
	ck_assert_uint_eq(h->nsent, 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->drop_malformed,
	                  malformed + 2);
	chandata(h, &A, 0x4FFF, "hello", 5);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 1);
	h_free(h);
}
END_TEST

/* rfc5766-channel-numbers: the RFC 5766 range 0x4000-0x7FFF, both ways. */
START_TEST(test_rfc5766_channel_numbers_0x4000_0x7fff_when_configured)
{
	struct h *h = h_new();

	h->cfg.rfc5766_channel_numbers = true;
	h_start(h, 0, 0);
	struct turn_alloc *a = alloc_on(h, &A);
	ck_assert_int_eq(h_bind(h, &A, 0x5000, PEER, 5000), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x7FFF, PEER, 5001), 0);
	ck_assert_int_eq(h_bind(h, &A, 0x8000, PEER, 5002), 400);
	ck_assert_int_eq(h_bind(h, &A, 0x3FFF, PEER, 5002), 400);
	chandata(h, &A, 0x7FFF, "hello", 5);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 1);
	ck_assert_uint_eq(ntohs(h->sent[0].peer.in4.sin_port), 5001);
	h_peer(h, a, PEER, 5000, (const uint8_t *)"hi", 2);
	ck_assert_uint_eq(h->sent[0].data[0], 0x50);
	ck_assert_uint_eq(h->sent[0].data[1], 0x00);
	h_free(h);
}
END_TEST

START_TEST(test_turn_chan_expires_at_600s)
{
	struct h *h = h_default();
	struct turn_alloc *a = alloc_on(h, &A);

	ck_assert_int_eq(h_bind(h, &A, 0x4001, PEER, 5000), 0);
	/* keep the allocation and the permission alive past 600 s */
	h->now_ms = H_MS0 + 500000;
	h->now_s = H_S0 + 500;
	ck_assert_int_eq(h_refresh(h, &A, 600), 0);
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	h_at(h, 599999);
	chandata(h, &A, 0x4001, "hello", 5);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 1);
	h_peer(h, a, PEER, 5000, (const uint8_t *)"hi", 2);
	ck_assert_uint_eq(h->sent[0].data[0], 0x40);
	h_at(h, 600000);
	ck_assert_uint_eq(turn_server_stats(h->s)->channels, 0);
	chandata(h, &A, 0x4001, "hello", 5);
	ck_assert_uint_eq(h->nsent, 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->drop_no_channel, 1);
	/* peer data now comes as a Data indication */
	h_peer(h, a, PEER, 5000, (const uint8_t *)"hi", 2);
	ck_assert_uint_eq(h->sent[0].data[0], 0x00);
	h_free(h);
}
END_TEST

START_TEST(test_turn_chan_bind_refreshes_permission)
{
	struct h *h = h_default();
	struct turn_alloc *a = alloc_on(h, &A);

	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	h->now_ms = H_MS0 + 200000;
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0);
	h_at(h, 400000);
	h_peer(h, a, PEER, 9999, (const uint8_t *)"x", 1);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_CLIENT), 1);
	h_at(h, 500000);
	h_peer(h, a, PEER, 9999, (const uint8_t *)"x", 1);
	ck_assert_uint_eq(h->nsent, 0);
	h_free(h);
}
END_TEST

/* ---- Send indication
 * ------------------------------------------------------------- */

START_TEST(test_turn_data_send_indication)
{
	struct h *h = h_default();
	static const uint8_t payload[] = "exact payload bytes";
	const struct h_sent *e;

	alloc_on(h, &A);
	void *handle = (void *)(h->next_handle - 1);
	send_ind(h, &A, PEER, 6000, payload, sizeof(payload), false);
	ck_assert_uint_eq(h->nsent, 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->drop_no_permission, 1);
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	for (int df = 0; df < 2; df++) {
		send_ind(h, &A, PEER, 6000, payload, sizeof(payload), df);
		ck_assert_uint_eq(h->nsent, 1);
		e = h_last(h, TURN_ACT_SEND_PEER);
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(e->len, sizeof(payload));
		ck_assert(memcmp(e->data, payload, sizeof(payload)) == 0);
		ck_assert_ptr_eq(e->relay, handle);
		ck_assert_uint_eq(ntohs(e->peer.in4.sin_port), 6000);
		ck_assert_int_eq(e->df, df);
	}
	/* other port of the same IP: the permission is by IP */
	send_ind(h, &A, PEER, 6001, payload, 3, false);
	ck_assert_uint_eq(h_count(h, TURN_ACT_SEND_PEER), 1);
	/* another IP: nothing */
	send_ind(h, &A, PEER2, 6000, payload, 3, false);
	ck_assert_uint_eq(h->nsent, 0);
	/* from a tuple without allocation: nothing */
	struct turn_tuple other = h_tuple("192.0.2.77", 1);
	send_ind(h, &other, PEER, 6000, payload, 3, false);
	ck_assert_uint_eq(h->nsent, 0);
	h_free(h);
}
END_TEST

START_TEST(test_turn_data_send_payload_in_place)
{
	struct h *h = h_default();
	struct stun_builder b;
	uint8_t buf[256];

	alloc_on(h, &A);
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	stun_build_init(&b, buf, sizeof(buf), STUN_METHOD_SEND,
	                STUN_CLASS_INDICATION, h->tid);
	h_peer_attr(&b, PEER, 6000);
	stun_build_attr(&b, STUN_ATTR_DATA, "0123456789", 10);
	size_t n = stun_build_finish(&b);
	turn_actions_reset(&h->out);
	turn_server_input(h->s, &A, buf, n, h->now_ms, h->now_s, &h->out);
	ck_assert_uint_eq(h->out.n, 1);
	ck_assert_ptr_eq(h->out.v[0].data, buf + n - 12); /* DATA value */
	/* ChannelData: payload is buf+4 */
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 6000), 0);
	memcpy(buf + 4, "abcdef", 6);
	n = stun_chandata_build(buf, sizeof(buf), 0x4000, buf + 4, 6, false);
	turn_actions_reset(&h->out);
	turn_server_input(h->s, &A, buf, n, h->now_ms, h->now_s, &h->out);
	ck_assert_uint_eq(h->out.n, 1);
	ck_assert_int_eq(h->out.v[0].kind, TURN_ACT_SEND_PEER);
	ck_assert_ptr_eq(h->out.v[0].data, buf + 4);
	ck_assert_uint_eq(h->out.v[0].len, 6);
	h_free(h);
}
END_TEST

/* ---- ChannelData and Data indications
 * ---------------------------------------------- */

START_TEST(test_turn_data_channel_both_ways)
{
	struct h *h = h_default();
	struct turn_alloc *a = alloc_on(h, &A);
	const struct h_sent *e;
	uint8_t payload[7] = {1, 2, 3, 4, 5, 6, 7};

	ck_assert_int_eq(h_bind(h, &A, 0x4ABC, PEER, 5000), 0);
	chandata(h, &A, 0x4ABC, payload, 7);
	e = h_last(h, TURN_ACT_SEND_PEER);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->len, 7);
	ck_assert(memcmp(e->data, payload, 7) == 0);
	ck_assert_uint_eq(ntohs(e->peer.in4.sin_port), 5000);
	chandata(h, &A, 0x4ABD, payload, 7);
	ck_assert_uint_eq(h->nsent, 0);
	/* peer -> client: header at buf-4, no padding over UDP */
	h_peer(h, a, PEER, 5000, payload, 7);
	e = h_last(h, TURN_ACT_SEND_CLIENT);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->len, 11);
	ck_assert_uint_eq(e->data[0], 0x4A);
	ck_assert_uint_eq(e->data[1], 0xBC);
	ck_assert_uint_eq(e->data[2], 0);
	ck_assert_uint_eq(e->data[3], 7);
	ck_assert(memcmp(e->data + 4, payload, 7) == 0);
	ck_assert(h_tuple_eq(&e->tuple, &A));
	turn_actions_reset(&h->out);
	uint8_t *p = h->pbuf + TURN_PEER_HEADROOM;
	union turn_addr peer;
	h_sa(&peer, PEER, 5000);
	turn_server_peer_input(h->s, a, &peer, p, 7, h->now_ms, &h->out);
	ck_assert_uint_eq(h->out.n, 1);
	ck_assert_ptr_eq(h->out.v[0].data, p - 4);
	ck_assert_uint_eq(turn_server_stats(h->s)->relayed_to_client_pkts, 2);
	h_free(h);
}
END_TEST

START_TEST(test_turn_data_channel_tcp_padding)
{
	struct h *h = h_default();
	struct turn_tuple t = h_tuple("192.0.2.99", 5555);
	uint8_t payload[5] = {9, 9, 9, 9, 9};

	t.transport = TURN_TRANSPORT_TCP;
	t.conn = 3;
	struct turn_alloc *a = alloc_on(h, &t);
	ck_assert_int_eq(h_bind(h, &t, 0x4000, PEER, 5000), 0);
	h_peer(h, a, PEER, 5000, payload, 5);
	const struct h_sent *e = h_last(h, TURN_ACT_SEND_CLIENT);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->len, 12);
	ck_assert_uint_eq(e->data[3], 5);
	ck_assert_uint_eq(e->data[9], 0);
	ck_assert_uint_eq(e->data[10], 0);
	ck_assert_uint_eq(e->data[11], 0);
	ck_assert_uint_eq(e->tuple.conn, 3);
	/* padded ChannelData from the client is accepted */
	uint8_t buf[12] = {0x40, 0x00, 0, 5, 1, 2, 3, 4, 5, 0, 0, 0};
	h_input(h, &t, buf, sizeof(buf));
	e = h_last(h, TURN_ACT_SEND_PEER);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->len, 5);
	h_free(h);
}
END_TEST

static void check_data_ind(struct h *h, const char *ip, uint16_t port,
                           const uint8_t *payload, size_t len)
{
	const struct h_sent *e = h_last(h, TURN_ACT_SEND_CLIENT);
	struct stun_msg m;
	struct sockaddr_storage ss;
	union turn_addr want;

	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->len % 4, 0);
	ck_assert_int_eq(stun_msg_parse(&m, e->data, e->len, NULL), 0);
	ck_assert_int_eq(m.method, STUN_METHOD_DATA);
	ck_assert_int_eq(m.cls, STUN_CLASS_INDICATION);
	ck_assert_int_eq(
	        stun_msg_get_xor_addr(&m, STUN_ATTR_XOR_PEER_ADDRESS, &ss), 0);
	h_sa(&want, ip, port);
	ck_assert_int_eq(ss.ss_family, want.sa.sa_family);
	if (ss.ss_family == AF_INET)
		ck_assert(memcmp(&ss, &want.in4, sizeof(want.in4)) == 0);
	else
		ck_assert(memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr,
		                 &want.in6.sin6_addr, 16) == 0);
	const struct stun_attr *d = stun_msg_find(&m, STUN_ATTR_DATA);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->len, len);
	ck_assert(memcmp(d->value, payload, len) == 0);
}

START_TEST(test_turn_data_indication)
{
	struct h *h = h_default();
	struct turn_alloc *a = alloc_on(h, &A);
	uint8_t payload[1200];

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 31);
	ck_assert_int_eq(h_permit(h, &A, PEER), 0);
	for (size_t len = 0; len < 6; len++) {
		h_peer(h, a, PEER, 4242, payload, len);
		check_data_ind(h, PEER, 4242, payload, len);
	}
	h_peer(h, a, PEER, 4242, payload, sizeof(payload));
	check_data_ind(h, PEER, 4242, payload, sizeof(payload));
	/* a channel to another port of the peer: still a Data indication */
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0);
	h_peer(h, a, PEER, 4242, payload, 3);
	check_data_ind(h, PEER, 4242, payload, 3);
	/* no permission: dropped */
	h_peer(h, a, PEER2, 4242, payload, 3);
	ck_assert_uint_eq(h->nsent, 0);
	ck_assert_uint_eq(turn_server_stats(h->s)->drop_no_permission, 1);
	h_free(h);
}
END_TEST

START_TEST(test_turn_data_max_bps)
{
	struct h *h = h_new();
	uint8_t payload[200] = {0};

	h->cfg.max_bps = 1000;
	h_start(h, 0, 0);
	struct turn_alloc *a = alloc_on(h, &A);
	ck_assert_int_eq(h_bind(h, &A, 0x4000, PEER, 5000), 0);
	unsigned sent = 0, back = 0;
	for (int i = 0; i < 10; i++) {
		chandata(h, &A, 0x4000, payload, 200);
		sent += (unsigned)h_count(h, TURN_ACT_SEND_PEER);
		h_peer(h, a, PEER, 5000, payload, 200);
		back += (unsigned)h_count(h, TURN_ACT_SEND_CLIENT);
	}
	ck_assert_uint_eq(sent, 5);
	ck_assert_uint_eq(back, 5);
	ck_assert_uint_eq(turn_server_stats(h->s)->drop_rate_limit, 10);
	/* 400 ms later: 400 bytes more */
	h->now_ms += 400;
	sent = 0;
	for (int i = 0; i < 5; i++) {
		chandata(h, &A, 0x4000, payload, 200);
		sent += (unsigned)h_count(h, TURN_ACT_SEND_PEER);
	}
	ck_assert_uint_eq(sent, 2);
	h_free(h);
}
END_TEST

static Suite *turn_data_suite(void)
{
	Suite *s = suite_create("turn_data");
	TCase *tc = tcase_create("permission");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_perm_denied_peers);
	tcase_add_test(tc, test_turn_perm_loopback_v6_mapped);
	tcase_add_test(tc, test_turn_perm_allow_loopback);
	tcase_add_test(tc, test_turn_perm_set_policy);
	tcase_add_test(tc, test_turn_perm_request_errors);
	tcase_add_test(tc, test_turn_perm_expires_at_300s);
	suite_add_tcase(s, tc);

	tc = tcase_create("channel");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_chan_bind_rules);
	tcase_add_test(tc,
	               test_rfc8656_s12_channel_bind_outside_0x4000_0x4fff_400);
	tcase_add_test(
	        tc, test_rfc8656_s12_channeldata_outside_0x4000_0x4fff_dropped);
	tcase_add_test(
	        tc, test_rfc5766_channel_numbers_0x4000_0x7fff_when_configured);
	tcase_add_test(tc, test_turn_chan_expires_at_600s);
	tcase_add_test(tc, test_turn_chan_bind_refreshes_permission);
	suite_add_tcase(s, tc);

	tc = tcase_create("data");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_turn_data_send_indication);
	tcase_add_test(tc, test_turn_data_icmp_to_client);
	tcase_add_test(tc, test_turn_data_send_payload_in_place);
	tcase_add_test(tc, test_turn_data_channel_both_ways);
	tcase_add_test(tc, test_turn_data_channel_tcp_padding);
	tcase_add_test(tc, test_turn_data_indication);
	tcase_add_test(tc, test_turn_data_max_bps);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(turn_data_suite)
