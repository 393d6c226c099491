/*
 * cluster/json.c - the project's one JSON writer and one JSON reader
 * (RFC 8259), and the text buffer they write into. Hand-written rather
 * than jansson: the admin API's output is pinned byte for byte by
 * tests/integration/test_golden.py (floats "%.3f", key order, no
 * spaces), which a library writer would not reproduce; the reader keeps
 * its limits against hostile input (depth, no trailing garbage) here, in
 * one place, and is fuzzed (tests/fuzz/fuzz_json.c). Pure.
 */
#include "cluster/cluster.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the buffer ----------------------------------------------------------- */

void cluster_buf_init(struct cluster_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void cluster_buf_fixed(struct cluster_buf *b, char *p, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->p = p;
	b->cap = cap;
	b->fixed = true;
	if (cap)
		p[0] = 0;
	else
		b->full = true;
}

void cluster_buf_free(struct cluster_buf *b)
{
	if (!b->fixed)
		free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Room for n more bytes and the NUL. */
static bool reserve(struct cluster_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->n + n + 1 <= b->cap)
		return true;
	if (b->fixed || b->n + n + 1 < n) {
		b->full = true;
		return false;
	}
	cap = b->cap ? b->cap : 256;
	while (cap < b->n + n + 1)
		cap *= 2;
	if (!(p = realloc(b->p, cap))) {
		b->full = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

bool cluster_buf_add(struct cluster_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return false;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = 0;
	return true;
}

bool cluster_buf_addstr(struct cluster_buf *b, const char *s)
{
	return cluster_buf_add(b, s, strlen(s));
}

bool cluster_buf_printf(struct cluster_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n))
		return false;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
	return true;
}

/* --- the writer ----------------------------------------------------------- */

size_t cluster_utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t c;

	if (n == 0 || s[0] < 0xC2 || s[0] > 0xF4)
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

/* Add a unit of the literal, keeping room for the closing quote. */
static bool unit(struct cluster_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n + 1))
		return false;
	return cluster_buf_add(b, s, n);
}

bool cluster_json_quote(struct cluster_buf *b, const char *str, unsigned flags)
{
	const unsigned char *s = (const unsigned char *)str;
	bool html = flags & CLUSTER_JSON_HTML;
	char esc[8];
	size_t n, i = 0;

	if (!str)
		return cluster_buf_add(b, "null", 4);
	if (!unit(b, "\"", 1))
		return false;
	n = strlen(str);
	while (i < n) {
		unsigned char c = s[i];
		size_t k = 1;
		bool ok;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			ok = unit(b, esc, 2);
		} else if (c < 0x20 || c == 0x7F ||
		           (html && (c == '<' || c == '>' || c == '&'))) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			ok = unit(b, esc, 6);
		} else if (c < 0x80) {
			ok = unit(b, str + i, 1);
		} else if ((k = cluster_utf8_len(s + i, n - i))) {
			ok = unit(b, str + i, k);
		} else {
			k = 1;
			ok = unit(b, "\\ufffd", 6);
		}
		if (!ok)
			break;
		i += k;
	}
	cluster_buf_add(b, "\"", 1); /* reserved by unit() */
	return i == n;
}

/* --- the reader ----------------------------------------------------------- */

struct parser {
	const char *p, *end;
	int depth;
};

static int parse_value(struct parser *ps, struct cluster_json *v);

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

/* \uXXXX (and its low surrogate) at ps->p, just after the 'u'. Never
 * longer decoded than escaped: 6 bytes give at most 3, 12 at most 4. */
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

static char unescape(char c)
{
	switch (c) {
	case '"':
	case '\\':
	case '/':
		return c;
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return 0;
	}
}

/* A string at ps->p (after the opening quote) into a new buffer. */
static int parse_string(struct parser *ps, char **out, size_t *len)
{
	const char *start = ps->p;
	char *s;
	size_t k = 0;

	/* decoded is never longer than the raw text */
	while (ps->p < ps->end && *ps->p != '"')
		ps->p += (*ps->p == '\\' && ps->p + 1 < ps->end) ? 2 : 1;
	if (ps->p >= ps->end)
		return EBADMSG;
	if (!(s = malloc((size_t)(ps->p - start) + 1)))
		return ENOMEM;
	ps->p = start;
	while (*ps->p != '"') {
		char c = *ps->p++;
		if ((unsigned char)c < 0x20)
			goto bad;
		if (c != '\\') {
			s[k++] = c;
		} else if (*ps->p == 'u') {
			ps->p++;
			if (unicode_escape(ps, s, &k))
				goto bad;
		} else if ((s[k++] = unescape(*ps->p++)) == 0) {
			goto bad;
		}
	}
	ps->p++;
	s[k] = 0;
	*out = s;
	if (len)
		*len = k;
	return 0;
bad:
	free(s);
	return EBADMSG;
}

static int parse_number(struct parser *ps, struct cluster_json *v)
{
	const char *start = ps->p;
	char *end;

	while (ps->p < ps->end && *ps->p && strchr("+-0123456789.eE", *ps->p))
		ps->p++;
	if (ps->p == start)
		return EBADMSG;
	v->len = (size_t)(ps->p - start);
	if (!(v->s = strndup(start, v->len)))
		return ENOMEM;
	v->num = strtod(v->s, &end);
	if (*end)
		return EBADMSG;
	v->type = CLUSTER_JNUM;
	return 0;
}

/* Append an empty item (and key) to a container. */
static struct cluster_json *grow(struct cluster_json *v, char *key)
{
	struct cluster_json *items =
	        realloc(v->items, (v->n + 1) * sizeof(*v->items));

