/*
 * edge/config/config_diff.c - does a key hold the same value in two snapshots?
 * SIGHUP uses it to name the keys that changed but cannot change live
 * ("needs restart"). Lists compare element by element, in order, by what
 * the operator wrote (addresses by their text). Pure.
 */
#include "edge/config/config.h"

#include <string.h>

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool str_list_eq(const struct edge_str_list *a,
                        const struct edge_str_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!str_eq(a->v[i], b->v[i]))
			return false;
	return true;
}

/* Lists of structs whose first member is the text as written. */
#define TEXT_LIST_EQ(type, a, b)                                               \
	do {                                                                   \
		const type *la = (const type *)(a), *lb = (const type *)(b);   \
		if (la->n != lb->n)                                            \
			return false;                                          \
		for (size_t i = 0; i < la->n; i++)                             \
			if (!str_eq(la->v[i].text, lb->v[i].text))             \
				return false;                                  \
		return true;                                                   \
	} while (0)

static bool user_list_eq(const struct edge_user_list *a,
                         const struct edge_user_list *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct edge_user *x = &a->v[i], *y = &b->v[i];
		if (!str_eq(x->name, y->name) ||
		    !str_eq(x->password, y->password) ||
		    x->has_key != y->has_key ||
		    memcmp(x->key, y->key, sizeof(x->key)) != 0)
			return false;
	}
	return true;
}

bool edge_config_key_equal(const struct edge_config_key *k,
                           const struct edge_config *ca,
                           const struct edge_config *cb)
{
	const void *a = (const char *)ca + k->offset;
	const void *b = (const char *)cb + k->offset;

	switch (k->type) {
	case EDGE_CT_BOOL:
		return *(const bool *)a == *(const bool *)b;
	case EDGE_CT_U16:
		return *(const uint16_t *)a == *(const uint16_t *)b;
	case EDGE_CT_U32:
	case EDGE_CT_SIZE:
		return *(const uint32_t *)a == *(const uint32_t *)b;
	case EDGE_CT_U64:
		return *(const uint64_t *)a == *(const uint64_t *)b;
	case EDGE_CT_STR:
	case EDGE_CT_NAME:
		return str_eq(*(char *const *)a, *(char *const *)b);
	case EDGE_CT_STR_LIST:
		return str_list_eq(a, b);
	case EDGE_CT_IP_LIST:
		TEXT_LIST_EQ(struct edge_ip_list, a, b);
	case EDGE_CT_EXTERNAL_IP_LIST:
		TEXT_LIST_EQ(struct edge_external_ip_list, a, b);
	case EDGE_CT_IP_RANGE_LIST:
		TEXT_LIST_EQ(struct edge_ip_range_list, a, b);
	case EDGE_CT_USER_LIST:
		return user_list_eq(a, b);
	case EDGE_CT_LOG_LEVEL:
		return *(const enum edge_log_level *)a ==
		       *(const enum edge_log_level *)b;
	case EDGE_CT_LOG_FORMAT:
		return *(const enum edge_log_format *)a ==
		       *(const enum edge_log_format *)b;
	case EDGE_CT_REDIS_URL:
		return str_eq(((const struct edge_redis_url *)a)->url,
		              ((const struct edge_redis_url *)b)->url);
	case EDGE_CT_REALM_LIST:
		TEXT_LIST_EQ(struct edge_realm_list, a, b);
	case EDGE_CT_BW_LIST:
		TEXT_LIST_EQ(struct edge_bw_list, a, b);
	case EDGE_CT_HOSTPORT:
		return str_eq(((const struct edge_hostport *)a)->text,
		              ((const struct edge_hostport *)b)->text);
	}
	return false;
}
