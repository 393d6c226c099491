/*
 * tools/edgectl/main.c - edgectl: options, commands and exit codes.
 *
 *   edgectl [OPTIONS] COMMAND [ARGS] [OPTIONS]
 *
 * Options go before or after the command. The node comes from --admin or
 * AVEDGE_ADMIN (default http://127.0.0.1:9641), the token from --token,
 * --token-file or AVEDGE_TOKEN. With --redis URL, status, nodes and
 * allocations read the whole cluster from Redis instead (cluster.c); the
 * commands that act on a node need --admin. Exit codes: 0 ok, 1 the node
 * refused or did not find it, 2 usage, 3 node (or Redis) unreachable or
 * unauthorised.
 */
#include "tools/edgectl/edgectl.h"

#include <errno.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_ADMIN   "http://127.0.0.1:9641"
#define DEFAULT_TIMEOUT 5.0
#define TOKEN_MAX       4096
#define SECRET_MAX      4096

struct opts {
	const char *admin, *token, *token_file, *cacert, *redis;
	double timeout_s;
	bool insecure, json, help, cluster;
	/* allocations */
	const char *user, *realm, *peer, *offset, *limit;
	/* users add, secrets add */
	const char *password_file, *secret_file;
	/* positional: the command and its arguments */
	const char *args[8];
	size_t nargs;
};

/* --- help ----------------------------------------------------------------- */

static const char usage_text[] =
        "usage: edgectl [OPTIONS] COMMAND [ARGS] [OPTIONS]\n"
        "\n"
        "Operate one avedge node through its admin API (admin-listen),\n"
        "or look at the whole cluster in its Redis (--redis).\n"
        "\n"
        "commands:\n"
        "  status              node summary (/api/stats); with --cluster\n"
        "                      or --redis: cluster totals and nodes\n"
        "  nodes               the node registry (/api/nodes)\n"
        "  allocations         list allocations (--user, --realm, --peer,\n"
        "                      --offset, --limit; --cluster: every "
        "node's)\n"
        "  show ID             one allocation with permissions and "
        "channels\n"
        "  kick ID             end an allocation now\n"
        "  drain               refuse new allocations, keep existing "
        "ones\n"
        "  undrain             accept new allocations again\n"
        "  users [list|add NAME|delete NAME]   long-term users\n"
        "  secrets [count|add|delete]          TURN REST shared secrets\n"
        "\n"
        "options (before or after the command):\n"
        "  --admin URL         node's admin API, http[s]://HOST:PORT\n"
        "                      (env AVEDGE_ADMIN; default " DEFAULT_ADMIN ")\n"
        "  --token TOKEN       admin-token (env AVEDGE_TOKEN)\n"
        "  --token-file FILE   read the token from the first line of FILE\n"
        "  --timeout SECONDS   whole request, default 5\n"
        "  --insecure          https: do not verify the certificate\n"
        "  --cacert FILE       https: trust FILE instead of the system "
        "CAs\n"
        "  --json              print the node's JSON answer as it is\n"
        "  --cluster           status, allocations: cluster scope through\n"
        "                      the node (?scope=cluster; it reads Redis)\n"
        "  --redis URL         redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]:\n"
        "                      status, nodes and allocations read the\n"
        "                      cluster from Redis, no node needed (the\n"
        "                      other commands need a node: --admin);\n"
        "                      --timeout applies to each Redis command\n"
        "  -h, --help          this help; COMMAND --help for a command\n"
        "\n"
        "exit codes: 0 ok, 1 refused or not found, 2 usage,\n"
        "            3 node unreachable or unauthorised (401/403), or\n"
        "              (--redis) Redis unreachable or refused us\n";

