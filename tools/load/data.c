/*
 * tools/load/data.c - the data path of avedge-load. A client sends a
 * payload to its peer through the relay (ChannelData, RFC 8656 s12, or a
 * Send indication, s10); the peer socket, which we own, echoes it to the
 * relayed address it came from, so it comes back to the client through the
 * relay again: one round trip is two relayed packets.
 *
 * Each payload starts with struct pkt (our magic, client, sequence, slot,
 * send time); the rest is a fixed pattern. Packets are counted by their
 * send time: those sent inside the measured window are followed to the
 * peer and back whenever they arrive, so loss per direction is exact.
 * Closed loop: each client has W slots; a slot refills when its packet
 * returns, or after --timeout if it never does. Rate mode: a 1 ms timer
 * sends what is due since the start, one packet per client in turn.
 * All I/O is batched with recvmmsg/sendmmsg into the worker's buffers.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tools/load/load.h"

struct pkt {
	uint32_t magic, client, seq, slot;
	uint64_t ts_ns;
};

static inline bool in_win(const struct load_shared *sh, uint64_t ts)
{
	return ts >= sh->win_start_ns && ts < sh->win_end_ns;
}

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

void load_data_init(struct load_worker *w)
{
	for (int i = 0; i < LOAD_PAYLOAD_MAX; i++)
		w->tmpl[i] = (uint8_t)(i * 7 + 1);
	for (int i = 0; i < LOAD_BATCH; i++) {
		struct msghdr *mh = &w->rmsg[i].msg_hdr;

		w->riov[i] = (struct iovec){w->rbuf[i], LOAD_BUF};
		mh->msg_iov = &w->riov[i];
		mh->msg_iovlen = 1;
		mh->msg_name = &w->rname[i];
		mh->msg_control = &w->rctl[i];
		w->tmsg[i].msg_hdr.msg_iov = &w->tiov[i];
		w->tmsg[i].msg_hdr.msg_iovlen = 1;
		memcpy(w->tbuf[i] + 4, w->tmpl, (size_t)w->o->payload);
	}
}

static void rx_reset(struct load_worker *w)
{
	for (int i = 0; i < LOAD_BATCH; i++) {
		w->rmsg[i].msg_hdr.msg_namelen = sizeof(w->rname[i]);
		w->rmsg[i].msg_hdr.msg_controllen = sizeof(w->rctl[i]);
	}
}

/* --rtp: V=2, PT 96, the client's index as SSRC, a 90 kHz timestamp
 * stepping 3000 (30 frames/s) per packet. */
