/*
 * edge/listen.c - where the node listens (see listen.h).
 */
#include "edge/listen.h"
#include "edge/base/log.h"
#include "edge/net/sock.h"
#include "edge/setup.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	struct sockaddr *sa = (struct sockaddr *)ss;

	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
}

/* The addresses every worker binds: listening-ip, or all IPv4 and IPv6
 * addresses when none is given. */
static int listen_addrs(const struct edge_config *cfg,
                        struct sockaddr_storage *out, size_t *n)
{
	*n = 0;
	if (cfg->listening_ips.n == 0) {
		edge_addr_parse("0.0.0.0", cfg->listening_port, &out[(*n)++]);
		edge_addr_parse("::", cfg->listening_port, &out[(*n)++]);
		return 0;
	}
	if (cfg->listening_ips.n > EDGE_MAX_LISTEN) {
		edge_err("at most %d listening-ip values are supported",
		         EDGE_MAX_LISTEN);
		return EINVAL;
	}
	for (size_t i = 0; i < cfg->listening_ips.n; i++) {
		memcpy(&out[*n], &cfg->listening_ips.v[i].addr,
		       sizeof(out[*n]));
		set_port(&out[*n], cfg->listening_port);
		(*n)++;
	}
	return 0;
}

/* The TLS or DTLS endpoints: the listening addresses on that port. */
static void port_addrs(uint16_t port, const struct sockaddr_storage *addrs,
                       size_t n, struct sockaddr_storage *out)
{
	for (size_t i = 0; i < n; i++) {
		out[i] = addrs[i];
		set_port(&out[i], port);
	}
}

/* dtls-listening-port, 0 meaning tls-listening-port (as coturn). */
static uint16_t dtls_port(const struct edge_config *cfg)
{
	return cfg->dtls_listening_port ? cfg->dtls_listening_port
	                                : cfg->tls_listening_port;
}

int edge_listen_plan(const struct edge_config *cfg, struct edge_listen *l)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->tls = cfg->cert && !cfg->no_tls;
	l->dtls = cfg->cert && !cfg->no_dtls;
	if ((err = listen_addrs(cfg, l->own, &l->n)) != 0)
		return err;
	l->nown = l->n;
	if (l->tls) {
		l->tls_at = l->nown;
		port_addrs(cfg->tls_listening_port, l->own, l->n,
		           &l->own[l->nown]);
		l->nown += l->n;
	}
	if (l->dtls && !cfg->no_udp && dtls_port(cfg) == cfg->listening_port) {
		edge_err("dtls-listening-port %u is the UDP listening-port: "
		         "choose another",
		         (unsigned)dtls_port(cfg));
		return EINVAL;
	}
	if (l->dtls) {
		l->dtls_at = l->nown;
		port_addrs(dtls_port(cfg), l->own, l->n, &l->own[l->nown]);
		l->nown += l->n;
	}
	return 0;
}

/* lock-dir, or /run/lock/avedge, or a per-user directory under $TMPDIR
 * (SO_REUSEPORT sharing needs the same user, so per-user locks suffice). */
static const char *lock_dir(const struct edge_config *cfg, char *buf,
                            size_t cap)
{
	const char *tmp = getenv("TMPDIR");

	if (cfg->lock_dir)
		return cfg->lock_dir;
	if (access("/run/lock", W_OK) == 0)
		return "/run/lock/avedge";
	snprintf(buf, cap, "%s/avedge-locks-%u", tmp && *tmp ? tmp : "/tmp",
	         (unsigned)getuid());
	return buf;
}

int edge_listen_lock(const struct edge_config *cfg, const struct edge_listen *l,
                     int *fds, size_t *nfds)
{
	char where[EDGE_ADDRSTR_LEN], buf[512];
	const char *dir = lock_dir(cfg, buf, sizeof(buf));

	for (size_t i = 0; i < l->nown; i++) {
		const struct sockaddr *sa = (const void *)&l->own[i];
		bool seen = false;
		/* One lock per address and port, whatever the protocols. */
		for (size_t j = 0; j < i && !seen; j++)
			seen = memcmp(&l->own[j], &l->own[i],
			              sizeof(l->own[i])) == 0;
		if (seen)
			continue;
		int fd = edge_port_lock(dir, sa);
		if (fd < 0) {
			edge_err("cannot lock %s in %s: %s%s",
			         edge_addr_str(sa, where, sizeof(where)), dir,
			         strerror(-fd),
			         fd == -EADDRINUSE
			                 ? " (another avedge serves it)"
			                 : "");
			return -fd;
		}
		fds[(*nfds)++] = fd;
	}
	return 0;
}

void edge_listen_log(const struct edge_config *cfg, const struct edge_listen *l)
{
	char where[EDGE_ADDRSTR_LEN];

	for (size_t i = 0; i < l->n; i++)
		edge_info("listening on %s%s%s",
		          edge_addr_str((const void *)&l->own[i], where,
		                        sizeof(where)),
		          cfg->no_udp ? "" : " udp", cfg->no_tcp ? "" : " tcp");
	if (l->tls)
		edge_info("TLS on port %u (cert %s)",
		          (unsigned)cfg->tls_listening_port, cfg->cert);
	else
		edge_info("TLS is off: %s",
		          cfg->no_tls ? "no-tls is set" : "no cert is set");
	if (l->dtls)
		edge_info("DTLS on port %u (cert %s)", (unsigned)dtls_port(cfg),
		          cfg->cert);
	else
		edge_info("DTLS is off: %s",
		          cfg->no_dtls ? "no-dtls is set" : "no cert is set");
}

unsigned edge_worker_count(const struct edge_config *cfg, unsigned max)
{
	long n = cfg->threads;

	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > (long)max ? max : (unsigned)n;
}

void edge_worker_opts_build(const struct edge_config *cfg,
                            const struct edge_listen *l,
                            const struct edge_shared *sh,
                            struct edge_worker *const *workers,
                            unsigned nworkers, struct edge_worker_opts *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t i = 0; i < l->n; i++) {
		if (!cfg->no_udp)
			o->udp[o->nudp++] = l->own[i];
		if (!cfg->no_tcp)
			o->tcp[o->ntcp++] = l->own[i];
		if (l->tls)
			o->tls[o->ntls++] = l->own[l->tls_at + i];
		if (l->dtls)
			o->dtls[o->ndtls++] = l->own[l->dtls_at + i];
	}
	o->tls_ctx = sh->tls;
	o->dtls_ctx = sh->dtls;
	memcpy(o->dtls_cookie_key, sh->dtls_cookie_key,
	       sizeof(o->dtls_cookie_key));
	o->connlimit = sh->connlimit;
	o->handshake_timeout_s = cfg->handshake_timeout_s;
	o->rcvbuf = (int)cfg->socket_rcvbuf;
	o->sndbuf = (int)cfg->socket_sndbuf;
	o->relay_buf = (int)cfg->sock_buf_size;
	o->idle_timeout_s = cfg->idle_timeout_s;
	o->core = sh->core;
	o->core.nworkers = nworkers;
	o->store = sh->store;
	o->nonces = sh->nonces;
	o->policy = sh->policy;
	o->quota = sh->quota;
	o->bw = sh->bw;
	o->workers = workers; /* filled as they are made, read once running */
	o->realms = &sh->realms;
}
