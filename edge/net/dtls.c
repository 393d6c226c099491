/*
 * edge/net/dtls.c - TURN over DTLS 1.2 (RFC 8656 s3.1, RFC 6347) on the
 * worker model of UDP: every worker has its own SO_REUSEPORT socket per
 * listening address on the DTLS port, so the kernel keeps a client on one
 * worker, and a hash of its sessions by (listener, client address).
 *
 * No state before the cookie (RFC 6347 s4.2.1): a datagram from an
 * address without a session goes to the worker's one listening SSL, which
 * DTLSv1_listen() resets for every datagram. A ClientHello without a valid
 * cookie gets a HelloVerifyRequest (smaller than the ClientHello) and
 * nothing is kept. The cookie is time || HMAC-SHA256(node secret, time ||
 * client address), so it proves the address without any table. When the
 * cookie comes back, that SSL becomes the session (counted in the node's
 * connection limits) and a fresh listening SSL takes its place. A new
 * ClientHello on an established session's address goes the same way and
 * replaces the session only once its cookie proves the address (s4.2.8).
 *
 * An SSL reads and writes through a BIO of ours (no socket): reads return
 * the datagram being handled, once; writes collect records in the
 * worker's output buffer until a flush, which is one sendto(). OpenSSL
 * packs a handshake flight into datagrams of the MTU this way, as it
 * does with a datagram socket BIO. Every SSL call is followed by a flush.
 *
 * Decrypted records are whole STUN/ChannelData datagrams for the core,
 * with transport DTLS and a connection id of their own (w->next_conn_id).
 * A session ends with close_notify, a fatal error, handshake-timeout
 * (handshake plus the first message) or 3900 s without a datagram once
 * active (longer than any allocation); the core is told, so the
 * allocation ends with it. Runs on the worker's thread only.
 */
#include "edge/net/dtls.h"
#include "edge/base/log.h"
#include "edge/config/realms.h"
#include "edge/net/connlimit.h"
#include "edge/net/run.h"
#include "edge/net/sock.h"
#include "edge/net/tls.h"
#include "edge/net/worker_int.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DTLS_BUCKETS          4096 /* power of two */
#define DTLS_MTU              1200 /* handshake datagrams (no IP/UDP) */
#define DTLS_OUT_MAX          (16384 + 1024) /* one record at most */
#define DTLS_ACTIVE_TIMEOUT_S 3900 /* as TCP: longer than any allocation */
#define DTLS_LISTENER_BASE    (3 * EDGE_MAX_LISTEN) /* turn_tuple.listener */
#define COOKIE_MAC_LEN        16
#define COOKIE_LEN            (4 + COOKIE_MAC_LEN)
#define COOKIE_MAX_AGE_S      60
#define BATCHES_PER_WAKE      8

/* What one SSL's BIO reads and where it writes. */
struct dtls_io {
	struct edge_dtls *d;
	int fd;
	union turn_addr peer;
	const uint8_t *in; /* the datagram being handled; NULL: none */
	size_t in_len;
	bool peek; /* DTLSv1_listen: read without consuming */
};

struct dtls_sock {
	int fd;
	struct event *ev;
	struct edge_worker *w;
	uint32_t listener;   /* turn_tuple.listener */
	uint8_t realm;       /* turn_tuple.realm (realm-listener) */
	uint32_t drops_seen; /* SO_RXQ_OVFL count last seen (io.h) */
};

struct dtls_sess {
	struct dtls_sess *hnext;       /* hash chain by address */
	struct dtls_sess *next, *prev; /* all sessions of the worker */
	struct edge_dtls *d;
	SSL *ssl;
	struct dtls_io io;
	struct turn_tuple tuple;
	struct event *timer;
	uint64_t first_by_ms; /* handshake and first message by then */
	uint64_t last_rx_ms;
	bool established, active;
	uint8_t hello_random[32]; /* of the ClientHello that made it */
};

