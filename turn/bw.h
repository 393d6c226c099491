/*
 * turn/bw.h - bandwidth classes (docs/config.md "Bandwidth classes"): a
 * class is a named rate in bytes per second per direction, a burst and an
 * optional DSCP; a table holds the classes of one configuration, the
 * default, and which static users and realms get which class. The class
 * of an allocation is chosen once, at Allocate (turn_bw_resolve: user,
 * then credential, then realm, then default, then max-bps); the
 * allocation copies what it needs (rate, burst, DSCP, counter slot), so a
 * table may be replaced (SIGHUP) under live allocations.
 *
 * Class names get a counter slot for the life of the node
 * (turn_bw_names): per-class counters (turn_stats bw_dropped_*) keep
 * counting across reloads and every worker uses the same slot for a name.
 * Slot 0 is the implicit class "max-bps" (no class configured for the
 * allocation: the max-bps key, 0 = unlimited).
 *
 * Pure: no I/O, no clock (now_ms is a parameter).
 */
#ifndef AVEDGE_TURN_BW_H
#define AVEDGE_TURN_BW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TURN_BW_NAME_MAX      32 /* characters A-Z a-z 0-9 . _ - */
#define TURN_BW_SLOTS         64 /* class names a node sees in its life */
#define TURN_BW_SLOT_IMPLICIT 0
#define TURN_BW_IMPLICIT_NAME "max-bps"
#define TURN_BW_RATE_MAX      (1ull << 40) /* bytes/s, as max-bps */
#define TURN_BW_CRED_TAG      ":bw="       /* REST id "ID:bw=NAME" */

/* One class as configured. */
struct turn_bw_class {
	const char *name;     /* 1..TURN_BW_NAME_MAX of A-Z a-z 0-9 . _ - */
	uint64_t rate_bps;    /* bytes/s per direction, 1..TURN_BW_RATE_MAX */
	uint64_t burst_bytes; /* 0: rate_bps (one second's worth) */
	int dscp;             /* 0..63; -1: none (the socket's default) */
};

/* true when name is a valid class name (not the implicit one). */
bool turn_bw_name_ok(const char *name);

/* --- counter slots of class names, node-wide ---------------------------- */
/* Appended to by turn_bw_table_new (one thread: the daemon's main thread);
 * read from any thread (the count is published with release order, each
 * name is written before it). Never shrinks. */
struct turn_bw_names;
int turn_bw_names_new(struct turn_bw_names **out);
void turn_bw_names_free(struct turn_bw_names *n);
size_t turn_bw_names_count(const struct turn_bw_names *n);
/* The name of slot (< count), NUL-terminated; NULL past the end. */
const char *turn_bw_names_get(const struct turn_bw_names *n, size_t slot);

/* --- a table: the classes of one configuration ------------------------- */
struct turn_bw_table;

/*
 * A table of the n classes v (copied) and the default class (NULL: none;
 * then max-bps applies). Each class gets its slot in names (new names are
 * added). Returns 0; EINVAL (a name, rate, burst or DSCP out of range),
 * EEXIST (a name twice), ENOENT (default_class not in v), ENOSPC (names
 * is full: TURN_BW_SLOTS names since start), ENOMEM.
 */
int turn_bw_table_new(struct turn_bw_table **out, struct turn_bw_names *names,
                      const struct turn_bw_class *v, size_t n,
                      const char *default_class);
void turn_bw_table_free(struct turn_bw_table *t);

enum turn_bw_map_kind {
	TURN_BW_MAP_USER = 0, /* a static user's name (any realm) */
	TURN_BW_MAP_REALM,    /* a realm's name */
};
/* Map key (copied) to class cls. 0; ENOENT (cls is not a class of t),
 * EEXIST (key is mapped already), EINVAL, ENOMEM. Before the table is
 * shared: not thread-safe. */
int turn_bw_table_map(struct turn_bw_table *t, enum turn_bw_map_kind kind,
                      const char *key, const char *cls);
/* Classes in the table (for logs). */
size_t turn_bw_table_count(const struct turn_bw_table *t);

/* --- the choice at Allocate ---------------------------------------------- */
enum turn_bw_source {
	TURN_BW_FROM_USER = 0,   /* user-bandwidth-class */
	TURN_BW_FROM_CREDENTIAL, /* ":bw=NAME" of a REST id */
	TURN_BW_FROM_REALM,      /* realm-bandwidth-class */
	TURN_BW_FROM_DEFAULT,    /* default-bandwidth-class */
	TURN_BW_FROM_MAX_BPS,    /* none of those: the implicit class */
};

