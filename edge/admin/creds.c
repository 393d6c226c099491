/*
 * edge/admin/creds.c - GET/POST /api/users, DELETE /api/users/{name},
 * GET/POST/DELETE /api/secrets (docs/admin.md).
 *
 * Without Redis the users and REST secrets the API adds live in process
 * (edge/config/creds.c, lost on restart): the change is made there, then the
 * daemon rebuilds the store (configuration + API + Redis) and swaps it
 * into every worker as SIGHUP does; the answer goes once every worker
 * has the new store. With Redis the change is written in coturn's
 * layout (edge/redis/admin.c: a user's MD5 key, never a password; the
 * secret set) and every node, this one included, picks it up through its
 * credential sync; the answer goes once Redis acknowledged it.
 *
 * Secrets are write-only: no answer carries one (GET /api/secrets gives
 * counts). Errors are fixed texts: nothing of the request is echoed.
 * Everything runs on the admin thread except the hops marked below.
 */
#include "edge/config/creds.h"
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "edge/admin/admin_int.h"
#include "edge/base/log.h"
#include "edge/redis/redis.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX     (8 * 1024)
#define VALUE_MAX    1024
#define PASSWORD_MAX 512

#define USERS_PATH  "/api/users"
#define USER_PREFIX "/api/users/"

static const char *const kind_names[ADMIN_CRED_KINDS] = {
        "user_add", "user_delete", "secret_add", "secret_delete"};

const char *admin_cred_kind_name(unsigned kind)
{
	return kind < ADMIN_CRED_KINDS ? kind_names[kind] : "unknown";
}

/* --- the request body: a flat JSON object of strings (cluster/json.c) --- */

/* Read and parse the body; on failure the request is answered. */
static bool read_body(struct evhttp_request *req, struct cluster_json_field *f,
                      size_t nf)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char *buf;
	int rc;

	if (n == 0 || n > BODY_MAX) {
		admin_send_error(req, 400, "Bad Request",
		                 "expected a JSON object of strings");
		return false;
	}
	if (!(buf = malloc(n))) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return false;
	}
	evbuffer_remove(in, buf, n);
	rc = cluster_json_fields(buf, n, f, nf, VALUE_MAX - 1);
	OPENSSL_cleanse(buf, n);
	free(buf);
	if (rc) {
		cluster_json_fields_free(f, nf);
		admin_send_error(req, rc == ENOMEM ? 500 : 400,
		                 rc == ENOMEM ? "Internal Server Error"
		                              : "Bad Request",
		                 rc == ENOMEM ? "out of memory"
		                              : "expected a JSON object of "
		                                "strings with known fields");
		return false;
	}
	return true;
}

/* --- validation ------------------------------------------------------------
 */

/* A user name: 1..512 printable ASCII characters, no blank, no ':'. */
static bool name_ok(const char *s, size_t len)
{
	if (len == 0 || len > AUTH_USERNAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ':')
			return false;
	return true;
}

/* A password or secret: printable ASCII, no blank at either end. */
static bool text_ok(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max || s[0] == ' ' || s[len - 1] == ' ')
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	                              : -1;
}

