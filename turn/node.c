/*
 * turn/node.c - what the workers of one node share at allocation time:
 * the relay port pool and the ports held for RESERVATION-TOKENs (RFC 8656
 * s7.2, s14.9). A token minted on one worker may come back on another
 * (SO_REUSEPORT hashes the second 5-tuple anywhere), so both live here,
 * behind one mutex taken on Allocate, bind failures and frees only: never
 * on the packet path.
 */
#include "turn/turn_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RESV_MAX 4096 /* reservations held at once (30 s each) */

struct node_resv {
	uint8_t token[8];
	uint16_t port; /* 0: free slot */
	uint8_t ip_index;
	uint64_t expires_ms;
};

struct turn_node {
	pthread_mutex_t mu;
	struct turn_ports *ports;
	struct node_resv resv[RESV_MAX];
	size_t nresv; /* slots in use, for a quick empty check */
};

int turn_node_new(struct turn_node **out, uint16_t min_port, uint16_t max_port)
{
	struct turn_node *n = calloc(1, sizeof(*n));
	int err;

	if (!n)
		return ENOMEM;
	err = turn_ports_new(&n->ports, min_port, max_port, 0, 1);
	if (err) {
		free(n);
		return err;
	}
	pthread_mutex_init(&n->mu, NULL);
	*out = n;
	return 0;
}

void turn_node_free(struct turn_node *n)
{
	if (!n)
		return;
	turn_ports_free(n->ports);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

int turn_node_take(struct turn_node *n, uint32_t rng, bool even_pair,
                   uint16_t *port)
{
	pthread_mutex_lock(&n->mu);
	int err = even_pair ? turn_ports_take_even_pair(n->ports, rng, port)
	                    : turn_ports_take(n->ports, rng, port);
	pthread_mutex_unlock(&n->mu);
	return err;
}

void turn_node_release(struct turn_node *n, uint16_t port)
{
	pthread_mutex_lock(&n->mu);
	turn_ports_release(n->ports, port);
	pthread_mutex_unlock(&n->mu);
}

void turn_node_quarantine(struct turn_node *n, uint16_t port, uint64_t now_ms)
{
	pthread_mutex_lock(&n->mu);
	if (turn_ports_quarantine(n->ports, port, now_ms) != 0)
		turn_ports_release(n->ports, port);
	pthread_mutex_unlock(&n->mu);
}

int turn_node_resv_put(struct turn_node *n, const uint8_t token[8],
                       uint16_t port, uint8_t ip_index, uint64_t expires_ms)
{
	int err = ENOSPC;

	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < RESV_MAX; i++) {
		struct node_resv *r = &n->resv[i];
		if (r->port == 0) {
			memcpy(r->token, token, 8);
			r->port = port;
			r->ip_index = ip_index;
			r->expires_ms = expires_ms;
			n->nresv++;
			err = 0;
			break;
		}
	}
	pthread_mutex_unlock(&n->mu);
	return err;
}

bool turn_node_resv_take(struct turn_node *n, const uint8_t token[8],
                         uint16_t *port, uint8_t *ip_index)
{
	bool found = false;

	pthread_mutex_lock(&n->mu);
	for (size_t i = 0; i < RESV_MAX && n->nresv > 0; i++) {
		struct node_resv *r = &n->resv[i];
		if (r->port && memcmp(r->token, token, 8) == 0) {
			*port = r->port;
			*ip_index = r->ip_index;
			r->port = 0;
			n->nresv--;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&n->mu);
	return found;
}

void turn_node_expire(struct turn_node *n, uint64_t now_ms)
{
	pthread_mutex_lock(&n->mu);
	turn_ports_expire(n->ports, now_ms);
	for (size_t i = 0; i < RESV_MAX && n->nresv > 0; i++) {
		struct node_resv *r = &n->resv[i];
		if (r->port && r->expires_ms <= now_ms) {
			turn_ports_release(n->ports, r->port);
			r->port = 0;
			n->nresv--;
		}
	}
	pthread_mutex_unlock(&n->mu);
}

uint64_t turn_node_next_deadline(struct turn_node *n)
{
	uint64_t d;

	pthread_mutex_lock(&n->mu);
	d = turn_ports_next_deadline(n->ports);
	for (size_t i = 0; i < RESV_MAX && n->nresv > 0; i++)
		if (n->resv[i].port && n->resv[i].expires_ms < d)
			d = n->resv[i].expires_ms;
	pthread_mutex_unlock(&n->mu);
	return d;
}

void turn_node_ports_stats(struct turn_node *n, struct turn_ports_stats *st)
{
	pthread_mutex_lock(&n->mu);
	turn_ports_stats(n->ports, st);
	pthread_mutex_unlock(&n->mu);
}
