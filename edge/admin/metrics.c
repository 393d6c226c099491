/*
 * edge/admin/metrics.c - GET /metrics in the Prometheus text exposition
 * format 0.0.4 and GET /api/stats (the same numbers as one JSON object).
 * Every number is a sum over the workers' counters (admin_sum_*: relaxed
 * loads, no locks on the packet path) or a node-wide gauge. Families are
 * named avedge_*, counters end in _total, units are in the names; labels
 * are a small fixed set (method, code, reason, transport, direction,
 * worker, realm, version, class: the operator's bandwidth classes, at
 * most 64): never a user, a client address or an
 * allocation id, whose values grow without bound.
 */
#include "auth/auth.h"
#include "edge/admin/admin_int.h"
#include "edge/base/clock.h"
#include "edge/base/edge.h"
#include "edge/config/realms.h"
#include "edge/net/worker.h"
#include "edge/redis/redis.h"
#include "turn/bw.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct totals {
	struct turn_stats t;
	struct edge_stats e;
	uint32_t ports_in_use, ports_free, ports_total;
};

static void totals(struct edge_admin *a, struct totals *x)
{
	admin_sum_turn(a, &x->t);
	admin_sum_edge(a, &x->e);
	turn_node_usage(a->node, &x->ports_in_use, &x->ports_free,
	                &x->ports_total);
}

