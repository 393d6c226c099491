/*
 * edge/redis/scripts.c - the Lua scripts the Redis sync runs (atomic on
 * the server) and their SHA1s for EVALSHA. Key layout: docs/cluster.md.
 *
 * Quota counters are hashes with one field per worker of each node,
 * "<node>/<worker>", so every worker can set its own count when it
 * reconciles, and a node's fields can be told apart: a field counts only
 * while its node's registry entry (avedge/node/<id>, expiring node-ttl
 * after the last heartbeat) exists; the take script deletes the fields of
 * dead nodes it meets, so their slots free within node-ttl.
 */
#include "edge/redis/redis_int.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* KEYS: user hash, total hash, turn/realm/R/user-quota, .../total-quota.
 * ARGV: field, user-quota, total-quota (config; the realm's keys win),
 * registry prefix, own node id. 1: taken; 0: user quota; -1: total. */
const struct rscript redis_script_quota_take = {
        .src = "local alive = {}\n"
               "alive[ARGV[5]] = true\n"
               "local function live(h)\n"
               "  local t = redis.call('HGETALL', h)\n"
               "  local n = 0\n"
               "  for i = 1, #t, 2 do\n"
               "    local node = string.match(t[i], '^(.*)/[0-9]+$')\n"
               "    if node and alive[node] == nil then\n"
               "      alive[node] = redis.call('EXISTS', ARGV[4] .. node) "
               "== 1\n"
               "    end\n"
               "    if node and alive[node] then\n"
               "      n = n + (tonumber(t[i + 1]) or 0)\n"
               "    else\n"
               "      redis.call('HDEL', h, t[i])\n"
               "    end\n"
               "  end\n"
               "  return n\n"
               "end\n"
               "local uq = tonumber(redis.call('GET', KEYS[3]) or ARGV[2]) "
               "or 0\n"
               "local tq = tonumber(redis.call('GET', KEYS[4]) or ARGV[3]) "
               "or 0\n"
               "local total = live(KEYS[2])\n"
               "local user = live(KEYS[1])\n"
               "if tq > 0 and total >= tq then return -1 end\n"
               "if uq > 0 and user >= uq then return 0 end\n"
               "redis.call('HINCRBY', KEYS[1], ARGV[1], 1)\n"
               "redis.call('HINCRBY', KEYS[2], ARGV[1], 1)\n"
               "return 1\n"};

/* KEYS: user hash, total hash. ARGV: field. A field at 0 goes. */
const struct rscript redis_script_quota_release = {
        .src = "for i = 1, 2 do\n"
               "  local v = redis.call('HINCRBY', KEYS[i], ARGV[1], -1)\n"
               "  if v <= 0 then redis.call('HDEL', KEYS[i], ARGV[1]) end\n"
               "end\n"
               "return 1\n"};

/* KEYS: record, the node's allocation set. ARGV: ttl ms, id, then field
 * and value pairs. */
const struct rscript redis_script_record_put = {
        .src = "redis.call('HSET', KEYS[1], unpack(ARGV, 3))\n"
               "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
               "redis.call('SADD', KEYS[2], ARGV[2])\n"
               "redis.call('PEXPIRE', KEYS[2], ARGV[1])\n"
               "return 1\n"};

/* KEYS: registry entry, avedge/nodes, the node's allocation set. ARGV:
 * ttl ms, node id, record prefix, then field and value pairs. Refreshes
 * the TTL of the entry and of every allocation record of the node. */
const struct rscript redis_script_beat = {
        .src = "redis.call('HSET', KEYS[1], unpack(ARGV, 4))\n"
               "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
               "redis.call('SADD', KEYS[2], ARGV[2])\n"
               "local m = redis.call('SMEMBERS', KEYS[3])\n"
               "for i = 1, #m do\n"
               "  if redis.call('PEXPIRE', ARGV[3] .. m[i], ARGV[1]) == 0 "
               "then\n"
               "    redis.call('SREM', KEYS[3], m[i])\n"
               "  end\n"
               "end\n"
               "if #m > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[1]) end\n"
               "return #m\n"};

/* KEYS: avedge/nodes. ARGV: registry prefix. Every live entry as a flat
 * field/value array; dead ids leave the set. */
const struct rscript redis_script_nodes = {
        .src = "local out = {}\n"
               "local m = redis.call('SMEMBERS', KEYS[1])\n"
               "for i = 1, #m do\n"
               "  local h = redis.call('HGETALL', ARGV[1] .. m[i])\n"
               "  if #h == 0 then redis.call('SREM', KEYS[1], m[i])\n"
               "  else out[#out + 1] = h end\n"
               "end\n"
               "return out\n"};

/* KEYS: avedge/nonce-key. ARGV: the value read ("": none), the value
 * that replaces it. Replaced only if it is still the one read (so of
 * several nodes rotating at once one wins); returns the value now there
 * (nil if none). */
const struct rscript redis_script_nonce_rotate = {
        .src = "local v = redis.call('GET', KEYS[1])\n"
               "if (v or '') == ARGV[1] then\n"
               "  redis.call('SET', KEYS[1], ARGV[2])\n"
               "  return ARGV[2]\n"
               "end\n"
               "return v\n"};

/* The SHA1 of each script, computed once (pthread_once) by whichever
 * thread first asks: the scripts are constants, their digests too once
 * made. */
static const struct rscript *const all[] = {
        &redis_script_quota_take, &redis_script_quota_release,
        &redis_script_record_put, &redis_script_beat,
        &redis_script_nodes,      &redis_script_nonce_rotate};
#define NSCRIPTS (sizeof(all) / sizeof(all[0]))
static char shas[NSCRIPTS][41];
static pthread_once_t shas_once = PTHREAD_ONCE_INIT;

static void make_shas(void)
{
	for (size_t k = 0; k < NSCRIPTS; k++) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;

		EVP_Digest(all[k]->src, strlen(all[k]->src), md, &n, EVP_sha1(),
		           NULL);
		for (unsigned i = 0; i < n && i < 20; i++)
			snprintf(shas[k] + 2 * i, 3, "%02x", md[i]);
	}
}

const char *redis_script_sha(const struct rscript *s)
{
	pthread_once(&shas_once, make_shas);
	for (size_t k = 0; k < NSCRIPTS; k++)
		if (all[k] == s)
			return shas[k];
	return ""; /* not one of ours: EVALSHA fails, EVAL follows */
}
