/*
 * tools/sim/mcu.c - the MCU thread: plays the presenter's screen to every
 * viewer and runs the control hand-over.
 *
 * Every 1 ms (clock_nanosleep to an absolute plan, so lateness is the
 * schedule slip) it reads what arrived on its socket (recvmmsg), asks the
 * screen model for the PDUs now due, splits each so that no packet
 * exceeds SIM_WIRE_MAX bytes on the wire (IPv4 + UDP + ChannelData + RTP
 * + extension + payload + SRTP tag), protects a copy per viewer with that
 * viewer's key and sends them in batches (sendmmsg, ChannelData on the
 * viewer's channel). Once a second it sends an RTCP sender report per
 * viewer (SRTCP). Control: with --control-viewer K, the MCU grants control
 * to viewer K during the odd --control-every periods and revokes it during
 * the even ones, repeating the message every 200 ms until acknowledged.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/sim/sim.h"

#define MS          1000000ull
#define CTL_RETX_NS (200 * MS)

struct mcu_io {
	struct sim_run *r;
	struct sim_mcu *m;
	const struct sim_opts *o;
	int n; /* queued messages */
	struct mmsghdr msg[SIM_BATCH];
	struct iovec iov[SIM_BATCH];
	uint8_t buf[SIM_BATCH][SIM_PKT_MAX];
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(uint32_t))];
	} ctl[SIM_BATCH];
	uint8_t pdu[SIM_PDU_MAX];
	size_t pdu_len, pdu_off; /* the PDU being sent, and how far */
	uint32_t pdu_ts;
	uint32_t last_ts, ovfl;
	uint64_t ctl_retx_at, next_sr, next_tick;
};

static void flush(struct mcu_io *io)
{
	int sent = 0;

	for (int tries = 0; sent < io->n && tries < 100; tries++) {
		int k = sendmmsg(io->m->conn.fd, io->msg + sent,
		                 (unsigned)(io->n - sent), 0);
		if (k > 0) {
			sent += k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != ENOBUFS &&
		    errno != EINTR)
			break;
		struct pollfd p = {.fd = io->m->conn.fd, .events = POLLOUT};
		poll(&p, 1, 10);
	}
	io->r->tx_fail += (uint64_t)(io->n - sent);
	io->n = 0;
}

/* Queue the SRTP packet (or SRTCP, rtcp) at buf[n]+4 of rlen bytes. */
static int queue(struct mcu_io *io, int v, int rlen, bool rtcp)
{
	struct sim_mcu_peer *p = &io->m->p[v];
	uint8_t *b = io->buf[io->n];
	srtp_err_status_t e = rtcp ? srtp_protect_rtcp(p->tx, b + 4, &rlen)
	                           : srtp_protect(p->tx, b + 4, &rlen);
	if (e != srtp_err_status_ok)
		return EIO;
	size_t len = stun_chandata_build(b, SIM_PKT_MAX,
	                                 (uint16_t)(STUN_CHANNEL_MIN + 1 + v),
	                                 b + 4, (uint16_t)rlen, false);
	io->iov[io->n] = (struct iovec){b, len};
	if (++io->n == SIM_BATCH)
		flush(io);
	return 0;
}

static uint32_t rtp_ts(const struct sim_run *r, uint64_t now)
{
	return (uint32_t)((now - r->sched.t0) * 9 / 100000);
}

/* A new PDU of len bytes in io->pdu: its timestamp, counted as sent to
 * every viewer. */
static void start_pdu(struct mcu_io *io, size_t len, uint64_t now, int step)
{
	uint32_t ts = rtp_ts(io->r, now);

	if (ts <= io->last_ts) /* a new PDU always gets a new timestamp */
		ts = io->last_ts + 1;
	io->last_ts = io->pdu_ts = ts;
	io->pdu_len = len;
	io->pdu_off = 0;
	for (int v = 0; v < io->o->viewers && step >= 0; v++)
		if (!io->r->v[v].failed)
			sim_st(io->r, step, v)->pdus_sent++;
}

/* Send the PDU's next fragment to every viewer; returns its SRTP bytes
 * (per viewer). */
static size_t send_fragment(struct mcu_io *io, uint64_t now, int step)
{
	size_t max = SIM_WIRE_MAX - SIM_IP_UDP_CD - SIM_RTP_HDR - SIM_EXT_LEN -
	             (size_t)sim_srtp_tag_len(io->o);
	size_t off = io->pdu_off, left = io->pdu_len - off;
	size_t fl = left < max ? left : max, wire = 0;

	for (int v = 0; v < io->o->viewers; v++) {
		struct sim_mcu_peer *p = &io->m->p[v];

		if (io->r->v[v].failed)
			continue;
		size_t rl = sim_rtp_build(
		        io->buf[io->n] + 4, (uint8_t)io->o->pt, p->seq++,
		        io->pdu_ts, SIM_SSRC_MEDIA | (uint32_t)v, now,
		        io->pdu + off, fl);
		if (queue(io, v, (int)rl, false))
			continue;
		wire = rl + (size_t)sim_srtp_tag_len(io->o);
		p->pkts++;
		p->octets += (uint32_t)fl;
		if (step >= 0)
			sim_st(io->r, step, v)->sent++;
	}
	io->pdu_off += fl;
	return wire ? wire : fl;
}

