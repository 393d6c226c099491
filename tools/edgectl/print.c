/*
 * tools/edgectl/print.c - edgectl's human output: aligned tables and
 * key/value lists made from the admin API's JSON (docs/admin.md). Fields
 * that are missing print as "-", so a newer or older node still prints.
 * Text from the node (user names, realms) is untrusted: control
 * characters are shown as '?', so no escape sequence reaches the terminal.
 */
#include "tools/edgectl/edgectl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CELL_MAX 512

struct ectl_table {
	size_t ncols, nrows, cap;
	char **cells; /* nrows + 1 rows (heads first) of ncols */
};

void ectl_safe(char *dst, size_t cap, const char *src)
{
	size_t k = 0;

	for (const unsigned char *s = (const unsigned char *)src;
	     s && *s && k + 1 < cap; s++)
		dst[k++] = (*s < 0x20 || *s == 0x7F) ? '?' : (char)*s;
	if (cap)
		dst[k] = 0;
}

struct ectl_table *ectl_table_new(size_t ncols, const char *const *heads)
{
	struct ectl_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	ectl_table_row(t, heads); /* row 0: the heads, not in nrows */
	return t;
}

void ectl_table_row(struct ectl_table *t, const char *const *cells)
{
	size_t have;
	char buf[CELL_MAX];

	if (!t)
		return;
	have = t->cells ? t->nrows + 1 : 0;
	if (have + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));
		if (!c)
			return;
		t->cells = c;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		ectl_safe(buf, sizeof(buf), cells[i] ? cells[i] : "-");
		t->cells[have * t->ncols + i] = strdup(buf);
	}
	if (have)
		t->nrows++;
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; s && *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void ectl_table_print(struct ectl_table *t, FILE *fp)
{
	size_t *w;

	if (!t)
		return;
	w = calloc(t->ncols, sizeof(*w));
	for (size_t r = 0; w && r <= t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t n = width(s) - (r == 0 && s && s[0] == '>');
			if (n > w[c])
				w[c] = n;
		}
	for (size_t r = 0; w && r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			const char *head = t->cells[c];
			bool right = head && head[0] == '>';
			size_t pad;
			if (!s)
				s = "";
			if (r == 0 && right)
				s++;
			pad = w[c] - width(s);
			if (right)
				fprintf(fp, "%*s%s", (int)pad, "", s);
			else if (c + 1 < t->ncols)
				fprintf(fp, "%s%*s", s, (int)pad, "");
			else
				fputs(s, fp);
			fputs(c + 1 < t->ncols ? "  " : "\n", fp);
		}
	}
	for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
	free(t);
}

void ectl_fmt_bytes(char *buf, size_t cap, double v)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	int i = 0;

	if (v < 0) {
		snprintf(buf, cap, "-");
		return;
	}
	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	if (i == 0)
		snprintf(buf, cap, "%.0f %s", v, units[i]);
	else
		snprintf(buf, cap, "%.1f %s", v, units[i]);
}

