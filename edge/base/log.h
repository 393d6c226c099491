/*
 * edge/base/log.h - the daemon's log: text or JSON lines to stderr, a file or
 * syslog. Thread-safe (one mutex; logging is never on the packet path).
 * SIGHUP calls edge_log_reopen() so logrotate can move the file.
 */
#ifndef AVEDGE_EDGE_LOG_H
#define AVEDGE_EDGE_LOG_H

#include <stdbool.h>

enum edge_log_level {
	EDGE_LOG_ERROR,
	EDGE_LOG_WARN,
	EDGE_LOG_INFO,
	EDGE_LOG_DEBUG,
};

enum edge_log_format {
	EDGE_LOG_TEXT,
	EDGE_LOG_JSON,
};

/* Open the log. path NULL or "" or "stderr" logs to stderr; use_syslog
 * sends lines to syslog(3) instead (facility daemon). Returns 0 or errno
 * (the file could not be opened; the log then stays on stderr). */
int edge_log_open(const char *path, enum edge_log_level level,
                  enum edge_log_format format, bool use_syslog);
/* Reopen the same file (after rotation). 0 or errno. */
int edge_log_reopen(void);
void edge_log_set_level(enum edge_log_level level);
bool edge_log_enabled(enum edge_log_level level);
void edge_log_close(void);

/* One line. Text: "2026-11-24T12:00:00.123Z info message". JSON:
 * {"ts":"...","level":"info","msg":"message"} with msg escaped. */
void edge_log(enum edge_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define edge_err(...)  edge_log(EDGE_LOG_ERROR, __VA_ARGS__)
#define edge_warn(...) edge_log(EDGE_LOG_WARN, __VA_ARGS__)
#define edge_info(...) edge_log(EDGE_LOG_INFO, __VA_ARGS__)
#define edge_debug(...)                                                        \
	do {                                                                   \
		if (edge_log_enabled(EDGE_LOG_DEBUG))                          \
			edge_log(EDGE_LOG_DEBUG, __VA_ARGS__);                 \
	} while (0)

#endif
