/*
 * tools/sim/signal.c - split roles (--role mcu|viewer, --signal).
 */
#include <errno.h>

#include "tools/sim/sim.h"

int sim_split(struct sim_run *r)
{
	sim_error(r, "--role mcu|viewer: not implemented yet");
	return ENOSYS;
}
