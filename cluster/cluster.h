/*
 * cluster/cluster.h - the cluster layer's pure half, shared by the daemon
 * (edge/redis, edge/admin, edge/base) and edgectl: a text buffer, the one
 * JSON writer and the one JSON reader of the project (json.c). No sockets,
 * no clock, no libevent or hiredis types: replies come in as plain arrays
 * of strings, time as a parameter. Every function here is pure and
 * thread-safe on distinct objects. Files: json.c (buffer, writer,
 * reader), keys.c (key layout and patterns), rec.c (records read,
 * ids), encode.c (records and events written), nodes.c (the registry
 * read: alternates, other nodes' listeners), view.c (the cluster view's JSON:
 * nodes, allocations, totals), quota.c (quota decisions).
 */
#ifndef AVEDGE_CLUSTER_H
#define AVEDGE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- a text buffer (json.c) ---------------------------------------------- */
/* Either growing (cluster_buf_init: heap, cluster_buf_free) or fixed
 * (cluster_buf_fixed: the caller's array, never grown). p is always
 * NUL-terminated once anything was added. full: something did not fit
 * (fixed) or memory ran out (growing); what did not fit is left out
 * whole, never cut inside an escape. */
struct cluster_buf {
	char *p;
	size_t n, cap;
	bool fixed, full;
};

void cluster_buf_init(struct cluster_buf *b);
void cluster_buf_fixed(struct cluster_buf *b, char *p, size_t cap);
/* Free a growing buffer's text (fixed: nothing to free); b is empty. */
void cluster_buf_free(struct cluster_buf *b);
/* Add n bytes whole, or nothing (and set full). false: they did not fit. */
bool cluster_buf_add(struct cluster_buf *b, const char *s, size_t n);
bool cluster_buf_addstr(struct cluster_buf *b, const char *s);
__attribute__((format(printf, 2, 3))) bool
cluster_buf_printf(struct cluster_buf *b, const char *fmt, ...);

/* --- the JSON writer (json.c) --------------------------------------------
 * Hand-written on purpose: the admin API's answers and the JSON log lines
 * are pinned byte for byte (tests/integration/test_golden.py: floats as
 * "%.3f", key order, no spaces), which a library writer such as jansson
 * would not reproduce. Callers write the structure with cluster_buf_printf
 * and every string from outside through cluster_json_quote. */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if none
 * (overlong forms, surrogates and code points above U+10FFFF are not
 * valid). */
size_t cluster_utf8_len(const unsigned char *s, size_t n);

enum cluster_json_flags {
	/* also \u escapes for < > & (text a browser may see) */
	CLUSTER_JSON_HTML = 1,
};
/* s as a JSON string literal (quotes included; NULL: null): '"' and '\\'
 * escaped, control bytes and DEL as \u00XX, valid UTF-8 copied, any other
 * byte as \ufffd. In a fixed buffer the literal is cut short (and full
 * set) rather than left open: the closing quote always fits if the
 * opening one did. false: something was left out. */
bool cluster_json_quote(struct cluster_buf *b, const char *s, unsigned flags);

/* --- the JSON reader (json.c) --------------------------------------------
 * RFC 8259 into a tree; strings decoded to UTF-8 (\u escapes and surrogate
 * pairs; a lone surrogate becomes U+FFFD), numbers kept as text and as a
 * double. Depth is limited (CLUSTER_JSON_DEPTH_MAX) so hostile input
 * cannot exhaust the stack. Used for the admin API's request bodies and
 * for edgectl's reading of the admin API's answers. */
#define CLUSTER_JSON_DEPTH_MAX 64

enum cluster_jtype {
	CLUSTER_JNULL,
	CLUSTER_JBOOL,
	CLUSTER_JNUM,
	CLUSTER_JSTR,
	CLUSTER_JARR,
	CLUSTER_JOBJ,
};

