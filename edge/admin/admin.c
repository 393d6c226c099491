/*
 * edge/admin/admin.c - the admin HTTP(S) server: libevent's evhttp on a thread
 * of its own (its own event base, so a slow scrape never delays a
 * packet), HTTPS with admin-cert/admin-pkey, access control and routing;
 * /healthz, /readyz and drain live here, /metrics and /api/stats in
 * admin/metrics.c, the allocation API in admin/api.c.
 *
 * Access: /healthz and /readyz are open (they say nothing but up/ready).
 * Everything else needs "Authorization: Bearer TOKEN" (admin-token or the
 * first line of admin-token-file), compared in constant time; a missing or
 * wrong token, or any token in the query string (it would end up in proxy
 * and shell logs), answers 401 and is counted. Without a configured token
 * every API call answers 403. No answer echoes request input: errors are
 * fixed texts, data is JSON-escaped.
 */
#include "edge/admin/admin_int.h"
#include "edge/base/clock.h"
#include "edge/base/edge.h"
#include "edge/base/log.h"
#include "edge/net/sock.h"
#include "edge/redis/redis.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_TIMEOUT_S    30
#define ADMIN_MAX_HEADERS  (16 * 1024)
#define ADMIN_MAX_BODY     (64 * 1024)
#define ADMIN_TOKEN_MIN    16
#define ADMIN_TOKEN_MAX    4096
#define ADMIN_PROBE_PERIOD 1 /* s */

static void readyz(struct edge_admin *a, struct evhttp_request *req)
{
	if (atomic_load(a->draining))
		admin_send_text(req, 503, "Service Unavailable", "draining\n");
	else if (admin_ports_exhausted(a))
		admin_send_text(req, 503, "Service Unavailable",
		                "relay ports exhausted\n");
	else
		admin_send_text(req, 200, "OK", "ready\n");
}

/* --- access control ------------------------------------------------------ */

static void unauthorized(struct edge_admin *a, struct evhttp_request *req,
                         const char *msg)
{
	a->unauthorized++;
	evhttp_add_header(evhttp_request_get_output_headers(req),
	                  "WWW-Authenticate", "Bearer realm=\"avedge\"");
	admin_send_error(req, 401, "Unauthorized", msg);
}

/* A token in the query string is refused even when it is right: URLs
 * end up in logs and shell history. */
static bool token_in_query(const char *query)
{
	struct evkeyvalq q;
	bool found = false;

	if (!query || !*query)
		return false;
	TAILQ_INIT(&q);
	if (evhttp_parse_query_str(query, &q) != 0)
		return strstr(query, "token") != NULL; /* unparsable: be safe */
	for (struct evkeyval *kv = q.tqh_first; kv; kv = kv->next.tqe_next)
		if (strcasecmp(kv->key, "token") == 0 ||
		    strcasecmp(kv->key, "access_token") == 0)
			found = true;
	evhttp_clear_headers(&q);
	return found;
}

/* Constant time in the token's bytes: only the length can leak. */
static bool bearer_ok(struct edge_admin *a, struct evhttp_request *req)
{
	const char *h = evhttp_find_header(
	        evhttp_request_get_input_headers(req), "Authorization");
	size_t n;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	return n == a->token_len && CRYPTO_memcmp(h, a->token, n) == 0;
}

/* --- routing --------------------------------------------------------------
 */

#define ALLOC_PREFIX "/api/allocations/"

static void method_not_allowed(struct evhttp_request *req, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	                  allow);
	admin_send_error(req, 405, "Method Not Allowed", "method not allowed");
}

static void drain_call(struct edge_admin *a, struct evhttp_request *req,
                       bool on)
{
	edge_admin_set_draining(a->draining, on,
	                        on ? "admin API: drain" : "admin API: undrain");
	admin_send_empty(req, 204, "No Content");
}

