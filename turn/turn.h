/*
 * turn/turn.h - the TURN server core (RFC 8656), sans I/O. It takes bytes
 * from a 5-tuple and the time, and says what to send where; the daemon in
 * edge/ moves the bytes. Nothing here opens a socket or reads a clock.
 */
#ifndef AVEDGE_TURN_H
#define AVEDGE_TURN_H

#include "stun/stun.h"
#include "turn/bw.h"
#include "turn/rtpq.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* An answer to an unauthenticated sender (any answer before the request's
 * MESSAGE-INTEGRITY verified: Binding, 401/438 challenges, errors before
 * or instead of authentication) is at most this many times the request's
 * size: no reason phrase, no SOFTWARE, no MESSAGE-INTEGRITY, FINGERPRINT
 * only when the request had one, and a challenge only when it fits. */
#define TURN_AMPLIFICATION_MAX 4

/* Why a STUN Binding request got the answer it got (for counters). */
enum turn_binding_outcome {
	TURN_BINDING_SUCCESS = 0,  /* success response */
	TURN_BINDING_INDICATION,   /* Binding indication: keepalive, no reply */
	TURN_BINDING_UNKNOWN_ATTR, /* 420 with UNKNOWN-ATTRIBUTES */
	TURN_BINDING_NOT_BINDING,  /* not a Binding request: not ours */
};

/*
 * Answer a parsed STUN Binding message from `from` (RFC 8489 s6.3, s12):
 * a success response with XOR-MAPPED-ADDRESS (MAPPED-ADDRESS for an RFC
 * 3489 client, which has no magic cookie), FINGERPRINT when the request
 * had one, and nothing else: the answer to an unauthenticated sender
 * stays small. A CHANGE-REQUEST with no flag set is accepted; one with a
 * flag set, or any unknown comprehension-required attribute, gets 420 with
 * UNKNOWN-ATTRIBUTES (this server has no alternate address, RFC 5780).
 * Writes the response into out (cap bytes); *out_len is 0 when nothing is
 * to be sent. Returns 0, or ENOSPC when cap is too small.
 */
int turn_binding_respond(const struct stun_msg *req,
                         const struct sockaddr *from, uint8_t *out, size_t cap,
                         size_t *out_len, enum turn_binding_outcome *outcome);

/* ===================================================================== */
/* The TURN server core (RFC 8656): one struct turn_server per worker.    */
/* ===================================================================== */

struct auth_store;
struct auth_nonces;
struct turn_policy;
struct turn_quota;
struct turn_node;
struct turn_alloc;
struct turn_server;

/* A transport address in the compact form the core keeps. */
union turn_addr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

enum turn_transport {
	TURN_TRANSPORT_UDP = 0,
	TURN_TRANSPORT_TCP,
	TURN_TRANSPORT_TLS,
	TURN_TRANSPORT_DTLS,
};

/*
 * The client side of a 5-tuple as edge/ sees it: the client's address,
 * which of the worker's listening sockets it came in on, and for stream
 * transports the edge's connection id (0 for UDP). Two requests belong to
 * the same allocation exactly when all fields match.
 */
struct turn_tuple {
	union turn_addr client;
	uint32_t listener; /* edge's index of the listening socket */
	uint32_t conn;     /* stream connection id; 0 for UDP */
	uint8_t transport; /* enum turn_transport */
	uint8_t realm;     /* index into cfg.realms: the realm requests on
	                    * this tuple authenticate in and count quotas
	                    * against (realm-listener, realm-sni); 0: the
	                    * store's own realm. Not part of the identity:
	                    * the edge derives it from listener and conn. */
};

/* Realms one server core serves (tuple.realm < TURN_MAX_REALMS). */
#define TURN_MAX_REALMS 16

/* One relay address the node can allocate on (relay-ip), and what it
 * advertises (external-ip public address, or itself). */
struct turn_relay_ip {
	union turn_addr local;     /* bound; port ignored */
	union turn_addr advertise; /* in XOR-RELAYED-ADDRESS; port ignored */
};

#define TURN_MAX_RELAY_IPS 8

