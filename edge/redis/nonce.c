/*
 * edge/redis/nonce.c - one nonce key for the whole cluster, rotated.
 *
 * A draining node answers 300 Try Alternate; the client sends its next
 * Allocate to the alternate with the credentials and NONCE it has. Our
 * nonces are stateless (auth/nonce.c: a MAC under the node's key over the
 * client's address), so the alternate accepts that nonce only if it has
 * the same key; otherwise it answers 438, which browsers (Chromium's
 * TurnPort) treat as fatal on an Allocate. So the nodes share the key in
 * avedge/nonce-key, a string without TTL:
 *
 *   ID:CREATED:HEX[:PREV_ID:PREV_HEX]
 *
 * (ID 1..255, CREATED the unix second the key was made, HEX 64 hex
 * digits; the key it replaced after it). At start, before any worker
 * runs, the node does SET NX with a key of its own and installs whatever
 * GET then returns (blocking, bounded by redis-timeout, once; a node that
 * cannot reach Redis keeps its own key and says so). Then the control
 * thread reads it every quarter of nonce-key-rotation (0.5..30 s): once
 * the key is a period old, a node replaces it by the next id, a new
 * random key and the old one as previous, atomically (a script that
 * compares the value it read, so of several nodes one wins and the others
 * read the winner's). Every change read is handed to the daemon
 * (nonce_keys_changed), which installs both keys, the previous one good
 * through CREATED + nonce-key-rotation. A value of the old form ID:HEX
 * (no CREATED) is replaced at once, keeping it as the previous key.
 */
#include "auth/auth.h"
#include "edge/base/clock.h"
#include "edge/base/log.h"
#include "edge/redis/redis_int.h"

#include <hiredis/hiredis.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define HEX_LEN (2 * AUTH_NONCE_KEY_LEN)

/* --- the value ----------------------------------------------------------- */

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decimal digits at *s, 1..max, *s moved past them. */
static bool parse_num(const char **s, unsigned long long max,
                      unsigned long long *v)
{
	const char *p = *s;

	*v = 0;
	for (; *p >= '0' && *p <= '9' && p - *s < 20; p++)
		*v = *v * 10 + (unsigned long long)(*p - '0');
	if (p == *s || p - *s >= 20 || *v < 1 || *v > max)
		return false;
	*s = p;
	return true;
}

/* 64 hex digits at *s into b, *s moved past them. */
static bool parse_hex(const char **s, uint8_t *b)
{
	for (size_t i = 0; i < AUTH_NONCE_KEY_LEN; i++) {
		int hi = hexval((*s)[2 * i]);
		int lo = hi < 0 ? -1 : hexval((*s)[2 * i + 1]);
		if (lo < 0)
			return false;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	*s += HEX_LEN;
	return true;
}

static bool colon(const char **s)
{
	if (**s != ':')
		return false;
	(*s)++;
	return true;
}

/* The value into k and *created_s (0 for the old form ID:HEX). */
static bool parse_value(const char *s, struct edge_nonce_keys *k,
                        uint64_t *created_s)
{
	unsigned long long id, created = 0, pid;

	memset(k, 0, sizeof(*k));
	if (!parse_num(&s, 255, &id) || !colon(&s))
		return false;
	k->cur.id = (uint8_t)id;
	if (strlen(s) != HEX_LEN &&
	    (!parse_num(&s, UINT32_MAX, &created) || !colon(&s)))
		return false;
	if (!parse_hex(&s, k->cur.bytes))
		return false;
	*created_s = created;
	if (created && colon(&s)) {
		if (!parse_num(&s, 255, &pid) || pid == id || !colon(&s) ||
		    !parse_hex(&s, k->prev.bytes))
			return false;
		k->prev.id = (uint8_t)pid;
		k->has_prev = true;
	}
	return *s == '\0';
}

static void format_value(char *buf, size_t cap, uint64_t created_s,
                         const struct auth_nonce_key *cur,
                         const struct auth_nonce_key *prev)
{
	char hex[HEX_LEN + 1], phex[HEX_LEN + 1];

	to_hex(cur->bytes, AUTH_NONCE_KEY_LEN, hex);
	if (!prev) {
		snprintf(buf, cap, "%u:%llu:%s", (unsigned)cur->id,
		         (unsigned long long)created_s, hex);
		return;
	}
	to_hex(prev->bytes, AUTH_NONCE_KEY_LEN, phex);
	snprintf(buf, cap, "%u:%llu:%s:%u:%s", (unsigned)cur->id,
	         (unsigned long long)created_s, hex, (unsigned)prev->id, phex);
}

/* --- at start, blocking --------------------------------------------------- */

static bool cmd_ok(redisContext *c, redisReply **out, int argc,
                   const char **argv)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);

	if (!r || r->type == REDIS_REPLY_ERROR) {
		if (r)
			edge_warn("redis: nonce key: %s: %s", argv[0], r->str);
		freeReplyObject(r);
		return false;
	}
	if (out)
		*out = r;
	else
		freeReplyObject(r);
	return true;
}

static bool handshake(redisContext *c, const struct edge_redis_url *u)
{
	const char *argv[3];
	char db[16];
	int n = 0;

	if (u->password) {
		argv[n++] = "AUTH";
		if (u->user)
			argv[n++] = u->user;
		argv[n++] = u->password;
		if (!cmd_ok(c, NULL, n, argv))
			return false;
	}
	if (u->db) {
		snprintf(db, sizeof(db), "%u", (unsigned)u->db);
		argv[0] = "SELECT";
		argv[1] = db;
		if (!cmd_ok(c, NULL, 2, argv))
			return false;
	}
	return true;
}

/* Both keys of k into n, the previous one good for one period after
 * created_s. */