/* The protected endpoints; the caller has checked the token. */
static void route_api(struct edge_admin *a, struct evhttp_request *req,
                      const char *path, const char *query)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	size_t plen = strlen(ALLOC_PREFIX);
	bool cluster = false;

	if ((strcmp(path, "/api/stats") == 0 ||
	     strcmp(path, "/api/allocations") == 0) &&
	    get && admin_scope(query, &cluster) != 0) {
		admin_send_error(req, 400, "Bad Request",
		                 "scope: expected node or cluster");
		return;
	}
	/* without redis, scope=cluster answers for this node ("scope":
	 * "node" in the answer says so) */
	cluster = cluster && a->redis_configured;
	if (strcmp(path, "/metrics") == 0 && get)
		admin_metrics(a, req);
	else if (strcmp(path, "/api/stats") == 0 && get && cluster)
		admin_cluster_stats(a, req);
	else if (strcmp(path, "/api/stats") == 0 && get)
		admin_stats(a, req);
	else if (strcmp(path, "/api/nodes") == 0 && get)
		admin_nodes(a, req);
	else if (strcmp(path, "/api/media/worst") == 0 && get)
		admin_media_worst(a, req);
	else if (strcmp(path, "/api/history") == 0 && get)
		admin_history(a, req, query);
	else if (strcmp(path, "/api/allocations") == 0 && get && cluster)
		admin_cluster_list(a, req, query);
	else if (strcmp(path, "/api/allocations") == 0 && get)
		admin_list(a, req, query);
	else if (admin_creds_route(a, req, path))
		; /* /api/users, /api/secrets */
	else if (strncmp(path, ALLOC_PREFIX, plen) == 0 && get)
		admin_show(a, req, path + plen);
	else if (strncmp(path, ALLOC_PREFIX, plen) == 0 &&
	         cmd == EVHTTP_REQ_DELETE)
		admin_kick(a, req, path + plen);
	else if (strncmp(path, ALLOC_PREFIX, plen) == 0)
		method_not_allowed(req, "GET, HEAD, DELETE");
	else if ((strcmp(path, "/api/drain") == 0 ||
	          strcmp(path, "/api/undrain") == 0) &&
	         cmd == EVHTTP_REQ_POST)
		drain_call(a, req, path[5] == 'd');
	else if (strcmp(path, "/api/drain") == 0 ||
	         strcmp(path, "/api/undrain") == 0)
		method_not_allowed(req, "POST");
	else if (strcmp(path, "/metrics") == 0 ||
	         strcmp(path, "/api/stats") == 0 ||
	         strcmp(path, "/api/nodes") == 0 ||
	         strcmp(path, "/api/allocations") == 0)
		method_not_allowed(req, "GET, HEAD");
	else
		admin_send_error(req, 404, "Not Found", "not found");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct edge_admin *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	bool get = evhttp_request_get_command(req) == EVHTTP_REQ_GET ||
	           evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;

	if (!path || !*path)
		admin_send_error(req, 400, "Bad Request", "bad request");
	else if (strcmp(path, "/healthz") == 0 && get)
		admin_send_text(req, 200, "OK", "ok\n");
	else if (strcmp(path, "/readyz") == 0 && get)
		readyz(a, req);
	else if (admin_www(req, path))
		; /* the dashboard's static files: no data, no token */
	else if (token_in_query(query))
		unauthorized(a, req,
		             "token in the query string: use the "
		             "Authorization header");
	else if (!a->token) {
		a->forbidden++;
		admin_send_error(req, 403, "Forbidden",
		                 "no admin-token is configured");
	} else if (!bearer_ok(a, req))
		unauthorized(a, req, "missing or wrong bearer token");
	else
		route_api(a, req, path, query);
}

/* --- life ----------------------------------------------------------------- */

static struct bufferevent *https_bev(struct event_base *base, void *arg)
{
	struct edge_admin *a = arg;
	SSL *ssl = SSL_new(a->tls);

	if (!ssl)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl,
	                                      BUFFEREVENT_SSL_ACCEPTING,
	                                      BEV_OPT_CLOSE_ON_FREE);
}

/* The admin TLS context: no ALPN restriction (browsers and curl offer
 * h2/http1.1), TLS 1.2 or newer. */
static int tls_new(struct edge_admin *a, const char *cert, const char *pkey,
                   char *err, size_t err_len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	unsigned long e;

	if (!ctx) {
		snprintf(err, err_len, "admin-cert: no TLS context");
		return ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, pkey ? pkey : cert,
	                                SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		e = ERR_get_error();
		snprintf(err, err_len, "admin-cert %s / admin-pkey %s: %s",
		         cert, pkey ? pkey : cert,
		         e ? ERR_reason_error_string(e) : "cannot load");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return EINVAL;
	}
	a->tls = ctx;
	return 0;
}

/* admin-token, or the first line of admin-token-file. */
static int load_token(struct edge_admin *a, const struct edge_config *cfg,
                      char *err, size_t err_len)
{
	char buf[ADMIN_TOKEN_MAX + 2];
	size_t n;

	if (cfg->admin_token) {
		a->token = strdup(cfg->admin_token);
	} else if (cfg->admin_token_file) {
		FILE *fp = fopen(cfg->admin_token_file, "r");
		if (!fp) {
			snprintf(err, err_len, "admin-token-file %s: %s",
			         cfg->admin_token_file, strerror(errno));
			return errno ? errno : EIO;
		}
		if (!fgets(buf, sizeof(buf), fp))
			buf[0] = 0;
		fclose(fp);
		n = strcspn(buf, "\r\n");
		buf[n] = 0;
		while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
			buf[--n] = 0;
		if (n < ADMIN_TOKEN_MIN || n > ADMIN_TOKEN_MAX) {
			snprintf(err, err_len,
			         "admin-token-file %s: expected a token of %d "
			         "to %d characters on the first line",
			         cfg->admin_token_file, ADMIN_TOKEN_MIN,
			         ADMIN_TOKEN_MAX);
			OPENSSL_cleanse(buf, sizeof(buf));
			return EINVAL;
		}
		a->token = strdup(buf);
		OPENSSL_cleanse(buf, sizeof(buf));
	} else {
		return 0;
	}
	if (!a->token)
		return ENOMEM;
	a->token_len = strlen(a->token);
	return 0;
}