/* The immutable configuration of a server core (copied at new). */
struct turn_server_cfg {
	struct turn_relay_ip relay_ips[TURN_MAX_RELAY_IPS];
	size_t nrelay_ips;
	uint16_t min_port, max_port;     /* relay port range */
	unsigned worker_index, nworkers; /* each worker owns a share */
	uint32_t default_lifetime_s;     /* 600 (RFC 8656 s7.2) */
	uint32_t max_lifetime_s;         /* max-allocate-lifetime, 3600 */
	uint32_t permission_lifetime_s;  /* 300 (s9) */
	uint32_t channel_lifetime_s;     /* 600 (s12) */
	uint64_t max_bps;                /* bytes/s per direction; 0: off */
	uint32_t auth_rate_limit; /* 401s per second per source; 0: off */
	uint32_t auth_rate_burst; /* 0: the auth module default */
	const char *software;     /* SOFTWARE to authenticated clients;
	                           * NULL: none */
	bool no_auth;             /* accept TURN without credentials
	                           * (tests only) */
	bool no_tcp_relay;        /* refuse RFC 6062 TCP allocations (442) */
	struct turn_node *node;   /* shared port pool and reservations; NULL:
	                           * the server makes its own */
	uint8_t seed[16];         /* random: hashes, port choice */
	/* Channel numbers 0x4000-0x7FFF (RFC 5766; coturn's turnutils_uclient
	 * picks them there). false: RFC 8656 s12's 0x4000-0x4FFF, a
	 * ChannelBind outside gets 400, ChannelData outside is dropped. */
	bool rfc5766_channel_numbers;
	/* Node-wide drain flag (nonzero: draining), set by edge/ from any
	 * thread and read here with a relaxed load on Allocate only; NULL:
	 * never draining. max_allocations: live allocations on the node
	 * (counted by the quota, else by this server); 0: unlimited. Both
	 * answer a new Allocate with 300 Try Alternate when an alternate of
	 * the client's family is set (turn_server_set_alternates), else 508
	 * (turn/alloc.c at_capacity). */
	const atomic_int *draining;
	uint32_t max_allocations;
	/* The node's capacity (bps-capacity; bw.h turn_bw_pool), shared by
	 * the workers, borrowed: each allocation reserves its class's rate
	 * at Allocate (after the drain and max-allocations checks) and gives
	 * it back when freed; an Allocate that does not fit gets 508. NULL:
	 * no capacity. */
	struct turn_bw_pool *bw_pool;
	/* Cluster (turn/cluster.c). cluster_quota: park every Allocate that
	 * passed the local checks on TURN_ACT_QUOTA_CHECK until
	 * turn_server_quota_result(); alloc_events: append
	 * TURN_ACT_ALLOC_EVENT on create, refresh and delete. Both false:
	 * neither action is ever appended. */
	bool cluster_quota;
	bool alloc_events;
	/* Several realms: realms[i] (i >= 1) names the realm of tuple.realm
	 * i; its users and secrets are the store's realm of that name
	 * (auth_store_find_realm). realms[0] is unused: realm 0 is the
	 * store's own. Borrowed: must outlive the server. nrealms 0 or 1:
	 * one realm; a tuple.realm >= nrealms counts as 0. */
	const char *const *realms;
	size_t nrealms;
};

/* What edge/ must do. Pointers borrow the input buffer, the server's
 * scratch space or the allocation: valid until the next turn_server_*()
 * call on this server. */
