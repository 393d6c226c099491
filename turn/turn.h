/*
 * turn/turn.h - the TURN server core (RFC 8656), sans I/O. It takes bytes
 * from a 5-tuple and the time, and says what to send where; the daemon in
 * edge/ moves the bytes. Nothing here opens a socket or reads a clock.
 */
#ifndef AVEDGE_TURN_H
#define AVEDGE_TURN_H

#include "stun/stun.h"

#include <netinet/in.h>
#include <stdbool.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

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
};

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
	struct turn_node *node;   /* shared port pool and reservations; NULL:
	                           * the server makes its own */
	uint8_t seed[16];         /* random: hashes, port choice */
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

/* Counters of one server core (owner thread writes, anyone reads with
 * relaxed loads; see edge/worker.h EDGE_COUNT). */
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

/* A stream connection closed: its allocation ends (RFC 8656 s3.1). */
void turn_server_conn_closed(struct turn_server *s,
                             const struct turn_tuple *tuple,
                             struct turn_actions *out);

/* Expire what is due; call at turn_server_next_deadline(). */
void turn_server_tick(struct turn_server *s, uint64_t now_ms,
                      struct turn_actions *out);
uint64_t turn_server_next_deadline(const struct turn_server *s);
const struct turn_stats *turn_server_stats(const struct turn_server *s);

/* --- the relay port pool and reservations of a node (turn/node.c) ---- */
/* One per node, shared by its workers (a mutex taken on Allocate, bind
 * failure and free only): a RESERVATION-TOKEN minted on one worker can be
 * used on another. */
int turn_node_new(struct turn_node **out, uint16_t min_port, uint16_t max_port);
void turn_node_free(struct turn_node *n);

/* --- quotas shared by the workers of a node (turn/quota.c) ------------ */
/* user-quota (allocations per quota key) and total-quota (all); 0 is
 * unlimited. Thread-safe (a mutex, taken on Allocate and on free only). */
int turn_quota_new(struct turn_quota **out, uint32_t user_quota,
                   uint32_t total_quota);
void turn_quota_free(struct turn_quota *q);
/* Take one slot for key; false when a quota is reached. */
bool turn_quota_take(struct turn_quota *q, const char *key, size_t key_len);
void turn_quota_release(struct turn_quota *q, const char *key, size_t key_len);
uint32_t turn_quota_total(const struct turn_quota *q);

#endif
