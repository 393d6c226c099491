/*
 * turn/ports.h - relay port pool for min-port..max-port (RFC 8656 s7.2:
 * relayed transport addresses, EVEN-PORT s14.6, RESERVATION-TOKEN s14.9).
 *
 * Ports are handed out uniformly at random among the free ones (the
 * randomness comes from the caller, one uint32 per call), so relay ports
 * are not predictable (RFC 8656 s21.2.6 / RFC 6056). Take, release and
 * take-specific are O(1); memory is about 2.5 bytes per port (a 16k-port
 * range: ~40 kB, divided among the workers that split it).
 *
 * Workers: each worker owns one pool and no locks are needed. N workers
 * split one range with turn_ports_new(.., worker_index, nworkers): the
 * range is cut into N contiguous blocks along even/odd pair boundaries
 * (port 2k and 2k+1 always land in the same block, so EVEN-PORT works in
 * every share); together the blocks cover min..max exactly once.
 *
 * Bind failures: when the kernel refuses a relay port (another process
 * holds it), the caller hands it to turn_ports_quarantine() and takes
 * another, a few times, then answers 508 (Insufficient Capacity). A
 * quarantined port stays out of circulation for TURN_PORTS_QUARANTINE_MS
 * and returns through turn_ports_expire(). Pure: time is a parameter.
 */
#ifndef AVEDGE_TURN_PORTS_H
#define AVEDGE_TURN_PORTS_H

#include <stdint.h>

#define TURN_PORTS_QUARANTINE_MS 60000

struct turn_ports;

struct turn_ports_stats {
	uint32_t total;            /* ports in this pool's share */
	uint32_t free;             /* ready to be taken */
	uint32_t in_use;           /* taken by the caller */
	uint32_t quarantined;      /* held back after a failed bind */
	uint32_t free_pairs;       /* even ports whose port+1 is free too */
	uint64_t take_failures;    /* ENOSPC answers of take/take_even_pair */
	uint64_t quarantined_ever; /* turn_ports_quarantine() calls that held */
};

/* Create the pool of worker worker_index (0..nworkers-1) for the range
 * min_port..max_port (inclusive, 1..65535). Returns 0, EINVAL (bad range,
 * bad index, or a share left empty because the range has fewer port pairs
 * than workers) or ENOMEM. */
int turn_ports_new(struct turn_ports **out, uint16_t min_port,
                   uint16_t max_port, unsigned worker_index, unsigned nworkers);

/* Free a pool; NULL is fine. */
void turn_ports_free(struct turn_ports *pool);

/* This pool's share: *first..*last (inclusive; the pairs at the ends may
 * be cut by min_port/max_port). */
void turn_ports_share(const struct turn_ports *pool, uint16_t *first,
                      uint16_t *last);

/* Take a free port chosen by rng among all free ports. Returns 0 and
 * *port, ENOSPC (none free) or EINVAL. */
int turn_ports_take(struct turn_ports *pool, uint32_t rng, uint16_t *port);

/* EVEN-PORT: take an even port P whose P+1 is free too, both, chosen by
 * rng among such pairs; the caller releases P+1 if it does not need it
 * (R bit 0) or keeps it for a RESERVATION-TOKEN. Returns 0 and *port = P,
 * ENOSPC or EINVAL. */
int turn_ports_take_even_pair(struct turn_ports *pool, uint32_t rng,
                              uint16_t *port);

/* Take this exact port. Returns 0, EINVAL (not in this pool's share) or
 * EADDRINUSE (taken or quarantined). */
int turn_ports_take_specific(struct turn_ports *pool, uint16_t port);

/* Give back a taken port. Returns 0, or EINVAL if port is not in this
 * share, not taken, or quarantined (the pool owns those). */
int turn_ports_release(struct turn_ports *pool, uint16_t port);

/* The kernel refused to bind this taken port: keep it out of circulation
 * until now_ms + TURN_PORTS_QUARANTINE_MS. The caller no longer owns it.
 * Returns 0, EINVAL (not taken) or ENOMEM (the port stays taken). */
int turn_ports_quarantine(struct turn_ports *pool, uint16_t port,
                          uint64_t now_ms);

/* Return the ports whose quarantine ended by now_ms to the free set;
 * returns how many. */
unsigned turn_ports_expire(struct turn_ports *pool, uint64_t now_ms);

/* When the next quarantine ends, or UINT64_MAX if none. */
uint64_t turn_ports_next_deadline(const struct turn_ports *pool);

void turn_ports_stats(const struct turn_ports *pool,
                      struct turn_ports_stats *st);

#endif
