/*
 * edge/admin/http.c - the admin server's answers: JSON and text replies
 * with the common headers, JSON string and address escaping. Used by every
 * route; calls nothing else of edge/admin.
 */
#include "edge/admin/admin_int.h"
#include "edge/net/sock.h"

#include <event2/keyvalq_struct.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0xC2 || s[0] > 0xF4)
		return 0;
	len = s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : 4;
	if (len > n)
		return 0;
	c = s[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10FFFF)))
		return 0;
	return len;
}

void admin_json_str(struct evbuffer *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t n = strlen((const char *)s);

	evbuffer_add(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			evbuffer_add_printf(b, "\\%c", c);
			i++;
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&' ||
		           c == 0x7F) {
			evbuffer_add_printf(b, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			evbuffer_add(b, &s[i], 1);
			i++;
		} else {
			size_t k = utf8_len(s + i, n - i);
			if (k) {
				evbuffer_add(b, &s[i], k);
				i += k;
			} else {
				evbuffer_add(b, "\\ufffd", 6);
				i++;
			}
		}
	}
	evbuffer_add(b, "\"", 1);
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