static const struct {
	const char *name, *help;
} command_help[] = {
        {"status", "usage: edgectl status [--cluster] [--json]\n"
                   "       edgectl --redis URL status [--json]\n"
                   "Node summary: state (ready/draining), allocations by\n"
                   "transport, relay ports, auth failures, traffic.\n"
                   "With --cluster (through the node) or --redis (from\n"
                   "Redis): totals over the live nodes' registry entries\n"
                   "(as of their last heartbeat) and a table of nodes.\n"},
        {"nodes", "usage: edgectl nodes [--json]\n"
                  "       edgectl --redis URL nodes [--json]\n"
                  "The node registry: id, alive, draining, allocations,\n"
                  "load, address and heartbeat age of every node (the\n"
                  "node alone when it runs without Redis).\n"},
        {"allocations",
         "usage: edgectl allocations [--user U] [--realm R] [--peer IP]\n"
         "                           [--offset N] [--limit N] [--cluster]\n"
         "                           [--json]\n"
         "       edgectl --redis URL allocations [--user U] [--realm R]\n"
         "                           [--offset N] [--limit N] [--json]\n"
         "List allocations, 100 by default (--limit up to 1000). --user\n"
         "matches the static user name or the id part of a TURN REST\n"
         "username; --peer lists allocations with a permission for IP\n"
         "(one node only: the cluster's records have no permissions).\n"
         "--cluster or --redis list every node's allocation records,\n"
         "with a NODE column.\n"},
        {"show", "usage: edgectl show ID [--json]\n"
                 "One allocation with its permissions and channels. Exit 1\n"
                 "if there is no such allocation.\n"},
        {"kick", "usage: edgectl kick ID\n"
                 "End the allocation now (its relay closes; the client's\n"
                 "next request gets 437). Exit 1 if there is no such\n"
                 "allocation.\n"},
        {"drain", "usage: edgectl drain\n"
                  "Start draining: new Allocates are refused, existing\n"
                  "allocations keep running; /readyz answers 503.\n"},
        {"undrain", "usage: edgectl undrain\n"
                    "Stop draining: accept new allocations again.\n"},
        {"users",
         "usage: edgectl users [list] [--json]\n"
         "       edgectl users add NAME [--password-file FILE]\n"
         "       edgectl users delete NAME\n"
         "Long-term users of the node's realm (/api/users). list shows\n"
         "names and where each comes from (config, api, redis), never a\n"
         "password. add sets (creates or replaces) a user; it reads the\n"
         "password from FILE, else from the first line of standard input,\n"
         "never from the command line. Users of the configuration cannot\n"
         "be changed here (exit 1, 409). Without Redis an added user lives\n"
         "in the node's memory only and is lost when it restarts; with\n"
         "Redis it is written there (its MD5 key, not the password) and\n"
         "every node uses it within 2 s.\n"},
        {"secrets",
         "usage: edgectl secrets [count] [--json]\n"
         "       edgectl secrets add [--secret-file FILE]\n"
         "       edgectl secrets delete [--secret-file FILE]\n"
         "TURN REST shared secrets of the node's realm (/api/secrets).\n"
         "They are write-only: the node never returns them, count shows\n"
         "how many there are. add and delete read the secret from FILE,\n"
         "else from the first line of standard input. Secrets of the\n"
         "configuration cannot be deleted here (exit 1, 409). Without\n"
         "Redis an added secret lives in the node's memory only and is\n"
         "lost when it restarts; with Redis it is added to the realm's\n"
         "secret set and every node uses it within 2 s.\n"},
};

static const char *help_of(const char *cmd)
{
	for (size_t i = 0; i < sizeof(command_help) / sizeof(command_help[0]);
	     i++)
		if (strcmp(command_help[i].name, cmd) == 0)
			return command_help[i].help;
	return NULL;
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("edgectl: ", stderr);
	fprintf(stderr, fmt, arg ? arg : "");
	fputs("\n(edgectl --help for usage)\n", stderr);
	return ECTL_USAGE;
}

/* --- options -------------------------------------------------------------- */

struct opt_def {
	const char *name;
	size_t field;     /* offsetof a const char * in struct opts */
	const char *only; /* the command it belongs to; NULL: global */
};

