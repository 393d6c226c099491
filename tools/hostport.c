/*
 * tools/hostport.c - numeric host[:port] parsing for the tools (see
 * hostport.h).
 */
#include "tools/hostport.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

int tools_parse_hostport(const char *in, uint16_t def_port,
                         struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128], port[16];
	const char *colon = strrchr(in, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM,
	                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai;

	snprintf(port, sizeof(port), "%u", def_port);
	if (in[0] == '[') {
		const char *end = strchr(in, ']');
		if (!end || (size_t)(end - in - 1) >= sizeof(host))
			return EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(end - in - 1),
		         in + 1);
		if (end[1] == ':')
			snprintf(port, sizeof(port), "%s", end + 2);
	} else if (colon && strchr(in, ':') == colon) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - in), in);
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		snprintf(host, sizeof(host), "%s", in);
	}
	if (getaddrinfo(host, port, &hints, &ai))
		return EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}
