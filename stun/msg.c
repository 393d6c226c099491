/*
 * stun/msg.c - STUN message parsing (RFC 8489 s5, s14, s14.5-14.7), the
 * STUN / ChannelData demultiplexer (RFC 7983, RFC 8656 s12), stream
 * framing and ChannelData (RFC 8656 s12.4, s12.5).
 *
 * A parsed struct stun_msg borrows the caller's buffer: it holds pointers
 * into it and is valid while the buffer is, unchanged. Pure: no I/O, no
 * clock, no allocation.
 */
#include <errno.h>
#include <string.h>

#include "stun/stun_int.h"

static int fail(enum stun_reason *why, enum stun_reason r)
{
	if (why)
		*why = r;
	return EBADMSG;
}

/* RFC 8489 s5: the 14-bit type interleaves the class bits C1 (bit 8) and
 * C0 (bit 4) with the 12 method bits. */
static void decode_type(struct stun_msg *m, uint16_t t)
{
	m->type = t;
	m->method = (uint16_t)((t & 0x000F) | ((t & 0x00E0) >> 1) |
	                       ((t & 0x3E00) >> 2));
	m->cls = (uint8_t)(((t >> 4) & 1) | ((t >> 7) & 2));
}

static enum stun_reason check_header(const uint8_t *buf, size_t len)
{
	if (len < STUN_HEADER_LEN)
		return STUN_ERR_SHORT;
	if (buf[0] & 0xC0)
		return STUN_ERR_TOP_BITS;
	size_t mlen = stun_get16(buf + 2);
	if (mlen % 4)
		return STUN_ERR_LENGTH_ALIGN;
	if (mlen + STUN_HEADER_LEN != len)
		return STUN_ERR_LENGTH_MISMATCH;
	return STUN_OK;
}

static void note_unknown(struct stun_msg *m, uint16_t type)
{
	for (size_t i = 0; i < m->nunknown; i++)
		if (m->unknown[i] == type)
			return;
	if (m->nunknown < sizeof(m->unknown) / sizeof(m->unknown[0]))
		m->unknown[m->nunknown++] = type;
}

/* Is an attribute at this point of the walk one that still counts?
 * s14.5: after MI only MI-SHA256 and FINGERPRINT; s14.6: after MI-SHA256
 * only FINGERPRINT. The others are skipped, not listed. */
static bool counts(const struct stun_msg *m, uint16_t type)
{
	if (m->mi256_off)
		return type == STUN_ATTR_FINGERPRINT;
	if (m->mi_off)
		return type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
		       type == STUN_ATTR_FINGERPRINT;
	return true;
}

/* Record one attribute that counts; STUN_OK or why the message fails. */
static enum stun_reason take_attr(struct stun_msg *m, size_t off, uint16_t type,
                                  uint16_t alen)
{
	const uint8_t *v = m->buf + off + 4;

	if (m->nattrs == STUN_MAX_ATTRS)
		return STUN_ERR_TOO_MANY_ATTRS;
	if (stun_attr_check(type, v, alen))
		return STUN_ERR_BAD_ATTR;
	if (!STUN_ATTR_IS_OPTIONAL(type) && !stun_attr_is_known(type))
		note_unknown(m, type);
	if (type == STUN_ATTR_MESSAGE_INTEGRITY)
		m->mi_off = off;
	else if (type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
		m->mi256_off = off;
	else if (type == STUN_ATTR_FINGERPRINT)
		m->fp_off = off;
	m->attrs[m->nattrs++] = (struct stun_attr){type, alen, v};
	return STUN_OK;
}

static enum stun_reason walk_attrs(struct stun_msg *m)
{
	size_t off = STUN_HEADER_LEN;

	while (off < m->len) {
		if (m->fp_off)
			return STUN_ERR_AFTER_FINGERPRINT;
		if (m->len - off < 4)
			return STUN_ERR_ATTR_TRUNCATED;
		uint16_t type = stun_get16(m->buf + off);
		uint16_t alen = stun_get16(m->buf + off + 2);
		if (stun_pad4(alen) > m->len - off - 4)
			return STUN_ERR_ATTR_TRUNCATED;
		if (counts(m, type)) {
			enum stun_reason r = take_attr(m, off, type, alen);
			if (r != STUN_OK)
				return r;
		}
		off += 4 + stun_pad4(alen);
	}
	return STUN_OK;
}

/* s14.7: CRC-32 of the message up to FINGERPRINT, XOR 0x5354554e. The
 * header length already ends at FINGERPRINT since nothing may follow it. */
static bool fingerprint_ok(const struct stun_msg *m)
{
	uint32_t want = stun_get32(m->buf + m->fp_off + 4);
	return (stun_crc32(m->buf, m->fp_off) ^ STUN_FINGERPRINT_XOR) == want;
}

int stun_msg_parse(struct stun_msg *m, const uint8_t *buf, size_t len,
                   enum stun_reason *why)
{
	if (!m || !buf)
		return EINVAL;
	memset(m, 0, sizeof(*m));

	enum stun_reason r = check_header(buf, len);
	if (r != STUN_OK)
		return fail(why, r);
	m->buf = buf;
	m->len = len;
	decode_type(m, stun_get16(buf));
	m->rfc3489 = stun_get32(buf + 4) != STUN_MAGIC_COOKIE;
	m->tid = m->rfc3489 ? buf + 4 : buf + 8;

	r = walk_attrs(m);
	if (r == STUN_OK && m->fp_off && !fingerprint_ok(m))
		r = STUN_ERR_FINGERPRINT;
	if (r != STUN_OK) {
		m->nattrs = 0;
		return fail(why, r);
	}
	if (why)
		*why = STUN_OK;
	return 0;
}

const struct stun_attr *stun_msg_find(const struct stun_msg *m, uint16_t type)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->nattrs; i++)
		if (m->attrs[i].type == type)
			return &m->attrs[i];
	return NULL;
}

