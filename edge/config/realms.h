/*
 * edge/config/realms.h - several realms on one node (realm-listener, realm-sni,
 * realm-user, realm-secret, realm-*-quota; docs/config.md "Realms"): the
 * realm index (turn_tuple.realm) of each listening address and TLS server
 * name, the realms' credentials in the store, their quotas. Built once at
 * start from the configuration; read-only afterwards, shared by every
 * worker without a lock.
 */
#ifndef AVEDGE_EDGE_REALMS_H
#define AVEDGE_EDGE_REALMS_H

#include "edge/config/config.h"
#include "turn/turn.h"

#include <stdbool.h>
#include <stdint.h>

struct auth_store;

struct edge_realm_map {
	char *names[TURN_MAX_REALMS]; /* [0]: realm; owned */
	size_t n;
	struct edge_realm_listen {
		struct sockaddr_storage addr; /* port 0: any port */
		uint8_t realm;
	} * listen;
	size_t nlisten;
	struct edge_realm_sni {
		char *host; /* lower case, owned */
		uint8_t realm;
	} * sni;
	size_t nsni;
};

/* Build m from cfg (checked by the loader). 0 or ENOMEM. */
int edge_realms_new(struct edge_realm_map *m, const struct edge_config *cfg);
void edge_realms_free(struct edge_realm_map *m);

/* The realm of requests to the listening address sa (IP and port): an
 * entry with that port first, then one for any port, else 0. NULL m: 0. */
uint8_t edge_realm_of_listener(const struct edge_realm_map *m,
                               const struct sockaddr *sa);
/* The realm TLS server name host selects (case-insensitive); false when
 * none does (the listener's realm stays). */
bool edge_realm_of_sni(const struct edge_realm_map *m, const char *host,
                       uint8_t *realm);

/* Add cfg's other realms (in edge_config_realms() order) with their
 * realm-user and realm-secret entries to st, a store being built. 0 or
 * an errno with err naming the key. */
int edge_realms_build_store(const struct edge_config *cfg,
                            struct auth_store *st, char *err, size_t err_len);

/* Set the realms' own quotas (realm-user-quota, realm-total-quota; the
 * other of the two from user-quota / total-quota). 0 or EINVAL. */
int edge_realms_set_quotas(const struct edge_config *cfg, struct turn_quota *q);

#endif
