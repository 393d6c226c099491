/*
 * stun/stun.h - the STUN message codec (RFC 8489), with the attributes of
 * TURN (RFC 8656), TURN-TCP (RFC 6062) and NAT behaviour discovery
 * (RFC 5780), and ChannelData framing (RFC 8656 s12.4).
 *
 * Pure: no I/O, no clock, no malloc. Parsing yields a view that borrows the
 * caller's buffer (valid while that buffer is); building writes into a
 * caller buffer. Functions return 0 or a positive errno:
 *   EBADMSG  the bytes are not a valid message (the reason is recorded)
 *   ENOSPC   the output buffer is too small
 *   ENOENT   the attribute is absent
 *   EINVAL   a bad argument
 */
#ifndef AVEDGE_STUN_H
#define AVEDGE_STUN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STUN_MAGIC_COOKIE    0x2112A442u
#define STUN_HEADER_LEN      20
#define STUN_TID_LEN         12
#define STUN_MAX_ATTRS       40 /* attributes kept in a parsed view */
#define STUN_FINGERPRINT_XOR 0x5354554Eu
#define STUN_CHANNEL_MIN     0x4000
/* RFC 8656 s12 narrows channels to 0x4000-0x4FFF (RFC 7983 and RFC 9443
 * demultiplex on the rest of 0x40-0x7F); RFC 5766 allowed up to 0x7FFF.
 * The codec frames and parses the RFC 5766 range, so that a server
 * configured for it (coturn's turnutils_uclient picks numbers up to
 * 0x7FFF) can serve it; the TURN core refuses 0x5000-0x7FFF unless told
 * (turn_server_cfg.rfc5766_channel_numbers). */
#define STUN_CHANNEL_MAX         0x7FFF
#define STUN_CHANNEL_MAX_RFC8656 0x4FFF

/* Message classes (the C0/C1 bits). */
enum stun_class {
	STUN_CLASS_REQUEST = 0,
	STUN_CLASS_INDICATION = 1,
	STUN_CLASS_SUCCESS = 2,
	STUN_CLASS_ERROR = 3,
};

/* Methods (RFC 8489, RFC 8656, RFC 6062). */
enum stun_method {
	STUN_METHOD_BINDING = 0x001,
	STUN_METHOD_ALLOCATE = 0x003,
	STUN_METHOD_REFRESH = 0x004,
	STUN_METHOD_SEND = 0x006,
	STUN_METHOD_DATA = 0x007,
	STUN_METHOD_CREATE_PERMISSION = 0x008,
	STUN_METHOD_CHANNEL_BIND = 0x009,
	STUN_METHOD_CONNECT = 0x00A,
	STUN_METHOD_CONNECTION_BIND = 0x00B,
	STUN_METHOD_CONNECTION_ATTEMPT = 0x00C,
};

/* Attribute types. Below 0x8000: comprehension-required. */
enum stun_attr_type {
	STUN_ATTR_MAPPED_ADDRESS = 0x0001,
	STUN_ATTR_CHANGE_REQUEST = 0x0003,
	STUN_ATTR_USERNAME = 0x0006,
	STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
	STUN_ATTR_ERROR_CODE = 0x0009,
	STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
	STUN_ATTR_CHANNEL_NUMBER = 0x000C,
	STUN_ATTR_LIFETIME = 0x000D,
	STUN_ATTR_XOR_PEER_ADDRESS = 0x0012,
	STUN_ATTR_DATA = 0x0013,
	STUN_ATTR_REALM = 0x0014,
	STUN_ATTR_NONCE = 0x0015,
	STUN_ATTR_XOR_RELAYED_ADDRESS = 0x0016,
	STUN_ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017,
	STUN_ATTR_EVEN_PORT = 0x0018,
	STUN_ATTR_REQUESTED_TRANSPORT = 0x0019,
	STUN_ATTR_DONT_FRAGMENT = 0x001A,
	STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
	STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
	STUN_ATTR_USERHASH = 0x001E,
	STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
	STUN_ATTR_RESERVATION_TOKEN = 0x0022,
	STUN_ATTR_CONNECTION_ID = 0x002A,
	/* ICE (RFC 8445 s16.1): known so that a Binding request from an ICE
	 * agent does not list them as unknown. */
	STUN_ATTR_PRIORITY = 0x0024,
	STUN_ATTR_USE_CANDIDATE = 0x0025,
	STUN_ATTR_ICE_CONTROLLED = 0x8029,
	STUN_ATTR_ICE_CONTROLLING = 0x802A,
	STUN_ATTR_ADDITIONAL_ADDRESS_FAMILY = 0x8000,
	STUN_ATTR_ADDRESS_ERROR_CODE = 0x8001,
	STUN_ATTR_PASSWORD_ALGORITHMS = 0x8002,
	STUN_ATTR_ALTERNATE_DOMAIN = 0x8003,
	STUN_ATTR_ICMP = 0x8004,
	STUN_ATTR_SOFTWARE = 0x8022,
	STUN_ATTR_ALTERNATE_SERVER = 0x8023,
	STUN_ATTR_FINGERPRINT = 0x8028,
	STUN_ATTR_RESPONSE_ORIGIN = 0x802B,
	STUN_ATTR_OTHER_ADDRESS = 0x802C,
};