enum turn_action_kind {
	TURN_ACT_SEND_CLIENT, /* send data to tuple */
	TURN_ACT_SEND_PEER,   /* send data from relay socket to peer */
	TURN_ACT_OPEN_RELAY,  /* bind a UDP relay socket, then answer with
	                       * turn_server_relay_result(token, ...) */
	TURN_ACT_CLOSE_RELAY, /* close the relay socket (edge handle) */
	TURN_ACT_LOG,         /* a lifecycle event for the log (text) */
	/* RFC 6062 TCP relay allocations (turn/tcp_relay.c) */
	TURN_ACT_OPEN_TCP_RELAY,  /* listen on bind (TCP), then answer with
	                           * turn_server_relay_result(token, ...) */
	TURN_ACT_CLOSE_TCP_RELAY, /* close the TCP relay listener (relay) */
	TURN_ACT_TCP_CONNECT,     /* connect from bind (the relayed address,
	                           * SO_REUSEADDR/SO_REUSEPORT) to peer; the
	                           * edge keys the connection by conn_id and
	                           * answers turn_server_tcp_connect_result() */
	TURN_ACT_TCP_CLOSE,       /* close peer connection conn_id and its
	                           * client data connection */
	TURN_ACT_TCP_BIND_DATA,   /* after the SEND_CLIENT before it: tuple's
	                           * stream carries raw bytes to and from peer
	                           * connection conn_id from now on */
	TURN_ACT_TCP_HANDOFF,     /* a ConnectionBind for another worker: move
	                           * tuple's stream (fd) and this request
	                           * (data, len) to worker, which inputs it */
	/* cluster (turn/cluster.c; only with cfg.cluster_quota or
	 * cfg.alloc_events) */
	TURN_ACT_QUOTA_CHECK,   /* take a cluster slot for (qkey, realm),
	                         * then answer turn_server_quota_result(token,
	                         * ...); alloc: the parked allocation */
	TURN_ACT_QUOTA_RELEASE, /* give back the cluster slot of (qkey, realm)
	                         * granted earlier: once per GRANTED answer */
	TURN_ACT_ALLOC_EVENT,   /* alloc was created / refreshed / deleted
	                         * (event; reason when deleted); read it with
	                         * turn_alloc_describe() while running it */
};

/* What an ALLOC_EVENT says happened to its allocation. */
enum turn_alloc_event {
	TURN_ALLOC_CREATED = 0, /* answered with success, relays bound */
	TURN_ALLOC_REFRESHED,   /* Refresh with a lifetime > 0 */
	TURN_ALLOC_DELETED,     /* ended, for reason (every way it can) */
};

struct turn_action {
	enum turn_action_kind kind;
	const struct turn_tuple *tuple; /* SEND_CLIENT */
	void *relay;                    /* SEND_PEER, CLOSE_RELAY: the edge's
	                                 * handle from relay_result */
	const union turn_addr *peer;    /* SEND_PEER */
	const uint8_t *data;            /* SEND_*, LOG (NUL-terminated) */
	size_t len;
	bool dont_fragment; /* SEND_PEER: set DF for this datagram */
	/* OPEN_RELAY */
	struct turn_alloc *alloc; /* pass back as the relay's owner */
	uint32_t token;           /* pass to turn_server_relay_result() */
	union turn_addr bind;     /* address and port to bind */
	int dscp; /* OPEN_RELAY, OPEN_TCP_RELAY: DSCP (0..63) for what the
	           * socket sends to peers (IP_TOS / IPV6_TCLASS, the
	           * allocation's bandwidth class); -1: leave it */
	/* TCP_* */
	uint32_t conn_id; /* CONNECTION-ID of the peer connection */
	unsigned worker;  /* TCP_HANDOFF: index of the owning worker */
	/* QUOTA_*: the quota key (static user or REST id) and the realm,
	 * NUL-terminated; ALLOC_EVENT: event, and reason when DELETED
	 * (NUL-terminated, e.g. "expired", "refresh 0", "kicked") */
	const char *qkey;
	const char *realm;
	/* QUOTA_CHECK: the realm's local user-quota and total-quota (the
	 * turn_quota's; 0: unlimited), the defaults of the cluster check */
	uint32_t user_quota, total_quota;
	enum turn_alloc_event event;
	const char *reason;
};

#define TURN_ACTIONS_MAX 64
#define TURN_SCRATCH_LEN 8192

/* Caller-owned action list. The server appends; the caller runs them in
 * order (an OPEN_RELAY's relay_result may append more while it does) and
 * calls turn_actions_reset() before the next input. */
struct turn_actions {
	struct turn_action v[TURN_ACTIONS_MAX];
	size_t n;
	size_t dropped; /* actions lost to a full list (counted) */
	uint8_t scratch[TURN_SCRATCH_LEN]; /* responses are built here */
	size_t used;
};
void turn_actions_reset(struct turn_actions *out);

/* Response codes counted one by one (turn_code_slot(); 0 is success,
 * the last slot any other code). */
