/*
 * edge/redis/peers.c - other nodes' listeners are never relay peers.
 *
 * Each node publishes in its registry entry the field "endpoints": every
 * "ip:port" it listens on (listening addresses, or for a wildcard its
 * relay addresses; external-ip public addresses; on the UDP/TCP, TLS and
 * DTLS ports; the admin address). Whenever the control thread reads the
 * registry (every heartbeat) and the other nodes' endpoints changed, it
 * builds one set per worker (a struct turn_policy used only for its
 * protected endpoints) and hands it to that worker
 * (edge_worker_set_cluster_peers), whose core frees the one it replaces
 * and withdraws channels and RFC 6062 connections to the new endpoints.
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

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PEER_ENDPOINTS 1024 /* of all other nodes together */

/* One hash: its string pairs only. */
static int hash_decode(struct cluster_rec *rec, const redisReply *h)
{
	size_t n = h->type == REDIS_REPLY_ARRAY ? h->elements : 0, k = 0;
	const char **v = calloc(n ? n : 1, sizeof(*v));
	size_t *lens = calloc(n ? n : 1, sizeof(*lens));
	int err = ENOMEM;

	for (size_t i = 0; v && lens && i + 1 < n; i += 2) {
		const redisReply *f = h->element[i], *x = h->element[i + 1];
		if (f->type != REDIS_REPLY_STRING ||
		    x->type != REDIS_REPLY_STRING)
			continue;
		v[k] = f->str;
		lens[k++] = f->len;
		v[k] = x->str;
		lens[k++] = x->len;
	}
	if (v && lens)
		err = cluster_rec_decode(rec, "", v, lens, k);
	free(v);
	free(lens);
	return err;
}

int redis_nodes_decode(const redisReply *rep, struct cluster_recs **out)
{
	struct cluster_recs *rs;
	int err = 0;

	*out = NULL;
	if (rep->type != REDIS_REPLY_ARRAY)
		return EBADMSG;
	if (!(rs = calloc(1, sizeof(*rs))) ||
	    !(rs->v = calloc(rep->elements ? rep->elements : 1,
	                     sizeof(*rs->v)))) {
		free(rs);
		return ENOMEM;
	}
	for (size_t i = 0; !err && i < rep->elements; i++) {
		err = hash_decode(&rs->v[i], rep->element[i]);
		rs->n = i +
		        1; /* cleared by cluster_recs_free, even half done */
	}
	rs->total = rs->n;
	if (err) {
		cluster_recs_free(rs);
		return err;
	}
	*out = rs;
	return 0;
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

static bool parse_endpoint(const char *s, size_t len, union turn_addr *a)
{
	char ip[64];
	uint16_t port;
	struct sockaddr_storage ss;

	if (len >= EDGE_ADDRSTR_LEN + 2 ||
	    !cluster_endpoint_split(s, len, ip, sizeof(ip), &port) ||
	    edge_addr_parse(ip, port, &ss) != 0)
		return false;
	memcpy(a, &ss, edge_addr_len((const void *)&ss));
	return true;
}

/* Every endpoint in the blank-separated lists of all into one set. */
static struct turn_policy *build_set(const char *all, size_t *count)
{
	struct turn_policy *p;
	union turn_addr a;
	const char *tok;
	size_t len;

	*count = 0;
	if (turn_policy_new(&p) != 0)
		return NULL;
	while (*count < MAX_PEER_ENDPOINTS &&
	       cluster_endpoint_next(&all, &tok, &len))
		if (parse_endpoint(tok, len, &a) &&
		    turn_policy_protect(p, &a.sa) == 0)
			(*count)++;
	return p;
}

static void post_sets(struct edge_redis *r, const char *all)
{
	size_t count = 0;

	for (size_t i = 0; i < r->nworkers; i++) {
		struct turn_policy *set = build_set(all, &count);
		if (!set ||
		    edge_worker_set_cluster_peers(r->workers[i], set) != 0)
			turn_policy_free(set);
	}
	edge_info("redis: %zu listening endpoints of other nodes are never "
	          "relay peers",
	          count);
}

void redis_peers_update(struct edge_redis *r, const struct cluster_recs *nodes)
{
	char *all = cluster_peer_endpoints(nodes->v, nodes->n, r->node_id);

	if (!all)
		return;
	if (r->peers_last && strcmp(r->peers_last, all) == 0) {
		free(all);
		return;
	}
	free(r->peers_last);
	r->peers_last = all;
	post_sets(r, all);
}