#define STUN_ATTR_IS_OPTIONAL(t) (((t)&0x8000) != 0)

/* Password algorithms (RFC 8489 s18.5). */
enum stun_pw_alg {
	STUN_PW_ALG_MD5 = 0x0001,
	STUN_PW_ALG_SHA256 = 0x0002,
};

/* Address family values in address attributes. */
enum stun_family {
	STUN_FAMILY_IPV4 = 0x01,
	STUN_FAMILY_IPV6 = 0x02,
};

/* REQUESTED-TRANSPORT protocol numbers. */
enum stun_transport {
	STUN_TRANSPORT_TCP = 6,
	STUN_TRANSPORT_UDP = 17,
};

/* Why a parse failed; tests assert these. */
enum stun_reason {
	STUN_OK = 0,
	STUN_ERR_SHORT,           /* shorter than the header */
	STUN_ERR_TOP_BITS,        /* first two bits not zero */
	STUN_ERR_LENGTH_ALIGN,    /* length field not a multiple of 4 */
	STUN_ERR_LENGTH_MISMATCH, /* length field disagrees with the datagram */
	STUN_ERR_ATTR_TRUNCATED,  /* attribute runs past the message end */
	STUN_ERR_TOO_MANY_ATTRS,  /* more than STUN_MAX_ATTRS attributes */
	STUN_ERR_AFTER_INTEGRITY, /* not produced by stun_msg_parse(): what
	                           * follows MI / MI-SHA256 is ignored per
	                           * s14.5/14.6; kept for callers */
	STUN_ERR_AFTER_FINGERPRINT, /* anything after FINGERPRINT */
	STUN_ERR_FINGERPRINT,       /* FINGERPRINT present but wrong */
	STUN_ERR_BAD_ATTR,          /* a known attribute with a bad value */
	STUN_ERR_NO_COOKIE,      /* not RFC 8489: parse sets m->rfc3489 instead;
	                          * for callers that refuse RFC 3489 */
	STUN_ERR_CHANNEL_NUMBER, /* ChannelData channel out of range */
	STUN_ERR_CHANNEL_LENGTH, /* ChannelData length past the buffer */
};

/* Text of a reason, for logs and tests. */
const char *stun_reason_str(enum stun_reason r);

/* One attribute in a parsed view: value borrows the message buffer. */
struct stun_attr {
	uint16_t type;
	uint16_t len;         /* value length, without padding */
	const uint8_t *value; /* into the parsed buffer */
};

/*
 * A parsed message. Borrows buf: valid while the caller's buffer is, and
 * unchanged. Duplicate attributes are kept in order; stun_msg_find()
 * returns the first, as RFC 8489 s14 says only the first counts.
 * Attributes after MESSAGE-INTEGRITY(-SHA256) other than the allowed ones
 * (MI-SHA256 after MI, FINGERPRINT) are ignored per s14.5/14.6, not listed.
 */
struct stun_msg {
	const uint8_t *buf;
	size_t len;         /* whole message, header included */
	uint16_t type;      /* raw 14-bit type */
	uint16_t method;    /* enum stun_method */
	uint8_t cls;        /* enum stun_class */
	bool rfc3489;       /* no magic cookie: an RFC 3489 client */
	const uint8_t *tid; /* buf+8, 12 bytes; for RFC 3489 buf+4, 16 bytes
	                     * (its transaction id includes the cookie slot) */
	size_t nattrs;
	struct stun_attr attrs[STUN_MAX_ATTRS];
	/* Offsets (from buf) of the integrity attributes' headers (the first
	 * of each that counts), 0 if absent. */
	size_t mi_off, mi256_off, fp_off;
	/* Unknown comprehension-required types seen before MI, each once, at
	 * most 8 (more are dropped): the UNKNOWN-ATTRIBUTES of a 420. */
	uint16_t unknown[8];
	size_t nunknown;
};

