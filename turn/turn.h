/*
 * turn/turn.h - the TURN server core (RFC 8656), sans I/O. It takes bytes
 * from a 5-tuple and the time, and says what to send where; the daemon in
 * edge/ moves the bytes. Nothing here opens a socket or reads a clock.
 */
#ifndef AVEDGE_TURN_H
#define AVEDGE_TURN_H

#include "stun/stun.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Why a STUN Binding request got the answer it got (for counters). */
enum turn_binding_outcome {
	TURN_BINDING_SUCCESS = 0,  /* success response */
	TURN_BINDING_INDICATION,   /* Binding indication: keepalive, no reply */
	TURN_BINDING_UNKNOWN_ATTR, /* 420 with UNKNOWN-ATTRIBUTES */
	TURN_BINDING_NOT_BINDING,  /* not a Binding request: not ours */
};

/*
 * Answer a parsed STUN Binding message from `from` (RFC 8489 s6.3, s12):
 * a success response with XOR-MAPPED-ADDRESS (MAPPED-ADDRESS for an RFC
 * 3489 client, which has no magic cookie), FINGERPRINT when the request
 * had one, and nothing else: the answer to an unauthenticated sender
 * stays small. A CHANGE-REQUEST with no flag set is accepted; one with a
 * flag set, or any unknown comprehension-required attribute, gets 420 with
 * UNKNOWN-ATTRIBUTES (this server has no alternate address, RFC 5780).
 * Writes the response into out (cap bytes); *out_len is 0 when nothing is
 * to be sent. Returns 0, or ENOSPC when cap is too small.
 */
int turn_binding_respond(const struct stun_msg *req, const struct sockaddr *from,
			 uint8_t *out, size_t cap, size_t *out_len,
			 enum turn_binding_outcome *outcome);

#endif