static double rate_at(const struct sim_run *r, uint64_t now)
{
	for (int s = r->sched.nsteps - 1; s >= 0; s--)
		if (now >= r->sched.start[s])
			return r->o->rates[s];
	return 0;
}

static void media(struct mcu_io *io, uint64_t now)
{
	double rate = rate_at(io->r, now);
	int step = sim_step_of(&io->r->sched, now);
	struct sim_screen *s = &io->m->screen;

	for (;;) {
		if (io->pdu_off >= io->pdu_len) {
			size_t len = sim_screen_next(s, rate, now, io->pdu);
			if (!len)
				return;
			start_pdu(io, len, now, step);
		} else if (!s->whole && !sim_screen_ready(s, rate, now)) {
			return; /* the rest of the PDU in a later tick */
		}
		sim_screen_spent(s, send_fragment(io, now, step));
	}
}

static void send_ctrl(struct mcu_io *io, int v, uint8_t type, uint64_t now)
{
	struct sim_mcu_peer *p = &io->m->p[v];
	uint8_t pl[SIM_CTRL_LEN];

	sim_ctrl_build(pl, type, io->m->epoch, p->cseq, 0);
	size_t rl = sim_rtp_build(
	        io->buf[io->n] + 4, 126, p->cseq++, rtp_ts(io->r, now),
	        SIM_SSRC_CTRL | (uint32_t)v, now, pl, sizeof(pl));
	queue(io, v, (int)rl, false);
}

static void control(struct mcu_io *io, uint64_t now)
{
	const struct sim_opts *o = io->o;
	int v = o->control_viewer - 1;
	struct sim_mcu_peer *p;

	if (v < 0 || v >= o->viewers || io->r->v[v].failed)
		return;
	p = &io->m->p[v];
	uint32_t epoch = (uint32_t)((double)(now - io->r->sched.t0) /
	                            (o->control_every_s * 1e9));
	if (epoch != io->m->epoch) {
		io->m->epoch = epoch;
		io->ctl_retx_at = now;
		if (epoch & 1)
			io->r->grants++;
		else
			io->r->revokes++;
	}
	bool granted = epoch & 1;
	if (!epoch || now < io->ctl_retx_at ||
	    (granted ? p->epoch_acked : p->revoke_acked) == epoch)
		return;
	send_ctrl(io, v, granted ? SIM_CTRL_GRANT : SIM_CTRL_REVOKE, now);
	io->ctl_retx_at = now + CTL_RETX_NS;
}

static void sender_reports(struct mcu_io *io, uint64_t now)
{
	if (now < io->next_sr)
		return;
	io->next_sr = now + 1000 * MS;
	for (int v = 0; v < io->o->viewers; v++) {
		struct sim_mcu_peer *p = &io->m->p[v];

		if (io->r->v[v].failed)
			continue;
		size_t l = sim_rtcp_sr(io->buf[io->n] + 4,
		                       SIM_SSRC_MEDIA | (uint32_t)v, now,
		                       rtp_ts(io->r, now), p->pkts, p->octets);
		queue(io, v, (int)l, true);
	}
}

