/*
 * turn/turn_int.h - internals shared by the files of the TURN server core
 * (server.c dispatch and auth, alloc.c, perm.c, chan.c, data.c, table.c).
 * Not a public interface: edge/ uses turn/turn.h only.
 *
 * Ownership: the server owns every allocation; an allocation owns its
 * permissions, channels and pending Allocate state. Objects sit in
 * server-wide intrusive hash tables (so a lookup is one hash, no
 * per-allocation bucket arrays) and on the server's timer wheel. A freed
 * allocation goes to a graveyard freed at the start of the next public call
 * (actions may point at its tuple or be its OPEN_RELAY owner until then).
 * Pure: time comes in as now_ms / now_s.
 */
#ifndef AVEDGE_TURN_INT_H
#define AVEDGE_TURN_INT_H

#include "auth/auth.h"
#include "turn/bw.h"
#include "turn/policy.h"
#include "turn/ports.h"
#include "turn/rtpq.h"
#include "turn/turn.h"
#include "turn/wheel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- table.c: intrusive chained hash tables and a keyed hash ---------- */

struct turn_hnode {
	struct turn_hnode *next;
	uint64_t hash;
};

struct turn_htab {
	struct turn_hnode **b;
	size_t mask; /* buckets - 1 */
	size_t n;
};

int turn_htab_init(struct turn_htab *t, size_t nbuckets);
void turn_htab_destroy(struct turn_htab *t);
/* Insert (grows the bucket array when full; if that fails the table just
 * gets longer chains). */
void turn_htab_insert(struct turn_htab *t, struct turn_hnode *n, uint64_t hash);
void turn_htab_remove(struct turn_htab *t, struct turn_hnode *n);
static inline struct turn_hnode *turn_htab_head(const struct turn_htab *t,
                                                uint64_t hash)
{
	return t->b[hash & t->mask];
}

#define TURN_CONTAINER(ptr, type, member)                                      \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Keyed hash of len bytes (seeded per server: chains cannot be aimed). */
uint64_t turn_hash(const uint64_t key[2], const void *data, size_t len);

/* An IP address (and port) in a fixed, comparable form. */
struct turn_ipkey {
	uint8_t ip[16]; /* IPv4 in the first 4 bytes, rest zero */
	uint16_t port;  /* host order; 0 when keyed by IP only */
	uint8_t family; /* AF_INET / AF_INET6 */
	uint8_t pad;
};
/* Fill k from an AF_INET/AF_INET6 address; false for another family. */
bool turn_ipkey_set(struct turn_ipkey *k, const struct sockaddr *sa,
                    bool with_port);
bool turn_addr_equal(const union turn_addr *a, const union turn_addr *b);
bool turn_tuple_equal(const struct turn_tuple *a, const struct turn_tuple *b);
uint64_t turn_tuple_hash(const uint64_t key[2], const struct turn_tuple *t);
/* Copy an address of family AF_INET/AF_INET6 (zeroing the rest). */
void turn_addr_copy(union turn_addr *dst, const struct sockaddr *src);
/* "1.2.3.4:5" / "[::1]:5" into buf. */
/* authlog.c: one log line per authentication failure, at most
 * TURN_AUTHLOG_PER_S per second per worker (burst TURN_AUTHLOG_BURST);
 * the lines held back are counted in the next line that goes out. */
#define TURN_AUTHLOG_PER_S 10
#define TURN_AUTHLOG_BURST 20
void turn_auth_log(struct turn_server *s, const char *reason, const char *user,
                   size_t user_len, const union turn_addr *client);
void turn_addr_str(const union turn_addr *a, char *buf, size_t cap);

/* --- objects ------------------------------------------------------------ */

enum { ALLOC_PENDING = 0, ALLOC_ACTIVE, ALLOC_DEAD };

/* A relay socket of an allocation. */
struct turn_relay {
	void *handle;     /* the edge's, NULL until bound */
	uint16_t port;    /* 0: none taken */
	uint8_t ip_index; /* into cfg.relay_ips */
	uint8_t family;   /* 4 or 6; 0 = this slot is unused */
};

/* How to sign a response (from the request's authentication). */
struct turn_signer {
	uint8_t key[STUN_KEY_MAX];
	uint8_t key_len;
	bool authed;      /* SOFTWARE + integrity */
	bool sha256;      /* MESSAGE-INTEGRITY-SHA256, else MESSAGE-INTEGRITY */
	bool fingerprint; /* the request had FINGERPRINT */
};

