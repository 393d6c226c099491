/*
 * edge/redis/peer_ip.c - the peer lists of coturn's Redis layout, global
 * string keys holding one range each:
 *   turn/allowed-peer-ip/<id>   "172.17.13.133-172.17.14.56", "123::45",
 *   turn/denied-peer-ip/<id>    "10.0.0.0/8" (allowed-peer-ip's syntax)
 * A read runs on the control thread beside the user keys' (redis.c
 * creds_due: every 2 s, or at once on a keyspace event): SCAN MATCH then
 * MGET. Each value goes through the config file's range parser; a bad one
 * is skipped with one warning per key and value. When the valid ranges
 * differ from the last read they become the snapshot (under a mutex) and
 * the daemon is told: it rebuilds the node's peer policy (config ranges,
 * these, the protected endpoints) and swaps it into every worker. One
 * read at a time; a request while one runs starts another when it ends.
 */
#include "edge/base/log.h"
#include "edge/base/strv.h"
#include "edge/redis/redis_int.h"
#include "turn/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MGET_BATCH 200
#define SCAN_COUNT "1000"
#define RULES_MAX  10000
#define RULE_MAX   (2 * INET6_ADDRSTRLEN + 4) /* "D" "lo-hi" */

struct redis_peer_ip {
	struct edge_redis *r;
	pthread_mutex_t mu;
	struct edge_strv
	        rules; /* snapshot: "A<lo>-<hi>" / "D<lo>-<hi>", sorted */
	struct edge_strv warned; /* "key=value" of the bad values last read */
	/* the read in progress (control thread) */
	bool running, again;
	struct edge_strv keys, new_rules, new_warned;
	size_t mget_at;
};

/* --- one value ------------------------------------------------------------ */

/* "D" or "A" and the range as "lo-hi" into out, or false: not a range. */
static bool rule_of(bool deny, const char *v, size_t len, char *out, size_t cap)
{
	char buf[128], lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
	struct edge_ip_range r;

	while (len && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, v, len);
	buf[len] = 0;
	for (size_t i = 0, k = 0; i <= len; i++) { /* "a - b" as "a-b" */
		bool blank = buf[i] == ' ' || buf[i] == '\t';
		if (blank && (buf[i + 1] == '-' || buf[i + 1] == ' ' ||
		              (k && buf[k - 1] == '-')))
			continue;
		buf[k++] = buf[i];
	}
	if (!edge_ip_range_parse(buf, &r) ||
	    !inet_ntop(r.family, r.lo, lo, sizeof(lo)) ||
	    !inet_ntop(r.family, r.hi, hi, sizeof(hi)))
		return false;
	snprintf(out, cap, "%c%s-%s", deny ? 'D' : 'A', lo, hi);
	return true;
}

/* --- the read ------------------------------------------------------------- */

static void step_scan(struct redis_peer_ip *pi, const char *cursor);
static void step_mget(struct redis_peer_ip *pi);

static void finish(struct redis_peer_ip *pi, bool ok)
{
	bool changed = false;

	pi->running = false;
	if (ok) {
		edge_strv_sort(&pi->new_rules);
		pthread_mutex_lock(&pi->mu);
		changed = pi->new_rules.n != pi->rules.n;
		for (size_t i = 0; !changed && i < pi->rules.n; i++)
			changed =
			        strcmp(pi->rules.v[i], pi->new_rules.v[i]) != 0;
		if (changed) /* the first read too if it found some */
			edge_strv_swap(&pi->rules, &pi->new_rules);
		pthread_mutex_unlock(&pi->mu);
		edge_strv_swap(&pi->warned, &pi->new_warned);
	}
	edge_strv_clear(&pi->keys);
	edge_strv_clear(&pi->new_rules);
	edge_strv_clear(&pi->new_warned);
	if (changed) {
		edge_info("redis: peer lists changed: %zu ranges in Redis",
		          pi->rules.n);
		if (pi->r->peer_ips_changed)
			pi->r->peer_ips_changed(pi->r->creds_arg);
	}
	if (pi->again) {
		pi->again = false;
		redis_peer_ip_sync(pi);
	}
}

static bool reply_ok(struct redis_peer_ip *pi, struct redisReply *r,
                     enum rc_status st)
{
	if (st == RC_LATE)
		return false; /* the read already ended at the timeout */
	if (st == RC_OK && r && r->type == REDIS_REPLY_ARRAY)
		return true;
	if (st == RC_OK && r && r->type == REDIS_REPLY_ERROR)
		edge_warn("redis: reading peer lists: %s", r->str);
	finish(pi, false);
	return false;
}

