/*
 * tools/load/main.c - avedge-load: options, credentials, the workers'
 * lifecycle and the samples at the window edges. See `avedge-load --help`
 * and bench/README.md.
 *
 * Exit status: 0 done; 1 usage; 2 no client could be set up (nobody
 * answers, or every Allocate was refused: the message says why); 3 a local
 * failure (sockets, memory).
 */
#include "tools/hostport.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "tools/load/load.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const char usage[] =
        "usage: avedge-load [options] [SERVER]\n"
        "\n"
        "TURN load generator (RFC 8656 over UDP). Each client allocates a "
        "relay on\n"
        "SERVER, binds a channel (or a permission) to a UDP peer socket "
        "that this\n"
        "tool owns, and sends payloads to it through the relay; the peer "
        "echoes them\n"
        "back through the relay. One round trip = 2 relayed packets.\n"
        "\n"
        "  -s, --server ADDR[:PORT]  server (default 127.0.0.1:3478; "
        "[::1]:3478 for IPv6)\n"
        "  -u, --user NAME           long-term credential user (MD5 key, "
        "realm and nonce\n"
        "                            learned from the 401)\n"
        "  -p, --password PW         its password\n"
        "      --secret S            REST API secret instead: user = "
        "expiry:NAME,\n"
        "                            password = base64(HMAC-SHA1(S, user))\n"
        "  -c, --clients N           clients, one allocation each "
        "(default 10)\n"
        "  -b, --payload BYTES       payload per packet, 32..1400 "
        "(default 100)\n"
        "  -w, --closed-loop W       keep W packets in flight per client "
        "(default mode, W 4)\n"
        "  -r, --rate PPS            fixed offered load instead: PPS "
        "relayed packets/s\n"
        "                            in total (clients send PPS/2, peers "
        "echo PPS/2),\n"
        "                            paced by a 1 ms timer\n"
        "  -d, --duration S          measured window (default 10)\n"
        "      --warmup S            traffic before the window (default 2)\n"
        "      --drain S             wait for stragglers after it (default "
        "0.5)\n"
        "      --channel             ChannelData (default)\n"
        "      --send-indication     Send/Data indications instead\n"
        "      --rtp                 each payload starts with an RTP header "
        "(V=2, PT 96,\n"
        "                            SSRC per client, sequence and 90 kHz "
        "timestamp per\n"
        "                            packet), so a relay's RTP quality "
        "code runs\n"
        "      --bare                talk to tools/bare-forwarder "
        "(no TURN)\n"
        "      --allocs-only N       allocation rate: N Allocates (401 "
        "dance each),\n"
        "                            then Refresh lifetime 0 for all\n"
        "      --outstanding K       requests in flight while setting up "
        "(default 64)\n"
        "      --hold S              allocs-only: keep them S seconds "
        "before freeing\n"
        "                            (RSS is sampled after the hold)\n"
        "      --server-pid PID      sample the server's CPU "
        "(/proc/PID/stat) and RSS\n"
        "                            at the window edges\n"
        "  -t, --threads T           worker threads (default 1)\n"
        "      --peers P             peer sockets in all (default 16)\n"
        "      --peer-ip IP          where peers bind (default: loopback "
        "of the server's\n"
        "                            family; IPv6 asks for an IPv6 relay)\n"
        "      --client-ip IP        where clients bind (default: a random "
        "127.a.b.c per\n"
        "                            run when the server is on IPv4 "
        "loopback, so no\n"
        "                            5-tuple of an earlier run is reused; "
        "else any)\n"
        "      --lifetime S          requested allocation lifetime "
        "(default 600;\n"
        "                            refreshed at half the granted one)\n"
        "      --bind-refresh S      refresh channels/permissions every S "
        "(default 240:\n"
        "                            they last 600/300 s per RFC 8656)\n"
        "      --timeout MS          closed loop: give a packet up after "
        "MS (default 1000)\n"
        "      --rto MS              first retransmission timeout "
        "(default 250)\n"
        "      --max-tries N         transmissions per request (default "
        "6)\n"
        "      --sockbuf BYTES       SO_RCVBUF/SO_SNDBUF of our sockets "
        "(default 1 MiB)\n"
        "      --json                one JSON object instead of text\n"
        "      --label TEXT          copied into the output\n"
        "  -h, --help\n"
        "\n"
        "Allocations are refreshed before they expire and channels or "
        "permissions every\n"
        "240 s; 401 and 438 answers are followed; every allocation is "
        "freed at the end\n"
        "(also on SIGINT). Exit status: 0 done, 1 usage, 2 no client "
        "could be set up,\n"
        "3 local failure.\n";

