/*
 * edge/base/strv.h - a growable vector of malloc'd, NUL-terminated strings
 * (what a Redis read collects: keys, values, rules). Owns its strings.
 * Not thread-safe: one owner at a time.
 */
#ifndef AVEDGE_EDGE_STRV_H
#define AVEDGE_EDGE_STRV_H

#include <stdbool.h>
#include <stddef.h>

struct edge_strv {
	char **v;
	size_t n, cap;
};

/* Append a copy of p[0..len) (NUL added). 0 or ENOMEM. */
int edge_strv_add(struct edge_strv *s, const char *p, size_t len);
/* Free the strings, keep the array (n = 0). */
void edge_strv_clear(struct edge_strv *s);
/* Free everything and zero s. */
void edge_strv_free(struct edge_strv *s);
void edge_strv_swap(struct edge_strv *a, struct edge_strv *b);
/* Sort in strcmp order (an empty vector is fine). */
void edge_strv_sort(struct edge_strv *s);
/* Sort both, then whether they hold the same strings. */
bool edge_strv_equal(struct edge_strv *a, struct edge_strv *b);
bool edge_strv_has(const struct edge_strv *s, const char *p);

#endif
