/*
 * edge/redis/creds.c - users and REST secrets read from Redis in coturn's
 * layout, for each realm of the node (the node's realm first; one reader
 * per other realm chained behind it, each reading and merging its own):
 *   turn/realm/<realm>/secret            SET of REST shared secrets
 *   turn/realm/<realm>/user/<name>/key   hex MD5 key (32 hex digits)
 * A read ("sync") runs on the control thread: SMEMBERS of the secret set,
 * and, when users are due, SCAN MATCH of the user keys then MGET of their
 * values. When the result differs from the last one it becomes the new
 * snapshot (under a mutex: the daemon merges it into the store it builds,
 * from its own thread) and the daemon is told. One read at a time; a
 * request while one runs starts another when it ends.
 */
#include "auth/auth.h"
#include "edge/base/log.h"
#include "edge/base/strv.h"
#include "edge/redis/redis_int.h"

#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MGET_BATCH  200
#define SCAN_COUNT  "1000"
#define USERS_MAX   100000
#define SECRETS_MAX AUTH_SECRETS_MAX

struct redis_creds {
	struct edge_redis *r;
	const char *realm;        /* whose keys these are */
	struct redis_creds *next; /* the node's next realm */
	char secret_key[CLUSTER_KEY_MAX];
	char user_pattern[2 * CLUSTER_KEY_MAX + 32]; /* glob-escaped realm */
	pthread_mutex_t mu;
	struct edge_strv users, secrets; /* snapshot: "name:0xKEY", secrets */
	bool have_snapshot;
	/* the read in progress (control thread) */
	bool running, again, again_users, with_users;
	struct edge_strv keys, new_users, new_secrets;
	size_t mget_at;
};

/* --- the read ----------------------------------------------------------- */

static void step_scan(struct redis_creds *cr, const char *cursor);
static void step_mget(struct redis_creds *cr);

static void finish(struct redis_creds *cr, bool ok)
{
	bool changed = false;

	cr->running = false;
	if (ok) {
		pthread_mutex_lock(&cr->mu);
		if (!cr->with_users) { /* users as they were */
			edge_strv_clear(&cr->new_users);
			for (size_t i = 0; i < cr->users.n; i++)
				edge_strv_add(&cr->new_users, cr->users.v[i],
				              strlen(cr->users.v[i]));
		}
		changed = !cr->have_snapshot ||
		          !edge_strv_equal(&cr->new_users, &cr->users) ||
		          !edge_strv_equal(&cr->new_secrets, &cr->secrets);
		if (changed) {
			edge_strv_swap(&cr->users, &cr->new_users);
			edge_strv_swap(&cr->secrets, &cr->new_secrets);
			cr->have_snapshot = true;
		}
		pthread_mutex_unlock(&cr->mu);
	}
	edge_strv_clear(&cr->keys);
	edge_strv_clear(&cr->new_users);
	edge_strv_clear(&cr->new_secrets);
	if (changed) {
		edge_info("redis: credentials of realm %s: %zu users, %zu REST "
		          "secrets in Redis",
		          cr->realm, cr->users.n, cr->secrets.n);
		if (cr->r->creds_changed)
			cr->r->creds_changed(cr->r->creds_arg);
	}
	if (cr->again) {
		bool users = cr->again_users;
		cr->again = cr->again_users = false;
		redis_creds_sync(cr, users);
	}
}

/* true when the reply is usable; otherwise the read ends here. */
static bool reply_ok(struct redis_creds *cr, struct redisReply *r,
                     enum rc_status st, int type)
{
	if (st == RC_LATE)
		return false; /* the read already ended at the timeout */
	if (st == RC_OK && r && r->type == type)
		return true;
	if (st == RC_OK && r && r->type == REDIS_REPLY_ERROR)
		edge_warn("redis: reading credentials: %s", r->str);
	finish(cr, false);
	return false;
}