/*
 * Parse one datagram, or one framed message from a stream (len must then
 * be the frame length). On EBADMSG *why tells the reason (why may be NULL).
 * A message without the magic cookie parses with rfc3489 = true when its
 * header is otherwise sound; callers that do not serve RFC 3489 reject it.
 */
int stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len,
                   enum stun_reason *why);

/* First attribute of a type, or NULL. */
const struct stun_attr *stun_msg_find(const struct stun_msg *m, uint16_t type);

/* Quick check of a datagram's first bytes. */
enum stun_kind {
	STUN_KIND_STUN,        /* looks like a STUN message */
	STUN_KIND_CHANNELDATA, /* first byte 0x40-0x4F (RFC 8656 s12) */
	STUN_KIND_OTHER,
};
enum stun_kind stun_demux(const uint8_t *buf, size_t len);

/*
 * Stream framing: how long is the frame at buf (STUN or ChannelData)?
 * Returns 0 and *frame_len when the whole frame length is known (it may be
 * more than avail: read more), EAGAIN when fewer than 4 bytes are there,
 * EBADMSG when the bytes cannot start a frame. ChannelData on a stream is
 * padded to 4 bytes (RFC 8656 s12.5): *frame_len includes the padding.
 * max_len bounds a frame; a larger one is EBADMSG (why =
 * STUN_ERR_LENGTH_MISMATCH for STUN, STUN_ERR_CHANNEL_LENGTH for
 * ChannelData). A first byte that is neither (top bits set, channel not in
 * 0x4000-0x7FFF) is EBADMSG with STUN_ERR_CHANNEL_NUMBER; a STUN length not
 * a multiple of 4 is STUN_ERR_LENGTH_ALIGN.
 */
int stun_frame_len(const uint8_t *buf, size_t avail, size_t max_len,
                   size_t *frame_len, enum stun_reason *why);

/* A parsed ChannelData message (borrows buf). */
struct stun_chandata {
	uint16_t channel;
	uint16_t len;
	const uint8_t *data;
};
/* Parse ChannelData from a datagram (padding optional) or frame: len may
 * exceed 4 + cd->len by the padding (up to 3 bytes), no more. EBADMSG with
 * STUN_ERR_SHORT (< 4 bytes), STUN_ERR_CHANNEL_NUMBER or
 * STUN_ERR_CHANNEL_LENGTH. */
int stun_chandata_parse(struct stun_chandata *cd, const uint8_t *buf,
                        size_t len, enum stun_reason *why);
/* Write the 4-byte ChannelData header; returns bytes to send including
 * padding when pad is true (stream transports, padding zeroed), or 0 if
 * cap is too small or the channel is out of range. The payload must
 * already be at out+4 (or is copied there if data is not out+4 and not
 * NULL; overlap is allowed). */
size_t stun_chandata_build(uint8_t *out, size_t cap, uint16_t channel,
                           const uint8_t *data, uint16_t len, bool pad);

/* --- attribute values ------------------------------------------------ */

/* Value decoders: 0, ENOENT (absent), EBADMSG (malformed value) or EINVAL.
 * Address attributes, IPv4 or IPv6, in a sockaddr_storage. */
int stun_attr_get_addr(const struct stun_attr *a, struct sockaddr_storage *ss);
/* XOR-coded: the transaction id comes from the message. */
int stun_attr_get_xor_addr(const struct stun_attr *a, const struct stun_msg *m,
                           struct sockaddr_storage *ss);
/* Convenience: find + decode. */
int stun_msg_get_xor_addr(const struct stun_msg *m, uint16_t type,
                          struct sockaddr_storage *ss);
int stun_msg_get_u32(const struct stun_msg *m, uint16_t type, uint32_t *v);
/* ERROR-CODE: code = class*100 + number; reason borrows the buffer. */
int stun_msg_get_error(const struct stun_msg *m, uint16_t *code,
                       const char **reason, size_t *reason_len);

/* Short reason phrases for the codes we send (at most STUN_REASON_MAX
 * bytes: responses to unauthenticated senders stay small); "Error" for a
 * code without a phrase of its own. Never NULL. */
#define STUN_REASON_MAX 24
const char *stun_error_reason(uint16_t code);

/* --- building -------------------------------------------------------- */