struct edge_dtls {
	struct edge_worker *w;
	struct dtls_sock sock[EDGE_MAX_LISTEN];
	size_t nsock;
	SSL_CTX *ctx;     /* shared, not owned */
	BIO_METHOD *meth; /* process-wide, not owned */
	SSL *listen;      /* stateless: reset for every datagram */
	struct dtls_io listen_io;
	BIO_ADDR *listen_addr;
	uint8_t cookie_key[EDGE_DTLS_COOKIE_KEY_LEN];
	uint64_t hash_seed;
	struct dtls_sess **buckets;
	struct dtls_sess *all;
	/* output collected by the BIO until a flush */
	struct dtls_io *out_io;
	size_t out_len;
	uint8_t out[DTLS_OUT_MAX];
	uint8_t plain[EDGE_DGRAM_MAX]; /* one decrypted record */
};

/* --- the BIO: datagrams in, datagrams out ----------------------------- */

static void out_flush(struct edge_dtls *d)
{
	struct dtls_io *io = d->out_io;

	if (d->out_len == 0 || !io) {
		d->out_len = 0;
		return;
	}
	/* A full socket buffer drops the datagram, as for UDP; DTLS
	 * retransmits handshake flights itself. */
	if (sendto(io->fd, d->out, d->out_len, 0, &io->peer.sa,
	           edge_addr_len(&io->peer.sa)) < 0)
		edge_io_send_failed(&d->w->stats, EDGE_SOCK_LISTENER, errno);
	d->out_len = 0;
	d->out_io = NULL;
}

static int bio_write(BIO *b, const char *data, int len)
{
	struct dtls_io *io = BIO_get_data(b);
	struct edge_dtls *d = io->d;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	if (d->out_io != io || d->out_len + (size_t)len > sizeof(d->out))
		out_flush(d);
	if ((size_t)len > sizeof(d->out))
		return len; /* cannot happen: a record fits */
	memcpy(d->out + d->out_len, data, (size_t)len);
	d->out_len += (size_t)len;
	d->out_io = io;
	return len;
}

static int bio_read(BIO *b, char *buf, int cap)
{
	struct dtls_io *io = BIO_get_data(b);

	BIO_clear_retry_flags(b);
	if (!io->in) {
		BIO_set_retry_read(b);
		return -1;
	}
	/* A datagram that does not fit is cut, as recv() would cut it. */
	int n = io->in_len < (size_t)cap ? (int)io->in_len : cap;
	memcpy(buf, io->in, (size_t)n);
	if (!io->peek)
		io->in = NULL;
	return n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct dtls_io *io = BIO_get_data(b);

	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		if (io->d->out_io == io)
			out_flush(io->d);
		return 1;
	case BIO_CTRL_DGRAM_SET_PEEK_MODE:
		io->peek = num != 0;
		return 1;
	case BIO_CTRL_WPENDING:
		return io->d->out_io == io ? (long)io->d->out_len : 0;
	case BIO_CTRL_PENDING:
		return io->in ? (long)io->in_len : 0;
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return io->peer.sa.sa_family == AF_INET6 ? 48 : 28;
	default:
		return 0; /* peer, MTU query, timeouts: not ours to answer */
	}
}

static int bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* One method table for the process, made once and never changed (BIO
 * type indexes are few: not one per worker). */
static BIO_METHOD *bio_meth;
static pthread_once_t bio_meth_once = PTHREAD_ONCE_INIT;

static void bio_meth_make(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	                             "avedge dtls");

	if (!m)
		return;
	BIO_meth_set_write(m, bio_write);
	BIO_meth_set_read(m, bio_read);
	BIO_meth_set_ctrl(m, bio_ctrl);
	BIO_meth_set_create(m, bio_create);
	bio_meth = m;
}

static BIO_METHOD *bio_method(void)
{
	pthread_once(&bio_meth_once, bio_meth_make);
	return bio_meth;
}

/* --- stateless cookies ------------------------------------------------ */

