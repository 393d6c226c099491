/*
 * tools/load/load.h - avedge-load, a TURN load generator (RFC 8656 client
 * over UDP, long-term or REST credentials): the types its files share.
 *
 * Threads: main.c parses the options, starts the workers and samples the
 * server's CPU and memory at the edges of the measured window. Each worker
 * (worker.c) owns a share of the clients, their sockets, a few peer sockets
 * and one epoll set; workers share only the read-only options and the phase
 * clock in struct load_shared. ctl.c runs the TURN transactions of a
 * client, data.c the data path (ChannelData or Send/Data indications,
 * closed loop or paced), report.c the histograms, /proc sampling and the
 * output. Nothing is allocated per packet: batches and buffers live in the
 * worker, one request buffer per client.
 */
#ifndef AVEDGE_TOOLS_LOAD_H
#define AVEDGE_TOOLS_LOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun/stun.h"

#define LOAD_BATCH       64   /* messages per recvmmsg/sendmmsg */
#define LOAD_BUF         2048 /* one datagram */
#define LOAD_PAYLOAD_MAX 1400
#define LOAD_REQ_MAX     640 /* one control request, kept for retransmits */
#define LOAD_TEXT_MAX    256 /* realm, nonce (RFC 8489 allows up to 763) */
#define LOAD_RTP_HDR     12  /* --rtp: RTP header before ours */
#define LOAD_MAGIC       0x444c5641u /* "AVLD" in the payload header */
#define LOAD_HIST_SUB    32          /* histogram buckets per power of 2 */
#define LOAD_HIST_N      (40 * LOAD_HIST_SUB)
#define LOAD_ERR_MIN     300
#define LOAD_ERR_N       400   /* STUN error codes 300..699 */
#define LOAD_BARE_METHOD 0xFFF /* txn tag of the bare-forwarder bind */

/* Client failure causes that are not STUN error codes (c->err). */
enum load_err {
	LOAD_ERR_TIMEOUT = 1, /* no answer after max_tries */
	LOAD_ERR_REFUSED = 2, /* ICMP port unreachable: nobody listens */
	LOAD_ERR_LOCAL = 3,   /* our socket or message could not be made */
	LOAD_ERR_PROTO = 4,   /* an answer we cannot use */
};

enum load_mode {
	LOAD_MODE_CLOSED, /* W packets in flight per client */
	LOAD_MODE_RATE,   /* fixed offered rate, paced by a timer */
	LOAD_MODE_ALLOCS, /* allocation rate / memory, no data */
};

struct load_opts {
	struct sockaddr_storage server;
	socklen_t server_len;
	struct sockaddr_storage peer_ip;   /* where peer sockets bind, port 0 */
	struct sockaddr_storage client_ip; /* where clients bind, port 0 */
	socklen_t client_ip_len;           /* 0: let the kernel choose */
	char user[256];
	char password[256];
	bool rest; /* user/password derived from --secret */
	enum load_mode mode;
	int clients, payload, window, threads, peers, outstanding;
	double rate_pps; /* relayed packets/s: clients send half of it */
	double duration_s, warmup_s, drain_s, hold_s;
	int timeout_ms, rto_ms, max_tries;
	uint32_t lifetime_s;
	uint32_t bind_refresh_s; /* ChannelBind/CreatePermission refresh */
	int sockbuf;
	bool send_ind, bare, json;
	bool rtp; /* payloads start with an RTP header (LOAD_RTP_HDR bytes) */
	int server_pid;
	int verbose;
	const char *label;
};

/* The phase clock, written by main, read by workers. Times are
 * CLOCK_MONOTONIC ns. t0_ns is stored last (release): a worker that sees
 * it non-zero may read the other times. */
struct load_shared {
	uint64_t win_start_ns, win_end_ns, send_end_ns, stop_ns;
	_Atomic uint64_t t0_ns;
	atomic_int setup_done; /* workers whose clients are all set up */
	atomic_bool go;        /* allocs mode: start allocating */
	atomic_bool free_now;  /* free the allocations and finish */
	atomic_long ready;     /* clients READY when their worker set up */
};

struct load_hist {
	uint64_t b[LOAD_HIST_N];
	uint64_t n, max;
};