struct turn_bw_choice {
	uint64_t rate_bps;    /* 0: unlimited (implicit, max-bps 0) */
	uint64_t burst_bytes; /* bucket size */
	int dscp;             /* -1: none */
	uint8_t slot;         /* counter slot (turn_bw_names) */
	enum turn_bw_source source;
	bool cred_unknown; /* the credential named a class t lacks (ignored:
	                    * the next rule applied) */
};

/*
 * The class of a new allocation: user (a static user's name; NULL for a
 * REST credential), cred_class (the class a REST id names, cred_len bytes;
 * NULL: none), realm (the allocation's realm). user-bandwidth-class wins,
 * then the credential's class, then realm-bandwidth-class, then the
 * table's default, then the implicit class at max_bps (burst: one
 * second's worth). A credential's class that t lacks is skipped (the web
 * tier that signed it is trusted, only out of step with this node's
 * configuration: the call goes on at the class the node would give
 * without it) and reported in out->cred_unknown. t NULL: implicit.
 */
void turn_bw_resolve(const struct turn_bw_table *t, const char *user,
                     const char *cred_class, size_t cred_len, const char *realm,
                     uint64_t max_bps, struct turn_bw_choice *out);

/*
 * Split a REST id (the part after "EXPIRY:") of the form "ID:bw=NAME":
 * true with *id_len the length of ID and *cls, *cls_len the NAME (a valid
 * class name); false (nothing to split) otherwise. The HMAC covers the
 * whole username, so the holder of a credential cannot change its class.
 */
bool turn_bw_cred_split(const char *id, size_t len, size_t *id_len,
                        const char **cls, size_t *cls_len);

/* --- the token bucket (per allocation and direction) --------------------- */
/* Milli-bytes, so slow rates keep their fractions. */
struct turn_bw_bucket {
	uint64_t tokens_mb;
	uint64_t last_ms;
};

/* A full bucket of burst bytes at now_ms. */
void turn_bw_bucket_init(struct turn_bw_bucket *b, uint64_t burst_bytes,
                         uint64_t now_ms);
/* Take len bytes at now_ms from a bucket filled at rate_bps up to
 * burst_bytes: true when they fit (taken), false when over (nothing
 * taken). rate_bps 0: unlimited, always true. A datagram larger than the
 * burst never fits. */
bool turn_bw_bucket_take(struct turn_bw_bucket *b, uint64_t rate_bps,
                         uint64_t burst_bytes, uint64_t now_ms, size_t len);

/* --- the node's capacity (bps-capacity) -------------------------------- */
/*
 * What the allocations of a node reserve, shared by its workers: each
 * allocation reserves its class's rate once, at Allocate, and gives it
 * back when it is freed. Lock-free (atomics; Allocate and free only, never
 * per packet), any thread. docs/config.md "Node capacity".
 */
struct turn_bw_pool;
/* capacity_bps: bytes/s per direction the node admits (0: no limit);
 * unlimited_bps: what an allocation of an unlimited class reserves.
 * 0, EINVAL, ENOMEM. */
int turn_bw_pool_new(struct turn_bw_pool **out, uint64_t capacity_bps,
                     uint64_t unlimited_bps);
void turn_bw_pool_free(struct turn_bw_pool *p);
/* New values (SIGHUP), at once; reservations held stay (a capacity below
 * them refuses every take until enough are released). NULL: nothing. */
void turn_bw_pool_set(struct turn_bw_pool *p, uint64_t capacity_bps,
                      uint64_t unlimited_bps);
/* Reserve for an allocation of rate_bps (0: unlimited: the pool's
 * unlimited_bps). Returns what was reserved (give exactly that to
 * turn_bw_pool_release; 0 when nothing was, e.g. p NULL), or UINT64_MAX
 * when it would take the reserved total past a nonzero capacity (nothing
 * reserved). */
uint64_t turn_bw_pool_take(struct turn_bw_pool *p, uint64_t rate_bps);
void turn_bw_pool_release(struct turn_bw_pool *p, uint64_t bytes_ps);
uint64_t turn_bw_pool_capacity(const struct turn_bw_pool *p); /* 0: none */
uint64_t turn_bw_pool_reserved(const struct turn_bw_pool *p);

#endif
