/*
 * edge/config/creds.h - the credentials the admin API manages in process
 * (POST/DELETE /api/users and /api/secrets when no Redis is configured),
 * and what the API must know about the configuration's own: the names of
 * its users (the API may not change them: 409) and its REST secrets (as
 * SHA-256 digests, only to refuse deleting them).
 *
 * Owned by the daemon. The main thread merges it into every store it
 * builds (SIGHUP, a Redis change, an API change); the admin thread reads
 * and changes it. Every function takes the object's mutex; nothing here
 * is on the packet path (the workers only see the stores built from it).
 * Not persisted: what the API added is gone after a restart.
 * Everything concerns the node's default realm (`realm`).
 */
#ifndef AVEDGE_EDGE_CREDS_H
#define AVEDGE_EDGE_CREDS_H

#include "edge/config/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EDGE_CREDS_USERS_MAX 10000 /* API users held in process */

struct edge_creds;
struct auth_store;

enum edge_cred_source { EDGE_CRED_CONFIG, EDGE_CRED_API };

int edge_creds_new(struct edge_creds **out);
/* Passwords and secrets are wiped. NULL is fine. */
void edge_creds_free(struct edge_creds *c);

/* Main thread, right after edge_build_store(cfg, st): remember cfg's
 * users (user and user-file) and REST secrets, then add the API's users
 * and secrets to st (a configuration user of the same name wins; past
 * AUTH_SECRETS_MAX secrets the rest is skipped with a warning). 0 or
 * ENOMEM. */
int edge_creds_merge(struct edge_creds *c, const struct edge_config *cfg,
                     struct auth_store *st);

/* Admin thread (any thread, really). name and secret are NUL-terminated
 * and already validated by the caller. */
bool edge_creds_is_config_user(struct edge_creds *c, const char *name);
bool edge_creds_is_config_secret(struct edge_creds *c, const char *secret);
/* Add or replace an API user: password (copied), or when password is
 * NULL the 16-byte MD5 key. 0, EPERM (a configuration user), ENOSPC
 * (EDGE_CREDS_USERS_MAX) or ENOMEM; *created says it was new. */
int edge_creds_set_user(struct edge_creds *c, const char *name,
                        const char *password, const uint8_t key[16],
                        bool *created);
/* 0, EPERM (a configuration user) or ENOENT. */
int edge_creds_del_user(struct edge_creds *c, const char *name);
/* Add an API secret: 0, EPERM (the configuration has it), ENOSPC (more
 * than max_total secrets with the configuration's) or ENOMEM; adding one
 * the API already has is 0 with *created false. */
int edge_creds_add_secret(struct edge_creds *c, const char *secret,
                          size_t max_total, bool *created);
/* 0, EPERM (a configuration secret) or ENOENT. */
int edge_creds_del_secret(struct edge_creds *c, const char *secret);

/* Every user name with its source: the configuration's, then the API's
 * that the configuration does not shadow. fn runs under the mutex: it
 * must not call back into c. */
void edge_creds_each_user(struct edge_creds *c,
                          void (*fn)(void *arg, const char *name,
                                     enum edge_cred_source src),
                          void *arg);
struct edge_creds_counts {
	size_t config_users, api_users, config_secrets, api_secrets;
};
void edge_creds_counts(struct edge_creds *c, struct edge_creds_counts *out);

#endif