/* MAC over time and the client's family, port and address. */
static void cookie_mac(const struct edge_dtls *d, const union turn_addr *a,
                       const uint8_t t[4], uint8_t mac[COOKIE_MAC_LEN])
{
	uint8_t msg[4 + 2 + 2 + 16], full[EVP_MAX_MD_SIZE];
	unsigned full_len = 0;
	size_t n = 8;

	memset(msg, 0, sizeof(msg));
	memcpy(msg, t, 4);
	msg[4] = (uint8_t)a->sa.sa_family;
	if (a->sa.sa_family == AF_INET6) {
		memcpy(msg + 6, &a->in6.sin6_port, 2);
		memcpy(msg + 8, &a->in6.sin6_addr, 16);
		n += 16;
	} else {
		memcpy(msg + 6, &a->in4.sin_port, 2);
		memcpy(msg + 8, &a->in4.sin_addr, 4);
		n += 4;
	}
	HMAC(EVP_sha256(), d->cookie_key, sizeof(d->cookie_key), msg, n, full,
	     &full_len);
	memcpy(mac, full, COOKIE_MAC_LEN);
}

static int cookie_generate(SSL *ssl, unsigned char *cookie, unsigned *len)
{
	struct dtls_io *io = BIO_get_data(SSL_get_rbio(ssl));
	uint32_t now = (uint32_t)io->d->w->io.now_s;
	uint8_t t[4] = {(uint8_t)(now >> 24), (uint8_t)(now >> 16),
	                (uint8_t)(now >> 8), (uint8_t)now};

	memcpy(cookie, t, 4);
	cookie_mac(io->d, &io->peer, t, cookie + 4);
	*len = COOKIE_LEN;
	EDGE_COUNT(&io->d->w->stats, dtls_cookie_sent, 1);
	return 1;
}

static int cookie_verify(SSL *ssl, const unsigned char *cookie, unsigned len)
{
	struct dtls_io *io = BIO_get_data(SSL_get_rbio(ssl));
	uint8_t mac[COOKIE_MAC_LEN];

	if (len != COOKIE_LEN)
		return 0;
	uint32_t t = (uint32_t)cookie[0] << 24 | (uint32_t)cookie[1] << 16 |
	             (uint32_t)cookie[2] << 8 | cookie[3];
	uint32_t now = (uint32_t)io->d->w->io.now_s;
	if (now - t > COOKIE_MAX_AGE_S && t - now > 1)
		return 0;
	cookie_mac(io->d, &io->peer, cookie, mac);
	return CRYPTO_memcmp(mac, cookie + 4, COOKIE_MAC_LEN) == 0;
}

int edge_dtls_ctx_new(SSL_CTX **out, const char *cert, const char *pkey,
                      const char *cipher_list, char *err, size_t err_len)
{
	SSL_CTX *ctx = SSL_CTX_new(DTLS_server_method());
	int rc;

	*out = NULL;
	if (!ctx) {
		snprintf(err, err_len, "DTLS: no memory");
		ERR_clear_error();
		return ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
	rc = edge_tls_ctx_load(ctx, cert, pkey, cipher_list, err, err_len);
	if (rc) {
		SSL_CTX_free(ctx);
		return rc;
	}
	SSL_CTX_set_cookie_generate_cb(ctx, cookie_generate);
	SSL_CTX_set_cookie_verify_cb(ctx, cookie_verify);
	*out = ctx;
	return 0;
}

void edge_dtls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* --- sessions ---------------------------------------------------------- */

static size_t addr_hash(const struct edge_dtls *d, uint32_t listener,
                        const union turn_addr *a)
{
	uint64_t h = d->hash_seed ^ listener, v;

	if (a->sa.sa_family == AF_INET6) {
		memcpy(&v, &a->in6.sin6_addr, 8);
		h = (h ^ v) * 0x9E3779B97F4A7C15ull;
		memcpy(&v, (const uint8_t *)&a->in6.sin6_addr + 8, 8);
		h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
		h ^= a->in6.sin6_port;
	} else {
		h ^= (uint64_t)a->in4.sin_addr.s_addr << 16 | a->in4.sin_port;
	}
	h = (h ^ (h >> 31)) * 0x94D049BB133111EBull;
	return (size_t)(h ^ (h >> 29)) & (DTLS_BUCKETS - 1);
}

static bool same_addr(const union turn_addr *a, const union turn_addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, 16) == 0;
	return a->in4.sin_port == b->in4.sin_port &&
	       a->in4.sin_addr.s_addr == b->in4.sin_addr.s_addr;
}

