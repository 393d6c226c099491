/*
 * stun/attr.c - attribute values: the well-formedness rules applied while
 * parsing (RFC 8489 s14, RFC 8656 s18, RFC 6062 s6.2, RFC 5780 s7,
 * RFC 8445 s16.1) and the decoders for addresses (plain and XOR-coded,
 * s14.1/14.2), 32-bit values and ERROR-CODE (s14.8).
 *
 * Decoders read a parsed view (which borrows the message buffer) and write
 * only to their out parameters. Pure, no allocation.
 */
#include <errno.h>
#include <string.h>

#include "stun/stun_int.h"

/* Family byte and length agree: 8 bytes for IPv4, 20 for IPv6. */
static bool addr_ok(const uint8_t *v, size_t len)
{
	if (len < 4)
		return false;
	return (v[1] == STUN_FAMILY_IPV4 && len == 8) ||
	       (v[1] == STUN_FAMILY_IPV6 && len == 20);
}

/* Class 3..6 and number 0..99 in bytes 2 and 3 (s14.8); the reason phrase
 * after them is bounded like other text. */
static bool error_ok(const uint8_t *v, size_t len)
{
	if (len < 4 || len > 4 + STUN_TEXT_MAX)
		return false;
	uint8_t cls = v[2] & 0x07;
	return cls >= 3 && cls <= 6 && v[3] <= 99;
}

/* ADDRESS-ERROR-CODE (RFC 8656 s18.12): family first, then as ERROR-CODE. */
static bool addr_error_ok(const uint8_t *v, size_t len)
{
	if (len < 4)
		return false;
	bool fam = v[0] == STUN_FAMILY_IPV4 || v[0] == STUN_FAMILY_IPV6;
	return fam && error_ok(v, len);
}

/*
 * PASSWORD-ALGORITHMS (s14.11): one or more of {algorithm 16, parameters
 * length 16, parameters padded to 4}. The last entry's padding may be
 * absent from the value (it is then the attribute's own padding). With
 * single, the value is exactly one entry: PASSWORD-ALGORITHM (s14.12).
 */
static bool pw_algs_ok(const uint8_t *v, size_t len, bool single)
{
	size_t off = 0;
	size_t n = 0;

	if (len == 0)
		return false;
	while (off < len) {
		if (len - off < 4)
			return false;
		size_t plen = stun_get16(v + off + 2);
		if (plen > len - off - 4)
			return false;
		n++;
		size_t next = off + 4 + stun_pad4(plen);
		if (next >= len)
			break;
		off = next;
	}
	return !single || n == 1;
}

bool stun_attr_is_known(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
	case STUN_ATTR_CHANGE_REQUEST:
	case STUN_ATTR_USERNAME:
	case STUN_ATTR_MESSAGE_INTEGRITY:
	case STUN_ATTR_ERROR_CODE:
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
	case STUN_ATTR_CHANNEL_NUMBER:
	case STUN_ATTR_LIFETIME:
	case STUN_ATTR_XOR_PEER_ADDRESS:
	case STUN_ATTR_DATA:
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case STUN_ATTR_XOR_RELAYED_ADDRESS:
	case STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
	case STUN_ATTR_EVEN_PORT:
	case STUN_ATTR_REQUESTED_TRANSPORT:
	case STUN_ATTR_DONT_FRAGMENT:
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
	case STUN_ATTR_PASSWORD_ALGORITHM:
	case STUN_ATTR_USERHASH:
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
	case STUN_ATTR_RESERVATION_TOKEN:
	case STUN_ATTR_PRIORITY:
	case STUN_ATTR_USE_CANDIDATE:
	case STUN_ATTR_CONNECTION_ID:
	case STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY:
	case STUN_ATTR_ADDRESS_ERROR_CODE:
	case STUN_ATTR_PASSWORD_ALGORITHMS:
	case STUN_ATTR_ALTERNATE_DOMAIN:
	case STUN_ATTR_ICMP:
	case STUN_ATTR_SOFTWARE:
	case STUN_ATTR_ALTERNATE_SERVER:
	case STUN_ATTR_FINGERPRINT:
	case STUN_ATTR_ICE_CONTROLLED:
	case STUN_ATTR_ICE_CONTROLLING:
	case STUN_ATTR_RESPONSE_ORIGIN:
	case STUN_ATTR_OTHER_ADDRESS:
		return true;
	default:
		return false;
	}
}

/* Fixed value sizes; -1 for types with a rule of their own. */
static int fixed_len(uint16_t type)
{
	switch (type) {
	case STUN_ATTR_DONT_FRAGMENT:
	case STUN_ATTR_USE_CANDIDATE:
		return 0;
	case STUN_ATTR_EVEN_PORT:
		return 1;
	case STUN_ATTR_CHANGE_REQUEST:
	case STUN_ATTR_CHANNEL_NUMBER:
	case STUN_ATTR_LIFETIME:
	case STUN_ATTR_REQUESTED_TRANSPORT:
	case STUN_ATTR_CONNECTION_ID:
	case STUN_ATTR_PRIORITY:
	case STUN_ATTR_FINGERPRINT:
		return 4;
	case STUN_ATTR_RESERVATION_TOKEN:
	case STUN_ATTR_ICMP:
	case STUN_ATTR_ICE_CONTROLLED:
	case STUN_ATTR_ICE_CONTROLLING:
		return 8;
	case STUN_ATTR_MESSAGE_INTEGRITY:
		return 20;
	case STUN_ATTR_USERHASH:
		return 32;
	default:
		return -1;
	}
}

