/*
 * tools/hostport.h - numeric "host[:port]" parsing shared by the tools:
 * "1.2.3.4", "1.2.3.4:P", "[::1]:P", "::1". No name lookups.
 */
#ifndef AVEDGE_TOOLS_HOSTPORT_H
#define AVEDGE_TOOLS_HOSTPORT_H

#include <stdint.h>
#include <sys/socket.h>

/* Parse in into *ss / *len; def_port when in names no port. 0 or EINVAL. */
int tools_parse_hostport(const char *in, uint16_t def_port,
                         struct sockaddr_storage *ss, socklen_t *len);

#endif