static bool hex_key_ok(const char *s, size_t len, uint8_t key[16])
{
	if (len != 32)
		return false;
	for (size_t i = 0; i < 16; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* MD5(name:realm:password), RFC 8489 s9.2.2 (as coturn stores it). */
static void md5_key(const char *name, const char *realm, const char *pw,
                    uint8_t key[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (!ctx)
		return;
	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	EVP_DigestUpdate(ctx, name, strlen(name));
	EVP_DigestUpdate(ctx, ":", 1);
	EVP_DigestUpdate(ctx, realm, strlen(realm));
	EVP_DigestUpdate(ctx, ":", 1);
	EVP_DigestUpdate(ctx, pw, strlen(pw));
	EVP_DigestFinal_ex(ctx, key, &n);
	EVP_MD_CTX_free(ctx);
}

static void to_hex(const uint8_t key[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", key[i]);
}

/* --- a change in flight ------------------------------------------------------
 */

struct cred_call {
	struct edge_admin *a;
	struct evhttp_request *req;
	unsigned kind; /* ADMIN_CRED_* */
	bool redis;
	int err;
	bool changed;
	char name[AUTH_USERNAME_MAX + 1]; /* users only */
};

static const char *const NOTE_LOCAL =
        "held in this process only: lost on restart (put it in the "
        "configuration, or use Redis, to keep it)";
static const char *const NOTE_REDIS =
        "written to Redis: every node applies it within 2 s";

static void count_and_log(struct cred_call *c)
{
	const char *where = c->redis ? "in Redis" : "in process";

	c->a->cred_changes[c->kind]++;
	switch (c->kind) {
	case ADMIN_CRED_USER_ADD:
		edge_info("admin API: user %s set %s%s", c->name, where,
		          c->redis ? "" : " (lost on restart)");
		break;
	case ADMIN_CRED_USER_DEL:
		edge_info("admin API: user %s deleted %s", c->name, where);
		break;
	case ADMIN_CRED_SECRET_ADD:
		edge_info("admin API: REST secret added %s%s", where,
		          c->redis ? "" : " (lost on restart)");
		break;
	default:
		edge_info("admin API: REST secret deleted %s", where);
		break;
	}
}

static void answer_ok(struct cred_call *c)
{
	struct evbuffer *b;
	bool user = c->kind == ADMIN_CRED_USER_ADD;

	if (c->kind == ADMIN_CRED_USER_DEL ||
	    c->kind == ADMIN_CRED_SECRET_DEL) {
		evhttp_send_reply(c->req, 204, "No Content", NULL);
		return;
	}
	if (!(b = evbuffer_new())) {
		admin_send_error(c->req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	evbuffer_add_printf(b, "{");
	if (user) {
		evbuffer_add_printf(b, "\"name\":");
		admin_json_str(b, c->name);
		evbuffer_add_printf(b, ",");
	}
	evbuffer_add_printf(b, "\"source\":\"%s\",\"persistent\":%s,\"note\":",
	                    c->redis ? "redis" : "api",
	                    c->redis ? "true" : "false");
	admin_json_str(b, c->redis ? NOTE_REDIS : NOTE_LOCAL);
	evbuffer_add_printf(b, "}\n");
	admin_send_json(c->req, 201, "Created", b);
	evbuffer_free(b);
}

/* Admin thread: the change is applied (or not); answer. */
static void call_finish(evutil_socket_t fd, short what, void *arg)
{
	struct cred_call *c = arg;
	bool del = c->kind == ADMIN_CRED_USER_DEL ||
	           c->kind == ADMIN_CRED_SECRET_DEL;

	(void)fd;
	(void)what;
	if (c->redis && c->err == ENOTCONN)
		admin_send_error(c->req, 503, "Service Unavailable",
		                 "redis is not reachable: nothing changed");
	else if (c->redis && c->err == ETIMEDOUT)
		admin_send_error(c->req, 504, "Gateway Timeout",
		                 "redis did not answer in time: the change "
		                 "may or may not be applied");
	else if (c->err)
		admin_send_error(c->req, 500, "Internal Server Error",
		                 c->redis ? "redis refused the change"
		                          : "the credentials could not be "
		                            "rebuilt: see the log");
	else if (c->redis && del && !c->changed)
		admin_send_error(c->req, 404, "Not Found",
		                 c->kind == ADMIN_CRED_USER_DEL
		                         ? "no such user"
		                         : "no such secret");
	else
		answer_ok(c);
	if (c->redis && !c->err && (c->changed || !del))
		count_and_log(c);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

/* Any thread (a worker, main, the Redis control thread): hop back. */
static void call_back(struct cred_call *c, int err, bool changed)
{
	struct timeval now = {0, 0};

	c->err = err;
	c->changed = changed;
	if (event_base_once(c->a->base, -1, EV_TIMEOUT, call_finish, c, &now) !=
	    0)
		edge_err("admin: cannot hand a credential change back");
}

static void on_applied(void *arg, int err)
{
	call_back(arg, err, true);
}

static void on_redis(void *arg, int err, bool changed)
{
	call_back(arg, err, changed);
}

static struct cred_call *call_new(struct edge_admin *a,
                                  struct evhttp_request *req, unsigned kind)
{
	struct cred_call *c = calloc(1, sizeof(*c));

	if (!c) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return NULL;
	}
	c->a = a;
	c->req = req;
	c->kind = kind;
	c->redis = a->redis != NULL;
	return c;
}

/* In process: the change is made; rebuild the store, answer when every
 * worker has it. */
static void apply_local(struct cred_call *c)
{
	count_and_log(c);
	if (c->a->creds_apply)
		c->a->creds_apply(c->a->creds_arg, on_applied, c);
	else
		call_finish(-1, 0, c);
}

/* With Redis: send the command, answer when Redis did. */
static void write_redis(struct cred_call *c, enum edge_redis_cred_op op,
                        const char *what, const char *hex)
{
	int rc = edge_redis_cred_write(c->a->redis, op, what, hex, on_redis, c);

	if (rc) {
		c->err = rc;
		call_finish(-1, 0, c);
	}
}

/* Map a refusal of edge/config/creds.c to an answer; true when answered. */
static bool refused(struct evhttp_request *req, int rc, bool user)
{
	if (rc == 0)
		return false;
	if (rc == EPERM)
		admin_send_error(
		        req, 409, "Conflict",
		        user ? "a configuration user: change it in the "
		               "configuration"
		             : "a configuration secret: change it in "
		               "the configuration");
	else if (rc == ENOSPC)
		admin_send_error(req, 409, "Conflict",
		                 user ? "too many users added through the API"
		                      : "too many REST secrets for the realm "
		                        "(at most 16)");
	else if (rc == ENOENT)
		admin_send_error(req, 404, "Not Found",
		                 user ? "no such user" : "no such secret");
	else
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
	return true;
}

/* --- users ------------------------------------------------------------------
 */

struct listing {
	struct edge_admin *a;
	struct evbuffer *b;
	size_t n;
};

static const char *source_name(enum edge_cred_source s)
{
	return s == EDGE_CRED_CONFIG ? "config" : "api";
}

static void list_one(struct listing *l, const char *name, const char *src)
{
	evbuffer_add_printf(l->b, "%s{\"name\":", l->n++ ? "," : "");
	admin_json_str(l->b, name);
	evbuffer_add_printf(l->b, ",\"source\":\"%s\"}", src);
}

static void list_local(void *arg, const char *name, enum edge_cred_source s)
{
	list_one(arg, name, source_name(s));
}

static void list_redis(void *arg, const char *name, size_t len)
{
	struct listing *l = arg;
	char buf[AUTH_USERNAME_MAX + 1];

	if (len > AUTH_USERNAME_MAX)
		return;
	memcpy(buf, name, len);
	buf[len] = 0;
	if (!edge_creds_is_config_user(l->a->creds, buf)) /* shadowed */
		list_one(l, buf, "redis");
}

static void users_list(struct edge_admin *a, struct evhttp_request *req)
{
	struct listing l = {.a = a, .b = evbuffer_new()};

	if (!l.b) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	evbuffer_add_printf(l.b, "{\"realm\":");
	admin_json_str(l.b, a->realm);
	evbuffer_add_printf(l.b, ",\"store\":\"%s\",\"users\":[",
	                    a->redis ? "redis" : "process");
	edge_creds_each_user(a->creds, list_local, &l);
	if (a->redis)
		edge_redis_each_user(a->redis, list_redis, &l, NULL);
	evbuffer_add_printf(l.b, "],\"count\":%zu}\n", l.n);
	admin_send_json(req, 200, "OK", l.b);
	evbuffer_free(l.b);
}

/* Validate a POST /api/users body; on failure it is answered. */
static bool user_fields(struct evhttp_request *req,
                        struct cluster_json_field *f, uint8_t key[16])
{
	const char *msg = NULL;

	if (!f[0].val || !name_ok(f[0].val, f[0].len))
		msg = "name: 1 to 512 printable ASCII characters, no blank, "
		      "no ':'";
	else if (!f[1].val == !f[2].val)
		msg = "give either a password or a key";
	else if (f[1].val && !text_ok(f[1].val, f[1].len, PASSWORD_MAX))
		msg = "password: 1 to 512 printable ASCII characters, no "
		      "blank at either end";
	else if (f[2].val && !hex_key_ok(f[2].val, f[2].len, key))
		msg = "key: 32 hex digits, MD5(name:realm:password)";
	if (msg)
		admin_send_error(req, 400, "Bad Request", msg);
	return msg == NULL;
}

static void user_add(struct edge_admin *a, struct evhttp_request *req)
{
	struct cluster_json_field f[3] = {
	        {.key = "name"}, {.key = "password"}, {.key = "key"}};
	struct cred_call *c = NULL;
	uint8_t key[16];
	bool created;
	int rc;

	if (!read_body(req, f, 3))
		return;
	if (!user_fields(req, f, key) ||
	    !(c = call_new(a, req, ADMIN_CRED_USER_ADD)))
		goto out;
	snprintf(c->name, sizeof(c->name), "%s", f[0].val);
	if (f[1].val)
		md5_key(f[0].val, a->realm, f[1].val, key);
	if (c->redis) {
		char hex[33];
		if (edge_creds_is_config_user(a->creds, c->name)) {
			refused(req, EPERM, true);
			free(c);
		} else {
			to_hex(key, hex);
			write_redis(c, EDGE_REDIS_USER_SET, c->name, hex);
			OPENSSL_cleanse(hex, sizeof(hex));
		}
	} else {
		/* the password itself, so both MD5 and SHA-256 keys exist */
		rc = edge_creds_set_user(a->creds, c->name, f[1].val, key,
		                         &created);
		if (refused(req, rc, true))
			free(c);
		else
			apply_local(c);
	}
out:
	OPENSSL_cleanse(key, sizeof(key));
	cluster_json_fields_free(f, 3);
}

static void user_delete(struct edge_admin *a, struct evhttp_request *req,
                        const char *raw)
{
	size_t len = 0;
	char *name = evhttp_uridecode(raw, 0, &len);
	struct cred_call *c;

	if (!name || len != strlen(name) || !name_ok(name, len)) {
		admin_send_error(
		        req, 400, "Bad Request",
		        "name: 1 to 512 printable ASCII characters, no "
		        "blank, no ':'");
	} else if (edge_creds_is_config_user(a->creds, name)) {
		refused(req, EPERM, true);
	} else if ((c = call_new(a, req, ADMIN_CRED_USER_DEL)) != NULL) {
		snprintf(c->name, sizeof(c->name), "%s", name);
		if (c->redis)
			write_redis(c, EDGE_REDIS_USER_DEL, c->name, NULL);
		else if (refused(req, edge_creds_del_user(a->creds, c->name),
		                 true))
			free(c);
		else
			apply_local(c);
	}
	free(name);
}

/* --- secrets
 * ------------------------------------------------------------------ */

static void secrets_count(struct edge_admin *a, struct evhttp_request *req)
{
	struct edge_creds_counts n;
	struct evbuffer *b = evbuffer_new();
	size_t redis = 0;

	if (!b) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	edge_creds_counts(a->creds, &n);
	if (a->redis)
		edge_redis_each_user(a->redis, NULL, NULL, &redis);
	evbuffer_add_printf(b, "{\"realm\":");
	admin_json_str(b, a->realm);
	evbuffer_add_printf(b,
	                    ",\"store\":\"%s\",\"count\":%zu,\"sources\":{"
	                    "\"config\":%zu,\"api\":%zu,\"redis\":%zu},"
	                    "\"note\":\"REST secrets are write-only: only "
	                    "counts are shown\"}\n",
	                    a->redis ? "redis" : "process",
	                    n.config_secrets + n.api_secrets + redis,
	                    n.config_secrets, n.api_secrets, redis);
	admin_send_json(req, 200, "OK", b);
	evbuffer_free(b);
}

static void secret_change(struct edge_admin *a, struct evhttp_request *req,
                          bool add)
{
	struct cluster_json_field f[1] = {{.key = "secret"}};
	struct cred_call *c;
	bool created;
	int rc;

	if (!read_body(req, f, 1))
		return;
	if (!f[0].val || !text_ok(f[0].val, f[0].len, AUTH_SECRET_MAX)) {
		admin_send_error(req, 400, "Bad Request",
		                 "secret: 1 to 256 printable ASCII characters, "
		                 "no blank at either end");
	} else if (!(c = call_new(a, req,
	                          add ? ADMIN_CRED_SECRET_ADD
	                              : ADMIN_CRED_SECRET_DEL))) {
		;
	} else if (c->redis) {
		if (edge_creds_is_config_secret(a->creds, f[0].val)) {
			refused(req, EPERM, false);
			free(c);
		} else {
			write_redis(c,
			            add ? EDGE_REDIS_SECRET_ADD
			                : EDGE_REDIS_SECRET_DEL,
			            f[0].val, NULL);
		}
	} else {
		rc = add ? edge_creds_add_secret(a->creds, f[0].val,
		                                 AUTH_SECRETS_MAX, &created)
		         : edge_creds_del_secret(a->creds, f[0].val);
		if (refused(req, rc, false))
			free(c);
		else
			apply_local(c);
	}
	cluster_json_fields_free(f, 1);
}

/* --- routing
 * ------------------------------------------------------------------ */

static void not_allowed(struct evhttp_request *req, const char *allow)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	                  allow);
	admin_send_error(req, 405, "Method Not Allowed", "method not allowed");
}

bool admin_creds_route(struct edge_admin *a, struct evhttp_request *req,
                       const char *path)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	size_t plen = strlen(USER_PREFIX);

	if (strcmp(path, USERS_PATH) == 0) {
		if (!a->creds)
			return false;
		if (get)
			users_list(a, req);
		else if (cmd == EVHTTP_REQ_POST)
			user_add(a, req);
		else
			not_allowed(req, "GET, HEAD, POST");
	} else if (strncmp(path, USER_PREFIX, plen) == 0) {
		if (!a->creds)
			return false;
		if (cmd == EVHTTP_REQ_DELETE)
			user_delete(a, req, path + plen);
		else
			not_allowed(req, "DELETE");
	} else if (strcmp(path, "/api/secrets") == 0) {
		if (!a->creds)
			return false;
		if (get)
			secrets_count(a, req);
		else if (cmd == EVHTTP_REQ_POST || cmd == EVHTTP_REQ_DELETE)
			secret_change(a, req, cmd == EVHTTP_REQ_POST);
		else
			not_allowed(req, "GET, HEAD, POST, DELETE");
	} else {
		return false;
	}
	return true;
}