#define OPT(f) offsetof(struct opts, f)

static const struct opt_def valued[] = {
        {"--admin", OPT(admin), NULL},
        {"--token", OPT(token), NULL},
        {"--token-file", OPT(token_file), NULL},
        {"--cacert", OPT(cacert), NULL},
        {"--redis", OPT(redis), NULL},
        {"--user", OPT(user), "allocations"},
        {"--realm", OPT(realm), "allocations"},
        {"--peer", OPT(peer), "allocations"},
        {"--offset", OPT(offset), "allocations"},
        {"--limit", OPT(limit), "allocations"},
        {"--password-file", OPT(password_file), "users"},
        {"--secret-file", OPT(secret_file), "secrets"},
};

/* Which command each command-specific option was given for. */
static const char *owner_given[sizeof(valued) / sizeof(valued[0])];

static int parse_timeout(struct opts *o, const char *v)
{
	char *end;
	double t;

	errno = 0;
	t = strtod(v, &end);
	if (errno || end == v || *end || !(t > 0) || t > 3600)
		return usage_error("--timeout %s: expected seconds, 0 < t <= "
		                   "3600",
		                   v);
	o->timeout_s = t;
	return 0;
}

/* One option at argv[*i] (value from "=..." or the next argument). */
static int parse_opt(struct opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *eq = strchr(a, '=');
	size_t n = eq ? (size_t)(eq - a) : strlen(a);
	const char *v = NULL;

	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
		return o->help = true, 0;
	if (!eq && strcmp(a, "--insecure") == 0)
		return o->insecure = true, 0;
	if (!eq && strcmp(a, "--json") == 0)
		return o->json = true, 0;
	if (!eq && strcmp(a, "--cluster") == 0)
		return o->cluster = true, 0;
	if (strncmp(a, "--timeout", n) == 0 && n == 9) {
		if (!eq && *i + 1 >= argc)
			return usage_error("--timeout needs a value", NULL);
		return parse_timeout(o, eq ? eq + 1 : argv[++*i]);
	}
	for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++) {
		if (strlen(valued[k].name) != n ||
		    strncmp(valued[k].name, a, n) != 0)
			continue;
		if (eq)
			v = eq + 1;
		else if (*i + 1 < argc)
			v = argv[++*i];
		else
			return usage_error("%s needs a value", valued[k].name);
		*(const char **)(void *)((char *)o + valued[k].field) = v;
		owner_given[k] = valued[k].only;
		return 0;
	}
	return usage_error("unknown option %s", a);
}

static int parse_args(struct opts *o, int argc, char **argv)
{
	bool only_args = false;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!only_args && strcmp(a, "--") == 0) {
			only_args = true;
		} else if (!only_args && a[0] == '-' && a[1]) {
			if ((rc = parse_opt(o, argc, argv, &i)))
				return rc;
		} else if (o->nargs < sizeof(o->args) / sizeof(o->args[0])) {
			o->args[o->nargs++] = a;
		} else {
			return usage_error("too many arguments", NULL);
		}
	}
	return 0;
}

/* A command-specific option given with another command. */
static int check_owners(const struct opts *o)
{
	const char *cmd = o->nargs ? o->args[0] : "";

	for (size_t k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
		if (owner_given[k] && strcmp(owner_given[k], cmd) != 0) {
			fprintf(stderr,
			        "edgectl: %s is an option of '%s', not of "
			        "'%s'\n(edgectl --help for usage)\n",
			        valued[k].name, owner_given[k], cmd);
			return ECTL_USAGE;
		}
	return 0;
}

/* The first line of path into buf (trailing blanks cut). 0 or errno. */
static int first_line(const char *path, char *buf, size_t cap)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	size_t n;

	if (!fp)
		return errno ? errno : EIO;
	if (!fgets(buf, (int)cap, fp))
		buf[0] = 0;
	if (fp != stdin)
		fclose(fp);
	n = strcspn(buf, "\r\n");
	buf[n] = 0;
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = 0;
	return n ? 0 : ENODATA;
}