struct cluster_json {
	enum cluster_jtype type;
	bool b;
	double num;
	char *s;    /* JSTR: decoded UTF-8; JNUM: the number's text */
	size_t len; /* JSTR, JNUM: bytes of s (a string may hold NUL) */
	size_t n;   /* JARR, JOBJ: items */
	struct cluster_json *items;
	char **keys; /* JOBJ: n keys, decoded */
};

/* Parse text[0..len): one value, white space around it. 0, EBADMSG or
 * ENOMEM; *out owned by the caller (cluster_json_free). */
int cluster_json_parse(const char *text, size_t len, struct cluster_json **out);
/* NULL is fine. */
void cluster_json_free(struct cluster_json *v);
/* The same, first overwriting every string and key with zeros (a body
 * that held a password). */
void cluster_json_free_wipe(struct cluster_json *v);
/* Member of an object (the first of that key), NULL if v is not an
 * object or has no such key. */
const struct cluster_json *cluster_json_get(const struct cluster_json *v,
                                            const char *key);
/* The string, or NULL if v is not a string. */
const char *cluster_json_string(const struct cluster_json *v);
/* The number, or def if v is not a number. */
double cluster_json_number(const struct cluster_json *v, double def);

/* A flat object of strings (an admin API request body): every key one of
 * f[0..nf)'s, at most once; every value a string of at most max_len
 * bytes without NUL. Sets each f[i].val (a NUL-terminated copy) and
 * len; an absent key leaves val NULL. 0, EBADMSG (anything else) or
 * ENOMEM; on an error every val is NULL again. Free with
 * cluster_json_fields_free, which wipes the values (passwords). */
struct cluster_json_field {
	const char *key;
	char *val;
	size_t len;
};
int cluster_json_fields(const char *text, size_t len,
                        struct cluster_json_field *f, size_t nf,
                        size_t max_len);
void cluster_json_fields_free(struct cluster_json_field *f, size_t nf);

/* --- the Redis key layout (keys.c, docs/cluster.md) ---------------------- */
/* avedge's own keys */
#define CLUSTER_NODES_SET  "avedge/nodes"  /* set of node ids */
#define CLUSTER_NODE_PFX   "avedge/node/"  /* + id: registry hash */
#define CLUSTER_ALLOCS_SFX "/allocs"       /* node key + this: alloc ids */
#define CLUSTER_ALLOC_PFX  "avedge/alloc/" /* + alloc id: record hash */
#define CLUSTER_QUOTA_PFX  "avedge/quota/" /* + realm/user: counters */
#define CLUSTER_EVENTS     "avedge/events" /* channel of JSON events */
#define CLUSTER_NONCE_KEY  "avedge/nonce-key"
/* coturn's keys (read, and written by the admin API) */
#define CLUSTER_REALM_PFX "turn/realm/" /* + realm + /secret, /user/<n>/key */
#define CLUSTER_ALLOW_PFX "turn/allowed-peer-ip/" /* + id */
#define CLUSTER_DENY_PFX  "turn/denied-peer-ip/"  /* + id */
/* SCAN pattern (and keyspace-notification pattern) of the peer lists; it
 * also matches keys that are not peer lists (cluster_peer_ip_list). */
#define CLUSTER_PEER_IP_MATCH "turn/*-peer-ip/*"
/* Room for any key: a realm (763) + a quota key (512) + a prefix. */
#define CLUSTER_KEY_MAX 1400

/* The key of kind for name (a node id, an allocation id, a realm) into
 * buf. 0, or ENOSPC when it does not fit (buf then holds ""). */
