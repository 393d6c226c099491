/*
 * edge/net/dtls.h - TURN over DTLS 1.2 (RFC 8656 s3.1, RFC 6347): the server
 * DTLS context, and the per-worker DTLS listeners and sessions (dtls.c).
 * Everything but edge_dtls_ctx_new/free runs on the worker's thread.
 */
#ifndef AVEDGE_EDGE_DTLS_H
#define AVEDGE_EDGE_DTLS_H

#include "turn/turn.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define EDGE_DTLS_COOKIE_KEY_LEN 32

struct ssl_ctx_st;
struct edge_worker;
struct edge_worker_opts;

/* A context for DTLS 1.2 only, with the certificate, key, cipher list and
 * ALPN rules of the TLS context (edge/net/tls.h) and the stateless cookie
 * callbacks. 0 or errno with err naming the file and the problem. Safe to
 * share between threads; free with edge_dtls_ctx_free() after the
 * workers (live sessions hold a reference). */
int edge_dtls_ctx_new(struct ssl_ctx_st **out, const char *cert,
                      const char *pkey, const char *cipher_list, char *err,
                      size_t err_len);
void edge_dtls_ctx_free(struct ssl_ctx_st *ctx);

/* Open the worker's DTLS sockets (opts->dtls, SO_REUSEPORT) with
 * opts->dtls_ctx. 0 or errno; *failed names the address that failed. */
int edge_dtls_new(struct edge_worker *w, const struct edge_worker_opts *opts,
                  const struct sockaddr **failed);
/* Close every session (the core is not told: it is being freed too) and
 * the sockets. NULL state is fine. */
void edge_dtls_free(struct edge_worker *w);
/* Encrypt one STUN/ChannelData datagram for the session of tuple and send
 * it at once; dropped when the session is gone or not established. */
void edge_dtls_send(struct edge_worker *w, const struct turn_tuple *tuple,
                    const uint8_t *data, size_t len);
/* A reloaded context (SIGHUP): new sessions use it, live ones keep
 * theirs. */
void edge_dtls_set_ctx(struct edge_worker *w, struct ssl_ctx_st *ctx);

#endif