/* SIGHUP: the new token and certificate, swapped in on the admin thread
 * (the only reader). Connections already open keep their SSL. */
struct admin_reload {
	struct edge_admin *a;
	struct edge_admin fresh; /* token, token_len, tls */
};

static void apply_reload(evutil_socket_t fd, short what, void *arg)
{
	struct admin_reload *r = arg;
	struct edge_admin *a = r->a;

	(void)fd;
	(void)what;
	if (a->token) {
		OPENSSL_cleanse(a->token, a->token_len);
		free(a->token);
	}
	a->token = r->fresh.token;
	a->token_len = r->fresh.token_len;
	if (r->fresh.tls) {
		SSL_CTX_free(a->tls);
		a->tls = r->fresh.tls;
	}
	free(r);
}

int edge_admin_reload(struct edge_admin *a, const struct edge_config *cfg,
                      char *err, size_t err_len)
{
	struct admin_reload *r = calloc(1, sizeof(*r));
	struct timeval now = {0, 0};
	int rc;

	if (!r)
		return ENOMEM;
	r->a = a;
	rc = load_token(&r->fresh, cfg, err, err_len);
	/* Turning HTTPS on or off needs a restart; a new certificate not. */
	if (!rc && a->tls && cfg->admin_cert)
		rc = tls_new(&r->fresh, cfg->admin_cert, cfg->admin_pkey, err,
		             err_len);
	/* r belongs to the admin thread once posted: read it before. */
	bool no_token = !rc && !r->fresh.token;
	if (!rc && event_base_once(a->base, -1, EV_TIMEOUT, apply_reload, r,
	                           &now) != 0)
		rc = ENOMEM;
	if (rc) {
		if (r->fresh.token) {
			OPENSSL_cleanse(r->fresh.token, r->fresh.token_len);
			free(r->fresh.token);
		}
		SSL_CTX_free(r->fresh.tls);
		free(r);
		return rc;
	}
	if (no_token)
		edge_warn("SIGHUP: the admin API has no admin-token now: every "
		          "API call answers 403");
	return 0;
}

/* node-id, else the host name reduced to [A-Za-z0-9._-]. */
static void node_id(struct edge_admin *a, const struct edge_config *cfg)
{
	char host[256] = "";
	size_t k = 0;

	if (cfg->node_id) {
		snprintf(a->node_id, sizeof(a->node_id), "%s", cfg->node_id);
		return;
	}
	gethostname(host, sizeof(host) - 1);
	for (size_t i = 0; host[i] && k < ADMIN_NODE_ID_MAX; i++) {
		char c = host[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')
			a->node_id[k++] = c;
	}
	if (k == 0)
		memcpy(a->node_id, "avedge", 7);
}

static int listen_fd(const struct sockaddr *sa, char *err, size_t err_len)
{
	char where[EDGE_ADDRSTR_LEN];
	int one = 1, fd = socket(sa->sa_family,
	                         SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	/* No SO_REUSEPORT: a second instance must fail, not share. */
	if (fd >= 0 &&
	    (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	     (sa->sa_family == AF_INET6 &&
	      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) <
	              0) ||
	     bind(fd, sa, edge_addr_len(sa)) < 0 || listen(fd, 64) < 0)) {
		int e = errno;
		close(fd);
		fd = -1;
		errno = e;
	}
	if (fd < 0) {
		int e = errno;
		snprintf(err, err_len, "admin-listen %s: cannot listen: %s",
		         edge_addr_str(sa, where, sizeof(where)), strerror(e));
		return -e;
	}
	return fd;
}

static int setup_http(struct edge_admin *a, const struct edge_config *cfg,
                      char *err, size_t err_len)
{
	int fd;

	a->http = evhttp_new(a->base);
	if (!a->http)
		return ENOMEM;
	evhttp_set_timeout(a->http, ADMIN_TIMEOUT_S);
	evhttp_set_max_headers_size(a->http, ADMIN_MAX_HEADERS);
	evhttp_set_max_body_size(a->http, ADMIN_MAX_BODY);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	                                            EVHTTP_REQ_POST |
	                                            EVHTTP_REQ_DELETE);
	evhttp_set_gencb(a->http, on_request, a);
	if (a->tls)
		evhttp_set_bevcb(a->http, https_bev, a);
	fd = listen_fd((const void *)&cfg->admin_listen.addr, err, err_len);
	if (fd < 0)
		return -fd;
	if (!evhttp_accept_socket_with_handle(a->http, fd)) {
		close(fd);
		snprintf(err, err_len, "admin-listen %s: cannot serve",
		         cfg->admin_listen.text);
		return ENOMEM;
	}
	return 0;
}

