/*
 * edge/config/config.h - the daemon configuration: one immutable snapshot built
 * from defaults, then the config file named by -c/--config, then the
 * command line (which wins; values of repeatable keys are appended).
 *
 * Keys and flags use coturn's names where the meaning is the same; coturn
 * keys avedge does not implement are accepted with one warning each, keys
 * nobody knows are fatal. docs/config.md lists every key.
 *
 * Nothing here prints, exits or touches the network: errors come back in
 * struct edge_config_err and warnings in edge_config.warnings, for main()
 * to log. Every string and list in the snapshot is malloc'd and owned by
 * it; edge_config_free() releases them. Reload (SIGHUP) loads a new
 * snapshot and swaps it; keys flagged EDGE_CK_RELOAD may change that way,
 * the others need a restart.
 *
 * Floor edge/config (docs/layout.md): the configuration snapshot and what
 * is derived from it without I/O beyond reading the file (realms.h), and
 * the admin API's in-process credential set (creds.h). Uses edge/base,
 * auth/ and turn/ only.
 */
#ifndef AVEDGE_EDGE_CONFIG_H
#define AVEDGE_EDGE_CONFIG_H

#include "edge/base/log.h" /* enum edge_log_level, edge_log_format */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct edge_str_list {
	char **v;
	size_t n;
};

/* An IP literal (listening-ip, relay-ip); port 0. */
struct edge_ip {
	char *text; /* as written */
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

struct edge_ip_list {
	struct edge_ip *v;
	size_t n;
};

/* external-ip = PUBLIC[/PRIVATE]; both of one family, ports 0. */
struct edge_external_ip {
	char *text;
	struct sockaddr_storage public_addr;
	struct sockaddr_storage private_addr;
	bool has_private;
};

struct edge_external_ip_list {
	struct edge_external_ip *v;
	size_t n;
};

/*
 * allowed-peer-ip / denied-peer-ip: an address, ADDR/PREFIX or ADDR-ADDR,
 * as the inclusive range lo..hi in network byte order (IPv4 uses the first
 * 4 bytes). Host bits of ADDR/PREFIX are masked off.
 */
struct edge_ip_range {
	char *text;
	int family; /* AF_INET or AF_INET6 */
	uint8_t lo[16];
	uint8_t hi[16];
};

struct edge_ip_range_list {
	struct edge_ip_range *v;
	size_t n;
};

/* user = NAME:PASSWORD, or NAME:0xKEY with KEY = MD5(name:realm:password). */
struct edge_user {
	char *name;
	char *password; /* NULL when has_key */
	uint8_t key[16];
	bool has_key;
};

struct edge_user_list {
	struct edge_user *v;
	size_t n;
};

/*
 * The realm keys (several realms, docs/config.md "Realms"): REALM, a
 * separator, then what the key takes:
 *   realm-listener    = REALM@IP, REALM@IP:PORT, REALM@[IPv6]:PORT
 *   realm-sni         = REALM@HOSTNAME
 *   realm-user        = REALM:NAME:PASSWORD (or REALM:NAME:0xKEY)
 *   realm-secret      = REALM:SECRET
 *   realm-user-quota  = REALM:N
 *   realm-total-quota = REALM:N
 * REALM is 1..763 printable characters without blanks, ':' or '@'.
 */
struct edge_realm_item {
	char *text;  /* the value as written (first: list equality) */
	char *realm; /* NUL-terminated */
	struct sockaddr_storage addr; /* realm-listener; port 0: any */
	char *host;                   /* realm-sni, lower case */
	struct edge_user user;        /* realm-user */
	char *secret;                 /* realm-secret */
	uint32_t n;                   /* realm-*-quota */
};

struct edge_realm_list {
	struct edge_realm_item *v;
	size_t n;
};

/*
 * The bandwidth keys (docs/config.md "Bandwidth classes"):
 *   bandwidth-class       = NAME:BYTES_PER_S[:BURST_BYTES[:DSCP]]
 *   realm-bandwidth-class = REALM:NAME
 *   user-bandwidth-class  = USER:NAME
 * Checked as each line is read: the syntax, the ranges, a class defined
 * twice, a realm or user mapped twice. Once every key is read
 * (edge_config_check_bw): every class named is defined.
 */
struct edge_bw_item {
	char *text; /* the value as written (first: list equality) */
	char *key;  /* REALM or USER; NULL for bandwidth-class */
	char *cls;  /* the class's name */
	uint64_t rate_bps, burst_bytes; /* bandwidth-class; burst 0: rate */
	int dscp;                       /* bandwidth-class; -1: none */
	unsigned line; /* where it was read in the config file; 0: the
	                * command line */
};

struct edge_bw_list {
	struct edge_bw_item *v;
	size_t n;
};

/* redis = redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]; url NULL if unset. */
struct edge_redis_url {
	char *url;
	char *user;     /* NULL if none */
	char *password; /* NULL if none */
	char *host;     /* name or IP literal, without brackets */
	uint16_t port;  /* 6379 if not given */
	uint32_t db;    /* 0 if not given */
};

/* ADDR:PORT with an IP literal, IPv6 as [ADDR]:PORT; text NULL if unset. */
struct edge_hostport {
	char *text;
	struct sockaddr_storage addr;
	socklen_t addr_len;
};

/* The snapshot. Field comments give the key; docs/config.md the meaning. */
struct edge_config {
	/* command line only */
	char *config_file; /* config; NULL if none */
	bool help;         /* help: caller prints edge_config_help(), exits 0 */
	bool version;      /* version */

