/*
 * turn/rtpq.h - per-flow media quality: packet loss, reordering and
 * interarrival jitter of the RTP streams in one relayed direction of one
 * peer flow, estimated from the RTP header alone (it stays in clear under
 * SRTP, so no keys are needed).
 *
 * What it implements: RFC 7983 s7 demultiplexing on the first byte (only
 * 128..191 is RTP/RTCP: STUN, ZRTP, DTLS, TURN ChannelData and anything
 * else are counted as not RTP), RFC 3550 s5.1 header checks, RFC 5761 s4
 * RTP/RTCP distinction (second byte 192..223 is RTCP; RTCP is counted, not
 * used for loss or jitter), RFC 3550 A.1 sequence tracking (probation,
 * wrap, restart after a big jump), A.3 expected/lost, A.8 jitter in RTP
 * timestamp units. Clock rates of static payload types from RFC 3551
 * tables 4 and 5; any other payload type (dynamic 96..127, unassigned)
 * uses the flow's default clock (90000 unless set at init).
 *
 * The loss seen here is loss upstream of the relay (between the sender
 * and this node): packets the relay drops or loses downstream are not in
 * it. Duplicates are not counted as received (a 32-packet window tells
 * them apart from late packets), so lost is never negative.
 *
 * The state is a fixed-size value (sizeof(struct turn_rtpq) is 476 bytes
 * on LP64, checked in rtpq.c) embedded by its owner; nothing is allocated.
 * A zeroed struct is a valid empty flow with the 90 kHz default. There is
 * no "enabled" flag: a caller that does not want the estimate does not
 * call turn_rtpq_update(). Pure: time comes in as now_ms. Not
 * thread-safe: read it on the thread that updates it (the owning worker).
 * Counters are 32-bit and wrap after 2^32 packets of one SSRC (about ten
 * days at 5000 packets/s); lost is computed modulo 2^32 and stays right.
 */
#ifndef AVEDGE_TURN_RTPQ_H
#define AVEDGE_TURN_RTPQ_H

#include <stddef.h>
#include <stdint.h>

#define TURN_RTPQ_MAX_SSRC   8     /* SSRCs tracked per flow */
#define TURN_RTPQ_DEFAULT_HZ 90000 /* clock of dynamic payload types */

/* What turn_rtpq_update() made of a datagram. */
enum turn_rtpq_kind {
	TURN_RTPQ_NOT_RTP = 0, /* first byte outside 128..191 (RFC 7983) */
	TURN_RTPQ_MALFORMED,   /* RTP/RTCP range, but the header is bad */
	TURN_RTPQ_RTP,         /* RTP of a tracked SSRC */
	TURN_RTPQ_UNTRACKED,   /* RTP of an SSRC beyond the 8 tracked */
	TURN_RTPQ_RTCP,        /* RTCP (RFC 5761): counted only */
};

/* One tracked SSRC. Internal: read it through turn_rtpq_report(). */
struct turn_rtpq_src {
	uint32_t received;      /* since base_seq, duplicates excluded */
	uint32_t cycles;        /* sequence wraps << 16 (RFC 3550 A.1) */
	uint32_t base_seq;      /* extended; first sequence number counted */
	uint32_t bad_seq;       /* next seq of a restart candidate; > 0xFFFF:
	                         * none */
	uint32_t reordered;     /* arrived below the highest sequence seen */
	uint32_t dups;          /* seen twice within the window */
	uint32_t window;        /* bit k: max_seq - k was received */
	uint32_t last_ts;       /* RTP timestamp of the previous packet */
	uint32_t last_ms;       /* its arrival (ms, truncated) */
	uint32_t jitter_q4;     /* RFC 3550 A.8 jitter, timestamp units * 16 */
	uint32_t ts_per_ms_q16; /* clock_hz / 1000 in 16.16 fixed point */
	uint16_t max_seq;       /* highest sequence number seen */
	uint8_t probation;      /* sequential packets still needed */
	uint8_t pt;             /* payload type of the last packet */
	uint8_t have_prev;      /* last_ts/last_ms hold a packet */
	uint8_t pad[3];
};

/* The state of one direction of one flow (zero it, or turn_rtpq_init). */
struct turn_rtpq {
	uint32_t ssrc[TURN_RTPQ_MAX_SSRC]; /* [0, n) tracked */
	uint8_t n;                         /* SSRCs tracked */
	uint8_t hint;                      /* slot of the last packet */
	uint8_t pad[2];
	uint32_t dynamic_hz;  /* clock of non-static payload types; 0: 90000 */
	uint32_t dynamic_mul; /* its ts units per ms, 16.16; 0: 90000's */
	uint32_t rtcp;        /* RTCP packets */
	uint32_t untracked;   /* RTP packets of SSRCs beyond the table */
	uint32_t not_rtp;     /* datagrams outside the RTP/RTCP range */
	uint32_t malformed;   /* in the range, but a bad header */
	struct turn_rtpq_src src[TURN_RTPQ_MAX_SSRC];
};

/* Reset q to an empty flow; dynamic_hz is the clock rate assumed for
 * payload types without a static one (0: TURN_RTPQ_DEFAULT_HZ). */
void turn_rtpq_init(struct turn_rtpq *q, uint32_t dynamic_hz);

/*
 * Account one relayed datagram (the application payload: no ChannelData
 * or Data indication header) that arrived at now_ms (monotonic ms). Safe
 * on any bytes and any len (buf may be NULL when len is 0); no allocation,
 * no division. Returns what the datagram was taken for.
 */
enum turn_rtpq_kind turn_rtpq_update(struct turn_rtpq *q, const uint8_t *buf,
                                     size_t len, uint64_t now_ms);

/* The per-SSRC estimate, as shown by the admin API. */
struct turn_rtpq_ssrc_report {
	uint32_t ssrc;
	uint8_t payload_type; /* of the last packet */
	uint8_t validated;    /* passed probation (2 sequential packets) */
	uint32_t clock_hz;    /* static PT table, else the flow's default */
	uint32_t ext_max_seq; /* extended highest sequence number */
	uint64_t received;    /* packets counted, duplicates excluded */
	uint64_t expected;    /* ext_max_seq - base + 1 (RFC 3550 A.3) */
	uint64_t lost;        /* expected - received, clamped at 0:
	                       * upstream of the relay */
	double loss_fraction; /* lost / expected; 0 when nothing expected */
	uint32_t reordered;   /* arrived below the highest sequence seen */
	uint32_t duplicates;
	uint32_t jitter_ts; /* RFC 3550 s6.4.1, RTP timestamp units */
	double jitter_ms;   /* jitter_ts * 1000 / clock_hz */
};

/* Flow-wide counters that belong to no SSRC. */
struct turn_rtpq_counts {
	uint32_t ssrcs; /* tracked */
	uint32_t rtcp, untracked, not_rtp, malformed;
};

/*
 * Copy up to cap per-SSRC estimates of q into out (in the order the SSRCs
 * were first seen); *n gets how many were written. out may be NULL when
 * cap is 0. Not on the packet path: divides freely.
 */
void turn_rtpq_report(const struct turn_rtpq *q,
                      struct turn_rtpq_ssrc_report *out, size_t cap, size_t *n);
void turn_rtpq_counts(const struct turn_rtpq *q, struct turn_rtpq_counts *out);

/* The RTP clock rate of a static payload type (RFC 3551), or 0. */
uint32_t turn_rtpq_static_hz(uint8_t pt);

#endif
