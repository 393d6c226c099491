/*
 * edge/redis/nonce.c - one nonce key for the whole cluster.
 *
 * A draining node answers 300 Try Alternate; the client sends its next
 * Allocate to the alternate with the credentials and NONCE it has. Our
 * nonces are stateless (auth/nonce.c: a MAC under the node's key over the
 * client's address), so the alternate accepts that nonce only if it has
 * the same key; otherwise it answers 438, which browsers (Chromium's
 * TurnPort) treat as fatal on an Allocate. So the nodes share the key:
 * at start, before any worker runs, the node does SET avedge/nonce-key
 * NX with its own random key and adopts whatever GET then returns (the
 * first node's key). Blocking, bounded by redis-timeout, once; a node
 * that cannot reach Redis at start keeps its own key and says so. The
 * key has no TTL and is not rotated.
 */
#include "auth/auth.h"
#include "edge/base/log.h"
#include "edge/redis/redis_int.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

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

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* "ID:HEX" (id 1..255, 64 hex digits) into k; false if it is not one. */
static bool parse_key(const char *s, struct auth_nonce_key *k)
{
	char *end;
	long id = strtol(s, &end, 10);

	if (id < 1 || id > 255 || *end != ':' ||
	    strlen(end + 1) != 2 * AUTH_NONCE_KEY_LEN)
		return false;
	for (size_t i = 0; i < AUTH_NONCE_KEY_LEN; i++) {
		unsigned v;
		if (sscanf(end + 1 + 2 * i, "%2x", &v) != 1)
			return false;
		k->bytes[i] = (uint8_t)v;
	}
	k->id = (uint8_t)id;
	return true;
}

bool redis_nonce_share(const struct edge_redis_url *u, uint32_t timeout_ms,
                       struct auth_nonces *n, const struct auth_nonce_key *own)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	char mine[8 + 2 * AUTH_NONCE_KEY_LEN];
	struct auth_nonce_key k;
	redisReply *r = NULL;
	bool ok = false;

	redisContext *c = redisConnectWithTimeout(u->host, u->port, tv);
	if (!c || c->err) {
		edge_warn(
		        "redis: nonce key not shared (%s): a client sent here "
		        "by another node's 300 gets a 438 first",
		        c ? c->errstr : "out of memory");
		redisFree(c);
		return false;
	}
	redisSetTimeout(c, tv);
	snprintf(mine, sizeof(mine), "%u:", (unsigned)own->id);
	to_hex(own->bytes, AUTH_NONCE_KEY_LEN, mine + strlen(mine));
	const char *set[] = {"SET", CLUSTER_NONCE_KEY, mine, "NX"};
	const char *get[] = {"GET", CLUSTER_NONCE_KEY};
	if (handshake(c, u) && cmd_ok(c, NULL, 4, set) &&
	    cmd_ok(c, &r, 2, get) && r->type == REDIS_REPLY_STRING &&
	    parse_key(r->str, &k))
		ok = auth_nonces_set_keys(n, &k, NULL) == 0;
	if (ok)
		edge_info("redis: nonce key %s (id %u): nonces are good on "
		          "every node",
		          strcmp(r->str, mine) == 0 ? "published" : "adopted",
		          (unsigned)k.id);
	else
		edge_warn("redis: nonce key not shared (%s): a client sent "
		          "here by another node's 300 gets a 438 first",
		          c->err ? c->errstr : "bad " CLUSTER_NONCE_KEY);
	freeReplyObject(r);
	redisFree(c);
	return ok;
}
