/*
 * edge/config/config_realms.c - the realms of a configuration (realm and the
 * realm-* keys, config.h struct edge_realm_item): their list, which fixes
 * each realm's index for the life of the process (turn_tuple.realm), and
 * the checks across keys the loader runs once every key is read. Pure.
 */
#include "edge/config/config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define REALMS_MAX 16 /* TURN_MAX_REALMS, AUTH_REALMS_MAX */

static bool listed(const char **names, size_t n, const char *realm)
{
	for (size_t i = 0; i < n && i < REALMS_MAX; i++)
		if (strcmp(names[i], realm) == 0)
			return true;
	return false;
}

static size_t add(const char **names, size_t n, size_t cap,
                  const struct edge_realm_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		if (listed(names, n < cap ? n : cap, l->v[i].realm))
			continue;
		if (n < cap)
			names[n] = l->v[i].realm;
		n++;
	}
	return n;
}

size_t edge_config_realms(const struct edge_config *cfg, const char **names,
                          size_t cap)
{
	size_t n = 0;

	if (cap)
		names[0] = cfg->realm ? cfg->realm : "";
	n = 1;
	n = add(names, n, cap, &cfg->realm_listeners);
	return add(names, n, cap, &cfg->realm_snis);
}

static bool same_ip(const struct sockaddr_storage *a,
                    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		              &((const struct sockaddr_in *)b)->sin_addr,
		              4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/* Every realm-listener address is a listening-ip (a wildcard socket
 * cannot tell the addresses apart). */
static int check_listeners(const struct edge_config *c, const char **key,
                           char *why, size_t len)
{
	for (size_t i = 0; i < c->realm_listeners.n; i++) {
		const struct edge_realm_item *it = &c->realm_listeners.v[i];
		bool found = false;
		for (size_t k = 0; k < c->listening_ips.n && !found; k++)
			found = same_ip(&it->addr, &c->listening_ips.v[k].addr);
		if (!found) {
			*key = "realm-listener";
			snprintf(why, len,
			         "'%s': the address is not a listening-ip "
			         "(set listening-ip for each address)",
			         it->text);
			return 1;
		}
	}
	return 0;
}

int edge_config_check_realms(const struct edge_config *c, const char **key,
                             char *why, size_t len)
{
	const char *names[REALMS_MAX];
	size_t n = edge_config_realms(c, names, REALMS_MAX);
	const struct {
		const char *key;
		const struct edge_realm_list *l;
	} uses[] = {
	        {"realm-user", &c->realm_users},
	        {"realm-secret", &c->realm_secrets},
	        {"realm-user-quota", &c->realm_user_quotas},
	        {"realm-total-quota", &c->realm_total_quotas},
	};

	if (n > REALMS_MAX) {
		*key = c->realm_snis.n ? "realm-sni" : "realm-listener";
		snprintf(why, len, "more than %d realms (realm included)",
		         REALMS_MAX);
		return 1;
	}
	if (check_listeners(c, key, why, len))
		return 1;
	for (size_t u = 0; u < sizeof(uses) / sizeof(uses[0]); u++)
		for (size_t i = 0; i < uses[u].l->n; i++) {
			const char *r = uses[u].l->v[i].realm;
			if (listed(names, n, r))
				continue;
			*key = uses[u].key;
			snprintf(why, len,
			         "realm '%s' is neither realm nor chosen by a "
			         "realm-listener or realm-sni",
			         r);
			return 1;
		}
	return 0;
}