static void on_mget(struct rconn *c, struct redisReply *r, enum rc_status st,
                    void *arg)
{
	struct redis_creds *cr = arg;
	size_t from = cr->mget_at;

	(void)c;
	if (!reply_ok(cr, r, st, REDIS_REPLY_ARRAY))
		return;
	for (size_t i = 0; i < r->elements && from + i < cr->keys.n; i++) {
		const struct redisReply *v = r->element[i];
		const char *key = cr->keys.v[from + i];
		size_t klen = strlen(key), off, nlen;
		char spec[AUTH_USERNAME_MAX + 40];
		bool hex = v->type == REDIS_REPLY_STRING && v->len == 32;

		for (size_t k = 0; hex && k < 32; k++)
			hex = isxdigit((unsigned char)v->str[k]) != 0;
		if (!cluster_key_user_name(key, klen, cr->realm, &off, &nlen))
			continue;
		if (!hex || nlen == 0 || nlen > AUTH_USERNAME_MAX) {
			edge_debug("redis: %s: not a 32-hex-digit key: skipped",
			           key);
			continue;
		}
		int n = snprintf(spec, sizeof(spec), "%.*s:0x%.32s", (int)nlen,
		                 key + off, v->str);
		for (int k = n - 32; k < n; k++)
			spec[k] = (char)tolower((unsigned char)spec[k]);
		if (cr->new_users.n < USERS_MAX)
			edge_strv_add(&cr->new_users, spec, (size_t)n);
	}
	cr->mget_at += MGET_BATCH;
	step_mget(cr);
}

static void step_mget(struct redis_creds *cr)
{
	const char **argv;
	size_t *lens, n;

	if (cr->mget_at >= cr->keys.n) {
		finish(cr, true);
		return;
	}
	n = cr->keys.n - cr->mget_at;
	if (n > MGET_BATCH)
		n = MGET_BATCH;
	argv = calloc(n + 1, sizeof(*argv));
	lens = calloc(n + 1, sizeof(*lens));
	int err = argv && lens ? 0 : ENOMEM;
	if (!err) {
		argv[0] = "MGET";
		lens[0] = 4;
		for (size_t i = 0; i < n; i++) {
			argv[i + 1] = cr->keys.v[cr->mget_at + i];
			lens[i + 1] = strlen(argv[i + 1]);
		}
		err = rconn_cmd(cr->r->ctl, on_mget, cr, (int)n + 1, argv,
		                lens);
	}
	free(argv);
	free(lens);
	if (err)
		finish(cr, false);
}

static void on_scan(struct rconn *c, struct redisReply *r, enum rc_status st,
                    void *arg)
{
	struct redis_creds *cr = arg;
	char cursor[32];

	(void)c;
	if (!reply_ok(cr, r, st, REDIS_REPLY_ARRAY))
		return;
	if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		finish(cr, false);
		return;
	}
	for (size_t i = 0; i < r->element[1]->elements; i++) {
		const struct redisReply *k = r->element[1]->element[i];
		if (k->type == REDIS_REPLY_STRING && cr->keys.n < USERS_MAX)
			edge_strv_add(&cr->keys, k->str, k->len);
	}
	snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
	if (strcmp(cursor, "0") != 0) {
		step_scan(cr, cursor);
		return;
	}
	cr->mget_at = 0;
	step_mget(cr);
}

static void step_scan(struct redis_creds *cr, const char *cursor)
{
	if (rconn_cmdv(cr->r->ctl, on_scan, cr, 6, "SCAN", cursor, "MATCH",
	               cr->user_pattern, "COUNT", SCAN_COUNT) != 0)
		finish(cr, false);
}

static void on_secrets(struct rconn *c, struct redisReply *r, enum rc_status st,
                       void *arg)
{
	struct redis_creds *cr = arg;

	(void)c;
	if (!reply_ok(cr, r, st, REDIS_REPLY_ARRAY))
		return;
	for (size_t i = 0; i < r->elements && i < SECRETS_MAX * 4; i++) {
		const struct redisReply *v = r->element[i];
		if (v->type == REDIS_REPLY_STRING)
			edge_strv_add(&cr->new_secrets, v->str, v->len);
	}
	if (cr->with_users)
		step_scan(cr, "0");
	else
		finish(cr, true);
}

