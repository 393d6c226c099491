/*
 * tools/sim/viewer.c - the viewers' thread: receives and checks what the
 * MCU sends, answers the control hand-over and sends input events.
 *
 * One epoll set over every viewer's connection. A packet is taken out of
 * its ChannelData (not with --direct), unprotected (a failure counts as
 * srtp_auth_fail; libsrtp's replay check catches duplicates: dup), then
 * counted in the step its send time (the RTP header extension) falls in:
 * received, reordered, delay (now - send time, one clock: same host),
 * jitter (RFC 3550 s6.4.1 with the send time for the RTP timestamp), and
 * the PDU reassembly (rdp.c). Control: a GRANT is acknowledged and starts
 * INPUT events at --input-hz until a REVOKE, also acknowledged. Each
 * viewer sends an RTCP receiver report once a second.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "tools/sim/sim.h"

#define MS 1000000ull

struct view_io {
	struct sim_run *r;
	const struct sim_opts *o;
	struct sim_viewer *cur; /* for stream frames */
	int ep;
	uint64_t now;
	uint64_t due; /* earliest input event, RR or TURN tick of any viewer */
	struct mmsghdr msg[SIM_BATCH];
	struct iovec iov[SIM_BATCH];
	uint8_t buf[SIM_BATCH][SIM_PKT_MAX];
	union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(uint32_t))];
	} ctl[SIM_BATCH];
	uint8_t tx[SIM_PKT_MAX];
};

/* Protect and send an RTP (or RTCP) packet at io->tx + 4 upstream. */
static void send_up(struct view_io *io, struct sim_viewer *v, int len,
                    bool rtcp)
{
	uint8_t *p = io->tx + 4;
	srtp_err_status_t e = rtcp ? srtp_protect_rtcp(v->tx, p, &len)
	                           : srtp_protect(v->tx, p, &len);

	if (e != srtp_err_status_ok)
		return;
	if (io->o->direct) {
		sim_conn_send(&v->conn, p, (size_t)len);
		return;
	}
	size_t l = stun_chandata_build(io->tx, sizeof(io->tx), STUN_CHANNEL_MIN,
	                               p, (uint16_t)len, v->conn.tr != SIM_UDP);
	sim_conn_send(&v->conn, io->tx, l);
}

static void send_ctrl(struct view_io *io, struct sim_viewer *v, uint8_t type,
                      uint32_t arg)
{
	uint8_t pl[SIM_CTRL_LEN];

	sim_ctrl_build(pl, type, v->epoch, v->in_seq++, arg);
	size_t l = sim_rtp_build(
	        io->tx + 4, 126, v->up_seq++, (uint32_t)(io->now / 11111),
	        SIM_SSRC_INPUT | (uint32_t)v->idx, io->now, pl, sizeof(pl));
	send_up(io, v, (int)l, false);
}

static void on_ctrl(struct view_io *io, struct sim_viewer *v,
                    const struct sim_rtp *rtp)
{
	const uint8_t *p = rtp->payload;
	uint32_t epoch;

	if (rtp->len < SIM_CTRL_LEN)
		return;
	epoch = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 |
	        (uint32_t)p[6] << 8 | p[7];
	if (p[0] == SIM_CTRL_GRANT) {
		if (!v->granted || v->epoch != epoch)
			v->next_input = io->due = io->now;
		v->granted = true;
		v->epoch = epoch;
		send_ctrl(io, v, SIM_CTRL_GRANT_ACK, 0);
	} else if (p[0] == SIM_CTRL_REVOKE) {
		v->granted = false;
		v->epoch = epoch;
		send_ctrl(io, v, SIM_CTRL_REVOKE_ACK, 0);
	}
}

