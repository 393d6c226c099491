/*
 * edge/config/config.c - builds a configuration snapshot: defaults, then the
 * file named by -c/--config, then the command line (which wins; list values are
 * appended). This file owns the syntax (lines, comments, quotes,
 * --key[=value]), the precedence, the checks that span keys and --help;
 * config_keys.c owns each key's type, range and default, config_values.c
 * the parser of each type.
 *
 * Errors are written to struct edge_config_err as "FILE:LINE: key 'K': ..."
 * or "command line: option '--K': ..."; warnings are appended to
 * cfg->warnings. Nothing is printed (except by edge_config_help) and
 * nothing exits. Not on the packet path: allocates freely.
 */
#include "edge/config/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Where a value came from; file NULL: the command line. */
struct src {
	const char *file;
	unsigned line;
};

static const struct src cmdline = {NULL, 0};

struct loader {
	struct edge_config *cfg;
	struct edge_config_err *err;
	struct src *set_at; /* per key: where it was last set */
	unsigned *set_seq;  /* per key: when it was last set; 0: default */
	unsigned seq;
	bool *coturn_warned; /* per coturn key */
};

/* One command-line option: a key of ours or a coturn key we ignore. */
struct opt {
	const struct edge_config_key *k;
	const struct edge_config_coturn_key *ck;
	const char *value; /* NULL: bare */
};

static const struct {
	char c;
	const char *name;
} short_opts[] = {{'c', "config"}, {'h', "help"}, {'v', "version"}};

