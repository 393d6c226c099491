/*
 * cluster/rec.c - records as read from Redis (a hash's field/value
 * pairs, decoded from a plain array of strings, never a hiredis type) and
 * the ids: allocation ids and their order, node ids from host names.
 * Pure. Records are data other nodes wrote: every length is checked,
 * numbers are parsed strictly.
 */
#include "cluster/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- records -------------------------------------------------------------- */

void cluster_rec_clear(struct cluster_rec *rec)
{
	free(rec->id);
	for (size_t i = 0; rec->kv && i < 2 * rec->n; i++)
		free(rec->kv[i]);
	free(rec->kv);
	memset(rec, 0, sizeof(*rec));
}

void cluster_recs_free(struct cluster_recs *recs)
{
	if (!recs)
		return;
	for (size_t i = 0; i < recs->n; i++)
		cluster_rec_clear(&recs->v[i]);
	free(recs->v);
	free(recs);
}

int cluster_rec_decode(struct cluster_rec *rec, const char *id,
                       const char *const *v, const size_t *lens, size_t nv)
{
	size_t n = nv / 2;

	memset(rec, 0, sizeof(*rec));
	if (!(rec->id = strdup(id)))
		return ENOMEM;
	if (n && !(rec->kv = calloc(2 * n, sizeof(*rec->kv))))
		return ENOMEM;
	rec->n = n;
	for (size_t i = 0; i < 2 * n; i++) {
		rec->kv[i] = v[i] ? strndup(v[i], lens[i]) : strdup("");
		if (!rec->kv[i])
			return ENOMEM; /* the rest are NULL: clear frees */
	}
	return 0;
}

const char *cluster_rec_get(const struct cluster_rec *rec, const char *field)
{
	for (size_t i = 0; rec && i < rec->n; i++)
		if (strcmp(rec->kv[2 * i], field) == 0)
			return rec->kv[2 * i + 1];
	return NULL;
}

bool cluster_rec_u64(const struct cluster_rec *rec, const char *field,
                     unsigned long long *out)
{
	const char *v = cluster_rec_get(rec, field);
	char *end;

	if (!v || *v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !errno && !*end;
}

unsigned long long cluster_rec_u64_or0(const struct cluster_rec *rec,
                                       const char *field)
{
	unsigned long long v;

	return cluster_rec_u64(rec, field, &v) ? v : 0;
}

bool cluster_rec_draining(const struct cluster_rec *rec)
{
	const char *d = cluster_rec_get(rec, "draining");

	return d && strcmp(d, "0") != 0;
}

/* --- ids ------------------------------------------------------------------ */

void cluster_alloc_id_parse(struct cluster_alloc_id *a, const char *id)
{
	const char *last = strrchr(id, '-'), *prev;
	char *end;

	a->id = id;
	a->node_len = 0;
	a->worker = a->serial = 0;
	if (!last || last == id)
		return;
	for (prev = last - 1; prev > id && *prev != '-'; prev--)
		;
	if (prev == id)
		return;
	if (prev[1] < '0' || prev[1] > '9' || last[1] < '0' || last[1] > '9')
		return;
	a->worker = strtoull(prev + 1, &end, 10);
	if (end != last)
		return;
	a->serial = strtoull(last + 1, &end, 10);
	if (*end)
		return;
	a->node_len = (size_t)(prev - id);
}

int cluster_alloc_id_cmp(const struct cluster_alloc_id *a,
                         const struct cluster_alloc_id *b)
{
	size_t n;
	int c;

	if (!a->node_len || !b->node_len)
		return strcmp(a->id, b->id);
	n = a->node_len < b->node_len ? a->node_len : b->node_len;
	if ((c = memcmp(a->id, b->id, n)) != 0)
		return c;
	if (a->node_len != b->node_len)
		return a->node_len < b->node_len ? -1 : 1;
	if (a->worker != b->worker)
		return a->worker < b->worker ? -1 : 1;
	if (a->serial != b->serial)
		return a->serial < b->serial ? -1 : 1;
	return strcmp(a->id, b->id);
}

void cluster_node_id_from_host(const char *host, char *buf, size_t cap,
                               size_t max)
{
	size_t k = 0;

	if (!cap)
		return;
	for (size_t i = 0; host[i] && k + 1 < cap && k < max; i++) {
		char c = host[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
			buf[k++] = c;
	}
	buf[k] = 0;
	if (k == 0)
		snprintf(buf, cap, "avedge");
}
