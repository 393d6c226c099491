/*
 * tools/bare-forwarder.c - the baseline of the relay benchmarks: a UDP
 * forwarder with the syscall pattern of a TURN relay and none of its
 * logic (no STUN, no auth, no timers), to bound what any relay can do on
 * the machine. Spoken to by `avedge-load --bare` (tools/bare_proto.h).
 *
 * A client sends ChannelData to the listening port. AVBIND opens the
 * client's relay socket (on --relay-ip, a port from --min-port..--max-port)
 * and names its peer; data on the bound channel loses its 4-byte header
 * and leaves from the relay socket to the peer. What the peer sends to the
 * relay socket is checked against the peer address (the permission check
 * of a relay), gets a ChannelData header and goes back to the client from
 * the listening port. Per packet: one lookup (client by 5-tuple, or by
 * relay socket through the epoll tag); reads are recvmmsg batches; writes
 * are sendmmsg batches per destination socket (the listening socket's
 * batch collects every relay socket read in one loop turn).
 *
 * Threads (--threads N) each own a SO_REUSEPORT listening socket, their
 * clients and relay sockets; the kernel keeps a client's 5-tuple on one
 * thread. Nothing is shared but the port counter. SIGINT/SIGTERM stop it
 * and print the counters on stderr.
 */
#include "tools/hostport.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/bare_proto.h"

#define BATCH   64
#define OUT_MAX 256 /* relay reads collected before one listener flush */
#define BUF     2048
#define LTAG    UINT32_MAX /* epoll tag of the listening socket */

struct opts {
	struct sockaddr_storage listen, relay_ip;
	socklen_t listen_len, relay_len;
	int min_port, max_port, threads, max_clients, sockbuf;
};

struct fclient {
	struct sockaddr_storage addr, peer;
	socklen_t alen, plen;
	int rfd; /* -1: free slot */
	uint16_t channel;
	int hnext; /* hash chain */
};

struct counters {
	uint64_t c2p, p2c, dropped, binds, frees, bind_fail;
};

struct fwd {
	pthread_t thr;
	const struct opts *o;
	int lfd, ep;
	struct fclient *cl;
	int ncl, free_head; /* free slots chained through hnext */
	int *bucket;
	unsigned mask;
	struct counters n;
	/* listener reads */
	struct mmsghdr lmsg[BATCH];
	struct iovec liov[BATCH];
	struct sockaddr_storage lname[BATCH];
	uint8_t lbuf[BATCH][BUF];
	/* sends to one relay socket */
	struct mmsghdr smsg[BATCH];
	struct iovec siov[BATCH];
	/* relay reads, then the listener's send batch */
	struct mmsghdr omsg[OUT_MAX];
	struct iovec oiov[OUT_MAX];
	struct sockaddr_storage oname[OUT_MAX];
	uint8_t obuf[OUT_MAX][BUF];
	int nout;
};

static volatile sig_atomic_t stopping;
static atomic_uint next_port;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static bool same_addr(const struct sockaddr_storage *a,
                      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
		                         *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}

static unsigned hash_addr(const struct sockaddr_storage *a)
{
	uint32_t h;

	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a;
		h = x->sin_addr.s_addr ^ ((uint32_t)x->sin_port << 16);
	} else {
		const struct sockaddr_in6 *x = (const void *)a;
		uint32_t w[4];
		memcpy(w, &x->sin6_addr, 16);
		h = w[0] ^ w[1] ^ w[2] ^ w[3] ^ ((uint32_t)x->sin6_port << 16);
	}
	return (h * 0x9E3779B1u) >> 7;
}

static struct fclient *lookup(struct fwd *f, const struct sockaddr_storage *a)
{
	for (int i = f->bucket[hash_addr(a) & f->mask]; i >= 0;
	     i = f->cl[i].hnext)
		if (same_addr(&f->cl[i].addr, a))
			return &f->cl[i];
	return NULL;
}

static void unlink_client(struct fwd *f, struct fclient *c)
{
	int idx = (int)(c - f->cl);
	int *p = &f->bucket[hash_addr(&c->addr) & f->mask];

	while (*p >= 0 && *p != idx)
		p = &f->cl[*p].hnext;
	if (*p == idx)
		*p = c->hnext;
	close(c->rfd);
	c->rfd = -1;
	c->hnext = f->free_head;
	f->free_head = idx;
}

static int udp_socket(int family, int sockbuf, bool reuseport)
{
	int one = 1;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (sockbuf > 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sockbuf,
		           sizeof(sockbuf));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sockbuf,
		           sizeof(sockbuf));
	}
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	return fd;
}