static uint64_t ld(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static uint64_t open_count(uint64_t in, uint64_t out)
{
	return in > out ? in - out : 0;
}

/* Open client connections of all stream and DTLS transports. */
static uint64_t streams(const struct edge_stats *e)
{
	return open_count(ld(&e->tcp_accepted), ld(&e->tcp_closed)) +
	       open_count(ld(&e->dtls_sessions), ld(&e->dtls_closed));
}

/* --- Prometheus text format -------------------------------------------- */

static void family(struct evbuffer *b, const char *name, const char *type,
                   const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	                    type);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(struct evbuffer *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

static void sample(struct evbuffer *b, const char *name, const char *labels,
                   uint64_t v)
{
	evbuffer_add_printf(b, "%s%s %llu\n", name, labels ? labels : "",
	                    (unsigned long long)v);
}

/* name{key="value"} v */
static void sample1(struct evbuffer *b, const char *name, const char *key,
                    const char *value, uint64_t v)
{
	evbuffer_add_printf(b, "%s{%s=\"", name, key);
	label_value(b, value);
	evbuffer_add_printf(b, "\"} %llu\n", (unsigned long long)v);
}

static void gauge(struct evbuffer *b, const char *name, const char *help,
                  uint64_t v)
{
	family(b, name, "gauge", help);
	sample(b, name, NULL, v);
}

static void counter(struct evbuffer *b, const char *name, const char *help,
                    uint64_t v)
{
	family(b, name, "counter", help);
	sample(b, name, NULL, v);
}

static const char *const transports[4] = {"udp", "tcp", "tls", "dtls"};

/* Methods counted by requests[method & 0xf]. */
static const struct {
	unsigned index;
	const char *name;
} methods[] = {
        {0x1, "binding"},           {0x3, "allocate"},     {0x4, "refresh"},
        {0x8, "create_permission"}, {0x9, "channel_bind"}, {0xa, "connect"},
        {0xb, "connection_bind"},
};

static const char *const auth_reasons[16] = {
        [AUTH_ERR_MISSING_ATTR] = "missing_attribute",
        [AUTH_ERR_BAD_ATTR] = "malformed_attribute",
        [AUTH_ERR_ALGS_MISSING] = "password_algorithms_missing",
        [AUTH_ERR_ALGS_MISMATCH] = "password_algorithms_altered",
        [AUTH_ERR_ALG_NOT_OFFERED] = "password_algorithm_not_offered",
        [AUTH_ERR_UNSUPPORTED_ALG] = "unsupported_algorithm",
        [AUTH_ERR_UNKNOWN_REALM] = "unknown_realm",
        [AUTH_ERR_NO_USER] = "unknown_user",
        [AUTH_ERR_USERHASH_UNKNOWN] = "userhash_unknown",
        [AUTH_ERR_BAD_INTEGRITY] = "bad_integrity",
        [AUTH_ERR_REST_EXPIRED] = "rest_expired",
};

static void m_allocations(struct evbuffer *b, struct edge_admin *a,
                          const struct turn_stats *t)
{
	size_t nrealms = a->realms && a->realms->n ? a->realms->n : 1;

	family(b, "avedge_allocations", "gauge",
	       "Current allocations by client transport and realm.");
	for (size_t r = 0; r < nrealms && r < TURN_MAX_REALMS; r++) {
		const char *realm =
		        nrealms > 1 ? a->realms->names[r] : a->realm;
		for (int i = 0; i < 4; i++) {
			evbuffer_add_printf(
			        b,
			        "avedge_allocations{transport=\"%s\","
			        "realm=\"",
			        transports[i]);
			label_value(b, realm ? realm : "");
			evbuffer_add_printf(
			        b, "\"} %llu\n",
			        (unsigned long long)(nrealms > 1
			                                     ? t->allocations_by_realm
			                                               [r][i]
			                                     : t->allocations_by_transport
			                                               [i]));
		}
	}
	counter(b, "avedge_allocations_created_total", "Allocations created.",
	        t->allocations_created);
	family(b, "avedge_allocations_deleted_total", "counter",
	       "Allocations ended, by reason.");
	sample1(b, "avedge_allocations_deleted_total", "reason", "expired",
	        t->allocations_expired);
	sample1(b, "avedge_allocations_deleted_total", "reason", "refresh",
	        t->allocations_refreshed_0);
	sample1(b, "avedge_allocations_deleted_total", "reason", "closed",
	        t->allocations_closed);
	sample1(b, "avedge_allocations_deleted_total", "reason", "kicked",
	        t->allocations_kicked);
	family(b, "avedge_allocations_rejected_total", "counter",
	       "New allocations refused, by reason.");
	sample1(b, "avedge_allocations_rejected_total", "reason", "draining",
	        t->drain_rejects);
	sample1(b, "avedge_allocations_rejected_total", "reason",
	        "max_allocations", t->capacity_rejects);
	sample1(b, "avedge_allocations_rejected_total", "reason", "quota",
	        t->quota_rejects);
	sample1(b, "avedge_allocations_rejected_total", "reason",
	        "no_relay_port", t->port_exhausted);
	sample1(b, "avedge_allocations_rejected_total", "reason", "capacity",
	        t->bw_capacity_rejects);
	gauge(b, "avedge_permissions", "Current permissions.", t->permissions);
	gauge(b, "avedge_channels", "Current channel bindings.", t->channels);
	family(b, "avedge_permissions_withdrawn_total", "counter",
	       "Permissions, channels and RFC 6062 connections withdrawn "
	       "because a new peer policy or cluster-peer set denies their "
	       "peer, by kind.");
	sample1(b, "avedge_permissions_withdrawn_total", "kind", "permission",
	        t->permissions_withdrawn);
	sample1(b, "avedge_permissions_withdrawn_total", "kind", "channel",
	        t->channels_withdrawn);
	sample1(b, "avedge_permissions_withdrawn_total", "kind",
	        "tcp_connection", t->tcp_conns_withdrawn);
}

static void m_requests(struct evbuffer *b, const struct turn_stats *t)
{
	family(b, "avedge_requests_total", "counter",
	       "STUN/TURN requests received, by method.");
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		sample1(b, "avedge_requests_total", "method", methods[i].name,
		        t->requests[methods[i].index]);
	family(b, "avedge_responses_total", "counter",
	       "STUN/TURN responses sent, by method and code (200: "
	       "success).");
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		for (unsigned k = 0; k < TURN_CODE_SLOTS; k++) {
			uint64_t v = t->responses[methods[i].index][k];
			uint16_t code = turn_slot_code(k);
			char cs[8];
			if (!v && k != 0)
				continue;
			if (k == TURN_CODE_SLOTS - 1)
				snprintf(cs, sizeof(cs), "other");
			else
				snprintf(cs, sizeof(cs), "%u",
				         code ? code : 200u);
			evbuffer_add_printf(
			        b,
			        "avedge_responses_total{method=\"%s\","
			        "code=\"%s\"} %llu\n",
			        methods[i].name, cs, (unsigned long long)v);
		}
	}
}

static void m_auth(struct evbuffer *b, const struct turn_stats *t)
{
	counter(b, "avedge_auth_challenges_total",
	        "401 challenges to requests without credentials.",
	        t->auth_challenges);
	family(b, "avedge_auth_failures_total", "counter",
	       "Authentication failures, by reason.");
	for (int i = 0; i < 16; i++)
		if (auth_reasons[i])
			sample1(b, "avedge_auth_failures_total", "reason",
			        auth_reasons[i], t->auth_reasons[i]);
	sample1(b, "avedge_auth_failures_total", "reason", "stale_nonce",
	        t->stale_nonces);
	sample1(b, "avedge_auth_failures_total", "reason", "rate_limited",
	        t->auth_paced);
	sample1(b, "avedge_auth_failures_total", "reason", "backoff_dropped",
	        t->auth_dropped);
}

static void m_relay(struct evbuffer *b, const struct totals *x)
{
	const struct turn_stats *t = &x->t;
	const struct edge_stats *e = &x->e;

	family(b, "avedge_relayed_packets_total", "counter",
	       "Packets relayed, by direction.");
	sample1(b, "avedge_relayed_packets_total", "direction", "to_peer",
	        t->relayed_to_peer_pkts);
	sample1(b, "avedge_relayed_packets_total", "direction", "to_client",
	        t->relayed_to_client_pkts);
	family(b, "avedge_relayed_bytes_total", "counter",
	       "Application payload bytes relayed (no STUN, ChannelData or "
	       "UDP headers), by direction.");
	sample1(b, "avedge_relayed_bytes_total", "direction", "to_peer",
	        t->relayed_to_peer_bytes);
	sample1(b, "avedge_relayed_bytes_total", "direction", "to_client",
	        t->relayed_to_client_bytes);
	family(b, "avedge_drops_total", "counter",
	       "Packets dropped, by reason.");
	sample1(b, "avedge_drops_total", "reason", "no_allocation",
	        t->drop_no_alloc);
	sample1(b, "avedge_drops_total", "reason", "no_permission",
	        t->drop_no_permission);
	sample1(b, "avedge_drops_total", "reason", "no_channel",
	        t->drop_no_channel);
	sample1(b, "avedge_drops_total", "reason", "denied_peer",
	        t->drop_denied_peer);
	sample1(b, "avedge_drops_total", "reason", "rate_limit",
	        t->drop_rate_limit);
	sample1(b, "avedge_drops_total", "reason", "malformed",
	        t->drop_malformed);
	sample1(b, "avedge_drops_total", "reason", "truncated",
	        ld(&e->udp_truncated));
	sample1(b, "avedge_drops_total", "reason", "buffer_full",
	        ld(&e->udp_send_errors) + ld(&e->relay_send_errors) +
	                ld(&e->actions_dropped) + ld(&e->tcp_tx_dropped));
	gauge(b, "avedge_relay_ports_in_use",
	      "Relay ports taken (allocations and reservations).",
	      x->ports_in_use);
	gauge(b, "avedge_relay_ports", "Relay ports in the pool.",
	      x->ports_total);
	uint64_t tls = open_count(ld(&e->tls_accepted), ld(&e->tls_closed));
	uint64_t tcp = open_count(ld(&e->tcp_accepted), ld(&e->tcp_closed));
	family(b, "avedge_connections", "gauge",
	       "Open client connections (TCP, TLS) and DTLS sessions.");
	sample1(b, "avedge_connections", "transport", "tcp",
	        tcp > tls ? tcp - tls : 0);
	sample1(b, "avedge_connections", "transport", "tls", tls);
	sample1(b, "avedge_connections", "transport", "dtls",
	        open_count(ld(&e->dtls_sessions), ld(&e->dtls_closed)));
	counter(b, "avedge_connections_refused_total",
	        "Connections and DTLS sessions refused by connection limits.",
	        ld(&e->tcp_refused) + ld(&e->dtls_refused));
	family(b, "avedge_connections_cut_total", "counter",
	       "Client connections the server closed, by reason (slow: a "
	       "first message or a frame not finished in time).");
	sample1(b, "avedge_connections_cut_total", "reason", "idle",
	        ld(&e->tcp_closed_idle));
	sample1(b, "avedge_connections_cut_total", "reason", "stalled_reader",
	        ld(&e->tcp_closed_stalled));
	sample1(b, "avedge_connections_cut_total", "reason", "slow",
	        ld(&e->tcp_closed_slow));
	sample1(b, "avedge_connections_cut_total", "reason", "not_stun",
	        ld(&e->tcp_closed_bad));
	sample1(b, "avedge_connections_cut_total", "reason",
	        "tls_handshake_timeout", ld(&e->tls_handshake_timeouts));
	sample1(b, "avedge_connections_cut_total", "reason",
	        "dtls_handshake_failed", ld(&e->dtls_handshake_failures));
	counter(b, "avedge_dtls_cookies_sent_total",
	        "DTLS HelloVerifyRequests sent (no state kept for them).",
	        ld(&e->dtls_cookie_sent));
	counter(b, "avedge_dtls_handshakes_total", "DTLS handshakes completed.",
	        ld(&e->dtls_handshakes));
	family(b, "avedge_fd_exhausted_total", "counter",
	       "Sockets not opened (relay: the Allocate gets 508) and "
	       "connections not accepted (the listeners pause) for want of "
	       "file descriptors (EMFILE, ENFILE) or socket memory.");
	sample1(b, "avedge_fd_exhausted_total", "kind", "relay_socket",
	        ld(&e->nofd_socket));
	sample1(b, "avedge_fd_exhausted_total", "kind", "accept",
	        ld(&e->nofd_accept));
}

/* --- UDP sockets: buffers, kernel queue drops, send failures ---------- */

static const char *const sock_kinds[EDGE_SOCK_KINDS] = {"listener", "relay"};

static const char *const dirs[2] = {"to_peer", "to_client"};

/* Bandwidth classes: what each class's buckets dropped (turn/bw.h; a
 * class name is operator-defined, at most TURN_BW_SLOTS of them). */
static void m_bandwidth(struct evbuffer *b, struct edge_admin *a,
                        const struct turn_stats *t)
{
	size_t n = turn_bw_names_count(a->bw_names);
	static const struct {
		const char *name, *help;
	} fam[2] = {
	        {"avedge_bandwidth_dropped_packets_total",
	         "Packets over their allocation's bandwidth class, dropped, "
	         "by class and direction (max-bps: no class)."},
	        {"avedge_bandwidth_dropped_bytes_total",
	         "Payload bytes over their allocation's bandwidth class, "
	         "dropped, by class and direction (max-bps: no class)."},
	};

	gauge(b, "avedge_bandwidth_capacity_bytes",
	      "bps-capacity: bytes per second and direction the node admits "
	      "(0: no limit).",
	      turn_bw_pool_capacity(a->bw_pool));
	gauge(b, "avedge_bandwidth_reserved_bytes",
	      "Bytes per second and direction the live allocations reserve "
	      "(their classes' rates).",
	      turn_bw_pool_reserved(a->bw_pool));
	counter(b, "avedge_bandwidth_unknown_class_total",
	        "Allocations whose REST credential named a bandwidth class "
	        "this node does not have (given the next rule's class).",
	        t->bw_cred_unknown);
	for (int f = 0; f < 2; f++) {
		family(b, fam[f].name, "counter", fam[f].help);
		for (size_t i = 0; i < n; i++)
			for (int d = 0; d < 2; d++) {
				evbuffer_add_printf(b, "%s{class=\"",
				                    fam[f].name);
				label_value(b,
				            turn_bw_names_get(a->bw_names, i));
				evbuffer_add_printf(
				        b, "\",direction=\"%s\"} %llu\n",
				        dirs[d],
				        (unsigned long long)(f ? t->bw_dropped_bytes
				                                             [i]
				                                             [d]
				                               : t->bw_dropped_pkts
				                                             [i]
				                                             [d]));
			}
	}
}

static void m_sockets(struct evbuffer *b, const struct edge_stats *e)
{
	static const char *const causes[] = {"partial", "eagain", "enobufs",
	                                     "other"};
	const char *n = "avedge_socket_send_failures_total";

	family(b, "avedge_socket_rx_drops_total", "counter",
	       "Datagrams the kernel dropped for a full receive queue "
	       "(SO_RXQ_OVFL), by kind of UDP socket.");
	for (int k = 0; k < EDGE_SOCK_KINDS; k++)
		sample1(b, "avedge_socket_rx_drops_total", "kind",
		        sock_kinds[k], ld(&e->rx_drops[k]));
	family(b, n, "counter",
	       "UDP sends that failed, by kind of socket and cause (partial: "
	       "a sendmmsg that sent part of a batch, an event; the others "
	       "count datagrams not sent).");
	for (int k = 0; k < EDGE_SOCK_KINDS; k++) {
		const _Atomic uint64_t *v[] = {
		        &e->send_partial[k], &e->send_eagain[k],
		        &e->send_enobufs[k], &e->send_other[k]};
		for (int c = 0; c < 4; c++)
			evbuffer_add_printf(
			        b, "%s{kind=\"%s\",cause=\"%s\"} %llu\n", n,
			        sock_kinds[k], causes[c],
			        (unsigned long long)ld(v[c]));
	}
	n = "avedge_socket_buffer_bytes";
	family(b, n, "gauge",
	       "UDP socket buffers, by kind: asked (configuration; 0: the "
	       "kernel's default) and granted (as read back, halved).");
	for (int k = 0; k < EDGE_SOCK_KINDS; k++) {
		struct edge_sock_bufs s;
		edge_sock_bufs((enum edge_sock_kind)k, &s);
		const char *f = "%s{kind=\"%s\",dir=\"%s\",value=\"%s\"} %u\n";
		evbuffer_add_printf(b, f, n, sock_kinds[k], "rcv", "asked",
		                    s.rcv_asked);
		evbuffer_add_printf(b, f, n, sock_kinds[k], "rcv", "granted",
		                    s.rcv_granted);
		evbuffer_add_printf(b, f, n, sock_kinds[k], "snd", "asked",
		                    s.snd_asked);
		evbuffer_add_printf(b, f, n, sock_kinds[k], "snd", "granted",
		                    s.snd_granted);
	}
}

/* ,"socket_buffers":{...},"socket_drops":{...} of /api/stats */
static void json_sockets(struct evbuffer *b, const struct edge_stats *e)
{
	bool short_ = false;

	evbuffer_add_printf(b, ",\"socket_buffers\":{");
	for (int k = 0; k < EDGE_SOCK_KINDS; k++) {
		struct edge_sock_bufs s;
		edge_sock_bufs((enum edge_sock_kind)k, &s);
		short_ = short_ || s.short_;
		evbuffer_add_printf(
		        b,
		        "\"%s\":{\"rcvbuf_asked\":%u,\"rcvbuf_granted\":%u,"
		        "\"sndbuf_asked\":%u,\"sndbuf_granted\":%u},",
		        sock_kinds[k], s.rcv_asked, s.rcv_granted, s.snd_asked,
		        s.snd_granted);
	}
	evbuffer_add_printf(b, "\"short\":%s},\"socket_drops\":{",
	                    short_ ? "true" : "false");
	for (int k = 0; k < EDGE_SOCK_KINDS; k++)
		evbuffer_add_printf(
		        b,
		        "%s\"%s\":{\"rx_queue_full\":%llu,\"send_partial\":%"
		        "llu,"
		        "\"send_eagain\":%llu,\"send_enobufs\":%llu,"
		        "\"send_other\":%llu}",
		        k ? "," : "", sock_kinds[k],
		        (unsigned long long)ld(&e->rx_drops[k]),
		        (unsigned long long)ld(&e->send_partial[k]),
		        (unsigned long long)ld(&e->send_eagain[k]),
		        (unsigned long long)ld(&e->send_enobufs[k]),
		        (unsigned long long)ld(&e->send_other[k]));
	evbuffer_add(b, "}", 1);
}

static void m_node(struct evbuffer *b, struct edge_admin *a)
{
	family(b, "avedge_worker_loop_lag_seconds", "gauge",
	       "How long the last probe posted to a worker waited to run.");
	for (size_t i = 0; i < a->nworkers; i++) {
		struct admin_probe *p = &a->probes[i];
		uint64_t lag = atomic_load(&p->lag_ns);
		if (atomic_load(&p->in_flight)) {
			uint64_t now = edge_mono_ns(),
			         sent = atomic_load(&p->sent_ns);
			if (now > sent && now - sent > lag)
				lag = now - sent;
		}
		evbuffer_add_printf(
		        b,
		        "avedge_worker_loop_lag_seconds{worker=\"%zu\""
		        "} %.6f\n",
		        i, (double)lag / 1e9);
	}
	gauge(b, "avedge_redis_up",
	      a->redis_configured
	              ? "1 when Redis answers (the control connection)."
	              : "1 when Redis answers (Redis is not configured).",
	      edge_redis_up(a->redis) ? 1 : 0);
	counter(b, "avedge_redis_local_grants_total",
	        "Allocates decided locally: Redis down or slow.",
	        edge_redis_local_grants(a->redis));
	gauge(b, "avedge_draining", "1 while the node drains.",
	      (uint64_t)atomic_load(a->draining));
	counter(b, "avedge_admin_unauthorized_total",
	        "Admin API requests refused with 401.", a->unauthorized);
	family(b, "avedge_admin_credential_changes_total", "counter",
	       "Users and REST secrets changed through the admin API.");
	for (unsigned k = 0; k < ADMIN_CRED_KINDS; k++)
		sample1(b, "avedge_admin_credential_changes_total", "kind",
		        admin_cred_kind_name(k), a->cred_changes[k]);
	family(b, "avedge_build_info", "gauge", "Build information.");
	sample1(b, "avedge_build_info", "version", edge_version(), 1);
	gauge(b, "avedge_start_time_seconds",
	      "Start time of the process, unix seconds.", a->start_s);
}

void admin_metrics(struct edge_admin *a, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	static struct totals x; /* admin thread only; ~5 kB */

	if (!b) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	totals(a, &x);
	m_allocations(b, a, &x.t);
	m_requests(b, &x.t);
	m_auth(b, &x.t);
	m_relay(b, &x);
	m_bandwidth(b, a, &x.t);
	m_sockets(b, &x.e);
	m_node(b, a);
	admin_media_metrics(a, b);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	                  "Content-Type",
	                  "text/plain; version=0.0.4; "
	                  "charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	                  "Cache-Control", "no-store");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* --- /api/stats ------------------------------------------------------------
 */

static void json_dir(struct evbuffer *b, const char *name, uint64_t pkts,
                     uint64_t bytes)
{
	evbuffer_add_printf(b, "\"%s\":{\"packets\":%llu,\"bytes\":%llu}", name,
	                    (unsigned long long)pkts,
	                    (unsigned long long)bytes);
}

/* "bandwidth_dropped":[{"class":"NAME","to_peer":{..},"to_client":{..}},
 * ..], one per class name the node has seen, max-bps first. */
static void json_bandwidth(struct evbuffer *b, struct edge_admin *a,
                           const struct turn_stats *t)
{
	size_t n = turn_bw_names_count(a->bw_names);

	evbuffer_add_printf(
	        b,
	        ",\"bandwidth_capacity\":{\"capacity_bytes\":%llu,"
	        "\"reserved_bytes\":%llu,\"rejected\":%llu}",
	        (unsigned long long)turn_bw_pool_capacity(a->bw_pool),
	        (unsigned long long)turn_bw_pool_reserved(a->bw_pool),
	        (unsigned long long)t->bw_capacity_rejects);
	evbuffer_add_printf(b, ",\"bandwidth_dropped\":[");
	for (size_t i = 0; i < n; i++) {
		evbuffer_add_printf(b, "%s{\"class\":", i ? "," : "");
		admin_json_str(b, turn_bw_names_get(a->bw_names, i));
		for (int d = 0; d < 2; d++) {
			evbuffer_add(b, ",", 1);
			json_dir(b, dirs[d], t->bw_dropped_pkts[i][d],
			         t->bw_dropped_bytes[i][d]);
		}
		evbuffer_add(b, "}", 1);
	}
	evbuffer_add(b, "]", 1);
}

void admin_stats(struct edge_admin *a, struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	static struct totals x;
	const struct turn_stats *t = &x.t;
	bool draining;
	uint64_t now_s = (uint64_t)time(NULL);

	if (!b) {
		admin_send_error(req, 500, "Internal Server Error",
		                 "out of memory");
		return;
	}
	totals(a, &x);
	draining = atomic_load(a->draining) != 0;
	evbuffer_add_printf(b, "{\"scope\":\"node\",\"node\":");
	admin_json_str(b, a->node_id);
	evbuffer_add_printf(b, ",\"version\":");
	admin_json_str(b, edge_version());
	evbuffer_add_printf(b, ",\"realm\":");
	admin_json_str(b, a->realm);
	evbuffer_add_printf(
	        b,
	        ",\"uptime_s\":%llu,\"workers\":%zu,\"draining\":%s,"
	        "\"ready\":%s,\"allocations\":%llu,"
	        "\"allocations_by_transport\":{\"udp\":%llu,\"tcp\":%llu,"
	        "\"tls\":%llu,\"dtls\":%llu},\"max_allocations\":%u,"
	        "\"allocations_created\":%llu,\"permissions\":%llu,"
	        "\"channels\":%llu,\"connections\":%llu,"
	        "\"relay_ports\":{\"in_use\":%u,\"free\":%u,\"total\":%u},"
	        "\"auth_failures\":%llu,\"relayed\":{",
	        (unsigned long long)(now_s > a->start_s ? now_s - a->start_s
	                                                : 0),
	        a->nworkers, draining ? "true" : "false",
	        draining || admin_ports_exhausted(a) ? "false" : "true",
	        (unsigned long long)t->allocations,
	        (unsigned long long)t->allocations_by_transport[0],
	        (unsigned long long)t->allocations_by_transport[1],
	        (unsigned long long)t->allocations_by_transport[2],
	        (unsigned long long)t->allocations_by_transport[3],
	        a->max_allocations, (unsigned long long)t->allocations_created,
	        (unsigned long long)t->permissions,
	        (unsigned long long)t->channels,
	        (unsigned long long)streams(&x.e), x.ports_in_use, x.ports_free,
	        x.ports_total,
	        (unsigned long long)(t->auth_failures + t->stale_nonces));
	json_dir(b, "to_peer", t->relayed_to_peer_pkts,
	         t->relayed_to_peer_bytes);
	evbuffer_add(b, ",", 1);
	json_dir(b, "to_client", t->relayed_to_client_pkts,
	         t->relayed_to_client_bytes);
	evbuffer_add(b, "}", 1);
	json_bandwidth(b, a, t);
	json_sockets(b, &x.e);
	evbuffer_add_printf(b, ",\"redis\":\"%s\"}\n",
	                    !a->redis_configured      ? "not configured"
	                    : edge_redis_up(a->redis) ? "up"
	                                              : "down");
	admin_send_json(req, 200, "OK", b);
	evbuffer_free(b);
}
