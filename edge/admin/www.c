/*
 * edge/admin/www.c - serves the embedded dashboard (admin/www.h) on the
 * admin thread: GET/HEAD of an exact path in the table, no token (the
 * files hold no data). A strict Content-Security-Policy keeps the page to
 * its own scripts, styles and API: no inline script, no other origin.
 */
#include "edge/admin/www.h"
#include "edge/admin/admin_int.h"

#include <string.h>

static const struct admin_www_file *find(const char *path)
{
	if (strcmp(path, "/index.html") == 0)
		path = "/";
	for (const struct admin_www_file *f = admin_www_files; f->path; f++)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

bool admin_www(struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct admin_www_file *f;
	struct evkeyvalq *h;
	struct evbuffer *b;

	if ((cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) ||
	    !(f = find(path)))
		return false;
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", f->type);
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Content-Security-Policy",
	                  "default-src 'none'; script-src 'self'; "
	                  "style-src 'self'; img-src 'self'; "
	                  "connect-src 'self'; base-uri 'none'; "
	                  "form-action 'none'; frame-ancestors 'none'");
	b = evbuffer_new();
	if (b)
		evbuffer_add_reference(b, f->data, f->len, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", b);
	if (b)
		evbuffer_free(b);
	return true;
}
