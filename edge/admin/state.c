/*
 * edge/admin/state.c - what the admin server reads of the node: the sums
 * of every worker's counters (relaxed loads, no lock), the relay port
 * pool, and the drain flag it sets (SIGUSR1/SIGUSR2 and the API).
 */
#include "edge/admin/admin_int.h"
#include "edge/base/log.h"
#include "edge/net/worker.h"

#include <string.h>

void edge_admin_set_draining(atomic_int *draining, bool on, const char *why)
{
	int was = atomic_exchange(draining, on ? 1 : 0);

	if (was != (on ? 1 : 0))
		edge_warn("%s: %s", why,
		          on ? "draining: new allocations get 508, existing "
		               "ones keep running"
		             : "drain ended: accepting new allocations");
	else
		edge_info("%s: already %s", why, on ? "draining" : "serving");
}

bool admin_ports_exhausted(struct edge_admin *a)
{
	uint32_t in_use, free_, total;

	turn_node_usage(a->node, &in_use, &free_, &total);
	return total > 0 && free_ == 0;
}

void admin_sum_turn(struct edge_admin *a, struct turn_stats *out)
{
	/* struct turn_stats is uint64_t counters and arrays of them only */
	_Static_assert(sizeof(struct turn_stats) % sizeof(uint64_t) == 0,
	               "turn_stats holds uint64_t only");
	uint64_t *dst = (uint64_t *)(void *)out;
	size_t n = sizeof(*out) / sizeof(uint64_t);

	memset(out, 0, sizeof(*out));
	for (size_t w = 0; w < a->nworkers; w++) {
		const uint64_t *src =
		        (const uint64_t *)(const void *)edge_worker_turn_stats(
		                a->workers[w]);
		for (size_t i = 0; i < n; i++)
			dst[i] += __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	}
}

void admin_sum_edge(struct edge_admin *a, struct edge_stats *out)
{
	_Static_assert(sizeof(struct edge_stats) % sizeof(uint64_t) == 0,
	               "edge_stats holds _Atomic uint64_t only");
	_Atomic uint64_t *dst = (_Atomic uint64_t *)(void *)out;
	size_t n = sizeof(*out) / sizeof(uint64_t);

	memset(out, 0, sizeof(*out));
	for (size_t w = 0; w < a->nworkers; w++) {
		const _Atomic uint64_t *src =
		        (const _Atomic uint64_t *)(const void *)
		                edge_worker_stats(a->workers[w]);
		for (size_t i = 0; i < n; i++)
			atomic_store_explicit(
			        &dst[i],
			        atomic_load_explicit(&dst[i],
			                             memory_order_relaxed) +
			                atomic_load_explicit(
			                        &src[i], memory_order_relaxed),
			        memory_order_relaxed);
	}
}