__attribute__((format(printf, 3, 4))) static int fail(struct loader *l, int rc,
                                                      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->err->msg, sizeof(l->err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

/* "FILE:LINE: key 'K'" or "command line: option '--K'". */
static void describe(const struct src *at, const char *name, char *buf,
                     size_t len)
{
	if (at->file)
		snprintf(buf, len, "%s:%u: key '%s'", at->file, at->line, name);
	else
		snprintf(buf, len, "command line: option '--%s'", name);
}

__attribute__((format(printf, 4, 5))) static int key_fail(struct loader *l,
                                                          const struct src *at,
                                                          const char *name,
                                                          const char *fmt, ...)
{
	char where[300], what[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	describe(at, name, where, sizeof(where));
	return fail(l, EINVAL, "%s: %s", where, what);
}

__attribute__((format(printf, 2, 3))) static int warn(struct loader *l,
                                                      const char *fmt, ...)
{
	struct edge_str_list *w = &l->cfg->warnings;
	char msg[512], **v;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!(v = realloc(w->v, (w->n + 1) * sizeof(*v))))
		return fail(l, ENOMEM, "out of memory");
	w->v = v;
	if (!(v[w->n] = strdup(msg)))
		return fail(l, ENOMEM, "out of memory");
	w->n++;
	return 0;
}

/* The key an alias stands for sits just before it in the table. */
static size_t key_index(const struct edge_config_key *k)
{
	size_t i = (size_t)(k - edge_config_keys);

	while (i > 0 && (edge_config_keys[i].flags & EDGE_CK_ALIAS))
		i--;
	return i;
}

static int set_key(struct loader *l, const struct src *at,
                   const struct edge_config_key *k, const char *value)
{
	char why[400];
	size_t i = key_index(k);
	int rc;

	if (at->file && (k->flags & EDGE_CK_CMDLINE))
		return key_fail(l, at, k->name,
		                "only valid on the command line");
	rc = edge_config_key_parse(k, l->cfg, value, why, sizeof(why));
	if (rc == ENOMEM)
		return fail(l, ENOMEM, "out of memory");
	if (rc)
		return key_fail(l, at, k->name, "%s", why);
	if (k->type == EDGE_CT_BW_LIST)
		edge_config_bw_mark(k, l->cfg, at->file ? at->line : 0);
	l->set_at[i] = *at;
	l->set_seq[i] = ++l->seq;
	return 0;
}

static int warn_coturn(struct loader *l, const struct src *at,
                       const struct edge_config_coturn_key *ck)
{
	bool *done = &l->coturn_warned[ck - edge_config_coturn_keys];

	if (*done)
		return 0;
	*done = true;
	if (at->file)
		return warn(l,
		            "%s:%u: coturn option '%s' is not supported by "
		            "avedge; ignored",
		            at->file, at->line, ck->name);
	return warn(l,
	            "command line: coturn option '--%s' is not supported by "
	            "avedge; ignored",
	            ck->name);
}

/* Edit distance of a and b (each shorter than 64 characters). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j],
			       best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* The key closest to name (at most 2 edits), or NULL. */
static const char *suggest(const char *name)
{
	const char *best = NULL;
	size_t best_d = 3;

	if (strlen(name) >= 64)
		return NULL;
	for (size_t i = 0; i < edge_config_nkeys; i++) {
		size_t d = distance(name, edge_config_keys[i].name);
		if (d < best_d) {
			best_d = d;
			best = edge_config_keys[i].name;
		}
	}
	return best;
}

static int unknown(struct loader *l, const struct src *at, const char *dash,
                   const char *name)
{
	const char *hint = suggest(name);
	char where[300];

	if (at->file)
		snprintf(where, sizeof(where), "%s:%u: unknown key '%s'",
		         at->file, at->line, name);
	else
		snprintf(where, sizeof(where),
		         "command line: unknown option '%s%s'", dash, name);
	if (hint)
		return fail(l, EINVAL, "%s (did you mean '%s%s'?)", where,
		            at->file ? "" : "--", hint);
	return fail(l, EINVAL, "%s", where);
}

/* ---- the file ---- */

/* Split "KEY [=] [VALUE] [# comment]" in place; *value NULL when bare. */
static int split_line(struct loader *l, const struct src *at, char *s,
                      char **key, char **value)
{
	char *v, *end;
	bool eq;

	*key = s;
	s += strcspn(s, " \t=");
	eq = *s == '=';
	if (*s)
		*s++ = '\0';
	s += strspn(s, " \t");
	if (!eq && *s == '=') {
		eq = true;
		s += 1 + strspn(s + 1, " \t");
	}
	if (*s == '"') {
		if (!(end = strchr(s + 1, '"')))
			return key_fail(l, at, *key, "unterminated quote");
		*end++ = '\0';
		if (end[strspn(end, " \t")] && end[strspn(end, " \t")] != '#')
			return key_fail(l, at, *key,
			                "unexpected text after closing quote");
		*value = s + 1;
		return 0;
	}
	for (v = s; *v; v++) {
		if (*v == '#' && (v == s || v[-1] == ' ' || v[-1] == '\t')) {
			*v = '\0';
			break;
		}
	}
	for (v = s + strlen(s); v > s && (v[-1] == ' ' || v[-1] == '\t');)
		*--v = '\0';
	*value = (*s || eq) ? s : NULL;
	return 0;
}

static int file_line(struct loader *l, const struct src *at, char *s,
                     size_t len)
{
	const struct edge_config_key *k;
	const struct edge_config_coturn_key *ck;
	char *key = NULL, *value = NULL;
	int rc;

	if (strlen(s) != len)
		return fail(l, EINVAL, "%s:%u: NUL byte in line", at->file,
		            at->line);
	while (len > 0 && strchr(" \t\r\n", s[len - 1]))
		s[--len] = '\0';
	if (at->line == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3; /* UTF-8 byte order mark */
	s += strspn(s, " \t");
	if (*s == '\0' || *s == '#')
		return 0;
	if ((rc = split_line(l, at, s, &key, &value)))
		return rc;
	if ((k = edge_config_key_find(key)))
		return set_key(l, at, k, value);
	if ((ck = edge_config_coturn_key_find(key)))
		return warn_coturn(l, at, ck);
	return unknown(l, at, "", key);
}

static int load_file(struct loader *l, const char *path)
{
	struct src at = {path, 0};
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0, e = errno;

	if (!f)
		return fail(l, e,
		            "command line: option '--config': cannot open "
		            "'%s': %s",
		            path, strerror(e));
	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		at.line++;
		rc = file_line(l, &at, line, (size_t)len);
	}
	if (rc == 0 && ferror(f))
		rc = fail(l, EIO, "%s: read error", path);
	free(line);
	fclose(f);
	return rc;
}

/* ---- the command line ---- */

/* Whether arg is a bare flag ("--no-udp"), to explain a stray "false". */
static bool bare_flag(const char *arg)
{
	const struct edge_config_key *k;

	if (strncmp(arg, "--", 2) != 0 || strchr(arg, '='))
		return false;
	k = edge_config_key_find(arg + 2);
	return k && k->type == EDGE_CT_BOOL;
}

static int parse_arg(struct loader *l, int argc, char **argv, int *i,
                     struct opt *o)
{
	const char *a = argv[*i], *name = NULL, *eq = NULL;
	char buf[64];
	bool takes_value;

	if (a[0] == '-' && a[1] && a[1] != '-') {
		for (size_t j = 0; j < 3 && !a[2]; j++)
			if (short_opts[j].c == a[1])
				name = short_opts[j].name;
		if (!name)
			return fail(
			        l, EINVAL,
			        "command line: unknown option '%s' (short "
			        "options are -c FILE, -h and -v; use --KEY)",
			        a);
	} else if (a[0] == '-' && a[1] == '-' && a[2]) {
		size_t len = (eq = strchr(a + 2, '=')) ? (size_t)(eq - a - 2)
		                                       : strlen(a + 2);
		snprintf(buf, sizeof(buf), "%.*s", (int)len, a + 2);
		name = buf;
	} else if (*i > 1 && bare_flag(argv[*i - 1])) {
		return fail(l, EINVAL,
		            "command line: unexpected argument '%s' (a flag "
		            "takes no separate value: write %s=%s)",
		            a, argv[*i - 1], a);
	} else {
		return fail(l, EINVAL, "command line: unexpected argument '%s'",
		            a);
	}
	if (!(o->k = edge_config_key_find(name)) &&
	    !(o->ck = edge_config_coturn_key_find(name)))
		return unknown(l, &cmdline, "--", name);
	takes_value = o->k ? o->k->type != EDGE_CT_BOOL : o->ck->takes_value;
	if (eq)
		o->value = eq + 1;
	else if (takes_value && *i + 1 < argc)
		o->value = argv[++*i];
	return 0;
}

static int apply_opts(struct loader *l, const struct opt *o, size_t n,
                      bool cmdline_only)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++) {
		if (o[i].ck && !cmdline_only)
			rc = warn_coturn(l, &cmdline, o[i].ck);
		else if (o[i].k &&
		         !!(o[i].k->flags & EDGE_CK_CMDLINE) == cmdline_only)
			rc = set_key(l, &cmdline, o[i].k, o[i].value);
	}
	return rc;
}