void redis_creds_sync(struct redis_creds *cr, bool users)
{
	if (cr->next)
		redis_creds_sync(cr->next, users);
	if (cr->running) {
		cr->again = true;
		cr->again_users |= users;
		return;
	}
	if (!rconn_up(cr->r->ctl))
		return;
	cr->running = true;
	cr->with_users = users || !cr->have_snapshot;
	if (rconn_cmdv(cr->r->ctl, on_secrets, cr, 2, "SMEMBERS",
	               cr->secret_key) != 0)
		finish(cr, false);
}

/* --- snapshot ------------------------------------------------------------ */

void redis_creds_merge(struct redis_creds *cr, struct auth_store *st,
                       size_t *users, size_t *secrets)
{
	char why[AUTH_ERR_MAX];
	size_t nu = 0, ns = 0;

	*users = *secrets = 0;
	if (cr->next) /* the other realms, each into its own store */
		redis_creds_merge(cr->next, st, &nu, &ns);
	if (cr->realm != cr->r->cfg.realm &&
	    auth_store_add_realm(st, cr->realm, &st, why, sizeof(why)) != 0) {
		edge_warn("redis: realm %s: %s", cr->realm, why);
		return;
	}
	*users = nu;
	*secrets = ns;
	pthread_mutex_lock(&cr->mu);
	for (size_t i = 0; i < cr->users.n; i++) {
		int rc = auth_store_add_user(st, cr->users.v[i], why,
		                             sizeof(why));
		if (rc == 0)
			(*users)++;
		else if (rc != EEXIST) /* a config user of that name wins */
			edge_debug("redis: user skipped: %s", why);
	}
	for (size_t i = 0; i < cr->secrets.n; i++) {
		int rc = auth_store_add_secret(st, cr->secrets.v[i], why,
		                               sizeof(why));
		if (rc == 0)
			(*secrets)++;
		else
			edge_warn("redis: REST secret skipped: %s", why);
	}
	pthread_mutex_unlock(&cr->mu);
}

void redis_creds_each_user(struct redis_creds *cr,
                           void (*fn)(void *arg, const char *name, size_t len),
                           void *arg, size_t *nsecrets)
{
	pthread_mutex_lock(&cr->mu);
	for (size_t i = 0; fn && i < cr->users.n; i++) {
		const char *u = cr->users.v[i], *colon = strrchr(u, ':');
		fn(arg, u, colon ? (size_t)(colon - u) : strlen(u));
	}
	if (nsecrets)
		*nsecrets = cr->secrets.n;
	pthread_mutex_unlock(&cr->mu);
}

/* The reader of realm (realms[i] of the node, 0 the node's realm) and,
 * chained behind it, those of the realms after it. */
static int creds_new(struct redis_creds **out, struct edge_redis *r, size_t i)
{
	const char *realm = i ? r->cfg.realms[i] : r->cfg.realm;
	struct redis_creds *cr = calloc(1, sizeof(*cr));
	*out = NULL;
	if (!cr)
		return ENOMEM;
	cr->r = r;
	cr->realm = realm;
	pthread_mutex_init(&cr->mu, NULL);
	cluster_key(cr->secret_key, sizeof(cr->secret_key), CLUSTER_KEY_SECRETS,
	            realm);
	cluster_pattern(cr->user_pattern, sizeof(cr->user_pattern),
	                CLUSTER_PATTERN_USERS, realm);
	*out = cr;
	if (i + 1 < r->cfg.nrealms && creds_new(&cr->next, r, i + 1) != 0) {
		redis_creds_free(cr);
		*out = NULL;
		return ENOMEM;
	}
	return 0;
}

int redis_creds_new(struct redis_creds **out, struct edge_redis *r)
{
	return creds_new(out, r, 0);
}

void redis_creds_free(struct redis_creds *cr)
{
	if (!cr)
		return;
	redis_creds_free(cr->next);
	edge_strv_free(&cr->users);
	edge_strv_free(&cr->secrets);
	edge_strv_free(&cr->keys);
	edge_strv_free(&cr->new_users);
	edge_strv_free(&cr->new_secrets);
	pthread_mutex_destroy(&cr->mu);
	free(cr);
}