/* The builder keeps the header length field equal to what has been
 * written, so each integrity attribute covers the message so far with the
 * length ending at itself (s14.5, s14.6, s14.7). The caller orders them:
 * MESSAGE-INTEGRITY, then MESSAGE-INTEGRITY-SHA256, then FINGERPRINT last.
 * Nothing is allocated; b->buf is the caller's. */

struct stun_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err; /* first error (ENOSPC, EINVAL); sticky, checked at the end */
	const uint8_t *tid;
};

/* Start a message of method|class with a transaction id (12 bytes).
 * A NULL tid is an error (callers generate ids). */
void stun_build_init(struct stun_builder *b, uint8_t *buf, size_t cap,
                     uint16_t method, uint8_t cls, const uint8_t *tid);
/* Raw attribute (value copied, padding zeroed). */
void stun_build_attr(struct stun_builder *b, uint16_t type, const void *value,
                     size_t len);
void stun_build_u32(struct stun_builder *b, uint16_t type, uint32_t v);
void stun_build_addr(struct stun_builder *b, uint16_t type,
                     const struct sockaddr *sa);
void stun_build_xor_addr(struct stun_builder *b, uint16_t type,
                         const struct sockaddr *sa);
/* ERROR-CODE with a reason phrase (NULL: stun_error_reason(code)). */
void stun_build_error(struct stun_builder *b, uint16_t code,
                      const char *reason);
/* UNKNOWN-ATTRIBUTES list. */
void stun_build_unknown(struct stun_builder *b, const uint16_t *types,
                        size_t n);
/* MESSAGE-INTEGRITY (HMAC-SHA1, 20 bytes) over the message so far. */
void stun_build_integrity(struct stun_builder *b, const uint8_t *key,
                          size_t key_len);
/* MESSAGE-INTEGRITY-SHA256 (full 32 bytes). */
void stun_build_integrity_sha256(struct stun_builder *b, const uint8_t *key,
                                 size_t key_len);
void stun_build_fingerprint(struct stun_builder *b);
/* Returns the message length, or 0 and sets b->err if anything failed. */
size_t stun_build_finish(struct stun_builder *b);

/* --- integrity, fingerprint and keys ---------------------------------- */

/* Check the MESSAGE-INTEGRITY (HMAC-SHA1) of a parsed message: 0 when it
 * verifies, ENOENT when absent, EACCES when wrong (or when OpenSSL cannot
 * compute the HMAC: fails closed). */
int stun_check_integrity(const struct stun_msg *m, const uint8_t *key,
                         size_t key_len);
/* MESSAGE-INTEGRITY-SHA256, truncated values (16..32 bytes, multiple of 4,
 * RFC 8489 s14.6) accepted. 0, ENOENT or EACCES. */
int stun_check_integrity_sha256(const struct stun_msg *m, const uint8_t *key,
                                size_t key_len);
/* FINGERPRINT check: 0, ENOENT or EACCES. (Parse already rejects a wrong
 * FINGERPRINT as STUN_ERR_FINGERPRINT.) */
int stun_check_fingerprint(const struct stun_msg *m);
uint32_t stun_crc32(const uint8_t *buf, size_t len);

#define STUN_KEY_MAX 32

/*
 * OpaqueString (RFC 8265 s4.2) preparation of a realm or password. We
 * accept printable ASCII (0x20-0x7E), which OpaqueString leaves unchanged,
 * and reject anything else (control characters, non-ASCII: those would
 * need Unicode normalization tables) with EILSEQ; empty is EINVAL.
 */
int stun_opaque_string(const char *in, size_t len);

/*
 * Long-term key (RFC 8489 s9.2.2): MD5 or SHA-256 of
 * username ":" OpaqueString(realm) ":" OpaqueString(password).
 * Writes 16 (MD5) or 32 (SHA-256) bytes to key and the length to *key_len.
 * Returns 0, EILSEQ / EINVAL (from OpaqueString), EINVAL for an unknown
 * algorithm, or ENOMEM when OpenSSL fails.
 */
int stun_long_term_key(enum stun_pw_alg alg, const char *user, size_t user_len,
                       const char *realm, size_t realm_len,
                       const char *password, size_t password_len,
                       uint8_t key[STUN_KEY_MAX], size_t *key_len);

/* USERHASH (RFC 8489 s14.4): SHA-256(username ":" realm), 32 bytes; the
 * caller passes both already prepared. All zero if OpenSSL fails. */
void stun_userhash(const char *user, size_t user_len, const char *realm,
                   size_t realm_len, uint8_t out[32]);

#endif