#define TURN_CODE_SLOTS 18
unsigned turn_code_slot(uint16_t code);
uint16_t turn_slot_code(unsigned slot); /* 0: "other" */

/* Counters of one server core (owner thread writes, anyone reads with
 * relaxed loads; see edge/net/worker.h EDGE_COUNT). */
struct turn_stats {
	uint64_t allocations, allocations_created, allocations_expired,
	        allocations_deleted;
	uint64_t permissions, channels;
	uint64_t requests[16];        /* by method (index = method & 0xf) */
	uint64_t responses_error[16]; /* by method */
	uint64_t auth_challenges, auth_failures, auth_paced, auth_dropped,
	        stale_nonces;
	uint64_t relayed_to_peer_pkts, relayed_to_peer_bytes;
	uint64_t relayed_to_client_pkts, relayed_to_client_bytes;
	uint64_t drop_no_alloc, drop_no_permission, drop_no_channel,
	        drop_denied_peer, drop_rate_limit, drop_malformed;
	uint64_t quota_rejects, port_exhausted, icmp_relayed;
	/* current allocations by enum turn_transport */
	uint64_t allocations_by_transport[4];
	/* the same by realm (tuple.realm) and transport */
	uint64_t allocations_by_realm[TURN_MAX_REALMS][4];
	/* ended allocations by why (allocations_expired above) */
	uint64_t allocations_refreshed_0, allocations_closed,
	        allocations_kicked;
	/* new Allocates refused (300 or 508) while draining / at
	 * max-allocations */
	uint64_t drain_rejects, capacity_rejects;
	/* responses by method (& 0xf) and code slot (turn_code_slot()) */
	uint64_t responses[16][TURN_CODE_SLOTS];
	uint64_t auth_reasons[16]; /* failures by enum auth_reason (& 0xf) */
	/* RFC 6062: peer connections now, ever, failed Connects, closed
	 * unbound after 30 s; bytes relayed (added when a connection ends) */
	uint64_t tcp_conns, tcp_conns_created, tcp_connect_failures,
	        tcp_bind_timeouts, tcp_to_peer_bytes, tcp_to_client_bytes;
	/* cluster: Allocates answered 300 Try Alternate (also counted in
	 * drain_rejects / capacity_rejects), refused with 486 by the cluster
	 * quota (also in quota_rejects), granted locally (Redis down/slow) */
	uint64_t redirects, cluster_quota_denied, cluster_quota_local;
	/* withdrawn because their peer became denied (a new policy or
	 * cluster-peer set: turn_server_set_policy) */
	uint64_t permissions_withdrawn, channels_withdrawn, tcp_conns_withdrawn;
	/* bandwidth classes (bw.h): relayed data over the class's rate,
	 * dropped, by counter slot (turn_bw_names) and direction ([0] to
	 * peer, [1] to client); drop_rate_limit counts the packets of all;
	 * allocations whose REST credential named a class the node lacks */
	uint64_t bw_dropped_pkts[TURN_BW_SLOTS][2];
	uint64_t bw_dropped_bytes[TURN_BW_SLOTS][2];
	uint64_t bw_cred_unknown;
	/* Allocates refused with 508: their class's reservation would pass
	 * bps-capacity (cfg.bw_pool) */
	uint64_t bw_capacity_rejects;
};

/*
 * Create a server core for one worker. store: credentials (borrowed; swap
 * with turn_server_set_store); nonces: shared nonce keys (borrowed);
 * policy: peer policy (borrowed); quota: shared allocation quotas
 * (borrowed, thread-safe; NULL: none). Returns 0, EINVAL or ENOMEM.
 */
int turn_server_new(struct turn_server **out, const struct turn_server_cfg *cfg,
                    const struct auth_store *store,
                    const struct auth_nonces *nonces,
                    const struct turn_policy *policy, struct turn_quota *quota,
                    uint64_t now_ms);
/* Free the core and every allocation (appending nothing: the caller
 * closes its relay sockets itself). NULL is fine. */
void turn_server_free(struct turn_server *s);
/* A reloaded credential store (SIGHUP); the old one must outlive calls
 * already running on this server. */
