/*
 * tests/fuzz/fuzz_turn.c - libFuzzer target for the TURN core (turn/),
 * sans I/O: one server per run with no_auth (so messages reach Allocate,
 * permissions, channels, data, RFC 6062 and the cluster paths instead of
 * stopping at 401), cluster_quota and alloc_events on, driven by a fake
 * edge that answers every OPEN_RELAY, QUOTA_CHECK and TCP_CONNECT. The
 * input is a list of operations: client bytes from one of 8 tuples (UDP,
 * TCP, TLS, DTLS), peer datagrams and ICMP to a live allocation, incoming
 * TCP peers, stream closes, and clock steps. ASan/UBSan catch the rest;
 * the server is freed at the end, so LeakSanitizer sees every allocation.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "turn/policy.h"
#include "turn/turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RELAYS 64

struct fake {
	struct turn_server *s;
	struct turn_actions out;
	uint64_t now_ms, now_s;
	struct turn_alloc *alloc[MAX_RELAYS]; /* by relay handle - 1 */
	uintptr_t next_handle;
	uint32_t conns[16];
	unsigned nconns;
};

static void addr(union turn_addr *a, unsigned i, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (i & 4) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_addr.s6_addr[0] = 0x20;
		a->in6.sin6_addr.s6_addr[1] = 0x01;
		a->in6.sin6_addr.s6_addr[15] = (uint8_t)(i + 1);
		a->in6.sin6_port = htons(port);
	} else {
		a->in4.sin_family = AF_INET;
		a->in4.sin_addr.s_addr = htonl(0xC0000200u + i + 1);
		a->in4.sin_port = htons(port);
	}
}

/* Run the actions the way edge/ would, answering what needs an answer. */
static void run(struct fake *f)
{
	for (size_t i = 0; i < f->out.n; i++) {
		struct turn_action *a = &f->out.v[i];
		switch (a->kind) {
		case TURN_ACT_OPEN_RELAY:
		case TURN_ACT_OPEN_TCP_RELAY: {
			uintptr_t h = 0;
			if (f->next_handle < MAX_RELAYS &&
			    (a->token & 3) != 3) {
				h = ++f->next_handle;
				f->alloc[h - 1] = a->alloc;
			}
			turn_server_relay_result(
			        f->s, a->token, h ? 0 : 98 /* EADDRINUSE */,
			        (void *)h, f->now_ms, f->now_s, &f->out);
			break;
		}
		case TURN_ACT_CLOSE_RELAY:
		case TURN_ACT_CLOSE_TCP_RELAY: {
			uintptr_t h = (uintptr_t)a->relay;
			if (h >= 1 && h <= MAX_RELAYS)
				f->alloc[h - 1] = NULL;
			break;
		}
		case TURN_ACT_QUOTA_CHECK:
			turn_server_quota_result(
			        f->s, a->token,
			        (enum turn_quota_answer)(a->token % 3),
			        f->now_ms, f->now_s, &f->out);
			break;
		case TURN_ACT_TCP_CONNECT:
			turn_server_tcp_connect_result(
			        f->s, a->conn_id, (a->conn_id & 1) ? 111 : 0,
			        f->now_ms, &f->out);
			if (f->nconns < 16)
				f->conns[f->nconns++] = a->conn_id;
			break;
		case TURN_ACT_ALLOC_EVENT: {
			struct turn_alloc_view v;
			turn_alloc_describe(a->alloc, &v);
			break;
		}
		default:
			break;
		}
	}
	turn_actions_reset(&f->out);
}