enum cluster_key_kind {
	CLUSTER_KEY_NODE,              /* avedge/node/<node id> */
	CLUSTER_KEY_NODE_ALLOCS,       /* avedge/node/<node id>/allocs */
	CLUSTER_KEY_ALLOC,             /* avedge/alloc/<alloc id> */
	CLUSTER_KEY_SECRETS,           /* turn/realm/<realm>/secret */
	CLUSTER_KEY_QUOTA_TOTAL,       /* avedge/quota/<realm>/total */
	CLUSTER_KEY_REALM_USER_QUOTA,  /* turn/realm/<realm>/user-quota */
	CLUSTER_KEY_REALM_TOTAL_QUOTA, /* turn/realm/<realm>/total-quota */
};
int cluster_key(char *buf, size_t cap, enum cluster_key_kind kind,
                const char *name);
/* turn/realm/<realm>/user/<user>/key, as coturn keeps a user's MD5 key. */
int cluster_key_user(char *buf, size_t cap, const char *realm,
                     const char *user);
/* avedge/quota/<realm>/user/<qkey>: the slots held for one quota key. */
int cluster_key_quota_user(char *buf, size_t cap, const char *realm,
                           const char *qkey);
/* The user name inside a user key of realm (key of klen bytes, as
 * cluster_key_user writes it): true with its offset and length (possibly
 * 0); false: not a user key of that realm. */
bool cluster_key_user_name(const char *key, size_t klen, const char *realm,
                           size_t *off, size_t *nlen);

/* Which peer list a key found by CLUSTER_PEER_IP_MATCH belongs to. */
enum cluster_peer_list {
	CLUSTER_PEER_NONE,    /* not a peer list key */
	CLUSTER_PEER_ALLOWED, /* turn/allowed-peer-ip/... */
	CLUSTER_PEER_DENIED,  /* turn/denied-peer-ip/... */
};
enum cluster_peer_list cluster_peer_ip_list(const char *key);

/* s with the glob specials *?[]\ escaped by a backslash, into out (cut
 * short, never inside an escape, when it does not fit). */
void cluster_glob_escape(char *out, size_t cap, const char *s);
/* The SCAN / PSUBSCRIBE pattern of kind for a realm (glob-escaped). 0 or
 * ENOSPC (buf then holds ""). */
enum cluster_pattern_kind {
	CLUSTER_PATTERN_USERS, /* turn/realm/<realm>/user/<any>/key */
	CLUSTER_PATTERN_REALM, /* turn/realm/<realm>/<anything> */
};
int cluster_pattern(char *buf, size_t cap, enum cluster_pattern_kind kind,
                    const char *realm);
/* __keyspace@<db>__:<pattern>, the channel pattern of the keyspace
 * notifications of the keys pattern matches. 0 or ENOSPC. */
int cluster_keyspace_pattern(char *buf, size_t cap, unsigned db,
                             const char *pattern);

/* An allocation id "<node id>-<worker>-<serial>" (cluster_alloc_id_parse
 * reads it back). 0 or ENOSPC. */
int cluster_alloc_id_format(char *buf, size_t cap, const char *node_id,
                            unsigned worker, unsigned long long serial);
/* "<node id>/<worker>": the field a worker owns in each quota hash. 0 or
 * ENOSPC. */
int cluster_quota_field(char *buf, size_t cap, const char *node_id, int worker);

/* --- records (rec.c) ------------------------------------------------------ */
/* One hash read from Redis: the set member it was found by (a node id or
 * an allocation id) and its n field/value pairs (kv[2i], kv[2i+1]);
 * n == 0: the hash is gone (expired). Owns its strings. */
struct cluster_rec {
	char *id;
	size_t n;
	char **kv;
};
/* v[0..n): what was asked for (one page of allocations); total: how many
 * matched in all. */
struct cluster_recs {
	size_t n, total;
	struct cluster_rec *v;
};

/* A flat HGETALL reply (field, value, field, value ...: nv strings of
 * lens[i] bytes; v[i] NULL for an element that was not a string, read as
 * "") into rec, id copied; an odd last element is ignored. Embedded NULs
 * cut a string short. 0 or ENOMEM (rec is then safe to clear). */