/* Counters, summed over workers and printed by name. Data path: *_win
 * count packets whose send time is in the measured window, wherever they
 * arrive; timeouts are closed-loop slots given up and refilled; tx_fail
 * sends the kernel refused; bad_pkt datagrams not ours or for another
 * client; rxq_ovfl drops in our own socket queues (SO_RXQ_OVFL);
 * late_ticks rate-mode ticks that found us behind. */
// clang-format off
#define LOAD_COUNTERS(X)                                                  \
	X(sent_win) X(peer_rx_win) X(echo_win) X(rx_win)                  \
	X(sent) X(peer_rx) X(echoed) X(rx)                                \
	X(timeouts) X(tx_fail) X(bad_pkt) X(rxq_ovfl) X(late_ticks)       \
	X(allocs_ok) X(allocs_fail) X(binds_ok) X(binds_fail)             \
	X(refreshes) X(refresh_fail) X(frees_ok) X(frees_fail)            \
	X(retransmits) X(ctl_timeouts) X(challenges) X(stale_nonce)       \
	X(reauth) X(bad_mi) X(conn_refused)
// clang-format on

struct load_stats {
#define LOAD_X_FIELD(name) uint64_t name;
	LOAD_COUNTERS(LOAD_X_FIELD)
#undef LOAD_X_FIELD
	uint64_t err[LOAD_ERR_N]; /* STUN error answers, by code - 300 */
	uint64_t alloc_first_ns, alloc_last_ns;
	struct load_hist rtt, alloc_lat;
	int last_err;
};

enum load_cstate {
	LOAD_C_IDLE,   /* not started */
	LOAD_C_ALLOC,  /* Allocate in flight */
	LOAD_C_BIND,   /* ChannelBind / CreatePermission / bare bind */
	LOAD_C_READY,  /* allocated (and bound): may send data */
	LOAD_C_FREE,   /* Refresh lifetime 0 in flight */
	LOAD_C_DONE,   /* freed */
	LOAD_C_FAILED, /* gave up; err says why */
};

struct load_client {
	int fd;
	uint32_t gidx; /* index over all workers, carried in packets */
	uint8_t state; /* enum load_cstate */
	uint8_t tries; /* transmissions of the current request */
	uint8_t auth_tries;
	bool req_auth; /* the request in flight carries credentials */
	uint8_t peer;  /* index of its peer socket in the worker */
	uint16_t txn;  /* method of the request in flight, 0 if none */
	uint16_t channel;
	uint16_t req_len;
	uint16_t err; /* last STUN error code, or 0 */
	uint32_t seq;
	uint32_t ovfl;      /* last SO_RXQ_OVFL count seen */
	uint64_t rto_at;    /* retransmit deadline, ns */
	uint64_t txn_start; /* first transmission of the phase, ns */
	uint64_t alloc_refresh_at, bind_refresh_at;
	uint8_t tid[STUN_TID_LEN];
	uint8_t nonce_len;
	char nonce[LOAD_TEXT_MAX];
	struct sockaddr_storage relayed;
	uint8_t req[LOAD_REQ_MAX];
};

