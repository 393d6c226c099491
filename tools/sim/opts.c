/*
 * tools/sim/opts.c - edge-sim's command line: options, their checks (a bad
 * one is one line naming it, exit status 2), rates ("1M", "1.5M",
 * "3000k", "3000000"), ramps, and TURN REST credentials.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/hostport.h"
#include "tools/sim/sim.h"

static const char usage[] =
        "usage: edge-sim [options]\n"
        "Desktop sharing through a TURN server: an MCU sends one screen as\n"
        "SRTP-protected RDP over RTP to N viewers, both legs relayed.\n"
        "  --role both|mcu|viewer   what this process plays (default both)\n"
        "  --server HOST:PORT       TURN server of the viewers (3478)\n"
        "  --mcu-server HOST:PORT   TURN server of the MCU (default --server)\n"
        "  --user NAME:PASS         long-term credentials (realm from the "
        "401)\n"
        "  --secret S               TURN REST secret instead: user expiry:id\n"
        "  --rest-id ID             the id part of REST user names (edge-sim)\n"
        "  --transport udp|tcp|tls  viewers' transport to --server (udp)\n"
        "  --viewers N              1..1000 (default 1)\n"
        "  --direct                 viewers without allocations (plain UDP)\n"
        "  --rate R                 mean bits/s per viewer: 1M, 1.5M, 3000k\n"
        "  --peak F                 burst rate / mean rate (default 3)\n"
        "  --pdu-burst              send each PDU at once (default: its\n"
        "                           packets paced at the current rate)\n"
        "  --ramp LIST              rates in turn: 1M,2M,3M or START:STEP:END\n"
        "  --duration S             measured seconds per rate (default 10)\n"
        "  --warmup S               unmeasured seconds before (default 2)\n"
        "  --seed N                 screen model and keys (default 1)\n"
        "  --pt N                   RTP payload type of RDP (default 127)\n"
        "  --srtp cm|gcm            AES_CM_128_HMAC_SHA1_80 (default) or\n"
        "                           AEAD_AES_128_GCM\n"
        "  --srtp-secret S          master secret (default edge-sim:SEED)\n"
        "  --control-viewer K       viewer given control (default 1, 0 off)\n"
        "  --control-every S        grant / revoke period (default 2)\n"
        "  --input-hz N             input events per second (default 50)\n"
        "  --setup-timeout S        bound on the whole setup (default 30)\n"
        "  --rto-ms MS              STUN RTO (default 500), --max-tries N (7)\n"
        "  --lifetime S             requested allocation LIFETIME (600)\n"
        "  --sockbuf BYTES          socket buffers (default 4194304)\n"
        "  --signal HOST:PORT       split roles: MCU listens, viewers connect\n"
        "  --json                   one JSON object on stdout\n"
        "  --help\n";

enum {
	O_ROLE = 256,
	O_SERVER,
	O_MCU_SERVER,
	O_USER,
	O_SECRET,
	O_REST_ID,
	O_TRANSPORT,
	O_VIEWERS,
	O_DIRECT,
	O_PDU_BURST,
	O_RATE,
	O_PEAK,
	O_RAMP,
	O_DURATION,
	O_WARMUP,
	O_SEED,
	O_PT,
	O_SRTP,
	O_SRTP_SECRET,
	O_CONTROL_VIEWER,
	O_CONTROL_EVERY,
	O_INPUT_HZ,
	O_SETUP_TIMEOUT,
	O_RTO,
	O_TRIES,
	O_LIFETIME,
	O_SOCKBUF,
	O_SIGNAL,
	O_JSON,
	O_HELP,
};

static const struct option longopts[] = {
        {"role", 1, 0, O_ROLE},
        {"server", 1, 0, O_SERVER},
        {"mcu-server", 1, 0, O_MCU_SERVER},
        {"user", 1, 0, O_USER},
        {"secret", 1, 0, O_SECRET},
        {"rest-id", 1, 0, O_REST_ID},
        {"transport", 1, 0, O_TRANSPORT},
        {"viewers", 1, 0, O_VIEWERS},
        {"direct", 0, 0, O_DIRECT},
        {"pdu-burst", 0, 0, O_PDU_BURST},
        {"rate", 1, 0, O_RATE},
        {"peak", 1, 0, O_PEAK},
        {"ramp", 1, 0, O_RAMP},
        {"duration", 1, 0, O_DURATION},
        {"warmup", 1, 0, O_WARMUP},
        {"seed", 1, 0, O_SEED},
        {"pt", 1, 0, O_PT},
        {"srtp", 1, 0, O_SRTP},
        {"srtp-secret", 1, 0, O_SRTP_SECRET},
        {"control-viewer", 1, 0, O_CONTROL_VIEWER},
        {"control-every", 1, 0, O_CONTROL_EVERY},
        {"input-hz", 1, 0, O_INPUT_HZ},
        {"setup-timeout", 1, 0, O_SETUP_TIMEOUT},
        {"rto-ms", 1, 0, O_RTO},
        {"max-tries", 1, 0, O_TRIES},
        {"lifetime", 1, 0, O_LIFETIME},
        {"sockbuf", 1, 0, O_SOCKBUF},
        {"signal", 1, 0, O_SIGNAL},
        {"json", 0, 0, O_JSON},
        {"help", 0, 0, O_HELP},
        {0, 0, 0, 0},
};

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
	va_list ap;

	fputs("edge-sim: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see edge-sim --help)\n", stderr);
	return 2;
}

/* "1M", "1.5M", "3000k", "3000000" -> bits/s; -1 if not a rate. */
static double parse_rate(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || !isfinite(v) || v <= 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		v *= 1e3, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1e6, end++;
	else if (*end == 'G' || *end == 'g')
		v *= 1e9, end++;
	return *end || v > 10e9 ? -1 : v;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !isfinite(v) || v < lo || v > hi)
		return EINVAL;
	*out = v;
	return 0;
}

