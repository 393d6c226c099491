/*
 * edge/swap.h - hand a new read-mostly object (credential store, peer
 * policy, TLS or DTLS context) to every worker and free the one it
 * replaces once the last worker has moved: no lock on the packet path,
 * nothing freed while a worker may read it.
 *
 * The main thread begins a swap (only when none is in flight) and posts
 * the new object with edge_swap_done as the done callback; each worker
 * calls it on its thread; the last one frees the old object, calls
 * after(arg), and only then lets the main thread begin another swap.
 */
#ifndef AVEDGE_EDGE_SWAP_H
#define AVEDGE_EDGE_SWAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct edge_swap {
	void (*free_old)(void *old);
	void (*after)(void *arg); /* NULL: nothing */
	void *arg;
	/* in flight: */
	void *old;
	atomic_int pending; /* workers not moved yet */
	atomic_int busy;    /* cleared by the last worker, after the free */
};

bool edge_swap_busy(struct edge_swap *s);
/* Main thread, not busy: old is freed once n workers called done. */
void edge_swap_begin(struct edge_swap *s, void *old, size_t n);
/* The done callback of edge_worker_set_*: arg is the struct edge_swap. */
void edge_swap_done(void *arg);
/* At stop, once the workers are gone: free an old object still held. */
void edge_swap_finish(struct edge_swap *s);

#endif
