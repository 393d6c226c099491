/*
 * edge/setup.h - build what the workers share from a configuration
 * snapshot: credentials, nonce keys, peer policy, quotas and the TURN
 * core's configuration, the TLS context.
 */
#ifndef AVEDGE_EDGE_SETUP_H
#define AVEDGE_EDGE_SETUP_H

#include "edge/config/config.h"
#include "edge/config/realms.h"
#include "turn/turn.h"

#include <stdatomic.h>

struct auth_store;
struct auth_nonces;
struct turn_policy;
struct turn_quota;
struct turn_bw_names;
struct turn_bw_table;
struct edge_connlimit;
struct ssl_ctx_st;

struct edge_shared {
	struct auth_store *store;
	struct auth_nonces *nonces;
	struct turn_policy *policy;
	struct turn_quota *quota;
	/* bandwidth classes: the node's counter slots by class name (for
	 * its life) and the table of the running configuration (swapped on
	 * SIGHUP) */
	struct turn_bw_names *bw_names;
	struct turn_bw_table *bw;
	struct turn_node *node;
	/* bps-capacity: what the allocations reserve (thread-safe) */
	struct turn_bw_pool *bw_pool;
	struct edge_connlimit *connlimit;
	struct turn_server_cfg core;
	struct ssl_ctx_st *tls;  /* NULL: no TLS listener (no cert, no-tls) */
	struct ssl_ctx_st *dtls; /* NULL: no DTLS listener (no cert, no-dtls) */
	uint8_t dtls_cookie_key[32]; /* random per start: DTLS cookies */
	/* realm indexes of listeners and TLS server names; core.realms
	 * points at its names */
	struct edge_realm_map realms;
	/* Node-wide drain flag (SIGUSR1/SIGUSR2, the admin API); the cores
	 * read it through core.draining. */
	atomic_int draining;
};

/* Build everything; own lists the node's listening endpoints (protected
 * from relaying). 0 or errno with err naming the key and the problem; on
 * error the caller still calls edge_shared_free(). */
int edge_setup_shared(const struct edge_config *cfg,
                      const struct sockaddr_storage *own, size_t nown,
                      struct edge_shared *sh, char *err, size_t err_len);
void edge_shared_free(struct edge_shared *sh);

/* A new credential store from cfg (users, user-file, secrets, and the
 * other realms with their realm-user and realm-secret entries). */
int edge_build_store(const struct edge_config *cfg, struct auth_store **out,
                     char *err, size_t err_len);

/* A new peer policy from cfg (allow-loopback-peers, allowed-peer-ip,
 * denied-peer-ip) with own, the admin listener and Redis protected (what
 * edge_setup_shared builds; the daemon rebuilds it when the peer lists in
 * Redis change and adds those). 0 or errno with err. */
int edge_build_policy(const struct edge_config *cfg,
                      const struct sockaddr_storage *own, size_t nown,
                      struct turn_policy **out, char *err, size_t err_len);

/* A new table of bandwidth classes from cfg (bandwidth-class,
 * default-bandwidth-class, realm- and user-bandwidth-class) with its
 * names in names; always a table, empty without classes. 0 or errno with
 * err. */
int edge_build_bw(const struct edge_config *cfg, struct turn_bw_names *names,
                  struct turn_bw_table **out, char *err, size_t err_len);

#endif
