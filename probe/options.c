/* options.c - command line (getopt_long) and config file (libinih), one set of keys for both. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define TIERPROBE_VERSION "0.1.0"

/* Config-file strings are strdup'ed here so they outlive the parse. */
static char *owned[64];
static size_t nowned;

static const char *keep(const char *s)
{
	if (nowned >= sizeof(owned) / sizeof(owned[0]))
		return NULL;
	char *c = strdup(s);
	if (c)
		owned[nowned++] = c;
	return c;
}

void options_release(struct options *o)
{
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	nowned = 0;
	(void)o;
}

static const char *const command_names[] = { "", "analyze", "run", "report", "compare" };

void options_usage(enum command cmd, FILE *f)
{
	switch (cmd) {
	case CMD_ANALYZE:
		fputs("usage: tierprobe analyze [options] FILE...\n"
		      "\n"
		      "Reads pcap or pcapng captures (tcpdump -w, tshark -w) and writes the HTTP and\n"
		      "MongoDB transactions they contain, per-route and per-query-shape statistics,\n"
		      "and a summary. Several files are read as one capture, in the order given;\n"
		      "a FIFO or /dev/stdin works too. Ctrl-C stops reading and still writes\n"
		      "everything read so far (exit 130).\n"
		      "\n"
		      "  -o, --out DIR          output folder (default ./tierprobe-out)\n"
		      "      --http-ports LIST  HTTP server ports, e.g. 80,8000-8010 (default 80,5000,8000,8080)\n"
		      "      --mongo-ports LIST MongoDB server ports (default 27017)\n"
		      "  -c, --config FILE      read these options from FILE first (key = value)\n"
		      "  -q, --quiet            no summary on stdout, no progress on stderr\n"
		      "\n"
		      "example: tcpdump -i any -w load.pcap 'port 8000 or port 27017'\n"
		      "         tierprobe analyze --http-ports 8000 -o out load.pcap\n", f);
		break;
	case CMD_RUN:
		fputs("usage: tierprobe run [options]\n"
		      "\n"
		      "Captures live on IFACE, samples the host and the web/mongod processes every\n"
		      "interval, polls MongoDB serverStatus, until SIGINT/SIGTERM or --duration.\n"
		      "\n"
		      "  -i, --iface IFACE      interface to capture on (default any)\n"
		      "      --interval S       sampling interval in seconds (default 1)\n"
		      "      --duration S       stop after S seconds (default: until a signal)\n"
		      "  -o, --out DIR          output folder (default ./tierprobe-out)\n"
		      "      --http-ports LIST  HTTP server ports (default 80,5000,8000,8080)\n"
		      "      --mongo-ports LIST MongoDB server ports (default 27017)\n"
		      "      --mongo-uri URI    poll serverStatus there (mongodb://...)\n"
		      "      --mongo-uri-file F read the URI from F (keeps the password out of ps)\n"
		      "      --user NAME        drop privileges to NAME after opening the capture\n"
		      "      --web-pid PID      the web tier is PID and its children (default: discovered)\n"
		      "      --web-name NAME    the web tier is the processes named NAME\n"
		      "      --mongod-pid PID   mongod's pid (default: the owner of the MongoDB port)\n"
		      "      --buffer-mib N     kernel capture buffer (default 64)\n"
		      "  -c, --config FILE      read these options from FILE first (key = value)\n"
		      "  -q, --quiet            no summary on stdout\n", f);
		break;
	case CMD_REPORT:
		fputs("usage: tierprobe report DIR\n"
		      "\n"
		      "Prints the summary and verdict of a finished output folder again, from its CSVs.\n", f);
		break;
	case CMD_COMPARE:
		fputs("usage: tierprobe compare DIR_A DIR_B\n"
		      "\n"
		      "Puts two runs of the same workload side by side, per route and per query shape,\n"
		      "and says which differences are real and which are noise.\n", f);
		break;
	default:
		fputs("usage: tierprobe COMMAND [options] [args]\n"
		      "\n"
		      "Where does the time go under load: the web tier, MongoDB, or the host?\n"
		      "\n"
		      "commands:\n"
		      "  analyze FILE...        offline: read pcap/pcapng files, write the outputs\n"
		      "  run                    live: capture + sample + poll until a signal or --duration\n"
		      "  report DIR             print a finished output folder's summary and verdict again\n"
		      "  compare DIR_A DIR_B    the same workload under two setups, side by side\n"
		      "\n"
		      "'tierprobe COMMAND --help' shows a command's options.\n"
		      "Exit status: 0 success, 1 runtime failure, 2 bad usage or unreadable input.\n", f);
	}
}

