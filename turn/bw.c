/*
 * turn/bw.c - bandwidth classes (bw.h): the node's counter slots by class
 * name, a configuration's table of classes and mappings, the choice at
 * Allocate, the token bucket of the data path (turn/data.c) and the
 * node's capacity pool (atomics, Allocate and free only). A table is
 * built on one thread and read-only once shared; mappings are sorted
 * arrays searched by bisection (Allocate only). Pure.
 */
#include "turn/bw.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct turn_bw_names {
	char name[TURN_BW_SLOTS][TURN_BW_NAME_MAX + 1];
	atomic_size_t n;
};

struct bw_entry {
	char *key;
	uint8_t cls; /* index into classes */
};

struct bw_map {
	struct bw_entry *v;
	size_t n, cap;
};

struct bw_cls {
	char name[TURN_BW_NAME_MAX + 1];
	uint64_t rate_bps, burst_bytes;
	int dscp;
	uint8_t slot;
};

struct turn_bw_table {
	struct bw_cls *cls;
	size_t ncls;
	int def; /* index of the default class; -1: none */
	struct bw_map map[2];
};

static bool name_chars(const char *s, size_t len)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                         "abcdefghijklmnopqrstuvwxyz0123456789._-";

	if (len == 0 || len > TURN_BW_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!s[i] || !strchr(ok, s[i]))
			return false;
	return true;
}

bool turn_bw_name_ok(const char *name)
{
	return name && name_chars(name, strlen(name)) &&
	       strcmp(name, TURN_BW_IMPLICIT_NAME) != 0;
}

/* --- names --------------------------------------------------------------- */

int turn_bw_names_new(struct turn_bw_names **out)
{
	struct turn_bw_names *n = calloc(1, sizeof(*n));

	if (!n)
		return ENOMEM;
	strcpy(n->name[TURN_BW_SLOT_IMPLICIT], TURN_BW_IMPLICIT_NAME);
	atomic_store_explicit(&n->n, 1, memory_order_release);
	*out = n;
	return 0;
}

void turn_bw_names_free(struct turn_bw_names *n)
{
	free(n);
}

size_t turn_bw_names_count(const struct turn_bw_names *n)
{
	return n ? atomic_load_explicit(&n->n, memory_order_acquire) : 0;
}

const char *turn_bw_names_get(const struct turn_bw_names *n, size_t slot)
{
	return slot < turn_bw_names_count(n) ? n->name[slot] : NULL;
}

/* The slot of name, added when new; -1 when full. */
static int names_slot(struct turn_bw_names *n, const char *name)
{
	size_t c = atomic_load_explicit(&n->n, memory_order_relaxed);

	for (size_t i = 0; i < c; i++)
		if (strcmp(n->name[i], name) == 0)
			return (int)i;
	if (c >= TURN_BW_SLOTS)
		return -1;
	strcpy(n->name[c], name);
	atomic_store_explicit(&n->n, c + 1, memory_order_release);
	return (int)c;
}

/* --- tables -------------------------------------------------------------- */