enum {
	OPT_SECRET = 256,
	OPT_WARMUP,
	OPT_DRAIN,
	OPT_CHANNEL,
	OPT_SENDIND,
	OPT_BARE,
	OPT_RTP,
	OPT_ALLOCS,
	OPT_OUTSTANDING,
	OPT_HOLD,
	OPT_PID,
	OPT_PEERS,
	OPT_PEER_IP,
	OPT_LIFETIME,
	OPT_TIMEOUT,
	OPT_RTO,
	OPT_TRIES,
	OPT_SOCKBUF,
	OPT_JSON,
	OPT_LABEL,
	OPT_CLIENT_IP,
	OPT_BIND_REFRESH,
};

static const struct option longopts[] = {
        {"server", required_argument, NULL, 's'},
        {"user", required_argument, NULL, 'u'},
        {"password", required_argument, NULL, 'p'},
        {"secret", required_argument, NULL, OPT_SECRET},
        {"clients", required_argument, NULL, 'c'},
        {"payload", required_argument, NULL, 'b'},
        {"closed-loop", required_argument, NULL, 'w'},
        {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"drain", required_argument, NULL, OPT_DRAIN},
        {"channel", no_argument, NULL, OPT_CHANNEL},
        {"send-indication", no_argument, NULL, OPT_SENDIND},
        {"bare", no_argument, NULL, OPT_BARE},
        {"rtp", no_argument, NULL, OPT_RTP},
        {"allocs-only", required_argument, NULL, OPT_ALLOCS},
        {"outstanding", required_argument, NULL, OPT_OUTSTANDING},
        {"hold", required_argument, NULL, OPT_HOLD},
        {"server-pid", required_argument, NULL, OPT_PID},
        {"threads", required_argument, NULL, 't'},
        {"peers", required_argument, NULL, OPT_PEERS},
        {"peer-ip", required_argument, NULL, OPT_PEER_IP},
        {"lifetime", required_argument, NULL, OPT_LIFETIME},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"rto", required_argument, NULL, OPT_RTO},
        {"max-tries", required_argument, NULL, OPT_TRIES},
        {"sockbuf", required_argument, NULL, OPT_SOCKBUF},
        {"json", no_argument, NULL, OPT_JSON},
        {"label", required_argument, NULL, OPT_LABEL},
        {"client-ip", required_argument, NULL, OPT_CLIENT_IP},
        {"bind-refresh", required_argument, NULL, OPT_BIND_REFRESH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
};

static int die_usage(const char *what, const char *arg)
{
	fprintf(stderr, "avedge-load: %s%s%s\n(see avedge-load --help)\n", what,
	        arg ? ": " : "", arg ? arg : "");
	return 1;
}

/* TURN REST API credentials (draft-uberti-behave-turn-rest). */
static int rest_credentials(struct load_opts *o, const char *secret)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char name[256];

	snprintf(name, sizeof(name), "%s",
	         o->user[0] ? o->user : "avedge-load");
	name[200] = 0; /* room for the expiry */
	snprintf(o->user, sizeof(o->user), "%lld:%.200s",
	         (long long)time(NULL) + 86400, name);
	if (!HMAC(EVP_sha1(), secret, (int)strlen(secret),
	          (const unsigned char *)o->user, strlen(o->user), mac,
	          &mac_len))
		return EIO;
	EVP_EncodeBlock((unsigned char *)o->password, mac, (int)mac_len);
	o->rest = true;
	return 0;
}