int cluster_rec_decode(struct cluster_rec *rec, const char *id,
                       const char *const *v, const size_t *lens, size_t nv);
void cluster_rec_clear(struct cluster_rec *rec);
void cluster_recs_free(struct cluster_recs *recs); /* NULL is fine */
/* The value of field in rec (the first), or NULL. */
const char *cluster_rec_get(const struct cluster_rec *rec, const char *field);
/* A decimal field (digits only, no sign, no blank): true with *out. */
bool cluster_rec_u64(const struct cluster_rec *rec, const char *field,
                     unsigned long long *out);
/* The same, 0 when missing or not a number. */
unsigned long long cluster_rec_u64_or0(const struct cluster_rec *rec,
                                       const char *field);
/* A registry entry's draining field: set and not "0". */
bool cluster_rec_draining(const struct cluster_rec *rec);

/* --- ids (rec.c) ---------------------------------------------------------- */
/* An allocation id is "<node id>-<worker>-<serial>" (node ids may hold
 * '-', so it is read from the end). node_len 0: not of that form; such ids
 * sort as strings, before or after by strcmp. */
struct cluster_alloc_id {
	const char *id; /* borrowed */
	size_t node_len;
	unsigned long long worker, serial;
};
void cluster_alloc_id_parse(struct cluster_alloc_id *a, const char *id);
/* Order: node id, then worker and serial as numbers, then the text. */
int cluster_alloc_id_cmp(const struct cluster_alloc_id *a,
                         const struct cluster_alloc_id *b);
/* A node id from a host name: [A-Za-z0-9._-] kept, at most max bytes,
 * "avedge" when nothing is left. */
void cluster_node_id_from_host(const char *host, char *buf, size_t cap,
                               size_t max);

/* --- the cluster view's JSON (view.c) ------------------------------------
 * The shapes of docs/admin.md (NODE, ALLOCATION, cluster totals), written
 * from records other nodes wrote: strings quoted, numbers parsed and
 * printed again, never copied. The caller writes the head of the object
 * ({"scope":"cluster",... and a comma); these write the rest, "]}\n"
 * included. */
struct cluster_view_opts {
	const char *self_id;  /* nodes get "self":true|false; NULL: no "self" */
	unsigned quote_flags; /* for cluster_json_quote */
	bool updated_null;    /* allocations: "updated":null when missing */
};
/* "count":N,"alive":N,"nodes":[NODE...]}\n; now_ms: wall clock. */
void cluster_view_nodes(struct cluster_buf *b, const struct cluster_rec *v,
                        size_t n, const struct cluster_view_opts *o,
                        uint64_t now_ms);
/* "nodes":N,...,"relayed":{...},"redis":"up","per_node":[NODE...]}\n:
 * totals over the live entries (as of each node's last heartbeat). */
void cluster_view_stats(struct cluster_buf *b, const struct cluster_rec *v,
                        size_t n, const struct cluster_view_opts *o,
                        uint64_t now_ms);
/* "total":N,"offset":N,"limit":N,"allocations":[ALLOCATION...]}\n;
 * records that are gone (n == 0) are left out. now_s: wall clock. */
void cluster_view_allocs(struct cluster_buf *b, const struct cluster_rec *v,
                         size_t n, size_t total, size_t offset, size_t limit,
                         const struct cluster_view_opts *o, uint64_t now_s);

/* --- records and events written (encode.c) --------------------------------
 * What this node writes to Redis, from plain structs: the field/value
 * strings of a hash (an allocation record, the node's registry entry),
 * which cluster_rec_decode reads back on any node, and the JSON events
 * published on CLUSTER_EVENTS. The bytes are pinned
 * (tests/integration/test_golden.py, docs/cluster.md): field order and
 * names, numbers in decimal, strings copied as they are. */
