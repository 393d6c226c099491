/*
 * edge/setup.c - turn the configuration snapshot into what the workers
 * share: the credential store (users from the config and the user-file,
 * REST secrets), the nonce keys, the peer policy, the quotas and the core
 * configuration (relay addresses, external-ip mapping, lifetimes) and
 * the TLS and DTLS contexts (edge/net/tls.c, edge/net/dtls.c) when a
 * certificate is set.
 */
#include "edge/setup.h"
#include "auth/auth.h"
#include "edge/base/log.h"
#include "edge/net/connlimit.h"
#include "edge/net/dtls.h"
#include "edge/net/sock.h"
#include "edge/net/tls.h"
#include "turn/bw.h"
#include "turn/policy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path, size_t *len, int *err)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*err = 0;
	if (!fp) {
		*err = errno;
		return NULL;
	}
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 &&
	    n < 64 * 1024 * 1024 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, fp) == (size_t)n) {
			buf[n] = 0;
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
			*err = EIO;
		}
	} else {
		*err = EFBIG;
	}
	fclose(fp);
	return buf;
}

static void user_spec(const struct edge_user *u, char *buf, size_t cap)
{
	if (u->has_key) {
		int n = snprintf(buf, cap, "%s:0x", u->name);
		for (int i = 0; i < 16 && n + 2 < (int)cap; i++, n += 2)
			snprintf(buf + n, cap - (size_t)n, "%02x", u->key[i]);
	} else {
		snprintf(buf, cap, "%s:%s", u->name, u->password);
	}
}

int edge_build_store(const struct edge_config *cfg, struct auth_store **out,
                     char *err, size_t err_len)
{
	struct auth_store *st;
	char why[AUTH_ERR_MAX], spec[1200];
	int rc;

	*out = NULL;
	if ((rc = auth_store_new(&st, cfg->realm, why, sizeof(why))) != 0) {
		snprintf(err, err_len, "realm: %s", why);
		return rc;
	}
	for (size_t i = 0; i < cfg->users.n; i++) {
		user_spec(&cfg->users.v[i], spec, sizeof(spec));
		rc = auth_store_add_user(st, spec, why, sizeof(why));
		if (rc) {
			snprintf(err, err_len, "user: %s", why);
			goto fail;
		}
	}
	if (cfg->user_file) {
		size_t len = 0;
		char *text = read_file(cfg->user_file, &len, &rc);
		if (!text) {
			snprintf(err, err_len, "user-file %s: %s",
			         cfg->user_file, strerror(rc));
			goto fail;
		}
		rc = auth_store_load_users(st, text, len, why, sizeof(why));
		free(text);
		if (rc) {
			snprintf(err, err_len, "user-file %s: %s",
			         cfg->user_file, why);
			goto fail;
		}
	}
	for (size_t i = 0; i < cfg->static_auth_secrets.n; i++) {
		rc = auth_store_add_secret(st, cfg->static_auth_secrets.v[i],
		                           why, sizeof(why));
		if (rc) {
			snprintf(err, err_len, "static-auth-secret: %s", why);
			goto fail;
		}
	}
	if ((rc = edge_realms_build_store(cfg, st, err, err_len)) != 0)
		goto fail;
	*out = st;
	return 0;
fail:
	auth_store_free(st);
	return rc ? rc : EINVAL;
}

/* Protect an own endpoint; a wildcard address stands for every local
 * address (getifaddrs, loopback included), so remote peers on the same
 * port number stay reachable. */
static int protect(struct turn_policy *p, const struct sockaddr *sa)
{
	struct ifaddrs *ifa, *i;
	int rc = 0;

	if (!edge_addr_is_any(sa) || getifaddrs(&ifa) != 0)
		return turn_policy_protect(p, sa);
	for (i = ifa; i && !rc; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != sa->sa_family)
			continue;
		union turn_addr a;
		memcpy(&a, i->ifa_addr, edge_addr_len(i->ifa_addr));
		if (a.sa.sa_family == AF_INET)
			a.in4.sin_port = htons(edge_addr_port(sa));
		else
			a.in6.sin6_port = htons(edge_addr_port(sa));
		rc = turn_policy_protect(p, &a.sa);
	}
	freeifaddrs(ifa);
	return rc;
}

/* Redis (every address its host name has at start, on its port) is
 * never a relay peer. */
