/*
 * edge/redis/conn.c - one hiredis async connection on one libevent base
 * (hiredis' own adapter), with what Debian's hiredis 0.14 lacks: a timeout
 * per command (a libevent timer), a watchdog that drops a connection whose
 * server stopped answering, AUTH and SELECT from the URL on every connect,
 * reconnects with exponential backoff (100 ms doubling to 5 s), and
 * EVALSHA with a fallback to EVAL on NOSCRIPT. Everything runs on the
 * base's thread. A command (struct rcmd) lives until hiredis hands back
 * its reply, or NULL when the context is freed; a timed-out command stays
 * until then too, so its late reply still finds it.
 */
#include "edge/base/clock.h"
#include "edge/base/log.h"
#include "edge/redis/redis_int.h"

#include <errno.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define WATCHDOG_MS    250
#define ARGS_MAX       64

struct rcmd {
	struct rconn *c;
	rconn_reply_fn *fn;
	void *arg;
	struct event *timer; /* NULL: no reply wanted, or a subscription */
	uint64_t sent_ms;
	bool timed_out, sub;
	/* a script, kept for the EVAL retry: argv[0..argc) of lens[] */
	const struct rscript *script;
	int argc;
	char **argv;
	size_t *lens;
	struct rcmd *next, *prev; /* pending, oldest first (not subs) */
};

struct rconn {
	struct event_base *base;
	const struct edge_redis_url *url;
	uint32_t timeout_ms;
	char name[32];
	rconn_state_fn *on_state;
	void *arg;
	redisAsyncContext *ac;
	bool ready, was_up, retry_armed, freeing;
	bool stalled; /* a command timed out, no reply since: not up */
	uint32_t backoff_ms;
	unsigned failures; /* connect attempts since the last success */
	uint64_t connect_ms;
	struct event *retry, *watchdog, *kill;
	const char *kill_why;
	struct rcmd *head, *tail;
};

static uint64_t stall_limit_ms(const struct rconn *c)
{
	uint64_t t = 5 * (uint64_t)c->timeout_ms;

	return t < 2000 ? 2000 : t;
}

/* --- commands ------------------------------------------------------------ */

static void cmd_unlink(struct rcmd *m)
{
	struct rconn *c = m->c;

	if (m->sub)
		return;
	if (m->prev)
		m->prev->next = m->next;
	else if (c->head == m)
		c->head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else if (c->tail == m)
		c->tail = m->prev;
	m->next = m->prev = NULL;
}

static void cmd_free(struct rcmd *m)
{
	if (m->timer)
		event_free(m->timer);
	for (int i = 0; i < m->argc; i++)
		free(m->argv[i]);
	free(m->argv);
	free(m->lens);
	free(m);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct rcmd *m = arg;

	(void)fd;
	(void)what;
	m->timed_out = true;
	m->c->stalled = true; /* until a reply shows the server is back */
	if (m->fn)
		m->fn(m->c, NULL, RC_TIMEOUT, m->arg);
}

static int send_argv(struct rconn *c, struct rcmd *m, int argc,
                     const char **argv, const size_t *lens);

/* A script the server does not know (restarted): the same with EVAL. */
static int resend_eval(struct rconn *c, struct rcmd *m)
{
	const char *argv[ARGS_MAX + 3];
	size_t lens[ARGS_MAX + 3];

	argv[0] = "EVAL";
	lens[0] = 4;
	argv[1] = m->script->src;
	lens[1] = strlen(m->script->src);
	for (int i = 0; i < m->argc; i++) {
		argv[i + 2] = m->argv[i];
		lens[i + 2] = m->lens[i];
	}
	m->script = NULL; /* once */
	return send_argv(c, m, m->argc + 2, argv, lens);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rcmd *m = priv;
	struct rconn *c = m->c;
	redisReply *r = reply;

	(void)ac;
	if (!r)
		c->ready = false; /* the context is going away */
	else
		c->stalled = false;
	if (m->sub) {
		if (m->fn)
			m->fn(c, r, r ? RC_OK : RC_DOWN, m->arg);
		if (!r)
			cmd_free(m);
		return;
	}
	if (r && m->script && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0 && resend_eval(c, m) == 0)
		return;
	cmd_unlink(m);
	if (m->fn)
		m->fn(c, r,
		      m->timed_out ? RC_LATE
		      : r          ? RC_OK
		                   : RC_DOWN,
		      m->arg);
	cmd_free(m);
}