void turn_server_set_store(struct turn_server *s, const struct auth_store *st);
/* A new peer policy (borrowed; NULL is ignored): the next
 * CreatePermission, ChannelBind, Connect and Send indication are checked
 * against it, and what is installed already is checked again (the
 * sweep): a permission whose IP, a channel or RFC 6062 connection whose
 * peer the new policy denies is withdrawn (TCP_CLOSE for a connection),
 * counted (turn_stats *_withdrawn) and logged once per allocation (LOG).
 * As much of the sweep as out holds runs now, the rest at the next
 * turn_server_tick (out NULL: all of it then). The old policy must
 * outlive calls already running on this server. */
void turn_server_set_policy(struct turn_server *s,
                            const struct turn_policy *policy, uint64_t now_ms,
                            struct turn_actions *out);
/* New nonce keys (a rotation; borrowed, NULL is ignored): nonces are
 * minted and checked with them from the next call. The old ones must
 * outlive calls already running on this server. */
void turn_server_set_nonces(struct turn_server *s,
                            const struct auth_nonces *nonces);
/* New limits (SIGHUP): max-bps for every allocation of the implicit
 * class (bw.h; buckets keep their tokens) from now on, max-allocations
 * for the next Allocate. Owner thread. */
void turn_server_set_limits(struct turn_server *s, uint64_t max_bps,
                            uint32_t max_allocations);
/* The bandwidth classes of the next Allocates (borrowed; NULL: none, the
 * implicit class for all). Live allocations keep the class they have.
 * The old table must outlive calls already running on this server.
 * Owner thread. */
void turn_server_set_bw(struct turn_server *s, const struct turn_bw_table *t);

/*
 * Bytes from a client on tuple: a STUN message or ChannelData (a whole
 * datagram, or one whole frame of a stream). buf may be written to in
 * place (headroom before it is not assumed). now_ms: monotonic clock;
 * now_s: wall clock seconds (REST credential expiry, nonces).
 */
void turn_server_input(struct turn_server *s, const struct turn_tuple *from,
                       uint8_t *buf, size_t len, uint64_t now_ms,
                       uint64_t now_s, struct turn_actions *out);

/*
 * A datagram from a peer on an allocation's relay socket. buf must have
 * TURN_PEER_HEADROOM writable bytes before it and 4 after it (the Data
 * indication or ChannelData header is written in place).
 */
#define TURN_PEER_HEADROOM 64
void turn_server_peer_input(struct turn_server *s, struct turn_alloc *alloc,
                            const union turn_addr *peer, uint8_t *buf,
                            size_t len, uint64_t now_ms,
                            struct turn_actions *out);

/*
 * The kernel reported an ICMP error (IP_RECVERR) for a datagram the
 * allocation's relay socket sent to peer: type and code as received
 * (ICMPv4 or ICMPv6), info the next-hop MTU where the message carries one.
 * A permitted peer's error goes to the client as a Data indication with
 * the ICMP attribute (RFC 8656 s11.6).
 */
void turn_server_peer_icmp(struct turn_server *s, struct turn_alloc *alloc,
                           const union turn_addr *peer, uint8_t type,
                           uint8_t code, uint32_t info, uint64_t now_ms,
                           struct turn_actions *out);

/*
 * The outcome of an OPEN_RELAY: err 0 with the edge's handle for the
 * socket and the address it is bound to; or an errno (EADDRINUSE: the
 * core tries another port a few times, then answers 508; EMFILE/ENFILE:
 * 508 at once).
 */
void turn_server_relay_result(struct turn_server *s, uint32_t token, int err,
                              void *relay, uint64_t now_ms, uint64_t now_s,
                              struct turn_actions *out);

/* --- RFC 6062 TCP relay allocations (turn/tcp_relay.c) ---------------- */

/* The CONNECTION-ID of a peer connection carries the index of the worker
 * that owns its allocation in its top 8 bits (a ConnectionBind may arrive
 * on any worker; TCP_HANDOFF moves it to the owner). */
#define TURN_TCP_CONN_WORKER(id)   ((unsigned)((id) >> 24))
#define TURN_TCP_CONNECT_TIMEOUT_S 30 /* edge: connect() gives up */
#define TURN_TCP_BIND_TIMEOUT_S    30 /* unbound peer connection closed */

