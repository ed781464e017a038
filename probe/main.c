/* main.c - the tierprobe command line: analyze, run, report, compare. */
#include <stdio.h>
#include <unistd.h>

#include "analyze.h"
#include "compare.h"
#include "log.h"
#include "options.h"
#include "report.h"
#include "run.h"
#include "serverstatus_poller.h"

int main(int argc, char **argv)
{
	struct options o;
	serverstatus_library_unlink_counters();
	int rc = options_parse(&o, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;

	switch (o.command) {
	case CMD_ANALYZE:
		rc = analyze_main(&o);
		break;
	case CMD_RUN:
		/* As a service (stderr not a terminal: journald), lines carry syslog levels. */
		log_set_syslog_prefix(!isatty(STDERR_FILENO));
		rc = run_main(&o);
		break;
	case CMD_REPORT:
		rc = report_main(&o);
		break;
	case CMD_COMPARE:
		rc = compare_main(&o);
		break;
	default:
		rc = 2;
	}
	options_release(&o);
	return rc;
}