static int protect_redis(struct turn_policy *p, const struct edge_redis_url *u)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *i;
	char port[8];
	int rc = 0;

	snprintf(port, sizeof(port), "%u", (unsigned)u->port);
	if (getaddrinfo(u->host, port, &hints, &res) != 0) {
		edge_warn("redis host %s does not resolve now: it is not "
		          "protected from relaying",
		          u->host);
		return 0;
	}
	for (i = res; i && !rc; i = i->ai_next)
		if (i->ai_family == AF_INET || i->ai_family == AF_INET6)
			rc = protect(p, i->ai_addr);
	freeaddrinfo(res);
	return rc;
}

/* A parsed config range as "lo-hi": the config masks the host bits of
 * ADDR/PREFIX, which the policy's own parser would refuse. */
static int policy_range(struct turn_policy *p, const struct edge_ip_range *r,
                        bool deny)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];
	char text[2 * INET6_ADDRSTRLEN + 2];

	if (!inet_ntop(r->family, r->lo, lo, sizeof(lo)) ||
	    !inet_ntop(r->family, r->hi, hi, sizeof(hi)))
		return EINVAL;
	snprintf(text, sizeof(text), "%s-%s", lo, hi);
	return deny ? turn_policy_deny(p, text) : turn_policy_allow(p, text);
}

int edge_build_policy(const struct edge_config *cfg,
                      const struct sockaddr_storage *own, size_t nown,
                      struct turn_policy **out, char *err, size_t err_len)
{
	struct turn_policy *p;
	int rc = turn_policy_new(&p);

	if (rc)
		return rc;
	turn_policy_set_allow_loopback(p, cfg->allow_loopback_peers);
	for (size_t i = 0; i < cfg->allowed_peer_ips.n && !rc; i++)
		if ((rc = policy_range(p, &cfg->allowed_peer_ips.v[i], false)))
			snprintf(err, err_len, "allowed-peer-ip %s: invalid",
			         cfg->allowed_peer_ips.v[i].text);
	for (size_t i = 0; i < cfg->denied_peer_ips.n && !rc; i++)
		if ((rc = policy_range(p, &cfg->denied_peer_ips.v[i], true)))
			snprintf(err, err_len, "denied-peer-ip %s: invalid",
			         cfg->denied_peer_ips.v[i].text);
	/* The node's own listening ports (UDP/TCP and TLS) and admin port
	 * are never relay peers. */
	for (size_t i = 0; i < nown && !rc; i++)
		rc = protect(p, (const void *)&own[i]);
	if (!rc && cfg->admin_listen.text)
		rc = turn_policy_protect(p,
		                         (const void *)&cfg->admin_listen.addr);
	if (!rc && cfg->redis.url)
		rc = protect_redis(p, &cfg->redis);
	if (rc) {
		turn_policy_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

static bool same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)
		               ->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)(const void *)b)
		               ->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)(const void *)a)
	                       ->sin6_addr,
	              &((const struct sockaddr_in6 *)(const void *)b)
	                       ->sin6_addr,
	              16) == 0;
}

static void add_relay_ip(struct turn_server_cfg *core,
                         const struct sockaddr *sa)
{
	if (core->nrelay_ips >= TURN_MAX_RELAY_IPS || edge_addr_is_any(sa))
		return;
	for (size_t i = 0; i < core->nrelay_ips; i++)
		if (same_ip(&core->relay_ips[i].local.sa, sa))
			return;
	struct turn_relay_ip *r = &core->relay_ips[core->nrelay_ips++];
	memset(r, 0, sizeof(*r));
	memcpy(&r->local, sa, edge_addr_len(sa));
	r->advertise = r->local;
}

/* relay-ip, else the listening addresses, else the host's first global
 * IPv4 and IPv6 addresses. */
static void relay_ips(const struct edge_config *cfg,
                      struct turn_server_cfg *core)
{
	struct ifaddrs *ifa, *i;

	for (size_t k = 0; k < cfg->relay_ips.n; k++)
		add_relay_ip(core, (const void *)&cfg->relay_ips.v[k].addr);
	if (core->nrelay_ips == 0)
		for (size_t k = 0; k < cfg->listening_ips.n; k++)
			add_relay_ip(
			        core,
			        (const void *)&cfg->listening_ips.v[k].addr);
	if (core->nrelay_ips > 0 || getifaddrs(&ifa) != 0)
		return;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
		                     i->ifa_addr->sa_family != AF_INET6))
			continue;
		const struct sockaddr_in6 *in6 = (const void *)i->ifa_addr;
		if (i->ifa_addr->sa_family == AF_INET6 &&
		    (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) ||
		     IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)))
			continue;
		const struct sockaddr_in *in4 = (const void *)i->ifa_addr;
		if (i->ifa_addr->sa_family == AF_INET &&
		    (ntohl(in4->sin_addr.s_addr) >> 24) == 127)
			continue;
		add_relay_ip(core, i->ifa_addr);
	}
	freeifaddrs(ifa);
}

