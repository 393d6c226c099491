/*
 * tools/edgectl/http.c - one request to a node's admin API with libevent's
 * HTTP client on a private event base: plain HTTP, or HTTPS through an
 * OpenSSL bufferevent that verifies the node's certificate (system CAs or
 * --cacert, host name or IP checked) unless --insecure. One deadline
 * covers connect, TLS and the answer. Owns nothing after it returns but
 * the reply's body.
 */
#include "tools/edgectl/edgectl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REPLY_MAX (64u << 20)

struct call {
	struct event_base *base;
	struct ectl_reply *r;
	bool done, timed_out;
	enum evhttp_request_error error;
	bool has_error;
};

int ectl_url_check(const char *url, char *err, size_t err_len)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
	int rc = 0;

	if (!u || !scheme || !evhttp_uri_get_host(u) ||
	    !*evhttp_uri_get_host(u)) {
		snprintf(err, err_len,
		         "--admin %s: expected http://HOST:PORT or "
		         "https://HOST:PORT",
		         url);
		rc = EINVAL;
	} else if (strcmp(scheme, "http") != 0 &&
	           strcmp(scheme, "https") != 0) {
		snprintf(err, err_len,
		         "--admin %s: scheme must be http or https", url);
		rc = EINVAL;
	} else if (evhttp_uri_get_query(u) || evhttp_uri_get_userinfo(u)) {
		snprintf(err, err_len,
		         "--admin %s: no query or user info in the URL (the "
		         "token goes in --token)",
		         url);
		rc = EINVAL;
	}
	if (u)
		evhttp_uri_free(u);
	return rc;
}

static void on_error(enum evhttp_request_error e, void *arg)
{
	struct call *c = arg;

	c->error = e;
	c->has_error = true;
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct call *c = arg;
	struct ectl_reply *r = c->r;
	struct evbuffer *in;
	size_t n;

	c->done = true;
	event_base_loopbreak(c->base);
	if (!req || evhttp_request_get_response_code(req) <= 0)
		return;
	r->status = evhttp_request_get_response_code(req);
	snprintf(r->reason, sizeof(r->reason), "%s",
	         evhttp_request_get_response_code_line(req)
	                 ? evhttp_request_get_response_code_line(req)
	                 : "");
	in = evhttp_request_get_input_buffer(req);
	n = in ? evbuffer_get_length(in) : 0;
	r->body = malloc(n + 1);
	if (!r->body) {
		r->status = 0;
		snprintf(r->err, sizeof(r->err), "out of memory");
		return;
	}
	if (n)
		evbuffer_remove(in, r->body, n);
	r->body[n] = 0;
	r->len = n;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct call *c = arg;

	c->timed_out = true;
	event_base_loopbreak(c->base);
}

/* The TLS client context: TLS 1.2+, verification unless insecure. */
static SSL_CTX *tls_ctx(const struct ectl_target *t, char *err, size_t n)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		snprintf(err, n, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (t->insecure) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (t->cacert ? SSL_CTX_load_verify_locations(ctx, t->cacert, NULL) != 1
	              : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		unsigned long e = ERR_get_error();
		snprintf(err, n, "--cacert %s: %s",
		         t->cacert ? t->cacert : "(system CAs)",
		         e ? ERR_reason_error_string(e) : "cannot load");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* SNI and the name (or IP) the certificate must carry. */
static int tls_peer_name(SSL *ssl, const char *host, bool verify)
{
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, host, ip) == 1 ||
	             inet_pton(AF_INET6, host, ip) == 1;

	if (!is_ip && SSL_set_tlsext_host_name(ssl, host) != 1)
		return EINVAL;
	if (!verify)
		return 0;
	if (is_ip)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		                                     host) == 1
		               ? 0
		               : EINVAL;
	return SSL_set1_host(ssl, host) == 1 ? 0 : EINVAL;
}

/* libevent does not keep the connect error: after a failure without a
 * reason, connect once more (same host, port and deadline) to name it.
 * 0 if that connect works. */