static int parse_ramp(struct sim_opts *o, const char *s)
{
	char buf[512], *save = NULL, *tok;
	double a, b, c;

	snprintf(buf, sizeof(buf), "%s", s);
	if (strchr(buf, ':')) {
		char *p1 = strtok_r(buf, ":", &save),
		     *p2 = strtok_r(NULL, ":", &save),
		     *p3 = strtok_r(NULL, ":", &save);
		if (!p1 || !p2 || !p3 || strtok_r(NULL, ":", &save) ||
		    (a = parse_rate(p1)) < 0 || (b = parse_rate(p2)) < 0 ||
		    (c = parse_rate(p3)) < a)
			return EINVAL;
		for (double r = a; r <= c * 1.000001; r += b) {
			if (o->nsteps == SIM_STEPS_MAX)
				return E2BIG;
			o->rates[o->nsteps++] = r;
		}
		return 0;
	}
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if ((a = parse_rate(tok)) < 0)
			return EINVAL;
		if (o->nsteps == SIM_STEPS_MAX)
			return E2BIG;
		o->rates[o->nsteps++] = a;
	}
	return o->nsteps ? 0 : EINVAL;
}

/* TURN REST API credentials: user = expiry:id, password =
 * base64(HMAC-SHA1(secret, user)). */
static int rest_credentials(struct sim_opts *o, const char *secret,
                            const char *id)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;

	snprintf(o->user, sizeof(o->user), "%lld:%.200s",
	         (long long)time(NULL) + 86400, id);
	if (!HMAC(EVP_sha1(), secret, (int)strlen(secret),
	          (const unsigned char *)o->user, strlen(o->user), mac,
	          &mac_len))
		return EIO;
	EVP_EncodeBlock((unsigned char *)o->pass, mac, (int)mac_len);
	return 0;
}