static int bad(const char *where, const char *key, const char *value, const char *why)
{
	fprintf(stderr, "tierprobe: %s%s%s: '%s' %s\n", where, where[0] ? ": " : "", key,
		value ? value : "", why);
	return 2;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0)
		return -1;
	*out = v;
	return 0;
}

static int parse_pid(const char *s, pid_t *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 4194304)
		return -1;
	*out = (pid_t)v;
	return 0;
}

/*
 * Sets one option by its long name. `where` says where it came from for
 * messages ("" for the command line, "config 'f' line 3"). Returns 0 or 2.
 */
static int set_option(struct options *o, const char *where, const char *key, const char *value,
		      int from_config)
{
	const char *v = from_config ? keep(value) : value;
	char shown[64];
	snprintf(shown, sizeof(shown), "%s%s", from_config ? "" : "--", key);
	if (!v)
		return bad(where, shown, value, "could not be stored (out of memory)");

	if (!strcmp(key, "out"))
		o->out_dir = v;
	else if (!strcmp(key, "http-ports"))
		o->http_ports = v;
	else if (!strcmp(key, "mongo-ports"))
		o->mongo_ports = v;
	else if (!strcmp(key, "iface"))
		o->iface = v;
	else if (!strcmp(key, "interval")) {
		if (parse_seconds(v, &o->interval_s) || o->interval_s < 0.1 || o->interval_s > 3600)
			return bad(where, shown, v, "is not an interval in seconds (0.1 to 3600)");
	} else if (!strcmp(key, "duration")) {
		if (parse_seconds(v, &o->duration_s))
			return bad(where, shown, v, "is not a duration in seconds");
	} else if (!strcmp(key, "mongo-uri"))
		o->mongo_uri = v;
	else if (!strcmp(key, "mongo-uri-file"))
		o->mongo_uri_file = v;
	else if (!strcmp(key, "user"))
		o->user = v;
	else if (!strcmp(key, "web-pid")) {
		if (parse_pid(v, &o->web_pid))
			return bad(where, shown, v, "is not a process id");
	} else if (!strcmp(key, "web-name"))
		o->web_name = v;
	else if (!strcmp(key, "mongod-pid")) {
		if (parse_pid(v, &o->mongod_pid))
			return bad(where, shown, v, "is not a process id");
	} else if (!strcmp(key, "buffer-mib")) {
		char *end;
		long n = strtol(v, &end, 10);
		if (end == v || *end || n < 1 || n > 4096)
			return bad(where, shown, v, "is not a buffer size in MiB (1 to 4096)");
		o->buffer_mib = (int)n;
	} else if (!strcmp(key, "quiet"))
		o->quiet = strcmp(v, "0") && strcmp(v, "false") && strcmp(v, "no");
	else
		return bad(where, "unknown key", key, "(the keys are the long options, e.g. out = DIR)");
	return 0;
}

struct ini_ctx {
	struct options *o;
	const char *path;
	int rc;
};

/*
 * Debian's libinih passes no line number to the handler; returning 0 makes
 * ini_parse_file() return the failing line, which the message then names.
 */
static int config_key(void *user, const char *section, const char *name, const char *value)
{
	struct ini_ctx *c = user;
	char where[512];
	(void)section;	/* sections are allowed for readability and ignored */
	snprintf(where, sizeof(where), "config '%s'", c->path);
	if (c->rc == 0)
		c->rc = set_option(c->o, where, name, value, 1);
	return c->rc == 0;
}

static int read_config(struct options *o, const char *path)
{
	struct ini_ctx c = { o, path, 0 };
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "tierprobe: cannot read config '%s': %s\n", path, strerror(errno));
		return 2;
	}
	int line = ini_parse_file(f, config_key, &c);
	fclose(f);
	if (c.rc) {
		fprintf(stderr, "tierprobe: (config '%s' line %d)\n", path, line);
		return c.rc;
	}
	if (line > 0) {
		fprintf(stderr, "tierprobe: config '%s' line %d: not 'key = value'\n", path, line);
		return 2;
	}
	return 0;
}

static const struct option long_opts[] = {
	{ "out", required_argument, NULL, 'o' },
	{ "http-ports", required_argument, NULL, 1 },
	{ "mongo-ports", required_argument, NULL, 1 },
	{ "config", required_argument, NULL, 'c' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "iface", required_argument, NULL, 'i' },
	{ "interval", required_argument, NULL, 1 },
	{ "duration", required_argument, NULL, 1 },
	{ "mongo-uri", required_argument, NULL, 1 },
	{ "mongo-uri-file", required_argument, NULL, 1 },
	{ "user", required_argument, NULL, 1 },
	{ "web-pid", required_argument, NULL, 1 },
	{ "web-name", required_argument, NULL, 1 },
	{ "mongod-pid", required_argument, NULL, 1 },
	{ "buffer-mib", required_argument, NULL, 1 },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Options that only make sense live. */
static int run_only(const char *key)
{
	static const char *const keys[] = { "iface", "interval", "duration", "mongo-uri",
		"mongo-uri-file", "user", "web-pid", "web-name", "mongod-pid", "buffer-mib" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i]))
			return 1;
	return 0;
}