/* The outcome of a TCP_CONNECT: err 0 when connected (the Connect is
 * answered with CONNECTION-ID; the edge must not read the peer until
 * TCP_BIND_DATA), else an errno (447; the edge has closed its socket). A
 * result for an unknown conn_id with err 0 gets TCP_CLOSE. */
void turn_server_tcp_connect_result(struct turn_server *s, uint32_t conn_id,
                                    int err, uint64_t now_ms,
                                    struct turn_actions *out);

/* A peer connected to the TCP relay listener of alloc (s5.3). Returns the
 * CONNECTION-ID under which the edge keeps the connection (unread until
 * TCP_BIND_DATA) and appends the ConnectionAttempt; 0: close it at once
 * (no permission for the peer's IP, policy, no memory). */
uint32_t turn_server_tcp_incoming(struct turn_server *s,
                                  struct turn_alloc *alloc,
                                  const union turn_addr *peer, uint64_t now_ms,
                                  struct turn_actions *out);

/* The edge closed peer connection conn_id (and its data connection) on its
 * own: EOF or error on either side. to_peer / to_client: bytes relayed. */
void turn_server_tcp_closed(struct turn_server *s, uint32_t conn_id,
                            uint64_t to_peer, uint64_t to_client,
                            struct turn_actions *out);

/* A stream connection closed: its allocation ends (RFC 8656 s3.1). */
void turn_server_conn_closed(struct turn_server *s,
                             const struct turn_tuple *tuple,
                             struct turn_actions *out);

/* Expire what is due; call at turn_server_next_deadline(). */
void turn_server_tick(struct turn_server *s, uint64_t now_ms,
                      struct turn_actions *out);
uint64_t turn_server_next_deadline(const struct turn_server *s);
const struct turn_stats *turn_server_stats(const struct turn_server *s);

/* --- inspection for the admin API (turn/inspect.c) -------------------- */
/* Pure snapshots of one server's allocations, taken on the owner's thread
 * into caller memory (nothing points into the core afterwards). An
 * allocation is named by (worker_index, serial): serials count up from 1
 * per server and are never reused. Directions: [0] client -> peer,
 * [1] peer -> client; bytes are application payload only. */
#define TURN_INFO_USER_MAX 256

struct turn_alloc_info {
	uint64_t serial;
	unsigned worker;
	char user[TURN_INFO_USER_MAX]; /* quota key: static user or REST id
	                                * (truncated) */
	uint8_t transport;             /* enum turn_transport */
	union turn_addr client;
	union turn_addr relay[2]; /* advertised; sa_family 0: none */
	uint64_t created_s;       /* wall clock */
	uint32_t lifetime_s;
	uint32_t expires_in_s;
	uint32_t permissions, channels;
	uint64_t pkts[2], bytes[2];
	/* the worst validated RTP stream of each direction: loss in percent
	 * and jitter in ms; -1 when no RTP was seen that way */
	double loss_pct[2], jitter_ms[2];
};

/* RTP seen on one direction of a permission's flow (turn/rtpq.h): per
 * SSRC, loss and jitter as they arrive at the relay (upstream of it). */
struct turn_media_info {
	size_t nssrc;
	struct turn_rtpq_ssrc_report ssrc[TURN_RTPQ_MAX_SSRC];
};

struct turn_perm_info {
	union turn_addr peer; /* port 0 */
	uint32_t expires_in_s;
	uint64_t pkts[2], bytes[2];
	struct turn_media_info media[2];
};

struct turn_chan_info {
	uint16_t number;
	union turn_addr peer;
	uint32_t expires_in_s;
};

/* Which allocations a listing wants; NULL fields match everything. peer:
 * an IP (port ignored) the allocation has a permission for. */
struct turn_alloc_filter {
	const char *user;  /* exact quota key */
	const char *realm; /* exact */
	const union turn_addr *peer;
};

/* The server's realm (the store's; valid until the store is swapped). */
const char *turn_server_realm(const struct turn_server *s);
/* The name of realm i (tuple.realm; 0 is turn_server_realm()); NULL past
 * the last. Valid as turn_server_realm(). */