/* The Allocate waiting for OPEN_RELAY results (alloc.c). */
struct turn_pending {
	struct turn_hnode node; /* s->pending by token, while queued */
	struct turn_alloc *alloc;
	uint32_t token;
	bool queued;
	uint8_t slot;  /* relay slot being opened */
	uint8_t tries; /* binds of this slot refused with EADDRINUSE */
	bool even, reserve, from_resv, want_v6;
	uint16_t resv_port; /* P+1 held for a RESERVATION-TOKEN */
	uint8_t resv_token[8];
	struct turn_signer sig;
	bool quota_wait; /* token is a QUOTA_CHECK's (cluster.c) */
};

struct turn_perm;
struct turn_chan;
struct turn_tconn;

struct turn_alloc {
	struct turn_hnode node;         /* s->allocs by tuple */
	struct turn_alloc *next, *prev; /* s->all, or the graveyard */
	struct turn_server *s;
	struct turn_tuple tuple;
	struct turn_relay relay[2]; /* [1]: IPv6 half of a dual-stack one */
	struct turn_timer timer;
	uint64_t expires_ms;
	uint64_t user_hash;
	char *qkey; /* quota key (user or REST id), NUL-terminated */
	uint32_t lifetime_s;
	uint16_t qkey_len;
	uint16_t addr_error; /* ADDRESS-ERROR-CODE for the IPv6 half */
	uint8_t state;
	bool quota_taken, has_resv_token;
	uint8_t tid[STUN_TID_LEN]; /* of the Allocate that created it */
	uint8_t resv_token[8];
	struct turn_perm *perms;
	struct turn_chan *chans;
	uint32_t nperms, nchans;
	/* bandwidth (bw.h): the class chosen at Allocate, copied; buckets
	 * [0] to peer, [1] to client. bw_implicit: no class applied, the
	 * server's max_bps holds (and follows SIGHUP) */
	struct turn_bw_bucket bucket[2];
	uint64_t bw_rate, bw_burst;
	int8_t bw_dscp; /* -1: none */
	uint8_t bw_slot;
	bool bw_implicit;
	uint64_t bw_reserved; /* held in cfg.bw_pool, bytes/s; 0: none */
	uint64_t bytes[2];
	uint64_t pkts[2];
	uint64_t serial;    /* names it in the admin API (inspect.c) */
	uint64_t created_s; /* wall clock, when it became active */
	struct turn_pending *pend;
	bool tcp;                  /* RFC 6062: relay[0] is a TCP listener */
	struct turn_tconn *tconns; /* its peer connections (tcp_relay.c) */
	uint32_t ntconns;
	/* cluster.c */
	char *realm;          /* in the qkey allocation, NUL-terminated */
	bool cluster_slot;    /* a GRANTED cluster quota slot is held */
	uint16_t end_port[2]; /* relay ports when it ended (views) */
	/* sweep.c: the sweep generation this allocation was checked in,
	 * and what it has withdrawn in it so far (logged when done) */
	uint32_t sweep_gen;
	uint32_t withdrawn[3]; /* permissions, channels, TCP connections */
};

struct turn_perm {
	struct turn_hnode node; /* s->perms by (alloc, ip) */
	struct turn_alloc *alloc;
	struct turn_perm *next, *prev;
	struct turn_timer timer;
	uint64_t expires_ms;
	struct turn_ipkey ip;
	uint64_t pkts[2], bytes[2]; /* the flow to and from this peer IP */
	/* RTP media quality of that flow (rtpq.h), [0] client -> peer,
	 * [1] peer -> client; zeroed by calloc: 90 kHz dynamic clock */
	struct turn_rtpq rtpq[2];
	/* lost packets of rtpq[dir] already added to the server's
	 * media_lost (turn/media.c) */
	uint32_t lost_seen[2];
};

struct turn_chan {
	struct turn_hnode num_node;  /* s->chans_num by (alloc, number) */
	struct turn_hnode peer_node; /* s->chans_peer by (alloc, ip+port) */
	struct turn_alloc *alloc;
	struct turn_chan *next, *prev;
	struct turn_timer timer;
	uint64_t expires_ms;
	union turn_addr peer;
	uint16_t number;
};

#define TURN_RESV_MS           30000
#define TURN_MAX_PERMS         1024 /* per allocation */
#define TURN_BIND_TRIES        3    /* binds per relay slot before 508 */
#define TURN_PENDING_TIMEOUT_S 30