static void value(struct redis_peer_ip *pi, const char *key,
                  const struct redisReply *v)
{
	bool deny = cluster_peer_ip_list(key) == CLUSTER_PEER_DENIED;
	char rule[RULE_MAX], seen[CLUSTER_KEY_MAX + 160];

	if (v->type == REDIS_REPLY_NIL)
		return; /* deleted since the SCAN */
	if (v->type == REDIS_REPLY_STRING &&
	    rule_of(deny, v->str, v->len, rule, sizeof(rule))) {
		if (pi->new_rules.n < RULES_MAX)
			edge_strv_add(&pi->new_rules, rule, strlen(rule));
		return;
	}
	snprintf(seen, sizeof(seen), "%s=%.*s", key,
	         v->type == REDIS_REPLY_STRING
	                 ? (int)(v->len > 128 ? 128 : v->len)
	                 : 0,
	         v->type == REDIS_REPLY_STRING ? v->str : "");
	if (!edge_strv_has(&pi->warned, seen))
		edge_warn("redis: %s: not an IP, IP/PREFIX or IP-IP: skipped",
		          seen);
	if (pi->new_warned.n < RULES_MAX)
		edge_strv_add(&pi->new_warned, seen, strlen(seen));
}

static void on_mget(struct rconn *c, struct redisReply *r, enum rc_status st,
                    void *arg)
{
	struct redis_peer_ip *pi = arg;
	size_t from = pi->mget_at;

	(void)c;
	if (!reply_ok(pi, r, st))
		return;
	for (size_t i = 0; i < r->elements && from + i < pi->keys.n; i++)
		value(pi, pi->keys.v[from + i], r->element[i]);
	pi->mget_at += MGET_BATCH;
	step_mget(pi);
}

static void step_mget(struct redis_peer_ip *pi)
{
	const char *argv[MGET_BATCH + 1];
	size_t lens[MGET_BATCH + 1], n;

	if (pi->mget_at >= pi->keys.n) {
		finish(pi, true);
		return;
	}
	n = pi->keys.n - pi->mget_at;
	if (n > MGET_BATCH)
		n = MGET_BATCH;
	argv[0] = "MGET";
	lens[0] = 4;
	for (size_t i = 0; i < n; i++) {
		argv[i + 1] = pi->keys.v[pi->mget_at + i];
		lens[i + 1] = strlen(argv[i + 1]);
	}
	if (rconn_cmd(pi->r->ctl, on_mget, pi, (int)n + 1, argv, lens) != 0)
		finish(pi, false);
}

static void on_scan(struct rconn *c, struct redisReply *r, enum rc_status st,
                    void *arg)
{
	struct redis_peer_ip *pi = arg;
	char cursor[32];

	(void)c;
	if (!reply_ok(pi, r, st))
		return;
	if (r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		finish(pi, false);
		return;
	}
	for (size_t i = 0; i < r->element[1]->elements; i++) {
		const struct redisReply *k = r->element[1]->element[i];
		/* the pattern also matches e.g. turn/realm/x/...-peer-ip/ */
		if (k->type == REDIS_REPLY_STRING && pi->keys.n < RULES_MAX &&
		    cluster_peer_ip_list(k->str) != CLUSTER_PEER_NONE)
			edge_strv_add(&pi->keys, k->str, k->len);
	}
	snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
	if (strcmp(cursor, "0") != 0) {
		step_scan(pi, cursor);
		return;
	}
	pi->mget_at = 0;
	step_mget(pi);
}

static void step_scan(struct redis_peer_ip *pi, const char *cursor)
{
	if (rconn_cmdv(pi->r->ctl, on_scan, pi, 6, "SCAN", cursor, "MATCH",
	               CLUSTER_PEER_IP_MATCH, "COUNT", SCAN_COUNT) != 0)
		finish(pi, false);
}

void redis_peer_ip_sync(struct redis_peer_ip *pi)
{
	if (pi->running) {
		pi->again = true;
		return;
	}
	if (!rconn_up(pi->r->ctl))
		return;
	pi->running = true;
	step_scan(pi, "0");
}

/* --- snapshot ------------------------------------------------------------- */

void edge_redis_policy_add(struct edge_redis *r, struct turn_policy *p,
                           size_t *allowed, size_t *denied)
{
	struct redis_peer_ip *pi = r ? r->peer_ip : NULL;

	*allowed = *denied = 0;
	if (!pi)
		return;
	pthread_mutex_lock(&pi->mu);
	for (size_t i = 0; i < pi->rules.n; i++) {
		const char *rule = pi->rules.v[i];
		bool deny = rule[0] == 'D';
		int rc = deny ? turn_policy_deny(p, rule + 1)
		              : turn_policy_allow(p, rule + 1);
		if (rc)
			edge_warn("redis: peer range %s: %s", rule + 1,
			          strerror(rc));
		else
			(*(deny ? denied : allowed))++;
	}
	pthread_mutex_unlock(&pi->mu);
}

int redis_peer_ip_new(struct redis_peer_ip **out, struct edge_redis *r)
{
	struct redis_peer_ip *pi = calloc(1, sizeof(*pi));

	*out = pi;
	if (!pi)
		return ENOMEM;
	pi->r = r;
	pthread_mutex_init(&pi->mu, NULL);
	return 0;
}

void redis_peer_ip_free(struct redis_peer_ip *pi)
{
	if (!pi)
		return;
	edge_strv_free(&pi->rules);
	edge_strv_free(&pi->warned);
	edge_strv_free(&pi->keys);
	edge_strv_free(&pi->new_rules);
	edge_strv_free(&pi->new_warned);
	pthread_mutex_destroy(&pi->mu);
	free(pi);
}