const char *turn_server_realm_name(const struct turn_server *s, size_t i);
/* Active allocations matching f, in ascending serial order; the ones of
 * rank skip .. skip+cap-1 go to v. Returns how many match in all. */
size_t turn_server_list(const struct turn_server *s,
                        const struct turn_alloc_filter *f, uint64_t now_ms,
                        size_t skip, struct turn_alloc_info *v, size_t cap);
/* One allocation with up to pcap permissions and ccap channels (*np, *nc
 * get how many were written). 0, or ENOENT. */
int turn_server_inspect(const struct turn_server *s, uint64_t serial,
                        uint64_t now_ms, struct turn_alloc_info *info,
                        struct turn_perm_info *perms, size_t pcap, size_t *np,
                        struct turn_chan_info *chans, size_t ccap, size_t *nc);
/* End an allocation now (the admin's kick): CLOSE_RELAY and LOG actions
 * into out, counted in allocations_kicked; its client's next request gets
 * 437. 0, or ENOENT. */
int turn_server_kick(struct turn_server *s, uint64_t serial, uint64_t now_ms,
                     struct turn_actions *out);
/* Relay ports of the node's pool: taken (allocations and reservations),
 * free to take (neither taken nor quarantined after a failed bind), and
 * all of them. Thread-safe. */
void turn_node_usage(struct turn_node *n, uint32_t *in_use, uint32_t *free_,
                     uint32_t *total);

/* --- the cluster (turn/cluster.c): Redis quota, records, 300 ---------- */

/* The edge's answer to TURN_ACT_QUOTA_CHECK. */
enum turn_quota_answer {
	TURN_QUOTA_GRANTED = 0, /* the cluster slot is taken: go on */
	TURN_QUOTA_DENIED,      /* a cluster quota is reached: 486 */
	TURN_QUOTA_LOCAL,       /* Redis down or slow, the edge decided
	                         * locally: go on, no cluster slot held */
};

/*
 * The answer to the TURN_ACT_QUOTA_CHECK with token (cfg.cluster_quota).
 * The Allocate was parked after every local check had passed (the local
 * turn_quota slot, the fallback count, and the relay port are held).
 * GRANTED: the relay is opened and the Allocate answered as without the
 * cluster; the allocation holds the cluster slot and appends exactly one
 * TURN_ACT_QUOTA_RELEASE when it ends, whichever way (expiry, Refresh 0,
 * connection closed, kick, relay bind failure or timeout after the grant).
 * DENIED: 486 Allocation Quota Reached, the local slot and port given
 * back. LOCAL: as GRANTED, but no QUOTA_RELEASE ever.
 * A retransmission of a parked Allocate is absorbed; a parked Allocate
 * gets no answer after TURN_PENDING_TIMEOUT_S (30 s) and is dropped. A
 * token that is unknown or late (timed out, client gone) is ignored: the
 * edge must then give back the cluster slot it took itself. May be called
 * while the caller runs an action list (appends to out). Owner thread.
 * (Slots held when turn_server_free() runs are not released: the node's
 * slots go with its registry entry.)
 */
void turn_server_quota_result(struct turn_server *s, uint32_t token,
                              enum turn_quota_answer ans, uint64_t now_ms,
                              uint64_t now_s, struct turn_actions *out);

/*
 * Where a draining or full node sends new Allocates (RFC 8656 s7.2,
 * RFC 8489 s10): the least-loaded healthy node of each family (port set),
 * and its domain name for ALTERNATE-DOMAIN over TLS/DTLS. Copied; NULL
 * (or an address of the wrong family) clears that one. On the owner's
 * thread, whenever the edge learns a better node. With no alternate of
 * the client's family the answer stays 508.
 */
#define TURN_ALT_DOMAIN_MAX 255
void turn_server_set_alternates(struct turn_server *s,
                                const union turn_addr *v4,
                                const union turn_addr *v6, const char *domain);
/*
 * The alternate's TLS and DTLS listening ports (RFC 8656 s7.2: the
 * alternate for the client's own transport): a TLS client is sent to
 * tls_port, a DTLS client to dtls_port, of the alternate's address; 0:
 * the alternate has no such listener, and those clients get 508. Until
 * this is called after turn_server_set_alternates() (which resets it),
 * the alternate's port serves every transport. Owner thread.
 */