static void rtp_header(uint8_t *p, uint32_t ssrc, uint32_t seq)
{
	uint32_t ts = seq * 3000u;

	p[0] = 0x80;
	p[1] = 96;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		p[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		p[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
}

/* Write one data packet for c into buf; returns its length. */
static size_t make_pkt(struct load_worker *w, struct load_client *c,
                       uint8_t *buf, uint32_t slot, uint64_t now)
{
	const struct load_opts *o = w->o;
	struct pkt h = {LOAD_MAGIC, c->gidx, ++c->seq, slot, now};
	struct stun_builder b;
	uint8_t tid[STUN_TID_LEN] = {0};

	size_t at = o->rtp ? LOAD_RTP_HDR : 0;

	if (!o->send_ind) {
		buf[0] = (uint8_t)(c->channel >> 8);
		buf[1] = (uint8_t)c->channel;
		buf[2] = (uint8_t)(o->payload >> 8);
		buf[3] = (uint8_t)o->payload;
		if (o->rtp)
			rtp_header(buf + 4, c->gidx, c->seq);
		memcpy(buf + 4 + at, &h, sizeof(h));
		return 4 + (size_t)o->payload;
	}
	memcpy(tid, &h.seq, sizeof(h.seq));
	memcpy(tid + 4, &h.client, sizeof(h.client));
	if (o->rtp)
		rtp_header(w->tmpl, c->gidx, c->seq);
	memcpy(w->tmpl + at, &h, sizeof(h));
	stun_build_init(&b, buf, LOAD_BUF, STUN_METHOD_SEND,
	                STUN_CLASS_INDICATION, tid);
	stun_build_xor_addr(&b, STUN_ATTR_XOR_PEER_ADDRESS,
	                    (const struct sockaddr *)&w->peer[c->peer].addr);
	stun_build_attr(&b, STUN_ATTR_DATA, w->tmpl, (size_t)o->payload);
	return stun_build_finish(&b);
}

static void count_sent(struct load_worker *w, uint64_t now, unsigned n)
{
	w->st.sent += n;
	if (in_win(w->sh, now))
		w->st.sent_win += n;
}

/* Send the closed-loop slots listed in slots[] for c, one sendmmsg. */
static void send_slots(struct load_worker *w, struct load_client *c,
                       const uint16_t *slots, int n)
{
	struct load_slot *base = &w->slot[(c - w->cl) * w->o->window];
	uint64_t now = load_now_ns();
	int sent;

	for (int k = 0; k < n; k++) {
		struct load_slot *s = &base[slots[k]];
		size_t len = make_pkt(w, c, w->tbuf[k], slots[k], now);

		s->busy = true;
		s->seq = c->seq;
		s->sent_ns = now;
		w->tiov[k] = (struct iovec){w->tbuf[k], len};
		w->tmsg[k].msg_hdr.msg_name = NULL;
		w->tmsg[k].msg_hdr.msg_namelen = 0;
	}
	sent = sendmmsg(c->fd, w->tmsg, (unsigned)n, MSG_DONTWAIT);
	if (sent < 0)
		sent = 0;
	count_sent(w, now, (unsigned)sent);
	w->st.tx_fail += (uint64_t)(n - sent); /* those slots time out */
}

void load_data_start(struct load_worker *w, uint64_t now)
{
	uint16_t slots[LOAD_BATCH];

	w->rate_start_ns = now;
	w->rate_sent = 0;
	if (w->o->mode != LOAD_MODE_CLOSED)
		return;
	for (int k = 0; k < w->o->window; k++)
		slots[k] = (uint16_t)k;
	for (int i = 0; i < w->ncl; i++)
		if (w->cl[i].state == LOAD_C_READY)
			send_slots(w, &w->cl[i], slots, w->o->window);
}

/* A payload came back to c. Returns the slot to refill, or -1. */
static int on_data(struct load_worker *w, struct load_client *c,
                   const uint8_t *p, size_t len, uint64_t now)
{
	struct pkt h;
	size_t at = w->o->rtp ? LOAD_RTP_HDR : 0;

	if (len < at + sizeof(h)) {
		w->st.bad_pkt++;
		return -1;
	}
	memcpy(&h, p + at, sizeof(h));
	if (h.magic != LOAD_MAGIC || h.client != c->gidx) {
		w->st.bad_pkt++;
		return -1;
	}
	w->st.rx++;
	if (in_win(w->sh, h.ts_ns)) {
		w->st.rx_win++;
		load_hist_add(&w->st.rtt, now - h.ts_ns);
	}
	if (w->o->mode != LOAD_MODE_CLOSED || now >= w->sh->send_end_ns ||
	    h.slot >= (uint32_t)w->o->window)
		return -1;
	struct load_slot *s = &w->slot[(c - w->cl) * w->o->window + h.slot];
	if (!s->busy || s->seq != h.seq)
		return -1; /* late, already given up */
	s->busy = false;
	return (int)h.slot;
}

/* One received datagram on a client socket. Returns a slot or -1. */
static int client_msg(struct load_worker *w, struct load_client *c,
                      const uint8_t *buf, size_t len, uint64_t now)
{
	if (len >= 4 && (buf[0] & 0xC0) == 0x40) {
		size_t dl = get16(buf + 2);

		if (dl > len - 4) {
			w->st.bad_pkt++;
			return -1;
		}
		uint32_t magic = 0;
		if (dl >= 4)
			memcpy(&magic, buf + 4, 4);
		if (w->o->bare && magic != LOAD_MAGIC) {
			load_ctl_bare_input(w, c, buf + 4, dl, now);
			return -1;
		}
		return on_data(w, c, buf + 4, dl, now);
	}
	/* A Data indication: type 0x0017 (method 7, class indication). */
	if (len >= 20 && buf[0] == 0x00 && buf[1] == 0x17) {
		struct stun_msg m;
		const struct stun_attr *a;

		if (stun_msg_parse(&m, buf, len, NULL) ||
		    !(a = stun_msg_find(&m, STUN_ATTR_DATA))) {
			w->st.bad_pkt++;
			return -1;
		}
		return on_data(w, c, a->value, a->len, now);
	}
	load_ctl_input(w, c, buf, len, now);
	return -1;
}

void load_client_readable(struct load_worker *w, struct load_client *c)
{
	uint16_t refill[LOAD_BATCH];

	for (int iter = 0; iter < 8 && c->fd >= 0; iter++) {
		int n, nref = 0;

		rx_reset(w);
		n = recvmmsg(c->fd, w->rmsg, LOAD_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == ECONNREFUSED) {
				w->st.conn_refused++;
				if (c->state == LOAD_C_ALLOC ||
				    c->state == LOAD_C_BIND)
					load_ctl_fail(w, c, LOAD_ERR_REFUSED);
			}
			return;
		}
		uint64_t now = load_now_ns();
		for (int i = 0; i < n && c->fd >= 0; i++) {
			struct msghdr *mh = &w->rmsg[i].msg_hdr;
			int s;

			load_note_ovfl(w, &c->ovfl, mh);
			s = client_msg(w, c, w->rbuf[i], w->rmsg[i].msg_len,
			               now);
			if (s >= 0)
				refill[nref++] = (uint16_t)s;
		}
		if (nref && c->fd >= 0)
			send_slots(w, c, refill, nref);
		if (n < LOAD_BATCH)
			return;
	}
}

void load_peer_readable(struct load_worker *w, struct load_peer *p)
{
	bool win[LOAD_BATCH];

	for (int iter = 0; iter < 8; iter++) {
		int n, k = 0, sent = 0;

		rx_reset(w);
		n = recvmmsg(p->fd, w->rmsg, LOAD_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &w->rmsg[i].msg_hdr;
			struct pkt h;

			load_note_ovfl(w, &p->ovfl, mh);
			size_t at = w->o->rtp ? LOAD_RTP_HDR : 0;
			if (w->rmsg[i].msg_len < at + sizeof(h)) {
				w->st.bad_pkt++;
				continue;
			}
			memcpy(&h, w->rbuf[i] + at, sizeof(h));
			if (h.magic != LOAD_MAGIC) {
				w->st.bad_pkt++;
				continue;
			}
			win[k] = in_win(w->sh, h.ts_ns);
			w->st.peer_rx++;
			w->st.peer_rx_win += win[k];
			w->tiov[k] =
			        (struct iovec){w->rbuf[i], w->rmsg[i].msg_len};
			w->tmsg[k].msg_hdr.msg_name = mh->msg_name;
			w->tmsg[k].msg_hdr.msg_namelen = mh->msg_namelen;
			k++;
		}
		for (int tries = 0; sent < k && tries < 4; tries++) {
			int r = sendmmsg(p->fd, w->tmsg + sent,
			                 (unsigned)(k - sent), MSG_DONTWAIT);
			if (r <= 0)
				break;
			sent += r;
		}
		for (int j = 0; j < sent; j++)
			w->st.echo_win += win[j];
		w->st.echoed += (uint64_t)sent;
		w->st.tx_fail += (uint64_t)(k - sent);
		if (n < LOAD_BATCH)
			return;
	}
}

/* Rate mode: send what is due since the start, one packet per ready
 * client in turn, each with its own timestamp. */
static void pace(struct load_worker *w, uint64_t now)
{
	uint64_t due = (uint64_t)((double)(now - w->rate_start_ns) *
	                          (double)w->rate_c2p / 1e9);
	uint64_t burst_max = w->rate_c2p / 20 + 1; /* 50 ms worth */

	if (due <= w->rate_sent)
		return;
	due -= w->rate_sent;
	if (due > burst_max) {
		w->st.late_ticks++;
		w->rate_sent += due - burst_max; /* never catch up in a burst */
		due = burst_max;
	}
	for (uint64_t j = 0; j < due; j++) {
		struct load_client *c = NULL;

		for (int tries = 0; tries < w->ncl; tries++) {
			struct load_client *x = &w->cl[w->rr];
			w->rr = (w->rr + 1) % w->ncl;
			if (x->state == LOAD_C_READY) {
				c = x;
				break;
			}
		}
		w->rate_sent++;
		if (!c)
			return;
		uint64_t ts = load_now_ns();
		size_t len = make_pkt(w, c, w->tbuf[0], 0, ts);
		if (send(c->fd, w->tbuf[0], len, MSG_DONTWAIT) < 0)
			w->st.tx_fail++;
		else
			count_sent(w, ts, 1);
	}
}

/* Closed loop: give up on slots whose packet is older than --timeout. */
static void expire_slots(struct load_worker *w, uint64_t now)
{
	uint64_t limit = (uint64_t)w->o->timeout_ms * 1000000ull;
	bool sending = now < w->sh->send_end_ns;
	uint16_t slots[LOAD_BATCH];

	for (int i = 0; i < w->ncl; i++) {
		struct load_client *c = &w->cl[i];
		struct load_slot *s = &w->slot[i * w->o->window];
		int n = 0;

		if (c->state != LOAD_C_READY)
			continue;
		for (int k = 0; k < w->o->window; k++) {
			if (!s[k].busy || now - s[k].sent_ns < limit)
				continue;
			s[k].busy = false;
			w->st.timeouts++;
			if (sending)
				slots[n++] = (uint16_t)k;
		}
		if (n)
			send_slots(w, c, slots, n);
	}
}

void load_data_tick(struct load_worker *w, uint64_t now)
{
	if (w->o->mode == LOAD_MODE_RATE && now < w->sh->send_end_ns)
		pace(w, now);
	if (w->o->mode == LOAD_MODE_CLOSED && now >= w->next_expire_ns) {
		w->next_expire_ns = now + 100000000ull;
		expire_slots(w, now);
	}
}