/* ---- checks across keys ---- */

static const struct edge_config_key *later(const struct loader *l,
                                           const char *a, const char *b)
{
	const struct edge_config_key *ka = edge_config_key_find(a);
	const struct edge_config_key *kb = edge_config_key_find(b);

	return l->set_seq[key_index(ka)] >= l->set_seq[key_index(kb)] ? ka : kb;
}

static const struct src *where_set(const struct loader *l, const char *name)
{
	return &l->set_at[key_index(edge_config_key_find(name))];
}

static int check_ports(struct loader *l)
{
	const struct edge_config *c = l->cfg;
	const struct edge_config_key *k;

	if (c->min_port <= c->max_port)
		return 0;
	k = later(l, "min-port", "max-port");
	if (strcmp(k->name, "min-port") == 0)
		return key_fail(l, where_set(l, k->name), k->name,
		                "expected a port <= max-port (%u), got '%u'",
		                c->max_port, c->min_port);
	return key_fail(l, where_set(l, k->name), k->name,
	                "expected a port >= min-port (%u), got '%u'",
	                c->min_port, c->max_port);
}

/* A key that needs another (pkey needs cert). */
static int check_needs(struct loader *l, const char *key, bool set,
                       const char *needed, bool needed_set)
{
	if (!set || needed_set)
		return 0;
	return key_fail(l, where_set(l, key), key, "needs '%s' to be set",
	                needed);
}

