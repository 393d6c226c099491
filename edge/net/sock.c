/*
 * edge/net/sock.c - socket set-up for listeners: bind with SO_REUSEPORT so each
 * worker has its own socket and the kernel spreads 5-tuples over them, and
 * a lock file per address and port, because SO_REUSEPORT would otherwise
 * let a second instance (same user) silently take half the flows. UDP
 * socket buffers: set, read back, and the latest grant per kind of socket
 * kept for the admin API (process-wide, atomics).
 */
#include "edge/net/sock.h"
#include "cluster/cluster.h"
#include "edge/base/log.h"
#include "turn/turn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int edge_addr_parse(const char *ip, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		return 0;
	}
	return EINVAL;
}

const char *edge_addr_str(const struct sockaddr *sa, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in4 = (const void *)sa;
		inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
		snprintf(buf, cap, "%s:%u", ip, ntohs(in4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, cap, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, cap, "?");
	}
	return buf;
}

socklen_t edge_addr_len(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                 : sizeof(struct sockaddr_in);
}

uint16_t edge_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)
		                     ->sin6_port);
	return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
}

static int socket_for(const struct sockaddr *sa, int type)
{
	int one = 1;
	int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (sa->sa_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) <
	             0)) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* The latest buffer sizes of each kind of socket, and whether a short
 * grant was warned about: process-wide, written by whichever thread opens
 * a socket, read by the admin thread (relaxed atomics). */
static struct {
	_Atomic uint32_t rcv_asked, rcv_granted, snd_asked, snd_granted;
	atomic_bool seen, short_, warned;
} bufs[EDGE_SOCK_KINDS];

/* One buffer: FORCE, else the capped one; returns the size granted, in
 * the units asked (the kernel reports twice what it grants). */
static uint32_t set_buf(int fd, int force, int plain, int size)
{
	int got = 0;
	socklen_t len = sizeof(got);

	if (size > 0 && setsockopt(fd, SOL_SOCKET, force, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, plain, &size, sizeof(size));
	if (getsockopt(fd, SOL_SOCKET, plain, &got, &len) < 0 || got < 0)
		return 0;
	return (uint32_t)got / 2;
}

void edge_sock_set_bufs(int fd, enum edge_sock_kind kind, const char *key,
                        int rcvbuf, int sndbuf)
{
	uint32_t rcv = set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf);
	uint32_t snd = set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);
	bool rshort = rcvbuf > 0 && rcv < (uint32_t)rcvbuf;
	bool sshort = sndbuf > 0 && snd < (uint32_t)sndbuf;

	atomic_store_explicit(&bufs[kind].rcv_asked, (uint32_t)rcvbuf,
	                      memory_order_relaxed);
	atomic_store_explicit(&bufs[kind].rcv_granted, rcv,
	                      memory_order_relaxed);
	atomic_store_explicit(&bufs[kind].snd_asked, (uint32_t)sndbuf,
	                      memory_order_relaxed);
	atomic_store_explicit(&bufs[kind].snd_granted, snd,
	                      memory_order_relaxed);
	atomic_store(&bufs[kind].seen, true);
	if (!rshort && !sshort)
		return;
	atomic_store(&bufs[kind].short_, true);
	if (atomic_exchange(&bufs[kind].warned, true))
		return;
	edge_warn("%s: %s sockets got smaller buffers than asked: receive "
	          "%d asked, %u granted; send %d asked, %u granted; raise "
	          "net.core.rmem_max / net.core.wmem_max (sysctl) or run with "
	          "CAP_NET_ADMIN (SO_RCVBUFFORCE)",
	          key, kind == EDGE_SOCK_RELAY ? "relay" : "listening", rcvbuf,
	          rcv, sndbuf, snd);
}

void edge_sock_bufs(enum edge_sock_kind kind, struct edge_sock_bufs *out)
{
	out->rcv_asked = atomic_load_explicit(&bufs[kind].rcv_asked,
	                                      memory_order_relaxed);
	out->rcv_granted = atomic_load_explicit(&bufs[kind].rcv_granted,
	                                        memory_order_relaxed);
	out->snd_asked = atomic_load_explicit(&bufs[kind].snd_asked,
	                                      memory_order_relaxed);
	out->snd_granted = atomic_load_explicit(&bufs[kind].snd_granted,
	                                        memory_order_relaxed);
	out->seen = atomic_load(&bufs[kind].seen);
	out->short_ = atomic_load(&bufs[kind].short_);
}

void edge_sock_rxq_ovfl(int fd)
{
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
}

int edge_sock_set_dscp(int fd, int family, int dscp)
{
	if (dscp < 0 || dscp > 63) /* -1: no class DSCP, keep the default */
		return 0;
	int tos = dscp << 2;
	if (family == AF_INET6
	            ? setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos,
	                         sizeof(tos))
	            : setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)))
		return errno;
	return 0;
}

int edge_udp_bind(const struct sockaddr *sa, int rcvbuf, int sndbuf)
{
	int fd = socket_for(sa, SOCK_DGRAM);

	if (fd < 0)
		return fd;
	edge_sock_set_bufs(fd, EDGE_SOCK_LISTENER,
	                   "socket-rcvbuf/socket-sndbuf", rcvbuf, sndbuf);
	edge_sock_rxq_ovfl(fd);
	if (bind(fd, sa, edge_addr_len(sa)) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int edge_tcp_listen(const struct sockaddr *sa, int backlog)
{
	int fd = socket_for(sa, SOCK_STREAM);

	if (fd < 0)
		return fd;
	if (bind(fd, sa, edge_addr_len(sa)) < 0 || listen(fd, backlog) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

void edge_tcp_client_opts(int fd)
{
	int on = 1, idle = 60, intvl = 10, cnt = 3;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

int edge_port_lock(const char *dir, const struct sockaddr *sa)
{
	char path[512], ip[INET6_ADDRSTRLEN];
	const void *a =
	        sa->sa_family == AF_INET6
	                ? (const void *)&(
	                          (const struct sockaddr_in6 *)(const void *)sa)
	                          ->sin6_addr
	                : (const void *)&(
	                          (const struct sockaddr_in *)(const void *)sa)
	                          ->sin_addr;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	inet_ntop(sa->sa_family, a, ip, sizeof(ip));
	snprintf(path, sizeof(path), "%s/avedge-%s-%u.lock", dir, ip,
	         edge_addr_port(sa));
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? EADDRINUSE : errno;
		close(fd);
		return -err;
	}
	return fd;
}

long edge_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}

bool edge_addr_is_any(const struct sockaddr *sa)
{
	static const uint8_t zero[16];

	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)sa)
		               ->sin_addr.s_addr == 0;
	return memcmp(&((const struct sockaddr_in6 *)(const void *)sa)
	                       ->sin6_addr,
	              zero, 16) == 0;
}

bool edge_addr_parse_hostport(const char *s, union turn_addr *a)
{
	char ip[64];
	uint16_t port;
	struct sockaddr_storage ss;

	if (!cluster_endpoint_split(s, strlen(s), ip, sizeof(ip), &port) ||
	    edge_addr_parse(ip, port, &ss) != 0)
		return false;
	memcpy(a, &ss, edge_addr_len((const void *)&ss));
	return true;
}