static int send_argv(struct rconn *c, struct rcmd *m, int argc,
                     const char **argv, const size_t *lens)
{
	if (!c->ac || (c->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING)))
		return ENOTCONN;
	if (redisAsyncCommandArgv(c->ac, on_reply, m, argc, argv, lens) !=
	    REDIS_OK)
		return ENOTCONN;
	return 0;
}

/* A new command for c; queued in the pending list unless sub. */
static struct rcmd *cmd_new(struct rconn *c, rconn_reply_fn *fn, void *arg,
                            bool sub)
{
	struct rcmd *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->c = c;
	m->fn = fn;
	m->arg = arg;
	m->sub = sub;
	m->sent_ms = edge_mono_ms();
	if (fn && !sub) {
		struct timeval tv = {c->timeout_ms / 1000,
		                     (c->timeout_ms % 1000) * 1000};
		m->timer = evtimer_new(c->base, on_timeout, m);
		if (!m->timer || evtimer_add(m->timer, &tv) < 0) {
			cmd_free(m);
			return NULL;
		}
	}
	return m;
}

static void cmd_queue(struct rconn *c, struct rcmd *m)
{
	if (m->sub)
		return;
	m->prev = c->tail;
	if (c->tail)
		c->tail->next = m;
	else
		c->head = m;
	c->tail = m;
}

static int submit(struct rconn *c, rconn_reply_fn *fn, void *arg, int argc,
                  const char **argv, const size_t *lens)
{
	struct rcmd *m = cmd_new(c, fn, arg, false);
	int err;

	if (!m)
		return ENOMEM;
	if ((err = send_argv(c, m, argc, argv, lens)) != 0) {
		cmd_free(m);
		return err;
	}
	cmd_queue(c, m);
	return 0;
}

int rconn_cmd(struct rconn *c, rconn_reply_fn *fn, void *arg, int argc,
              const char **argv, const size_t *lens)
{
	if (!rconn_up(c))
		return ENOTCONN;
	return submit(c, fn, arg, argc, argv, lens);
}

int rconn_cmdv(struct rconn *c, rconn_reply_fn *fn, void *arg, int argc, ...)
{
	const char *argv[ARGS_MAX];
	size_t lens[ARGS_MAX];
	va_list ap;

	if (argc > ARGS_MAX)
		return EINVAL;
	va_start(ap, argc);
	for (int i = 0; i < argc; i++) {
		argv[i] = va_arg(ap, const char *);
		lens[i] = strlen(argv[i]);
	}
	va_end(ap);
	return rconn_cmd(c, fn, arg, argc, argv, lens);
}

/* Keep a copy of the arguments of a script (for the EVAL retry). */
static int keep_args(struct rcmd *m, int argc, const char **argv,
                     const size_t *lens)
{
	m->argv = calloc((size_t)argc, sizeof(*m->argv));
	m->lens = calloc((size_t)argc, sizeof(*m->lens));
	if (!m->argv || !m->lens)
		return ENOMEM;
	for (int i = 0; i < argc; i++) {
		m->argv[i] = malloc(lens[i] + 1);
		if (!m->argv[i])
			return ENOMEM;
		memcpy(m->argv[i], argv[i], lens[i]);
		m->argv[i][lens[i]] = 0;
		m->lens[i] = lens[i];
		m->argc = i + 1;
	}
	return 0;
}