static int check(struct loader *l)
{
	const struct edge_config *c = l->cfg;
	const struct edge_config_key *k;
	char where[300];
	int rc;

	if ((rc = check_ports(l)) ||
	    (rc = check_needs(l, "pkey", c->pkey, "cert", c->cert)) ||
	    (rc = check_needs(l, "admin-pkey", c->admin_pkey, "admin-cert",
	                      c->admin_cert)))
		return rc;
	const char *rkey;
	char rwhy[300];
	if (edge_config_check_realms(c, &rkey, rwhy, sizeof(rwhy)))
		return key_fail(l, where_set(l, rkey), rkey, "%s", rwhy);
	unsigned line;
	if (edge_config_check_bw(c, &rkey, &line, rwhy, sizeof(rwhy))) {
		struct src at = {line ? c->config_file : NULL, line};
		return key_fail(l, line ? &at : where_set(l, rkey), rkey, "%s",
		                rwhy);
	}
	if (c->admin_token && c->admin_token_file) {
		k = later(l, "admin-token", "admin-token-file");
		return key_fail(l, where_set(l, k->name), k->name,
		                "set only one of admin-token and "
		                "admin-token-file");
	}
	if (c->use_auth_secret && !c->static_auth_secrets.n && !c->redis.url) {
		describe(where_set(l, "use-auth-secret"), "use-auth-secret",
		         where, sizeof(where));
		if ((rc = warn(l,
		               "%s: no static-auth-secret and no redis: "
		               "REST API credentials will all be refused",
		               where)))
			return rc;
	}
	if (c->no_auth) {
		describe(where_set(l, "no-auth"), "no-auth", where,
		         sizeof(where));
		return warn(l,
		            "%s: TURN without authentication is for tests "
		            "only",
		            where);
	}
	return 0;
}

/* ---- public ---- */

void edge_config_free(struct edge_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < edge_config_nkeys; i++)
		if (!(edge_config_keys[i].flags & EDGE_CK_ALIAS))
			edge_config_key_release(&edge_config_keys[i], cfg);
	for (size_t i = 0; i < cfg->warnings.n; i++)
		free(cfg->warnings.v[i]);
	free(cfg->warnings.v);
	memset(cfg, 0, sizeof(*cfg));
}

int edge_config_defaults(struct edge_config *cfg)
{
	char why[400];
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < edge_config_nkeys && rc == 0; i++)
		if (edge_config_keys[i].def)
			rc = edge_config_key_parse(&edge_config_keys[i], cfg,
			                           edge_config_keys[i].def, why,
			                           sizeof(why));
	if (rc)
		edge_config_free(cfg);
	return rc;
}

static int load(struct loader *l, int argc, char **argv, struct opt *opts)
{
	size_t n = 0;
	int rc;

	for (int i = 1; i < argc; i++)
		if ((rc = parse_arg(l, argc, argv, &i, &opts[n++])))
			return rc;
	if ((rc = apply_opts(l, opts, n, true)))
		return rc;
	if (l->cfg->help || l->cfg->version)
		return 0;
	if (l->cfg->config_file && (rc = load_file(l, l->cfg->config_file)))
		return rc;
	if ((rc = apply_opts(l, opts, n, false)))
		return rc;
	return check(l);
}

int edge_config_load(struct edge_config *cfg, int argc, char **argv,
                     struct edge_config_err *err)
{
	struct loader l = {.cfg = cfg, .err = err};
	struct opt *opts;
	int rc;

