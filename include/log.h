/*
 * log.h - messages to stderr with syslog priority prefixes ("<3>") so that
 * journald keeps the levels. The error helpers return -1 so a caller can
 * write `return log_error(...)`.
 */
#ifndef TIERPROBE_LOG_H
#define TIERPROBE_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Messages above this level are not printed. Default LOG_LEVEL_INFO. */
void log_set_level(enum log_level max);
/* With prefixes on (the daemon), every line starts "<N>"; off (CLI), "tierprobe: ". */
void log_set_syslog_prefix(int on);

int log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int log_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "tierprobe: <message>" and exits with status (start-up failures only). */
void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#endif