static struct dtls_sess *sess_find(struct edge_dtls *d, uint32_t listener,
                                   const union turn_addr *a)
{
	struct dtls_sess *s = d->buckets[addr_hash(d, listener, a)];

	while (s && !(s->tuple.listener == listener &&
	              same_addr(&s->tuple.client, a)))
		s = s->hnext;
	return s;
}

static void sess_unlink(struct dtls_sess *s)
{
	struct edge_dtls *d = s->d;
	struct dtls_sess **pp =
	        &d->buckets[addr_hash(d, s->tuple.listener, &s->tuple.client)];

	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	if (s->prev)
		s->prev->next = s->next;
	else
		d->all = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

/* End a session: close_notify when it was established (and is not
 * broken), the connection slot back, and with notify the core ends its
 * allocation (RFC 8656 s3.1). */
static void sess_close(struct dtls_sess *s, bool notify)
{
	struct edge_dtls *d = s->d;
	struct edge_worker *w = d->w;

	sess_unlink(s);
	EDGE_COUNT(&w->stats, dtls_closed, 1);
	if (s->established) {
		ERR_clear_error();
		SSL_shutdown(s->ssl);
		out_flush(d);
	}
	ERR_clear_error();
	if (w->connlimit)
		edge_connlimit_release(w->connlimit, &s->tuple.client.sa);
	if (notify && s->established) {
		edge_core_conn_closed(w, &s->tuple);
	}
	event_free(s->timer);
	SSL_free(s->ssl);
	free(s);
}

/* The next wake-up: a DTLS retransmission, the first-message deadline,
 * or the idle limit (checked lazily: a datagram does not re-arm). */
static void sess_arm(struct dtls_sess *s, uint64_t now_ms)
{
	uint64_t at = s->active
	                      ? s->last_rx_ms + DTLS_ACTIVE_TIMEOUT_S * 1000ull
	                      : s->first_by_ms;
	struct timeval tv;

	if (DTLSv1_get_timeout(s->ssl, &tv) == 1) {
		uint64_t rt = now_ms + (uint64_t)tv.tv_sec * 1000 +
		              (uint64_t)tv.tv_usec / 1000;
		if (rt < at)
			at = rt;
	}
	uint64_t in = at > now_ms ? at - now_ms : 0;
	tv.tv_sec = (time_t)(in / 1000);
	tv.tv_usec = (suseconds_t)(in % 1000) * 1000;
	event_add(s->timer, &tv);
}

static void sess_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dtls_sess *s = arg;
	struct edge_worker *w = s->d->w;

	(void)fd;
	(void)what;
	edge_io_clock(&w->io);
	if (!s->active && w->io.now_ms >= s->first_by_ms) {
		if (!s->established)
			EDGE_COUNT(&w->stats, dtls_handshake_failures, 1);
		sess_close(s, true);
		return;
	}
	if (s->active &&
	    w->io.now_ms >= s->last_rx_ms + DTLS_ACTIVE_TIMEOUT_S * 1000ull) {
		sess_close(s, true);
		return;
	}
	ERR_clear_error();
	if (DTLSv1_handle_timeout(s->ssl) < 0) {
		out_flush(s->d);
		EDGE_COUNT(&w->stats, dtls_handshake_failures, 1);
		sess_close(s, true);
		return;
	}
	out_flush(s->d);
	sess_arm(s, w->io.now_ms);
}

/* The listening SSL whose cookie exchange just succeeded becomes a
 * session for from; NULL when out of memory (the SSL is freed). */
