/* main.c - the tierprobe command line: analyze, run, report, compare. */
#include <stdio.h>

#include "analyze.h"
#include "compare.h"
#include "log.h"
#include "options.h"
#include "report.h"
#include "run.h"

int main(int argc, char **argv)
{
	struct options o;
	int rc = options_parse(&o, argc, argv);
	if (rc)
		return rc == 1 ? 0 : rc;

	switch (o.command) {
	case CMD_ANALYZE:
		rc = analyze_main(&o);
		break;
	case CMD_RUN:
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
