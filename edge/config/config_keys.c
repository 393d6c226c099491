/*
 * edge/config/config_keys.c - every configuration key (name, type, range,
 * default, help, flags) and the coturn keys avedge accepts and ignores. Data
 * and lookups only; config_values.c parses each value type. Pure.
 */
#include "edge/config/config.h"

#include <string.h>

/* The C type behind each enum edge_config_type, checked at compile time. */
#define T_BOOL             bool
#define T_U16              uint16_t
#define T_U32              uint32_t
#define T_U64              uint64_t
#define T_SIZE             uint32_t
#define T_STR              char *
#define T_NAME             char *
#define T_STR_LIST         struct edge_str_list
#define T_IP_LIST          struct edge_ip_list
#define T_EXTERNAL_IP_LIST struct edge_external_ip_list
#define T_IP_RANGE_LIST    struct edge_ip_range_list
#define T_USER_LIST        struct edge_user_list
#define T_LOG_LEVEL        enum edge_log_level
#define T_LOG_FORMAT       enum edge_log_format
#define T_REDIS_URL        struct edge_redis_url
#define T_HOSTPORT         struct edge_hostport
#define T_REALM_LIST       struct edge_realm_list
#define T_BW_LIST          struct edge_bw_list

#define FIELD(t, f)                                                            \
	(offsetof(struct edge_config, f) +                                     \
	 0 * sizeof(char[__builtin_types_compatible_p(                         \
	                         __typeof__(((struct edge_config *)0)->f),     \
	                         T_##t)                                        \
	                         ? 1                                           \
	                         : -1]))

#define KEY(g, n, t, f, lo, hi, d, a, fl, h)                                   \
	{                                                                      \
		.name = n, .type = EDGE_CT_##t, .offset = FIELD(t, f),         \
		.min = lo, .max = hi, .def = d, .arg = a,                      \
		.group = EDGE_CG_##g, .flags = fl, .help = h                   \
	}
#define FLAG(g, n, f, fl, h)             KEY(g, n, BOOL, f, 0, 1, NULL, NULL, fl, h)
#define NUM(g, n, t, f, lo, hi, d, a, h) KEY(g, n, t, f, lo, hi, d, a, 0, h)
#define PATH(g, n, f, fl, h)             KEY(g, n, STR, f, 0, 4095, NULL, "FILE", fl, h)
#define LIST(g, n, t, f, a, fl, h)       KEY(g, n, t, f, 0, 0, NULL, a, fl, h)

#define RELOAD EDGE_CK_RELOAD
#define SECRET EDGE_CK_SECRET

const struct edge_config_key edge_config_keys[] = {
        KEY(CORE, "config", STR, config_file, 1, 4095, NULL, "FILE",
            EDGE_CK_CMDLINE, "read FILE (key = value lines) first"),
        FLAG(CORE, "help", help, EDGE_CK_CMDLINE, "print this help and exit"),
        FLAG(CORE, "version", version, EDGE_CK_CMDLINE,
             "print the version and exit"),
        LIST(CORE, "listening-ip", IP_LIST, listening_ips, "IP", 0,
             "listen on IP; none given: all addresses"),
        NUM(CORE, "listening-port", U16, listening_port, 1, 65535, "3478",
            "PORT", "UDP and TCP listening port"),
        NUM(CORE, "tls-listening-port", U16, tls_listening_port, 1, 65535,
            "5349", "PORT", "TLS listening port"),
        NUM(CORE, "dtls-listening-port", U16, dtls_listening_port, 0, 65535,
            "0", "PORT", "DTLS listening port; 0: tls-listening-port"),
        NUM(CORE, "threads", U32, threads, 0, 256, "0", "N",
            "worker threads; 0: one per CPU core"),
        KEY(CORE, "relay-threads", U32, threads, 0, 256, NULL, "N",
            EDGE_CK_ALIAS, "alias of threads (coturn's name)"),
        FLAG(CORE, "no-udp", no_udp, 0, "no UDP listener"),
        FLAG(CORE, "no-tcp", no_tcp, 0, "no TCP listener"),
        FLAG(CORE, "no-tls", no_tls, 0, "no TLS listener"),
        FLAG(CORE, "no-dtls", no_dtls, 0, "no DTLS listener"),
        PATH(CORE, "log-file", log_file, 0,
             "log to FILE (reopened on SIGHUP); stdout, stderr; unset: stderr"),
        KEY(CORE, "log-level", LOG_LEVEL, log_level, 0, 0, "info", "LEVEL",
            RELOAD, "error, warn, info or debug"),
        KEY(CORE, "log-format", LOG_FORMAT, log_format, 0, 0, "text", "FORMAT",
            0, "text, or json (one object per line)"),
        FLAG(CORE, "syslog", syslog, 0, "also log to syslog"),
        PATH(CORE, "lock-dir", lock_dir, 0,
             "directory of the per-port lock files; unset: /run/lock/avedge "
             "(or $TMPDIR/avedge-locks when /run/lock is not writable)"),

        LIST(RELAY, "relay-ip", IP_LIST, relay_ips, "IP", 0,
             "bind relay sockets to IP; none: the address the client reached"),
        LIST(RELAY, "external-ip", EXTERNAL_IP_LIST, external_ips,
             "PUBLIC[/PRIVATE]", 0,
             "advertise PUBLIC for relay address PRIVATE (1:1 NAT)"),
        NUM(RELAY, "min-port", U16, min_port, 1, 65535, "49152", "PORT",
            "lowest relay port"),
        NUM(RELAY, "max-port", U16, max_port, 1, 65535, "65535", "PORT",
            "highest relay port"),
        NUM(RELAY, "max-allocate-lifetime", U32, max_allocate_lifetime_s, 60,
            86400, "3600", "SECONDS", "longest allocation lifetime granted"),
        LIST(RELAY, "allowed-peer-ip", IP_RANGE_LIST, allowed_peer_ips, "RANGE",
             RELOAD, "allow peers in RANGE (IP, IP/PREFIX or IP-IP)"),
        LIST(RELAY, "denied-peer-ip", IP_RANGE_LIST, denied_peer_ips, "RANGE",
             RELOAD, "deny peers in RANGE (IP, IP/PREFIX or IP-IP)"),
        FLAG(RELAY, "allow-loopback-peers", allow_loopback_peers, RELOAD,
             "allow loopback peers (tests only)"),
        FLAG(RELAY, "no-tcp-relay", no_tcp_relay, 0,
             "refuse TCP relay allocations (RFC 6062)"),
        FLAG(RELAY, "rfc5766-channel-numbers", rfc5766_channel_numbers, 0,
             "accept channel numbers 0x4000-0x7FFF (RFC 5766, coturn's "
             "turnutils_uclient); off: 0x4000-0x4FFF (RFC 8656)"),
        NUM(RELAY, "socket-rcvbuf", SIZE, socket_rcvbuf, 0, 1u << 30, "4m",
            "BYTES",
            "SO_RCVBUF of the UDP listening sockets (each carries all "
            "clients of a worker: room for bursts); 0: kernel's"),
        NUM(RELAY, "socket-sndbuf", SIZE, socket_sndbuf, 0, 1u << 30, "4m",
            "BYTES", "SO_SNDBUF of the UDP listening sockets; 0: kernel's"),
        NUM(RELAY, "sock-buf-size", SIZE, sock_buf_size, 0, 1u << 30, "1m",
            "BYTES",
            "SO_RCVBUF and SO_SNDBUF of each UDP relay socket (room for a "
            "hot allocation's bursts); 0: kernel's"),
        KEY(RELAY, "max-bps", U64, max_bps, 0, 1ull << 40, "0", "BYTES/S",
            RELOAD, "bandwidth per allocation and direction; 0: unlimited"),
        KEY(RELAY, "bps-capacity", U64, bps_capacity, 0, 1ull << 40, "0",
            "BYTES/S", RELOAD,
            "bandwidth the node admits per direction: the sum of its "
            "allocations' class rates; 0: no limit"),
        KEY(RELAY, "unlimited-class-reservation", U64, unlimited_reservation, 1,
            1ull << 40, "125000", "BYTES/S", RELOAD,
            "what an allocation of no rate reserves in bps-capacity"),
        LIST(RELAY, "bandwidth-class", BW_LIST, bw_classes,
             "NAME:BYTES_PER_S[:BURST_BYTES[:DSCP]]", RELOAD,
             "a bandwidth class (new allocations): rate per allocation and "
             "direction, burst (default: one second's worth), DSCP 0..63 "
             "of what its relay sockets send"),
        KEY(RELAY, "default-bandwidth-class", NAME, default_bw_class, 1, 32,
            NULL, "NAME", RELOAD,
            "class of allocations no other rule places; unset: max-bps"),
        LIST(RELAY, "realm-bandwidth-class", BW_LIST, bw_realms, "REALM:NAME",
             RELOAD, "class of REALM's allocations"),
        LIST(RELAY, "user-bandwidth-class", BW_LIST, bw_users, "USER:NAME",
             RELOAD, "class of static user USER's allocations (wins)"),
        KEY(RELAY, "user-quota", U32, user_quota, 0, UINT32_MAX, "0", "N",
            RELOAD,
            "allocations per user (cluster-wide with redis); 0: unlimited"),
        KEY(RELAY, "total-quota", U32, total_quota, 0, UINT32_MAX, "0", "N",
            RELOAD,
            "allocations per realm (cluster-wide with redis); 0: unlimited"),
        KEY(RELAY, "max-allocations", U32, max_allocations, 0, UINT32_MAX, "0",
            "N", RELOAD, "allocations on this node; 0: unlimited"),

        KEY(AUTH, "realm", STR, realm, 1, 763, "avedge.local", "REALM", 0,
            "realm of long-term credentials; the same on every node"),
        LIST(AUTH, "user", USER_LIST, users, "NAME:PASSWORD", RELOAD | SECRET,
             "static user; PASSWORD may be 0x + 32 hex digits (MD5 key)"),
        PATH(AUTH, "user-file", user_file, RELOAD,
             "read NAME:PASSWORD lines from FILE (re-read on SIGHUP)"),
        KEY(AUTH, "static-auth-secret", STR_LIST, static_auth_secrets, 1, 4096,
            NULL, "SECRET", RELOAD | SECRET,
            "TURN REST API secret; several: any one matches (rotation)"),
        FLAG(AUTH, "use-auth-secret", use_auth_secret, 0,
             "coturn compatibility: on whenever a secret is set"),
        FLAG(AUTH, "lt-cred-mech", lt_cred_mech, 0,
             "coturn compatibility: long-term credentials are always used"),
        FLAG(AUTH, "no-auth", no_auth, 0,
             "TURN without authentication (tests only; warns)"),
        NUM(AUTH, "auth-rate-limit", U32, auth_rate_limit, 0, 1000000, "500",
            "N", "401 challenges per second per source IP; 0: no limit"),
        NUM(AUTH, "auth-rate-burst", U32, auth_rate_burst, 0, 10000000, "2000",
            "N", "challenges allowed in a burst above the rate"),
        NUM(AUTH, "nonce-key-rotation", U32, nonce_key_rotation_s, 2, 31536000,
            "86400", "SECONDS",
            "replace the nonce key this often (the cluster's with redis); "
            "the old one stays good for one more period"),
        LIST(AUTH, "realm-listener", REALM_LIST, realm_listeners,
             "REALM@IP[:PORT]", 0,
             "requests to this listening-ip (any port, or PORT) are in "
             "REALM"),
        LIST(AUTH, "realm-sni", REALM_LIST, realm_snis, "REALM@HOSTNAME", 0,
             "TLS connections whose SNI is HOSTNAME are in REALM"),
        LIST(AUTH, "realm-user", REALM_LIST, realm_users, "REALM:NAME:PASSWORD",
             RELOAD | SECRET,
             "static user of REALM; PASSWORD may be 0x + 32 hex digits"),
        LIST(AUTH, "realm-secret", REALM_LIST, realm_secrets, "REALM:SECRET",
             RELOAD | SECRET, "TURN REST API secret of REALM (repeatable)"),
        LIST(AUTH, "realm-user-quota", REALM_LIST, realm_user_quotas, "REALM:N",
             RELOAD, "user-quota of REALM; 0: unlimited"),
        LIST(AUTH, "realm-total-quota", REALM_LIST, realm_total_quotas,
             "REALM:N", RELOAD, "total-quota of REALM; 0: unlimited"),

        PATH(TLS, "cert", cert, RELOAD,
             "certificate chain (PEM) for TLS/DTLS; re-read on SIGHUP"),
        PATH(TLS, "pkey", pkey, RELOAD, "private key (PEM); unset: in cert"),
        KEY(TLS, "cipher-list", STR, cipher_list, 0, 4096, NULL, "CIPHERS",
            RELOAD, "OpenSSL cipher list for TLS 1.2; unset: ECDHE only"),
        NUM(TLS, "max-connections-per-ip", U32, max_connections_per_ip, 0,
            UINT32_MAX, "10000", "N",
            "TCP/TLS connections per client IP; 0: unlimited"),
        NUM(TLS, "max-connections", U32, max_connections, 0, UINT32_MAX, "0",
            "N", "TCP/TLS connections in all; 0: file descriptor limit"),
        NUM(TLS, "handshake-timeout", U32, handshake_timeout_s, 1, 300, "10",
            "SECONDS", "handshake and first message; any frame once begun"),
        NUM(TLS, "idle-timeout", U32, idle_timeout_s, 10, 86400, "300",
            "SECONDS", "close a stream silent before its first message"),

        KEY(CLUSTER, "redis", REDIS_URL, redis, 0, 0, NULL, "URL", SECRET,
            "redis://[:PASSWORD@]HOST[:PORT][/DB]; unset: standalone"),
        KEY(CLUSTER, "node-id", NAME, node_id, 1, 64, NULL, "ID", 0,
            "unique node id (A-Z a-z 0-9 . _ -); unset: host name"),
        KEY(CLUSTER, "node-domain", NAME, node_domain, 1, 253, NULL, "NAME", 0,
            "this node's public DNS name, sent as ALTERNATE-DOMAIN "
            "to TLS/DTLS clients other nodes redirect here"),
        NUM(CLUSTER, "node-ttl", U32, node_ttl_s, 3, 3600, "15", "SECONDS",
            "a node silent this long leaves the registry"),
        NUM(CLUSTER, "redis-timeout", U32, redis_timeout_ms, 10, 60000, "200",
            "MS", "Redis command timeout in milliseconds"),

        KEY(ADMIN, "admin-listen", HOSTPORT, admin_listen, 0, 0, NULL,
            "ADDR:PORT", 0,
            "admin HTTP API on ADDR:PORT ([v6]:PORT); unset: off"),
        PATH(ADMIN, "admin-cert", admin_cert, RELOAD,
             "serve the admin API over TLS with this certificate"),
        PATH(ADMIN, "admin-pkey", admin_pkey, RELOAD,
             "admin TLS private key; unset: in admin-cert"),
        KEY(ADMIN, "admin-token", STR, admin_token, 16, 4096, NULL, "TOKEN",
            RELOAD | SECRET, "bearer token the admin API requires"),
        PATH(ADMIN, "admin-token-file", admin_token_file, RELOAD,
             "read the admin token from FILE"),
};

const size_t edge_config_nkeys =
        sizeof(edge_config_keys) / sizeof(edge_config_keys[0]);

const char *const edge_config_group_names[EDGE_CG_COUNT] = {
        [EDGE_CG_CORE] = "Core",
        [EDGE_CG_RELAY] = "Relay",
        [EDGE_CG_AUTH] = "Authentication",
        [EDGE_CG_TLS] = "TLS and connections",
        [EDGE_CG_CLUSTER] = "Cluster",
        [EDGE_CG_ADMIN] = "Admin",
};

/* coturn 4.6 long options (src/apps/relay/mainrelay.c) we do not implement. */
#define V(n)                                                                   \
	{                                                                      \
		n, true                                                        \
	}
#define B(n)                                                                   \
	{                                                                      \
		n, false                                                       \
	}
const struct edge_config_coturn_key edge_config_coturn_keys[] = {
        V("listening-device"),
        V("alt-listening-port"),
        V("alt-tls-listening-port"),
        V("tcp-proxy-port"),
        V("relay-device"),
        V("userdb"),
        V("db"),
        V("psql-userdb"),
        V("sql-userdb"),
        V("mysql-userdb"),
        V("mongo-userdb"),
        V("redis-userdb"),
        V("redis-statsdb"),
        B("prometheus"),
        B("prometheus-port"),
        B("prometheus-address"),
        B("prometheus-username-labels"),
        B("no-auth-pings"),
        B("no-dynamic-ip-list"),
        B("no-dynamic-realms"),
        V("server-name"),
        B("oauth"),
        B("verbose"),
        B("Verbose"),
        B("daemon"),
        B("no-software-attribute"),
        B("software-attribute"),
        B("fingerprint"),
        B("check-origin-consistency"),
        B("no-udp-relay"),
        B("stale-nonce"),
        B("channel-lifetime"),
        B("permission-lifetime"),
        B("stun-only"),
        B("no-stun"),
        B("raw-public-keys"),
        V("pkey-pwd"),
        B("no-stdout-log"),
        B("simple-log"),
        B("new-log-timestamp"),
        V("new-log-timestamp-format"),
        V("aux-server"),
        B("udp-self-balance"),
        V("alternate-server"),
        V("tls-alternate-server"),
        V("rest-api-separator"),
        V("max-allocate-timeout"),
        B("no-multicast-peers"),
        V("pidfile"),
        B("secure-stun"),
        V("CA-file"),
        V("dh-file"),
        V("proc-user"),
        V("proc-group"),
        B("mobility"),
        B("no-cli"),
        V("cli-ip"),
        V("cli-port"),
        V("cli-password"),
        B("web-admin"),
        V("web-admin-ip"),
        V("web-admin-port"),
        B("web-admin-listen-on-workers"),
        B("server-relay"),
        V("cli-max-output-sessions"),
        V("ec-curve-name"),
        B("dh566"),
        B("dh1066"),
        V("ne"),
        B("no-tlsv1"),
        B("no-tlsv1_1"),
        B("no-tlsv1_2"),
        V("secret-key-file"),
        B("keep-address-family"),
        V("allocation-default-address-family"),
        V("acme-redirect"),
        B("log-binding"),
        B("no-rfc5780"),
        B("no-stun-backward-compatibility"),
        B("response-origin-only-with-rfc5780"),
        B("respond-http-unsupported"),
        V("syslog-facility"),
};
#undef V
#undef B

const size_t edge_config_ncoturn_keys =
        sizeof(edge_config_coturn_keys) / sizeof(edge_config_coturn_keys[0]);

const struct edge_config_key *edge_config_key_find(const char *name)
{
	for (size_t i = 0; i < edge_config_nkeys; i++)
		if (strcmp(edge_config_keys[i].name, name) == 0)
			return &edge_config_keys[i];
	return NULL;
}

const struct edge_config_coturn_key *
edge_config_coturn_key_find(const char *name)
{
	for (size_t i = 0; i < edge_config_ncoturn_keys; i++)
		if (strcmp(edge_config_coturn_keys[i].name, name) == 0)
			return &edge_config_coturn_keys[i];
	return NULL;
}
