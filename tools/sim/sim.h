/*
 * tools/sim/sim.h - edge-sim, the desktop-sharing simulator (issue 13):
 * one MCU and N viewers, both legs relayed through a TURN server, RDP
 * over RTP ([MS-RTASPF]) protected with SRTP (libsrtp2). The types its
 * files share; docs/edge-sim.md describes the wire conventions.
 *
 * Threads: main.c parses options and runs the setup (setup.c, one poll
 * loop over every TURN client, turn.c); then mcu.c (the sender, paced by
 * a 1 ms absolute timer) and viewer.c (the receivers, epoll) each own
 * their sockets, SRTP sessions and TURN clients until the end of the run.
 * They share only the read-only options, the schedule and the statistics
 * arrays, in which each thread writes its own fields; report.c reads them
 * after both threads are joined. Nothing is allocated per packet.
 */
#ifndef AVEDGE_TOOLS_SIM_H
#define AVEDGE_TOOLS_SIM_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun/stun.h"

#define SIM_PKT_MAX        1600 /* one datagram or stream frame */
#define SIM_WIRE_MAX       1500 /* IP packet size the media must not exceed */
#define SIM_IP_UDP_CD      32   /* IPv4 20 + UDP 8 + ChannelData 4 */
#define SIM_RTP_HDR        12
#define SIM_EXT_LEN        16    /* RFC 8285 one-byte header, id 1, 8 bytes */
#define SIM_BATCH          64    /* messages per sendmmsg / recvmmsg */
#define SIM_TXN_MAX        16    /* TURN requests in flight per client */
#define SIM_REQ_MAX        640   /* one TURN request, kept for retransmits */
#define SIM_TEXT_MAX       256   /* realm, nonce */
#define SIM_PDU_MAX        16384 /* largest fake RDP PDU */
#define SIM_PDU_HDR        12    /* TPKT 4 + PDU sequence 4 + checksum 4 */
#define SIM_STEPS_MAX      32
#define SIM_HIST_SUB       8 /* histogram buckets per power of 2 */
#define SIM_HIST_N         (40 * SIM_HIST_SUB)
#define SIM_CTRL_LEN       16 /* control message payload */
#define SIM_STREAM_BUF     (64 * 1024)
#define SIM_DRAIN_NS       500000000ull /* receive after the last send */
#define SIM_PERM_REFRESH_S 60
#define SIM_CHAN_REFRESH_S 300

/* SSRCs: the top byte names the stream, the low 24 bits the viewer. */
#define SIM_SSRC_MEDIA 0x4D000000u /* MCU -> viewer, RDP, PT --pt */
#define SIM_SSRC_CTRL  0x43000000u /* MCU -> viewer, GRANT / REVOKE */
#define SIM_SSRC_INPUT 0x49000000u /* viewer -> MCU, INPUT / acks, RR */

enum sim_role { SIM_ROLE_BOTH, SIM_ROLE_MCU, SIM_ROLE_VIEWER };
enum sim_transport { SIM_UDP, SIM_TCP, SIM_TLS };

/* Control messages (PT 126 payload, type byte). */
enum sim_ctrl {
	SIM_CTRL_GRANT = 1,
	SIM_CTRL_REVOKE = 2,
	SIM_CTRL_INPUT = 3,
	SIM_CTRL_GRANT_ACK = 4,
	SIM_CTRL_REVOKE_ACK = 5,
};

struct sim_opts {
	enum sim_role role;
	enum sim_transport transport;
	struct sockaddr_storage server, mcu_server;
	socklen_t server_len, mcu_server_len;
	char user[256], pass[256];
	int viewers;
	bool direct, json, gcm;
	bool pdu_burst; /* a PDU leaves at once, not paced at the rate */
	int verbose;
	double peak;
	uint64_t seed;
	double duration_s, warmup_s;
	double rates[SIM_STEPS_MAX]; /* bits/s per viewer, one per step */
	int nsteps;
	bool ramp;
	int pt;
	char srtp_secret[128];
	int control_viewer; /* 1-based, 0 = off */
	double control_every_s;
	int input_hz;
	double setup_timeout_s;
	int rto_ms, max_tries;
	uint32_t lifetime_s;
	int sockbuf;
	const char *signal; /* --signal HOST:PORT, split roles */
};