	if (!items)
		return NULL;
	v->items = items;
	if (v->type == CLUSTER_JOBJ) {
		char **keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
		if (!keys)
			return NULL;
		v->keys = keys;
		v->keys[v->n] = key;
	}
	memset(&v->items[v->n], 0, sizeof(v->items[0]));
	return &v->items[v->n++];
}

/* "key": of an object member. */
static int member_key(struct parser *ps, char **key)
{
	int rc;

	if (ps->p >= ps->end || *ps->p++ != '"')
		return EBADMSG;
	if ((rc = parse_string(ps, key, NULL)))
		return rc;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p++ != ':') {
		free(*key);
		*key = NULL;
		return EBADMSG;
	}
	return 0;
}

static int parse_container(struct parser *ps, struct cluster_json *v,
                           char close)
{
	int rc;

	if (++ps->depth > CLUSTER_JSON_DEPTH_MAX)
		return EBADMSG;
	v->type = close == '}' ? CLUSTER_JOBJ : CLUSTER_JARR;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		ps->depth--;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		struct cluster_json *item;
		skip_ws(ps);
		if (close == '}' && (rc = member_key(ps, &key)))
			return rc;
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

static int parse_value(struct parser *ps, struct cluster_json *v)
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
		v->type = CLUSTER_JSTR;
		return parse_string(ps, &v->s, &v->len);
	case 't':
	case 'f':
		v->type = CLUSTER_JBOOL;
		v->b = *ps->p == 't';
		return literal(ps, v->b ? "true" : "false") ? 0 : EBADMSG;
	case 'n':
		v->type = CLUSTER_JNULL;
		return literal(ps, "null") ? 0 : EBADMSG;
	default:
		return parse_number(ps, v);
	}
}

static void wipe(char *s)
{
	volatile char *p = s;

	while (p && *p)
		*p++ = 0;
}

static void clear(struct cluster_json *v, bool wiped)
{
	for (size_t i = 0; i < v->n; i++) {
		clear(&v->items[i], wiped);
		if (v->keys) {
			if (wiped)
				wipe(v->keys[i]);
			free(v->keys[i]);
		}
	}
	free(v->items);
	free(v->keys);
	if (wiped && v->s) {
		volatile char *p = v->s;
		for (size_t i = 0; i < v->len; i++)
			p[i] = 0;
	}
	free(v->s);
}

void cluster_json_free(struct cluster_json *v)
{
	if (!v)
		return;
	clear(v, false);
	free(v);
}

void cluster_json_free_wipe(struct cluster_json *v)
{
	if (!v)
		return;
	clear(v, true);
	free(v);
}

int cluster_json_parse(const char *text, size_t len, struct cluster_json **out)
{
	struct parser ps = {text, text + len, 0};
	struct cluster_json *v = calloc(1, sizeof(*v));
	int rc;

	*out = NULL;
	if (!v)
		return ENOMEM;
	rc = parse_value(&ps, v);
	skip_ws(&ps);
	if (!rc && ps.p != ps.end)
		rc = EBADMSG;
	if (rc) {
		cluster_json_free_wipe(v);
		return rc;
	}
	*out = v;
	return 0;
}

const struct cluster_json *cluster_json_get(const struct cluster_json *v,
                                            const char *key)
{
	if (!v || v->type != CLUSTER_JOBJ)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (v->keys[i] && strcmp(v->keys[i], key) == 0)
			return &v->items[i];
	return NULL;
}

const char *cluster_json_string(const struct cluster_json *v)
{
	return v && v->type == CLUSTER_JSTR ? v->s : NULL;
}

double cluster_json_number(const struct cluster_json *v, double def)
{
	return v && v->type == CLUSTER_JNUM ? v->num : def;
}

/* --- flat objects --------------------------------------------------------- */

void cluster_json_fields_free(struct cluster_json_field *f, size_t nf)
{
	for (size_t i = 0; i < nf; i++) {
		volatile char *p = f[i].val;
		for (size_t k = 0; p && k < f[i].len; k++)
			p[k] = 0;
		free(f[i].val);
		f[i].val = NULL;
		f[i].len = 0;
	}
}

static struct cluster_json_field *field_of(struct cluster_json_field *f,
                                           size_t nf, const char *key)
{
	for (size_t i = 0; i < nf; i++)
		if (strcmp(f[i].key, key) == 0)
			return &f[i];
	return NULL;
}

static int take_fields(struct cluster_json *v, struct cluster_json_field *f,
                       size_t nf, size_t max_len)
{
	if (v->type != CLUSTER_JOBJ)
		return EBADMSG;
	for (size_t i = 0; i < v->n; i++) {
		struct cluster_json_field *x = field_of(f, nf, v->keys[i]);
		struct cluster_json *it = &v->items[i];
		if (!x || x->val || it->type != CLUSTER_JSTR ||
		    it->len > max_len || strlen(it->s) != it->len)
			return EBADMSG;
		x->val = it->s; /* moved out of the tree */
		x->len = it->len;
		it->s = NULL;
		it->len = 0;
	}
	return 0;
}

int cluster_json_fields(const char *text, size_t len,
                        struct cluster_json_field *f, size_t nf, size_t max_len)
{
	struct cluster_json *v;
	int rc;

	for (size_t i = 0; i < nf; i++) {
		f[i].val = NULL;
		f[i].len = 0;
	}
	if ((rc = cluster_json_parse(text, len, &v)))
		return rc;
	rc = take_fields(v, f, nf, max_len);
	cluster_json_free_wipe(v);
	if (rc)
		cluster_json_fields_free(f, nf);
	return rc;
}
