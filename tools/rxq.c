/*
 * tools/rxq.c - SO_RXQ_OVFL drop counts for the tools (see rxq.h).
 */
#include "tools/rxq.h"

#include <string.h>

uint64_t tools_rxq_drops(uint32_t *last, const struct msghdr *mh)
{
	uint64_t n = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR((struct msghdr *)mh, cm)) {
		uint32_t v;

		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SO_RXQ_OVFL)
			continue;
		memcpy(&v, CMSG_DATA(cm), sizeof(v));
		if (v > *last) {
			n += v - *last;
			*last = v;
		}
	}
	return n;
}