static struct dtls_sess *sess_new(struct dtls_sock *ds,
                                  const union turn_addr *from, SSL *ssl)
{
	struct edge_dtls *d = ds->w->dtls;
	struct edge_worker *w = ds->w;
	struct dtls_sess *s = calloc(1, sizeof(*s));
	uint32_t limit_s = w->handshake_timeout_s;

	if (!s || !(s->timer = evtimer_new(w->base, sess_timer, s))) {
		free(s);
		SSL_free(ssl);
		return NULL;
	}
	s->d = d;
	s->ssl = ssl;
	s->io = (struct dtls_io){.d = d, .fd = ds->fd, .peer = *from};
	BIO_set_data(SSL_get_rbio(ssl), &s->io);
	memcpy(&s->tuple.client, from, sizeof(*from));
	s->tuple.listener = ds->listener;
	s->tuple.transport = TURN_TRANSPORT_DTLS;
	s->tuple.realm = ds->realm;
	do {
		s->tuple.conn = w->next_conn_id++;
	} while (s->tuple.conn == 0);
	/* Handshake plus the first message: the handshake limit, or the idle
	 * limit if smaller, as for TLS. */
	if (limit_s == 0 || (w->idle_timeout_s && w->idle_timeout_s < limit_s))
		limit_s = w->idle_timeout_s ? w->idle_timeout_s : 10;
	s->first_by_ms = w->io.now_ms + limit_s * 1000ull;
	s->last_rx_ms = w->io.now_ms;
	size_t b = addr_hash(d, s->tuple.listener, from);
	s->hnext = d->buckets[b];
	d->buckets[b] = s;
	s->next = d->all;
	if (d->all)
		d->all->prev = s;
	d->all = s;
	return s;
}

/* A fresh listening SSL from the current context; false when out of
 * memory (DTLS then ignores new clients until one can be made). */
static bool listen_reset(struct edge_dtls *d)
{
	SSL *ssl = SSL_new(d->ctx);
	BIO *b = ssl ? BIO_new(d->meth) : NULL;

	if (!b) {
		SSL_free(ssl);
		ERR_clear_error();
		d->listen = NULL;
		return false;
	}
	BIO_set_data(b, &d->listen_io);
	SSL_set_bio(ssl, b, b);
	SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
	SSL_set_mtu(ssl, DTLS_MTU);
	SSL_set_accept_state(ssl);
	d->listen = ssl;
	return true;
}

/* --- datagrams in ----------------------------------------------------- */

/* One decrypted record: a STUN message or ChannelData for the core. */
static void sess_deliver(struct dtls_sess *s, size_t len)
{
	struct edge_worker *w = s->d->w;

	EDGE_COUNT(&w->stats, dtls_rx, 1);
	if (!s->active) {
		s->active = true;
		sess_arm(s, w->io.now_ms);
	}
	edge_core_input(w, &s->tuple, s->d->plain, len);
	edge_io_flush(&w->io); /* sends to peers borrow plain[] */
}

/* A datagram for an existing session: handshake, then records. */
static void sess_input(struct dtls_sess *s, const uint8_t *data, size_t len)
{
	struct edge_dtls *d = s->d;
	struct edge_worker *w = d->w;
	int r;

	s->io.in = data;
	s->io.in_len = len;
	s->last_rx_ms = w->io.now_ms;
	ERR_clear_error();
	if (!s->established) {
		r = SSL_do_handshake(s->ssl);
		out_flush(d);
		if (r != 1) {
			int e = SSL_get_error(s->ssl, r);
			s->io.in = NULL;
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE) {
				sess_arm(s, w->io.now_ms);
				return;
			}
			EDGE_COUNT(&w->stats, dtls_handshake_failures, 1);
			sess_close(s, false);
			return;
		}
		s->established = true;
		EDGE_COUNT(&w->stats, dtls_handshakes, 1);
		sess_arm(s, w->io.now_ms);
	}
	for (;;) {
		r = SSL_read(s->ssl, d->plain, sizeof(d->plain));
		out_flush(d);
		if (r > 0) {
			sess_deliver(s, (size_t)r);
			continue;
		}
		int e = SSL_get_error(s->ssl, r);
		s->io.in = NULL;
		ERR_clear_error();
		if (e != SSL_ERROR_WANT_READ)
			sess_close(s, true); /* close_notify or fatal */
		return;
	}
}