/* RFC 7983 s7 / RFC 8656 s12: 0-3 STUN, 64-79 ChannelData (64-127 with
 * the RFC 5766 channel range, see STUN_CHANNEL_MAX; the TURN core drops
 * 0x5000-0x7FFF unless configured for it). */
enum stun_kind stun_demux(const uint8_t *buf, size_t len)
{
	if (!buf || len == 0)
		return STUN_KIND_OTHER;
	if (buf[0] <= 3)
		return len >= STUN_HEADER_LEN ? STUN_KIND_STUN
		                              : STUN_KIND_OTHER;
	if (buf[0] >= 64 && buf[0] <= 127)
		return STUN_KIND_CHANNELDATA;
	return STUN_KIND_OTHER;
}

static bool channel_ok(uint16_t ch)
{
	return ch >= STUN_CHANNEL_MIN && ch <= STUN_CHANNEL_MAX;
}

int stun_frame_len(const uint8_t *buf, size_t avail, size_t max_len,
                   size_t *frame_len, enum stun_reason *why)
{
	if (!buf || !frame_len)
		return EINVAL;
	if (avail < 4)
		return EAGAIN;

	uint16_t first = stun_get16(buf);
	size_t n = stun_get16(buf + 2);
	if (buf[0] <= 3) { /* RFC 7983: STUN starts with 0..3 */
		if (n % 4)
			return fail(why, STUN_ERR_LENGTH_ALIGN);
		n += STUN_HEADER_LEN;
		if (n > max_len)
			return fail(why, STUN_ERR_LENGTH_MISMATCH);
	} else {
		if (!channel_ok(first))
			return fail(why, STUN_ERR_CHANNEL_NUMBER);
		n = 4 + stun_pad4(n); /* padded on streams: s12.5 */
		if (n > max_len)
			return fail(why, STUN_ERR_CHANNEL_LENGTH);
	}
	*frame_len = n;
	if (why)
		*why = STUN_OK;
	return 0;
}

int stun_chandata_parse(struct stun_chandata *cd, const uint8_t *buf,
                        size_t len, enum stun_reason *why)
{
	if (!cd || !buf)
		return EINVAL;
	if (len < 4)
		return fail(why, STUN_ERR_SHORT);

	uint16_t ch = stun_get16(buf);
	uint16_t dlen = stun_get16(buf + 2);
	if (!channel_ok(ch))
		return fail(why, STUN_ERR_CHANNEL_NUMBER);
	if ((size_t)dlen + 4 > len || len > 4 + stun_pad4(dlen))
		return fail(why, STUN_ERR_CHANNEL_LENGTH);
	cd->channel = ch;
	cd->len = dlen;
	cd->data = buf + 4;
	if (why)
		*why = STUN_OK;
	return 0;
}

size_t stun_chandata_build(uint8_t *out, size_t cap, uint16_t channel,
                           const uint8_t *data, uint16_t len, bool pad)
{
	size_t total = 4 + (size_t)len;
	size_t padded = pad ? 4 + stun_pad4(len) : total;

	if (!out || !channel_ok(channel) || padded > cap)
		return 0;
	if (data && data != out + 4)
		memmove(out + 4, data, len);
	stun_put16(out, channel);
	stun_put16(out + 2, len);
	memset(out + total, 0, padded - total);
	return padded;
}