/*
 * Where client sockets bind. A server keeps a freed allocation's 5-tuple
 * for a while (coturn answers 437 to a new Allocate from it), and the
 * kernel hands out recently used ephemeral ports again; so against an IPv4
 * loopback server each run takes its own random 127.a.b.c source address
 * unless --client-ip says otherwise ("0.0.0.0": the kernel's choice).
 */
static int client_ips(struct load_opts *o, const char *arg)
{
	const struct sockaddr_in *srv = (const void *)&o->server;
	struct sockaddr_in *c4 = (void *)&o->client_ip;
	uint32_t r;

	if (arg) {
		if (tools_parse_hostport(arg, 0, &o->client_ip,
		                         &o->client_ip_len))
			return EINVAL;
		return 0;
	}
	if (o->server.ss_family != AF_INET ||
	    (ntohl(srv->sin_addr.s_addr) >> 24) != 127)
		return 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)time(NULL) ^ (uint32_t)getpid() << 8;
	c4->sin_family = AF_INET;
	/* 127.1-254.x.1-254: never 127.0.0.0/16, where servers listen */
	c4->sin_addr.s_addr = htonl(0x7F000000u | (1 + (r >> 8) % 254) << 16 |
	                            ((r >> 16) & 0xFF) << 8 | (1 + r % 254));
	o->client_ip_len = sizeof(*c4);
	return 0;
}

static bool num_arg(const char *s, double lo, double hi, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return !errno && end != s && !*end && *v >= lo && *v <= hi;
}