/* Where a ClientHello record (epoch 0, handshake, type 1, first
 * fragment) keeps its random: after the record header (13), the handshake
 * header (12) and client_version (2). NULL: not a ClientHello. */
#define HELLO_RANDOM_AT 27
static const uint8_t *hello_random(const uint8_t *p, size_t len)
{
	if (len < HELLO_RANDOM_AT + 32 || p[0] != 22 || p[3] != 0 ||
	    p[4] != 0 || p[13] != 1)
		return NULL;
	return p + HELLO_RANDOM_AT;
}

/* A new ClientHello on an established session's address: the client
 * restarted with the same port (s4.2.8). A late copy of the ClientHello
 * that made the session (same random) is not one. */
static bool is_new_hello(const struct dtls_sess *s, const uint8_t *p,
                         size_t len)
{
	const uint8_t *r = hello_random(p, len);

	return r && memcmp(r, s->hello_random, sizeof(s->hello_random)) != 0;
}

/* A datagram with no session (or a new ClientHello): the stateless
 * cookie exchange; a session only once the cookie comes back. */
static void listen_input(struct dtls_sock *ds, const union turn_addr *from,
                         const uint8_t *data, size_t len, struct dtls_sess *old)
{
	struct edge_worker *w = ds->w;
	struct edge_dtls *d = w->dtls;

	if (!d->listen && !listen_reset(d))
		return;
	d->listen_io.fd = ds->fd;
	d->listen_io.peer = *from;
	d->listen_io.in = data;
	d->listen_io.in_len = len;
	ERR_clear_error();
	int r = DTLSv1_listen(d->listen, d->listen_addr);
	d->listen_io.in = NULL;
	d->listen_io.peek = false;
	out_flush(d);
	ERR_clear_error();
	if (r < 0) {
		SSL_free(d->listen); /* fatal for this SSL: start over */
		listen_reset(d);
	}
	if (r <= 0)
		return; /* HelloVerifyRequest sent, or not a ClientHello */
	if (old)
		sess_close(old, true);
	SSL *ssl = d->listen;
	listen_reset(d);
	if (w->connlimit && !edge_connlimit_acquire(w->connlimit, &from->sa)) {
		EDGE_COUNT(&w->stats, dtls_refused, 1);
		SSL_free(ssl);
		return;
	}
	struct dtls_sess *s = sess_new(ds, from, ssl);
	if (!s) {
		if (w->connlimit)
			edge_connlimit_release(w->connlimit, &from->sa);
		return;
	}
	EDGE_COUNT(&w->stats, dtls_sessions, 1);
	const uint8_t *rnd = hello_random(data, len); /* listen checked it */
	if (rnd)
		memcpy(s->hello_random, rnd, sizeof(s->hello_random));
	sess_input(s, data, len); /* the ClientHello, again, for real */
}

static void dtls_input(struct dtls_sock *ds, const union turn_addr *from,
                       const uint8_t *data, size_t len)
{
	struct dtls_sess *s = sess_find(ds->w->dtls, ds->listener, from);

	if (!s || (s->established && is_new_hello(s, data, len)))
		listen_input(ds, from, data, len, s);
	else
		sess_input(s, data, len);
}

