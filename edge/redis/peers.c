/*
 * edge/redis/peers.c - other nodes' listeners are never relay peers.
 *
 * Each node publishes in its registry entry the field "endpoints": every
 * "ip:port" it listens on (listening addresses, or for a wildcard its
 * relay addresses; external-ip public addresses; on the UDP/TCP, TLS and
 * DTLS ports; the admin address). Whenever the control thread reads the
 * registry (every heartbeat) and the other nodes' endpoints changed, it
 * builds one set per worker (a struct turn_policy used only for its
 * protected endpoints) and posts it to that worker, which hands it to its
 * core (turn_server_set_cluster_peers) and frees the one it replaces.
 * Each worker owns its copy, so the packet path reads it without locks
 * and nothing is freed while another thread might read it: no epochs or
 * reference counts. A node that leaves the registry leaves the sets at
 * the next read; a node's own entry is skipped (its own listeners are in
 * the peer policy already, edge/setup.c).
 */
#include "edge/base/log.h"
#include "edge/config/realms.h"
#include "edge/net/sock.h"
#include "edge/net/worker.h"
#include "edge/redis/redis_int.h"
#include "turn/policy.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PEER_ENDPOINTS 1024 /* of all other nodes together */

const char *redis_hash_field(const struct redisReply *h, const char *name)
{
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		if (h->element[i]->type == REDIS_REPLY_STRING &&
		    h->element[i + 1]->type == REDIS_REPLY_STRING &&
		    strcmp(h->element[i]->str, name) == 0)
			return h->element[i + 1]->str;
	return NULL;
}

/* --- what this node publishes ------------------------------------------ */

/* Append "ip:port " (once) to buf. */
static void add(char *buf, size_t cap, const struct sockaddr *sa, uint16_t port)
{
	union turn_addr a;
	char s[EDGE_ADDRSTR_LEN + 2];
	size_t n = strlen(buf);

	if (port == 0 || edge_addr_is_any(sa))
		return;
	memcpy(&a, sa, edge_addr_len(sa));
	if (a.sa.sa_family == AF_INET)
		a.in4.sin_port = htons(port);
	else
		a.in6.sin6_port = htons(port);
	s[0] = ' ';
	edge_addr_str(&a.sa, s + 1, sizeof(s) - 2);
	strcat(s, " ");
	size_t k = strlen(s);
	/* already there: at the start, or after a blank */
	if (strncmp(buf, s + 1, k - 1) == 0 || strstr(buf, s))
		return;
	if (n + k - 1 < cap)
		memcpy(buf + n, s + 1, k);
}

static void add_ports(char *buf, size_t cap, const struct sockaddr *sa,
                      const uint16_t *ports, size_t nports)
{
	for (size_t i = 0; i < nports; i++)
		add(buf, cap, sa, ports[i]);
}

void redis_endpoints_init(struct edge_redis *r, const struct edge_config *cfg,
                          const struct turn_server_cfg *core)
{
	bool tls = cfg->cert && !cfg->no_tls, dtls = cfg->cert && !cfg->no_dtls;
	uint16_t dport = cfg->dtls_listening_port ? cfg->dtls_listening_port
	                                          : cfg->tls_listening_port;
	uint16_t ports[3] = {cfg->listening_port,
	                     tls ? cfg->tls_listening_port : 0,
	                     dtls ? dport : 0};
	bool any = cfg->listening_ips.n == 0;
	char *buf = r->endpoints;
	size_t cap = sizeof(r->endpoints);

	buf[0] = 0;
	r->tls_port = ports[1];
	r->dtls_port = ports[2];
	for (size_t i = 0; i < cfg->listening_ips.n; i++) {
		const struct sockaddr *sa =
		        (const void *)&cfg->listening_ips.v[i].addr;
		any = any || edge_addr_is_any(sa);
		add_ports(buf, cap, sa, ports, 3);
	}
	for (size_t i = 0; any && i < core->nrelay_ips; i++) {
		add_ports(buf, cap, &core->relay_ips[i].local.sa, ports, 3);
		add_ports(buf, cap, &core->relay_ips[i].advertise.sa, ports, 3);
	}
	for (size_t i = 0; i < cfg->external_ips.n; i++)
		add_ports(buf, cap,
		          (const void *)&cfg->external_ips.v[i].public_addr,
		          ports, 3);
	if (cfg->admin_listen.text)
		add(buf, cap, (const void *)&cfg->admin_listen.addr,
		    edge_addr_port((const void *)&cfg->admin_listen.addr));
	size_t n = strlen(buf);
	if (n > 0)
		buf[n - 1] = 0; /* the last blank */
}

/* --- what the other nodes published --------------------------------------
 */

static void apply_peers(struct edge_worker *w, void *arg)
{
	turn_server_set_cluster_peers(edge_worker_core(w), arg);
}

static bool parse_endpoint(const char *s, size_t len, union turn_addr *a)
{
	char tmp[EDGE_ADDRSTR_LEN + 2];

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	return edge_addr_parse_hostport(tmp, a);
}

/* Every endpoint in the blank-separated lists of all into one set. */
static struct turn_policy *build_set(const char *all, size_t *count)
{
	struct turn_policy *p;
	union turn_addr a;

	*count = 0;
	if (turn_policy_new(&p) != 0)
		return NULL;
	for (const char *s = all; *s && *count < MAX_PEER_ENDPOINTS;) {
		size_t len = strcspn(s, " ");
		if (parse_endpoint(s, len, &a) &&
		    turn_policy_protect(p, &a.sa) == 0)
			(*count)++;
		s += len;
		s += strspn(s, " ");
	}
	return p;
}

static void post_sets(struct edge_redis *r, const char *all)
{
	size_t count = 0;

	for (size_t i = 0; i < r->nworkers; i++) {
		struct turn_policy *set = build_set(all, &count);
		if (!set ||
		    edge_worker_post(r->workers[i], apply_peers, set) != 0)
			turn_policy_free(set);
	}
	edge_info("redis: %zu listening endpoints of other nodes are never "
	          "relay peers",
	          count);
}

void redis_peers_update(struct edge_redis *r, const struct redisReply *nodes)
{
	size_t cap = 0, n = 0;
	char *all;

	for (size_t i = 0; i < nodes->elements; i++) {
		const struct redisReply *h = nodes->element[i];
		const char *ep = h->type == REDIS_REPLY_ARRAY
		                         ? redis_hash_field(h, "endpoints")
		                         : NULL;
		if (ep)
			cap += strlen(ep) + 1;
	}
	if (!(all = malloc(cap + 1)))
		return;
	all[0] = 0;
	for (size_t i = 0; i < nodes->elements; i++) {
		const struct redisReply *h = nodes->element[i];
		if (h->type != REDIS_REPLY_ARRAY)
			continue;
		const char *id = redis_hash_field(h, "id");
		const char *ep = redis_hash_field(h, "endpoints");
		if (!id || !ep || strcmp(id, r->node_id) == 0)
			continue;
		size_t k = strlen(ep);
		memcpy(all + n, ep, k);
		n += k;
		all[n++] = ' ';
		all[n] = 0;
	}
	if (r->peers_last && strcmp(r->peers_last, all) == 0) {
		free(all);
		return;
	}
	free(r->peers_last);
	r->peers_last = all;
	post_sets(r, all);
}
