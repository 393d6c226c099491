/*
 * edge/config/config_bw.c - the bandwidth keys (config.h struct
 * edge_bw_item): bandwidth-class, realm-bandwidth-class and
 * user-bandwidth-class parsed line by line (syntax, ranges, a class
 * defined twice, a realm or user mapped twice: the line at fault), and the
 * checks across keys once all are read (every class named is defined,
 * every realm mapped is a realm of the node).
 * The names and ranges are turn/bw.h's, so what passes here builds a
 * turn_bw_table. Pure apart from malloc.
 */
#include "edge/config/config.h"
#include "turn/bw.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 763 /* a realm's or a user's name */

/* "expected <form> (<what>), got '<value>'"; EINVAL. */
__attribute__((format(printf, 5, 6))) static int
bad(const struct edge_config_key *k, const char *value, char *why,
    size_t why_len, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(why, why_len, "expected %s (%s), got '%s'", k->arg, what,
	         value ? value : "");
	return EINVAL;
}

/* A decimal of 1..max digits' worth, the whole of s[0..len). */
static bool number(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (max - (s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* The fields of NAME:RATE[:BURST[:DSCP]] into it; a reason or NULL. */
static const char *split_class(const char *v, struct edge_bw_item *it)
{
	const char *f[5];
	size_t len[5], n = 0;
	uint64_t x;

	for (const char *p = v; n < 5; n++) {
		const char *c = strchr(p, ':');
		f[n] = p;
		len[n] = c ? (size_t)(c - p) : strlen(p);
		if (!c) {
			n++;
			break;
		}
		p = c + 1;
	}
	if (n < 2 || n > 4)
		return "two to four fields";
	if (!(it->cls = strndup(f[0], len[0])) || !turn_bw_name_ok(it->cls))
		return "NAME of 1..32 characters A-Z a-z 0-9 . _ -, not "
		       "max-bps";
	if (!number(f[1], len[1], TURN_BW_RATE_MAX, &it->rate_bps) ||
	    !it->rate_bps)
		return "BYTES_PER_S an integer 1..1099511627776";
	if (n > 2 && len[2] &&
	    (!number(f[2], len[2], TURN_BW_RATE_MAX, &it->burst_bytes) ||
	     !it->burst_bytes))
		return "BURST_BYTES an integer 1..1099511627776, or empty";
	it->dscp = -1;
	if (n > 3) {
		if (!number(f[3], len[3], 63, &x))
			return "DSCP an integer 0..63";
		it->dscp = (int)x;
	}
	return NULL;
}

/* KEY:NAME into it (a realm's KEY has no '@'); a reason or NULL. */
static const char *split_map(const char *v, bool realm, struct edge_bw_item *it)
{
	const char *c = strchr(v, ':');
	size_t klen = c ? (size_t)(c - v) : 0;

	if (!c || klen == 0 || klen > KEY_MAX)
		return "a name of 1..763 characters before ':'";
	for (size_t i = 0; i < klen; i++)
		if (v[i] < 0x21 || v[i] > 0x7e || (realm && v[i] == '@'))
			return realm ? "REALM of printable ASCII without "
			               "blanks, ':' or '@'"
			             : "USER of printable ASCII without blanks "
			               "or ':'";
	if (!(it->key = strndup(v, klen)) || !(it->cls = strdup(c + 1)))
		return NULL; /* ENOMEM below */
	if (!turn_bw_name_ok(it->cls))
		return "a class NAME of 1..32 characters A-Z a-z 0-9 . _ -";
	return NULL;
}

static void release_item(struct edge_bw_item *it)
{
	free(it->text);
	free(it->key);
	free(it->cls);
	memset(it, 0, sizeof(*it));
}

/* The item of l that has it's key (a map) or class name (classes). */
static const struct edge_bw_item *same(const struct edge_bw_list *l,
                                       const struct edge_bw_item *it)
{
	for (size_t i = 0; i < l->n; i++)
		if (it->key ? strcmp(l->v[i].key, it->key) == 0
		            : strcmp(l->v[i].cls, it->cls) == 0)
			return &l->v[i];
	return NULL;
}

static int twice(const struct edge_config_key *k, const char *value, char *why,
                 size_t why_len, const struct edge_bw_item *it,
                 const struct edge_bw_item *was)
{
	char at[40] = "";

	if (was->line)
		snprintf(at, sizeof(at), " (line %u)", was->line);
	if (it->key)
		return bad(k, value, why, why_len,
		           "'%s' is mapped already%s: once each", it->key, at);
	return bad(k, value, why, why_len, "class '%s' is defined already%s",
	           it->cls, at);
}

int edge_config_bw_parse(const struct edge_config_key *k, void *field,
                         const char *value, char *why, size_t why_len)
{
	struct edge_bw_list *l = field;
	struct edge_bw_item it = {0}, *a;
	const struct edge_bw_item *was;
	bool cls = strcmp(k->name, "bandwidth-class") == 0;
	const char *err;

	if (!value)
		return bad(k, value, why, why_len, "a value");
	err = cls ? split_class(value, &it)
	          : split_map(value, k->name[0] == 'r', &it);
	if (err) {
		release_item(&it);
		return bad(k, value, why, why_len, "%s", err);
	}
	if (!it.cls || (!cls && !it.key) || !(it.text = strdup(value))) {
		release_item(&it);
		return ENOMEM;
	}
	if ((was = same(l, &it))) {
		int rc = twice(k, value, why, why_len, &it, was);
		release_item(&it);
		return rc;
	}
	if (!(a = realloc(l->v, (l->n + 1) * sizeof(*a)))) {
		release_item(&it);
		return ENOMEM;
	}
	l->v = a;
	a[l->n++] = it;
	return 0;
}

void edge_config_bw_release(void *field)
{
	struct edge_bw_list *l = field;

	for (size_t i = 0; i < l->n; i++)
		release_item(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

void edge_config_bw_mark(const struct edge_config_key *k,
                         struct edge_config *cfg, unsigned line)
{
	struct edge_bw_list *l =
	        (struct edge_bw_list *)(void *)((char *)cfg + k->offset);

	if (k->type == EDGE_CT_BW_LIST && l->n)
		l->v[l->n - 1].line = line;
}

/* --- across keys ----------------------------------------------------- */

static bool defined(const struct edge_config *c, const char *name)
{
	for (size_t i = 0; i < c->bw_classes.n; i++)
		if (strcmp(c->bw_classes.v[i].cls, name) == 0)
			return true;
	return false;
}

int edge_config_check_bw(const struct edge_config *c, const char **key,
                         unsigned *line, char *why, size_t len)
{
	const struct {
		const char *key;
		const struct edge_bw_list *l;
	} maps[] = {
	        {"realm-bandwidth-class", &c->bw_realms},
	        {"user-bandwidth-class", &c->bw_users},
	};

	*line = 0;
	if (c->default_bw_class && !defined(c, c->default_bw_class)) {
		*key = "default-bandwidth-class";
		snprintf(why, len,
		         "class '%s' is not defined (bandwidth-class)",
		         c->default_bw_class);
		return 1;
	}
	const char *realms[TURN_BW_SLOTS];
	size_t nr = edge_config_realms(c, realms, TURN_BW_SLOTS);
	for (size_t i = 0; i < c->bw_realms.n; i++) {
		const struct edge_bw_item *it = &c->bw_realms.v[i];
		bool known = false;
		for (size_t r = 0; r < nr && r < TURN_BW_SLOTS && !known; r++)
			known = strcmp(realms[r], it->key) == 0;
		if (known)
			continue;
		*key = "realm-bandwidth-class";
		*line = it->line;
		snprintf(why, len,
		         "'%s': realm '%s' is neither realm nor chosen by a "
		         "realm-listener or realm-sni",
		         it->text, it->key);
		return 1;
	}
	for (size_t m = 0; m < 2; m++)
		for (size_t i = 0; i < maps[m].l->n; i++) {
			const struct edge_bw_item *it = &maps[m].l->v[i];
			if (defined(c, it->cls))
				continue;
			*key = maps[m].key;
			*line = it->line;
			snprintf(why, len,
			         "'%s': class '%s' is not defined "
			         "(bandwidth-class)",
			         it->text, it->cls);
			return 1;
		}
	if (c->bw_classes.n > TURN_BW_SLOTS - 1) {
		*key = "bandwidth-class";
		snprintf(why, len, "more than %d classes", TURN_BW_SLOTS - 1);
		return 1;
	}
	return 0;
}
