/*
 * auth/realms.c - several realms in one credential store: the store made
 * by auth_store_new() is the default realm and owns up to
 * AUTH_REALMS_MAX - 1 others, each a complete single-realm store. Built
 * once, then read-only like the rest of the store (auth.h, Threads).
 * Pure.
 */
#include "auth/auth_int.h"

#include <errno.h>
#include <string.h>

static struct auth_store *find(const struct auth_store *s, const char *realm)
{
	size_t len = strlen(realm);

	if (store_realm_is(s, realm, len))
		return (struct auth_store *)s;
	for (size_t i = 0; i < s->nrealms; i++)
		if (store_realm_is(s->realms[i], realm, len))
			return s->realms[i];
	return NULL;
}

int auth_store_add_realm(struct auth_store *s, const char *realm,
                         struct auth_store **out, char *err, size_t err_len)
{
	struct auth_store *r;
	int rc;

	*out = NULL;
	if (!s || !realm)
		return auth_set_err(EINVAL, err, err_len, "realm is missing");
	if ((r = find(s, realm))) {
		*out = r;
		return 0;
	}
	if (s->nrealms + 1 >= AUTH_REALMS_MAX)
		return auth_set_err(ENOSPC, err, err_len,
		                    "realm '%s': more than %d realms", realm,
		                    AUTH_REALMS_MAX);
	if ((rc = auth_store_new(&r, realm, err, err_len)) != 0)
		return rc;
	s->realms[s->nrealms++] = r;
	*out = r;
	return 0;
}

const struct auth_store *auth_store_find_realm(const struct auth_store *s,
                                               const char *realm)
{
	return s && realm ? find(s, realm) : NULL;
}

const struct auth_store *auth_store_realm_at(const struct auth_store *s,
                                             size_t i)
{
	if (!s)
		return NULL;
	if (i == 0)
		return s;
	return i - 1 < s->nrealms ? s->realms[i - 1] : NULL;
}
