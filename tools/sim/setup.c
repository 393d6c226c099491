/*
 * tools/sim/setup.c - bring a run up: the MCU's and the viewers'
 * connections and allocations, the MCU's permission and channel to every
 * viewer's relayed address (or host address, --direct), each viewer's
 * permission and channel to the MCU's relayed address, then the SRTP
 * sessions. One poll loop drives every TURN client until all are ready,
 * failed, or --setup-timeout passes; a viewer that fails is reported as
 * "viewer K: <what failed>" and left out of the run.
 *
 * Channels: the MCU reaches viewer K (1-based) on channel 0x4000 + K; a
 * viewer reaches the MCU on 0x4000.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim/sim.h"

#define MCU_CHANNEL(v) ((uint16_t)(STUN_CHANNEL_MIN + 1 + (v)))

static void on_frame(void *arg, const uint8_t *buf, size_t len)
{
	struct sim_turn *t = arg;

	if (stun_demux(buf, len) == STUN_KIND_STUN)
		sim_turn_input(t, buf, len, sim_now_ns());
}

static void drain_udp(struct sim_turn *t)
{
	uint8_t buf[SIM_PKT_MAX];

	for (int i = 0; i < 256; i++) {
		ssize_t n = recv(t->conn->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			return;
		on_frame(t, buf, (size_t)n);
	}
}

static void readable(struct sim_turn *t)
{
	if (t->conn->tr == SIM_UDP)
		drain_udp(t);
	else if (sim_conn_read_stream(t->conn, on_frame, t) && !t->failed) {
		t->failed = true;
		snprintf(t->err, sizeof(t->err), "connection closed");
	}
}

static int open_viewer(struct sim_run *r, struct sim_viewer *v)
{
	const struct sim_opts *o = r->o;
	char name[32], err[200];

	v->conn.fd = -1;
	snprintf(name, sizeof(name), "viewer %d", v->idx + 1);
	sim_turn_init(&v->turn, o, &v->conn, name, o->seed + 1000 + v->idx);
	if (sim_conn_open(&v->conn, o->direct ? SIM_UDP : o->transport,
	                  &o->server, o->server_len, o->sockbuf, r->tls, err,
	                  sizeof(err))) {
		sim_error(r, "viewer %d: %s", v->idx + 1, err);
		return -1;
	}
	if (!o->direct)
		sim_turn_allocate(&v->turn, sim_now_ns());
	return 0;
}

static bool viewer_addr(const struct sim_run *r, const struct sim_viewer *v,
                        const struct sockaddr_storage **a)
{
	if (!r->local_viewers) {
		*a = &v->addr;
		return v->addr_known;
	}
	*a = r->o->direct ? &v->conn.local : &v->turn.relayed;
	return r->o->direct || v->turn.allocated;
}

/* Wire up what became possible since the last turn. */
static void link_peers(struct sim_run *r, bool *linked)
{
	struct sim_mcu *m = r->mcu;
	const struct sockaddr_storage *ma = r->local_mcu ? &m->turn.relayed
	                                                 : &r->mcu_addr,
	                              *va;

	if (r->local_mcu ? !m->turn.allocated : !r->mcu_known)
		return;
	for (int i = 0; i < r->o->viewers; i++) {
		struct sim_viewer *v = &r->v[i];

		if (linked[i] || v->failed || !viewer_addr(r, v, &va))
			continue;
		if (r->local_mcu)
			sim_turn_add_peer(&m->turn, va, MCU_CHANNEL(i));
		if (r->local_viewers && !r->o->direct)
			sim_turn_add_peer(&v->turn, ma, STUN_CHANNEL_MIN);
		linked[i] = true;
	}
}

static bool viewer_ready(const struct sim_run *r, const struct sim_viewer *v,
                         bool alloc)
{
	if (r->o->direct || !r->local_viewers)
		return true;
	return alloc ? v->turn.allocated : sim_turn_ready(&v->turn);
}

/* One look at everybody; true when nothing is left to wait for: the
 * allocations (alloc), or everything. */
static bool settle(struct sim_run *r, const bool *linked, bool alloc)
{
	bool done = !r->local_mcu || (alloc ? r->mcu->turn.allocated
	                                    : sim_turn_ready(&r->mcu->turn));

	for (int i = 0; i < r->o->viewers && r->local_viewers; i++) {
		struct sim_viewer *v = &r->v[i];

		if (v->failed)
			continue;
		if (v->turn.failed) {
			v->failed = true;
			sim_error(r, "%s: %s", v->turn.name, v->turn.err);
			continue;
		}
		if ((!alloc && !linked[i]) || !viewer_ready(r, v, alloc))
			done = false;
	}
	return done;
}

