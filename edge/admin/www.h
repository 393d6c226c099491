/*
 * edge/admin/www.h - the dashboard's static files (edge/admin/www/), embedded
 * in the binary at build time by edge/admin/www/embed.cmake into a generated .c
 * in the build directory. They hold no data, so they are served without a
 * token; the page asks for the token and sends it with its API calls.
 */
#ifndef AVEDGE_EDGE_ADMIN_WWW_H
#define AVEDGE_EDGE_ADMIN_WWW_H

#include <stddef.h>

struct admin_www_file {
	const char *path; /* "/", "/dashboard.js", ... */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* The generated table, ended by an entry whose path is NULL. */
extern const struct admin_www_file admin_www_files[];

#endif
