/*
 * tools/edgectl/edgectl.h - edgectl, the ops CLI of avedge: talks to one
 * node's admin HTTP(S) API (docs/admin.md), or reads the cluster from
 * Redis (--redis). Shared between main.c (options, commands, exit codes),
 * http.c (one request with libevent's HTTP client, OpenSSL for https),
 * cluster.c (the Redis reads, hiredis) and print.c (human output); JSON
 * through cluster/ (cluster/cluster.h). Never uses edge/ code.
 */
#ifndef AVEDGE_TOOLS_EDGECTL_H
#define AVEDGE_TOOLS_EDGECTL_H

#include "cluster/cluster.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit codes (also in --help). */
enum {
	ECTL_OK = 0,
	ECTL_REFUSED = 1, /* the node said no: 404, 400, 409, 5xx ... */
	ECTL_USAGE = 2,
	ECTL_UNREACHABLE = 3, /* no answer, timeout, TLS failure, 401/403 */
};

/* --- http.c --------------------------------------------------------------- */

struct ectl_target {
	const char *url;    /* http[s]://host[:port] (a path prefix is kept) */
	const char *token;  /* NULL: no Authorization header */
	double timeout_s;   /* whole request: connect, TLS, answer */
	bool insecure;      /* https: skip certificate verification */
	const char *cacert; /* https: trust this PEM file, not the system CAs */
};

struct ectl_reply {
	int status; /* HTTP status; 0 when there was no answer */
	char reason[64];
	char *body; /* NUL-terminated, owned: ectl_reply_free */
	size_t len;
	char err[512]; /* why there was no answer */
};

/* Check the target URL. 0, or EINVAL with why in err. */
int ectl_url_check(const char *url, char *err, size_t err_len);
/* One request. method "GET", "POST", "DELETE"; path "/api/..." with any
 * query already encoded; body NULL or a JSON text. Returns 0 when the
 * node answered (any status), else an errno with r->err saying why. */
int ectl_http(const struct ectl_target *t, const char *method, const char *path,
              const char *body, struct ectl_reply *r);
void ectl_reply_free(struct ectl_reply *r);

/* --- JSON: cluster/cluster.h (the project's one reader and writer) ------ */

/* Append s as a JSON string literal to buf (cap bytes, NUL-terminated);
 * false if it does not fit (main.c). */
bool ectl_json_quote(char *buf, size_t cap, const char *s);

/* --- cluster.c ------------------------------------------------------------ */

/* edgectl --redis URL: the cluster scope read straight from Redis (never
 * written). command "status", "nodes" or "allocations" (with q); *json
 * gets the JSON text the admin API answers for /api/stats?scope=cluster,
 * /api/nodes and /api/allocations?scope=cluster (malloc'd, *len bytes).
 * Returns 0, or an exit code (ECTL_UNREACHABLE: Redis cannot be reached
 * or refused us; ECTL_USAGE: a bad URL) after printing why. */
struct ectl_cluster_query {
	const char *user, *realm; /* exact match; NULL: any */
	size_t offset, limit;
};
int ectl_cluster(const char *url, double timeout_s, const char *command,
                 const struct ectl_cluster_query *q, char **json, size_t *len);

/* --- print.c -------------------------------------------------------------- */

struct ectl_table;

struct ectl_table *ectl_table_new(size_t ncols, const char *const *heads);
/* Add a row of ncols cells (copied; control characters made visible). */
void ectl_table_row(struct ectl_table *t, const char *const *cells);
/* Print with aligned columns; columns whose head starts with '>' are
 * right-aligned (the '>' is not printed). Frees the table. */
void ectl_table_print(struct ectl_table *t, FILE *fp);

/* Terminal-safe copy of untrusted text (control characters as '?'). */
void ectl_safe(char *dst, size_t cap, const char *src);
void ectl_fmt_bytes(char *buf, size_t cap, double bytes);
void ectl_fmt_age(char *buf, size_t cap, double s);

/* Human output of an answer (the parsed JSON of the command). 0, or
 * ECTL_REFUSED when the answer is not what was expected. */
int ectl_print_status(const struct cluster_json *v, FILE *fp);
/* /api/nodes; /api/stats?scope=cluster (summary and node table) */
int ectl_print_nodes(const struct cluster_json *v, FILE *fp);
int ectl_print_cluster_status(const struct cluster_json *v, FILE *fp);
int ectl_print_allocations(const struct cluster_json *v, FILE *fp);
int ectl_print_allocation(const struct cluster_json *v, FILE *fp);
int ectl_print_generic(const struct cluster_json *v, FILE *fp);
int ectl_print_users(const struct cluster_json *v, FILE *fp);
int ectl_print_secrets(const struct cluster_json *v, FILE *fp);
int ectl_print_cred_added(const struct cluster_json *v, FILE *fp);

#endif