static int connect_error(const struct evhttp_uri *u, double timeout_s)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char port[16];
	int p = evhttp_uri_get_port(u), fd, err = 0;
	socklen_t len = sizeof(err);
	struct pollfd pfd;

	if (p < 0)
		p = strcmp(evhttp_uri_get_scheme(u), "https") == 0 ? 443 : 80;
	snprintf(port, sizeof(port), "%d", p);
	if (getaddrinfo(evhttp_uri_get_host(u), port, &hints, &ai) != 0 || !ai)
		return EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	               errno != EINPROGRESS)) {
		err = errno;
	} else {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)(timeout_s * 1000)) <= 0)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return err;
}

/* Why the request got no answer, in words. */
static void explain(struct call *c, SSL *ssl, struct bufferevent *bev,
                    const struct ectl_target *t, const struct evhttp_uri *u)
{
	struct ectl_reply *r = c->r;
	int ce;
	unsigned long e = bev && ssl ? bufferevent_get_openssl_error(bev) : 0;
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (c->timed_out)
		snprintf(r->err, sizeof(r->err), "no answer within %g s",
		         t->timeout_s);
	else if (ssl && vr != X509_V_OK)
		snprintf(r->err, sizeof(r->err),
		         "TLS: certificate not trusted: %s (--cacert FILE, or "
		         "--insecure to skip the check)",
		         X509_verify_cert_error_string(vr));
	else if (e)
		snprintf(r->err, sizeof(r->err), "TLS: %s",
		         ERR_reason_error_string(e));
	else if (c->has_error && c->error == EVREQ_HTTP_TIMEOUT)
		snprintf(r->err, sizeof(r->err), "no answer within %g s",
		         t->timeout_s);
	else if ((ce = connect_error(u, t->timeout_s)) != 0)
		snprintf(r->err, sizeof(r->err), "%s", strerror(ce));
	else
		snprintf(r->err, sizeof(r->err),
		         "the connection closed without an answer%s",
		         ssl ? " (is it an https port?)" : "");
}

static void add_headers(struct evhttp_request *req, const char *host,
                        const struct ectl_target *t, const char *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char auth[8192];

	evhttp_add_header(h, "Host", host);
	evhttp_add_header(h, "Accept", "application/json");
	evhttp_add_header(h, "User-Agent", "edgectl");
	evhttp_add_header(h, "Connection", "close");
	if (t->token) {
		snprintf(auth, sizeof(auth), "Bearer %s", t->token);
		evhttp_add_header(h, "Authorization", auth);
		memset(auth, 0, sizeof(auth));
	}
	if (body) {
		char len[32];
		/* libevent adds Content-Length for POST and PUT only */
		snprintf(len, sizeof(len), "%zu", strlen(body));
		evhttp_add_header(h, "Content-Length", len);
		evhttp_add_header(h, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(req), body,
		             strlen(body));
	}
}

static enum evhttp_cmd_type cmd_of(const char *method)
{
	if (strcmp(method, "POST") == 0)
		return EVHTTP_REQ_POST;
	if (strcmp(method, "DELETE") == 0)
		return EVHTTP_REQ_DELETE;
	return EVHTTP_REQ_GET;
}

struct conn {
	struct evhttp_uri *uri;
	SSL_CTX *ctx;
	SSL *ssl; /* owned by bev */
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* owns bev */
	struct event *deadline;
};