/* external-ip = PUBLIC[/PRIVATE]: advertise PUBLIC for the relay address
 * PRIVATE, or for every relay address of PUBLIC's family. */
static void external_ips(const struct edge_config *cfg,
                         struct turn_server_cfg *core)
{
	for (size_t k = 0; k < cfg->external_ips.n; k++) {
		const struct edge_external_ip *x = &cfg->external_ips.v[k];
		const struct sockaddr *pub = (const void *)&x->public_addr;
		for (size_t i = 0; i < core->nrelay_ips; i++) {
			struct turn_relay_ip *r = &core->relay_ips[i];
			if (x->has_private
			            ? same_ip(&r->local.sa,
			                      (const void *)&x->private_addr)
			            : r->local.sa.sa_family == pub->sa_family)
				memcpy(&r->advertise, pub, edge_addr_len(pub));
		}
	}
}

/* The kernel hands out ports of net.ipv4.ip_local_port_range to any
 * socket that binds port 0 or connects; a relay port range inside it can
 * see binds fail (retried, then 508), and a port held for a
 * RESERVATION-TOKEN is not bound, so it can be taken before it is used.
 * Say so once at start. */
static void warn_ephemeral_overlap(uint16_t min_port, uint16_t max_port)
{
	FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	unsigned lo, hi;

	if (!fp)
		return;
	if (fscanf(fp, "%u %u", &lo, &hi) == 2 && min_port <= hi &&
	    max_port >= lo)
		edge_warn("relay ports %u-%u overlap the kernel's ephemeral "
		          "ports %u-%u (net.ipv4.ip_local_port_range): "
		          "prefer a relay range outside it",
		          min_port, max_port, lo, hi);
	fclose(fp);
}

int edge_build_bw(const struct edge_config *cfg, struct turn_bw_names *names,
                  struct turn_bw_table **out, char *err, size_t err_len)
{
	const struct edge_bw_list *cl = &cfg->bw_classes;
	struct turn_bw_class *v = calloc(cl->n ? cl->n : 1, sizeof(*v));
	struct turn_bw_table *t = NULL;
	const char *key = "bandwidth-class";
	int rc;

	if (!v)
		return ENOMEM;
	for (size_t i = 0; i < cl->n; i++)
		v[i] = (struct turn_bw_class){cl->v[i].cls, cl->v[i].rate_bps,
		                              cl->v[i].burst_bytes,
		                              cl->v[i].dscp};
	rc = turn_bw_table_new(&t, names, v, cl->n, cfg->default_bw_class);
	free(v);
	for (size_t i = 0; !rc && i < cfg->bw_realms.n; i++) {
		key = "realm-bandwidth-class";
		rc = turn_bw_table_map(t, TURN_BW_MAP_REALM,
		                       cfg->bw_realms.v[i].key,
		                       cfg->bw_realms.v[i].cls);
	}
	for (size_t i = 0; !rc && i < cfg->bw_users.n; i++) {
		key = "user-bandwidth-class";
		rc = turn_bw_table_map(t, TURN_BW_MAP_USER,
		                       cfg->bw_users.v[i].key,
		                       cfg->bw_users.v[i].cls);
	}
	if (rc) {
		turn_bw_table_free(t);
		snprintf(err, err_len, "%s: %s", key,
		         rc == ENOSPC ? "more than 63 class names since start "
		                        "(restart to count afresh)"
		                      : strerror(rc));
		return rc;
	}
	*out = t;
	return 0;
}

int edge_setup_shared(const struct edge_config *cfg,
                      const struct sockaddr_storage *own, size_t nown,
                      struct edge_shared *sh, char *err, size_t err_len)
{
	struct auth_nonce_key key;
	struct turn_server_cfg *core = &sh->core;
	char where[EDGE_ADDRSTR_LEN], adv[EDGE_ADDRSTR_LEN];
	int rc;