struct turn_server {
	struct turn_server_cfg cfg;
	const struct auth_store *store;
	/* the store of each realm of cfg.realms (server.c, refreshed with
	 * the store): [0] is store; NULL: the store lacks that realm */
	const struct auth_store *rstore[TURN_MAX_REALMS];
	const struct auth_nonces *nonces;
	const struct turn_policy *policy;
	struct turn_quota *quota;
	struct auth_ratelimit *rl;
	struct auth_backoff *backoff;
	struct turn_wheel *wheel;
	struct turn_node *node;
	bool own_node; /* created by the server (cfg.node NULL) */
	struct turn_htab allocs, pending, perms, chans_num, chans_peer;
	struct turn_htab tconns;      /* RFC 6062 peer connections by id */
	struct turn_alloc *all;       /* live allocations (pending too) */
	struct turn_alloc *graveyard; /* freed at the next call */
	struct turn_actions *out;     /* of the running call (timers) */
	uint64_t now_ms, now_s;
	uint64_t hkey[2];
	uint64_t rng[4];
	uint32_t next_token;
	uint64_t next_serial; /* of allocations */
	unsigned rr[2];       /* round robin over relay ips, per family */
	struct auth_result ares;
	/* auth failure log lines: a token bucket (turn/authlog.c) */
	uint64_t authlog_last_ms;
	uint32_t authlog_credit; /* thousandths of a line */
	uint32_t authlog_suppressed;
	struct turn_stats stats;
	/* cluster.c: 300 Try Alternate targets ([0] IPv4, [1] IPv6; family
	 * 0: none) */
	union turn_addr alt[2];
	char alt_domain[TURN_ALT_DOMAIN_MAX + 1];
	/* the alternate's TLS and DTLS ports (turn_server_set_alternate_ports;
	 * alt_ports false: alt[]'s own port for every transport) */
	uint16_t alt_tls_port, alt_dtls_port;
	bool alt_ports;
	/* other nodes' listeners, never peers (turn_server_set_cluster_peers;
	 * owned) */
	struct turn_policy *cluster_peers;
	/* bandwidth classes of new allocations (turn_server_set_bw;
	 * borrowed; NULL: max_bps for all) */
	const struct turn_bw_table *bw;
	/* sweep.c: bumped by each new policy or cluster-peer set; due while
	 * some allocation is not yet checked against it */
	uint32_t sweep_gen;
	bool sweep_due;
	/* media.c: lost RTP packets of every flow, a counter */
	uint64_t media_lost[2];
};

/* One request being handled (server.c builds it). */
struct turn_req {
	struct turn_server *s;
	const struct turn_tuple *from;
	const struct stun_msg *m;
	struct turn_actions *out;
	struct turn_alloc *alloc; /* on this tuple, or NULL */
	struct turn_signer sig;
	uint64_t user_hash;
	const char *qkey;
	size_t qkey_len;
	const char *user;                 /* for logs */
	const union turn_addr *nonce_for; /* NULL: from->client */
	/* bandwidth (bw.h): the static user's name (NULL for a REST
	 * credential) and the class a REST id names (NULL: none) */
	const char *bw_user;
	const char *bw_class;
	size_t bw_class_len;
};

/* server.c: the realm of a tuple (its index, checked), its name and the
 * store its credentials are in (NULL: the store lacks it; nobody
 * authenticates there). */
static inline unsigned turn_realm_of(const struct turn_server *s,
                                     const struct turn_tuple *t)
{
	return t->realm < s->cfg.nrealms ? t->realm : 0;
}
const char *turn_realm_name(const struct turn_server *s, unsigned realm);

/* --- reply.c: actions, responses --------------------------------------- */

#define TURN_RESP_CAP 512 /* bytes of scratch reserved for one response */

struct turn_action *turn_act_push(struct turn_actions *out,
                                  enum turn_action_kind kind);
