/*
 * tools/rxq.h - the kernel's receive-queue drop count (SO_RXQ_OVFL) as the
 * tools read it: a uint32 cmsg on datagrams received after a drop, the
 * socket's cumulative drops. Shared by avedge-load and edge-sim.
 */
#ifndef AVEDGE_TOOLS_RXQ_H
#define AVEDGE_TOOLS_RXQ_H

#include <stdint.h>
#include <sys/socket.h>

/* The drops mh reports beyond *last (the count seen before on this
 * socket), which it updates; 0 when mh carries no SO_RXQ_OVFL cmsg. */
uint64_t tools_rxq_drops(uint32_t *last, const struct msghdr *mh);

#endif