#define CLUSTER_FIELDS_MAX 32
/* kv[2i], kv[2i+1]: n field/value pairs, ready for a command's argv.
 * Names are static; values borrowed from the struct encoded (valid while
 * it is) or held in num[] of this very object: do not copy it. */
struct cluster_fields {
	size_t n;
	const char *kv[2 * CLUSTER_FIELDS_MAX];
	char num[CLUSTER_FIELDS_MAX][24];
};

/* One allocation as its record and events say it (docs/cluster.md);
 * strings borrowed, "" for none (an address of no family). */
struct cluster_alloc_rec {
	const char *id;   /* cluster_alloc_id_format */
	const char *node; /* node id */
	unsigned worker;
	const char *realm, *user;
	const char *transport;      /* "udp", "tcp", "tls", "dtls" */
	const char *client;         /* "ip:port" */
	const char *relay, *relay2; /* "ip:port" of each family, or "" */
	uint64_t created_s, lifetime_s, expires_s; /* wall clock, seconds */
	uint64_t permissions, channels;
	uint64_t to_peer_packets, to_peer_bytes;
	uint64_t to_client_packets, to_client_bytes;
	uint64_t updated_s; /* wall clock */
};
/* The 19 fields of avedge/alloc/<id>. */
void cluster_alloc_encode(struct cluster_fields *f,
                          const struct cluster_alloc_rec *a);

/* The node's registry entry, avedge/node/<id>; strings borrowed. */
struct cluster_node_rec {
	const char *id;
	const char *listen4, *listen6; /* where clients reach it, or "" */
	const char *relay4, *relay6;   /* relay addresses, or "" */
	unsigned tls_port, dtls_port;  /* 0: none */
	const char *domain;            /* node-domain, or "" */
	const char *endpoints;         /* every listening "ip:port", blanks */
	uint64_t allocations, max_allocations;
	bool draining;
	uint64_t workers;
	const char *version;
	uint64_t started_ms, updated_ms; /* wall clock */
	/* counters summed over the workers, for the cluster totals */
	uint64_t allocations_created, permissions, channels, auth_failures;
	uint64_t to_peer_packets, to_peer_bytes;
	uint64_t to_client_packets, to_client_bytes;
	/* active RTP flows by quality band: good, fair, poor, bad
	 * (turn/media.h; docs/media-quality.md) */
	uint64_t media[4];
};
/* The 28 fields of the registry entry (media_good .. media_bad last;
 * records of older builds lack them: the view shows "media":null). */
void cluster_node_encode(struct cluster_fields *f,
                         const struct cluster_node_rec *n);

/* {"event":"allocation.<event>",...,"ts":N} for event "created",
 * "refreshed" or "deleted", appended to b; node, id, transport, client
 * and relay are written as they are (they are ours), realm, user and
 * reason (NULL: "") quoted and cut short at 799, 599 and 127 bytes of
 * literal. ts_s: wall clock. false: b is full. */
bool cluster_event_alloc(struct cluster_buf *b, const char *event,
                         const struct cluster_alloc_rec *a, const char *reason,
                         uint64_t ts_s);
/* {"event":"auth.failure","node":...,"worker":N,"detail":"...","ts":N}
 * for a log line of the core (len bytes) that starts "auth failure: ":
 * detail is the rest of the line's first 1023 bytes (up to a NUL),
 * quoted and cut short at 1099 bytes of literal. false: not such a line
 * (b untouched), or b is full. */
bool cluster_event_auth_failure(struct cluster_buf *b, const char *node,
                                int worker, const char *line, size_t len,
                                uint64_t ts_s);

/* --- the registry as other nodes wrote it (nodes.c) ------------------------
 * The nodes script's reply (the live registry entries, docs/cluster.md) as
 * records (cluster_rec_decode, one per entry; an entry that was not a hash
 * has n == 0): which node takes a 300 Try Alternate, and which addresses
 * are other nodes' listeners. */
/* The chosen entry's fields, borrowed from its record ("" when missing);
 * id NULL: no node fits. */