/* Sequence, delay, jitter, PDU of one media packet. */
static void on_media(struct view_io *io, struct sim_viewer *v,
                     const struct sim_rtp *rtp)
{
	int step = sim_step_of(&io->r->sched, rtp->send_ns);
	struct sim_vstats *st = step >= 0 ? sim_st(io->r, step, v->idx) : NULL;
	uint32_t ext = rtp->seq;
	int16_t d = 0;

	if (v->have_seq) {
		d = (int16_t)(rtp->seq - (uint16_t)v->ext_max);
		ext = v->ext_max + (uint32_t)(int32_t)d;
	}
	if (!v->have_seq || d > 0)
		v->ext_max = ext;
	v->received++;
	if (st) {
		st->recv++;
		st->bytes += rtp->len;
		st->reordered += v->have_seq && d < 0;
		if (!st->have_seq || ext < st->seq_min)
			st->seq_min = ext;
		if (!st->have_seq || ext > st->seq_max)
			st->seq_max = ext;
		st->have_seq = true;
		int64_t transit = (int64_t)(io->now - rtp->send_ns);
		sim_hist_add(&st->delay, (uint64_t)(transit > 0 ? transit : 0));
		if (v->have_transit) {
			int64_t dd = transit - v->last_transit;
			v->jitter_ns +=
			        ((double)(dd < 0 ? -dd : dd) - v->jitter_ns) /
			        16.0;
		}
		v->last_transit = transit;
		v->have_transit = true;
		st->jitter_ms = v->jitter_ns / 1e6;
	}
	if (!v->have_seq || d > 0)
		sim_reasm_add(&v->re, rtp->payload, rtp->len, rtp->ts,
		              v->have_seq && d > 1, st);
	v->have_seq = true;
}

static struct sim_vstats *now_st(struct view_io *io, struct sim_viewer *v)
{
	int step = sim_step_of(&io->r->sched, io->now);
	return step >= 0 ? sim_st(io->r, step, v->idx) : NULL;
}

static void on_srtp(struct view_io *io, struct sim_viewer *v, uint8_t *p,
                    int len)
{
	struct sim_vstats *st = now_st(io, v);
	struct sim_rtp rtp;
	srtp_err_status_t e;

	if (sim_is_rtcp(p, (size_t)len)) {
		e = srtp_unprotect_rtcp(v->rx, p, &len);
		if (st && e == srtp_err_status_ok)
			st->sr_recv++;
		else if (st && e == srtp_err_status_auth_fail)
			st->auth_fail++;
		return;
	}
	e = srtp_unprotect(v->rx, p, &len);
	if (e != srtp_err_status_ok) {
		if (!st)
			return;
		if (e == srtp_err_status_auth_fail)
			st->auth_fail++;
		else if (e == srtp_err_status_replay_fail ||
		         e == srtp_err_status_replay_old)
			st->dup++;
		else
			st->other_fail++;
		return;
	}
	if (sim_rtp_parse(&rtp, p, (size_t)len))
		return;
	if ((rtp.ssrc & 0xFF000000u) == SIM_SSRC_MEDIA)
		on_media(io, v, &rtp);
	else if ((rtp.ssrc & 0xFF000000u) == SIM_SSRC_CTRL)
		on_ctrl(io, v, &rtp);
}

static void on_frame(void *arg, const uint8_t *buf, size_t len)
{
	struct view_io *io = arg;
	struct sim_viewer *v = io->cur;
	struct stun_chandata cd;

	if (io->o->direct) {
		on_srtp(io, v, (uint8_t *)buf, (int)len);
		return;
	}
	if (stun_demux(buf, len) == STUN_KIND_STUN) {
		sim_turn_input(&v->turn, buf, len, io->now);
		return;
	}
	if (!stun_chandata_parse(&cd, buf, len, NULL) &&
	    cd.channel == STUN_CHANNEL_MIN)
		on_srtp(io, v, (uint8_t *)cd.data, cd.len);
}

static void read_udp(struct view_io *io, struct sim_viewer *v)
{
	for (int iter = 0; iter < 16; iter++) {
		for (int i = 0; i < SIM_BATCH; i++) {
			io->iov[i] = (struct iovec){io->buf[i], SIM_PKT_MAX};
			io->msg[i].msg_hdr = (struct msghdr){
			        .msg_iov = &io->iov[i],
			        .msg_iovlen = 1,
			        .msg_control = &io->ctl[i],
			        .msg_controllen = sizeof(io->ctl[i])};
		}
		int n = recvmmsg(v->conn.fd, io->msg, SIM_BATCH, MSG_DONTWAIT,
		                 NULL);
		io->now = sim_now_ns();
		for (int i = 0; i < n; i++) {
			sim_note_ovfl(&v->conn.ovfl, &io->msg[i].msg_hdr,
			              &io->r->viewer_rx_drops);
			on_frame(io, io->buf[i], io->msg[i].msg_len);
		}
		if (n < SIM_BATCH)
			return;
	}
}