static int install(struct auth_nonces *n, const struct edge_nonce_keys *k)
{
	int rc =
	        auth_nonces_set_keys(n, &k->cur, k->has_prev ? &k->prev : NULL);

	if (rc == 0 && k->has_prev)
		auth_nonces_set_prev_until(n, k->prev_until_s);
	return rc;
}

bool redis_nonce_share(struct edge_redis *r, struct auth_nonces *n)
{
	const struct edge_redis_url *u = r->cfg.url;
	uint32_t ms = r->cfg.timeout_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	char mine[REDIS_NONCE_VALUE_MAX];
	struct auth_nonce_key own = {.id = 1};
	struct edge_nonce_keys k;
	uint64_t created;
	redisReply *rep = NULL;
	bool ok = false;

	if (RAND_bytes(own.bytes, sizeof(own.bytes)) != 1)
		return false;
	redisContext *c = redisConnectWithTimeout(u->host, u->port, tv);
	if (!c || c->err) {
		edge_warn("redis: nonce key not shared yet (%s): a client "
		          "sent here by another node's 300 gets a 438 first",
		          c ? c->errstr : "out of memory");
		redisFree(c);
		return false;
	}
	redisSetTimeout(c, tv);
	format_value(mine, sizeof(mine), edge_wall_ms() / 1000, &own, NULL);
	const char *set[] = {"SET", CLUSTER_NONCE_KEY, mine, "NX"};
	const char *get[] = {"GET", CLUSTER_NONCE_KEY};
	if (handshake(c, u) && cmd_ok(c, NULL, 4, set) &&
	    cmd_ok(c, &rep, 2, get) && rep->type == REDIS_REPLY_STRING &&
	    parse_value(rep->str, &k, &created)) {
		k.prev_until_s = created + r->nonce_period_s;
		ok = install(n, &k) == 0;
	}
	if (ok) {
		snprintf(r->nonce_last, sizeof(r->nonce_last), "%s", rep->str);
		edge_info("redis: nonce key %s (id %u): nonces are good on "
		          "every node",
		          strcmp(rep->str, mine) == 0 ? "published" : "adopted",
		          (unsigned)k.cur.id);
	} else {
		edge_warn("redis: nonce key not shared yet (%s): a client "
		          "sent here by another node's 300 gets a 438 first",
		          c->err ? c->errstr : "bad " CLUSTER_NONCE_KEY);
	}
	explicit_bzero(&k, sizeof(k));
	freeReplyObject(rep);
	redisFree(c);
	return ok;
}

/* --- on the control thread ------------------------------------------------ */

/* A value read (or written) in Redis: hand it to the daemon if it changed. */
static void adopt(struct edge_redis *r, const char *value)
{
	struct edge_nonce_keys k;
	uint64_t created;

	if (strcmp(value, r->nonce_last) == 0)
		return;
	if (!parse_value(value, &k, &created)) {
		edge_warn("redis: bad " CLUSTER_NONCE_KEY ": not installed");
		return;
	}
	k.prev_until_s = created + r->nonce_period_s;
	snprintf(r->nonce_last, sizeof(r->nonce_last), "%s", value);
	edge_info("redis: nonce key id %u installed", (unsigned)k.cur.id);
	if (r->nonce_keys_changed)
		r->nonce_keys_changed(r->creds_arg, &k);
	explicit_bzero(&k, sizeof(k));
}

static void on_rotated(struct rconn *c, struct redisReply *rep,
                       enum rc_status st, void *arg)
{
	(void)c;
	if (st == RC_OK && rep && rep->type == REDIS_REPLY_STRING)
		adopt(arg, rep->str);
}

/* Replace old (the value read; "" when there was none or it was bad) by a
 * new key with the next id, the current one kept as previous. */
static void rotate(struct edge_redis *r, const char *old,
                   const struct edge_nonce_keys *k, bool keep)
{
	struct auth_nonce_key key;
	char next[REDIS_NONCE_VALUE_MAX];

	key.id = keep ? auth_nonce_next_id(k->cur.id) : 1;
	if (RAND_bytes(key.bytes, sizeof(key.bytes)) != 1)
		return;
	format_value(next, sizeof(next), edge_wall_ms() / 1000, &key,
	             keep ? &k->cur : NULL);
	const char *argv[] = {CLUSTER_NONCE_KEY, old, next};
	size_t lens[] = {strlen(argv[0]), strlen(old), strlen(next)};
	rconn_script(r->ctl, &redis_script_nonce_rotate, on_rotated, r, 1, 3,
	             argv, lens);
	explicit_bzero(next, sizeof(next));
	explicit_bzero(&key, sizeof(key));
}

static void on_read(struct rconn *c, struct redisReply *rep, enum rc_status st,
                    void *arg)
{
	struct edge_redis *r = arg;
	struct edge_nonce_keys k;
	uint64_t created;

	(void)c;
	if (st != RC_OK || !rep)
		return;
	if (rep->type != REDIS_REPLY_STRING) /* gone (FLUSHALL): a new one */
		rotate(r, "", NULL, false);
	else if (!parse_value(rep->str, &k, &created))
		edge_warn("redis: bad " CLUSTER_NONCE_KEY ": left alone");
	else if (auth_nonce_rotation_due(created, r->nonce_period_s,
	                                 edge_wall_ms() / 1000))
		rotate(r, rep->str, &k, true);
	else
		adopt(r, rep->str);
	explicit_bzero(&k, sizeof(k));
}

void redis_nonce_poll(struct edge_redis *r)
{
	if (rconn_up(r->ctl))
		rconn_cmdv(r->ctl, on_read, r, 2, "GET", CLUSTER_NONCE_KEY);
}
