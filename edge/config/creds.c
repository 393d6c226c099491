/*
 * edge/config/creds.c - credentials added through the admin API, held in
 * process, and the configuration's user names and secret digests (see
 * edge/config/creds.h). One mutex guards everything: the admin thread changes
 * the API sets, the main thread merges them into the stores it builds.
 */
#include "edge/config/creds.h"
#include "auth/auth.h"
#include "edge/base/log.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct api_user {
	char *name;
	char *password; /* NULL: key holds the MD5 key */
	uint8_t key[16];
};

struct digest {
	uint8_t d[32];
};

struct edge_creds {
	pthread_mutex_t mu;
	struct api_user *users;
	size_t nusers, users_cap;
	char **secrets;
	size_t nsecrets, secrets_cap;
	char **config_names; /* sorted */
	size_t nconfig;
	struct digest *config_secrets;
	size_t nconfig_secrets;
};

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void sha256(const char *s, struct digest *out)
{
	unsigned int n = 0;

	EVP_Digest(s, strlen(s), out->d, &n, EVP_sha256(), NULL);
}

int edge_creds_new(struct edge_creds **out)
{
	struct edge_creds *c = calloc(1, sizeof(*c));

	*out = c;
	if (!c)
		return ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	return 0;
}

static void free_config(struct edge_creds *c)
{
	for (size_t i = 0; i < c->nconfig; i++)
		free(c->config_names[i]);
	free(c->config_names);
	free(c->config_secrets);
	c->config_names = NULL;
	c->config_secrets = NULL;
	c->nconfig = c->nconfig_secrets = 0;
}

void edge_creds_free(struct edge_creds *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nusers; i++) {
		free(c->users[i].name);
		wipe_free(c->users[i].password);
	}
	OPENSSL_cleanse(c->users, c->users_cap * sizeof(*c->users));
	free(c->users);
	for (size_t i = 0; i < c->nsecrets; i++)
		wipe_free(c->secrets[i]);
	free(c->secrets);
	free_config(c);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* --- the configuration's names ---------------------------------------- */

struct names {
	char **v;
	size_t n, cap;
};

static int names_add(struct names *ns, const char *p, size_t len)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? 2 * ns->cap : 16;
		char **v = realloc(ns->v, cap * sizeof(*v));
		if (!v)
			return ENOMEM;
		ns->v = v;
		ns->cap = cap;
	}
	if (!(ns->v[ns->n] = strndup(p, len)))
		return ENOMEM;
	ns->n++;
	return 0;
}

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* The names of a user file (the store read it just before, so it is
 * well formed: "name:password" lines, '#' comments, blank lines). A file
 * that went away since is just skipped. */
