/*
 * tools/edgectl/json.c - a small JSON parser (RFC 8259) for the admin
 * API's answers: a tree of ectl_json values, strings decoded to UTF-8
 * (\u escapes and surrogate pairs included), numbers kept as text and as a
 * double. Depth is limited so a hostile answer cannot exhaust the stack.
 */
#include "tools/edgectl/edgectl.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define JSON_DEPTH_MAX 64

struct parser {
	const char *p, *end;
	int depth;
};

static int parse_value(struct parser *ps, struct ectl_json *v);

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
	                           *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static int hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return EBADMSG;
	}
	*out = v;
	return 0;
}

static size_t utf8_put(char *dst, uint32_t c)
{
	if (c < 0x80) {
		dst[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		dst[0] = (char)(0xC0 | (c >> 6));
		dst[1] = (char)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		dst[0] = (char)(0xE0 | (c >> 12));
		dst[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		dst[2] = (char)(0x80 | (c & 0x3F));
		return 3;
	}
	dst[0] = (char)(0xF0 | (c >> 18));
	dst[1] = (char)(0x80 | ((c >> 12) & 0x3F));
	dst[2] = (char)(0x80 | ((c >> 6) & 0x3F));
	dst[3] = (char)(0x80 | (c & 0x3F));
	return 4;
}

/* \uXXXX (and its low surrogate) at ps->p, just after the 'u'. */
static int unicode_escape(struct parser *ps, char *dst, size_t *k)
{
	uint32_t c, lo;

	if (ps->end - ps->p < 4 || hex4(ps->p, &c))
		return EBADMSG;
	ps->p += 4;
	if (c >= 0xD800 && c <= 0xDBFF && ps->end - ps->p >= 6 &&
	    ps->p[0] == '\\' && ps->p[1] == 'u' && !hex4(ps->p + 2, &lo) &&
	    lo >= 0xDC00 && lo <= 0xDFFF) {
		ps->p += 6;
		c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
	} else if (c >= 0xD800 && c <= 0xDFFF) {
		c = 0xFFFD; /* a lone surrogate */
	}
	*k += utf8_put(dst + *k, c);
	return 0;
}

/* A string at ps->p (after the opening quote) into a new buffer. */
static int parse_string(struct parser *ps, char **out)
{
	const char *start = ps->p;
	char *s;
	size_t k = 0;

	/* decoded is never longer than the raw text */
	while (ps->p < ps->end && *ps->p != '"')
		ps->p += (*ps->p == '\\' && ps->p + 1 < ps->end) ? 2 : 1;
	if (ps->p >= ps->end)
		return EBADMSG;
	s = malloc((size_t)(ps->p - start) + 1);
	if (!s)
		return ENOMEM;
	ps->p = start;
	while (*ps->p != '"') {
		char c = *ps->p++;
		if ((unsigned char)c < 0x20)
			goto bad;
		if (c != '\\') {
			s[k++] = c;
			continue;
		}
		c = *ps->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			s[k++] = c;
			break;
		case 'b':
			s[k++] = '\b';
			break;
		case 'f':
			s[k++] = '\f';
			break;
		case 'n':
			s[k++] = '\n';
			break;
		case 'r':
			s[k++] = '\r';
			break;
		case 't':
			s[k++] = '\t';
			break;
		case 'u':
			if (unicode_escape(ps, s, &k))
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	ps->p++;
	s[k] = 0;
	*out = s;
	return 0;
bad:
	free(s);
	return EBADMSG;
}

static int parse_number(struct parser *ps, struct ectl_json *v)
{
	const char *start = ps->p;
	char *end;

	while (ps->p < ps->end && strchr("+-0123456789.eE", *ps->p))
		ps->p++;
	if (ps->p == start)
		return EBADMSG;
	v->s = strndup(start, (size_t)(ps->p - start));
	if (!v->s)
		return ENOMEM;
	v->num = strtod(v->s, &end);
	if (*end)
		return EBADMSG;
	v->type = EJ_NUM;
	return 0;
}

/* Append an empty item (and key) to a container. */
static struct ectl_json *grow(struct ectl_json *v, char *key)
{
	struct ectl_json *items =
	        realloc(v->items, (v->n + 1) * sizeof(*v->items));

	if (!items)
		return NULL;
	v->items = items;
	if (v->type == EJ_OBJ) {
		char **keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
		if (!keys)
			return NULL;
		v->keys = keys;
		v->keys[v->n] = key;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	return &v->items[v->n++];
}

static int parse_container(struct parser *ps, struct ectl_json *v, char close)
{
	int rc;

	if (++ps->depth > JSON_DEPTH_MAX)
		return EBADMSG;
	v->type = close == '}' ? EJ_OBJ : EJ_ARR;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		struct ectl_json *item;
		skip_ws(ps);
		if (close == '}') {
			if (ps->p >= ps->end || *ps->p++ != '"')
				return EBADMSG;
			if ((rc = parse_string(ps, &key)))
				return rc;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p++ != ':') {
				free(key);
				return EBADMSG;
			}
		}
		if (!(item = grow(v, key))) {
			free(key);
			return ENOMEM;
		}
		if ((rc = parse_value(ps, item)))
			return rc;
		skip_ws(ps);
		if (ps->p >= ps->end)
			return EBADMSG;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p++ != close)
			return EBADMSG;
		ps->depth--;
		return 0;
	}
}

static int parse_value(struct parser *ps, struct ectl_json *v)
{
	skip_ws(ps);
	if (ps->p >= ps->end)
		return EBADMSG;
	switch (*ps->p) {
	case '{':
		ps->p++;
		return parse_container(ps, v, '}');
	case '[':
		ps->p++;
		return parse_container(ps, v, ']');
	case '"':
		ps->p++;
		v->type = EJ_STR;
		return parse_string(ps, &v->s);
	case 't':
	case 'f':
		v->type = EJ_BOOL;
		v->b = *ps->p == 't';
		return literal(ps, v->b ? "true" : "false") ? 0 : EBADMSG;
	case 'n':
		v->type = EJ_NULL;
		return literal(ps, "null") ? 0 : EBADMSG;
	default:
		return parse_number(ps, v);
	}
}

static void clear(struct ectl_json *v)
{
	for (size_t i = 0; i < v->n; i++) {
		clear(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->s);
}

void ectl_json_free(struct ectl_json *v)
{
	if (!v)
		return;
	clear(v);
	free(v);
}

int ectl_json_parse(const char *text, size_t len, struct ectl_json **out)
{
	struct parser ps = {text, text + len, 0};
	struct ectl_json *v = calloc(1, sizeof(*v));
	int rc;

	*out = NULL;
	if (!v)
		return ENOMEM;
	rc = parse_value(&ps, v);
	skip_ws(&ps);
	if (!rc && ps.p != ps.end)
		rc = EBADMSG;
	if (rc) {
		ectl_json_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

const struct ectl_json *ectl_json_get(const struct ectl_json *v,
                                      const char *key)
{
	if (!v || v->type != EJ_OBJ)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	return NULL;
}

const char *ectl_json_str(const struct ectl_json *v)
{
	return v && v->type == EJ_STR ? v->s : NULL;
}

double ectl_json_num(const struct ectl_json *v, double def)
{
	return v && v->type == EJ_NUM ? v->num : def;
}

bool ectl_json_quote(char *buf, size_t cap, const char *s)
{
	size_t k = strlen(buf);

	for (size_t i = 0; k + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == 0)
			buf[k++] = '"';
		if (!c) {
			buf[k++] = '"';
			buf[k] = 0;
			return true;
		}
		if (c == '"' || c == '\\')
			k += (size_t)snprintf(buf + k, cap - k, "\\%c", c);
		else if (c < 0x20)
			k += (size_t)snprintf(buf + k, cap - k, "\\u%04x", c);
		else
			buf[k++] = (char)c;
	}
	buf[k < cap ? k : cap - 1] = 0;
	return false;
}