	/* core */
	struct edge_ip_list listening_ips; /* empty: all addresses */
	uint16_t listening_port;
	uint16_t tls_listening_port;
	uint16_t dtls_listening_port; /* 0: same as tls_listening_port */
	uint32_t threads;             /* threads, relay-threads; 0: per core */
	bool no_udp;
	bool no_tcp;
	bool no_tls;
	bool no_dtls;
	char *log_file; /* NULL: stderr */
	enum edge_log_level log_level;
	enum edge_log_format log_format;
	bool syslog;
	char *lock_dir; /* NULL: /run/lock/avedge, else $TMPDIR or /tmp */

	/* relay */
	struct edge_ip_list relay_ips;
	struct edge_external_ip_list external_ips;
	uint16_t min_port;
	uint16_t max_port;
	uint32_t max_allocate_lifetime_s;
	struct edge_ip_range_list allowed_peer_ips;
	struct edge_ip_range_list denied_peer_ips;
	bool allow_loopback_peers;
	bool no_tcp_relay;
	bool rfc5766_channel_numbers;
	uint32_t socket_rcvbuf; /* bytes; 0: kernel default */
	uint32_t socket_sndbuf; /* bytes; 0: kernel default */
	uint32_t sock_buf_size; /* relay sockets, both ways; 0: kernel's */
	uint64_t max_bps;       /* bytes/s per direction; 0: unlimited */
	uint64_t bps_capacity;  /* bytes/s per direction; 0: no limit */
	uint64_t unlimited_reservation; /* bytes/s an unlimited one reserves */
	uint32_t user_quota;            /* allocations per user; 0: unlimited */
	uint32_t total_quota;     /* allocations per realm; 0: unlimited */
	uint32_t max_allocations; /* on this node; 0: unlimited */
	/* bandwidth classes (struct edge_bw_item) */
	struct edge_bw_list bw_classes, bw_realms, bw_users;
	char *default_bw_class; /* default-bandwidth-class; NULL: none */

	/* auth */
	char *realm;
	struct edge_user_list users;
	char *user_file;
	struct edge_str_list static_auth_secrets;
	bool use_auth_secret;
	bool lt_cred_mech;
	bool no_auth;
	uint32_t auth_rate_limit; /* challenges/s per source IP; 0: off */
	uint32_t auth_rate_burst;
	uint32_t nonce_key_rotation_s; /* nonce-key-rotation */
	/* several realms (struct edge_realm_item) */
	struct edge_realm_list realm_listeners, realm_snis, realm_users,
	        realm_secrets, realm_user_quotas, realm_total_quotas;