struct cluster_alternate {
	const char *id;
	const char *v4, *v6;    /* listen4, listen6: "ip:port" or "" */
	const char *tls, *dtls; /* tls_port, dtls_port as written */
	const char *domain;
};
/* The least-loaded other node that can take allocations: an id that is
 * not self_id, not draining (a draining field other than "" and "0"),
 * below its max_allocations (0: no limit); the fewest allocations, ties
 * to the smaller id. */
void cluster_alternate_pick(const struct cluster_rec *v, size_t n,
                            const char *self_id, struct cluster_alternate *out);
/* A port field ("5349"): its value, 0 when above 65535 or not a number
 * (leading digits count, as strtoul reads them). */
uint16_t cluster_port_of(const char *s);

/* The endpoints fields of every entry but self_id's (and those without an
 * id or endpoints), each followed by one blank, in one string (the caller
 * frees it); NULL: out of memory. */
char *cluster_peer_endpoints(const struct cluster_rec *v, size_t n,
                             const char *self_id);
/* The next "ip:port" of a blank-separated list at *s: true with its start
 * and length, *s moved past it; false at the end. */
bool cluster_endpoint_next(const char **s, const char **tok, size_t *len);
/* "ip:port" or "[ip6]:port" (len bytes) split at its last colon: the
 * address text into ip (cap bytes, NUL-terminated; at most 63) and the
 * port (1..65535; leading digits count, as strtol reads them). false: not
 * of that form. The address itself is not checked. */
bool cluster_endpoint_split(const char *s, size_t len, char *ip, size_t cap,
                            uint16_t *port);

/* --- quota decisions (quota.c) --------------------------------------------
 * A worker owns one field per quota hash (docs/cluster.md); these say what
 * it does with a reply of the take script and in each reconcile round, so
 * edge/redis/worker.c only sends what they decide. */
enum cluster_quota_answer {
	CLUSTER_QUOTA_NONE,    /* no answer to give (late reply) */
	CLUSTER_QUOTA_GRANTED, /* a slot taken in Redis */
	CLUSTER_QUOTA_DENIED,  /* the user or total quota is full */
	CLUSTER_QUOTA_LOCAL,   /* no usable answer: the node decides alone */
};
/* The take script's reply as plain data. */
enum cluster_reply_kind {
	CLUSTER_REPLY_NONE,    /* timed out, or the connection went */
	CLUSTER_REPLY_INTEGER, /* integer: 1 taken, 0 or -1 full */
	CLUSTER_REPLY_ERROR,
	CLUSTER_REPLY_OTHER,
};
struct cluster_quota_step {
	enum cluster_quota_answer answer;
	bool hold;    /* count one more slot held in Redis */
	bool release; /* give back the slot the script took (late grant) */
};
/* timed_out: the first call at the timeout (the reply may come later);
 * answered: the Allocate was already answered (LOCAL at the timeout). */
struct cluster_quota_step cluster_quota_on_reply(bool timed_out, bool answered,
                                                 enum cluster_reply_kind kind,
                                                 long long integer);

enum cluster_quota_write {
	CLUSTER_QUOTA_KEEP, /* the field is right (or a check is in flight) */
	CLUSTER_QUOTA_SET,  /* HSET the field to live */
	CLUSTER_QUOTA_DEL,  /* HDEL the field (live is 0) */
};
struct cluster_quota_fix {
	enum cluster_quota_write write;
	uint32_t held; /* what the worker holds afterwards */
	bool drop;     /* the entry can be forgotten */
};
/* One entry of a reconcile round: held in Redis, live counted in the
 * core, inflight checks unanswered; synced: the field was written since
 * the connection came up (else it is written even when held == live). */
struct cluster_quota_fix cluster_quota_reconcile(bool synced, uint32_t inflight,
                                                 uint32_t held, uint32_t live);

#endif