/* A relay socket on a free port of the range; -1 if none. */
static int relay_socket(const struct opts *o)
{
	int range = o->max_port - o->min_port + 1;
	int fd = udp_socket(o->relay_ip.ss_family, o->sockbuf, false);
	struct sockaddr_storage a = o->relay_ip;

	if (fd < 0)
		return -1;
	for (int i = 0; i < range; i++) {
		uint16_t port = (uint16_t)(o->min_port +
		                           atomic_fetch_add(&next_port, 1) %
		                                   (unsigned)range);
		if (a.ss_family == AF_INET)
			((struct sockaddr_in *)&a)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
		if (!bind(fd, (struct sockaddr *)&a, o->relay_len))
			return fd;
	}
	close(fd);
	return -1;
}

static void reply(struct fwd *f, const struct sockaddr_storage *to,
                  socklen_t tolen, uint16_t ch, const char *tag, int rfd)
{
	uint8_t b[4 + BARE_ADDR_LEN];
	uint16_t len = BARE_TAG_LEN;

	memcpy(b + 4, tag, BARE_TAG_LEN);
	if (rfd >= 0) {
		struct sockaddr_storage ra;
		socklen_t rl = sizeof(ra);
		getsockname(rfd, (struct sockaddr *)&ra, &rl);
		bare_put_addr(b + 4 + BARE_TAG_LEN, &ra);
		len = BARE_ADDR_LEN;
	}
	b[0] = (uint8_t)(ch >> 8);
	b[1] = (uint8_t)ch;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	sendto(f->lfd, b, 4 + (size_t)len, 0, (const struct sockaddr *)to,
	       tolen);
}

static void on_bind(struct fwd *f, struct fclient *c, int i, uint16_t ch,
                    const uint8_t *p)
{
	struct sockaddr_storage peer;
	socklen_t plen = bare_get_addr(p + BARE_TAG_LEN, &peer);

	if (!plen)
		return;
	if (!c) {
		int idx = f->free_head, fd;
		if (idx < 0 || (fd = relay_socket(f->o)) < 0) {
			f->n.bind_fail++;
			return;
		}
		c = &f->cl[idx];
		f->free_head = c->hnext;
		c->rfd = fd;
		c->addr = f->lname[i];
		c->alen = f->lmsg[i].msg_hdr.msg_namelen;
		unsigned h = hash_addr(&c->addr) & f->mask;
		c->hnext = f->bucket[h];
		f->bucket[h] = idx;
		struct epoll_event ev = {.events = EPOLLIN};
		ev.data.u32 = (uint32_t)idx;
		epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev);
		f->n.binds++;
	}
	c->channel = ch;
	c->peer = peer;
	c->plen = plen;
	reply(f, &c->addr, c->alen, ch, BARE_BOUND, c->rfd);
}

/* Send the run of n packets queued in smsg from c's relay socket. */
static void flush_run(struct fwd *f, struct fclient *c, int n)
{
	int sent = n ? sendmmsg(c->rfd, f->smsg, (unsigned)n, 0) : 0;

	if (sent < 0)
		sent = 0;
	f->n.c2p += (uint64_t)sent;
	f->n.dropped += (uint64_t)(n - sent);
}

static void listener_readable(struct fwd *f)
{
	for (int iter = 0; iter < 8; iter++) {
		struct fclient *run = NULL;
		int nrun = 0, n;

		for (int i = 0; i < BATCH; i++)
			f->lmsg[i].msg_hdr.msg_namelen = sizeof(f->lname[i]);
		n = recvmmsg(f->lfd, f->lmsg, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			const uint8_t *b = f->lbuf[i];
			size_t len = f->lmsg[i].msg_len;
			uint16_t ch = (uint16_t)((b[0] << 8) | b[1]);
			size_t dl = (size_t)((b[2] << 8) | b[3]);
			struct fclient *c;

			if (len < 4 || (b[0] & 0xC0) != 0x40 || dl > len - 4) {
				f->n.dropped++;
				continue;
			}
			c = lookup(f, &f->lname[i]);
			if (dl >= BARE_ADDR_LEN &&
			    !memcmp(b + 4, BARE_BIND, BARE_TAG_LEN)) {
				on_bind(f, c, i, ch, b + 4);
				continue;
			}
			if (dl >= BARE_TAG_LEN &&
			    !memcmp(b + 4, BARE_FREE, BARE_TAG_LEN)) {
				if (c) {
					if (c == run) {
						flush_run(f, run, nrun);
						run = NULL;
						nrun = 0;
					}
					f->n.frees++;
					unlink_client(f, c);
				}
				reply(f, &f->lname[i],
				      f->lmsg[i].msg_hdr.msg_namelen, ch,
				      BARE_FREED, -1);
				continue;
			}
			if (!c || c->channel != ch) {
				f->n.dropped++;
				continue;
			}
			if (c != run) {
				if (run)
					flush_run(f, run, nrun);
				run = c;
				nrun = 0;
			}
			f->siov[nrun] = (struct iovec){(void *)(b + 4), dl};
			f->smsg[nrun].msg_hdr.msg_name = &c->peer;
			f->smsg[nrun].msg_hdr.msg_namelen = c->plen;
			nrun++;
		}
		if (run)
			flush_run(f, run, nrun);
		if (n < BATCH)
			return;
	}
}