static void readable(struct view_io *io, struct sim_viewer *v)
{
	io->cur = v;
	if (v->conn.tr == SIM_UDP) {
		read_udp(io, v);
		return;
	}
	io->now = sim_now_ns();
	if (sim_conn_read_stream(&v->conn, on_frame, io)) {
		epoll_ctl(io->ep, EPOLL_CTL_DEL, v->conn.fd, NULL);
		if (!v->turn.failed) {
			v->turn.failed = true;
			snprintf(v->turn.err, sizeof(v->turn.err),
			         "connection lost");
		}
	}
}

/* Input events, receiver reports, TURN refreshes; errors reported once.
 * Lowers io->due to this viewer's next input event or report. */
static void periodic(struct view_io *io, struct sim_viewer *v, bool turn,
                     bool *reported)
{
	uint64_t now = io->now;

	if (v->granted && now >= v->next_input && now < io->r->sched.send_end) {
		struct sim_vstats *st = now_st(io, v);
		if (st)
			st->ctl_sent++;
		send_ctrl(io, v, SIM_CTRL_INPUT, (uint32_t)(now >> 10));
		v->next_input += 1000000000ull / (uint64_t)io->o->input_hz;
		if (v->next_input < now)
			v->next_input = now;
	}
	if (now >= v->next_rr) {
		v->next_rr = now + 1000 * MS;
		size_t l = sim_rtcp_rr(io->tx + 4,
		                       SIM_SSRC_INPUT | (uint32_t)v->idx,
		                       SIM_SSRC_MEDIA | (uint32_t)v->idx,
		                       v->ext_max, 0, v->jitter_ns * 9e-5);
		send_up(io, v, (int)l, true);
	}
	if (v->granted && v->next_input < io->r->sched.send_end &&
	    v->next_input < io->due)
		io->due = v->next_input;
	if (v->next_rr < io->due)
		io->due = v->next_rr;
	if (turn && !io->o->direct) {
		sim_turn_tick(&v->turn, now);
		if (v->turn.failed && !*reported) {
			*reported = true;
			sim_error(io->r, "%s: %s", v->turn.name, v->turn.err);
		}
	}
}

/* epoll_wait's timeout: until io->due, the start or the end of the run,
 * at most 50 ms (the TURN tick). */
static int wait_ms(const struct view_io *io, uint64_t now)
{
	uint64_t t = now < io->r->sched.t0 ? io->r->sched.t0 : io->due;

	if (io->r->sched.end < t)
		t = io->r->sched.end;
	if (t <= now)
		return 0;
	t = (t - now + MS - 1) / MS;
	return t > 50 ? 50 : (int)t;
}

void *sim_viewer_thread(void *arg)
{
	struct sim_run *r = arg;
	struct view_io *io = calloc(1, sizeof(*io));
	int ep = epoll_create1(EPOLL_CLOEXEC), n = r->o->viewers;
	bool *reported = calloc((size_t)n, sizeof(bool));
	struct epoll_event evs[256];
	uint64_t next_turn = 0;

	if (!io || ep < 0 || !reported)
		return NULL;
	io->r = r;
	io->o = r->o;
	io->ep = ep;
	for (int i = 0; i < n; i++) {
		struct epoll_event e = {.events = EPOLLIN,
		                        .data.u32 = (uint32_t)i};
		r->v[i].next_rr = r->sched.t0 + (uint64_t)i * 997 * 1000ull;
		if (!r->v[i].failed)
			epoll_ctl(ep, EPOLL_CTL_ADD, r->v[i].conn.fd, &e);
	}
	for (;;) {
		int k = epoll_wait(ep, evs, 256, wait_ms(io, sim_now_ns()));
		for (int i = 0; i < k; i++)
			readable(io, &r->v[evs[i].data.u32]);
		io->now = sim_now_ns();
		if (io->now >= r->sched.end)
			break;
		if (io->now < r->sched.t0)
			continue;
		bool turn = io->now >= next_turn;
		if (!turn && io->now < io->due)
			continue; /* nothing due: no pass over the viewers */
		if (turn)
			next_turn = io->now + 50 * MS;
		io->due = next_turn;
		for (int i = 0; i < n; i++)
			if (!r->v[i].failed)
				periodic(io, &r->v[i], turn, &reported[i]);
	}
	close(ep);
	free(reported);
	free(io);
	return NULL;
}