int rconn_script(struct rconn *c, const struct rscript *s, rconn_reply_fn *fn,
                 void *arg, int nkeys, int argc, const char **argv,
                 const size_t *lens)
{
	const char *v[ARGS_MAX + 3];
	size_t l[ARGS_MAX + 3];
	char nk[16];
	struct rcmd *m;
	int err;

	if (!rconn_up(c))
		return ENOTCONN;
	if (argc > ARGS_MAX)
		return EINVAL;
	if (!(m = cmd_new(c, fn, arg, false)))
		return ENOMEM;
	snprintf(nk, sizeof(nk), "%d", nkeys);
	v[0] = "EVALSHA";
	l[0] = 7;
	v[1] = redis_script_sha(s);
	l[1] = 40;
	v[2] = nk;
	l[2] = strlen(nk);
	for (int i = 0; i < argc; i++) {
		v[i + 3] = argv[i];
		l[i + 3] = lens[i];
	}
	/* the EVAL retry needs numkeys and the arguments */
	err = keep_args(m, argc + 1, v + 2, l + 2);
	m->script = s;
	if (!err)
		err = send_argv(c, m, argc + 3, v, l);
	if (err) {
		cmd_free(m);
		return err;
	}
	cmd_queue(c, m);
	return 0;
}

int rconn_psubscribe(struct rconn *c, const char *pattern, rconn_reply_fn *fn,
                     void *arg)
{
	const char *argv[2] = {"PSUBSCRIBE", pattern};
	size_t lens[2] = {10, strlen(pattern)};
	struct rcmd *m;
	int err;

	if (!rconn_up(c))
		return ENOTCONN;
	if (!(m = cmd_new(c, fn, arg, true)))
		return ENOMEM;
	if ((err = send_argv(c, m, 2, argv, lens)) != 0)
		cmd_free(m);
	return err;
}

/* --- connection life ------------------------------------------------------ */

static void arm_retry(struct rconn *c)
{
	struct timeval tv = {c->backoff_ms / 1000,
	                     (c->backoff_ms % 1000) * 1000};

	if (c->retry_armed || c->freeing)
		return;
	c->retry_armed = true;
	evtimer_add(c->retry, &tv);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
	                                                   : c->backoff_ms * 2;
}

/* The connection is gone (or never came): say so once, retry later. */
static void lost(struct rconn *c, const char *why)
{
	if (c->freeing || c->retry_armed)
		return;
	c->ready = false;
	c->failures++;
	if (c->was_up) {
		c->was_up = false;
		edge_warn("redis %s: connection to %s:%u lost (%s); "
		          "reconnecting",
		          c->name, c->url->host, (unsigned)c->url->port, why);
		if (c->on_state)
			c->on_state(c, false, c->arg);
	} else if (c->failures == 1 || c->failures % 20 == 0) {
		edge_warn("redis %s: cannot connect to %s:%u (%s); retrying "
		          "every %u ms at most",
		          c->name, c->url->host, (unsigned)c->url->port, why,
		          (unsigned)BACKOFF_MAX_MS);
	}
	arm_retry(c);
}

static void drop(struct rconn *c, const char *why)
{
	redisAsyncContext *ac = c->ac;

	if (!ac)
		return;
	c->ac = NULL;
	lost(c, why);
	redisAsyncFree(ac); /* pending replies run with NULL */
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;

	if (status == REDIS_OK)
		return; /* up once the handshake is answered */
	if (c->ac == ac)
		c->ac = NULL; /* hiredis frees it */
	lost(c, ac->errstr[0] ? ac->errstr : "connect failed");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct rconn *c = ac->data;

	if (c->ac == ac)
		c->ac = NULL;
	lost(c, status == REDIS_OK ? "closed"
	        : ac->errstr[0]    ? ac->errstr
	                           : "error");
}

/* AUTH, SELECT, then PING: the PING's answer makes the connection up. */
static void on_handshake(struct rconn *c, struct redisReply *r,
                         enum rc_status st, void *arg)
{
	bool last = arg != NULL;

	if (st != RC_OK && st != RC_TIMEOUT)
		return; /* the connection went: lost() runs */
	if (st == RC_TIMEOUT || r->type == REDIS_REPLY_ERROR) {
		if (st == RC_OK)
			edge_err("redis %s: %s refused: %s", c->name,
			         last ? "PING" : "AUTH/SELECT", r->str);
		c->kill_why = st == RC_TIMEOUT ? "handshake timed out"
		                               : "handshake refused";
		event_active(c->kill, 0, 0);
		return;
	}
	if (!last)
		return;
	c->ready = true;
	c->stalled = false;
	c->was_up = true;
	c->failures = 0;
	c->backoff_ms = BACKOFF_MIN_MS;
	edge_info("redis %s: connected to %s:%u db %u", c->name, c->url->host,
	          (unsigned)c->url->port, (unsigned)c->url->db);
	if (c->on_state)
		c->on_state(c, true, c->arg);
}