static int parse_opts(struct load_opts *o, int argc, char **argv,
                      const char **server)
{
	const char *secret = NULL, *peer_ip = NULL, *client_ip = NULL;
	int allocs = 0, ch;
	double v;

	*o = (struct load_opts){.clients = 10,
	                        .payload = 100,
	                        .window = 4,
	                        .threads = 1,
	                        .peers = 16,
	                        .outstanding = 64,
	                        .duration_s = 10,
	                        .warmup_s = 2,
	                        .drain_s = 0.5,
	                        .timeout_ms = 1000,
	                        .rto_ms = 250,
	                        .max_tries = 6,
	                        .lifetime_s = 600,
	                        .bind_refresh_s = 240,
	                        .sockbuf = 1 << 20};
	*server = "127.0.0.1:3478";
	while ((ch = getopt_long(argc, argv, "s:u:p:c:b:w:r:d:t:h", longopts,
	                         NULL)) != -1) {
		const char *a = optarg;
		bool ok = true;

		switch (ch) {
		case 's':
			*server = a;
			break;
		case 'u':
			snprintf(o->user, sizeof(o->user), "%s", a);
			break;
		case 'p':
			snprintf(o->password, sizeof(o->password), "%s", a);
			break;
		case OPT_SECRET:
			secret = a;
			break;
		case 'c':
			ok = num_arg(a, 1, 1000000, &v) &&
			     (o->clients = (int)v);
			break;
		case 'b':
			ok = num_arg(a, 32, LOAD_PAYLOAD_MAX, &v) &&
			     (o->payload = (int)v);
			break;
		case 'w':
			ok = num_arg(a, 1, LOAD_BATCH, &v) &&
			     (o->window = (int)v);
			o->mode = LOAD_MODE_CLOSED;
			break;
		case 'r':
			ok = num_arg(a, 1, 1e8, &v) && (o->rate_pps = v);
			o->mode = LOAD_MODE_RATE;
			break;
		case 'd':
			ok = num_arg(a, 0.1, 86400, &o->duration_s);
			break;
		case OPT_WARMUP:
			ok = num_arg(a, 0, 3600, &o->warmup_s);
			break;
		case OPT_DRAIN:
			ok = num_arg(a, 0, 60, &o->drain_s);
			break;
		case OPT_CHANNEL:
			o->send_ind = false;
			break;
		case OPT_SENDIND:
			o->send_ind = true;
			break;
		case OPT_BARE:
			o->bare = true;
			break;
		case OPT_RTP:
			o->rtp = true;
			break;
		case OPT_ALLOCS:
			ok = num_arg(a, 1, 1000000, &v) && (allocs = (int)v);
			break;
		case OPT_OUTSTANDING:
			ok = num_arg(a, 1, 100000, &v) &&
			     (o->outstanding = (int)v);
			break;
		case OPT_HOLD:
			ok = num_arg(a, 0, 86400, &o->hold_s);
			break;
		case OPT_PID:
			ok = num_arg(a, 1, 1 << 30, &v) &&
			     (o->server_pid = (int)v);
			break;
		case 't':
			ok = num_arg(a, 1, 64, &v) && (o->threads = (int)v);
			break;
		case OPT_PEERS:
			ok = num_arg(a, 1, 255, &v) && (o->peers = (int)v);
			break;
		case OPT_PEER_IP:
			peer_ip = a;
			break;
		case OPT_LIFETIME:
			ok = num_arg(a, 0, 86400, &v);
			o->lifetime_s = (uint32_t)v;
			break;
		case OPT_TIMEOUT:
			ok = num_arg(a, 1, 600000, &v) &&
			     (o->timeout_ms = (int)v);
			break;
		case OPT_RTO:
			ok = num_arg(a, 1, 60000, &v) && (o->rto_ms = (int)v);
			break;
		case OPT_TRIES:
			ok = num_arg(a, 1, 20, &v) && (o->max_tries = (int)v);
			break;
		case OPT_SOCKBUF:
			ok = num_arg(a, 0, 1 << 30, &v);
			o->sockbuf = (int)v;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_LABEL:
			o->label = a;
			break;
		case OPT_CLIENT_IP:
			client_ip = a;
			break;
		case OPT_BIND_REFRESH:
			ok = num_arg(a, 1, 86400, &v);
			o->bind_refresh_s = (uint32_t)v;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			return 1;
		}
		if (!ok)
			return die_usage("bad value", a);
	}
	if (optind < argc)
		*server = argv[optind++];
	if (optind < argc)
		return die_usage("unexpected argument", argv[optind]);
	if (tools_parse_hostport(*server, 3478, &o->server, &o->server_len))
		return die_usage("bad server address", *server);
	if (peer_ip) {
		socklen_t len;
		if (tools_parse_hostport(peer_ip, 0, &o->peer_ip, &len))
			return die_usage("bad peer address", peer_ip);
	} else {
		const char *lo =
		        o->server.ss_family == AF_INET6 ? "::1" : "127.0.0.1";
		socklen_t len;
		tools_parse_hostport(lo, 0, &o->peer_ip, &len);
	}
	if (client_ips(o, client_ip))
		return die_usage("bad client address", client_ip);
	if (allocs) {
		o->mode = LOAD_MODE_ALLOCS;
		o->clients = allocs;
		if (o->bare)
			return die_usage("--allocs-only needs a TURN server",
			                 NULL);
	}
	if (o->rtp && o->bare)
		return die_usage("--rtp needs a TURN server", NULL);
	if (o->rtp && o->payload < 48)
		return die_usage("--rtp needs --payload 48 or more", NULL);
	if (secret && rest_credentials(o, secret))
		return die_usage("cannot derive REST credentials", NULL);
	if (!o->bare && (!o->user[0] || !o->password[0]))
		return die_usage(
		        "TURN needs --user and --password, or --secret", NULL);
	if (o->threads > o->clients)
		o->threads = o->clients;
	return 0;
}

/* Each client holds a socket; we want them all. */
static int raise_nofile(long need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return errno;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur < need ? EMFILE : 0;
}

static void sleep_until(uint64_t t_ns)
{
	while (!stop_flag) {
		uint64_t now = load_now_ns();
		if (now >= t_ns)
			return;
		uint64_t d = t_ns - now;
		if (d > 100000000ull)
			d = 100000000ull;
		struct timespec ts = {(time_t)(d / 1000000000ull),
		                      (long)(d % 1000000000ull)};
		nanosleep(&ts, NULL);
	}
}

/* Wait until every worker has set up its clients. */
static void wait_setup(struct load_shared *sh, int threads)
{
	struct timespec ms = {0, 1000000};

	while (atomic_load(&sh->setup_done) < threads && !stop_flag)
		nanosleep(&ms, NULL);
}

