/* log.c - stderr logging with syslog priority prefixes for journald. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>

static enum log_level max_level = LOG_LEVEL_INFO;
static int syslog_prefix;

void log_set_level(enum log_level max) { max_level = max; }
void log_set_syslog_prefix(int on) { syslog_prefix = on; }

static void vlog(enum log_level level, const char *fmt, va_list ap)
{
	if (level > max_level)
		return;
	/* One fprintf per line keeps lines whole when threads log at once. */
	char line[1024];
	vsnprintf(line, sizeof(line), fmt, ap);
	if (syslog_prefix)
		fprintf(stderr, "<%d>%s\n", (int)level, line);
	else
		fprintf(stderr, "tierprobe: %s\n", line);
}

#define DEFINE_LOG(name, level, ret_type, ret)	\
	ret_type name(const char *fmt, ...)	\
	{					\
		va_list ap;			\
		va_start(ap, fmt);		\
		vlog(level, fmt, ap);		\
		va_end(ap);			\
		ret;				\
	}

DEFINE_LOG(log_error, LOG_LEVEL_ERR, int, return -1)
DEFINE_LOG(log_warning, LOG_LEVEL_WARNING, int, return -1)
DEFINE_LOG(log_notice, LOG_LEVEL_NOTICE, void, return)
DEFINE_LOG(log_info, LOG_LEVEL_INFO, void, return)
DEFINE_LOG(log_debug, LOG_LEVEL_DEBUG, void, return)

void die(int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERR, fmt, ap);
	va_end(ap);
	exit(status);
}
