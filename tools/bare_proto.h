/*
 * tools/bare_proto.h - the trivial control protocol between avedge-load
 * --bare and bare-forwarder. Everything travels as ChannelData (RFC 8656
 * s12.4) to the forwarder's port, so the data path is byte for byte the
 * one a TURN client uses; control messages are ChannelData whose payload
 * starts with one of these 8-byte tags:
 *
 *   AVBIND  client -> fwd  tag, u16 family (1 IPv4, 2 IPv6), u16 port,
 *                          16 bytes address (IPv4 in the first 4): the
 *                          peer. Opens the client's relay socket and binds
 *                          the channel to the peer. Idempotent.
 *   AVBOUND fwd -> client  tag, then the relay address, same layout.
 *   AVFREE  client -> fwd  tag. Closes the relay socket. Idempotent.
 *   AVFREED fwd -> client  tag.
 *
 * Any other payload on the bound channel is data: the forwarder sends it
 * from the relay socket to the peer, and wraps what the peer sends to the
 * relay socket in a ChannelData header back to the client. All integers
 * are in network byte order.
 */
#ifndef AVEDGE_TOOLS_BARE_PROTO_H
#define AVEDGE_TOOLS_BARE_PROTO_H

#define BARE_TAG_LEN  8
#define BARE_ADDR_LEN (BARE_TAG_LEN + 4 + 16)
#define BARE_BIND     "AVBIND\0\0"
#define BARE_BOUND    "AVBOUND\0"
#define BARE_FREE     "AVFREE\0\0"
#define BARE_FREED    "AVFREED\0"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* Write an address after the tag: p points at the 20 address bytes. */
static inline void bare_put_addr(uint8_t *p, const struct sockaddr_storage *ss)
{
	memset(p, 0, 20);
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		p[1] = 2;
		memcpy(p + 2, &s6->sin6_port, 2);
		memcpy(p + 4, &s6->sin6_addr, 16);
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;
		p[1] = 1;
		memcpy(p + 2, &s4->sin_port, 2);
		memcpy(p + 4, &s4->sin_addr, 4);
	}
}

/* Read the 20 address bytes at p; returns the sockaddr length or 0. */
static inline socklen_t bare_get_addr(const uint8_t *p,
                                      struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (p[1] == 2) {
		struct sockaddr_in6 *s6 = (void *)ss;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_port, p + 2, 2);
		memcpy(&s6->sin6_addr, p + 4, 16);
		return sizeof(*s6);
	}
	if (p[1] == 1) {
		struct sockaddr_in *s4 = (void *)ss;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_port, p + 2, 2);
		memcpy(&s4->sin_addr, p + 4, 4);
		return sizeof(*s4);
	}
	return 0;
}

#endif
