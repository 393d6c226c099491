/*
 * cluster/keys.c - the Redis key layout (docs/cluster.md) in one place:
 * avedge's keys (registry, allocation records, quota counters, the nonce
 * key, the event channel), coturn's (realm secrets, user keys, realm
 * quotas, peer lists), the glob patterns that SCAN and the keyspace
 * notifications use for them, and the small ids inside keys and fields
 * (allocation ids, a worker's quota field). Pure: every builder writes
 * into the caller's buffer and returns 0 or ENOSPC (the buffer then
 * holds ""), never a cut key.
 */
#include "cluster/cluster.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int key_of(char *buf, size_t cap, int n)
{
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			buf[0] = 0;
		return ENOSPC;
	}
	return 0;
}

int cluster_key(char *buf, size_t cap, enum cluster_key_kind kind,
                const char *name)
{
	static const char *const fmt[] = {
	        [CLUSTER_KEY_NODE] = CLUSTER_NODE_PFX "%s",
	        [CLUSTER_KEY_NODE_ALLOCS] =
	                CLUSTER_NODE_PFX "%s" CLUSTER_ALLOCS_SFX,
	        [CLUSTER_KEY_ALLOC] = CLUSTER_ALLOC_PFX "%s",
	        [CLUSTER_KEY_SECRETS] = CLUSTER_REALM_PFX "%s/secret",
	        [CLUSTER_KEY_QUOTA_TOTAL] = CLUSTER_QUOTA_PFX "%s/total",
	        [CLUSTER_KEY_REALM_USER_QUOTA] =
	                CLUSTER_REALM_PFX "%s/user-quota",
	        [CLUSTER_KEY_REALM_TOTAL_QUOTA] =
	                CLUSTER_REALM_PFX "%s/total-quota",
	};

	if ((unsigned)kind >= sizeof(fmt) / sizeof(fmt[0]))
		return key_of(buf, cap, -1);
	return key_of(buf, cap, snprintf(buf, cap, fmt[kind], name));
}

int cluster_key_user(char *buf, size_t cap, const char *realm, const char *user)
{
	return key_of(buf, cap,
	              snprintf(buf, cap, CLUSTER_REALM_PFX "%s/user/%s/key",
	                       realm, user));
}

int cluster_key_quota_user(char *buf, size_t cap, const char *realm,
                           const char *qkey)
{
	return key_of(buf, cap,
	              snprintf(buf, cap, CLUSTER_QUOTA_PFX "%s/user/%s", realm,
	                       qkey));
}

bool cluster_key_user_name(const char *key, size_t klen, const char *realm,
                           size_t *off, size_t *nlen)
{
	size_t plen = strlen(CLUSTER_REALM_PFX), rlen = strlen(realm);
	size_t pre = plen + rlen + strlen("/user/");

	if (klen < pre + 4 || memcmp(key, CLUSTER_REALM_PFX, plen) != 0 ||
	    memcmp(key + plen, realm, rlen) != 0 ||
	    memcmp(key + plen + rlen, "/user/", 6) != 0 ||
	    memcmp(key + klen - 4, "/key", 4) != 0)
		return false;
	*off = pre;
	*nlen = klen - pre - 4;
	return true;
}

enum cluster_peer_list cluster_peer_ip_list(const char *key)
{
	if (strncmp(key, CLUSTER_ALLOW_PFX, strlen(CLUSTER_ALLOW_PFX)) == 0)
		return CLUSTER_PEER_ALLOWED;
	if (strncmp(key, CLUSTER_DENY_PFX, strlen(CLUSTER_DENY_PFX)) == 0)
		return CLUSTER_PEER_DENIED;
	return CLUSTER_PEER_NONE;
}

/* --- patterns ------------------------------------------------------------- */

void cluster_glob_escape(char *out, size_t cap, const char *s)
{
	size_t k = 0;

	if (!cap)
		return;
	for (; *s && k + 2 < cap; s++) {
		if (strchr("*?[]\\", *s))
			out[k++] = '\\';
		out[k++] = *s;
	}
	out[k] = 0;
}

int cluster_pattern(char *buf, size_t cap, enum cluster_pattern_kind kind,
                    const char *realm)
{
	static const char *const fmt[] = {
	        [CLUSTER_PATTERN_USERS] = CLUSTER_REALM_PFX "%s/user/*/key",
	        [CLUSTER_PATTERN_REALM] = CLUSTER_REALM_PFX "%s/*",
	};
	char esc[2 * CLUSTER_KEY_MAX];

	if ((unsigned)kind >= sizeof(fmt) / sizeof(fmt[0]))
		return key_of(buf, cap, -1);
	cluster_glob_escape(esc, sizeof(esc), realm);
	return key_of(buf, cap, snprintf(buf, cap, fmt[kind], esc));
}

int cluster_keyspace_pattern(char *buf, size_t cap, unsigned db,
                             const char *pattern)
{
	return key_of(buf, cap,
	              snprintf(buf, cap, "__keyspace@%u__:%s", db, pattern));
}

/* --- ids inside keys and fields ------------------------------------------- */

int cluster_alloc_id_format(char *buf, size_t cap, const char *node_id,
                            unsigned worker, unsigned long long serial)
{
	return key_of(
	        buf, cap,
	        snprintf(buf, cap, "%s-%u-%llu", node_id, worker, serial));
}

int cluster_quota_field(char *buf, size_t cap, const char *node_id, int worker)
{
	return key_of(buf, cap, snprintf(buf, cap, "%s/%d", node_id, worker));
}
