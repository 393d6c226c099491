/*
 * tests/unit/test_edge_config.c - the configuration loader: defaults,
 * file and command-line syntax, precedence, lists, every value type, error
 * messages (file, line, key, expectation), coturn keys and --help.
 * Config files are written under a mkdtemp directory per test.
 */
#include "check_main.h"
#include "edge/config/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char dir[PATH_MAX];
static char conf[PATH_MAX + 16];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/avedge-config-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/edge.conf", dir);
}

static void teardown(void)
{
	unlink(conf);
	rmdir(dir);
}

static const char *write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return conf;
}

/* Load with argv = {"avedge", args..., NULL}. */
static int load(struct edge_config *cfg, struct edge_config_err *err, ...)
{
	char *argv[32] = {"avedge"};
	int argc = 1;
	va_list ap;

	va_start(ap, err);
	while ((argv[argc] = va_arg(ap, char *)))
		ck_assert_int_lt(++argc, 31);
	va_end(ap);
	return edge_config_load(cfg, argc, argv, err);
}

/* Load expecting failure; the error message must contain every needle. */
static void load_fails(const char *needle1, const char *needle2, ...)
{
	struct edge_config cfg;
	struct edge_config_err err;
	char *argv[32] = {"avedge"};
	int argc = 1;
	va_list ap;

	va_start(ap, needle2);
	while ((argv[argc] = va_arg(ap, char *)))
		ck_assert_int_lt(++argc, 31);
	va_end(ap);
	ck_assert_int_ne(edge_config_load(&cfg, argc, argv, &err), 0);
	ck_assert_msg(strstr(err.msg, needle1), "'%s' lacks '%s'", err.msg,
	              needle1);
	if (needle2)
		ck_assert_msg(strstr(err.msg, needle2), "'%s' lacks '%s'",
		              err.msg, needle2);
	edge_config_free(&cfg); /* zeroed on error: must be harmless */
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void ip_of(const struct sockaddr_storage *ss, char *buf)
{
	const void *a =
	        ss->ss_family == AF_INET
	                ? (const void *)&((const struct sockaddr_in *)ss)
	                          ->sin_addr
	                : (const void *)&((const struct sockaddr_in6 *)ss)
	                          ->sin6_addr;
	ck_assert_ptr_nonnull(inet_ntop(ss->ss_family, a, buf, 64));
}

/* ---- defaults and the key table ---- */

START_TEST(test_config_defaults)
{
	struct edge_config c;
	struct edge_config_err err;

	ck_assert_int_eq(load(&c, &err, NULL), 0);
	ck_assert_uint_eq(c.listening_ips.n, 0);
	ck_assert_uint_eq(c.listening_port, 3478);
	ck_assert_uint_eq(c.nonce_key_rotation_s, 86400);
	ck_assert_uint_eq(c.tls_listening_port, 5349);
	ck_assert_uint_eq(c.dtls_listening_port, 0);
	ck_assert_uint_eq(c.threads, 0);
	ck_assert(!c.no_udp && !c.no_tcp && !c.no_tls && !c.no_dtls);
	ck_assert_ptr_null(c.log_file);
	ck_assert_int_eq(c.log_level, EDGE_LOG_INFO);
	ck_assert_int_eq(c.log_format, EDGE_LOG_TEXT);
	ck_assert_uint_eq(c.min_port, 49152);
	ck_assert_uint_eq(c.max_port, 65535);
	ck_assert_uint_eq(c.max_allocate_lifetime_s, 3600);
	ck_assert_uint_eq(c.max_bps, 0);
	ck_assert_uint_eq(c.socket_rcvbuf, 4u << 20);
	ck_assert_uint_eq(c.sock_buf_size, 1u << 20);
	ck_assert_str_eq(c.realm, "avedge.local");
	ck_assert_uint_eq(c.auth_rate_limit, 500);
	ck_assert_uint_eq(c.auth_rate_burst, 2000);
	ck_assert_uint_eq(c.max_connections_per_ip, 10000);
	ck_assert_uint_eq(c.max_connections, 0);
	ck_assert_uint_eq(c.handshake_timeout_s, 10);
	ck_assert_uint_eq(c.idle_timeout_s, 300);
	ck_assert_ptr_null(c.redis.url);
	ck_assert_ptr_null(c.node_id);
	ck_assert_uint_eq(c.node_ttl_s, 15);
	ck_assert_uint_eq(c.redis_timeout_ms, 200);
	ck_assert_ptr_null(c.admin_listen.text);
	ck_assert_ptr_null(c.config_file);
	ck_assert(!c.help && !c.version && !c.no_auth);
	ck_assert_uint_eq(c.warnings.n, 0);
	edge_config_free(&c);
	edge_config_free(&c);
	edge_config_free(NULL);
}
END_TEST

START_TEST(test_config_key_table_is_consistent)
{
	for (size_t i = 0; i < edge_config_nkeys; i++) {
		const struct edge_config_key *k = &edge_config_keys[i];
		ck_assert_ptr_eq(edge_config_key_find(k->name), k);
		ck_assert_ptr_null(edge_config_coturn_key_find(k->name));
		ck_assert_msg(k->help && *k->help, "%s: no help", k->name);
		ck_assert_msg((k->type == EDGE_CT_BOOL) == (k->arg == NULL),
		              "%s: arg", k->name);
	}
	for (size_t i = 0; i < edge_config_ncoturn_keys; i++) {
		const char *n = edge_config_coturn_keys[i].name;
		ck_assert_ptr_eq(edge_config_coturn_key_find(n),
		                 &edge_config_coturn_keys[i]);
		ck_assert_ptr_null(edge_config_key_find(n));
	}
}
END_TEST

/* ---- syntax and precedence ---- */

START_TEST(test_config_cmdline_wins_over_file)
{
	struct edge_config c;
	struct edge_config_err err;

	write_conf("listening-port = 4000\nrealm = file.example\n"
	           "max-port = 60000\n");
	ck_assert_int_eq(load(&c, &err, "--listening-port", "5000", "-c", conf,
	                      "--max-port=61000", NULL),
	                 0);
	ck_assert_str_eq(c.config_file, conf);
	ck_assert_uint_eq(c.listening_port, 5000);
	ck_assert_uint_eq(c.max_port, 61000);
	ck_assert_str_eq(c.realm, "file.example");
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_lists_append_in_order)
{
	struct edge_config c;
	struct edge_config_err err;

	write_conf("listening-ip = 10.0.0.1\nlistening-ip 2001:db8::1\n"
	           "static-auth-secret = one\nstatic-auth-secret = two\n");
	ck_assert_int_eq(load(&c, &err, "--config", conf, "--listening-ip",
	                      "127.0.0.1", "--static-auth-secret=three", NULL),
	                 0);
	ck_assert_uint_eq(c.listening_ips.n, 3);
	ck_assert_str_eq(c.listening_ips.v[0].text, "10.0.0.1");
	ck_assert_int_eq(c.listening_ips.v[0].addr.ss_family, AF_INET);
	ck_assert_int_eq(c.listening_ips.v[1].addr.ss_family, AF_INET6);
	ck_assert_uint_eq(c.listening_ips.v[1].addr_len,
	                  sizeof(struct sockaddr_in6));
	ck_assert_str_eq(c.listening_ips.v[2].text, "127.0.0.1");
	ck_assert_uint_eq(c.static_auth_secrets.n, 3);
	ck_assert_str_eq(c.static_auth_secrets.v[0], "one");
	ck_assert_str_eq(c.static_auth_secrets.v[2], "three");
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_space_and_equals_forms_agree)
{
	struct edge_config a, b;
	struct edge_config_err err;

	ck_assert_int_eq(load(&a, &err, "--realm", "r.example", "--threads",
	                      "4", "--log-level", "debug", NULL),
	                 0);
	ck_assert_int_eq(load(&b, &err, "--realm=r.example", "--threads=4",
	                      "--log-level=debug", NULL),
	                 0);
	ck_assert_str_eq(a.realm, b.realm);
	ck_assert_uint_eq(a.threads, 4);
	ck_assert_uint_eq(b.threads, 4);
	ck_assert_int_eq(a.log_level, EDGE_LOG_DEBUG);
	ck_assert_int_eq(b.log_level, EDGE_LOG_DEBUG);
	edge_config_free(&a);
	edge_config_free(&b);
}
END_TEST

START_TEST(test_config_bare_booleans)
{
	struct edge_config c;
	struct edge_config_err err;

	write_conf("no-udp\nno-tcp = yes\nno-tls off\nsyslog = 1\n"
	           "no-dtls = TRUE\nallow-loopback-peers = on\n");
	ck_assert_int_eq(load(&c, &err, "-c", conf, "--no-udp=false",
	                      "--no-tls", "--no-tcp-relay", NULL),
	                 0);
	ck_assert(!c.no_udp);
	ck_assert(c.no_tcp);
	ck_assert(c.no_tls);
	ck_assert(c.syslog);
	ck_assert(c.no_dtls);
	ck_assert(c.allow_loopback_peers);
	ck_assert(c.no_tcp_relay);
	ck_assert(!c.rfc5766_channel_numbers); /* RFC 8656 by default */
	edge_config_free(&c);
	write_conf("rfc5766-channel-numbers\n");
	ck_assert_int_eq(load(&c, &err, "-c", conf, NULL), 0);
	ck_assert(c.rfc5766_channel_numbers);
	edge_config_free(&c);
	ck_assert_int_eq(load(&c, &err, "--rfc5766-channel-numbers", NULL), 0);
	ck_assert(c.rfc5766_channel_numbers);
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_comments_quotes_whitespace)
{
	struct edge_config c;
	struct edge_config_err err;

	write_conf("# a comment\n"
	           "   # indented comment\n"
	           "\n"
	           "  \t\n"
	           "  realm   =   \"quoted realm # not a comment\"  # comment\n"
	           "\tlistening-port\t3479   # trailing\n"
	           "static-auth-secret = pa#ss\n"
	           "cipher-list=\"\"\n"
	           "no-udp # bare flag, then a comment\r\n"
	           "log-file = /var/log/avedge.log\r\n");
	ck_assert_int_eq(load(&c, &err, "-c", conf, NULL), 0);
	ck_assert_str_eq(c.realm, "quoted realm # not a comment");
	ck_assert_uint_eq(c.listening_port, 3479);
	ck_assert_str_eq(c.static_auth_secrets.v[0], "pa#ss");
	ck_assert_ptr_null(c.cipher_list);
	ck_assert(c.no_udp);
	ck_assert_str_eq(c.log_file, "/var/log/avedge.log");
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_relay_threads_alias)
{
	struct edge_config c;
	struct edge_config_err err;

	write_conf("relay-threads = 3\n");
	ck_assert_int_eq(load(&c, &err, "-c", conf, NULL), 0);
	ck_assert_uint_eq(c.threads, 3);
	edge_config_free(&c);
	ck_assert_int_eq(load(&c, &err, "-c", conf, "--threads", "5", NULL), 0);
	ck_assert_uint_eq(c.threads, 5);
	edge_config_free(&c);
	ck_assert_int_eq(load(&c, &err, "--relay-threads=7", NULL), 0);
	ck_assert_uint_eq(c.threads, 7);
	edge_config_free(&c);
	load_fails("command line: option '--relay-threads'", "0..256",
	           "--relay-threads", "300", NULL);
}
END_TEST

START_TEST(test_config_help_and_version_skip_the_file)
{
	struct edge_config c;
	struct edge_config_err err;

	ck_assert_int_eq(
	        load(&c, &err, "-c", "/nonexistent/x.conf", "-h", NULL), 0);
	ck_assert(c.help);
	edge_config_free(&c);
	ck_assert_int_eq(load(&c, &err, "--version", NULL), 0);
	ck_assert(c.version && !c.help);
	edge_config_free(&c);
	ck_assert_int_eq(load(&c, &err, "-v", NULL), 0);
	ck_assert(c.version);
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_missing_file_is_an_error)
{
	struct edge_config c;
	struct edge_config_err err;
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	ck_assert_int_eq(load(&c, &err, "-c", path, NULL), ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert_ptr_nonnull(strstr(err.msg, "--config"));
	load_fails("option '--config'", "got nothing", "-c", NULL);
}
END_TEST

/* ---- one bad value per row: error names file, line 3, key, expectation */

static const struct bad_row {
	const char *line;
	const char *key;
	const char *expect;
} bad_rows[] = {
        {"listening-port = 70000", "listening-port", "1..65535, got '70000'"},
        {"listening-port = 12ab", "listening-port", "integer"},
        {"listening-port = -1", "listening-port", "got '-1'"},
        {"listening-port =", "listening-port", "got ''"},
        {"tls-listening-port = 0", "tls-listening-port", "1..65535"},
        {"threads = 257", "threads", "0..256"},
        {"min-port = 0", "min-port", "1..65535"},
        {"max-allocate-lifetime = 10", "max-allocate-lifetime", "60..86400"},
        {"nonce-key-rotation = 1", "nonce-key-rotation", "2..31536000"},
        {"socket-rcvbuf = 2g", "socket-rcvbuf", "size"},
        {"socket-sndbuf = 10x", "socket-sndbuf", "got '10x'"},
        {"sock-buf-size = 2g", "sock-buf-size", "size"},
        {"max-bps = 1e6", "max-bps", "integer"},
        {"listening-ip = 1.2.3", "listening-ip", "IPv4 or IPv6 address"},
        {"relay-ip = ::g", "relay-ip", "IPv4 or IPv6 address"},
        {"relay-ip = example.com", "relay-ip", "got 'example.com'"},
        {"external-ip = 1.2.3.4/::1", "external-ip", "PUBLIC-IP"},
        {"external-ip = 1.2.3.4/", "external-ip", "PUBLIC-IP"},
        {"allowed-peer-ip = 10.0.0.0/33", "allowed-peer-ip", "IP/PREFIX"},
        {"allowed-peer-ip = 10.0.0.0/", "allowed-peer-ip", "IP/PREFIX"},
        {"denied-peer-ip = 10.0.0.9-10.0.0.1", "denied-peer-ip", "IP-IP"},
        {"denied-peer-ip = 10.0.0.1-::1", "denied-peer-ip", "IP-IP"},
        {"denied-peer-ip = 2001:db8::/129", "denied-peer-ip", "IP/PREFIX"},
        {"log-level = loud", "log-level", "error, warn, info, debug"},
        {"log-format = xml", "log-format", "text, json"},
        {"no-udp = maybe", "no-udp", "true|false|yes|no|on|off|1|0"},
        {"user = alice", "user", "NAME:PASSWORD"},
        {"user = :pw", "user", "NAME:PASSWORD"},
        {"user = alice:", "user", "NAME:PASSWORD"},
        {"user = alice:0x1234", "user", "got 'alice:***'"},
        {"user = bob:0x00112233445566778899aabbccddeeZZ", "user", "32 hex"},
        {"redis = http://h:1/0", "redis", "scheme"},
        {"redis = redis://h:99999/0", "redis", "bad port"},
        {"redis = redis://h:0", "redis", "bad port"},
        {"redis = redis://h:1/x", "redis", "DB"},
        {"redis = redis://:@h", "redis", "PASSWORD@"},
        {"redis = redis://", "redis", "bad host"},
        {"redis = redis://h/0?timeout=1", "redis", "query"},
        {"redis = redis://[::1:6379", "redis", "IPv6"},
        {"admin-listen = 127.0.0.1", "admin-listen", "IPv4:PORT"},
        {"admin-listen = ::1:8080", "admin-listen", "[IPv6]:PORT"},
        {"admin-listen = [::1]:0", "admin-listen", "[IPv6]:PORT"},
        {"admin-listen = [::1]8080", "admin-listen", "[IPv6]:PORT"},
        {"admin-listen = localhost:80", "admin-listen", "IPv4:PORT"},
        {"realm", "realm", "got nothing"},
        {"realm = \"\"", "realm", "1..763 characters"},
        {"realm = \"abc", "realm", "unterminated quote"},
        {"realm = \"abc\" def", "realm", "after closing quote"},
        {"node-id = a/b", "node-id", "A-Z a-z 0-9"},
        {"admin-token = short", "admin-token", "got '***'"},
        {"config = other.conf", "config", "only valid on the command line"},
        {"help", "help", "only valid on the command line"},
        {"static-auth-secret = \"\"", "static-auth-secret", "1..4096"},
};

START_TEST(test_config_bad_value_names_file_line_key)
{
	const struct bad_row *r = &bad_rows[_i];
	char text[256], where[PATH_MAX + 256];

	snprintf(text, sizeof(text), "# line 1\n\n%s\nrealm = after\n",
	         r->line);
	write_conf(text);
	snprintf(where, sizeof(where), "%s:3: key '%s': ", conf, r->key);
	load_fails(where, r->expect, "-c", conf, NULL);
}
END_TEST

START_TEST(test_config_secrets_are_not_echoed)
{
	struct edge_config c;
	struct edge_config_err err;

	write_conf("user = alice:0xnothexnothexnothexnothexnothexno\n");
	ck_assert_int_ne(load(&c, &err, "-c", conf, NULL), 0);
	ck_assert_ptr_null(strstr(err.msg, "nothex"));
	write_conf("redis = redis://:hunter2@h:99999\n");
	ck_assert_int_ne(load(&c, &err, "-c", conf, NULL), 0);
	ck_assert_ptr_null(strstr(err.msg, "hunter2"));
	ck_assert_ptr_nonnull(strstr(err.msg, "redis://***@h:99999"));
}
END_TEST

START_TEST(test_config_cmdline_errors)
{
	load_fails("command line: option '--listening-port': expected an "
	           "integer 1..65535, got 'x'",
	           NULL, "--listening-port=x", NULL);
	load_fails("command line: option '--realm': expected REALM", "nothing",
	           "--realm", NULL);
	load_fails("command line: unknown option '--bogus'", NULL, "--bogus",
	           NULL);
	load_fails("command line: unknown option '-p'", "-c FILE", "-p", "3478",
	           NULL);
	load_fails("command line: unexpected argument 'false'",
	           "--no-udp=false", "--no-udp", "false", NULL);
	load_fails("command line: unexpected argument 'x'", NULL, "x", NULL);
	load_fails("command line: option '--config'", "cannot open", "-c",
	           "/nonexistent/avedge.conf", NULL);
}
END_TEST

START_TEST(test_config_unknown_key_is_fatal)
{
	char want[PATH_MAX + 256];

	write_conf("listening-port = 1\nlistening-prot = 2\n");
	snprintf(want, sizeof(want), "%s:2: unknown key 'listening-prot'",
	         conf);
	load_fails(want, "did you mean 'listening-port'?", "-c", conf, NULL);
	write_conf("completely-made-up\n");
	load_fails("unknown key 'completely-made-up'", NULL, "-c", conf, NULL);
	load_fails("unknown option '--listening-prot'",
	           "did you mean '--listening-port'?", "--listening-prot=1",
	           NULL);
}
END_TEST

START_TEST(test_config_port_range_across_keys)
{
	char want[PATH_MAX + 256];

	write_conf("min-port = 60000\nmax-port = 50000\n");
	snprintf(want, sizeof(want),
	         "%s:2: key 'max-port': expected a port >= min-port (60000), "
	         "got '50000'",
	         conf);
	load_fails(want, NULL, "-c", conf, NULL);
	load_fails("command line: option '--min-port': expected a port <= "
	           "max-port (1000), got '65535'",
	           NULL, "--max-port=1000", "--min-port=65535", NULL);
}
END_TEST

START_TEST(test_config_keys_that_need_others)
{
	load_fails("option '--pkey': needs 'cert'", NULL, "--pkey=/k.pem",
	           NULL);
	load_fails("option '--admin-pkey': needs 'admin-cert'", NULL,
	           "--admin-pkey=/k.pem", NULL);
	load_fails("option '--admin-token-file'", "only one of",
	           "--admin-token=0123456789abcdef", "--admin-token-file=/t",
	           NULL);
}
END_TEST

/* ---- coturn compatibility ---- */

START_TEST(test_config_coturn_keys_warn_once_each)
{
	struct edge_config c;
	struct edge_config_err err;
	char want[PATH_MAX + 256];

	write_conf("fingerprint\nverbose\nfingerprint\ncli-port = 5766\n"
	           "lt-cred-mech\nuse-auth-secret\nstatic-auth-secret = s\n");
	ck_assert_int_eq(load(&c, &err, "-c", conf, "--fingerprint",
	                      "--cli-port", "5767", "--pidfile",
	                      "/run/turn.pid", "--realm", "r", NULL),
	                 0);
	ck_assert_uint_eq(c.warnings.n, 4);
	snprintf(want, sizeof(want),
	         "%s:1: coturn option 'fingerprint' is not supported by "
	         "avedge; ignored",
	         conf);
	ck_assert_str_eq(c.warnings.v[0], want);
	ck_assert_ptr_nonnull(strstr(c.warnings.v[1], ":2: coturn option "
	                                              "'verbose'"));
	ck_assert_ptr_nonnull(strstr(c.warnings.v[2], ":4: coturn option "
	                                              "'cli-port'"));
	ck_assert_str_eq(c.warnings.v[3],
	                 "command line: coturn option '--pidfile' is not "
	                 "supported by avedge; ignored");
	ck_assert_str_eq(c.realm, "r"); /* --cli-port consumed its value */
	ck_assert(c.lt_cred_mech && c.use_auth_secret);
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_no_auth_warns)
{
	struct edge_config c;
	struct edge_config_err err;

	ck_assert_int_eq(load(&c, &err, "--no-auth", NULL), 0);
	ck_assert(c.no_auth);
	ck_assert_uint_eq(c.warnings.n, 1);
	ck_assert_ptr_nonnull(strstr(c.warnings.v[0], "--no-auth"));
	ck_assert_ptr_nonnull(strstr(c.warnings.v[0], "tests only"));
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_auth_secret_without_secret_warns)
{
	struct edge_config c;
	struct edge_config_err err;

	write_conf("\xef\xbb\xbfuse-auth-secret\n");
	ck_assert_int_eq(load(&c, &err, "-c", conf, NULL), 0);
	ck_assert_uint_eq(c.warnings.n, 1);
	ck_assert_ptr_nonnull(strstr(c.warnings.v[0], ":1: key "
	                                              "'use-auth-secret': no "
	                                              "static-auth-secret"));
	edge_config_free(&c);
	ck_assert_int_eq(
	        load(&c, &err, "-c", conf, "--static-auth-secret", "s", NULL),
	        0);
	ck_assert_uint_eq(c.warnings.n, 0);
	edge_config_free(&c);
}
END_TEST

/* ---- help ---- */

START_TEST(test_config_help_lists_every_key)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	edge_config_help(out);
	fclose(out);
	for (size_t i = 0; i < edge_config_nkeys; i++) {
		char want[96];
		snprintf(want, sizeof(want), "--%s ", edge_config_keys[i].name);
		ck_assert_msg(strstr(text, want), "help lacks %s", want);
	}
	ck_assert_ptr_nonnull(strstr(text, "-c, --config FILE"));
	ck_assert_ptr_nonnull(strstr(text, "--listening-port PORT"));
	ck_assert_ptr_nonnull(strstr(text, "default 3478"));
	ck_assert_ptr_nonnull(strstr(text, "alias of threads"));
	ck_assert_ptr_nonnull(strstr(text, "\nCluster:\n"));
	ck_assert_ptr_nonnull(strstr(text, "--allow-loopback-peers "));
	free(text);
}
END_TEST

/* ---- typed values ---- */

START_TEST(test_config_users)
{
	struct edge_config c;
	struct edge_config_err err;
	static const uint8_t key[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55,
	                                0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	                                0xcc, 0xdd, 0xee, 0xff};

	write_conf("user = alice:s3cret:with:colons\n"
	           "user = bob:0x00112233445566778899AABBccddeeff\n");
	ck_assert_int_eq(load(&c, &err, "-c", conf, "--user", "carol:pw", NULL),
	                 0);
	ck_assert_uint_eq(c.users.n, 3);
	ck_assert_str_eq(c.users.v[0].name, "alice");
	ck_assert_str_eq(c.users.v[0].password, "s3cret:with:colons");
	ck_assert(!c.users.v[0].has_key);
	ck_assert_str_eq(c.users.v[1].name, "bob");
	ck_assert_ptr_null(c.users.v[1].password);
	ck_assert(c.users.v[1].has_key);
	ck_assert_mem_eq(c.users.v[1].key, key, 16);
	ck_assert_str_eq(c.users.v[2].name, "carol");
	edge_config_free(&c);
}
END_TEST

/* SIGHUP compares snapshots key by key: only what changed differs. */
START_TEST(test_config_key_equal_finds_changes)
{
	struct edge_config a, b;
	struct edge_config_err err;
	const char *changed[] = {"min-port", "user", "relay-ip", "realm",
	                         "redis"};

	write_conf("min-port = 50000\nuser = alice:pw\nrelay-ip = 10.0.0.1\n"
	           "realm = r1\n");
	ck_assert_int_eq(load(&a, &err, "-c", conf, NULL), 0);
	ck_assert_int_eq(load(&b, &err, "-c", conf, NULL), 0);
	for (size_t i = 0; i < edge_config_nkeys; i++)
		ck_assert_msg(
		        edge_config_key_equal(&edge_config_keys[i], &a, &b),
		        "%s differs between two loads of one file",
		        edge_config_keys[i].name);
	edge_config_free(&b);
	write_conf("min-port = 50001\nuser = alice:pw2\nrelay-ip = 10.0.0.2\n"
	           "realm = r2\nredis = redis://127.0.0.1:1/0\n");
	ck_assert_int_eq(load(&b, &err, "-c", conf, NULL), 0);
	for (size_t i = 0; i < edge_config_nkeys; i++) {
		const struct edge_config_key *k = &edge_config_keys[i];
		bool expect_change = false;
		for (size_t j = 0; j < sizeof(changed) / sizeof(*changed); j++)
			expect_change |= strcmp(k->name, changed[j]) == 0;
		ck_assert_msg(edge_config_key_equal(k, &a, &b) != expect_change,
		              "%s: change %sdetected", k->name,
		              expect_change ? "not " : "wrongly ");
	}
	edge_config_free(&a);
	edge_config_free(&b);
}
END_TEST

START_TEST(test_config_external_ip)
{
	struct edge_config c;
	struct edge_config_err err;
	char ip[64];

	write_conf("external-ip = 203.0.113.5\n"
	           "external-ip = 203.0.113.6/10.0.0.6\n"
	           "external-ip = 2001:db8::6/fd00::6\n");
	ck_assert_int_eq(load(&c, &err, "-c", conf, NULL), 0);
	ck_assert_uint_eq(c.external_ips.n, 3);
	ck_assert(!c.external_ips.v[0].has_private);
	ip_of(&c.external_ips.v[0].public_addr, ip);
	ck_assert_str_eq(ip, "203.0.113.5");
	ck_assert(c.external_ips.v[1].has_private);
	ip_of(&c.external_ips.v[1].public_addr, ip);
	ck_assert_str_eq(ip, "203.0.113.6");
	ip_of(&c.external_ips.v[1].private_addr, ip);
	ck_assert_str_eq(ip, "10.0.0.6");
	ip_of(&c.external_ips.v[2].private_addr, ip);
	ck_assert_str_eq(ip, "fd00::6");
	ck_assert_str_eq(c.external_ips.v[2].text, "2001:db8::6/fd00::6");
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_redis_url)
{
	struct edge_config c;
	struct edge_config_err err;

	ck_assert_int_eq(load(&c, &err, "--redis",
	                      "redis://:pa:ss@word@redis.example:6380/2", NULL),
	                 0);
	ck_assert_str_eq(c.redis.url,
	                 "redis://:pa:ss@word@redis.example:6380/2");
	ck_assert_ptr_null(c.redis.user);
	ck_assert_str_eq(c.redis.password, "pa:ss@word");
	ck_assert_str_eq(c.redis.host, "redis.example");
	ck_assert_uint_eq(c.redis.port, 6380);
	ck_assert_uint_eq(c.redis.db, 2);
	edge_config_free(&c);

	ck_assert_int_eq(load(&c, &err, "--redis=redis://10.0.0.1", NULL), 0);
	ck_assert_ptr_null(c.redis.password);
	ck_assert_str_eq(c.redis.host, "10.0.0.1");
	ck_assert_uint_eq(c.redis.port, 6379);
	ck_assert_uint_eq(c.redis.db, 0);
	edge_config_free(&c);

	ck_assert_int_eq(load(&c, &err, "--redis=redis://u:p@[::1]:7000/",
	                      "--redis=REDIS://h2/15", NULL),
	                 0);
	ck_assert_ptr_null(c.redis.user); /* the later value replaced it */
	ck_assert_str_eq(c.redis.host, "h2");
	ck_assert_uint_eq(c.redis.db, 15);
	edge_config_free(&c);

	ck_assert_int_eq(
	        load(&c, &err, "--redis=redis://u:p@[::1]:7000/", NULL), 0);
	ck_assert_str_eq(c.redis.user, "u");
	ck_assert_str_eq(c.redis.password, "p");
	ck_assert_str_eq(c.redis.host, "::1");
	ck_assert_uint_eq(c.redis.port, 7000);
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_peer_ranges)
{
	struct edge_config c;
	struct edge_config_err err;
	const struct edge_ip_range *r;
	static const uint8_t v6lo[16] = {0x20, 0x01, 0x0d, 0xb8};
	uint8_t v6hi[16];

	memset(v6hi, 0xff, sizeof(v6hi));
	memcpy(v6hi, v6lo, 4);
	write_conf("allowed-peer-ip = 10.1.2.3/8\n"
	           "allowed-peer-ip = 192.168.1.10-192.168.1.20\n"
	           "allowed-peer-ip = 198.51.100.7\n"
	           "denied-peer-ip = 2001:db8::/32\n"
	           "denied-peer-ip = ::1-::2\n"
	           "denied-peer-ip = 0.0.0.0/0\n");
	ck_assert_int_eq(load(&c, &err, "-c", conf, NULL), 0);
	ck_assert_uint_eq(c.allowed_peer_ips.n, 3);
	r = &c.allowed_peer_ips.v[0];
	ck_assert_int_eq(r->family, AF_INET);
	ck_assert_mem_eq(r->lo, "\x0a\x00\x00\x00", 4);
	ck_assert_mem_eq(r->hi, "\x0a\xff\xff\xff", 4);
	ck_assert_str_eq(r->text, "10.1.2.3/8");
	r = &c.allowed_peer_ips.v[1];
	ck_assert_mem_eq(r->lo, "\xc0\xa8\x01\x0a", 4);
	ck_assert_mem_eq(r->hi, "\xc0\xa8\x01\x14", 4);
	r = &c.allowed_peer_ips.v[2];
	ck_assert_mem_eq(r->lo, r->hi, 4);
	ck_assert_uint_eq(c.denied_peer_ips.n, 3);
	r = &c.denied_peer_ips.v[0];
	ck_assert_int_eq(r->family, AF_INET6);
	ck_assert_mem_eq(r->lo, v6lo, 16);
	ck_assert_mem_eq(r->hi, v6hi, 16);
	r = &c.denied_peer_ips.v[2];
	ck_assert_mem_eq(r->lo, "\0\0\0\0", 4);
	ck_assert_mem_eq(r->hi, "\xff\xff\xff\xff", 4);
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_admin_listen_and_sizes)
{
	struct edge_config c;
	struct edge_config_err err;
	char ip[64];

	ck_assert_int_eq(load(&c, &err, "--admin-listen", "127.0.0.1:8080",
	                      "--socket-rcvbuf=4m", "--socket-sndbuf", "65536",
	                      "--max-bps=1000000", "--sock-buf-size=2m", NULL),
	                 0);
	ck_assert_uint_eq(c.sock_buf_size, 2u << 20);
	ck_assert_int_eq(c.admin_listen.addr.ss_family, AF_INET);
	ck_assert_uint_eq(port_of(&c.admin_listen.addr), 8080);
	ck_assert_uint_eq(c.socket_rcvbuf, 4u << 20);
	ck_assert_uint_eq(c.socket_sndbuf, 65536);
	ck_assert_uint_eq(c.max_bps, 1000000);
	edge_config_free(&c);
	ck_assert_int_eq(load(&c, &err, "--admin-listen=[::1]:9000",
	                      "--socket-rcvbuf=1G", NULL),
	                 0);
	ck_assert_int_eq(c.admin_listen.addr.ss_family, AF_INET6);
	ck_assert_uint_eq(port_of(&c.admin_listen.addr), 9000);
	ip_of(&c.admin_listen.addr, ip);
	ck_assert_str_eq(ip, "::1");
	ck_assert_str_eq(c.admin_listen.text, "[::1]:9000");
	ck_assert_uint_eq(c.socket_rcvbuf, 1u << 30);
	edge_config_free(&c);
}
END_TEST

START_TEST(test_config_everything_at_once)
{
	struct edge_config c;
	struct edge_config_err err;

	write_conf("listening-ip = 192.0.2.1\n"
	           "tls-listening-port = 443\ndtls-listening-port = 5350\n"
	           "log-format = json\nrelay-ip = 192.0.2.1\n"
	           "min-port = 50000\nmax-port = 50999\n"
	           "max-allocate-lifetime = 600\nuser-quota = 10\n"
	           "total-quota = 1000\nmax-allocations = 5000\n"
	           "user-file = /etc/avedge/users\n"
	           "auth-rate-limit = 0\nauth-rate-burst = 10\n"
	           "cert = /etc/avedge/cert.pem\npkey = /etc/avedge/key.pem\n"
	           "max-connections-per-ip = 0\nmax-connections = 100000\n"
	           "handshake-timeout = 5\nidle-timeout = 60\n"
	           "node-id = edge-1.dc2\nnode-ttl = 30\nredis-timeout = 50\n"
	           "nonce-key-rotation = 3600\n"
	           "admin-listen = 10.0.0.1:9443\n"
	           "admin-cert = /a.pem\nadmin-pkey = /a.key\n"
	           "admin-token-file = /etc/avedge/token\n");
	ck_assert_int_eq(load(&c, &err, "-c", conf, NULL), 0);
	ck_assert_uint_eq(c.tls_listening_port, 443);
	ck_assert_uint_eq(c.dtls_listening_port, 5350);
	ck_assert_int_eq(c.log_format, EDGE_LOG_JSON);
	ck_assert_uint_eq(c.relay_ips.n, 1);
	ck_assert_uint_eq(c.min_port, 50000);
	ck_assert_uint_eq(c.max_allocate_lifetime_s, 600);
	ck_assert_uint_eq(c.user_quota, 10);
	ck_assert_uint_eq(c.total_quota, 1000);
	ck_assert_uint_eq(c.max_allocations, 5000);
	ck_assert_str_eq(c.user_file, "/etc/avedge/users");
	ck_assert_uint_eq(c.auth_rate_limit, 0);
	ck_assert_str_eq(c.pkey, "/etc/avedge/key.pem");
	ck_assert_uint_eq(c.max_connections, 100000);
	ck_assert_uint_eq(c.handshake_timeout_s, 5);
	ck_assert_uint_eq(c.idle_timeout_s, 60);
	ck_assert_str_eq(c.node_id, "edge-1.dc2");
	ck_assert_uint_eq(c.node_ttl_s, 30);
	ck_assert_uint_eq(c.redis_timeout_ms, 50);
	ck_assert_uint_eq(c.nonce_key_rotation_s, 3600);
	ck_assert_str_eq(c.admin_token_file, "/etc/avedge/token");
	ck_assert_uint_eq(c.warnings.n, 0);
	edge_config_free(&c);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("edge_config");
	TCase *tc;

	tc = tcase_create("defaults");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_key_table_is_consistent);
	suite_add_tcase(s, tc);

	tc = tcase_create("syntax");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_config_cmdline_wins_over_file);
	tcase_add_test(tc, test_config_lists_append_in_order);
	tcase_add_test(tc, test_config_space_and_equals_forms_agree);
	tcase_add_test(tc, test_config_bare_booleans);
	tcase_add_test(tc, test_config_comments_quotes_whitespace);
	tcase_add_test(tc, test_config_relay_threads_alias);
	tcase_add_test(tc, test_config_help_and_version_skip_the_file);
	tcase_add_test(tc, test_config_missing_file_is_an_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_config_bad_value_names_file_line_key, 0,
	                    (int)(sizeof(bad_rows) / sizeof(bad_rows[0])));
	tcase_add_test(tc, test_config_secrets_are_not_echoed);
	tcase_add_test(tc, test_config_cmdline_errors);
	tcase_add_test(tc, test_config_unknown_key_is_fatal);
	tcase_add_test(tc, test_config_port_range_across_keys);
	tcase_add_test(tc, test_config_keys_that_need_others);
	suite_add_tcase(s, tc);

	tc = tcase_create("coturn");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_config_coturn_keys_warn_once_each);
	tcase_add_test(tc, test_config_no_auth_warns);
	tcase_add_test(tc, test_config_auth_secret_without_secret_warns);
	tcase_add_test(tc, test_config_help_lists_every_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_set_timeout(tc, AVEDGE_TEST_TIMEOUT_S);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_config_users);
	tcase_add_test(tc, test_config_key_equal_finds_changes);
	tcase_add_test(tc, test_config_external_ip);
	tcase_add_test(tc, test_config_redis_url);
	tcase_add_test(tc, test_config_peer_ranges);
	tcase_add_test(tc, test_config_admin_listen_and_sizes);
	tcase_add_test(tc, test_config_everything_at_once);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(config_suite)
