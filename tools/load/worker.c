/*
 * tools/load/worker.c - one load-generator thread: its clients' sockets
 * (one connected UDP socket per client, so each has its own 5-tuple), a
 * few peer sockets, an epoll set and a periodic timerfd (1 ms when pacing,
 * 5 ms otherwise) that drives the phases:
 *
 *   SETUP  start clients, at most `outstanding` in flight, until each is
 *          READY or FAILED (allocs mode: only once main says go)
 *   WAIT   until main publishes the data start (t0), or says free_now
 *   DATA   closed loop or paced sending until stop_ns
 *   FREE   Refresh lifetime 0 (or AVFREE) for every READY client, at most
 *          `outstanding` in flight, 30 s at most
 *   DONE
 *
 * The worker owns everything it touches; main reads its stats after join.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "tools/load/load.h"
#include "tools/rxq.h"

#define FREE_DEADLINE_NS (30 * 1000000000ull)
#define CTL_SCAN_NS      (20 * 1000000ull)

uint64_t load_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void epoll_add(int ep, int fd, enum load_tag tag, uint32_t idx)
{
	struct epoll_event ev = {.events = EPOLLIN};

	ev.data.u64 = ((uint64_t)tag << 32) | idx;
	epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int udp_socket(int family, int sockbuf)
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
	setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one));
	return fd;
}

int load_client_socket(struct load_worker *w, struct load_client *c)
{
	const struct load_opts *o = w->o;
	int fd = udp_socket(o->server.ss_family, o->sockbuf);

	if (fd < 0)
		return errno;
	if ((o->client_ip_len &&
	     bind(fd, (const struct sockaddr *)&o->client_ip,
	          o->client_ip_len)) ||
	    connect(fd, (const struct sockaddr *)&o->server, o->server_len)) {
		int err = errno;
		close(fd);
		return err;
	}
	c->fd = fd;
	c->ovfl = 0;
	epoll_add(w->ep, fd, LOAD_TAG_CLIENT, (uint32_t)(c - w->cl));
	return 0;
}

void load_client_close(struct load_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void load_note_ovfl(struct load_worker *w, uint32_t *last,
                    const struct msghdr *mh)
{
	w->st.rxq_ovfl += tools_rxq_drops(last, mh);
}

static int open_peers(struct load_worker *w, int n)
{
	const struct load_opts *o = w->o;

	w->peer = calloc((size_t)n, sizeof(*w->peer));
	if (!w->peer)
		return ENOMEM;
	for (int i = 0; i < n; i++) {
		struct load_peer *p = &w->peer[i];
		socklen_t len = o->peer_ip.ss_family == AF_INET6
		                        ? sizeof(struct sockaddr_in6)
		                        : sizeof(struct sockaddr_in);

		p->fd = udp_socket(o->peer_ip.ss_family, o->sockbuf);
		if (p->fd < 0 ||
		    bind(p->fd, (const struct sockaddr *)&o->peer_ip, len) ||
		    getsockname(p->fd, (struct sockaddr *)&p->addr, &len))
			return errno ? errno : EIO;
		p->addr_len = len;
		w->npeer++;
		epoll_add(w->ep, p->fd, LOAD_TAG_PEER, (uint32_t)i);
	}
	return 0;
}

static int open_timer(struct load_worker *w)
{
	long ns = w->o->mode == LOAD_MODE_RATE ? 1000000 : 5000000;
	struct itimerspec its = {{0, ns}, {0, ns}};

	w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->tfd < 0 || timerfd_settime(w->tfd, 0, &its, NULL))
		return errno;
	epoll_add(w->ep, w->tfd, LOAD_TAG_TIMER, 0);
	return 0;
}

int load_worker_init(struct load_worker *w, int id, int first, int n,
                     const struct load_opts *o, struct load_shared *sh)
{
	int npeer = o->peers / o->threads;
	int err;

	w->id = id;
	w->o = o;
	w->sh = sh;
	w->ncl = n;
	w->tfd = -1;
	w->ep = -1;
	w->outstanding = o->outstanding / o->threads +
	                 (id < o->outstanding % o->threads);
	if (w->outstanding < 1)
		w->outstanding = 1;
	w->rate_c2p = (uint64_t)(o->rate_pps / 2 * n / o->clients + 0.5);
	if (getrandom(&w->rng, sizeof(w->rng), 0) != sizeof(w->rng) || !w->rng)
		w->rng = load_now_ns() | 1;
	w->cl = calloc((size_t)n, sizeof(*w->cl));
	w->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!w->cl || w->ep < 0)
		return ENOMEM;
	if (o->mode == LOAD_MODE_CLOSED) {
		w->slot =
		        calloc((size_t)n * (size_t)o->window, sizeof(*w->slot));
		if (!w->slot)
			return ENOMEM;
	}
	if (npeer > n)
		npeer = n;
	if (npeer < 1 || o->mode == LOAD_MODE_ALLOCS)
		npeer = 1;
	if ((err = open_peers(w, npeer)) || (err = open_timer(w)))
		return err;
	for (int i = 0; i < n; i++) {
		w->cl[i].fd = -1;
		w->cl[i].gidx = (uint32_t)(first + i);
		w->cl[i].channel =
		        (uint16_t)(STUN_CHANNEL_MIN + (first + i) % 0x1000);
		w->cl[i].peer = (uint8_t)(i % npeer);
	}
	load_data_init(w);
	return 0;
}

void load_worker_free(struct load_worker *w)
{
	for (int i = 0; w->cl && i < w->ncl; i++)
		load_client_close(&w->cl[i]);
	for (int i = 0; i < w->npeer; i++)
		close(w->peer[i].fd);
	if (w->tfd >= 0)
		close(w->tfd);
	if (w->ep >= 0)
		close(w->ep);
	free(w->cl);
	free(w->peer);
	free(w->slot);
}

/* Start clients (SETUP) or free them (FREE) up to the outstanding limit;
 * true when every client has been handled and none is in flight. */