	err->msg[0] = '\0';
	if ((rc = edge_config_defaults(cfg)))
		return fail(&l, rc, "invalid built-in defaults");
	l.set_at = calloc(edge_config_nkeys, sizeof(*l.set_at));
	l.set_seq = calloc(edge_config_nkeys, sizeof(*l.set_seq));
	l.coturn_warned = calloc(edge_config_ncoturn_keys, 1);
	opts = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*opts));
	if (!l.set_at || !l.set_seq || !l.coturn_warned || !opts)
		rc = fail(&l, ENOMEM, "out of memory");
	else
		rc = load(&l, argc, argv, opts);
	free(opts);
	free(l.set_at);
	free(l.set_seq);
	free(l.coturn_warned);
	if (rc)
		edge_config_free(cfg);
	return rc;
}

/* ---- --help ---- */

static void type_text(const struct edge_config_key *k, char *buf, size_t len)
{
	unsigned long long lo = k->min, hi = k->max;

	switch (k->type) {
	case EDGE_CT_BOOL:
		snprintf(buf, len, "flag");
		break;
	case EDGE_CT_U16:
	case EDGE_CT_U32:
	case EDGE_CT_U64:
		snprintf(buf, len, "integer %llu..%llu", lo, hi);
		break;
	case EDGE_CT_SIZE:
		snprintf(buf, len, "bytes %llu..%llu, k/m/g suffix", lo, hi);
		break;
	case EDGE_CT_STR_LIST:
	case EDGE_CT_IP_LIST:
	case EDGE_CT_EXTERNAL_IP_LIST:
	case EDGE_CT_IP_RANGE_LIST:
	case EDGE_CT_USER_LIST:
	case EDGE_CT_REALM_LIST:
	case EDGE_CT_BW_LIST:
		snprintf(buf, len, "list, repeatable");
		break;
	case EDGE_CT_LOG_LEVEL:
	case EDGE_CT_LOG_FORMAT:
		snprintf(buf, len, "choice");
		break;
	case EDGE_CT_REDIS_URL:
		snprintf(buf, len, "URL");
		break;
	case EDGE_CT_HOSTPORT:
		snprintf(buf, len, "address");
		break;
	default:
		snprintf(buf, len, "string");
		break;
	}
}

static void print_key(FILE *out, const struct edge_config_key *k)
{
	char head[128], type[64], shortopt[8] = "";
	int n;

	for (size_t j = 0; j < 3; j++)
		if (strcmp(short_opts[j].name, k->name) == 0)
			snprintf(shortopt, sizeof(shortopt), "-%c, ",
			         short_opts[j].c);
	n = snprintf(head, sizeof(head), "  %s--%s%s%s", shortopt, k->name,
	             k->arg ? " " : "", k->arg ? k->arg : "");
	type_text(k, type, sizeof(type));
	fprintf(out, "%s%*s(%s%s%s%s%s%s)\n      %s\n", head,
	        n < 40 ? 40 - n : 1, "", type, k->def ? ", default " : "",
	        k->def ? k->def : "",
	        k->type == EDGE_CT_BOOL && !(k->flags & EDGE_CK_CMDLINE)
	                ? ", default off"
	                : "",
	        k->flags & EDGE_CK_CMDLINE ? ", command line only" : "",
	        k->flags & EDGE_CK_RELOAD ? ", SIGHUP reloads" : "", k->help);
}

void edge_config_help(FILE *out)
{
	fprintf(out,
	        "Usage: avedge [-c FILE] [--KEY VALUE | --KEY=VALUE | "
	        "--FLAG | --FLAG=false]...\n"
	        "Every key also works in the config file as \"KEY = VALUE\" "
	        "or \"KEY VALUE\";\n"
	        "flags bare or \"FLAG = true|false\". The command line wins "
	        "over the file;\n"
	        "values of repeatable keys are added to the file's.\n");
	for (int g = 0; g < EDGE_CG_COUNT; g++) {
		fprintf(out, "\n%s:\n", edge_config_group_names[g]);
		for (size_t i = 0; i < edge_config_nkeys; i++)
			if (edge_config_keys[i].group ==
			    (enum edge_config_group)g)
				print_key(out, &edge_config_keys[i]);
	}
	fprintf(out, "\ncoturn options avedge does not implement are accepted "
	             "and ignored with a\nwarning. See docs/config.md.\n");
}