static void defaults(struct sim_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->viewers = 1;
	o->peak = 3;
	o->seed = 1;
	o->duration_s = 10;
	o->warmup_s = 2;
	o->pt = 127;
	o->control_viewer = -1;
	o->control_every_s = 2;
	o->input_hz = 50;
	o->setup_timeout_s = 30;
	o->rto_ms = 500;
	o->max_tries = 7;
	o->lifetime_s = 600;
	o->sockbuf = 4 << 20;
	tools_parse_hostport("127.0.0.1", 3478, &o->server, &o->server_len);
}

/* One option; 0, or the exit status of a bad one (message printed). */
static int option(struct sim_opts *o, int c, const char *a, const char **secret,
                  const char **rest_id, bool *mcu_server)
{
	double d;

	switch (c) {
	case O_ROLE:
		if (!strcmp(a, "both"))
			o->role = SIM_ROLE_BOTH;
		else if (!strcmp(a, "mcu"))
			o->role = SIM_ROLE_MCU;
		else if (!strcmp(a, "viewer"))
			o->role = SIM_ROLE_VIEWER;
		else
			return bad("bad --role '%s': both, mcu or viewer", a);
		return 0;
	case O_SERVER:
		return tools_parse_hostport(a, 3478, &o->server, &o->server_len)
		               ? bad("bad --server '%s': HOST:PORT", a)
		               : 0;
	case O_MCU_SERVER:
		*mcu_server = true;
		return tools_parse_hostport(a, 3478, &o->mcu_server,
		                            &o->mcu_server_len)
		               ? bad("bad --mcu-server '%s': HOST:PORT", a)
		               : 0;
	case O_USER: {
		const char *colon = strchr(a, ':');
		if (!colon || colon == a || !colon[1] ||
		    (size_t)(colon - a) >= sizeof(o->user) ||
		    strlen(colon + 1) >= sizeof(o->pass))
			return bad("bad --user '%s': NAME:PASS", a);
		snprintf(o->user, sizeof(o->user), "%.*s", (int)(colon - a), a);
		snprintf(o->pass, sizeof(o->pass), "%s", colon + 1);
		return 0;
	}
	case O_SECRET:
		*secret = a;
		return 0;
	case O_REST_ID:
		*rest_id = a;
		return 0;
	case O_TRANSPORT:
		if (!strcmp(a, "udp"))
			o->transport = SIM_UDP;
		else if (!strcmp(a, "tcp"))
			o->transport = SIM_TCP;
		else if (!strcmp(a, "tls"))
			o->transport = SIM_TLS;
		else
			return bad("bad --transport '%s': udp, tcp or tls", a);
		return 0;
	case O_VIEWERS:
		if (parse_num(a, 1, 1000, &d) || d != floor(d))
			return bad("bad --viewers '%s': 1..1000", a);
		o->viewers = (int)d;
		return 0;
	case O_DIRECT:
		o->direct = true;
		return 0;
	case O_PDU_BURST:
		o->pdu_burst = true;
		return 0;
	case O_RATE:
		if ((d = parse_rate(a)) < 0)
			return bad("bad --rate '%s': bits/s like 1M, 1.5M, "
			           "3000k, 3000000",
			           a);
		o->rates[0] = d;
		o->nsteps = 1;
		o->ramp = false;
		return 0;
	case O_RAMP:
		o->nsteps = 0;
		o->ramp = true;
		return parse_ramp(o, a)
		               ? bad("bad --ramp '%s': 1M,2M,3M or "
		                     "START:STEP:END, at most %d rates",
		                     a, SIM_STEPS_MAX)
		               : 0;
	case O_PEAK:
		return parse_num(a, 1, 100, &o->peak)
		               ? bad("bad --peak '%s': 1..100", a)
		               : 0;
	case O_DURATION:
		return parse_num(a, 0.1, 86400, &o->duration_s)
		               ? bad("bad --duration '%s': seconds", a)
		               : 0;
	case O_WARMUP:
		return parse_num(a, 0, 3600, &o->warmup_s)
		               ? bad("bad --warmup '%s': seconds", a)
		               : 0;
	case O_SEED:
		if (parse_num(a, 0, 1e15, &d))
			return bad("bad --seed '%s': a number", a);
		o->seed = (uint64_t)d;
		return 0;
	case O_PT:
		if (parse_num(a, 96, 127, &d) || d == 126)
			return bad("bad --pt '%s': 96..127 but 126 (control)",
			           a);
		o->pt = (int)d;
		return 0;
	case O_SRTP:
		if (strcmp(a, "gcm") && strcmp(a, "cm"))
			return bad("bad --srtp '%s': cm or gcm", a);
		o->gcm = !strcmp(a, "gcm");
		return 0;
	case O_SRTP_SECRET:
		snprintf(o->srtp_secret, sizeof(o->srtp_secret), "%s", a);
		return 0;
	case O_CONTROL_VIEWER:
		if (parse_num(a, 0, 1000, &d))
			return bad("bad --control-viewer '%s': 0..viewers", a);
		o->control_viewer = (int)d;
		return 0;
	case O_CONTROL_EVERY:
		return parse_num(a, 0.1, 3600, &o->control_every_s)
		               ? bad("bad --control-every '%s': seconds", a)
		               : 0;
	case O_INPUT_HZ:
		if (parse_num(a, 1, 1000, &d))
			return bad("bad --input-hz '%s': 1..1000", a);
		o->input_hz = (int)d;
		return 0;
	case O_SETUP_TIMEOUT:
		return parse_num(a, 1, 3600, &o->setup_timeout_s)
		               ? bad("bad --setup-timeout '%s': seconds", a)
		               : 0;
	case O_RTO:
		if (parse_num(a, 10, 10000, &d))
			return bad("bad --rto-ms '%s': 10..10000", a);
		o->rto_ms = (int)d;
		return 0;
	case O_TRIES:
		if (parse_num(a, 1, 20, &d))
			return bad("bad --max-tries '%s': 1..20", a);
		o->max_tries = (int)d;
		return 0;
	case O_LIFETIME:
		if (parse_num(a, 60, 86400, &d))
			return bad("bad --lifetime '%s': 60..86400", a);
		o->lifetime_s = (uint32_t)d;
		return 0;
	case O_SOCKBUF:
		if (parse_num(a, 4096, 1 << 30, &d))
			return bad("bad --sockbuf '%s': bytes", a);
		o->sockbuf = (int)d;
		return 0;
	case O_SIGNAL:
		o->signal = a;
		return 0;
	case O_JSON:
		o->json = true;
		return 0;
	}
	return 2;
}