static int handshake(struct rconn *c)
{
	const struct edge_redis_url *u = c->url;
	const char *argv[3];
	size_t lens[3];
	char db[16];
	int n = 0, err = 0;

	if (u->password) {
		argv[n] = "AUTH";
		lens[n++] = 4;
		if (u->user) {
			argv[n] = u->user;
			lens[n] = strlen(u->user);
			n++;
		}
		argv[n] = u->password;
		lens[n] = strlen(u->password);
		n++;
		err = submit(c, on_handshake, NULL, n, argv, lens);
	}
	if (!err && u->db) {
		snprintf(db, sizeof(db), "%u", (unsigned)u->db);
		argv[0] = "SELECT";
		lens[0] = 6;
		argv[1] = db;
		lens[1] = strlen(db);
		err = submit(c, on_handshake, NULL, 2, argv, lens);
	}
	argv[0] = "PING";
	lens[0] = 4;
	if (!err)
		err = submit(c, on_handshake, c, 1, argv, lens);
	return err;
}

static void try_connect(struct rconn *c)
{
	redisAsyncContext *ac = redisAsyncConnect(c->url->host, c->url->port);

	if (!ac) {
		lost(c, "out of memory");
		return;
	}
	if (ac->err) {
		char why[128];
		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		lost(c, why);
		return;
	}
	ac->data = c;
	c->ac = ac;
	c->connect_ms = edge_mono_ms();
	redisEnableKeepAlive(&ac->c);
	if (redisLibeventAttach(ac, c->base) != REDIS_OK) {
		drop(c, "cannot attach to the event loop");
		return;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (handshake(c) != 0)
		drop(c, "cannot send the handshake");
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct rconn *c = arg;

	(void)fd;
	(void)what;
	c->retry_armed = false;
	try_connect(c);
}

static void on_kill(evutil_socket_t fd, short what, void *arg)
{
	struct rconn *c = arg;

	(void)fd;
	(void)what;
	drop(c, c->kill_why ? c->kill_why : "dropped");
}

/* A server that accepts but never answers (stopped, overloaded): drop
 * the connection once a command waited too long, or the connect did. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct rconn *c = arg;
	uint64_t now = edge_mono_ms(), limit = stall_limit_ms(c);

	(void)fd;
	(void)what;
	if (!c->ac)
		return;
	if (c->head && now - c->head->sent_ms > limit)
		drop(c, "no answer in time");
	else if (!c->ready && now - c->connect_ms > limit)
		drop(c, "connect timed out");
}

int rconn_new(struct rconn **out, const struct rconn_opts *o)
{
	struct rconn *c = calloc(1, sizeof(*c));
	struct timeval wd = {0, WATCHDOG_MS * 1000};

	*out = NULL;
	if (!c)
		return ENOMEM;
	c->base = o->base;
	c->url = o->url;
	c->timeout_ms = o->timeout_ms;
	snprintf(c->name, sizeof(c->name), "%s", o->name);
	c->on_state = o->on_state;
	c->arg = o->arg;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->retry = evtimer_new(c->base, on_retry, c);
	c->kill = event_new(c->base, -1, 0, on_kill, c);
	c->watchdog = event_new(c->base, -1, EV_PERSIST, on_watchdog, c);
	if (!c->retry || !c->kill || !c->watchdog ||
	    event_add(c->watchdog, &wd) < 0) {
		rconn_free(c);
		return ENOMEM;
	}
	try_connect(c);
	*out = c;
	return 0;
}

void rconn_free(struct rconn *c)
{
	if (!c)
		return;
	c->freeing = true;
	if (c->ac) {
		redisAsyncContext *ac = c->ac;
		c->ac = NULL;
		redisAsyncFree(ac);
	}
	if (c->retry)
		event_free(c->retry);
	if (c->kill)
		event_free(c->kill);
	if (c->watchdog)
		event_free(c->watchdog);
	free(c);
}

bool rconn_up(const struct rconn *c)
{
	return c && c->ready && !c->stalled;
}