/* Log-scale histogram of nanoseconds. */
struct sim_hist {
	uint32_t b[SIM_HIST_N];
	uint64_t n, max;
};
void sim_hist_add(struct sim_hist *h, uint64_t v);
void sim_hist_merge(struct sim_hist *into, const struct sim_hist *h);
uint64_t sim_hist_pct(const struct sim_hist *h, double p);

/* One viewer's counters in one step. The MCU thread writes sent, pdus_sent,
 * ctl_recv, rr_recv, up_auth_fail; the viewer thread the rest. */
struct sim_vstats {
	uint64_t sent, pdus_sent, ctl_recv, rr_recv, up_auth_fail;
	uint64_t recv, bytes, auth_fail, dup, reordered, pdus_complete;
	uint64_t pdus_broken, ctl_sent, sr_recv, other_fail;
	uint32_t seq_min, seq_max;
	bool have_seq;
	double jitter_ms;
	struct sim_hist delay;
};

/* Times are CLOCK_MONOTONIC ns. Step s sends from start[s], counts what
 * was sent in [win_start[s], win_end[s]). */
struct sim_sched {
	uint64_t t0;
	uint64_t start[SIM_STEPS_MAX], win_start[SIM_STEPS_MAX];
	uint64_t win_end[SIM_STEPS_MAX];
	uint64_t send_end, end;
	int nsteps;
};
int sim_step_of(const struct sim_sched *s, uint64_t t);

/* A connection to a TURN server (or, --direct, a plain UDP socket). */
struct sim_conn {
	int fd;
	enum sim_transport tr;
	SSL *ssl;
	uint32_t ovfl; /* last SO_RXQ_OVFL value */
	uint8_t *rx;   /* stream reassembly, SIM_STREAM_BUF */
	size_t rx_len;
	struct sockaddr_storage local;
};

/* A peer of a TURN client: permission and channel towards addr. */
struct sim_peer {
	struct sockaddr_storage addr;
	uint16_t channel;
	uint8_t state; /* enum in turn.c */
	uint64_t perm_due, chan_due;
};

struct sim_txn {
	uint8_t tid[STUN_TID_LEN];
	uint16_t method; /* 0: slot free */
	int peer;        /* -1: not about a peer */
	uint8_t tries, auth_tries;
	bool auth;
	uint16_t len;
	uint64_t rto_at;
	uint8_t req[SIM_REQ_MAX];
};

/* A TURN client (RFC 8656) with long-term credentials (RFC 8489 s9.2). */
struct sim_turn {
	const struct sim_opts *o;
	struct sim_conn *conn;
	char name[32];
	char realm[SIM_TEXT_MAX], nonce[SIM_TEXT_MAX];
	size_t realm_len, nonce_len;
	uint8_t key[STUN_KEY_MAX];
	size_t key_len;
	bool alloc_started, allocated, failed;
	char err[240];
	struct sockaddr_storage relayed;
	uint32_t lifetime_s;
	uint64_t alloc_due;
	struct sim_peer *peers;
	int npeers;
	struct sim_txn txn[SIM_TXN_MAX];
	uint64_t rng;
	uint64_t retransmits, refreshes;
};

void sim_turn_init(struct sim_turn *t, const struct sim_opts *o,
                   struct sim_conn *c, const char *name, uint64_t seed);
/* Add a peer (permission + channel), returns its index. */
int sim_turn_add_peer(struct sim_turn *t, const struct sockaddr_storage *a,
                      uint16_t channel);
void sim_turn_allocate(struct sim_turn *t, uint64_t now);
/* A STUN message arrived on the client's connection. */
void sim_turn_input(struct sim_turn *t, const uint8_t *buf, size_t len,
                    uint64_t now);
/* Retransmit, start the next peer steps, refresh what is due. */
void sim_turn_tick(struct sim_turn *t, uint64_t now);
bool sim_turn_ready(const struct sim_turn *t);
/* Refresh with lifetime 0 (best effort, not waited for). */
void sim_turn_free(struct sim_turn *t);