/* --- talking to the node -------------------------------------------------- */

struct ctx {
	struct opts *o;
	struct ectl_target t;
	const char *cmd;
};

/* The node's {"error": "..."} or the start of its body, terminal-safe. */
static void print_refusal(const struct ctx *x, const char *what,
                          const struct ectl_reply *r)
{
	struct cluster_json *v = NULL;
	const char *msg = NULL;
	char safe[600];

	if (r->len && cluster_json_parse(r->body, r->len, &v) == 0)
		msg = cluster_json_string(cluster_json_get(v, "error"));
	if (!msg && r->len)
		msg = r->body;
	ectl_safe(safe, sizeof(safe), msg ? msg : "");
	fprintf(stderr, "edgectl: %s: the node answered %d %s%s%s\n", what,
	        r->status, r->reason, safe[0] ? ": " : "", safe);
	if (r->status == 401)
		fprintf(stderr, "edgectl: %s\n",
		        x->t.token ? "the token was refused"
		                   : "no token given (--token, --token-file "
		                     "or AVEDGE_TOKEN)");
	else if (r->status == 409 && (strcmp(x->cmd, "users") == 0 ||
	                              strcmp(x->cmd, "secrets") == 0))
		fprintf(stderr,
		        "edgectl: change it in the node's configuration "
		        "(and reload with SIGHUP)\n");
	cluster_json_free(v);
}

/* One request; prints the answer (print: human printer, NULL: a short
 * note (ok_note) for an empty answer). Returns the exit code. */
static int call(struct ctx *x, const char *method, const char *path,
                const char *body,
                int (*print)(const struct cluster_json *, FILE *),
                const char *ok_note)
{
	struct ectl_reply r;
	struct cluster_json *v = NULL;
	int rc;

	if (ectl_http(&x->t, method, path, body, &r) != 0) {
		fprintf(stderr,
		        "edgectl: %s: cannot reach the node at %s: %s\n",
		        x->cmd, x->t.url, r.err);
		ectl_reply_free(&r);
		return ECTL_UNREACHABLE;
	}
	if (r.status < 200 || r.status > 299) {
		print_refusal(x, x->cmd, &r);
		rc = r.status == 401 || r.status == 403 ? ECTL_UNREACHABLE
		                                        : ECTL_REFUSED;
	} else if (x->o->json) {
		fwrite(r.body, 1, r.len, stdout);
		if (r.len && r.body[r.len - 1] != '\n')
			putchar('\n');
		rc = ECTL_OK;
	} else if (!print || r.len == 0) {
		if (ok_note)
			puts(ok_note);
		rc = ECTL_OK;
	} else if (cluster_json_parse(r.body, r.len, &v) != 0 ||
	           print(v, stdout) != ECTL_OK) {
		fprintf(stderr,
		        "edgectl: %s: unexpected answer from the node "
		        "(try --json)\n",
		        x->cmd);
		rc = ECTL_REFUSED;
	} else {
		rc = ECTL_OK;
	}
	cluster_json_free(v);
	ectl_reply_free(&r);
	return rc;
}

/* path + "/" + url-encoded id */
static int id_path(char *buf, size_t cap, const char *prefix, const char *id)
{
	char *enc = evhttp_uriencode(id, -1, 0);
	int n;

	if (!enc)
		return ENOMEM;
	n = snprintf(buf, cap, "%s/%s", prefix, enc);
	free(enc);
	return n > 0 && (size_t)n < cap ? 0 : ENOSPC;
}

static void add_query(char *buf, size_t cap, const char *key, const char *v)
{
	char *enc;
	size_t k = strlen(buf);

	if (!v || !(enc = evhttp_uriencode(v, -1, 0)))
		return;
	snprintf(buf + k, cap - k, "%s%s=%s", strchr(buf, '?') ? "&" : "?", key,
	         enc);
	free(enc);
}

