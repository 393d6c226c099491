/*
 * edge/admin/http.c - the admin server's answers: JSON and text replies
 * with the common headers, JSON strings (through cluster/json.c) and
 * addresses. Used by every
 * route; calls nothing else of edge/admin.
 */
#include "cluster/cluster.h"
#include "edge/admin/admin_int.h"
#include "edge/net/sock.h"

#include <event2/keyvalq_struct.h>
#include <string.h>

/* The string as a JSON literal (cluster/json.c), with < > & escaped too:
 * the dashboard shows these answers. NULL is written as "". */
void admin_json_str(struct evbuffer *b, const char *str)
{
	struct cluster_buf j;

	cluster_buf_init(&j);
	cluster_json_quote(&j, str ? str : "", CLUSTER_JSON_HTML);
	if (!j.full)
		evbuffer_add(b, j.p, j.n);
	cluster_buf_free(&j);
}

void admin_json_addr(struct evbuffer *b, const union turn_addr *a, bool port)
{
	char buf[EDGE_ADDRSTR_LEN];

	if (a->sa.sa_family != AF_INET && a->sa.sa_family != AF_INET6) {
		evbuffer_add_printf(b, "null");
		return;
	}
	edge_addr_str(&a->sa, buf, sizeof(buf));
	if (!port) { /* "1.2.3.4:0" -> "1.2.3.4", "[::1]:0" -> "::1" */
		char *colon = strrchr(buf, ':');
		if (colon)
			*colon = 0;
		if (buf[0] == '[') {
			size_t n = strlen(buf);
			memmove(buf, buf + 1, n);
			if (n >= 2 && buf[n - 2] == ']')
				buf[n - 2] = 0;
		}
	}
	admin_json_str(b, buf);
}

static void common_headers(struct evhttp_request *req, const char *type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
}

void admin_send_json(struct evhttp_request *req, int code, const char *reason,
                     struct evbuffer *body)
{
	common_headers(req, "application/json");
	evhttp_send_reply(req, code, reason, body);
}

void admin_send_error(struct evhttp_request *req, int code, const char *reason,
                      const char *msg)
{
	struct evbuffer *b = evbuffer_new();

	if (b) {
		evbuffer_add_printf(b, "{\"error\":");
		admin_json_str(b, msg);
		evbuffer_add_printf(b, "}\n");
	}
	admin_send_json(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}

void admin_send_empty(struct evhttp_request *req, int code, const char *reason)
{
	common_headers(req, "text/plain; charset=utf-8");
	evhttp_send_reply(req, code, reason, NULL);
}

void admin_send_text(struct evhttp_request *req, int code, const char *reason,
                     const char *text)
{
	struct evbuffer *b = evbuffer_new();

	if (b)
		evbuffer_add(b, text, strlen(text));
	common_headers(req, "text/plain; charset=utf-8");
	evhttp_send_reply(req, code, reason, b);
	if (b)
		evbuffer_free(b);
}
