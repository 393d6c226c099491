/*
 * tools/sim/rtp.c - RTP (RFC 3550) and RTCP packets of edge-sim, written
 * into caller buffers (with room for the SRTP tag after them).
 *
 * Every RTP packet carries an RFC 8285 one-byte-header extension
 * (profile 0xBEDE, 3 words): element id 1, 8 bytes, the sender's
 * CLOCK_MONOTONIC time in ns (big endian), then 3 bytes of padding.
 * libsrtp authenticates it but does not encrypt it. Marker bit 0.
 *
 * Control messages are the payload of PT 126 packets, 16 bytes:
 *   type (1), 0 (3), epoch (4), seq (4), arg (4)   all big endian
 * GRANT/REVOKE go MCU -> viewer on SSRC SIM_SSRC_CTRL|viewer; INPUT and
 * the acks viewer -> MCU on SIM_SSRC_INPUT|viewer; arg of INPUT is a fake
 * mouse position or key code.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "tools/sim/sim.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

size_t sim_rtp_build(uint8_t *p, uint8_t pt, uint16_t seq, uint32_t ts,
                     uint32_t ssrc, uint64_t send_ns, const uint8_t *payload,
                     size_t len)
{
	p[0] = 0x90; /* V=2, X=1 */
	p[1] = pt & 0x7F;
	put16(p + 2, seq);
	put32(p + 4, ts);
	put32(p + 8, ssrc);
	put16(p + 12, 0xBEDE);
	put16(p + 14, 3);
	p[16] = 0x17; /* id 1, length 8 */
	put32(p + 17, (uint32_t)(send_ns >> 32));
	put32(p + 21, (uint32_t)send_ns);
	memset(p + 25, 0, 3);
	if (payload && len)
		memcpy(p + SIM_RTP_HDR + SIM_EXT_LEN, payload, len);
	return SIM_RTP_HDR + SIM_EXT_LEN + len;
}

int sim_rtp_parse(struct sim_rtp *r, const uint8_t *p, size_t len)
{
	size_t off = SIM_RTP_HDR;

	if (len < SIM_RTP_HDR || (p[0] & 0xC0) != 0x80)
		return EBADMSG;
	r->pt = p[1] & 0x7F;
	r->seq = get16(p + 2);
	r->ts = get32(p + 4);
	r->ssrc = get32(p + 8);
	r->send_ns = 0;
	off += (size_t)(p[0] & 0x0F) * 4;
	if (p[0] & 0x10) {
		if (len < off + 4)
			return EBADMSG;
		size_t xl = (size_t)get16(p + off + 2) * 4;
		if (get16(p + off) == 0xBEDE && xl >= 9 &&
		    len >= off + 4 + xl && p[off + 4] == 0x17)
			r->send_ns = (uint64_t)get32(p + off + 5) << 32 |
			             get32(p + off + 9);
		off += 4 + xl;
	}
	if (len < off)
		return EBADMSG;
	r->payload = p + off;
	r->len = len - off;
	if ((p[0] & 0x20) && r->len) /* padding */
		r->len -= r->payload[r->len - 1] <= r->len
		                  ? r->payload[r->len - 1]
		                  : r->len;
	return 0;
}

/* RFC 5761 s4: RTCP packet types 192-223 in the second byte. */
bool sim_is_rtcp(const uint8_t *p, size_t len)
{
	return len >= 8 && p[1] >= 192 && p[1] <= 223;
}

size_t sim_ctrl_build(uint8_t *payload, uint8_t type, uint32_t epoch,
                      uint32_t seq, uint32_t arg)
{
	memset(payload, 0, SIM_CTRL_LEN);
	payload[0] = type;
	put32(payload + 4, epoch);
	put32(payload + 8, seq);
	put32(payload + 12, arg);
	return SIM_CTRL_LEN;
}

/* NTP time (RFC 3550 s4) from the wall clock. */
static uint64_t ntp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec + 2208988800ull) << 32 |
	       (((uint64_t)ts.tv_nsec << 32) / 1000000000ull);
}

size_t sim_rtcp_sr(uint8_t *p, uint32_t ssrc, uint64_t now_ns, uint32_t rtp_ts,
                   uint32_t pkts, uint32_t octets)
{
	uint64_t ntp = ntp_now();

	(void)now_ns;
	p[0] = 0x80; /* V=2, RC=0 */
	p[1] = 200;
	put16(p + 2, 6); /* 28 bytes / 4 - 1 */
	put32(p + 4, ssrc);
	put32(p + 8, (uint32_t)(ntp >> 32));
	put32(p + 12, (uint32_t)ntp);
	put32(p + 16, rtp_ts);
	put32(p + 20, pkts);
	put32(p + 24, octets);
	return 28;
}

size_t sim_rtcp_rr(uint8_t *p, uint32_t ssrc, uint32_t media_ssrc,
                   uint32_t ext_max, uint32_t lost, double jitter_ts)
{
	p[0] = 0x81; /* V=2, RC=1 */
	p[1] = 201;
	put16(p + 2, 7); /* 32 bytes / 4 - 1 */
	put32(p + 4, ssrc);
	put32(p + 8, media_ssrc);
	put32(p + 12, lost > 0x7FFFFF ? 0x7FFFFF : lost); /* fraction 0 */
	put32(p + 16, ext_max);
	put32(p + 20, (uint32_t)jitter_ts);
	put32(p + 24, 0); /* LSR, DLSR: not tracked */
	put32(p + 28, 0);
	return 32;
}
