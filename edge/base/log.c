/*
 * edge/base/log.c - log lines in text or JSON to stderr, a file or syslog.
 * One process-wide sink behind a mutex: the log is for lifecycle events,
 * never for packets, so contention does not matter.
 */
#include "edge/base/log.h"
#include "cluster/cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_fp;   /* NULL: stderr */
static char *log_path; /* NULL: stderr */
static bool log_syslog;
static enum edge_log_format log_format = EDGE_LOG_TEXT;
static _Atomic int log_level = EDGE_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int edge_log_open(const char *path, enum edge_log_level level,
                  enum edge_log_format format, bool use_syslog)
{
	int err = 0;

	pthread_mutex_lock(&log_mu);
	log_level = level;
	log_format = format;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog("avedge", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	if (path && strcmp(path, "stdout") == 0) {
		if (log_fp)
			fclose(log_fp);
		log_fp = fdopen(dup(STDOUT_FILENO), "a");
		if (log_fp)
			setvbuf(log_fp, NULL, _IOLBF, 0);
	} else if (path && *path && strcmp(path, "stderr") != 0) {
		FILE *fp = fopen(path, "a");
		if (!fp) {
			err = errno;
		} else {
			setvbuf(fp, NULL, _IOLBF, 0);
			if (log_fp)
				fclose(log_fp);
			log_fp = fp;
			free(log_path);
			log_path = strdup(path);
		}
	}
	pthread_mutex_unlock(&log_mu);
	return err;
}

int edge_log_reopen(void)
{
	int err = 0;

	pthread_mutex_lock(&log_mu);
	if (log_path) {
		FILE *fp = fopen(log_path, "a");
		if (!fp) {
			err = errno; /* keep writing to the old file */
		} else {
			setvbuf(fp, NULL, _IOLBF, 0);
			fclose(log_fp);
			log_fp = fp;
		}
	}
	pthread_mutex_unlock(&log_mu);
	return err;
}

void edge_log_set_level(enum edge_log_level level)
{
	log_level = level;
}

bool edge_log_enabled(enum edge_log_level level)
{
	return (int)level <= log_level;
}

void edge_log_close(void)
{
	pthread_mutex_lock(&log_mu);
	if (log_fp)
		fclose(log_fp);
	log_fp = NULL;
	free(log_path);
	log_path = NULL;
	if (log_syslog)
		closelog();
	log_syslog = false;
	pthread_mutex_unlock(&log_mu);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* nowhere to report a failing log */
		buf += n;
		len -= (size_t)n;
	}
}

static void timestamp(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

void edge_log(enum edge_log_level level, const char *fmt, ...)
{
	char msg[1024], ts[40];
	va_list ap;

	if (!edge_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&log_mu);
	if (log_syslog) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO,
		                           LOG_DEBUG};
		syslog(prio[level], "%s", msg);
	}
	{
		/* One write per line, so a reader never sees half a line. */
		char line[1400], esc[1200];
		struct cluster_buf eb;
		FILE *fp = log_fp ? log_fp : stderr;
		timestamp(ts, sizeof(ts));
		if (log_format == EDGE_LOG_JSON) {
			cluster_buf_fixed(&eb, esc, sizeof(esc));
			cluster_json_quote(&eb, msg, 0);
			static const char fmt_json[] =
			        "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":%s}\n";
			snprintf(line, sizeof(line), fmt_json, ts,
			         level_names[level], esc);
		} else {
			snprintf(line, sizeof(line), "%s %s %s\n", ts,
			         level_names[level], msg);
		}
		write_all(fileno(fp), line, strlen(line));
	}
	pthread_mutex_unlock(&log_mu);
}
