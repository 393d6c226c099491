/*
 * tools/sim/net.c - edge-sim's sockets: a connection to a TURN server over
 * UDP, TCP or TLS (RFC 8656 s3.1; OpenSSL, no certificate verification),
 * stream framing of STUN and ChannelData (s12.5, via stun_frame_len), big
 * socket buffers and the kernel's receive drops (SO_RXQ_OVFL).
 *
 * UDP sockets are connected to the server and non-blocking. Stream sockets
 * are non-blocking after the (blocking) connect and handshake; a send
 * waits up to 1 s for room, so a frame is always written whole.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools/rxq.h"
#include "tools/sim/sim.h"

uint64_t sim_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sim_sockbuf(int fd, int bytes)
{
	/* The FORCE variants pass rmem_max/wmem_max when we are root. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof(bytes)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

int sim_addr_str(const struct sockaddr_storage *a, char *out, size_t cap)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)a;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		port = ntohs(s->sin_port);
		return snprintf(out, cap, "%s:%u", ip, port);
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)a;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		port = ntohs(s->sin6_port);
	}
	return snprintf(out, cap, "[%s]:%u", ip, port);
}

static int tls_connect(struct sim_conn *c, SSL_CTX *ctx, char *err,
                       size_t err_len)
{
	c->ssl = SSL_new(ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd) || SSL_connect(c->ssl) != 1) {
		unsigned long e = ERR_get_error();
		snprintf(err, err_len, "TLS handshake failed: %s",
		         e ? ERR_reason_error_string(e) : "closed");
		return EPROTO;
	}
	return 0;
}

int sim_conn_open(struct sim_conn *c, enum sim_transport tr,
                  const struct sockaddr_storage *srv, socklen_t srv_len,
                  int sockbuf, SSL_CTX *ctx, char *err, size_t err_len)
{
	int one = 1;
	socklen_t ll = sizeof(c->local);

	memset(c, 0, sizeof(*c));
	c->tr = tr;
	c->fd = socket(
	        srv->ss_family,
	        (tr == SIM_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return errno;
	}
	sim_sockbuf(c->fd, sockbuf);
	if (tr == SIM_UDP)
		setsockopt(c->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	else
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)srv, srv_len)) {
		snprintf(err, err_len, "connect: %s", strerror(errno));
		return errno;
	}
	if (tr == SIM_TLS && tls_connect(c, ctx, err, err_len))
		return EPROTO;
	if (tr != SIM_UDP && !(c->rx = malloc(SIM_STREAM_BUF))) {
		snprintf(err, err_len, "out of memory");
		return ENOMEM;
	}
	getsockname(c->fd, (struct sockaddr *)&c->local, &ll);
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

void sim_conn_close(struct sim_conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c->rx);
	c->ssl = NULL;
	c->rx = NULL;
	c->fd = -1;
}

static int wait_fd(int fd, short ev)
{
	struct pollfd p = {.fd = fd, .events = ev};

	return poll(&p, 1, 1000) == 1 ? 0 : ETIMEDOUT;
}

static int tls_send(struct sim_conn *c, const void *buf, size_t len)
{
	for (;;) {
		int n = SSL_write(c->ssl, buf, (int)len);
		if (n > 0)
			return 0;
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
			if (wait_fd(c->fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT
			                                             : POLLIN))
				return ETIMEDOUT;
			continue;
		}
		return EPIPE;
	}
}

int sim_conn_send(struct sim_conn *c, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (c->fd < 0)
		return EBADF;
	if (c->tr == SIM_UDP)
		return send(c->fd, buf, len, 0) < 0 ? errno : 0;
	if (c->tr == SIM_TLS)
		return tls_send(c, buf, len);
	while (len) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN) {
			if (wait_fd(c->fd, POLLOUT))
				return ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read into the stream buffer: bytes read, 0 nothing more now, -1 gone. */
static ssize_t stream_read(struct sim_conn *c)
{
	size_t room = SIM_STREAM_BUF - c->rx_len;

	if (c->tr == SIM_TLS) {
		int n = SSL_read(c->ssl, c->rx + c->rx_len, (int)room);
		if (n > 0)
			return n;
		int e = SSL_get_error(c->ssl, n);
		return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE
		               ? 0
		               : -1;
	}
	ssize_t n = recv(c->fd, c->rx + c->rx_len, room, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return n <= 0 ? -1 : n;
}

int sim_conn_read_stream(struct sim_conn *c, sim_frame_fn *fn, void *arg)
{
	for (int iter = 0; iter < 64; iter++) {
		ssize_t n = stream_read(c);
		size_t off = 0, fl;

		if (n < 0)
			return EPIPE;
		if (n == 0)
			return 0;
		c->rx_len += (size_t)n;
		while (!stun_frame_len(c->rx + off, c->rx_len - off,
		                       SIM_PKT_MAX * 2, &fl, NULL) &&
		       fl <= c->rx_len - off) {
			fn(arg, c->rx + off, fl);
			off += fl;
		}
		if (c->rx_len - off >= 4 &&
		    stun_frame_len(c->rx + off, c->rx_len - off,
		                   SIM_PKT_MAX * 2, &fl, NULL) == EBADMSG)
			return EBADMSG;
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
	}
	return 0;
}

void sim_note_ovfl(uint32_t *last, const struct msghdr *mh, uint64_t *drops)
{
	*drops += tools_rxq_drops(last, mh);
}