static int find_cls(const struct turn_bw_table *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->ncls; i++)
		if (strlen(t->cls[i].name) == len &&
		    memcmp(t->cls[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

static int add_class(struct turn_bw_table *t, struct turn_bw_names *names,
                     const struct turn_bw_class *c)
{
	struct bw_cls *k = &t->cls[t->ncls];
	uint64_t burst = c->burst_bytes ? c->burst_bytes : c->rate_bps;
	int slot;

	if (!turn_bw_name_ok(c->name) || c->rate_bps == 0 ||
	    c->rate_bps > TURN_BW_RATE_MAX || burst > TURN_BW_RATE_MAX ||
	    c->dscp < -1 || c->dscp > 63)
		return EINVAL;
	if (find_cls(t, c->name, strlen(c->name)) >= 0)
		return EEXIST;
	if ((slot = names_slot(names, c->name)) < 0)
		return ENOSPC;
	strcpy(k->name, c->name);
	k->rate_bps = c->rate_bps;
	k->burst_bytes = burst;
	k->dscp = c->dscp;
	k->slot = (uint8_t)slot;
	t->ncls++;
	return 0;
}

int turn_bw_table_new(struct turn_bw_table **out, struct turn_bw_names *names,
                      const struct turn_bw_class *v, size_t n,
                      const char *default_class)
{
	struct turn_bw_table *t;
	int rc = 0;

	if (!out || !names || (n && !v) || n > TURN_BW_SLOTS)
		return n > TURN_BW_SLOTS ? ENOSPC : EINVAL;
	if (!(t = calloc(1, sizeof(*t))) ||
	    (n && !(t->cls = calloc(n, sizeof(*t->cls))))) {
		free(t);
		return ENOMEM;
	}
	t->def = -1;
	for (size_t i = 0; i < n && !rc; i++)
		rc = add_class(t, names, &v[i]);
	if (!rc && default_class &&
	    (t->def = find_cls(t, default_class, strlen(default_class))) < 0)
		rc = ENOENT;
	if (rc) {
		turn_bw_table_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

void turn_bw_table_free(struct turn_bw_table *t)
{
	if (!t)
		return;
	for (int m = 0; m < 2; m++) {
		for (size_t i = 0; i < t->map[m].n; i++)
			free(t->map[m].v[i].key);
		free(t->map[m].v);
	}
	free(t->cls);
	free(t);
}

size_t turn_bw_table_count(const struct turn_bw_table *t)
{
	return t ? t->ncls : 0;
}

/* The index where key is, or would be inserted (*found tells which). */
static size_t bisect(const struct bw_map *m, const char *key, bool *found)
{
	size_t lo = 0, hi = m->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->v[mid].key, key);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int turn_bw_table_map(struct turn_bw_table *t, enum turn_bw_map_kind kind,
                      const char *key, const char *cls)
{
	struct bw_map *m;
	bool found;
	int c;

	if (!t || !key || !*key || !cls || (unsigned)kind > TURN_BW_MAP_REALM)
		return EINVAL;
	if ((c = find_cls(t, cls, strlen(cls))) < 0)
		return ENOENT;
	m = &t->map[kind];
	size_t at = bisect(m, key, &found);
	if (found)
		return EEXIST;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 16;
		struct bw_entry *v = realloc(m->v, cap * sizeof(*v));
		if (!v)
			return ENOMEM;
		m->v = v;
		m->cap = cap;
	}
	char *copy = strdup(key);
	if (!copy)
		return ENOMEM;
	memmove(&m->v[at + 1], &m->v[at], (m->n - at) * sizeof(*m->v));
	m->v[at] = (struct bw_entry){copy, (uint8_t)c};
	m->n++;
	return 0;
}

/* --- the choice ---------------------------------------------------------- */

static int lookup(const struct turn_bw_table *t, enum turn_bw_map_kind kind,
                  const char *key)
{
	bool found;
	size_t at;

	if (!key || !t->map[kind].n)
		return -1;
	at = bisect(&t->map[kind], key, &found);
	return found ? t->map[kind].v[at].cls : -1;
}

static void take(const struct turn_bw_table *t, int i, enum turn_bw_source src,
                 struct turn_bw_choice *out)
{
	out->rate_bps = t->cls[i].rate_bps;
	out->burst_bytes = t->cls[i].burst_bytes;
	out->dscp = t->cls[i].dscp;
	out->slot = t->cls[i].slot;
	out->source = src;
}

void turn_bw_resolve(const struct turn_bw_table *t, const char *user,
                     const char *cred_class, size_t cred_len, const char *realm,
                     uint64_t max_bps, struct turn_bw_choice *out)
{
	int i;

	*out = (struct turn_bw_choice){max_bps,
	                               max_bps,
	                               -1,
	                               TURN_BW_SLOT_IMPLICIT,
	                               TURN_BW_FROM_MAX_BPS,
	                               false};
	if (!t)
		return;
	if ((i = lookup(t, TURN_BW_MAP_USER, user)) >= 0) {
		take(t, i, TURN_BW_FROM_USER, out);
		return;
	}
	if (cred_class) {
		if ((i = find_cls(t, cred_class, cred_len)) >= 0) {
			take(t, i, TURN_BW_FROM_CREDENTIAL, out);
			return;
		}
		out->cred_unknown = true;
	}
	if ((i = lookup(t, TURN_BW_MAP_REALM, realm)) >= 0)
		take(t, i, TURN_BW_FROM_REALM, out);
	else if (t->def >= 0)
		take(t, t->def, TURN_BW_FROM_DEFAULT, out);
}

bool turn_bw_cred_split(const char *id, size_t len, size_t *id_len,
                        const char **cls, size_t *cls_len)
{
	const size_t tag = sizeof(TURN_BW_CRED_TAG) - 1;

	for (size_t i = len; i-- > 0;) {
		if (id[i] != ':')
			continue;
		if (len - i < tag || memcmp(id + i, TURN_BW_CRED_TAG, tag) != 0)
			return false;
		if (!name_chars(id + i + tag, len - i - tag))
			return false;
		*id_len = i;
		*cls = id + i + tag;
		*cls_len = len - i - tag;
		return true;
	}
	return false;
}

/* --- the bucket ---------------------------------------------------------- */

void turn_bw_bucket_init(struct turn_bw_bucket *b, uint64_t burst_bytes,
                         uint64_t now_ms)
{
	b->tokens_mb = burst_bytes * 1000;
	b->last_ms = now_ms;
}

bool turn_bw_bucket_take(struct turn_bw_bucket *b, uint64_t rate_bps,
                         uint64_t burst_bytes, uint64_t now_ms, size_t len)
{
	uint64_t cap = burst_bytes * 1000, need = (uint64_t)len * 1000;

	if (!rate_bps)
		return true;
	if (now_ms > b->last_ms) {
		uint64_t dt = now_ms - b->last_ms;
		uint64_t room = cap > b->tokens_mb ? cap - b->tokens_mb : 0;
		/* dt * rate_bps cannot overflow below room / rate_bps + 1 */
		if (dt > room / rate_bps)
			b->tokens_mb = cap;
		else
			b->tokens_mb += dt * rate_bps;
		b->last_ms = now_ms;
	}
	if (b->tokens_mb < need)
		return false;
	b->tokens_mb -= need;
	return true;
}

/* --- the node's capacity ------------------------------------------------ */

struct turn_bw_pool {
	_Atomic uint64_t capacity_bps, unlimited_bps, reserved_bps;
};

int turn_bw_pool_new(struct turn_bw_pool **out, uint64_t capacity_bps,
                     uint64_t unlimited_bps)
{
	struct turn_bw_pool *p;

	if (!out)
		return EINVAL;
	if (!(p = calloc(1, sizeof(*p))))
		return ENOMEM;
	turn_bw_pool_set(p, capacity_bps, unlimited_bps);
	*out = p;
	return 0;
}

void turn_bw_pool_free(struct turn_bw_pool *p)
{
	free(p);
}

void turn_bw_pool_set(struct turn_bw_pool *p, uint64_t capacity_bps,
                      uint64_t unlimited_bps)
{
	if (!p)
		return;
	atomic_store_explicit(&p->capacity_bps, capacity_bps,
	                      memory_order_relaxed);
	atomic_store_explicit(&p->unlimited_bps, unlimited_bps,
	                      memory_order_relaxed);
}

uint64_t turn_bw_pool_take(struct turn_bw_pool *p, uint64_t rate_bps)
{
	uint64_t need, cap, cur;

	if (!p)
		return 0;
	need = rate_bps ? rate_bps
	                : atomic_load_explicit(&p->unlimited_bps,
	                                       memory_order_relaxed);
	if (!need)
		return 0;
	cap = atomic_load_explicit(&p->capacity_bps, memory_order_relaxed);
	cur = atomic_load_explicit(&p->reserved_bps, memory_order_relaxed);
	do {
		if (cap && (cur > cap || need > cap - cur))
			return UINT64_MAX;
	} while (!atomic_compare_exchange_weak_explicit(
	        &p->reserved_bps, &cur, cur + need, memory_order_relaxed,
	        memory_order_relaxed));
	return need;
}

void turn_bw_pool_release(struct turn_bw_pool *p, uint64_t bytes_ps)
{
	if (p && bytes_ps)
		atomic_fetch_sub_explicit(&p->reserved_bps, bytes_ps,
		                          memory_order_relaxed);
}

uint64_t turn_bw_pool_capacity(const struct turn_bw_pool *p)
{
	return p ? atomic_load_explicit(&p->capacity_bps, memory_order_relaxed)
	         : 0;
}

uint64_t turn_bw_pool_reserved(const struct turn_bw_pool *p)
{
	return p ? atomic_load_explicit(&p->reserved_bps, memory_order_relaxed)
	         : 0;
}