static void flush_out(struct fwd *f)
{
	int done = 0;

	while (done < f->nout) {
		int r = sendmmsg(f->lfd, f->omsg + done,
		                 (unsigned)(f->nout - done), 0);
		if (r <= 0)
			break;
		done += r;
	}
	f->n.p2c += (uint64_t)done;
	f->n.dropped += (uint64_t)(f->nout - done);
	f->nout = 0;
}

static void relay_readable(struct fwd *f, struct fclient *c)
{
	for (int iter = 0; iter < 8; iter++) {
		int room, n, k = f->nout;

		if (f->nout == OUT_MAX)
			flush_out(f);
		k = f->nout;
		room = OUT_MAX - k < BATCH ? OUT_MAX - k : BATCH;
		for (int i = k; i < k + room; i++) {
			f->omsg[i].msg_hdr.msg_name = &f->oname[i];
			f->omsg[i].msg_hdr.msg_namelen = sizeof(f->oname[i]);
			f->oiov[i] = (struct iovec){f->obuf[i] + 4, BUF - 4};
		}
		n = recvmmsg(c->rfd, f->omsg + k, (unsigned)room, MSG_DONTWAIT,
		             NULL);
		if (n <= 0)
			return;
		for (int i = k; i < k + n; i++) {
			size_t len = f->omsg[i].msg_len;
			uint8_t *b = f->obuf[i];

			if (!same_addr(&f->oname[i], &c->peer) ||
			    len > 0xFFFF) {
				f->n.dropped++;
				continue; /* no permission */
			}
			b[0] = (uint8_t)(c->channel >> 8);
			b[1] = (uint8_t)c->channel;
			b[2] = (uint8_t)(len >> 8);
			b[3] = (uint8_t)len;
			/* compact into the send batch */
			if (f->nout != i) {
				memcpy(f->obuf[f->nout], b, 4 + len);
			}
			f->oiov[f->nout] =
			        (struct iovec){f->obuf[f->nout], 4 + len};
			f->omsg[f->nout].msg_hdr.msg_name = &c->addr;
			f->omsg[f->nout].msg_hdr.msg_namelen = c->alen;
			f->nout++;
		}
		if (n < room)
			return;
	}
}

static void *fwd_main(void *arg)
{
	struct fwd *f = arg;
	struct epoll_event ev[256];

	while (!stopping) {
		int n = epoll_wait(f->ep, ev, 256, 200);

		for (int i = 0; i < n; i++) {
			uint32_t tag = ev[i].data.u32;
			if (tag == LTAG)
				listener_readable(f);
			else if (f->cl[tag].rfd >= 0)
				relay_readable(f, &f->cl[tag]);
		}
		flush_out(f);
	}
	return NULL;
}

static int fwd_init(struct fwd *f, const struct opts *o, int max_clients)
{
	struct epoll_event ev = {.events = EPOLLIN};
	unsigned nb = 1;

	f->o = o;
	f->ncl = max_clients;
	while (nb < (unsigned)max_clients)
		nb <<= 1;
	f->mask = nb - 1;
	f->cl = calloc((size_t)max_clients, sizeof(*f->cl));
	f->bucket = malloc(nb * sizeof(int));
	if (!f->cl || !f->bucket)
		return ENOMEM;
	memset(f->bucket, 0xFF, nb * sizeof(int)); /* -1 */
	for (int i = 0; i < max_clients; i++) {
		f->cl[i].rfd = -1;
		f->cl[i].hnext = i + 1 < max_clients ? i + 1 : -1;
	}
	f->free_head = 0;
	for (int i = 0; i < BATCH; i++) {
		f->liov[i] = (struct iovec){f->lbuf[i], BUF};
		f->lmsg[i].msg_hdr.msg_iov = &f->liov[i];
		f->lmsg[i].msg_hdr.msg_iovlen = 1;
		f->lmsg[i].msg_hdr.msg_name = &f->lname[i];
		f->smsg[i].msg_hdr.msg_iov = &f->siov[i];
		f->smsg[i].msg_hdr.msg_iovlen = 1;
	}
	for (int i = 0; i < OUT_MAX; i++) {
		f->omsg[i].msg_hdr.msg_iov = &f->oiov[i];
		f->omsg[i].msg_hdr.msg_iovlen = 1;
	}
	f->ep = epoll_create1(EPOLL_CLOEXEC);
	f->lfd = udp_socket(o->listen.ss_family, o->sockbuf, true);
	if (f->ep < 0 || f->lfd < 0 ||
	    bind(f->lfd, (const struct sockaddr *)&o->listen, o->listen_len))
		return errno;
	ev.data.u32 = LTAG;
	return epoll_ctl(f->ep, EPOLL_CTL_ADD, f->lfd, &ev) ? errno : 0;
}