/* Bytes of scratch space (8-aligned), or NULL when full. */
void *turn_scratch(struct turn_actions *out, size_t len);
uint32_t turn_rng(struct turn_server *s);
void turn_log(struct turn_server *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* Start a response in the scratch space (cap bytes reserved). */
bool turn_resp_begin(struct turn_actions *out, struct stun_builder *b,
                     uint16_t method, uint8_t cls, const uint8_t *tid);
/* SOFTWARE + integrity (when authed), FINGERPRINT, then SEND_CLIENT. */
void turn_resp_send(struct turn_server *s, struct turn_actions *out,
                    const struct turn_tuple *to, const struct turn_signer *sig,
                    struct stun_builder *b);
/* A whole error response to the request: signed, with SOFTWARE and the
 * reason phrase when r->sig.authed; else ERROR-CODE alone (and FINGERPRINT
 * when the request had one), 28 or 36 bytes. */
void turn_resp_error(struct turn_req *r, uint16_t code);
/* A success response with no attributes, or with LIFETIME. */
void turn_resp_ok(struct turn_req *r, bool with_lifetime, uint32_t lifetime_s);

/* Granted lifetime for a LIFETIME attribute (absent: default). *zero when
 * the client asked for 0. */
uint32_t turn_lifetime(const struct turn_server *s, const struct stun_msg *m,
                       bool *zero);
uint64_t turn_user_hash(const struct turn_server *s, const char *user,
                        size_t len);

/* --- alloc.c ------------------------------------------------------------ */

struct turn_alloc *turn_alloc_find(struct turn_server *s,
                                   const struct turn_tuple *t);
void turn_alloc_request(struct turn_req *r);
void turn_refresh_request(struct turn_req *r);
/* End an allocation: CLOSE_RELAY for its sockets, ports, quota, perms and
 * channels released, LOG (when it was active), then the graveyard. */
void turn_alloc_release(struct turn_alloc *a, const char *reason);
void turn_graveyard_flush(struct turn_server *s);
/* Count a response sent for method with code (0: success). */
static inline void turn_count_response(struct turn_server *s, uint16_t method,
                                       uint16_t code)
{
	s->stats.responses[method & 0xf][turn_code_slot(code)]++;
}
/* Arm the allocation's lifetime from now. */
void turn_alloc_arm(struct turn_alloc *a, uint32_t lifetime_s);
/* The success answer (first, or rebuilt for a retransmission). */
void turn_alloc_answer(struct turn_alloc *a, const struct turn_signer *sig);
/* Bound: active, answered, logged; frees a->pend. */
void turn_alloc_complete(struct turn_alloc *a);

/* --- open.c ------------------------------------------------------------- */

int turn_pick_relay_ip(struct turn_server *s, int family);
/* Take a port for relay slot (an even pair when even; *resv_port gets
 * port+1 when the pending Allocate reserves it). 0 or ENOSPC. */
int turn_alloc_take_port(struct turn_alloc *a, int slot, bool even,
                         uint16_t *resv_port);
/* Emit OPEN_RELAY for the pending slot. */
void turn_alloc_open(struct turn_alloc *a);
void turn_alloc_relay_result(struct turn_server *s, uint32_t token, int err,
                             void *relay);
/* node.c: the shared pool (locked) */
int turn_node_take(struct turn_node *n, uint32_t rng, bool even_pair,
                   uint16_t *port);
void turn_node_release(struct turn_node *n, uint16_t port);
void turn_node_quarantine(struct turn_node *n, uint16_t port, uint64_t now_ms);
int turn_node_resv_put(struct turn_node *n, const uint8_t token[8],
                       uint16_t port, uint8_t ip_index, uint64_t expires_ms);
bool turn_node_resv_take(struct turn_node *n, const uint8_t token[8],
                         uint16_t *port, uint8_t *ip_index);
void turn_node_expire(struct turn_node *n, uint64_t now_ms);
uint64_t turn_node_next_deadline(struct turn_node *n);
void turn_node_ports_stats(struct turn_node *n, struct turn_ports_stats *st);
/* The relay slot of a family (AF_INET/AF_INET6) that is bound, or NULL. */
struct turn_relay *turn_alloc_relay(struct turn_alloc *a, int family);
bool turn_alloc_has_family(const struct turn_alloc *a, int family);

/* --- perm.c ------------------------------------------------------------- */

struct turn_perm *turn_perm_find(struct turn_server *s, struct turn_alloc *a,
                                 const struct sockaddr *peer, uint64_t now_ms);
/* Install or refresh; false on ENOMEM or the per-allocation cap. */
bool turn_perm_install(struct turn_server *s, struct turn_alloc *a,
                       const struct sockaddr *peer);
void turn_perm_free(struct turn_perm *p);
void turn_create_permission_request(struct turn_req *r);
/* 0 if the peer passes the family and policy checks, else 443 / 403. */
uint16_t turn_peer_check(struct turn_req *r, const struct sockaddr *peer,
                         bool with_port);

/* --- chan.c ------------------------------------------------------------- */

struct turn_chan *turn_chan_by_number(struct turn_server *s,
                                      struct turn_alloc *a, uint16_t number);
struct turn_chan *turn_chan_by_peer(struct turn_server *s, struct turn_alloc *a,
                                    const union turn_addr *peer);
void turn_chan_free(struct turn_chan *c);
void turn_channel_bind_request(struct turn_req *r);
/* The highest channel number s accepts: 0x4FFF (RFC 8656 s12), or 0x7FFF
 * with cfg.rfc5766_channel_numbers. */
uint16_t turn_channel_max(const struct turn_server *s);

/* --- data.c ------------------------------------------------------------- */

void turn_send_indication(struct turn_server *s, const struct turn_tuple *from,
                          const struct stun_msg *m, struct turn_actions *out);
/* ChannelData from a client (s12.4): to the peer of its channel, through
 * s->out like every push. */
void turn_channel_data(struct turn_server *s, const struct turn_tuple *from,
                       uint8_t *buf, size_t len);
void turn_peer_icmp(struct turn_server *s, struct turn_alloc *a,
                    const union turn_addr *peer, uint8_t type, uint8_t code,
                    uint32_t info);
void turn_peer_data(struct turn_server *s, struct turn_alloc *a,
                    const union turn_addr *peer, uint8_t *buf, size_t len,
                    struct turn_actions *out);

/* --- tcp_relay.c (RFC 6062) ------------------------------------------- */

#define TURN_MAX_TCONNS 256 /* peer connections per allocation */

void turn_connect_request(struct turn_req *r);
/* A ConnectionBind: answered, or handed to its owner (TCP_HANDOFF) when
 * its CONNECTION-ID belongs to another worker. */
void turn_connection_bind_request(struct turn_req *r);
/* true when the ConnectionBind belongs to another worker: TCP_HANDOFF has
 * been appended (or a 400 sent for a worker that does not exist). */
bool turn_tcp_handoff(struct turn_req *r);
/* The control connection's client address of the allocation that owns
 * the ConnectionBind's CONNECTION-ID, or NULL. */
const union turn_addr *turn_tcp_control_addr(struct turn_server *s,
                                             const struct stun_msg *m);
/* Close every peer connection of a (TCP_CLOSE each). */
void turn_tcp_release_all(struct turn_alloc *a);
void turn_tcp_connect_result(struct turn_server *s, uint32_t id, int err);
uint32_t turn_tcp_incoming(struct turn_server *s, struct turn_alloc *a,
                           const union turn_addr *peer);
void turn_tcp_closed(struct turn_server *s, uint32_t id, uint64_t to_peer,
                     uint64_t to_client);
/* Close (TCP_CLOSE) a's peer connections to peers now denied, leaving
 * `keep` free slots in s->out; returns how many were closed and sets
 * *more when a denied one is left for lack of room. */
uint32_t turn_tcp_withdraw(struct turn_alloc *a, size_t keep, bool *more);

/* --- sweep.c: withdraw what a new policy denies --------------------- */

/* true: the policy or the cluster-peer set denies peer (IP and port;
 * port 0: the IP alone, as CreatePermission checks it). */
bool turn_peer_denied(const struct turn_server *s, const struct sockaddr *peer);
/* The policy or the cluster peers changed: check every allocation again
 * (turn_sweep_run now, and at each tick until done). */
void turn_sweep_start(struct turn_server *s);
/* Withdraw the denied permissions, channels and TCP connections of the
 * allocations not yet checked, while s->out has room (the rest at the
 * next call); one LOG per allocation that lost any. */
void turn_sweep_run(struct turn_server *s);
/* server.c: the start of every public call (graveyard, s->out, clock). */
void turn_enter(struct turn_server *s, struct turn_actions *out,
                uint64_t now_ms);

/* --- cluster.c: cluster quota, lifecycle events, 300 Try Alternate ---- */

/* Park a's Allocate (relay port held, not yet opened) on QUOTA_CHECK. */
void turn_quota_park(struct turn_alloc *a);
void turn_cluster_quota_result(struct turn_server *s, uint32_t token,
                               enum turn_quota_answer ans);
/* ALLOC_EVENT for a (when cfg.alloc_events). */
void turn_alloc_event(struct turn_alloc *a, enum turn_alloc_event ev,
                      const char *reason);
/* From turn_alloc_release, before the teardown: DELETED (when it was
 * active) and QUOTA_RELEASE (when it holds a cluster slot). */
void turn_cluster_ended(struct turn_alloc *a, const char *reason);
/* A refused new Allocate: 300 with ALTERNATE-SERVER when an alternate of
 * the client's family is set (true), else nothing sent (false). */
bool turn_try_alternate(struct turn_req *r);
/* true: peer (IP and port) is another node's listener. */
bool turn_cluster_peer_denied(const struct turn_server *s,
                              const struct sockaddr *peer);

#endif