static int file_names(const char *path, struct names *ns)
{
	FILE *fp = fopen(path, "r");
	char line[AUTH_LINE_MAX + 2];
	int rc = 0;

	if (!fp)
		return 0;
	while (!rc && fgets(line, sizeof(line), fp)) {
		char *p = line, *colon;
		while (blank(*p))
			p++;
		if (*p == '#' || !(colon = strchr(p, ':')))
			continue;
		rc = names_add(ns, p, (size_t)(colon - p));
	}
	fclose(fp);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int note_config(struct edge_creds *c, const struct edge_config *cfg)
{
	struct names ns = {0};
	struct digest *ds = NULL;
	size_t nsec = cfg->static_auth_secrets.n;
	int rc = 0;

	for (size_t i = 0; i < cfg->users.n && !rc; i++)
		rc = names_add(&ns, cfg->users.v[i].name,
		               strlen(cfg->users.v[i].name));
	if (!rc && cfg->user_file)
		rc = file_names(cfg->user_file, &ns);
	if (!rc && nsec && !(ds = calloc(nsec, sizeof(*ds))))
		rc = ENOMEM;
	if (rc) {
		for (size_t i = 0; i < ns.n; i++)
			free(ns.v[i]);
		free(ns.v);
		return rc;
	}
	for (size_t i = 0; i < nsec; i++)
		sha256(cfg->static_auth_secrets.v[i], &ds[i]);
	if (ns.n)
		qsort(ns.v, ns.n, sizeof(*ns.v), cmp_name);
	free_config(c);
	c->config_names = ns.v;
	c->nconfig = ns.n;
	c->config_secrets = ds;
	c->nconfig_secrets = nsec;
	return 0;
}

static bool config_user(struct edge_creds *c, const char *name)
{
	return c->nconfig && bsearch(&name, c->config_names, c->nconfig,
	                             sizeof(*c->config_names), cmp_name);
}

static bool config_secret(struct edge_creds *c, const char *secret)
{
	struct digest d;
	bool found = false;

	sha256(secret, &d);
	for (size_t i = 0; i < c->nconfig_secrets; i++)
		found |= CRYPTO_memcmp(d.d, c->config_secrets[i].d, 32) == 0;
	return found;
}

/* --- merging into a store ------------------------------------------------ */

static int add_user(struct auth_store *st, const struct api_user *u)
{
	size_t len =
	        strlen(u->name) + 40 + (u->password ? strlen(u->password) : 0);
	char *spec = malloc(len), why[AUTH_ERR_MAX];
	int n, rc;

	if (!spec)
		return ENOMEM;
	if (u->password) {
		n = snprintf(spec, len, "%s:%s", u->name, u->password);
	} else {
		n = snprintf(spec, len, "%s:0x", u->name);
		for (int i = 0; i < 16; i++, n += 2)
			snprintf(spec + n, len - (size_t)n, "%02x", u->key[i]);
	}
	rc = auth_store_add_user(st, spec, why, sizeof(why));
	OPENSSL_cleanse(spec, (size_t)n);
	free(spec);
	if (rc == EEXIST) /* a configuration user of that name wins */
		edge_warn("admin API user %s is shadowed by a configuration "
		          "user of that name",
		          u->name);
	else if (rc == EINVAL)
		edge_warn("admin API user %s skipped: %s", u->name, why);
	return rc == ENOMEM ? ENOMEM : 0;
}

int edge_creds_merge(struct edge_creds *c, const struct edge_config *cfg,
                     struct auth_store *st)
{
	char why[AUTH_ERR_MAX];
	int rc;

	pthread_mutex_lock(&c->mu);
	rc = note_config(c, cfg);
	for (size_t i = 0; i < c->nusers && !rc; i++)
		rc = add_user(st, &c->users[i]);
	for (size_t i = 0; i < c->nsecrets && !rc; i++) {
		int e = auth_store_add_secret(st, c->secrets[i], why,
		                              sizeof(why));
		if (e == ENOMEM)
			rc = e;
		else if (e)
			edge_warn("admin API REST secret skipped: %s",
			          e == ENOSPC ? "too many secrets" : why);
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* --- the admin API's changes --------------------------------------------- */

bool edge_creds_is_config_user(struct edge_creds *c, const char *name)
{
	bool r;

	pthread_mutex_lock(&c->mu);
	r = config_user(c, name);
	pthread_mutex_unlock(&c->mu);
	return r;
}

bool edge_creds_is_config_secret(struct edge_creds *c, const char *secret)
{
	bool r;

	pthread_mutex_lock(&c->mu);
	r = config_secret(c, secret);
	pthread_mutex_unlock(&c->mu);
	return r;
}

static struct api_user *find_user(struct edge_creds *c, const char *name)
{
	for (size_t i = 0; i < c->nusers; i++)
		if (strcmp(c->users[i].name, name) == 0)
			return &c->users[i];
	return NULL;
}

static int grow_users(struct edge_creds *c)
{
	size_t cap = c->users_cap ? 2 * c->users_cap : 16;
	struct api_user *v;

	if (c->nusers < c->users_cap)
		return 0;
	if (c->nusers >= EDGE_CREDS_USERS_MAX)
		return ENOSPC;
	if (!(v = realloc(c->users, cap * sizeof(*v))))
		return ENOMEM;
	c->users = v;
	c->users_cap = cap;
	return 0;
}

static int set_user(struct edge_creds *c, const char *name,
                    const char *password, const uint8_t key[16], bool *created)
{
	struct api_user *u = find_user(c, name);
	char *pw = password ? strdup(password) : NULL;
	int rc;

	if (password && !pw)
		return ENOMEM;
	*created = !u;
	if (!u) {
		char *copy = strdup(name);
		if (!copy || (rc = grow_users(c)) != 0) {
			free(copy);
			wipe_free(pw);
			return copy ? rc : ENOMEM;
		}
		u = &c->users[c->nusers++];
		memset(u, 0, sizeof(*u));
		u->name = copy;
	}
	wipe_free(u->password);
	u->password = pw;
	if (!pw)
		memcpy(u->key, key, 16);
	else
		OPENSSL_cleanse(u->key, sizeof(u->key));
	return 0;
}

int edge_creds_set_user(struct edge_creds *c, const char *name,
                        const char *password, const uint8_t key[16],
                        bool *created)
{
	int rc;

	*created = false;
	pthread_mutex_lock(&c->mu);
	rc = config_user(c, name) ? EPERM
	                          : set_user(c, name, password, key, created);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int edge_creds_del_user(struct edge_creds *c, const char *name)
{
	struct api_user *u;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (config_user(c, name)) {
		rc = EPERM;
	} else if (!(u = find_user(c, name))) {
		rc = ENOENT;
	} else {
		free(u->name);
		wipe_free(u->password);
		*u = c->users[--c->nusers];
		OPENSSL_cleanse(&c->users[c->nusers], sizeof(*u));
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static ssize_t find_secret(struct edge_creds *c, const char *secret)
{
	size_t len = strlen(secret);

	for (size_t i = 0; i < c->nsecrets; i++)
		if (strlen(c->secrets[i]) == len &&
		    CRYPTO_memcmp(c->secrets[i], secret, len) == 0)
			return (ssize_t)i;
	return -1;
}

static int add_secret(struct edge_creds *c, const char *secret,
                      size_t max_total, bool *created)
{
	char *copy;

	if (config_secret(c, secret))
		return EPERM;
	if (find_secret(c, secret) >= 0)
		return 0;
	if (c->nconfig_secrets + c->nsecrets >= max_total)
		return ENOSPC;
	if (c->nsecrets == c->secrets_cap) {
		size_t cap = c->secrets_cap ? 2 * c->secrets_cap : 4;
		char **v = realloc(c->secrets, cap * sizeof(*v));
		if (!v)
			return ENOMEM;
		c->secrets = v;
		c->secrets_cap = cap;
	}
	if (!(copy = strdup(secret)))
		return ENOMEM;
	c->secrets[c->nsecrets++] = copy;
	*created = true;
	return 0;
}

int edge_creds_add_secret(struct edge_creds *c, const char *secret,
                          size_t max_total, bool *created)
{
	int rc;

	*created = false;
	pthread_mutex_lock(&c->mu);
	rc = add_secret(c, secret, max_total, created);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int edge_creds_del_secret(struct edge_creds *c, const char *secret)
{
	ssize_t i;
	int rc = 0;

	pthread_mutex_lock(&c->mu);
	if (config_secret(c, secret)) {
		rc = EPERM;
	} else if ((i = find_secret(c, secret)) < 0) {
		rc = ENOENT;
	} else {
		wipe_free(c->secrets[i]);
		c->secrets[i] = c->secrets[--c->nsecrets];
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

/* --- listing -------------------------------------------------------------- */

void edge_creds_each_user(struct edge_creds *c,
                          void (*fn)(void *arg, const char *name,
                                     enum edge_cred_source src),
                          void *arg)
{
	pthread_mutex_lock(&c->mu);
	for (size_t i = 0; i < c->nconfig; i++)
		if (i == 0 ||
		    strcmp(c->config_names[i], c->config_names[i - 1]) != 0)
			fn(arg, c->config_names[i], EDGE_CRED_CONFIG);
	for (size_t i = 0; i < c->nusers; i++)
		if (!config_user(c, c->users[i].name))
			fn(arg, c->users[i].name, EDGE_CRED_API);
	pthread_mutex_unlock(&c->mu);
}

void edge_creds_counts(struct edge_creds *c, struct edge_creds_counts *out)
{
	pthread_mutex_lock(&c->mu);
	out->config_users = c->nconfig;
	out->api_users = c->nusers;
	out->config_secrets = c->nconfig_secrets;
	out->api_secrets = c->nsecrets;
	pthread_mutex_unlock(&c->mu);
}