int sim_parse_args(struct sim_opts *o, int argc, char **argv)
{
	const char *secret = NULL, *rest_id = "edge-sim";
	bool mcu_server = false;
	int c, rc;

	defaults(o);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == O_HELP) {
			fputs(usage, stdout);
			exit(0);
		}
		if (c == '?')
			return bad("unknown option '%s'", argv[optind - 1]);
		if ((rc = option(o, c, optarg, &secret, &rest_id, &mcu_server)))
			return rc;
	}
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (secret && rest_credentials(o, secret, rest_id))
		return bad("cannot compute REST credentials");
	if (!o->user[0])
		return bad(
		        "no credentials: give --user NAME:PASS or --secret S");
	if (!mcu_server) {
		o->mcu_server = o->server;
		o->mcu_server_len = o->server_len;
	}
	if (!o->nsteps) {
		o->rates[0] = 1e6;
		o->nsteps = 1;
	}
	if (o->control_viewer < 0)
		o->control_viewer = 1;
	if (o->control_viewer > o->viewers)
		return bad("bad --control-viewer %d: only %d viewers",
		           o->control_viewer, o->viewers);
	if (!o->srtp_secret[0])
		snprintf(o->srtp_secret, sizeof(o->srtp_secret),
		         "edge-sim:%llu", (unsigned long long)o->seed);
	if (o->role != SIM_ROLE_BOTH && !o->signal)
		return bad("--role mcu|viewer needs --signal HOST:PORT");
	return 0;
}
