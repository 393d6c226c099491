/*
 * cluster/cluster.h - the cluster layer's pure half, shared by the daemon
 * (edge/redis, edge/admin, edge/base) and edgectl: a text buffer, the one
 * JSON writer and the one JSON reader of the project (json.c). No sockets,
 * no clock, no libevent or hiredis types: replies come in as plain arrays
 * of strings, time as a parameter. Every function here is pure and
 * thread-safe on distinct objects.
 */
#ifndef AVEDGE_CLUSTER_H
#define AVEDGE_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- a text buffer (json.c) ---------------------------------------------- */
/* Either growing (cluster_buf_init: heap, cluster_buf_free) or fixed
 * (cluster_buf_fixed: the caller's array, never grown). p is always
 * NUL-terminated once anything was added. full: something did not fit
 * (fixed) or memory ran out (growing); what did not fit is left out
 * whole, never cut inside an escape. */
struct cluster_buf {
	char *p;
	size_t n, cap;
	bool fixed, full;
};

void cluster_buf_init(struct cluster_buf *b);
void cluster_buf_fixed(struct cluster_buf *b, char *p, size_t cap);
/* Free a growing buffer's text (fixed: nothing to free); b is empty. */
void cluster_buf_free(struct cluster_buf *b);
/* Add n bytes whole, or nothing (and set full). false: they did not fit. */
bool cluster_buf_add(struct cluster_buf *b, const char *s, size_t n);
bool cluster_buf_addstr(struct cluster_buf *b, const char *s);
__attribute__((format(printf, 2, 3))) bool
cluster_buf_printf(struct cluster_buf *b, const char *fmt, ...);

/* --- the JSON writer (json.c) --------------------------------------------
 * Hand-written on purpose: the admin API's answers and the JSON log lines
 * are pinned byte for byte (tests/integration/test_golden.py: floats as
 * "%.3f", key order, no spaces), which a library writer such as jansson
 * would not reproduce. Callers write the structure with cluster_buf_printf
 * and every string from outside through cluster_json_quote. */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if none
 * (overlong forms, surrogates and code points above U+10FFFF are not
 * valid). */
size_t cluster_utf8_len(const unsigned char *s, size_t n);

enum cluster_json_flags {
	/* also \u escapes for < > & (text a browser may see) */
	CLUSTER_JSON_HTML = 1,
};
/* s as a JSON string literal (quotes included; NULL: null): '"' and '\\'
 * escaped, control bytes and DEL as \u00XX, valid UTF-8 copied, any other
 * byte as \ufffd. In a fixed buffer the literal is cut short (and full
 * set) rather than left open: the closing quote always fits if the
 * opening one did. false: something was left out. */
bool cluster_json_quote(struct cluster_buf *b, const char *s, unsigned flags);

/* --- the JSON reader (json.c) --------------------------------------------
 * RFC 8259 into a tree; strings decoded to UTF-8 (\u escapes and surrogate
 * pairs; a lone surrogate becomes U+FFFD), numbers kept as text and as a
 * double. Depth is limited (CLUSTER_JSON_DEPTH_MAX) so hostile input
 * cannot exhaust the stack. Used for the admin API's request bodies and
 * for edgectl's reading of the admin API's answers. */
#define CLUSTER_JSON_DEPTH_MAX 64

enum cluster_jtype {
	CLUSTER_JNULL,
	CLUSTER_JBOOL,
	CLUSTER_JNUM,
	CLUSTER_JSTR,
	CLUSTER_JARR,
	CLUSTER_JOBJ,
};

struct cluster_json {
	enum cluster_jtype type;
	bool b;
	double num;
	char *s;    /* JSTR: decoded UTF-8; JNUM: the number's text */
	size_t len; /* JSTR, JNUM: bytes of s (a string may hold NUL) */
	size_t n;   /* JARR, JOBJ: items */
	struct cluster_json *items;
	char **keys; /* JOBJ: n keys, decoded */
};

/* Parse text[0..len): one value, white space around it. 0, EBADMSG or
 * ENOMEM; *out owned by the caller (cluster_json_free). */
int cluster_json_parse(const char *text, size_t len, struct cluster_json **out);
/* NULL is fine. */
void cluster_json_free(struct cluster_json *v);
/* The same, first overwriting every string and key with zeros (a body
 * that held a password). */
void cluster_json_free_wipe(struct cluster_json *v);
/* Member of an object (the first of that key), NULL if v is not an
 * object or has no such key. */
const struct cluster_json *cluster_json_get(const struct cluster_json *v,
                                            const char *key);
/* The string, or NULL if v is not a string. */
const char *cluster_json_string(const struct cluster_json *v);
/* The number, or def if v is not a number. */
double cluster_json_number(const struct cluster_json *v, double def);

/* A flat object of strings (an admin API request body): every key one of
 * f[0..nf)'s, at most once; every value a string of at most max_len
 * bytes without NUL. Sets each f[i].val (a NUL-terminated copy) and
 * len; an absent key leaves val NULL. 0, EBADMSG (anything else) or
 * ENOMEM; on an error every val is NULL again. Free with
 * cluster_json_fields_free, which wipes the values (passwords). */
struct cluster_json_field {
	const char *key;
	char *val;
	size_t len;
};
int cluster_json_fields(const char *text, size_t len,
                        struct cluster_json_field *f, size_t nf,
                        size_t max_len);
void cluster_json_fields_free(struct cluster_json_field *f, size_t nf);

#endif