void ectl_fmt_age(char *buf, size_t cap, double v)
{
	uint64_t s;

	if (v < 0) {
		snprintf(buf, cap, "-");
		return;
	}
	s = (uint64_t)v;
	if (s >= 86400)
		snprintf(buf, cap, "%llud%lluh",
		         (unsigned long long)(s / 86400),
		         (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, cap, "%lluh%llum", (unsigned long long)(s / 3600),
		         (unsigned long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, cap, "%llum%llus", (unsigned long long)(s / 60),
		         (unsigned long long)(s % 60));
	else
		snprintf(buf, cap, "%llus", (unsigned long long)s);
}

/* --- fields --------------------------------------------------------------- */

/* A member as text: strings as they are, numbers and booleans written
 * out, anything else (or missing) "-". */
static const char *text(const struct cluster_json *v, const char *key,
                        char *buf, size_t cap)
{
	const struct cluster_json *m = key ? cluster_json_get(v, key) : v;

	if (!m)
		return "-";
	switch (m->type) {
	case CLUSTER_JSTR:
	case CLUSTER_JNUM:
		snprintf(buf, cap, "%s", m->s);
		return buf;
	case CLUSTER_JBOOL:
		return m->b ? "yes" : "no";
	default:
		return "-";
	}
}

static double num(const struct cluster_json *v, const char *key)
{
	return cluster_json_number(cluster_json_get(v, key), -1);
}

/* "N pkts, B" of {"packets":N,"bytes":B} */
static const char *flow(const struct cluster_json *v, const char *key,
                        char *buf, size_t cap)
{
	const struct cluster_json *f = cluster_json_get(v, key);
	char b[32];

	if (!f)
		return "-";
	ectl_fmt_bytes(b, sizeof(b), num(f, "bytes"));
	snprintf(buf, cap, "%.0f pkts, %s", num(f, "packets"), b);
	return buf;
}

static void kv(FILE *fp, const char *key, const char *value)
{
	char safe[CELL_MAX];

	ectl_safe(safe, sizeof(safe), value);
	fprintf(fp, "%-18s %s\n", key, safe);
}

/* --- status --------------------------------------------------------------- */

int ectl_print_status(const struct cluster_json *v, FILE *fp)
{
	const struct cluster_json *t = cluster_json_get(
	                                  v, "allocations_by_transport"),
	                          *p = cluster_json_get(v, "relay_ports"),
	                          *rel = cluster_json_get(v, "relayed"),
	                          *d = cluster_json_get(v, "draining"),
	                          *rd = cluster_json_get(v, "ready");
	char b[CELL_MAX], x[64];
	const char *scope = cluster_json_string(cluster_json_get(v, "scope"));

	if (!v || v->type != CLUSTER_JOBJ)
		return ECTL_REFUSED;
	if (scope && strcmp(scope, "cluster") == 0)
		return ectl_print_cluster_status(v, fp);
	kv(fp, "node", text(v, "node", b, sizeof(b)));
	kv(fp, "version", text(v, "version", b, sizeof(b)));
	kv(fp, "realm", text(v, "realm", b, sizeof(b)));
	kv(fp, "state",
	   d && d->b                                   ? "draining"
	   : rd && rd->type == CLUSTER_JBOOL && !rd->b ? "not ready"
	                                               : "ready");
	ectl_fmt_age(x, sizeof(x), num(v, "uptime_s"));
	kv(fp, "uptime", x);
	kv(fp, "workers", text(v, "workers", b, sizeof(b)));
	if (t)
		snprintf(b, sizeof(b),
		         "%.0f (udp %.0f, tcp %.0f, tls %.0f, dtls %.0f)",
		         num(v, "allocations"), num(t, "udp"), num(t, "tcp"),
		         num(t, "tls"), num(t, "dtls"));
	else
		text(v, "allocations", b, sizeof(b));
	kv(fp, "allocations", b);
	if (num(v, "max_allocations") > 0)
		kv(fp, "max allocations",
		   text(v, "max_allocations", b, sizeof(b)));
	else
		kv(fp, "max allocations", "unlimited");
	kv(fp, "created", text(v, "allocations_created", b, sizeof(b)));
	kv(fp, "permissions", text(v, "permissions", b, sizeof(b)));
	kv(fp, "channels", text(v, "channels", b, sizeof(b)));
	kv(fp, "connections", text(v, "connections", b, sizeof(b)));
	if (p) {
		snprintf(b, sizeof(b), "%.0f in use, %.0f free, %.0f total",
		         num(p, "in_use"), num(p, "free"), num(p, "total"));
		kv(fp, "relay ports", b);
	}
	kv(fp, "auth failures", text(v, "auth_failures", b, sizeof(b)));
	if (rel) {
		kv(fp, "relayed to peers", flow(rel, "to_peer", b, sizeof(b)));
		kv(fp, "relayed to clients",
		   flow(rel, "to_client", b, sizeof(b)));
	}
	kv(fp, "redis", text(v, "redis", b, sizeof(b)));
	return ECTL_OK;
}

/* --- nodes and cluster status ----------------------------------------------
 */

static void node_row(struct ectl_table *t, const struct cluster_json *n)
{
	char id[CELL_MAX], allocs[32], load[32], addr[128], ver[64], age[32],
	        up[32], workers[16];
	const struct cluster_json *al = cluster_json_get(n, "alive"),
	                          *dr = cluster_json_get(n, "draining");
	const char *cells[9];
	double l = num(n, "load");

	cells[0] = text(n, "id", id, sizeof(id));
	cells[1] = al && al->type == CLUSTER_JBOOL && !al->b ? "dead"
	           : dr && dr->b                             ? "draining"
	                                                     : "serving";
	cells[2] = text(n, "allocations", allocs, sizeof(allocs));
	if (l >= 0)
		snprintf(load, sizeof(load), "%.0f%%", 100 * l);
	else
		snprintf(load, sizeof(load), "-");
	cells[3] = load;
	cells[4] = text(n, "workers", workers, sizeof(workers));
	cells[5] = text(n, "listen4", addr, sizeof(addr));
	if (!strcmp(cells[5], "") || !strcmp(cells[5], "-"))
		cells[5] = text(n, "listen6", addr, sizeof(addr));
	cells[6] = text(n, "version", ver, sizeof(ver));
	ectl_fmt_age(up, sizeof(up), num(n, "uptime_s"));
	cells[7] = up;
	if (num(n, "age_s") >= 0)
		snprintf(age, sizeof(age), "%.1fs", num(n, "age_s"));
	else
		snprintf(age, sizeof(age), "-");
	cells[8] = age;
	ectl_table_row(t, cells);
}

static int node_table(const struct cluster_json *list, FILE *fp)
{
	static const char *const heads[9] = {
	        "NODE",    "STATE",   ">ALLOCATIONS", ">LOAD",     ">WORKERS",
	        "ADDRESS", "VERSION", ">UPTIME",      ">HEARTBEAT"};
	struct ectl_table *t;

	if (!list || list->type != CLUSTER_JARR)
		return ECTL_REFUSED;
	if (!(t = ectl_table_new(9, heads)))
		return ECTL_REFUSED;
	for (size_t i = 0; i < list->n; i++)
		node_row(t, &list->items[i]);
	ectl_table_print(t, fp);
	return ECTL_OK;
}

int ectl_print_nodes(const struct cluster_json *v, FILE *fp)
{
	const struct cluster_json *list = cluster_json_get(v, "nodes");
	const char *scope = cluster_json_string(cluster_json_get(v, "scope"));
	int rc = node_table(list, fp);

	if (rc)
		return rc;
	fprintf(fp, "%zu node%s, %.0f alive%s\n", list->n,
	        list->n == 1 ? "" : "s",
	        cluster_json_number(cluster_json_get(v, "alive"), 0),
	        scope && strcmp(scope, "node") == 0
	                ? " (no Redis: this node only)"
	                : "");
	return ECTL_OK;
}

/* Active RTP flows by quality band (absent from older nodes' views). */
static void media_line(FILE *fp, const struct cluster_json *m)
{
	char b[CELL_MAX];

	if (!m || m->type != CLUSTER_JOBJ)
		return;
	snprintf(b, sizeof(b), "%.0f good, %.0f fair, %.0f poor, %.0f bad",
	         num(m, "good"), num(m, "fair"), num(m, "poor"), num(m, "bad"));
	kv(fp, "media flows", b);
}

int ectl_print_cluster_status(const struct cluster_json *v, FILE *fp)
{
	const struct cluster_json *rel = cluster_json_get(v, "relayed");
	char b[CELL_MAX];

	if (!v || v->type != CLUSTER_JOBJ)
		return ECTL_REFUSED;
	kv(fp, "scope", "cluster");
	snprintf(b, sizeof(b), "%.0f alive (%.0f draining), %.0f registered",
	         num(v, "nodes_alive"), num(v, "nodes_draining"),
	         num(v, "nodes"));
	kv(fp, "nodes", b);
	kv(fp, "allocations", text(v, "allocations", b, sizeof(b)));
	if (num(v, "max_allocations") > 0)
		kv(fp, "max allocations",
		   text(v, "max_allocations", b, sizeof(b)));
	else
		kv(fp, "max allocations", "unlimited");
	kv(fp, "created", text(v, "allocations_created", b, sizeof(b)));
	kv(fp, "permissions", text(v, "permissions", b, sizeof(b)));
	kv(fp, "channels", text(v, "channels", b, sizeof(b)));
	kv(fp, "auth failures", text(v, "auth_failures", b, sizeof(b)));
	if (rel) {
		kv(fp, "relayed to peers", flow(rel, "to_peer", b, sizeof(b)));
		kv(fp, "relayed to clients",
		   flow(rel, "to_client", b, sizeof(b)));
	}
	media_line(fp, cluster_json_get(v, "media"));
	fputc('\n', fp);
	return node_table(cluster_json_get(v, "per_node"), fp);
}

/* --- allocations ---------------------------------------------------------- */

static const char *relays(const struct cluster_json *a, char *buf, size_t cap)
{
	const struct cluster_json *r = cluster_json_get(a, "relay");
	size_t k = 0;

	buf[0] = 0;
	for (size_t i = 0; r && r->type == CLUSTER_JARR && i < r->n; i++) {
		const char *s = cluster_json_string(&r->items[i]);
		if (s && k < cap)
			k += (size_t)snprintf(buf + k, cap - k, "%s%s",
			                      k ? "," : "", s);
	}
	return buf[0] ? buf : "-";
}

/* The worse direction of "media" (docs/admin.md): loss in % and jitter
 * in ms, or "-" when no RTP went either way. */
static void media(const struct cluster_json *a, char *loss, char *jitter,
                  size_t cap)
{
	const struct cluster_json *m = cluster_json_get(a, "media");
	double l = -1, j = -1;

	for (int i = 0; i < 2; i++) {
		const struct cluster_json *d =
		        cluster_json_get(m, i ? "to_client" : "to_peer");
		if (num(d, "loss_pct") > l)
			l = num(d, "loss_pct");
		if (num(d, "jitter_ms") > j)
			j = num(d, "jitter_ms");
	}
	snprintf(loss, cap, "-");
	snprintf(jitter, cap, "-");
	if (l >= 0)
		snprintf(loss, cap, "%.2f%%", l);
	if (j >= 0)
		snprintf(jitter, cap, "%.1fms", j);
}

/* One row; with node (the cluster scope) a NODE column after the ID. */
static void alloc_row(struct ectl_table *t, const struct cluster_json *a,
                      bool node)
{
	char id[CELL_MAX], user[CELL_MAX], realm[CELL_MAX], tr[32], client[128],
	        relay[256], age[32], exp[32], perms[16], chans[16], tp[32],
	        tc[32], loss[32], jitter[32], nd[CELL_MAX];
	const char *cells[15];

	ectl_fmt_age(age, sizeof(age), num(a, "age_s"));
	ectl_fmt_age(exp, sizeof(exp), num(a, "expires_in_s"));
	ectl_fmt_bytes(tp, sizeof(tp),
	               num(cluster_json_get(a, "to_peer"), "bytes"));
	ectl_fmt_bytes(tc, sizeof(tc),
	               num(cluster_json_get(a, "to_client"), "bytes"));
	cells[0] = text(a, "id", id, sizeof(id));
	cells[1] = text(a, "user", user, sizeof(user));
	cells[2] = text(a, "realm", realm, sizeof(realm));
	cells[3] = text(a, "transport", tr, sizeof(tr));
	cells[4] = text(a, "client", client, sizeof(client));
	cells[5] = relays(a, relay, sizeof(relay));
	cells[6] = age;
	cells[7] = exp;
	cells[8] = text(a, "permission_count", perms, sizeof(perms));
	cells[9] = text(a, "channel_count", chans, sizeof(chans));
	cells[10] = tp;
	cells[11] = tc;
	media(a, loss, jitter, sizeof(loss));
	cells[12] = loss;
	cells[13] = jitter;
	if (node) {
		memmove(cells + 2, cells + 1, 13 * sizeof(cells[0]));
		cells[1] = text(a, "node", nd, sizeof(nd));
	}
	ectl_table_row(t, cells);
}

int ectl_print_allocations(const struct cluster_json *v, FILE *fp)
{
	static const char *const heads[14] = {
	        "ID",       "USER",       "REALM",    "TRANSPORT", "CLIENT",
	        "RELAY",    ">AGE",       ">EXPIRES", ">PERMS",    ">CHANS",
	        ">TO PEER", ">TO CLIENT", ">LOSS",    ">JITTER"};
	static const char *const heads15[15] = {
	        "ID",     "NODE",     "USER",       "REALM",    "TRANSPORT",
	        "CLIENT", "RELAY",    ">AGE",       ">EXPIRES", ">PERMS",
	        ">CHANS", ">TO PEER", ">TO CLIENT", ">LOSS",    ">JITTER"};
	const struct cluster_json *list = cluster_json_get(v, "allocations");
	const char *scope = cluster_json_string(cluster_json_get(v, "scope"));
	bool cluster = scope && strcmp(scope, "cluster") == 0;
	struct ectl_table *t;
	double total = num(v, "total"), offset = num(v, "offset");

	if (!list || list->type != CLUSTER_JARR)
		return ECTL_REFUSED;
	if (list->n == 0) {
		fprintf(fp, "no allocations%s\n",
		        total > 0 ? " on this page" : "");
		return ECTL_OK;
	}
	t = cluster ? ectl_table_new(15, heads15) : ectl_table_new(14, heads);
	for (size_t i = 0; t && i < list->n; i++)
		alloc_row(t, &list->items[i], cluster);
	ectl_table_print(t, fp);
	if (total > (double)list->n)
		fprintf(fp,
		        "(%zu of %.0f, from offset %.0f: use --offset and "
		        "--limit for more)\n",
		        list->n, total, offset < 0 ? 0 : offset);
	return ECTL_OK;
}

static void permissions(const struct cluster_json *v, FILE *fp)
{
	static const char *const heads[4] = {"PEER", ">EXPIRES", ">TO PEER",
	                                     ">TO CLIENT"};
	const struct cluster_json *l = cluster_json_get(v, "permissions");
	struct ectl_table *t;

	if (!l || l->type != CLUSTER_JARR || l->n == 0) {
		fprintf(fp, "\npermissions: none\n");
		return;
	}
	fprintf(fp, "\npermissions:\n");
	t = ectl_table_new(4, heads);
	for (size_t i = 0; t && i < l->n; i++) {
		const struct cluster_json *p = &l->items[i];
		char peer[128], exp[32], tp[64], tc[64];
		const char *cells[4] = {text(p, "peer", peer, sizeof(peer)),
		                        exp, flow(p, "to_peer", tp, sizeof(tp)),
		                        flow(p, "to_client", tc, sizeof(tc))};
		ectl_fmt_age(exp, sizeof(exp), num(p, "expires_in_s"));
		ectl_table_row(t, cells);
	}
	ectl_table_print(t, fp);
}

static void channels(const struct cluster_json *v, FILE *fp)
{
	static const char *const heads[3] = {">CHANNEL", "PEER", ">EXPIRES"};
	const struct cluster_json *l = cluster_json_get(v, "channels");
	struct ectl_table *t;

	if (!l || l->type != CLUSTER_JARR || l->n == 0) {
		fprintf(fp, "\nchannels: none\n");
		return;
	}
	fprintf(fp, "\nchannels:\n");
	t = ectl_table_new(3, heads);
	for (size_t i = 0; t && i < l->n; i++) {
		const struct cluster_json *c = &l->items[i];
		char number[32], peer[128], exp[32];
		const char *cells[3] = {
		        text(c, "number", number, sizeof(number)),
		        text(c, "peer", peer, sizeof(peer)), exp};
		ectl_fmt_age(exp, sizeof(exp), num(c, "expires_in_s"));
		ectl_table_row(t, cells);
	}
	ectl_table_print(t, fp);
}

int ectl_print_allocation(const struct cluster_json *v, FILE *fp)
{
	char b[CELL_MAX], x[32];

	if (!v || v->type != CLUSTER_JOBJ || !cluster_json_get(v, "id"))
		return ECTL_REFUSED;
	kv(fp, "id", text(v, "id", b, sizeof(b)));
	kv(fp, "user", text(v, "user", b, sizeof(b)));
	kv(fp, "realm", text(v, "realm", b, sizeof(b)));
	kv(fp, "transport", text(v, "transport", b, sizeof(b)));
	kv(fp, "client", text(v, "client", b, sizeof(b)));
	kv(fp, "relay", relays(v, b, sizeof(b)));
	kv(fp, "worker", text(v, "worker", b, sizeof(b)));
	ectl_fmt_age(x, sizeof(x), num(v, "age_s"));
	kv(fp, "age", x);
	ectl_fmt_age(x, sizeof(x), num(v, "lifetime_s"));
	kv(fp, "lifetime", x);
	ectl_fmt_age(x, sizeof(x), num(v, "expires_in_s"));
	kv(fp, "expires in", x);
	kv(fp, "to peer", flow(v, "to_peer", b, sizeof(b)));
	kv(fp, "to client", flow(v, "to_client", b, sizeof(b)));
	permissions(v, fp);
	channels(v, fp);
	return ECTL_OK;
}

/* --- anything else (users, secrets) --------------------------------------- */

static void generic(const struct cluster_json *v, FILE *fp, int depth,
                    const char *key)
{
	char b[CELL_MAX];

	fprintf(fp, "%*s", depth * 2, "");
	if (key) {
		ectl_safe(b, sizeof(b), key);
		fprintf(fp, "%s: ", b);
	}
	if (v->type == CLUSTER_JOBJ || v->type == CLUSTER_JARR) {
		fputc('\n', fp);
		for (size_t i = 0; i < v->n; i++)
			generic(&v->items[i], fp, depth + 1,
			        v->type == CLUSTER_JOBJ ? v->keys[i] : NULL);
		return;
	}
	if (v->type == CLUSTER_JNULL)
		fputs("null\n", fp);
	else {
		ectl_safe(b, sizeof(b), text(v, NULL, b, sizeof(b)));
		fprintf(fp, "%s\n", b);
	}
}

int ectl_print_generic(const struct cluster_json *v, FILE *fp)
{
	if (!v)
		return ECTL_REFUSED;
	if (v->type == CLUSTER_JOBJ)
		for (size_t i = 0; i < v->n; i++)
			generic(&v->items[i], fp, 0, v->keys[i]);
	else
		generic(v, fp, 0, NULL);
	return ECTL_OK;
}

/* GET /api/users: a NAME / SOURCE table. */
int ectl_print_users(const struct cluster_json *v, FILE *fp)
{
	static const char *const heads[] = {"NAME", "SOURCE"};
	const struct cluster_json *users = cluster_json_get(v, "users");
	struct ectl_table *t;

	if (!users || users->type != CLUSTER_JARR)
		return ECTL_REFUSED;
	if (!(t = ectl_table_new(2, heads)))
		return ECTL_REFUSED;
	for (size_t i = 0; i < users->n; i++) {
		const char *cells[2] = {cluster_json_string(cluster_json_get(
		                                &users->items[i], "name")),
		                        cluster_json_string(cluster_json_get(
		                                &users->items[i], "source"))};
		if (!cells[0])
			cells[0] = "?";
		if (!cells[1])
			cells[1] = "?";
		ectl_table_row(t, cells);
	}
	ectl_table_print(t, fp);
	fprintf(fp, "%zu users (%s)\n", users->n,
	        cluster_json_string(cluster_json_get(v, "store")) &&
	                        strcmp(cluster_json_string(
	                                       cluster_json_get(v, "store")),
	                               "redis") == 0
	                ? "API changes go to Redis"
	                : "API changes are lost on restart");
	return ECTL_OK;
}

/* GET /api/secrets: counts only (secrets are write-only). */
int ectl_print_secrets(const struct cluster_json *v, FILE *fp)
{
	const struct cluster_json *src = cluster_json_get(v, "sources");

	if (!src || src->type != CLUSTER_JOBJ)
		return ECTL_REFUSED;
	fprintf(fp,
	        "%.0f REST secrets: %.0f from the configuration, %.0f "
	        "added through the API, %.0f in Redis\n",
	        cluster_json_number(cluster_json_get(v, "count"), 0),
	        cluster_json_number(cluster_json_get(src, "config"), 0),
	        cluster_json_number(cluster_json_get(src, "api"), 0),
	        cluster_json_number(cluster_json_get(src, "redis"), 0));
	return ECTL_OK;
}

/* POST /api/users or /api/secrets: where it went and what that means. */
int ectl_print_cred_added(const struct cluster_json *v, FILE *fp)
{
	const char *note = cluster_json_string(cluster_json_get(v, "note"));
	char safe[600];

	ectl_safe(safe, sizeof(safe), note ? note : "");
	fprintf(fp, "%s%s%s\n",
	        cluster_json_get(v, "name") ? "user set" : "secret added",
	        safe[0] ? ": " : "", safe);
	return ECTL_OK;
}