static bool value_ok(uint16_t type, const uint8_t *v, size_t len)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
	case STUN_ATTR_XOR_PEER_ADDRESS:
	case STUN_ATTR_XOR_RELAYED_ADDRESS:
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
	case STUN_ATTR_ALTERNATE_SERVER:
	case STUN_ATTR_RESPONSE_ORIGIN:
	case STUN_ATTR_OTHER_ADDRESS:
		return addr_ok(v, len);
	case STUN_ATTR_USERNAME:
		return len <= STUN_USERNAME_MAX;
	case STUN_ATTR_REALM:
	case STUN_ATTR_NONCE:
	case STUN_ATTR_SOFTWARE:
		return len <= STUN_TEXT_MAX;
	case STUN_ATTR_ALTERNATE_DOMAIN:
		return len >= 1 && len <= 255;
	case STUN_ATTR_ERROR_CODE:
		return error_ok(v, len);
	case STUN_ATTR_ADDRESS_ERROR_CODE:
		return addr_error_ok(v, len);
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		return len % 2 == 0;
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		return len >= 16 && len <= 32 && len % 4 == 0;
	/* The family value itself is the server's to judge (RFC 8656 s7.2:
	 * an unsupported one is 440, an IPv4 ADDITIONAL-ADDRESS-FAMILY 400),
	 * so only the length is the codec's business. */
	case STUN_ATTR_REQUESTED_ADDRESS_FAMILY:
	case STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY:
		return len == 4;
	case STUN_ATTR_PASSWORD_ALGORITHMS:
		return pw_algs_ok(v, len, false);
	case STUN_ATTR_PASSWORD_ALGORITHM:
		return pw_algs_ok(v, len, true);
	default:
		return true; /* DATA and unknown types: any value */
	}
}

int stun_attr_check(uint16_t type, const uint8_t *v, size_t len)
{
	int want = fixed_len(type);

	if (want >= 0)
		return len == (size_t)want ? 0 : EBADMSG;
	return value_ok(type, v, len) ? 0 : EBADMSG;
}

/*
 * Decode an address value; mask (20 bytes: cookie || transaction id) is
 * XORed in when not NULL, as s14.2 says: the port with the cookie's top 16
 * bits, IPv4 with the cookie, IPv6 with cookie || transaction id.
 */
static int decode_addr(const struct stun_attr *a, const uint8_t *mask,
                       struct sockaddr_storage *ss)
{
	uint8_t ip[16];

	if (!a || !ss)
		return EINVAL;
	if (!addr_ok(a->value, a->len))
		return EBADMSG;
	memset(ss, 0, sizeof(*ss));
	uint16_t port = stun_get16(a->value + 2);
	size_t n = a->len - 4;
	memcpy(ip, a->value + 4, n);
	if (mask) {
		port ^= (uint16_t)(STUN_MAGIC_COOKIE >> 16);
		for (size_t i = 0; i < n; i++)
			ip[i] ^= mask[i];
	}
	if (n == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, ip, 16);
	}
	return 0;
}

int stun_attr_get_addr(const struct stun_attr *a, struct sockaddr_storage *ss)
{
	return decode_addr(a, NULL, ss);
}

/* The mask is the constant cookie and bytes 8..20 of the header, also for
 * an RFC 3489 message (which should carry no XOR attributes). */
int stun_attr_get_xor_addr(const struct stun_attr *a, const struct stun_msg *m,
                           struct sockaddr_storage *ss)
{
	uint8_t mask[20];

	if (!m || !m->buf)
		return EINVAL;
	stun_put32(mask, STUN_MAGIC_COOKIE);
	memcpy(mask + 4, m->buf + 8, STUN_TID_LEN);
	return decode_addr(a, mask, ss);
}

int stun_msg_get_xor_addr(const struct stun_msg *m, uint16_t type,
                          struct sockaddr_storage *ss)
{
	const struct stun_attr *a = stun_msg_find(m, type);

	if (!m || !ss)
		return EINVAL;
	if (!a)
		return ENOENT;
	return stun_attr_get_xor_addr(a, m, ss);
}

int stun_msg_get_u32(const struct stun_msg *m, uint16_t type, uint32_t *v)
{
	const struct stun_attr *a = stun_msg_find(m, type);

	if (!m || !v)
		return EINVAL;
	if (!a)
		return ENOENT;
	if (a->len != 4)
		return EBADMSG;
	*v = stun_get32(a->value);
	return 0;
}

int stun_msg_get_error(const struct stun_msg *m, uint16_t *code,
                       const char **reason, size_t *reason_len)
{
	const struct stun_attr *a = stun_msg_find(m, STUN_ATTR_ERROR_CODE);

	if (!m || !code)
		return EINVAL;
	if (!a)
		return ENOENT;
	if (!error_ok(a->value, a->len))
		return EBADMSG;
	*code = (uint16_t)((a->value[2] & 0x07) * 100 + a->value[3]);
	if (reason)
		*reason = (const char *)a->value + 4;
	if (reason_len)
		*reason_len = a->len - 4;
	return 0;
}
