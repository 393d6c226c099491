/*
 * edge/swap.c - hand a new object to every worker, free the old one after
 * the last (see swap.h).
 */
#include "edge/swap.h"

bool edge_swap_busy(struct edge_swap *s)
{
	return atomic_load(&s->busy) != 0;
}

void edge_swap_begin(struct edge_swap *s, void *old, size_t n)
{
	s->old = old;
	atomic_store(&s->busy, 1);
	atomic_store(&s->pending, (int)n);
}

void edge_swap_done(void *arg)
{
	struct edge_swap *s = arg;

	if (atomic_fetch_sub(&s->pending, 1) != 1)
		return;
	s->free_old(s->old);
	s->old = NULL;
	if (s->after) /* before main may begin the next swap */
		s->after(s->arg);
	atomic_store(&s->busy, 0);
}

void edge_swap_finish(struct edge_swap *s)
{
	if (edge_swap_busy(s))
		s->free_old(s->old);
	s->old = NULL;
	atomic_store(&s->busy, 0);
}