/* net.c */
uint64_t sim_now_ns(void);
int sim_conn_open(struct sim_conn *c, enum sim_transport tr,
                  const struct sockaddr_storage *srv, socklen_t srv_len,
                  int sockbuf, SSL_CTX *ctx, char *err, size_t err_len);
void sim_conn_close(struct sim_conn *c);
/* Send one message (UDP datagram or whole stream frame). 0 or errno. */
int sim_conn_send(struct sim_conn *c, const void *buf, size_t len);
/* Stream: read what is there and call fn per frame. 0, or an errno when
 * the connection is gone. */
typedef void sim_frame_fn(void *arg, const uint8_t *buf, size_t len);
int sim_conn_read_stream(struct sim_conn *c, sim_frame_fn *fn, void *arg);
/* Add SO_RXQ_OVFL growth seen in a received message's cmsgs to *drops. */
void sim_note_ovfl(uint32_t *last, const struct msghdr *mh, uint64_t *drops);
void sim_sockbuf(int fd, int bytes);
int sim_addr_str(const struct sockaddr_storage *a, char *out, size_t cap);

/* srtp.c: one session per viewer and direction; up = viewer -> MCU. */
int sim_srtp_init(void);
int sim_srtp_session(srtp_t *s, const struct sim_opts *o, int viewer, bool up,
                     bool outbound);
/* crypto.c: OpenSSL 3 AES-ICM-128, AES-GCM-128 and HMAC-SHA1 in place of
 * libsrtp2's own (NSS on Debian); after srtp_init(). 0 or EIO (a self
 * test failed). */
int sim_crypto_register(void);
/* Fixed SRTP/SRTCP overhead: auth tag (+ SRTCP index). */
int sim_srtp_tag_len(const struct sim_opts *o);

/* rtp.c: packets into caller buffers; returns lengths. */
size_t sim_rtp_build(uint8_t *p, uint8_t pt, uint16_t seq, uint32_t ts,
                     uint32_t ssrc, uint64_t send_ns, const uint8_t *payload,
                     size_t len);
/* Parse our RTP: header fields, the send time and the payload. */
struct sim_rtp {
	uint8_t pt;
	uint16_t seq;
	uint32_t ts, ssrc;
	uint64_t send_ns;
	const uint8_t *payload;
	size_t len;
};
int sim_rtp_parse(struct sim_rtp *r, const uint8_t *p, size_t len);
bool sim_is_rtcp(const uint8_t *p, size_t len);
size_t sim_ctrl_build(uint8_t *payload, uint8_t type, uint32_t epoch,
                      uint32_t seq, uint32_t arg);
size_t sim_rtcp_sr(uint8_t *p, uint32_t ssrc, uint64_t now_ns, uint32_t rtp_ts,
                   uint32_t pkts, uint32_t octets);
size_t sim_rtcp_rr(uint8_t *p, uint32_t ssrc, uint32_t media_ssrc,
                   uint32_t ext_max, uint32_t lost, double jitter_ts);

/* rdp.c: the screen model (sender) and PDU reassembly (receiver). */
struct sim_screen {
	uint64_t rng, phase_rng; /* PDU sizes; phase lengths */
	double peak;
	bool burst;
	uint64_t phase_end;
	double ahead;  /* planned minus mean, in ns at the mean rate */
	double credit; /* bytes we may still send */
	double cur;    /* the rate of this phase, bits/s */
	bool whole;    /* --pdu-burst: credit for whole PDUs */
	uint64_t last_ns;
	uint32_t pdu_seq;
	const uint8_t *pool; /* seeded random bytes */
	size_t pool_len;
};
void sim_screen_init(struct sim_screen *s, uint64_t seed, double peak,
                     bool whole, uint64_t now);
/* Accrue credit up to now at the phase's rate; true when a packet (or,
 * whole, a PDU) may leave. */
bool sim_screen_ready(struct sim_screen *s, double rate_bps, uint64_t now);
/* Next PDU due at now for a mean rate of rate_bps, or 0 if none: writes
 * the PDU (TPKT header, sequence, checksum, body) into out. */