static int conn_open(struct conn *k, struct event_base *base,
                     const struct ectl_target *t, char *err, size_t n)
{
	const char *host;
	bool https;
	int port;

	k->uri = evhttp_uri_parse(t->url);
	if (!k->uri)
		return EINVAL;
	host = evhttp_uri_get_host(k->uri);
	https = strcmp(evhttp_uri_get_scheme(k->uri), "https") == 0;
	port = evhttp_uri_get_port(k->uri);
	if (port < 0)
		port = https ? 443 : 80;
	if (https) {
		if (!(k->ctx = tls_ctx(t, err, n)) ||
		    !(k->ssl = SSL_new(k->ctx)))
			return EINVAL;
		if (tls_peer_name(k->ssl, host, !t->insecure)) {
			snprintf(err, n, "TLS: bad host name %s", host);
			SSL_free(k->ssl);
			k->ssl = NULL;
			return EINVAL;
		}
		k->bev = bufferevent_openssl_socket_new(
		        base, -1, k->ssl, BUFFEREVENT_SSL_CONNECTING,
		        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (k->bev)
			bufferevent_openssl_set_allow_dirty_shutdown(k->bev, 1);
		else
			SSL_free(k->ssl);
	} else {
		k->bev =
		        bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!k->bev)
		return ENOMEM;
	k->evcon = evhttp_connection_base_bufferevent_new(base, NULL, k->bev,
	                                                  host, (uint16_t)port);
	if (!k->evcon) {
		bufferevent_free(k->bev);
		return ENOMEM;
	}
	return 0;
}

static void conn_close(struct conn *k)
{
	if (k->deadline)
		event_free(k->deadline);
	if (k->evcon)
		evhttp_connection_free(k->evcon); /* and bev, and ssl */
	if (k->ctx)
		SSL_CTX_free(k->ctx);
	if (k->uri)
		evhttp_uri_free(k->uri);
}

/* path: the URL's own path prefix (if any) + the API path. */
static void full_path(const struct evhttp_uri *u, const char *path, char *buf,
                      size_t cap)
{
	const char *prefix = evhttp_uri_get_path(u);
	size_t n = prefix ? strlen(prefix) : 0;

	while (n && prefix[n - 1] == '/')
		n--;
	snprintf(buf, cap, "%.*s%s", (int)n, prefix ? prefix : "", path);
}

int ectl_http(const struct ectl_target *t, const char *method, const char *path,
              const char *body, struct ectl_reply *r)
{
	struct call c = {0};
	struct conn k = {0};
	struct timeval tv = {
	        (time_t)t->timeout_s,
	        (suseconds_t)((t->timeout_s - (double)(time_t)t->timeout_s) *
	                      1e6)};
	struct evhttp_request *req;
	char where[4096];
	int rc;

	memset(r, 0, sizeof(*r));
	c.r = r;
	c.base = event_base_new();
	if (!c.base)
		return ENOMEM;
	rc = conn_open(&k, c.base, t, r->err, sizeof(r->err));
	if (rc) {
		if (!r->err[0])
			snprintf(r->err, sizeof(r->err), "%s", strerror(rc));
		conn_close(&k);
		event_base_free(c.base);
		return rc;
	}
	evhttp_connection_set_timeout_tv(k.evcon, &tv);
	evhttp_connection_set_retries(k.evcon, 0);
	evhttp_connection_set_max_body_size(k.evcon, REPLY_MAX);
	k.deadline = evtimer_new(c.base, on_deadline, &c);
	req = evhttp_request_new(on_done, &c);
	if (!k.deadline || !req || evtimer_add(k.deadline, &tv) < 0) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		if (req)
			evhttp_request_free(req);
		conn_close(&k);
		event_base_free(c.base);
		return ENOMEM;
	}
	evhttp_request_set_error_cb(req, on_error);
	add_headers(req, evhttp_uri_get_host(k.uri), t, body);
	full_path(k.uri, path, where, sizeof(where));
	if (evhttp_make_request(k.evcon, req, cmd_of(method), where) != 0) {
		snprintf(r->err, sizeof(r->err), "cannot send the request");
		c.done = true;
	}
	if (!c.done)
		event_base_dispatch(c.base);
	rc = r->status > 0 ? 0 : c.timed_out ? ETIMEDOUT : ECONNREFUSED;
	if (rc && !r->err[0])
		explain(&c, k.ssl, k.bev, t, k.uri);
	conn_close(&k);
	event_base_free(c.base);
	return rc;
}

void ectl_reply_free(struct ectl_reply *r)
{
	free(r->body);
	r->body = NULL;
}