/* --- commands ------------------------------------------------------------- */

static int nargs_is(const struct opts *o, size_t n, const char *what)
{
	if (o->nargs == n)
		return 0;
	fprintf(stderr, "edgectl: %s %s\n%s", o->args[0],
	        o->nargs < n ? what : "takes no more arguments",
	        help_of(o->args[0]));
	return ECTL_USAGE;
}

static int cmd_allocations(struct ctx *x)
{
	char path[4096] = "/api/allocations";
	int rc = nargs_is(x->o, 1, "");

	if (rc)
		return rc;
	if (x->o->cluster)
		add_query(path, sizeof(path), "scope", "cluster");
	add_query(path, sizeof(path), "user", x->o->user);
	add_query(path, sizeof(path), "realm", x->o->realm);
	add_query(path, sizeof(path), "peer", x->o->peer);
	add_query(path, sizeof(path), "offset", x->o->offset);
	add_query(path, sizeof(path), "limit", x->o->limit);
	return call(x, "GET", path, NULL, ectl_print_allocations, NULL);
}

static int cmd_by_id(struct ctx *x, bool kick)
{
	char path[2048], note[1200], safe[1024];
	int rc = nargs_is(x->o, 2, "needs an allocation ID");

	if (rc)
		return rc;
	if (id_path(path, sizeof(path), "/api/allocations", x->o->args[1]))
		return usage_error("ID too long", NULL);
	if (!kick)
		return call(x, "GET", path, NULL, ectl_print_allocation, NULL);
	ectl_safe(safe, sizeof(safe), x->o->args[1]);
	snprintf(note, sizeof(note), "allocation %s kicked", safe);
	return call(x, "DELETE", path, NULL, NULL, note);
}

static int cmd_drain(struct ctx *x, bool on)
{
	int rc = nargs_is(x->o, 1, "");

	if (rc)
		return rc;
	return call(x, "POST", on ? "/api/drain" : "/api/undrain", NULL, NULL,
	            on ? "draining: new allocations are refused, existing "
	                 "ones keep running"
	               : "not draining: accepting new allocations");
}

/* The password or secret for add: from file, else stdin. */
static int read_secret(const char *file, const char *what, char *buf,
                       size_t cap)
{
	int err = first_line(file ? file : "-", buf, cap);

	if (err) {
		fprintf(stderr, "edgectl: cannot read the %s from %s: %s\n",
		        what, file ? file : "standard input",
		        err == ENODATA ? "empty" : strerror(err));
		return ECTL_USAGE;
	}
	return 0;
}

static int cmd_users(struct ctx *x)
{
	const struct opts *o = x->o;
	const char *sub = o->nargs > 1 ? o->args[1] : "list";
	char path[2048], body[2 * TOKEN_MAX + 1200] = "{\"name\":";
	char pw[TOKEN_MAX + 2];
	int rc;

	if (strcmp(sub, "list") == 0 && o->nargs <= 2)
		return call(x, "GET", "/api/users", NULL, ectl_print_users,
		            NULL);
	if ((strcmp(sub, "delete") == 0 || strcmp(sub, "del") == 0) &&
	    o->nargs == 3) {
		if (id_path(path, sizeof(path), "/api/users", o->args[2]))
			return usage_error("NAME too long", NULL);
		return call(x, "DELETE", path, NULL, NULL, "user deleted");
	}
	if (strcmp(sub, "add") != 0 || o->nargs != 3) {
		fputs(help_of("users"), stderr);
		return ECTL_USAGE;
	}
	if ((rc = read_secret(o->password_file, "password", pw, sizeof(pw))))
		return rc;
	if (!ectl_json_quote(body, sizeof(body), o->args[2]) ||
	    !strcat(body, ",\"password\":") ||
	    !ectl_json_quote(body, sizeof(body), pw) ||
	    strlen(body) + 2 > sizeof(body))
		rc = usage_error("NAME or password too long", NULL);
	else
		rc = call(x, "POST", "/api/users", strcat(body, "}"),
		          ectl_print_cred_added, "user set");
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(body, sizeof(body));
	return rc;
}

