/*
 * tools/sim/signal.c - split roles: `--role mcu` and `--role viewer`
 * processes (e.g. on the internal and the external side of the edge)
 * exchange relayed addresses over a TCP line protocol (--signal
 * HOST:PORT: the MCU listens, the viewer process connects). Lines end in
 * LF; addresses are "IP:PORT" or "[IPv6]:PORT"; K is the 1-based viewer.
 *
 *   viewer -> MCU   HELLO edge-sim 1 <viewers>
 *                   VIEWER <K> <relayed address>     (host address, --direct)
 *                   VIEWER <K> FAILED                (allocation failed)
 *                   DONE
 *   MCU -> viewer   MCU <relayed address>
 *   (both sides now create permissions and bind channels)
 *   viewer -> MCU   FAILED <K>                       (binding failed)
 *                   READY
 *   MCU -> viewer   START <delay_ms>   both start the run delay_ms later
 *   (the run; at its end:)
 *   MCU -> viewer   SENT <step> <K> <pkts_sent> <pdus_sent> <ctl_recv>
 *                        <rr_recv> <srtp_auth_fail_up>
 *                   CONTROL <grants> <acked> <revokes> <acked>
 *                   END
 *
 * Both processes must be given the same --viewers, --rate/--ramp,
 * --duration, --warmup, --seed, --srtp, --control-* options. Each reports
 * what it measured; the viewer process adds the MCU's SENT counters, so
 * its report is the complete one. One viewer process per MCU.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/hostport.h"
#include "tools/sim/sim.h"

#define START_DELAY_MS 300

struct sig {
	struct sim_run *r;
	int fd;
	char buf[4096]; /* what was read past the last line */
	size_t len;
};

static int parse_addr(const char *s, struct sockaddr_storage *a)
{
	socklen_t len;

	return tools_parse_hostport(s, 0, a, &len);
}

/* One line (without LF) within the setup deadline; 0 or an errno. */
static int get_line(struct sig *g, char *out, size_t cap)
{
	for (;;) {
		char *lf = memchr(g->buf, '\n', g->len);
		if (lf) {
			size_t n = (size_t)(lf - g->buf);
			snprintf(out, cap, "%.*s", (int)n, g->buf);
			out[strcspn(out, "\r")] = 0;
			memmove(g->buf, lf + 1, g->len - n - 1);
			g->len -= n + 1;
			return 0;
		}
		uint64_t now = sim_now_ns();
		int ms = now < g->r->setup_deadline
		                 ? (int)((g->r->setup_deadline - now) / 1000000)
		                 : 0;
		struct pollfd p = {.fd = g->fd, .events = POLLIN};
		if (g->len == sizeof(g->buf) || poll(&p, 1, ms + 5000) != 1)
			return ETIMEDOUT;
		ssize_t k = recv(g->fd, g->buf + g->len,
		                 sizeof(g->buf) - g->len, 0);
		if (k <= 0)
			return EPIPE;
		g->len += (size_t)k;
	}
}

__attribute__((format(printf, 2, 3))) static void put(struct sig *g,
                                                      const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && write(g->fd, buf, (size_t)n) < 0)
		sim_error(g->r, "signal: write: %s", strerror(errno));
}

static int open_listen(struct sig *g, const struct sockaddr_storage *a,
                       socklen_t len)
{
	int one = 1, ls = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pollfd p = {.fd = ls, .events = POLLIN};

	if (ls < 0)
		return errno;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (const struct sockaddr *)a, len) || listen(ls, 1)) {
		int e = errno;
		close(ls);
		return e;
	}
	if (poll(&p, 1, (int)(g->r->o->setup_timeout_s * 1000)) != 1) {
		close(ls);
		return ETIMEDOUT;
	}
	g->fd = accept(ls, NULL, NULL);
	close(ls);
	return g->fd < 0 ? errno : 0;
}

