/*
 * edge/net/sock.h - socket helpers for the daemon: address parsing and
 * formatting, SO_REUSEPORT listeners, per-address exclusive locks, and
 * the file-descriptor limit.
 */
#ifndef AVEDGE_EDGE_NET_H
#define AVEDGE_EDGE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define EDGE_ADDRSTR_LEN 64 /* "[v6]:port" */

/* Parse a numeric IPv4/IPv6 address (no port) into ss with port. */
int edge_addr_parse(const char *ip, uint16_t port, struct sockaddr_storage *ss);
/* "1.2.3.4:5" or "[::1]:5"; returns buf. */
const char *edge_addr_str(const struct sockaddr *sa, char *buf, size_t cap);
socklen_t edge_addr_len(const struct sockaddr *sa);
/* 0.0.0.0 or :: */
bool edge_addr_is_any(const struct sockaddr *sa);
/* "ip:port" or "[v6]:port", numeric (a registry entry's address); false
 * if it is not one */
union turn_addr;
bool edge_addr_parse_hostport(const char *s, union turn_addr *a);
uint16_t edge_addr_port(const struct sockaddr *sa);

/* The kinds of UDP sockets, for the buffer sizes and drop counters kept
 * per kind: listeners (UDP and DTLS, every client of a worker) and relay
 * sockets (one per allocation). */
enum edge_sock_kind { EDGE_SOCK_LISTENER, EDGE_SOCK_RELAY, EDGE_SOCK_KINDS };

/* A UDP socket bound to sa with SO_REUSEPORT (and IPV6_V6ONLY for v6),
 * non-blocking, with SO_RXQ_OVFL on and its buffers set as
 * edge_sock_set_bufs(fd, EDGE_SOCK_LISTENER, ...). rcvbuf/sndbuf 0 keep
 * the kernel default. Returns the fd or -errno. */
int edge_udp_bind(const struct sockaddr *sa, int rcvbuf, int sndbuf);

/* Set SO_RCVBUF and SO_SNDBUF of fd to rcvbuf and sndbuf bytes (0: leave
 * the kernel's default): the FORCE variants when permitted (root or
 * CAP_NET_ADMIN), else the plain ones, which the kernel caps at
 * net.core.rmem_max / wmem_max. Then read back what was granted and
 * record it as the kind's latest (edge_sock_bufs); the first time a kind
 * is granted less than asked, log one warning naming key (the
 * configuration key, for the operator). Best effort, never fails. Any
 * thread. */
void edge_sock_set_bufs(int fd, enum edge_sock_kind kind, const char *key,
                        int rcvbuf, int sndbuf);

/* What a kind's sockets asked for and were granted, in bytes as asked
 * (the kernel reports and accounts twice the granted size: halved here),
 * from the last socket of that kind that was set up; short: one of them
 * ever got less than asked. All zero before the first socket. */
struct edge_sock_bufs {
	uint32_t rcv_asked, rcv_granted, snd_asked, snd_granted;
	bool seen, short_;
};
void edge_sock_bufs(enum edge_sock_kind kind, struct edge_sock_bufs *out);

/* Turn on SO_RXQ_OVFL: received datagrams carry the socket's count of
 * datagrams dropped for a full receive queue once it is not 0. */
void edge_sock_rxq_ovfl(int fd);
/* DSCP (0..63) in the IP header of what fd sends: IP_TOS (IPv4) or
 * IPV6_TCLASS (IPv6), ECN bits 0. dscp < 0: nothing. 0 or errno. */
int edge_sock_set_dscp(int fd, int family, int dscp);
/* A listening TCP socket with SO_REUSEPORT, non-blocking. fd or -errno. */
int edge_tcp_listen(const struct sockaddr *sa, int backlog);
/* An accepted client connection: keepalive so a peer that vanished
 * (half-open) is found (probes after 60 s of silence, every 10 s, 3
 * unanswered close it), and TCP_NODELAY: TURN messages and ChannelData
 * are media frames, and Nagle's algorithm would hold a small frame back
 * until the client's (delayed) ACK of the previous one, tens of ms.
 * Best effort. */
void edge_tcp_client_opts(int fd);

/* Take an exclusive lock for this address and port so a second instance
 * cannot share it through SO_REUSEPORT. Lock files live in dir (created
 * if missing). Returns the lock fd (kept open for the life of the
 * process) or -errno; -EADDRINUSE when another process holds it. */
int edge_port_lock(const char *dir, const struct sockaddr *sa);

/* Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft
 * limit. */
long edge_raise_fd_limit(void);

#endif