	memset(sh, 0, sizeof(*sh));
	if ((rc = edge_build_store(cfg, &sh->store, err, err_len)) != 0)
		return rc;
	key.id = 1;
	if (RAND_bytes(key.bytes, sizeof(key.bytes)) != 1 ||
	    RAND_bytes(core->seed, sizeof(core->seed)) != 1 ||
	    RAND_bytes(sh->dtls_cookie_key, sizeof(sh->dtls_cookie_key)) != 1) {
		snprintf(err, err_len, "no randomness from OpenSSL");
		return EIO;
	}
	if ((rc = auth_nonces_new(&sh->nonces, 0, &key)) != 0 ||
	    (rc = edge_build_policy(cfg, own, nown, &sh->policy, err,
	                            err_len)) != 0 ||
	    (rc = turn_quota_new(&sh->quota, cfg->user_quota,
	                         cfg->total_quota)) != 0 ||
	    (rc = edge_realms_set_quotas(cfg, sh->quota)) != 0 ||
	    (rc = turn_bw_names_new(&sh->bw_names)) != 0 ||
	    (rc = edge_build_bw(cfg, sh->bw_names, &sh->bw, err, err_len)) !=
	            0 ||
	    (rc = edge_realms_new(&sh->realms, cfg)) != 0 ||
	    (rc = turn_node_new(&sh->node, cfg->min_port, cfg->max_port)) !=
	            0 ||
	    (rc = turn_bw_pool_new(&sh->bw_pool, cfg->bps_capacity,
	                           cfg->unlimited_reservation)) != 0 ||
	    (rc = edge_connlimit_new(&sh->connlimit, cfg->max_connections,
	                             cfg->max_connections_per_ip)) != 0) {
		if (!*err)
			snprintf(err, err_len, "%s", strerror(rc));
		return rc;
	}
	if (cfg->cert && !cfg->no_tls &&
	    (rc = edge_tls_ctx_new(&sh->tls, cfg->cert, cfg->pkey,
	                           cfg->cipher_list, err, err_len)) != 0)
		return rc;
	if (cfg->cert && !cfg->no_dtls &&
	    (rc = edge_dtls_ctx_new(&sh->dtls, cfg->cert, cfg->pkey,
	                            cfg->cipher_list, err, err_len)) != 0)
		return rc;
	relay_ips(cfg, core);
	if (core->nrelay_ips == 0) {
		snprintf(err, err_len,
		         "no relay address: set relay-ip (or listening-ip)");
		return EINVAL;
	}
	external_ips(cfg, core);
	warn_ephemeral_overlap(cfg->min_port, cfg->max_port);
	core->node = sh->node;
	core->bw_pool = sh->bw_pool;
	core->min_port = cfg->min_port;
	core->max_port = cfg->max_port;
	core->default_lifetime_s = 600;
	core->max_lifetime_s = cfg->max_allocate_lifetime_s;
	if (core->max_lifetime_s < core->default_lifetime_s)
		core->default_lifetime_s = core->max_lifetime_s;
	core->permission_lifetime_s = 300;
	core->channel_lifetime_s = 600;
	core->max_bps = cfg->max_bps;
	core->auth_rate_limit = cfg->auth_rate_limit;
	core->auth_rate_burst = cfg->auth_rate_burst;
	core->software = "avedge/" AVEDGE_VERSION;
	core->no_auth = cfg->no_auth;
	core->no_tcp_relay = cfg->no_tcp_relay;
	core->rfc5766_channel_numbers = cfg->rfc5766_channel_numbers;
	core->draining = &sh->draining;
	core->max_allocations = cfg->max_allocations;
	core->cluster_quota = cfg->redis.url != NULL; /* edge/redis/redis.c */
	core->alloc_events = cfg->redis.url != NULL;
	core->realms = (const char *const *)sh->realms.names;
	core->nrealms = sh->realms.n;
	for (size_t i = 0; i < core->nrelay_ips; i++)
		edge_info("relay address %s advertised as %s",
		          edge_addr_str(&core->relay_ips[i].local.sa, where,
		                        sizeof(where)),
		          edge_addr_str(&core->relay_ips[i].advertise.sa, adv,
		                        sizeof(adv)));
	if (cfg->allow_loopback_peers)
		edge_warn("allow-loopback-peers is set: relaying to loopback "
		          "is for tests only");
	return 0;
}

void edge_shared_free(struct edge_shared *sh)
{
	auth_store_free(sh->store);
	auth_nonces_free(sh->nonces);
	turn_policy_free(sh->policy);
	turn_quota_free(sh->quota);
	turn_bw_table_free(sh->bw);
	turn_bw_names_free(sh->bw_names);
	turn_node_free(sh->node);
	turn_bw_pool_free(sh->bw_pool);
	edge_connlimit_free(sh->connlimit);
	edge_tls_ctx_free(sh->tls);
	edge_dtls_ctx_free(sh->dtls);
	edge_realms_free(&sh->realms);
	memset(sh, 0, sizeof(*sh));
}