static int open_connect(struct sig *g, const struct sockaddr_storage *a,
                        socklen_t len)
{
	while (sim_now_ns() < g->r->setup_deadline) {
		g->fd = socket(a->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (g->fd < 0)
			return errno;
		if (!connect(g->fd, (const struct sockaddr *)a, len))
			return 0;
		close(g->fd);
		g->fd = -1;
		usleep(200000); /* the MCU may not listen yet */
	}
	return ETIMEDOUT;
}

/* MCU: read the viewers' addresses; 0 or an errno. */
static int mcu_hello(struct sig *g)
{
	struct sim_run *r = g->r;
	char line[256], addr[200];
	int k, n;

	if (get_line(g, line, sizeof(line)) ||
	    sscanf(line, "HELLO edge-sim 1 %d", &n) != 1 || n != r->o->viewers)
		return EPROTO;
	while (!get_line(g, line, sizeof(line)) && strcmp(line, "DONE")) {
		if (sscanf(line, "VIEWER %d %199s", &k, addr) != 2 || k < 1 ||
		    k > n)
			return EPROTO;
		struct sim_viewer *v = &r->v[k - 1];
		if (!strcmp(addr, "FAILED") || parse_addr(addr, &v->addr))
			v->failed = true;
		else
			v->addr_known = true;
	}
	for (int i = 0; i < n; i++)
		if (!r->v[i].addr_known)
			r->v[i].failed = true;
	return strcmp(line, "DONE") ? EPROTO : 0;
}

static int run_mcu(struct sig *g)
{
	struct sim_run *r = g->r;
	char line[256], a[80];
	int k, rc;

	if ((rc = mcu_hello(g)))
		return rc;
	sim_addr_str(&r->mcu->turn.relayed, a, sizeof(a));
	put(g, "MCU %s\n", a);
	if ((rc = sim_setup_bind(r)))
		return rc;
	while (!(rc = get_line(g, line, sizeof(line))) && strcmp(line, "READY"))
		if (sscanf(line, "FAILED %d", &k) == 1 && k >= 1 &&
		    k <= r->o->viewers && !r->v[k - 1].failed) {
			r->v[k - 1].failed = true;
			r->viewers_failed++;
		}
	if (rc)
		return rc;
	put(g, "START %d\n", START_DELAY_MS);
	usleep(START_DELAY_MS * 1000);
	rc = sim_run_threads(r);
	for (int s = 0; s < r->o->nsteps; s++)
		for (int v = 0; v < r->o->viewers; v++) {
			const struct sim_vstats *st = sim_st(r, s, v);
			put(g, "SENT %d %d %llu %llu %llu %llu %llu\n", s,
			    v + 1, (unsigned long long)st->sent,
			    (unsigned long long)st->pdus_sent,
			    (unsigned long long)st->ctl_recv,
			    (unsigned long long)st->rr_recv,
			    (unsigned long long)st->up_auth_fail);
		}
	put(g, "CONTROL %llu %llu %llu %llu\n", (unsigned long long)r->grants,
	    (unsigned long long)r->grant_acks, (unsigned long long)r->revokes,
	    (unsigned long long)r->revoke_acks);
	put(g, "END\n");
	return rc;
}

static void viewer_results(struct sig *g)
{
	struct sim_run *r = g->r;
	char line[256];
	unsigned long long a, b, c, d, e;
	int s, k;

	r->setup_deadline = sim_now_ns() + 10000000000ull;
	while (!get_line(g, line, sizeof(line)) && strcmp(line, "END")) {
		if (sscanf(line, "CONTROL %llu %llu %llu %llu", &a, &b, &c,
		           &d) == 4) {
			r->grants = a;
			r->grant_acks = b;
			r->revokes = c;
			r->revoke_acks = d;
			continue;
		}
		if (sscanf(line, "SENT %d %d %llu %llu %llu %llu %llu", &s, &k,
		           &a, &b, &c, &d, &e) != 7 ||
		    s < 0 || s >= r->o->nsteps || k < 1 || k > r->o->viewers)
			continue;
		struct sim_vstats *st = sim_st(r, s, k - 1);
		st->sent = a;
		st->pdus_sent = b;
		st->ctl_recv = c;
		st->rr_recv = d;
		st->up_auth_fail = e;
	}
}

static int run_viewers(struct sig *g)
{
	struct sim_run *r = g->r;
	char line[256], a[80];
	int rc, delay;

	put(g, "HELLO edge-sim 1 %d\n", r->o->viewers);
	for (int i = 0; i < r->o->viewers; i++) {
		struct sim_viewer *v = &r->v[i];
		sim_addr_str(r->o->direct ? &v->conn.local : &v->turn.relayed,
		             a, sizeof(a));
		put(g, "VIEWER %d %s\n", i + 1, v->failed ? "FAILED" : a);
	}
	put(g, "DONE\n");
	if ((rc = get_line(g, line, sizeof(line))) ||
	    sscanf(line, "MCU %79s", a) != 1 || parse_addr(a, &r->mcu_addr))
		return rc ? rc : EPROTO;
	r->mcu_known = true;
	if ((rc = sim_setup_bind(r)))
		return rc;
	for (int i = 0; i < r->o->viewers; i++)
		if (r->v[i].failed)
			put(g, "FAILED %d\n", i + 1);
	put(g, "READY\n");
	if ((rc = get_line(g, line, sizeof(line))) ||
	    sscanf(line, "START %d", &delay) != 1 || delay < 0 || delay > 10000)
		return rc ? rc : EPROTO;
	usleep((useconds_t)delay * 1000);
	rc = sim_run_threads(r);
	viewer_results(g);
	return rc;
}

int sim_split(struct sim_run *r)
{
	struct sockaddr_storage a;
	socklen_t len;
	struct sig g = {.r = r, .fd = -1};
	int rc;

	if (tools_parse_hostport(r->o->signal, 0, &a, &len)) {
		sim_error(r, "bad --signal '%s': HOST:PORT", r->o->signal);
		return EINVAL;
	}
	if ((rc = sim_setup_alloc(r)))
		return rc;
	rc = r->local_mcu ? open_listen(&g, &a, len)
	                  : open_connect(&g, &a, len);
	if (rc) {
		sim_error(r, "signal %s: %s", r->o->signal, strerror(rc));
		return rc;
	}
	rc = r->local_mcu ? run_mcu(&g) : run_viewers(&g);
	if (rc && rc != EPROTO)
		sim_error(r, "signal %s: %s", r->o->signal, strerror(rc));
	else if (rc)
		sim_error(r, "signal %s: unexpected message", r->o->signal);
	close(g.fd);
	return rc;
}
