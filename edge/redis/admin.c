/*
 * edge/redis/admin.c - the admin API's credential changes with Redis:
 * one command in coturn's layout (SET / DEL of a user's MD5 key, SADD /
 * SREM of a REST secret) on the control connection, then an immediate
 * re-read so this node applies it at once; the other nodes read it within
 * their credential sync period (docs/cluster.md). The request comes from
 * the admin thread and hops to the control thread (event_base_once is
 * thread-safe with evthread_use_pthreads); the answer runs there too.
 */
#include "edge/base/log.h"
#include "edge/redis/redis_int.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cred_write {
	struct edge_redis *r;
	enum edge_redis_cred_op op;
	char key[CLUSTER_KEY_MAX];
	char *value; /* the hex key or the secret; NULL for USER_DEL */
	edge_redis_cred_fn *done;
	void *arg;
};

static void write_free(struct cred_write *w)
{
	if (w->value) {
		OPENSSL_cleanse(w->value, strlen(w->value));
		free(w->value);
	}
	free(w);
}

static void on_reply(struct rconn *c, struct redisReply *rep, enum rc_status st,
                     void *arg)
{
	struct cred_write *w = arg;
	bool changed = false;
	int err = 0;

	(void)c;
	if (st == RC_TIMEOUT) {
		w->done(w->arg, ETIMEDOUT, false);
		return; /* RC_LATE follows and frees */
	}
	if (st == RC_LATE) {
		if (rep && rep->type != REDIS_REPLY_ERROR)
			redis_creds_sync(w->r->creds, true);
		write_free(w);
		return;
	}
	if (st == RC_DOWN || !rep)
		err = ENOTCONN;
	else if (rep->type == REDIS_REPLY_ERROR)
		err = EIO;
	else if (rep->type == REDIS_REPLY_INTEGER)
		changed = rep->integer > 0;
	else
		changed = true; /* SET: +OK */
	if (err == EIO)
		edge_warn("redis: admin API credential change refused: %s",
		          rep->str);
	if (!err)
		redis_creds_sync(w->r->creds, true);
	w->done(w->arg, err, changed);
	write_free(w);
}

static void run_write(evutil_socket_t fd, short what, void *arg)
{
	struct cred_write *w = arg;
	struct rconn *ctl = w->r->ctl;
	int rc;

	(void)fd;
	(void)what;
	switch (w->op) {
	case EDGE_REDIS_USER_SET:
		rc = rconn_cmdv(ctl, on_reply, w, 3, "SET", w->key, w->value);
		break;
	case EDGE_REDIS_USER_DEL:
		rc = rconn_cmdv(ctl, on_reply, w, 2, "DEL", w->key);
		break;
	case EDGE_REDIS_SECRET_ADD:
		rc = rconn_cmdv(ctl, on_reply, w, 3, "SADD", w->key, w->value);
		break;
	default:
		rc = rconn_cmdv(ctl, on_reply, w, 3, "SREM", w->key, w->value);
		break;
	}
	if (rc) {
		w->done(w->arg, rc == ENOMEM ? ENOMEM : ENOTCONN, false);
		write_free(w);
	}
}

int edge_redis_cred_write(struct edge_redis *r, enum edge_redis_cred_op op,
                          const char *name_or_secret, const char *hex_key,
                          edge_redis_cred_fn *done, void *arg)
{
	struct timeval now = {0, 0};
	struct cred_write *w;
	bool user = op == EDGE_REDIS_USER_SET || op == EDGE_REDIS_USER_DEL;
	int err;

	if (!r || !r->started || !r->base)
		return ENOTCONN;
	if (!(w = calloc(1, sizeof(*w))))
		return ENOMEM;
	w->r = r;
	w->op = op;
	w->done = done;
	w->arg = arg;
	if (user) /* coturn's layout (cluster/rec.c) */
		err = cluster_key_user(w->key, sizeof(w->key), r->cfg.realm,
		                       name_or_secret);
	else
		err = cluster_key(w->key, sizeof(w->key), CLUSTER_KEY_SECRETS,
		                  r->cfg.realm);
	if (op == EDGE_REDIS_USER_SET)
		w->value = strdup(hex_key);
	else if (!user)
		w->value = strdup(name_or_secret);
	if (err || (op != EDGE_REDIS_USER_DEL && !w->value) ||
	    event_base_once(r->base, -1, EV_TIMEOUT, run_write, w, &now) != 0) {
		write_free(w);
		return ENOMEM;
	}
	return 0;
}

void edge_redis_each_user(struct edge_redis *r,
                          void (*fn)(void *arg, const char *name, size_t len),
                          void *arg, size_t *nsecrets)
{
	if (nsecrets)
		*nsecrets = 0;
	if (r && r->creds)
		redis_creds_each_user(r->creds, fn, arg, nsecrets);
}
