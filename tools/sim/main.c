/*
 * tools/sim/main.c - edge-sim: the run's schedule, its threads, errors
 * and exit status (options: opts.c). docs/edge-sim.md is the manual.
 *
 * Exit status: 0 when every viewer was set up and the run finished, 1
 * when a viewer or the MCU failed, 2 on bad options.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tools/sim/sim.h"

void sim_error(struct sim_run *r, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&r->err_lock);
	char **e = realloc(r->errors, sizeof(*e) * (size_t)(r->nerrors + 1));
	if (e) {
		r->errors = e;
		if ((e[r->nerrors] = strdup(buf)))
			r->nerrors++;
	}
	pthread_mutex_unlock(&r->err_lock);
	fprintf(stderr, "edge-sim: %s\n", buf); /* --json: stdout stays JSON */
}

static void schedule(struct sim_run *r)
{
	struct sim_sched *s = &r->sched;
	uint64_t warm = (uint64_t)(r->o->warmup_s * 1e9),
	         dur = (uint64_t)(r->o->duration_s * 1e9);

	s->nsteps = r->o->nsteps;
	s->t0 = sim_now_ns() + 100000000ull;
	for (int i = 0; i < s->nsteps; i++) {
		s->start[i] = s->t0 + (uint64_t)i * (warm + dur);
		s->win_start[i] = s->start[i] + warm;
		s->win_end[i] = s->win_start[i] + dur;
	}
	s->send_end = s->win_end[s->nsteps - 1];
	s->end = s->send_end + SIM_DRAIN_NS;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int sim_run_threads(struct sim_run *r)
{
	pthread_t mt, vt;
	double c0;
	uint64_t w0;

	schedule(r);
	c0 = cpu_s();
	w0 = sim_now_ns();
	if ((r->local_mcu && pthread_create(&mt, NULL, sim_mcu_thread, r)) ||
	    (r->local_viewers &&
	     pthread_create(&vt, NULL, sim_viewer_thread, r))) {
		sim_error(r, "cannot start threads");
		return EIO;
	}
	if (r->local_mcu)
		pthread_join(mt, NULL);
	if (r->local_viewers)
		pthread_join(vt, NULL);
	r->cpu_pct =
	        100.0 * (cpu_s() - c0) / ((double)(sim_now_ns() - w0) / 1e9);
	return 0;
}

/* One socket per viewer: raise the soft fd limit to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static struct sim_opts o;
	static struct sim_run r;
	static struct sim_mcu mcu;
	int rc = sim_parse_args(&o, argc, argv);

	if (rc)
		return rc;
	raise_nofile();
	signal(SIGPIPE, SIG_IGN); /* a stream the server closed: EPIPE */
	r.o = &o;
	r.mcu = &mcu;
	pthread_mutex_init(&r.err_lock, NULL);
	r.v = calloc((size_t)o.viewers, sizeof(*r.v));
	r.st = calloc((size_t)o.viewers * (size_t)o.nsteps, sizeof(*r.st));
	mcu.p = calloc((size_t)o.viewers, sizeof(*mcu.p));
	if (!r.v || !r.st || !mcu.p || sim_srtp_init()) {
		fprintf(stderr, "edge-sim: out of memory or libsrtp2 failed\n");
		return 1;
	}
	if (o.transport == SIM_TLS) {
		r.tls = SSL_CTX_new(TLS_client_method());
		SSL_CTX_set_verify(r.tls, SSL_VERIFY_NONE, NULL);
	}
	r.local_mcu = o.role != SIM_ROLE_VIEWER;
	r.local_viewers = o.role != SIM_ROLE_MCU;
	if (o.role != SIM_ROLE_BOTH)
		rc = sim_split(&r);
	else if (!(rc = sim_setup(&r)))
		rc = sim_run_threads(&r);
	if (rc) { /* without the MCU no viewer sees anything */
		for (int i = 0; i < o.viewers; i++)
			r.v[i].failed = true;
		r.viewers_failed = o.viewers;
	}
	sim_teardown(&r);
	sim_report(&r);
	return rc || r.viewers_failed || r.nerrors ? 1 : 0;
}
