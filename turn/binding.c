/*
 * turn/binding.c - the STUN Binding service (RFC 8489 s6.3.1, s12 for RFC
 * 3489 clients; RFC 5780 s7.2 for CHANGE-REQUEST without the alternate
 * address). Pure: parsed request in, response bytes out.
 */
#include "turn/turn.h"

#include <errno.h>
#include <string.h>

/* CHANGE-REQUEST flags (RFC 5780 s7.2): change IP 0x4, change port 0x2. */
#define CHANGE_FLAGS 0x6u

static size_t unknown_attrs(const struct stun_msg *req, uint16_t *types,
                            size_t cap)
{
	size_t n = 0;
	uint32_t flags;

	for (size_t i = 0; i < req->nunknown && n < cap; i++)
		types[n++] = req->unknown[i];
	if (stun_msg_get_u32(req, STUN_ATTR_CHANGE_REQUEST, &flags) == 0 &&
	    (flags & CHANGE_FLAGS) && n < cap)
		types[n++] = STUN_ATTR_CHANGE_REQUEST;
	return n;
}

/* Header of a response to an RFC 3489 request: the 16-byte transaction id
 * (cookie field included) is echoed as it came. */
static void restore_3489_tid(uint8_t *out, const struct stun_msg *req)
{
	memcpy(out + 4, req->buf + 4, 4);
}

int turn_binding_respond(const struct stun_msg *req,
                         const struct sockaddr *from, uint8_t *out, size_t cap,
                         size_t *out_len, enum turn_binding_outcome *outcome)
{
	struct stun_builder b;
	uint16_t unknown[9];
	size_t nunknown, len;

	*out_len = 0;
	if (req->method != STUN_METHOD_BINDING ||
	    (req->cls != STUN_CLASS_REQUEST &&
	     req->cls != STUN_CLASS_INDICATION)) {
		*outcome = TURN_BINDING_NOT_BINDING;
		return 0;
	}
	if (req->cls == STUN_CLASS_INDICATION) {
		*outcome = TURN_BINDING_INDICATION;
		return 0;
	}
	const uint8_t *tid = req->rfc3489 ? req->buf + 8 : req->tid;
	nunknown = unknown_attrs(req, unknown, 9);
	if (nunknown > 0) {
		stun_build_init(&b, out, cap, STUN_METHOD_BINDING,
		                STUN_CLASS_ERROR, tid);
		stun_build_error(&b, 420, ""); /* no reason: unauthenticated */
		stun_build_unknown(&b, unknown, nunknown);
		*outcome = TURN_BINDING_UNKNOWN_ATTR;
	} else {
		stun_build_init(&b, out, cap, STUN_METHOD_BINDING,
		                STUN_CLASS_SUCCESS, tid);
		if (req->rfc3489)
			stun_build_addr(&b, STUN_ATTR_MAPPED_ADDRESS, from);
		else
			stun_build_xor_addr(&b, STUN_ATTR_XOR_MAPPED_ADDRESS,
			                    from);
		*outcome = TURN_BINDING_SUCCESS;
	}
	if (req->fp_off && !req->rfc3489)
		stun_build_fingerprint(&b);
	len = stun_build_finish(&b);
	if (len == 0)
		return b.err ? b.err : ENOSPC;
	if (req->rfc3489)
		restore_3489_tid(out, req);
	*out_len = len;
	return 0;
}