/* Upstream: INPUT events, acks and receiver reports from viewer v. */
static void upstream(struct mcu_io *io, int v, uint8_t *p, int len,
                     uint64_t now)
{
	struct sim_mcu_peer *mp = &io->m->p[v];
	int step = sim_step_of(&io->r->sched, now);
	struct sim_rtp rtp;

	if (sim_is_rtcp(p, (size_t)len)) {
		srtp_err_status_t e = srtp_unprotect_rtcp(mp->rx, p, &len);
		if (step >= 0 && e == srtp_err_status_ok)
			sim_st(io->r, step, v)->rr_recv++;
		else if (step >= 0 && e == srtp_err_status_auth_fail)
			sim_st(io->r, step, v)->up_auth_fail++;
		return;
	}
	srtp_err_status_t e = srtp_unprotect(mp->rx, p, &len);
	if (e != srtp_err_status_ok) {
		if (step >= 0 && e == srtp_err_status_auth_fail)
			sim_st(io->r, step, v)->up_auth_fail++;
		return;
	}
	if (sim_rtp_parse(&rtp, p, (size_t)len) || rtp.pt != 126 ||
	    rtp.len < SIM_CTRL_LEN)
		return;
	uint32_t epoch = (uint32_t)rtp.payload[4] << 24 |
	                 (uint32_t)rtp.payload[5] << 16 |
	                 (uint32_t)rtp.payload[6] << 8 | rtp.payload[7];
	switch (rtp.payload[0]) {
	case SIM_CTRL_INPUT:
		step = sim_step_of(&io->r->sched, rtp.send_ns);
		if (step < 0)
			break;
		sim_st(io->r, step, v)->ctl_recv++;
		sim_hist_add(&io->r->ctl_delay[step], now - rtp.send_ns);
		break;
	case SIM_CTRL_GRANT_ACK:
		if (mp->epoch_acked != epoch)
			io->r->grant_acks++;
		mp->epoch_acked = epoch;
		break;
	case SIM_CTRL_REVOKE_ACK:
		if (mp->revoke_acked != epoch)
			io->r->revoke_acks++;
		mp->revoke_acked = epoch;
		break;
	}
}

static void datagram(struct mcu_io *io, uint8_t *b, size_t len, uint64_t now)
{
	struct stun_chandata cd;

	if (stun_demux(b, len) == STUN_KIND_STUN) {
		sim_turn_input(&io->m->turn, b, len, now);
		return;
	}
	if (stun_chandata_parse(&cd, b, len, NULL))
		return;
	int v = cd.channel - STUN_CHANNEL_MIN - 1;
	if (v < 0 || v >= io->o->viewers || io->r->v[v].failed)
		return;
	upstream(io, v, (uint8_t *)cd.data, cd.len, now);
}

static void receive(struct mcu_io *io, uint64_t now)
{
	for (int iter = 0; iter < 16; iter++) {
		for (int i = 0; i < SIM_BATCH; i++) {
			struct msghdr *mh = &io->msg[i].msg_hdr;
			io->iov[i] = (struct iovec){io->buf[i], SIM_PKT_MAX};
			*mh = (struct msghdr){.msg_iov = &io->iov[i],
			                      .msg_iovlen = 1,
			                      .msg_control = &io->ctl[i],
			                      .msg_controllen =
			                              sizeof(io->ctl[i])};
		}
		int n = recvmmsg(io->m->conn.fd, io->msg, SIM_BATCH,
		                 MSG_DONTWAIT, NULL);
		for (int i = 0; i < n; i++) {
			sim_note_ovfl(&io->ovfl, &io->msg[i].msg_hdr,
			              &io->r->mcu_rx_drops);
			datagram(io, io->buf[i], io->msg[i].msg_len, now);
		}
		if (n < SIM_BATCH)
			break;
	}
	/* The send side reuses msg[]: reset it for sendmmsg. */
	for (int i = 0; i < SIM_BATCH; i++)
		io->msg[i].msg_hdr = (struct msghdr){.msg_iov = &io->iov[i],
		                                     .msg_iovlen = 1};
}

static void slip(struct mcu_io *io, uint64_t planned, uint64_t now)
{
	uint64_t late = now > planned ? now - planned : 0;

	sim_hist_add(&io->r->slip, late);
	if (late > io->r->slip_max_ns)
		io->r->slip_max_ns = late;
}

void *sim_mcu_thread(void *arg)
{
	struct sim_run *r = arg;
	struct mcu_io *io = calloc(1, sizeof(*io));
	uint64_t plan = r->sched.t0, next_turn = 0;
	bool reported = false;

	if (!io)
		return NULL;
	io->r = r;
	io->m = r->mcu;
	io->o = r->o;
	sim_screen_init(&r->mcu->screen, r->o->seed, r->o->peak,
	                r->o->pdu_burst, plan);
	for (;;) {
		struct timespec ts = {(time_t)(plan / 1000000000ull),
		                      (long)(plan % 1000000000ull)};
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		uint64_t now = sim_now_ns();
		if (now >= r->sched.end)
			break;
		receive(io, now);
		if (now < r->sched.send_end) {
			slip(io, plan, now);
			media(io, now);
			control(io, now);
			sender_reports(io, now);
			flush(io);
		}
		if (now >= next_turn) {
			next_turn = now + 20 * MS;
			sim_turn_tick(&r->mcu->turn, now);
			if (r->mcu->turn.failed && !reported) {
				reported = true;
				sim_error(r, "mcu: %s", r->mcu->turn.err);
			}
		}
		plan += MS;
		if (now > plan + 10 * MS)
			plan = now; /* far behind: do not try to catch up */
	}
	r->mcu_retransmits = r->mcu->turn.retransmits;
	free(io);
	return NULL;
}