bool ectl_json_quote(char *buf, size_t cap, const char *s)
{
	size_t k = strlen(buf);
	struct cluster_buf b;

	if (k >= cap)
		return false;
	cluster_buf_fixed(&b, buf + k, cap - k);
	return cluster_json_quote(&b, s, 0) && !b.full;
}

/* The secret travels in the body, for delete too: never in a URL. */
static int cmd_secrets(struct ctx *x)
{
	const struct opts *o = x->o;
	const char *sub = o->nargs > 1 ? o->args[1] : "count";
	char body[2 * SECRET_MAX + 64] = "{\"secret\":";
	char secret[SECRET_MAX + 2];
	bool add = strcmp(sub, "add") == 0;
	int rc;

	if (strcmp(sub, "count") == 0 && o->nargs <= 2)
		return call(x, "GET", "/api/secrets", NULL, ectl_print_secrets,
		            NULL);
	if ((!add && strcmp(sub, "delete") != 0 && strcmp(sub, "del") != 0) ||
	    o->nargs != 2) {
		fputs(help_of("secrets"), stderr);
		return ECTL_USAGE;
	}
	if ((rc = read_secret(o->secret_file, "secret", secret,
	                      sizeof(secret))))
		return rc;
	if (!ectl_json_quote(body, sizeof(body), secret) ||
	    strlen(body) + 2 > sizeof(body))
		rc = usage_error("secret too long", NULL);
	else
		rc = call(x, add ? "POST" : "DELETE", "/api/secrets",
		          strcat(body, "}"), add ? ectl_print_cred_added : NULL,
		          add ? "secret added" : "secret deleted");
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(body, sizeof(body));
	return rc;
}

static int run(struct ctx *x)
{
	const char *cmd = x->cmd;

	if (strcmp(cmd, "status") == 0) {
		int rc = nargs_is(x->o, 1, "");
		return rc ? rc
		          : call(x, "GET",
		                 x->o->cluster ? "/api/stats?scope=cluster"
		                               : "/api/stats",
		                 NULL, ectl_print_status, NULL);
	}
	if (strcmp(cmd, "nodes") == 0) {
		int rc = nargs_is(x->o, 1, "");
		return rc ? rc
		          : call(x, "GET", "/api/nodes", NULL, ectl_print_nodes,
		                 NULL);
	}
	if (strcmp(cmd, "allocations") == 0)
		return cmd_allocations(x);
	if (strcmp(cmd, "show") == 0 || strcmp(cmd, "kick") == 0)
		return cmd_by_id(x, cmd[0] == 'k');
	if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0)
		return cmd_drain(x, cmd[0] == 'd');
	if (strcmp(cmd, "users") == 0)
		return cmd_users(x);
	return cmd_secrets(x);
}

/* --- --redis: the cluster from Redis ------------------------------------ */

static bool redis_size(const char *v, size_t max, size_t *out)
{
	char *end;
	unsigned long long n;

	if (!v)
		return true;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || n > max)
		return false;
	*out = (size_t)n;
	return true;
}