static int poll_once(struct sim_run *r, struct pollfd *pf, int n)
{
	int k = 0;
	uint64_t now;

	pf[k++] = (struct pollfd){.fd = r->mcu->conn.fd, .events = POLLIN};
	for (int i = 0; i < n; i++)
		pf[k++] = (struct pollfd){.fd = r->v[i].failed || r->o->direct
		                                        ? -1
		                                        : r->v[i].conn.fd,
		                          .events = POLLIN};
	if (poll(pf, (nfds_t)k, 20) < 0 && errno != EINTR)
		return errno;
	if (pf[0].revents)
		readable(&r->mcu->turn);
	for (int i = 0; i < n; i++)
		if (pf[i + 1].revents)
			readable(&r->v[i].turn);
	now = sim_now_ns();
	if (r->local_mcu)
		sim_turn_tick(&r->mcu->turn, now);
	for (int i = 0; i < n && r->local_viewers; i++)
		if (!r->v[i].failed && !r->o->direct)
			sim_turn_tick(&r->v[i].turn, now);
	return 0;
}

static int run_loop(struct sim_run *r, bool alloc)
{
	int n = r->o->viewers;
	struct pollfd *pf = calloc((size_t)n + 1, sizeof(*pf));
	static bool *linked;
	int rc = 0;

	if (!linked)
		linked = calloc((size_t)n, sizeof(bool));
	if (!pf || !linked)
		return ENOMEM;
	for (;;) {
		if (!alloc)
			link_peers(r, linked);
		if (r->local_mcu && r->mcu->turn.failed) {
			sim_error(r, "mcu: %s", r->mcu->turn.err);
			rc = EPROTO;
			break;
		}
		if (settle(r, linked, alloc))
			break;
		if (sim_now_ns() >= r->setup_deadline) {
			if (r->local_mcu && !sim_turn_ready(&r->mcu->turn)) {
				sim_error(r, "mcu: setup timed out");
				rc = ETIMEDOUT;
				break;
			}
			for (int i = 0; i < n && r->local_viewers; i++)
				if (!r->v[i].failed) {
					r->v[i].failed = true;
					sim_error(r,
					          "viewer %d: setup timed out",
					          i + 1);
				}
			break;
		}
		if ((rc = poll_once(r, pf, n)))
			break;
	}
	free(pf);
	return rc;
}

static int srtp_sessions(struct sim_run *r)
{
	for (int i = 0; i < r->o->viewers; i++) {
		struct sim_mcu_peer *p = &r->mcu->p[i];
		struct sim_viewer *v = &r->v[i];

		if (v->failed)
			continue;
		if ((r->local_mcu &&
		     (sim_srtp_session(&p->tx, r->o, i, false, true) ||
		      sim_srtp_session(&p->rx, r->o, i, true, false))) ||
		    (r->local_viewers &&
		     (sim_srtp_session(&v->rx, r->o, i, false, false) ||
		      sim_srtp_session(&v->tx, r->o, i, true, true)))) {
			sim_error(r, "srtp: cannot create sessions%s",
			          r->o->gcm ? " (libsrtp2 without GCM?)" : "");
			return EIO;
		}
		if (!(v->re.buf = malloc(SIM_PDU_MAX)))
			return ENOMEM;
	}
	return 0;
}

int sim_setup_alloc(struct sim_run *r)
{
	const struct sim_opts *o = r->o;
	struct sim_mcu *m = r->mcu;
	char err[200];

	r->setup_deadline = sim_now_ns() + (uint64_t)(o->setup_timeout_s * 1e9);
	sim_turn_init(&m->turn, o, &m->conn, "mcu", o->seed);
	m->conn.fd = -1;
	for (int i = 0; i < o->viewers; i++) {
		r->v[i].idx = i;
		r->v[i].conn.fd = -1;
	}
	if (r->local_mcu) {
		if (sim_conn_open(&m->conn, SIM_UDP, &o->mcu_server,
		                  o->mcu_server_len, o->sockbuf, NULL, err,
		                  sizeof(err))) {
			sim_error(r, "mcu: %s", err);
			return EIO;
		}
		sim_turn_allocate(&m->turn, sim_now_ns());
	}
	for (int i = 0; i < o->viewers && r->local_viewers; i++)
		if (open_viewer(r, &r->v[i]))
			r->v[i].failed = true;
	return run_loop(r, true);
}

int sim_setup_bind(struct sim_run *r)
{
	const struct sim_opts *o = r->o;
	const struct sockaddr_storage *ma =
	        r->local_mcu ? &r->mcu->turn.relayed : &r->mcu_addr;
	int rc;

	if ((rc = run_loop(r, false)))
		return rc;
	if (o->direct && r->local_viewers)
		for (int i = 0; i < o->viewers; i++)
			if (!r->v[i].failed)
				connect(r->v[i].conn.fd,
				        (const struct sockaddr *)ma,
				        sizeof(*ma));
	r->viewers_failed = 0;
	for (int i = 0; i < o->viewers; i++)
		r->viewers_failed += r->v[i].failed;
	return srtp_sessions(r);
}

int sim_setup(struct sim_run *r)
{
	int rc = sim_setup_alloc(r);

	return rc ? rc : sim_setup_bind(r);
}

void sim_teardown(struct sim_run *r)
{
	for (int i = 0; i < r->o->viewers && r->local_viewers; i++) {
		struct sim_viewer *v = &r->v[i];
		if (!r->o->direct)
			sim_turn_free(&v->turn);
		sim_conn_close(&v->conn);
	}
	sim_turn_free(&r->mcu->turn);
	sim_conn_close(&r->mcu->conn);
}