struct load_peer {
	int fd;
	uint32_t ovfl;
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

/* Closed loop: one in-flight packet. */
struct load_slot {
	uint32_t seq;
	bool busy;
	uint64_t sent_ns;
};

enum load_wphase {
	LOAD_W_SETUP, /* allocating (and binding) */
	LOAD_W_WAIT,  /* set up, waiting for the data start or free_now */
	LOAD_W_DATA,
	LOAD_W_FREE,
	LOAD_W_DONE,
};

union load_cmsg {
	struct cmsghdr h;
	uint8_t buf[CMSG_SPACE(sizeof(uint32_t))];
};

struct load_worker {
	int id;
	pthread_t thr;
	const struct load_opts *o;
	struct load_shared *sh;
	int ep, tfd;
	enum load_wphase phase;
	struct load_client *cl;
	int ncl;
	struct load_peer *peer;
	int npeer;
	struct load_slot *slot; /* ncl * window, closed loop only */
	int outstanding, next, pending;
	uint64_t rate_c2p; /* packets/s this worker's clients send */
	uint64_t rate_sent, rate_start_ns;
	int rr;
	uint64_t next_scan_ns, next_expire_ns, phase_deadline_ns;
	uint64_t rng;
	/* long-term key cache: one realm in practice */
	char realm[LOAD_TEXT_MAX];
	uint8_t realm_len;
	uint8_t key[STUN_KEY_MAX];
	size_t key_len;
	struct load_stats st;
	/* batches */
	struct mmsghdr rmsg[LOAD_BATCH];
	struct iovec riov[LOAD_BATCH];
	struct sockaddr_storage rname[LOAD_BATCH];
	union load_cmsg rctl[LOAD_BATCH];
	uint8_t rbuf[LOAD_BATCH][LOAD_BUF];
	struct mmsghdr tmsg[LOAD_BATCH];
	struct iovec tiov[LOAD_BATCH];
	uint8_t tbuf[LOAD_BATCH][LOAD_BUF];
	uint8_t tmpl[LOAD_PAYLOAD_MAX]; /* payload filler */
};

/* epoll tags: kind in the high 32 bits, index in the low. */
enum load_tag {
	LOAD_TAG_CLIENT = 1,
	LOAD_TAG_PEER = 2,
	LOAD_TAG_TIMER = 3,
};

/* worker.c */
int load_worker_init(struct load_worker *w, int id, int first, int n,
                     const struct load_opts *o, struct load_shared *sh);
void *load_worker_main(void *arg);
void load_worker_free(struct load_worker *w);
uint64_t load_now_ns(void);
int load_client_socket(struct load_worker *w, struct load_client *c);
void load_client_close(struct load_client *c);
/* Count the SO_RXQ_OVFL value in a received message's control data. */
void load_note_ovfl(struct load_worker *w, uint32_t *last,
                    const struct msghdr *mh);

/* ctl.c: TURN (or bare-forwarder) control of one client. A client in
 * LOAD_C_ALLOC/BIND/FREE counts in w->pending until it reaches READY, DONE
 * or FAILED. */
void load_ctl_start(struct load_worker *w, struct load_client *c, uint64_t now);
void load_ctl_free(struct load_worker *w, struct load_client *c, uint64_t now);
void load_ctl_input(struct load_worker *w, struct load_client *c,
                    const uint8_t *buf, size_t len, uint64_t now);
/* Bare mode: a ChannelData control answer (AVBOUND / AVFREED). */
void load_ctl_bare_input(struct load_worker *w, struct load_client *c,
                         const uint8_t *payload, size_t len, uint64_t now);
/* Retransmissions, timeouts, allocation and channel refreshes. */
void load_ctl_scan(struct load_worker *w, uint64_t now);
void load_ctl_fail(struct load_worker *w, struct load_client *c, uint16_t code);

/* data.c */
void load_data_init(struct load_worker *w);
void load_data_start(struct load_worker *w, uint64_t now);
void load_data_tick(struct load_worker *w, uint64_t now);
void load_client_readable(struct load_worker *w, struct load_client *c);
void load_peer_readable(struct load_worker *w, struct load_peer *p);

/* report.c */
void load_hist_add(struct load_hist *h, uint64_t v);
uint64_t load_hist_pct(const struct load_hist *h, double pct);
void load_stats_merge(struct load_stats *dst, const struct load_stats *src);

struct load_sample {
	uint64_t wall_ns;
	double tool_cpu_s;   /* getrusage(RUSAGE_SELF), all threads */
	double server_cpu_s; /* /proc/PID/stat utime+stime, -1 if none */
	long server_rss_kb;  /* /proc/PID/status VmRSS, -1 if none */
	uint64_t udp_rcvbuf_errors, udp_sndbuf_errors; /* /proc/net/snmp* */
	uint64_t sys_busy, sys_softirq, sys_total;     /* /proc/stat, ticks */
};
void load_sample_take(struct load_sample *s, int pid);

/* Everything the report needs. Data modes: win_a/win_b are the window
 * edges. Allocs mode: win_a before the first Allocate, win_b after the
 * last answer, hold_end after --hold, free_a before freeing (the free
 * phase ends at end). start/end bracket the whole run. */
struct load_result {
	struct load_stats st;
	struct load_sample start, win_a, win_b, hold_end, free_a, end;
	bool held;
	long ready; /* clients set up when data started */
	const char *server;
};

/* output.c: text, or one JSON object with --json. */
void load_report(const struct load_opts *o, const struct load_result *r);
const char *load_err_str(int code, char *buf, size_t len);

#endif