size_t sim_screen_next(struct sim_screen *s, double rate_bps, uint64_t now,
                       uint8_t *out);
void sim_screen_spent(struct sim_screen *s, size_t wire_bytes);
uint32_t sim_pdu_sum(const uint8_t *p, size_t len);

struct sim_reasm {
	uint8_t *buf; /* SIM_PDU_MAX */
	uint32_t want, got, ts;
	bool active, sync, have_ts;
	struct sim_vstats *st; /* where the PDU in progress counts, or NULL */
};
/* One fragment in sequence order; gap: packets before it were lost. A PDU
 * counts (pdus_complete or pdus_broken) in the st its first fragment came
 * with. */
void sim_reasm_add(struct sim_reasm *r, const uint8_t *p, size_t len,
                   uint32_t ts, bool gap, struct sim_vstats *st);

/* The MCU's side of one viewer. */
struct sim_mcu_peer {
	srtp_t tx, rx; /* down (outbound), up (inbound) */
	uint16_t seq, cseq;
	uint32_t pkts, octets;
	uint32_t epoch_acked, revoke_acked;
};

struct sim_mcu {
	struct sim_conn conn;
	struct sim_turn turn;
	struct sim_mcu_peer *p; /* o->viewers */
	struct sim_screen screen;
	uint32_t epoch; /* current grant, odd = granted */
};

struct sim_viewer {
	int idx; /* 0-based; "viewer idx+1" in messages */
	struct sim_conn conn;
	struct sim_turn turn;
	srtp_t rx, tx;
	bool failed;
	bool have_seq;
	uint32_t ext_max; /* extended highest sequence */
	uint32_t received;
	struct sim_reasm re;
	bool have_transit;
	int64_t last_transit;
	double jitter_ns;
	bool granted;
	uint32_t epoch, in_seq;
	uint16_t up_seq;
	uint64_t next_input, next_rr;
	/* --role mcu: the viewer's address, from the viewer process */
	struct sockaddr_storage addr;
	bool addr_known;
};

/* The whole run, shared by the threads. */
struct sim_run {
	struct sim_opts *o;
	bool local_mcu, local_viewers;    /* which sides this process plays */
	struct sockaddr_storage mcu_addr; /* --role viewer: from the MCU */
	bool mcu_known;
	uint64_t setup_deadline;
	struct sim_sched sched;
	SSL_CTX *tls;
	struct sim_mcu *mcu;
	struct sim_viewer *v;  /* o->viewers */
	struct sim_vstats *st; /* [step * viewers + viewer] */
	struct sim_hist ctl_delay[SIM_STEPS_MAX];
	uint64_t slip_max_ns;
	struct sim_hist slip;
	uint64_t mcu_rx_drops, viewer_rx_drops, tx_fail; /* per thread */
	uint64_t mcu_retransmits;
	uint64_t grants, grant_acks, revokes, revoke_acks;
	double cpu_pct;
	char **errors;
	int nerrors;
	int viewers_failed;
	pthread_mutex_t err_lock;
};
void sim_error(struct sim_run *r, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static inline struct sim_vstats *sim_st(struct sim_run *r, int step, int v)
{
	return &r->st[(size_t)step * (size_t)r->o->viewers + (size_t)v];
}

/* setup.c: open and allocate the local sides, wait for the allocations
 * (sim_setup_alloc), then permissions, channels and SRTP sessions
 * (sim_setup_bind); sim_setup does both. 0 or an errno (the MCU failed). */
int sim_setup_alloc(struct sim_run *r);
int sim_setup_bind(struct sim_run *r);
int sim_setup(struct sim_run *r);
/* opts.c: parse the command line into o; 0, or the exit status (2) after
 * a one-line message; --help exits. */
int sim_parse_args(struct sim_opts *o, int argc, char **argv);
/* main.c: schedule the run from now and run the local threads. */
int sim_run_threads(struct sim_run *r);
void *sim_mcu_thread(void *arg);
void *sim_viewer_thread(void *arg);
void sim_teardown(struct sim_run *r);
void sim_report(struct sim_run *r);
/* signal.c: --role mcu|viewer with --signal; 0 or an errno. */
int sim_split(struct sim_run *r);

#endif