static bool pump(struct load_worker *w, uint64_t now, bool freeing)
{
	while (w->pending < w->outstanding && w->next < w->ncl) {
		struct load_client *c = &w->cl[w->next++];

		if (freeing)
			load_ctl_free(w, c, now);
		else
			load_ctl_start(w, c, now);
	}
	return w->next == w->ncl && w->pending == 0;
}

static void enter_free(struct load_worker *w, uint64_t now)
{
	w->phase = LOAD_W_FREE;
	w->next = 0;
	w->phase_deadline_ns = now + FREE_DEADLINE_NS;
}

static void step(struct load_worker *w, uint64_t now)
{
	struct load_shared *sh = w->sh;
	uint64_t t0;

	if (now >= w->next_scan_ns) {
		w->next_scan_ns = now + CTL_SCAN_NS;
		load_ctl_scan(w, now);
	}
	switch (w->phase) {
	case LOAD_W_SETUP:
		if (w->o->mode == LOAD_MODE_ALLOCS && !atomic_load(&sh->go))
			break;
		if (pump(w, now, false)) {
			long ready = 0;
			for (int i = 0; i < w->ncl; i++)
				ready += w->cl[i].state == LOAD_C_READY;
			w->phase = LOAD_W_WAIT;
			atomic_fetch_add(&sh->ready, ready);
			atomic_fetch_add(&sh->setup_done, 1);
		}
		break;
	case LOAD_W_WAIT:
		t0 = atomic_load_explicit(&sh->t0_ns, memory_order_acquire);
		if (atomic_load(&sh->free_now))
			enter_free(w, now);
		else if (w->o->mode != LOAD_MODE_ALLOCS && t0 && now >= t0) {
			w->phase = LOAD_W_DATA;
			load_data_start(w, now);
		}
		break;
	case LOAD_W_DATA:
		load_data_tick(w, now);
		if (now >= sh->stop_ns || atomic_load(&sh->free_now))
			enter_free(w, now);
		break;
	case LOAD_W_FREE:
		if (pump(w, now, true) || now >= w->phase_deadline_ns)
			w->phase = LOAD_W_DONE;
		break;
	case LOAD_W_DONE:
		break;
	}
}

void *load_worker_main(void *arg)
{
	struct load_worker *w = arg;
	struct epoll_event ev[256];

	w->phase = LOAD_W_SETUP;
	while (w->phase != LOAD_W_DONE) {
		int n = epoll_wait(w->ep, ev, 256, 100);

		for (int i = 0; i < n; i++) {
			uint32_t kind = (uint32_t)(ev[i].data.u64 >> 32);
			uint32_t idx = (uint32_t)ev[i].data.u64;
			uint64_t ticks;

			if (kind == LOAD_TAG_CLIENT && w->cl[idx].fd >= 0)
				load_client_readable(w, &w->cl[idx]);
			else if (kind == LOAD_TAG_PEER)
				load_peer_readable(w, &w->peer[idx]);
			else if (kind == LOAD_TAG_TIMER &&
			         read(w->tfd, &ticks, sizeof(ticks)) > 0)
				step(w, load_now_ns());
		}
		if (n == 0)
			step(w, load_now_ns());
		else if (w->pending < w->outstanding && w->next < w->ncl &&
		         (w->phase == LOAD_W_FREE ||
		          (w->phase == LOAD_W_SETUP &&
		           (w->o->mode != LOAD_MODE_ALLOCS ||
		            atomic_load(&w->sh->go)))))
			pump(w, load_now_ns(), w->phase == LOAD_W_FREE);
	}
	return NULL;
}