void turn_server_set_alternate_ports(struct turn_server *s, uint16_t tls_port,
                                     uint16_t dtls_port);

/*
 * Other nodes' listeners (from the cluster registry): never relay peers,
 * whatever the policy allows. set holds them as protected endpoints
 * (turn_policy_protect(); its other rules are not consulted) and is owned
 * by the server from now on; the previous set is freed; NULL clears.
 * Checked with the peer's port (ChannelBind, Send, Connect, peer data,
 * incoming RFC 6062 connections); a CreatePermission (an IP alone) is not
 * affected unless an endpoint was protected with port 0. Channels and
 * RFC 6062 connections already there to an endpoint of the new set are
 * withdrawn as by turn_server_set_policy (the same sweep, into out).
 * Owner thread.
 */
void turn_server_set_cluster_peers(struct turn_server *s,
                                   struct turn_policy *set, uint64_t now_ms,
                                   struct turn_actions *out);

/* An allocation as its Redis record and events need it. info is the
 * admin API's snapshot (worker + serial name it; user, transport, client,
 * relays, created, lifetime, permissions, channels, pkts, bytes); relays
 * are kept for a deleted one. */
struct turn_alloc_view {
	struct turn_alloc_info info;
	const char *realm;  /* valid while the allocation is (see below) */
	uint64_t expires_s; /* wall clock; 0 while not active */
	bool active;        /* false: pending, or deleted */
};
/* Describe a (an ALLOC_EVENT's or QUOTA_*'s alloc) into v. On the owner
 * thread, while running the action list of the call that appended the
 * action: a deleted allocation is freed at the next turn_server_* call. */
void turn_alloc_describe(const struct turn_alloc *a, struct turn_alloc_view *v);

/* --- the relay port pool and reservations of a node (turn/node.c) ---- */
/* One per node, shared by its workers (a mutex taken on Allocate, bind
 * failure and free only): a RESERVATION-TOKEN minted on one worker can be
 * used on another. */
int turn_node_new(struct turn_node **out, uint16_t min_port, uint16_t max_port);
void turn_node_free(struct turn_node *n);

/* --- quotas shared by the workers of a node (turn/quota.c) ------------ */
/* user-quota (allocations per quota key) and total-quota (all); 0 is
 * unlimited. Thread-safe (a mutex, taken on Allocate and on free only).
 * Counted per realm (tuple.realm): a key of realm 1 is not the same key
 * in realm 0, and each realm has its own total; the limits given here
 * hold for every realm that has none of its own (turn_quota_set_realm). */
int turn_quota_new(struct turn_quota **out, uint32_t user_quota,
                   uint32_t total_quota);
void turn_quota_free(struct turn_quota *q);
/* New default limits (SIGHUP), and no realm has its own any more (set
 * them again with turn_quota_set_realm). Live allocations stay; the next
 * take counts against the new limits. Thread-safe. */
void turn_quota_set_limits(struct turn_quota *q, uint32_t user_quota,
                           uint32_t total_quota);
/* Own limits for realm (< TURN_MAX_REALMS); EINVAL past. Thread-safe. */
int turn_quota_set_realm(struct turn_quota *q, unsigned realm,
                         uint32_t user_quota, uint32_t total_quota);
/* The limits that hold for realm (NULL q: 0, 0). */
void turn_quota_limits(const struct turn_quota *q, unsigned realm,
                       uint32_t *user_quota, uint32_t *total_quota);
/* Take one slot for key in realm; false when a quota is reached. */
bool turn_quota_take_in(struct turn_quota *q, unsigned realm, const char *key,
                        size_t key_len);
void turn_quota_release_in(struct turn_quota *q, unsigned realm,
                           const char *key, size_t key_len);
/* The same in realm 0. */
bool turn_quota_take(struct turn_quota *q, const char *key, size_t key_len);
void turn_quota_release(struct turn_quota *q, const char *key, size_t key_len);
/* Allocations of every realm. */
uint32_t turn_quota_total(const struct turn_quota *q);

#endif
