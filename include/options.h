/*
 * options.h - the command line and the config file (-c FILE: the same keys as
 * the long options, INI syntax read by libinih). The config file is read
 * first; the command line overrides it.
 */
#ifndef TIERPROBE_OPTIONS_H
#define TIERPROBE_OPTIONS_H

#include <stdio.h>
#include <sys/types.h>

#include "portmap.h"

enum command {
	CMD_NONE = 0,
	CMD_ANALYZE,
	CMD_RUN,
	CMD_REPORT,
	CMD_COMPARE,
};

struct options {
	enum command command;
	const char *out_dir;		/* -o/--out, default ./tierprobe-out */
	const char *http_ports;		/* --http-ports, default 80,5000,8000,8080 */
	const char *mongo_ports;	/* --mongo-ports, default 27017 */
	struct portmap ports;		/* both lists, parsed */
	const char *config;		/* -c/--config */
	int quiet;			/* -q: no summary on stdout, no progress */
	/* run */
	const char *iface;		/* -i/--iface, default any */
	double interval_s;		/* --interval, default 1 */
	double duration_s;		/* --duration, 0 = until a signal */
	const char *mongo_uri;		/* --mongo-uri */
	const char *mongo_uri_file;	/* --mongo-uri-file */
	const char *user;		/* --user */
	pid_t web_pid;			/* --web-pid */
	const char *web_name;		/* --web-name */
	pid_t mongod_pid;		/* --mongod-pid */
	int buffer_mib;			/* --buffer-mib: kernel capture buffer */
	/* positional: capture files (analyze), folders (report, compare) */
	char **args;
	int nargs;
};

/*
 * Parses argv into o (defaults first, then -c FILE, then the command line).
 * Returns 0; 1 when --help or --version was printed; or 2 after printing a
 * message naming the bad option or config line (the exit status for bad usage).
 */
int options_parse(struct options *o, int argc, char **argv);

/* Frees what options_parse() allocated (strings read from the config file). */
void options_release(struct options *o);

/* The usage text for a command (CMD_NONE: the overview). */
void options_usage(enum command cmd, FILE *f);

#endif
