/*
 * edge/config/realms.c - several realms on one node: the listener and SNI maps
 * to realm indexes, the realms' credentials and quotas (edge/config/realms.h).
 * The index of a realm is its place in edge_config_realms(): fixed at
 * start, since realm-listener and realm-sni need a restart. A reload
 * builds the store from the new configuration; the cores find each realm
 * in it by name (turn_server_set_store), so a realm dropped from it knows
 * nobody until a restart.
 */
#include "edge/config/realms.h"
#include "auth/auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint8_t index_of(const struct edge_realm_map *m, const char *realm)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->names[i], realm) == 0)
			return (uint8_t)i;
	return 0;
}

int edge_realms_new(struct edge_realm_map *m, const struct edge_config *cfg)
{
	const char *names[TURN_MAX_REALMS];
	size_t n = edge_config_realms(cfg, names, TURN_MAX_REALMS);
	const struct edge_realm_list *ls = &cfg->realm_listeners;
	const struct edge_realm_list *sn = &cfg->realm_snis;

	memset(m, 0, sizeof(*m));
	if (n > TURN_MAX_REALMS)
		n = TURN_MAX_REALMS;
	for (size_t i = 0; i < n; i++)
		if (!(m->names[m->n++] = strdup(names[i])))
			goto fail;
	m->listen = calloc(ls->n + 1, sizeof(*m->listen));
	m->sni = calloc(sn->n + 1, sizeof(*m->sni));
	if (!m->listen || !m->sni)
		goto fail;
	for (size_t i = 0; i < ls->n; i++) {
		m->listen[i].addr = ls->v[i].addr;
		m->listen[i].realm = index_of(m, ls->v[i].realm);
	}
	m->nlisten = ls->n;
	for (size_t i = 0; i < sn->n; i++, m->nsni++) {
		if (!(m->sni[i].host = strdup(sn->v[i].host)))
			goto fail;
		m->sni[i].realm = index_of(m, sn->v[i].realm);
	}
	return 0;
fail:
	edge_realms_free(m);
	return ENOMEM;
}

void edge_realms_free(struct edge_realm_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->names[i]);
	for (size_t i = 0; i < m->nsni; i++)
		free(m->sni[i].host);
	free(m->listen);
	free(m->sni);
	memset(m, 0, sizeof(*m));
}

static uint16_t port_of(const struct sockaddr *sa)
{
	return ntohs(sa->sa_family == AF_INET
	                     ? ((const struct sockaddr_in *)sa)->sin_port
	                     : ((const struct sockaddr_in6 *)sa)->sin6_port);
}

static bool same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		              &((const struct sockaddr_in *)b)->sin_addr,
		              4) == 0;
	return a->sa_family == AF_INET6 &&
	       memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

uint8_t edge_realm_of_listener(const struct edge_realm_map *m,
                               const struct sockaddr *sa)
{
	int any = -1;

	for (size_t i = 0; m && i < m->nlisten; i++) {
		const struct sockaddr *e = (const void *)&m->listen[i].addr;
		if (!same_ip(e, sa))
			continue;
		if (port_of(e) == port_of(sa))
			return m->listen[i].realm;
		if (port_of(e) == 0 && any < 0)
			any = m->listen[i].realm;
	}
	return any < 0 ? 0 : (uint8_t)any;
}

bool edge_realm_of_sni(const struct edge_realm_map *m, const char *host,
                       uint8_t *realm)
{
	for (size_t i = 0; m && host && i < m->nsni; i++)
		if (strcasecmp(m->sni[i].host, host) == 0) {
			*realm = m->sni[i].realm;
			return true;
		}
	return false;
}

static void user_spec(const struct edge_user *u, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s:", u->name);

	if (!u->has_key) {
		snprintf(buf + n, cap - (size_t)n, "%s", u->password);
		return;
	}
	n += snprintf(buf + n, cap - (size_t)n, "0x");
	for (int i = 0; i < 16 && n + 2 < (int)cap; i++, n += 2)
		snprintf(buf + n, cap - (size_t)n, "%02x", u->key[i]);
}

int edge_realms_build_store(const struct edge_config *cfg,
                            struct auth_store *st, char *err, size_t err_len)
{
	const char *names[TURN_MAX_REALMS];
	size_t n = edge_config_realms(cfg, names, TURN_MAX_REALMS);
	char why[AUTH_ERR_MAX], spec[1400];
	struct auth_store *r;
	int rc;

	for (size_t i = 1; i < n && i < TURN_MAX_REALMS; i++)
		if ((rc = auth_store_add_realm(st, names[i], &r, why,
		                               sizeof(why))) != 0) {
			snprintf(err, err_len, "realm %s: %s", names[i], why);
			return rc;
		}
	for (size_t i = 0; i < cfg->realm_users.n; i++) {
		const struct edge_realm_item *it = &cfg->realm_users.v[i];
		user_spec(&it->user, spec, sizeof(spec));
		rc = auth_store_add_realm(st, it->realm, &r, why, sizeof(why));
		if (!rc)
			rc = auth_store_add_user(r, spec, why, sizeof(why));
		explicit_bzero(spec, sizeof(spec));
		if (rc) {
			snprintf(err, err_len, "realm-user %s: %s", it->realm,
			         why);
			return rc;
		}
	}
	for (size_t i = 0; i < cfg->realm_secrets.n; i++) {
		const struct edge_realm_item *it = &cfg->realm_secrets.v[i];
		rc = auth_store_add_realm(st, it->realm, &r, why, sizeof(why));
		if (!rc)
			rc = auth_store_add_secret(r, it->secret, why,
			                           sizeof(why));
		if (rc) {
			snprintf(err, err_len, "realm-secret %s: %s", it->realm,
			         why);
			return rc;
		}
	}
	return 0;
}

/* The last value given for realm in l, else def. */
static uint32_t quota_of(const struct edge_realm_list *l, const char *realm,
                         uint32_t def, bool *own)
{
	for (size_t i = l->n; i-- > 0;)
		if (strcmp(l->v[i].realm, realm) == 0) {
			*own = true;
			return l->v[i].n;
		}
	return def;
}

int edge_realms_set_quotas(const struct edge_config *cfg, struct turn_quota *q)
{
	const char *names[TURN_MAX_REALMS];
	size_t n = edge_config_realms(cfg, names, TURN_MAX_REALMS);

	for (size_t i = 0; i < n && i < TURN_MAX_REALMS; i++) {
		bool own = false;
		uint32_t uq = quota_of(&cfg->realm_user_quotas, names[i],
		                       cfg->user_quota, &own);
		uint32_t tq = quota_of(&cfg->realm_total_quotas, names[i],
		                       cfg->total_quota, &own);
		if (own && turn_quota_set_realm(q, (unsigned)i, uq, tq) != 0)
			return EINVAL;
	}
	return 0;
}