static struct turn_alloc *some_alloc(struct fake *f, uint8_t pick)
{
	for (unsigned k = 0; k < MAX_RELAYS; k++) {
		struct turn_alloc *a = f->alloc[(pick + k) % MAX_RELAYS];
		if (a)
			return a;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake f;
	struct turn_server_cfg cfg;
	struct auth_store *store = NULL;
	struct auth_nonces *nonces = NULL;
	struct turn_policy *policy = NULL;
	struct turn_quota *quota = NULL;
	struct auth_nonce_key nk = {.id = 1};
	char err[AUTH_ERR_MAX];
	uint8_t buf[TURN_PEER_HEADROOM + 2048 + 8];

	memset(&f, 0, sizeof(f));
	memset(&cfg, 0, sizeof(cfg));
	memset(nk.bytes, 0x5a, sizeof(nk.bytes));
	addr(&cfg.relay_ips[0].local, 100, 0);
	cfg.relay_ips[0].advertise = cfg.relay_ips[0].local;
	addr(&cfg.relay_ips[1].local, 104, 0);
	cfg.relay_ips[1].advertise = cfg.relay_ips[1].local;
	cfg.nrelay_ips = 2;
	cfg.min_port = 50000;
	cfg.max_port = 50031;
	cfg.nworkers = 1;
	cfg.default_lifetime_s = 600;
	cfg.max_lifetime_s = 3600;
	cfg.permission_lifetime_s = 300;
	cfg.channel_lifetime_s = 600;
	cfg.max_bps = 100000;
	cfg.no_auth = true;
	cfg.cluster_quota = true;
	cfg.alloc_events = true;
	cfg.software = "fuzz";
	if (auth_store_new(&store, "fuzz.example", err, sizeof(err)) ||
	    auth_nonces_new(&nonces, 0, &nk) || turn_policy_new(&policy) ||
	    turn_quota_new(&quota, 4, 16))
		abort();
	f.now_ms = 1000000;
	f.now_s = 1700000000;
	if (turn_server_new(&f.s, &cfg, store, nonces, policy, quota, f.now_ms))
		abort();
	while (size >= 3) {
		uint8_t op = data[0], arg = data[1];
		size_t len = data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > 2048)
			len = 2048;
		uint8_t *p = buf + TURN_PEER_HEADROOM;
		memcpy(p, data, len);
		data += len;
		size -= len;
		struct turn_tuple t;
		memset(&t, 0, sizeof(t));
		addr(&t.client, op & 7, (uint16_t)(40000 + (op & 7)));
		t.transport = (uint8_t)((op >> 3) & 3);
		t.conn = t.transport == TURN_TRANSPORT_UDP ? 0 : (op & 7) + 1u;
		union turn_addr peer;
		addr(&peer, arg & 7, (uint16_t)(3000 + (arg >> 3)));
		struct turn_alloc *al;
		switch (op >> 5) {
		case 0:
		case 1:
		case 2:
			turn_server_input(f.s, &t, p, len, f.now_ms, f.now_s,
			                  &f.out);
			break;
		case 3:
			if ((al = some_alloc(&f, arg)))
				turn_server_peer_input(f.s, al, &peer, p, len,
				                       f.now_ms, &f.out);
			break;
		case 4:
			if ((al = some_alloc(&f, arg)))
				turn_server_peer_icmp(f.s, al, &peer, arg,
				                      (uint8_t)len, 1200,
				                      f.now_ms, &f.out);
			break;
		case 5:
			if ((al = some_alloc(&f, arg)))
				turn_server_tcp_incoming(f.s, al, &peer,
				                         f.now_ms, &f.out);
			break;
		case 6:
			if (arg & 1)
				turn_server_conn_closed(f.s, &t, &f.out);
			else if (f.nconns)
				turn_server_tcp_closed(f.s,
				                       f.conns[arg % f.nconns],
				                       len, arg, &f.out);
			break;
		default:
			f.now_ms += (uint64_t)arg * 1000 * (len + 1);
			f.now_s = 1700000000 + f.now_ms / 1000;
			turn_server_tick(f.s, f.now_ms, &f.out);
			break;
		}
		run(&f);
	}
	turn_server_free(f.s);
	turn_quota_free(quota);
	turn_policy_free(policy);
	auth_nonces_free(nonces);
	auth_store_free(store);
	return 0;
}
