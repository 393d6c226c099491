/*
 * stun/errors.c - text: reason phrases for the ERROR-CODE values avedge
 * sends (RFC 8489 s14.8, RFC 8656 s19, RFC 6062 s6.3) and names of parse
 * failure reasons for logs and tests. Phrases are shortened where the RFC
 * name is longer than STUN_REASON_MAX (24) bytes, so that an error answer
 * to an unauthenticated sender stays small. Pure, static strings.
 */
#include <stddef.h>

#include "stun/stun.h"

struct phrase {
	uint16_t code;
	const char *text;
};

static const struct phrase phrases[] = {
        {300, "Try Alternate"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {420, "Unknown Attribute"},
        {437, "Allocation Mismatch"},
        {438, "Stale Nonce"},
        {440, "Family not Supported"}, /* Address Family not Supported */
        {441, "Wrong Credentials"},
        {442, "Unsupported Transport"}, /* ... Transport Protocol */
        {443, "Peer Family Mismatch"},  /* Peer Address Family Mismatch */
        {446, "Connection Exists"},     /* Connection Already Exists */
        {447, "Connection Failed"},     /* Connection Timeout or Failure */
        {486, "Allocation Quota Reached"},
        {500, "Server Error"},
        {508, "Insufficient Capacity"},
};

const char *stun_error_reason(uint16_t code)
{
	for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
		if (phrases[i].code == code)
			return phrases[i].text;
	return "Error";
}

const char *stun_reason_str(enum stun_reason r)
{
	switch (r) {
	case STUN_OK:
		return "ok";
	case STUN_ERR_SHORT:
		return "shorter than the header";
	case STUN_ERR_TOP_BITS:
		return "first two bits not zero";
	case STUN_ERR_LENGTH_ALIGN:
		return "length not a multiple of 4";
	case STUN_ERR_LENGTH_MISMATCH:
		return "length disagrees with the datagram";
	case STUN_ERR_ATTR_TRUNCATED:
		return "attribute runs past the end";
	case STUN_ERR_TOO_MANY_ATTRS:
		return "too many attributes";
	case STUN_ERR_AFTER_INTEGRITY:
		return "attribute after MESSAGE-INTEGRITY";
	case STUN_ERR_AFTER_FINGERPRINT:
		return "attribute after FINGERPRINT";
	case STUN_ERR_FINGERPRINT:
		return "wrong FINGERPRINT";
	case STUN_ERR_BAD_ATTR:
		return "malformed attribute value";
	case STUN_ERR_NO_COOKIE:
		return "no magic cookie";
	case STUN_ERR_CHANNEL_NUMBER:
		return "channel number out of range";
	case STUN_ERR_CHANNEL_LENGTH:
		return "ChannelData length past the buffer";
	}
	return "unknown reason";
}