static void dtls_readable(evutil_socket_t fd, short what, void *arg)
{
	struct dtls_sock *ds = arg;
	struct edge_worker *w = ds->w;

	(void)what;
	edge_io_clock(&w->io);
	for (int round = 0; round < BATCHES_PER_WAKE; round++) {
		unsigned b;
		int n = edge_io_rx_batch(&w->io, fd, &b, EDGE_SOCK_LISTENER,
		                         &ds->drops_seen);
		if (n <= 0)
			break;
		for (unsigned i = b; i < b + (unsigned)n; i++) {
			if (w->io.rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				EDGE_COUNT(&w->stats, udp_truncated, 1);
				continue;
			}
			dtls_input(ds, &w->io.rx_addr[i], w->io.rx[i].buf,
			           w->io.rx_msgs[i].msg_len);
		}
		edge_io_rx_done(&w->io);
		if (n < EDGE_BATCH)
			break;
	}
}

/* --- the worker's side ------------------------------------------------ */

void edge_dtls_send(struct edge_worker *w, const struct turn_tuple *tuple,
                    const uint8_t *data, size_t len)
{
	struct dtls_sess *s =
	        w->dtls ? sess_find(w->dtls, tuple->listener, &tuple->client)
	                : NULL;

	if (!s || s->tuple.conn != tuple->conn || !s->established)
		return;
	ERR_clear_error();
	if (SSL_write(s->ssl, data, (int)len) > 0)
		EDGE_COUNT(&w->stats, dtls_tx, 1);
	out_flush(w->dtls);
	ERR_clear_error();
}

void edge_dtls_set_ctx(struct edge_worker *w, SSL_CTX *ctx)
{
	struct edge_dtls *d = w->dtls;

	if (!d)
		return;
	d->ctx = ctx;
	SSL_free(d->listen);
	listen_reset(d);
}

static int open_sock(struct edge_dtls *d, const struct sockaddr *sa,
                     const struct edge_worker_opts *opts)
{
	int fd = edge_udp_bind(sa, opts->rcvbuf, opts->sndbuf);

	if (fd < 0)
		return -fd;
	struct dtls_sock *ds = &d->sock[d->nsock];
	ds->fd = fd;
	ds->w = d->w;
	ds->listener = (uint32_t)(DTLS_LISTENER_BASE + d->nsock);
	ds->realm = edge_realm_of_listener(opts->realms, sa);
	d->nsock++;
	ds->ev = event_new(d->w->base, fd, EV_READ | EV_PERSIST, dtls_readable,
	                   ds);
	if (!ds->ev || event_add(ds->ev, NULL) < 0)
		return ENOMEM;
	return 0;
}

int edge_dtls_new(struct edge_worker *w, const struct edge_worker_opts *opts,
                  const struct sockaddr **failed)
{
	struct edge_dtls *d = calloc(1, sizeof(*d));

	if (!d)
		return ENOMEM;
	w->dtls = d;
	d->w = w;
	d->ctx = opts->dtls_ctx;
	d->listen_io.d = d;
	memcpy(d->cookie_key, opts->dtls_cookie_key, sizeof(d->cookie_key));
	d->buckets = calloc(DTLS_BUCKETS, sizeof(*d->buckets));
	d->meth = bio_method();
	d->listen_addr = BIO_ADDR_new();
	if (!d->buckets || !d->meth || !d->listen_addr || !listen_reset(d) ||
	    RAND_bytes((uint8_t *)&d->hash_seed, sizeof(d->hash_seed)) != 1)
		return ENOMEM;
	for (size_t i = 0; i < opts->ndtls; i++) {
		int err = open_sock(d, (const void *)&opts->dtls[i], opts);
		if (err) {
			*failed = (const void *)&opts->dtls[i];
			return err;
		}
	}
	return 0;
}

void edge_dtls_free(struct edge_worker *w)
{
	struct edge_dtls *d = w->dtls;

	if (!d)
		return;
	while (d->all)
		sess_close(d->all, false);
	for (size_t i = 0; i < d->nsock; i++) {
		if (d->sock[i].ev)
			event_free(d->sock[i].ev);
		close(d->sock[i].fd);
	}
	SSL_free(d->listen);
	BIO_ADDR_free(d->listen_addr);
	free(d->buckets);
	free(d);
	w->dtls = NULL;
}