int options_parse(struct options *o, int argc, char **argv)
{
	memset(o, 0, sizeof(*o));
	o->out_dir = "tierprobe-out";
	o->http_ports = "80,5000,8000,8080";
	o->mongo_ports = "27017";
	o->iface = "any";
	o->interval_s = 1;
	o->buffer_mib = 64;

	if (argc < 2) {
		options_usage(CMD_NONE, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		options_usage(CMD_NONE, stdout);
		return 1;
	}
	if (!strcmp(cmd, "--version")) {
		printf("tierprobe %s\n", TIERPROBE_VERSION);
		return 1;
	}
	for (int i = 1; i < 5; i++)
		if (!strcmp(cmd, command_names[i]))
			o->command = (enum command)i;
	if (o->command == CMD_NONE) {
		fprintf(stderr, "tierprobe: unknown command '%s' (try: analyze, run, report, compare)\n", cmd);
		return 2;
	}

	/* Pass 1: only -c, so the file is read before the command line overrides it. */
	int ac = argc - 1;
	char **av = argv + 1;
	optind = 0;
	opterr = 0;
	int ch, idx;
	while ((ch = getopt_long(ac, av, "+o:c:qi:hV", long_opts, &idx)) != -1)
		if (ch == 'c')
			o->config = optarg;
	if (o->config) {
		int rc = read_config(o, o->config);
		if (rc)
			return rc;
	}

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(ac, av, ":o:c:qi:hV", long_opts, &idx)) != -1) {
		int rc = 0;
		const char *opt = av[optind - 1];
		switch (ch) {
		case 'o': rc = set_option(o, "", "out", optarg, 0); break;
		case 'i': rc = set_option(o, "", "iface", optarg, 0); break;
		case 'q': o->quiet = 1; break;
		case 'c': break;
		case 'h': options_usage(o->command, stdout); return 1;
		case 'V': printf("tierprobe %s\n", TIERPROBE_VERSION); return 1;
		case 1:
			if (o->command != CMD_RUN && run_only(long_opts[idx].name)) {
				fprintf(stderr, "tierprobe %s: option --%s only applies to 'run'\n",
					command_names[o->command], long_opts[idx].name);
				return 2;
			}
			rc = set_option(o, "", long_opts[idx].name, optarg, 0);
			break;
		case ':':
			fprintf(stderr, "tierprobe %s: option '%s' needs a value\n",
				command_names[o->command], opt);
			return 2;
		default:
			fprintf(stderr, "tierprobe %s: unknown option '%s' (see 'tierprobe %s --help')\n",
				command_names[o->command], opt, command_names[o->command]);
			return 2;
		}
		if (rc)
			return rc;
	}
	o->args = av + optind;
	o->nargs = ac - optind;

	portmap_init(&o->ports);
	if (portmap_add_list(&o->ports, o->http_ports, PROTO_HTTP))
		return bad("", "--http-ports", o->http_ports, "is not a port list (e.g. 80,8000-8010)");
	if (portmap_add_list(&o->ports, o->mongo_ports, PROTO_MONGO))
		return bad("", "--mongo-ports", o->mongo_ports, "is not a port list (e.g. 27017)");

	switch (o->command) {
	case CMD_ANALYZE:
		if (o->nargs < 1) {
			fprintf(stderr, "tierprobe analyze: no capture file given (usage: tierprobe analyze [options] FILE...)\n");
			return 2;
		}
		break;
	case CMD_RUN:
		if (o->nargs > 0) {
			fprintf(stderr, "tierprobe run: unexpected argument '%s'\n", o->args[0]);
			return 2;
		}
		if (o->mongo_uri && o->mongo_uri_file) {
			fprintf(stderr, "tierprobe run: give --mongo-uri or --mongo-uri-file, not both\n");
			return 2;
		}
		break;
	case CMD_REPORT:
		if (o->nargs != 1) {
			fprintf(stderr, "tierprobe report: expected one output folder (usage: tierprobe report DIR)\n");
			return 2;
		}
		break;
	case CMD_COMPARE:
		if (o->nargs != 2) {
			fprintf(stderr, "tierprobe compare: expected two output folders (usage: tierprobe compare DIR_A DIR_B)\n");
			return 2;
		}
		break;
	default:
		break;
	}
	return 0;
}