static int run_redis(struct ctx *x)
{
	const struct opts *o = x->o;
	struct ectl_cluster_query q = {
	        .user = o->user, .realm = o->realm, .limit = 100};
	int (*print)(const struct cluster_json *, FILE *) = ectl_print_status;
	struct cluster_json *v = NULL;
	char *json;
	size_t len;
	int rc;

	if (strcmp(x->cmd, "status") != 0 && strcmp(x->cmd, "nodes") != 0 &&
	    strcmp(x->cmd, "allocations") != 0) {
		fprintf(stderr,
		        "edgectl: %s acts on one node: use --admin URL (not "
		        "--redis, which only reads the cluster: status, "
		        "nodes, allocations)\n",
		        x->cmd);
		return ECTL_USAGE;
	}
	if ((rc = nargs_is(o, 1, "")))
		return rc;
	if (o->peer)
		return usage_error("--peer needs a node (--admin): the "
		                   "cluster's records have no permissions%s",
		                   NULL);
	if (!redis_size(o->offset, 100000000, &q.offset))
		return usage_error("--offset %s: expected 0 to 100000000",
		                   o->offset);
	if (!redis_size(o->limit, 1000, &q.limit) || q.limit == 0)
		return usage_error("--limit %s: expected 1 to 1000", o->limit);
	if ((rc = ectl_cluster(o->redis, o->timeout_s, x->cmd, &q, &json,
	                       &len)))
		return rc;
	if (strcmp(x->cmd, "nodes") == 0)
		print = ectl_print_nodes;
	else if (strcmp(x->cmd, "allocations") == 0)
		print = ectl_print_allocations;
	if (o->json)
		fwrite(json, 1, len, stdout);
	else if (cluster_json_parse(json, len, &v) != 0 || print(v, stdout)) {
		fprintf(stderr, "edgectl: %s: cannot print (try --json)\n",
		        x->cmd);
		rc = ECTL_REFUSED;
	}
	cluster_json_free(v);
	free(json);
	return rc;
}

/* --- main ----------------------------------------------------------------- */

/* Node, token and timeout from options, then the environment. */
static int target(struct opts *o, struct ectl_target *t, char *token,
                  size_t cap)
{
	char err[512];
	int e;

	t->url = o->admin ? o->admin : getenv("AVEDGE_ADMIN");
	if (!t->url || !*t->url)
		t->url = DEFAULT_ADMIN;
	if (ectl_url_check(t->url, err, sizeof(err)))
		return usage_error("%s", err);
	t->token = o->token;
	if (!t->token && o->token_file) {
		if ((e = first_line(o->token_file, token, cap))) {
			fprintf(stderr, "edgectl: --token-file %s: %s\n",
			        o->token_file,
			        e == ENODATA ? "no token on the first line"
			                     : strerror(e));
			return ECTL_USAGE;
		}
		t->token = token;
	}
	if (!t->token && getenv("AVEDGE_TOKEN") && *getenv("AVEDGE_TOKEN"))
		t->token = getenv("AVEDGE_TOKEN");
	t->timeout_s = o->timeout_s;
	t->insecure = o->insecure;
	t->cacert = o->cacert;
	if (o->cacert && o->insecure)
		return usage_error("--cacert and --insecure exclude each "
		                   "other",
		                   NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {.timeout_s = DEFAULT_TIMEOUT};
	struct ctx x = {.o = &o};
	char token[TOKEN_MAX + 2];
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if ((rc = parse_args(&o, argc, argv)))
		return rc;
	if (o.help || o.nargs == 0) {
		const char *h = o.nargs ? help_of(o.args[0]) : NULL;
		fputs(h ? h : usage_text, o.help ? stdout : stderr);
		return o.help ? ECTL_OK : ECTL_USAGE;
	}
	x.cmd = o.args[0];
	if (!help_of(x.cmd))
		return usage_error("unknown command '%s'", x.cmd);
	if ((rc = check_owners(&o)))
		return rc;
	if (o.redis && (o.admin || o.cluster))
		return usage_error("--redis reads the cluster from Redis: "
		                   "without --admin or --cluster%s",
		                   NULL);
	if (o.redis)
		return run_redis(&x);
	if (o.cluster && strcmp(x.cmd, "status") != 0 &&
	    strcmp(x.cmd, "allocations") != 0)
		return usage_error("--cluster is an option of status and "
		                   "allocations%s",
		                   NULL);
	if ((rc = target(&o, &x.t, token, sizeof(token))))
		return rc;
	rc = run(&x);
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}