static void run_data(const struct load_opts *o, struct load_shared *sh,
                     struct load_result *r)
{
	uint64_t t0;

	wait_setup(sh, o->threads);
	r->ready = atomic_load(&sh->ready);
	if (!r->ready || stop_flag) {
		atomic_store(&sh->free_now, true);
		return;
	}
	t0 = load_now_ns() + 20000000ull;
	sh->win_start_ns = t0 + (uint64_t)(o->warmup_s * 1e9);
	sh->win_end_ns = sh->win_start_ns + (uint64_t)(o->duration_s * 1e9);
	sh->send_end_ns = sh->win_end_ns;
	sh->stop_ns = sh->send_end_ns + (uint64_t)(o->drain_s * 1e9);
	atomic_store_explicit(&sh->t0_ns, t0, memory_order_release);
	sleep_until(sh->win_start_ns);
	load_sample_take(&r->win_a, o->server_pid);
	sleep_until(sh->win_end_ns);
	load_sample_take(&r->win_b, o->server_pid);
	if (stop_flag)
		atomic_store(&sh->free_now, true);
}

static void run_allocs(const struct load_opts *o, struct load_shared *sh,
                       struct load_result *r)
{
	load_sample_take(&r->win_a, o->server_pid);
	atomic_store(&sh->go, true);
	wait_setup(sh, o->threads);
	load_sample_take(&r->win_b, o->server_pid);
	r->ready = atomic_load(&sh->ready);
	if (o->hold_s > 0 && r->ready) {
		sleep_until(load_now_ns() + (uint64_t)(o->hold_s * 1e9));
		load_sample_take(&r->hold_end, o->server_pid);
		r->held = true;
	}
	load_sample_take(&r->free_a, o->server_pid);
	atomic_store(&sh->free_now, true);
}

static int start_workers(struct load_opts *o, struct load_shared *sh,
                         struct load_worker **ws)
{
	int first = 0;

	for (int i = 0; i < o->threads; i++) {
		int n = o->clients / o->threads + (i < o->clients % o->threads);
		int err;

		ws[i] = calloc(1, sizeof(**ws));
		if (!ws[i])
			return ENOMEM;
		if ((err = load_worker_init(ws[i], i, first, n, o, sh)))
			return err;
		first += n;
	}
	for (int i = 0; i < o->threads; i++)
		if (pthread_create(&ws[i]->thr, NULL, load_worker_main, ws[i]))
			return EAGAIN;
	return 0;
}

int main(int argc, char **argv)
{
	static struct load_opts o;
	static struct load_shared sh;
	static struct load_result r;
	struct load_worker *ws[64] = {0};
	const char *server;
	char ebuf[64];
	int err;

	if ((err = parse_opts(&o, argc, argv, &server)))
		return err;
	r.server = server;
	if (raise_nofile(o.clients + 2L * o.peers + 64)) {
		fprintf(stderr,
		        "avedge-load: %d clients need more file descriptors "
		        "than RLIMIT_NOFILE allows (raise it: ulimit -n)\n",
		        o.clients);
		return 3;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	load_sample_take(&r.start, o.server_pid);
	if ((err = start_workers(&o, &sh, ws))) {
		fprintf(stderr, "avedge-load: cannot start: %s\n",
		        strerror(err));
		return 3;
	}
	if (o.mode == LOAD_MODE_ALLOCS)
		run_allocs(&o, &sh, &r);
	else
		run_data(&o, &sh, &r);
	for (int i = 0; i < o.threads; i++) {
		pthread_join(ws[i]->thr, NULL);
		load_stats_merge(&r.st, &ws[i]->st);
		load_worker_free(ws[i]);
		free(ws[i]);
	}
	load_sample_take(&r.end, o.server_pid);
	if (!r.ready) {
		fprintf(stderr,
		        "avedge-load: no client could be set up on %s: %s\n",
		        server,
		        load_err_str(r.st.last_err, ebuf, sizeof(ebuf)));
		return 2;
	}
	load_report(&o, &r);
	return 0;
}
