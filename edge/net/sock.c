/*
 * edge/net/sock.c - socket set-up for listeners: bind with SO_REUSEPORT so each
 * worker has its own socket and the kernel spreads 5-tuples over them, and
 * a lock file per address and port, because SO_REUSEPORT would otherwise
 * let a second instance (same user) silently take half the flows.
 */
#include "edge/net/sock.h"
#include "cluster/cluster.h"
#include "turn/turn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

int edge_udp_bind(const struct sockaddr *sa, int rcvbuf, int sndbuf)
{
	int fd = socket_for(sa, SOCK_DGRAM);

	if (fd < 0)
		return fd;
	/* The FORCE variants (root, or CAP_NET_ADMIN) pass net.core.rmem_max
	 * and wmem_max; otherwise the kernel caps the size at those. */
	if (rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (sndbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
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
