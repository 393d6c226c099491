/*
 * cluster/encode.c - what a node writes to Redis (docs/cluster.md): an
 * allocation record's and the registry entry's field/value strings, and
 * the JSON events published on avedge/events. Pure: plain structs in,
 * strings out; edge/redis sends them. The bytes are pinned by
 * tests/integration/test_golden.py (events) and read back by
 * cluster_rec_decode (tests/unit/test_cluster_encode.c).
 */
#include "cluster/cluster.h"

#include <stdio.h>
#include <string.h>

/* the cuts of the quoted strings of the events (bytes, NUL included) */
#define REALM_CUT  800
#define USER_CUT   600
#define REASON_CUT 128
#define TEXT_MAX   1024 /* an auth failure's text, NUL included */
#define DETAIL_CUT 1100

/* --- field/value strings -------------------------------------------------- */

static void put(struct cluster_fields *f, const char *name, const char *val)
{
	if (f->n >= CLUSTER_FIELDS_MAX)
		return;
	f->kv[2 * f->n] = name;
	f->kv[2 * f->n + 1] = val ? val : "";
	f->n++;
}

static void put_u64(struct cluster_fields *f, const char *name, uint64_t v)
{
	if (f->n >= CLUSTER_FIELDS_MAX)
		return;
	snprintf(f->num[f->n], sizeof(f->num[f->n]), "%llu",
	         (unsigned long long)v);
	put(f, name, f->num[f->n]);
}

void cluster_alloc_encode(struct cluster_fields *f,
                          const struct cluster_alloc_rec *a)
{
	f->n = 0;
	put(f, "id", a->id);
	put(f, "node", a->node);
	put_u64(f, "worker", a->worker);
	put(f, "realm", a->realm);
	put(f, "user", a->user);
	put(f, "transport", a->transport);
	put(f, "client", a->client);
	put(f, "relay", a->relay);
	put(f, "relay2", a->relay2);
	put_u64(f, "created", a->created_s);
	put_u64(f, "lifetime", a->lifetime_s);
	put_u64(f, "expires", a->expires_s);
	put_u64(f, "permissions", a->permissions);
	put_u64(f, "channels", a->channels);
	put_u64(f, "to_peer_packets", a->to_peer_packets);
	put_u64(f, "to_peer_bytes", a->to_peer_bytes);
	put_u64(f, "to_client_packets", a->to_client_packets);
	put_u64(f, "to_client_bytes", a->to_client_bytes);
	put_u64(f, "updated", a->updated_s);
}

void cluster_node_encode(struct cluster_fields *f,
                         const struct cluster_node_rec *n)
{
	f->n = 0;
	put(f, "id", n->id);
	put(f, "listen4", n->listen4);
	put(f, "listen6", n->listen6);
	put(f, "relay4", n->relay4);
	put(f, "relay6", n->relay6);
	put_u64(f, "tls_port", n->tls_port);
	put_u64(f, "dtls_port", n->dtls_port);
	put(f, "domain", n->domain);
	put(f, "endpoints", n->endpoints);
	put_u64(f, "allocations", n->allocations);
	put_u64(f, "max_allocations", n->max_allocations);
	put(f, "draining", n->draining ? "1" : "0");
	put_u64(f, "workers", n->workers);
	put(f, "version", n->version);
	put_u64(f, "started", n->started_ms);
	put_u64(f, "updated", n->updated_ms);
	put_u64(f, "allocations_created", n->allocations_created);
	put_u64(f, "permissions", n->permissions);
	put_u64(f, "channels", n->channels);
	put_u64(f, "auth_failures", n->auth_failures);
	put_u64(f, "to_peer_packets", n->to_peer_packets);
	put_u64(f, "to_peer_bytes", n->to_peer_bytes);
	put_u64(f, "to_client_packets", n->to_client_packets);
	put_u64(f, "to_client_bytes", n->to_client_bytes);
	put_u64(f, "media_good", n->media[0]);
	put_u64(f, "media_fair", n->media[1]);
	put_u64(f, "media_poor", n->media[2]);
	put_u64(f, "media_bad", n->media[3]);
}

/* --- events ----------------------------------------------------------------
 */

/* s as a JSON string literal of at most cap - 1 bytes (cut short, never
 * left open), appended to b. */
static void quote_cut(struct cluster_buf *b, const char *s, size_t cap)
{
	char tmp[DETAIL_CUT];
	struct cluster_buf t;

	cluster_buf_fixed(&t, tmp, cap < sizeof(tmp) ? cap : sizeof(tmp));
	cluster_json_quote(&t, s, 0);
	cluster_buf_add(b, t.p, t.n);
}

bool cluster_event_alloc(struct cluster_buf *b, const char *event,
                         const struct cluster_alloc_rec *a, const char *reason,
                         uint64_t ts_s)
{
	cluster_buf_printf(b,
	                   "{\"event\":\"allocation.%s\",\"node\":\"%s\","
	                   "\"id\":\"%s\",\"realm\":",
	                   event, a->node, a->id);
	quote_cut(b, a->realm ? a->realm : "", REALM_CUT);
	cluster_buf_addstr(b, ",\"user\":");
	quote_cut(b, a->user ? a->user : "", USER_CUT);
	cluster_buf_printf(b,
	                   ",\"transport\":\"%s\",\"client\":\"%s\","
	                   "\"relay\":\"%s\",\"lifetime\":%u,\"expires\":%llu,"
	                   "\"reason\":",
	                   a->transport, a->client, a->relay,
	                   (unsigned)a->lifetime_s,
	                   (unsigned long long)a->expires_s);
	quote_cut(b, reason ? reason : "", REASON_CUT);
	cluster_buf_printf(b, ",\"ts\":%llu}", (unsigned long long)ts_s);
	return !b->full;
}

bool cluster_event_auth_failure(struct cluster_buf *b, const char *node,
                                int worker, const char *line, size_t len,
                                uint64_t ts_s)
{
	static const char tag[] = "auth failure: ";
	char text[TEXT_MAX];

	if (len < sizeof(tag) - 1 || memcmp(line, tag, sizeof(tag) - 1) != 0)
		return false;
	snprintf(text, sizeof(text), "%.*s", (int)len, line);
	cluster_buf_printf(b,
	                   "{\"event\":\"auth.failure\",\"node\":\"%s\","
	                   "\"worker\":%d,\"detail\":",
	                   node, worker);
	quote_cut(b, text + sizeof(tag) - 1, DETAIL_CUT);
	cluster_buf_printf(b, ",\"ts\":%llu}", (unsigned long long)ts_s);
	return !b->full;
}