int edge_admin_new(struct edge_admin **out, const struct edge_admin_opts *o,
                   char *err, size_t err_len)
{
	const struct edge_config *cfg = o->cfg;
	struct edge_admin *a = calloc(1, sizeof(*a));
	int rc;

	*out = NULL;
	if (!a)
		return ENOMEM;
	a->node = o->node;
	a->bw_names = o->bw_names;
	a->bw_pool = o->bw_pool;
	a->draining = o->draining;
	a->realms = o->realms;
	a->max_allocations = cfg->max_allocations;
	a->redis_configured = cfg->redis.url != NULL;
	a->redis = o->redis;
	a->creds = o->creds;
	a->creds_apply = o->creds_apply;
	a->creds_arg = o->creds_arg;
	a->start_s = (uint64_t)time(NULL);
	node_id(a, cfg);
	a->realm = strdup(cfg->realm ? cfg->realm : "");
	a->base = event_base_new();
	rc = a->base && a->realm ? 0 : ENOMEM;
	if (!rc)
		rc = load_token(a, cfg, err, err_len);
	if (!rc && cfg->admin_cert)
		rc = tls_new(a, cfg->admin_cert, cfg->admin_pkey, err, err_len);
	if (!rc)
		rc = setup_http(a, cfg, err, err_len);
	if (rc) {
		if (!*err)
			snprintf(err, err_len, "admin server: %s",
			         strerror(rc));
		edge_admin_free(a);
		return rc;
	}
	if (!a->token)
		edge_warn("admin API on %s has no admin-token: every API call "
		          "answers 403 (only /healthz and /readyz work)",
		          cfg->admin_listen.text);
	edge_info("admin API on %s://%s (node id %s)",
	          a->tls ? "https" : "http", cfg->admin_listen.text,
	          a->node_id);
	*out = a;
	return 0;
}

static void on_probe_timer(evutil_socket_t fd, short what, void *arg)
{
	admin_probe_all(arg);
}

static void *admin_main(void *arg)
{
	struct edge_admin *a = arg;

	/* the cluster scope's Redis connection lives on this thread */
	if (a->redis && edge_redis_reader_new(&a->reader, a->redis, a->base))
		edge_err("admin API: no Redis connection for the cluster "
		         "scope (out of memory): it answers 503");
	event_base_dispatch(a->base);
	return NULL;
}

int edge_admin_start(struct edge_admin *a, struct edge_worker **workers,
                     size_t n)
{
	struct timeval period = {ADMIN_PROBE_PERIOD, 0};
	int err;

	a->workers = workers;
	a->nworkers = n;
	a->probes = calloc(n ? n : 1, sizeof(*a->probes));
	if (!a->probes)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		a->probes[i].a = a;
		a->probes[i].index = (unsigned)i;
	}
	a->probe_timer = event_new(a->base, -1, EV_PERSIST, on_probe_timer, a);
	if (!a->probe_timer || event_add(a->probe_timer, &period) < 0)
		return ENOMEM;
	if (admin_history_start(a) != 0)
		return ENOMEM;
	err = pthread_create(&a->thread, NULL, admin_main, a);
	if (err == 0)
		a->started = true;
	return err;
}

void edge_admin_stop(struct edge_admin *a)
{
	if (!a || !a->started)
		return;
	event_base_loopbreak(a->base);
	pthread_join(a->thread, NULL);
	a->started = false;
}

void edge_admin_free(struct edge_admin *a)
{
	if (!a)
		return;
	edge_admin_stop(a);
	if (a->probe_timer)
		event_free(a->probe_timer);
	/* before the HTTP server: pending reads answer their requests */
	edge_redis_reader_free(a->reader);
	admin_history_free(a);
	if (a->http)
		evhttp_free(a->http);
	if (a->base)
		event_base_free(a->base);
	if (a->tls)
		SSL_CTX_free(a->tls);
	if (a->token) {
		OPENSSL_cleanse(a->token, a->token_len);
		free(a->token);
	}
	free(a->probes);
	free(a->realm);
	free(a);
}
