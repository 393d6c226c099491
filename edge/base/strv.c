/*
 * edge/base/strv.c - see edge/base/strv.h.
 */
#include "edge/base/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int edge_strv_add(struct edge_strv *s, const char *p, size_t len)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if (!(s->v[s->n] = malloc(len + 1)))
		return ENOMEM;
	memcpy(s->v[s->n], p, len);
	s->v[s->n][len] = 0;
	s->n++;
	return 0;
}

void edge_strv_clear(struct edge_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

void edge_strv_free(struct edge_strv *s)
{
	edge_strv_clear(s);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void edge_strv_swap(struct edge_strv *a, struct edge_strv *b)
{
	struct edge_strv t = *a;

	*a = *b;
	*b = t;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void edge_strv_sort(struct edge_strv *s)
{
	if (s->n > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(s->v, s->n, sizeof(char *), cmp_str);
}

bool edge_strv_equal(struct edge_strv *a, struct edge_strv *b)
{
	edge_strv_sort(a);
	edge_strv_sort(b);
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

bool edge_strv_has(const struct edge_strv *s, const char *p)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], p) == 0)
			return true;
	return false;
}