	/* TLS and connections */
	char *cert;
	char *pkey; /* NULL: the key is in the cert file */
	char *cipher_list;
	uint32_t max_connections_per_ip; /* 0: unlimited */
	uint32_t max_connections;        /* 0: bounded by RLIMIT_NOFILE */
	uint32_t handshake_timeout_s;
	uint32_t idle_timeout_s;

	/* cluster */
	struct edge_redis_url redis;
	char *node_id;     /* NULL: main() uses the host name */
	char *node_domain; /* NULL: none (no ALTERNATE-DOMAIN to here) */
	uint32_t node_ttl_s;
	uint32_t redis_timeout_ms;

	/* admin */
	struct edge_hostport admin_listen; /* text NULL: no admin server */
	char *admin_cert;
	char *admin_pkey;
	char *admin_token;
	char *admin_token_file;

	/* "FILE:LINE: ..." lines for the caller to log; owned here */
	struct edge_str_list warnings;
};

struct edge_config_err {
	char msg[512]; /* "FILE:LINE: key 'K': expected ..., got '...'" */
};

/* The realms of cfg, realm first, then each one a realm-listener or
 * realm-sni names, in order of appearance, once each: realm i of the
 * node (turn_tuple.realm). Writes up to cap names (borrowed from cfg) and
 * returns how many there are. */
size_t edge_config_realms(const struct edge_config *cfg, const char **names,
                          size_t cap);
/* The loader's checks across the realm keys: 0, or 1 with *key the key
 * at fault and why the problem (edge/config/config_realms.c). */
int edge_config_check_realms(const struct edge_config *cfg, const char **key,
                             char *why, size_t len);
/* The loader's checks across the bandwidth keys (every class named is
 * defined, every realm mapped is one of edge_config_realms()): 0, or 1 with
 * *key the key at fault, *line where its value was read (0: the command line,
 * or not known) and why (edge/config/config_bw.c). */
int edge_config_check_bw(const struct edge_config *cfg, const char **key,
                         unsigned *line, char *why, size_t len);

/*
 * Fill *cfg with the defaults of every key (cfg need not be initialised).
 * Returns 0 or ENOMEM (EINVAL: a default in the table does not parse, a
 * bug the unit test catches); on error *cfg is freed and zeroed.
 */
int edge_config_defaults(struct edge_config *cfg);

/*
 * Build *cfg (need not be initialised) from the defaults, the config file
 * given by -c/--config (if any), then argv[1..argc-1]. If -h/--help or
 * -v/--version is present, only cfg->help / cfg->version is set and no file
 * is read. Returns 0, or a positive errno with err->msg set (EINVAL for a
 * bad key or value, the fopen errno for an unreadable file, ENOMEM); on
 * error *cfg is freed and zeroed, so edge_config_free() is still safe.
 * argv is not modified or kept.
 */
int edge_config_load(struct edge_config *cfg, int argc, char **argv,
                     struct edge_config_err *err);

/* Print every key with its type, default and description, grouped. */
void edge_config_help(FILE *out);

/* Free everything *cfg owns (secrets are wiped) and zero it; NULL is ok. */
void edge_config_free(struct edge_config *cfg);

/* Parse one allowed-peer-ip / denied-peer-ip value (IP, IP/PREFIX or
 * IP-IP) into r, as the config file does; r->text is left alone. true
 * if it is one (for ranges read from elsewhere: edge/redis/peer_ip.c). */
bool edge_ip_range_parse(const char *v, struct edge_ip_range *r);

/*
 * The key table (edge/config/config_keys.c): a read-only description of every
 * key, used by the loader, --help, tests and reload. The parser of each type is
 * in edge/config/config_values.c.
 */
enum edge_config_type {
	EDGE_CT_BOOL,
	EDGE_CT_U16,
	EDGE_CT_U32,
	EDGE_CT_U64,
	EDGE_CT_SIZE, /* uint32_t bytes, suffix k, m or g (x1024) allowed */
	EDGE_CT_STR,  /* min..max = length; empty (if min is 0) = NULL */
	EDGE_CT_NAME, /* a STR of [A-Za-z0-9._-] */
	EDGE_CT_STR_LIST,
	EDGE_CT_IP_LIST,
	EDGE_CT_EXTERNAL_IP_LIST,
	EDGE_CT_IP_RANGE_LIST,
	EDGE_CT_USER_LIST,
	EDGE_CT_LOG_LEVEL,
	EDGE_CT_LOG_FORMAT,
	EDGE_CT_REDIS_URL,
	EDGE_CT_HOSTPORT,
	EDGE_CT_REALM_LIST, /* struct edge_realm_list; the key's name says
	                     * which form (struct edge_realm_item) */
	EDGE_CT_BW_LIST,    /* struct edge_bw_list; the key's name says which
	                     * form */
};

enum edge_config_group {
	EDGE_CG_CORE,
	EDGE_CG_RELAY,
	EDGE_CG_AUTH,
	EDGE_CG_TLS,
	EDGE_CG_CLUSTER,
	EDGE_CG_ADMIN,
	EDGE_CG_COUNT,
};

enum {
	EDGE_CK_CMDLINE = 1 << 0, /* only valid on the command line */
	EDGE_CK_RELOAD = 1 << 1,  /* SIGHUP applies it; others need restart */
	EDGE_CK_SECRET = 1 << 2,  /* never echo the value in messages */
	EDGE_CK_ALIAS = 1 << 3,   /* another name for the key before it */
};

struct edge_config_key {
	const char *name;
	enum edge_config_type type;
	size_t offset;     /* of the field in struct edge_config */
	uint64_t min, max; /* numbers: range; strings: length */
	const char *def;   /* default, parsed by edge_config_defaults */
	const char *arg;   /* value placeholder for --help; NULL for bool */
	enum edge_config_group group;
	unsigned flags; /* EDGE_CK_* */
	const char *help;
};

/* A coturn key avedge ignores; takes_value: "--key VALUE" on the cmdline. */
struct edge_config_coturn_key {
	const char *name;
	bool takes_value;
};

extern const struct edge_config_key edge_config_keys[];
extern const size_t edge_config_nkeys;
extern const struct edge_config_coturn_key edge_config_coturn_keys[];
extern const size_t edge_config_ncoturn_keys;
extern const char *const edge_config_group_names[EDGE_CG_COUNT];

/* The key named name (exact), or NULL. */
const struct edge_config_key *edge_config_key_find(const char *name);

/* The coturn-only key named name, or NULL. */
const struct edge_config_coturn_key *
edge_config_coturn_key_find(const char *name);

/*
 * Parse value (NULL: the key was given bare) into k's field of cfg: set it,
 * or append for list types. Returns 0, ENOMEM, or EINVAL with why set to
 * "expected ..., got '...'" (secrets shown as ***).
 */
int edge_config_key_parse(const struct edge_config_key *k,
                          struct edge_config *cfg, const char *value, char *why,
                          size_t why_len);

/* The bandwidth keys' parser and release (config_bw.c, for
 * config_values.c's table), and the line of the value just appended to
 * k's list (the loader's, after a successful parse). */
int edge_config_bw_parse(const struct edge_config_key *k, void *field,
                         const char *value, char *why, size_t why_len);
void edge_config_bw_release(void *field);
void edge_config_bw_mark(const struct edge_config_key *k,
                         struct edge_config *cfg, unsigned line);

/* Whether k's field holds the same value in a and b (lists: the same
 * entries in the same order, addresses compared as written). */
bool edge_config_key_equal(const struct edge_config_key *k,
                           const struct edge_config *a,
                           const struct edge_config *b);

/* Free k's field of cfg and zero it. */
void edge_config_key_release(const struct edge_config_key *k,
                             struct edge_config *cfg);

#endif