static const char usage[] =
        "usage: bare-forwarder --listen ADDR:PORT [options]\n"
        "\n"
        "Baseline UDP forwarder for relay benchmarks: the data path of a "
        "TURN relay\n"
        "(ChannelData in, raw UDP out of a per-client relay socket, and "
        "back) with no\n"
        "TURN logic. Driven by `avedge-load --bare`; see "
        "tools/bare_proto.h.\n"
        "\n"
        "  -l, --listen ADDR:PORT  where clients send (e.g. "
        "127.0.0.1:3480, [::1]:3480)\n"
        "  -r, --relay-ip IP       relay sockets' address (default: the "
        "listen address)\n"
        "      --min-port A        relay port range (default 49152)\n"
        "      --max-port B        (default 65535)\n"
        "  -t, --threads N         threads, each with a SO_REUSEPORT "
        "socket (default 1)\n"
        "      --max-clients N     per thread (default 20000)\n"
        "      --sockbuf BYTES     SO_RCVBUF/SO_SNDBUF (default 1 MiB)\n"
        "  -h, --help\n"
        "\n"
        "SIGINT/SIGTERM stop it; the counters go to stderr.\n";

static int parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
	        {"listen", required_argument, NULL, 'l'},
	        {"relay-ip", required_argument, NULL, 'r'},
	        {"min-port", required_argument, NULL, 'a'},
	        {"max-port", required_argument, NULL, 'b'},
	        {"threads", required_argument, NULL, 't'},
	        {"max-clients", required_argument, NULL, 'm'},
	        {"sockbuf", required_argument, NULL, 's'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *listen = NULL, *relay = NULL;
	int ch;

	*o = (struct opts){.min_port = 49152,
	                   .max_port = 65535,
	                   .threads = 1,
	                   .max_clients = 20000,
	                   .sockbuf = 1 << 20};
	while ((ch = getopt_long(argc, argv, "l:r:t:h", lo, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 'r':
			relay = optarg;
			break;
		case 'a':
			o->min_port = atoi(optarg);
			break;
		case 'b':
			o->max_port = atoi(optarg);
			break;
		case 't':
			o->threads = atoi(optarg);
			break;
		case 'm':
			o->max_clients = atoi(optarg);
			break;
		case 's':
			o->sockbuf = atoi(optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			return 1;
		}
	}
	if (!listen ||
	    tools_parse_hostport(listen, 0, &o->listen, &o->listen_len)) {
		fprintf(stderr, "bare-forwarder: --listen ADDR:PORT needed\n");
		return 1;
	}
	if (tools_parse_hostport(relay ? relay : listen, 0, &o->relay_ip,
	                         &o->relay_len)) {
		fprintf(stderr, "bare-forwarder: bad --relay-ip %s\n", relay);
		return 1;
	}
	if (o->min_port < 1 || o->max_port > 65535 ||
	    o->min_port > o->max_port || o->threads < 1 || o->threads > 64 ||
	    o->max_clients < 1) {
		fprintf(stderr, "bare-forwarder: bad port range, threads or "
		                "max-clients\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct opts o;
	struct fwd *f[64];
	struct counters t = {0};
	struct sigaction sa = {.sa_handler = on_signal};
	int err;

	if (parse_opts(&o, argc, argv))
		return 1;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < o.threads; i++) {
		f[i] = calloc(1, sizeof(*f[i]));
		if (!f[i] || (err = fwd_init(f[i], &o, o.max_clients))) {
			fprintf(stderr, "bare-forwarder: cannot listen: %s\n",
			        strerror(f[i] ? err : ENOMEM));
			return 3;
		}
	}
	for (int i = 0; i < o.threads; i++)
		pthread_create(&f[i]->thr, NULL, fwd_main, f[i]);
	for (int i = 0; i < o.threads; i++) {
		pthread_join(f[i]->thr, NULL);
		t.c2p += f[i]->n.c2p;
		t.p2c += f[i]->n.p2c;
		t.dropped += f[i]->n.dropped;
		t.binds += f[i]->n.binds;
		t.frees += f[i]->n.frees;
		t.bind_fail += f[i]->n.bind_fail;
	}
	fprintf(stderr,
	        "bare-forwarder: client->peer %llu, peer->client %llu, dropped "
	        "%llu, binds %llu (failed %llu), frees %llu\n",
	        (unsigned long long)t.c2p, (unsigned long long)t.p2c,
	        (unsigned long long)t.dropped, (unsigned long long)t.binds,
	        (unsigned long long)t.bind_fail, (unsigned long long)t.frees);
	return 0;
}
