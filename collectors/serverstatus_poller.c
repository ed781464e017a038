/* serverstatus_poller.c - a thread that runs serverStatus every interval through libmongoc 1.23. */
#include "serverstatus_poller.h"

#include <errno.h>
#include <math.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define SS_URI_TEXT_MAX 4096
#define SS_TIMEOUT_CAP_MS 2000
#define SS_TIMEOUT_MIN_MS 50

struct serverstatus_poller {
	char *uri_text;            /* owned; wiped on free: it may hold the password */
	char redacted[SS_URI_TEXT_MAX];
	mongoc_uri_t *uri;         /* owned; timeouts already applied */
	int64_t interval_ns;
	int timeout_ms;

	pthread_mutex_t lock;      /* guards everything below */
	pthread_cond_t wake;       /* CLOCK_MONOTONIC: signalled by stop */
	bool stop;
	bool running;
	bool has_new;
	struct serverstatus_sample latest;
	pthread_t thread;
};

static pthread_once_t ss_library_once = PTHREAD_ONCE_INIT;
static bool ss_library_ready;

/*
 * libmongoc prints its own warnings to stderr by default (e.g. one per failed connection); they
 * would repeat every interval while the server is down and bypass the log level, so they go to
 * log_debug instead. Our own messages carry what the user needs.
 */
static void ss_mongoc_log(mongoc_log_level_t level, const char *domain, const char *message,
			  void *data)
{
	(void)data;
	if (level <= MONGOC_LOG_LEVEL_WARNING)
		log_debug("serverstatus: libmongoc %s: %s", domain, message);
}

static void ss_library_init_once(void)
{
	mongoc_log_set_handler(ss_mongoc_log, NULL);
	mongoc_init();
	ss_library_ready = true;
}

void serverstatus_library_init(void) { pthread_once(&ss_library_once, ss_library_init_once); }

void serverstatus_library_unlink_counters(void)
{
	char name[32];
	/* the name libmongoc's mongoc-counters.c gives the segment */
	snprintf(name, sizeof(name), "/mongoc-%u", (unsigned)getpid());
	shm_unlink(name);	/* ENOENT when the library was built without them: fine */
}

void serverstatus_library_cleanup(void)
{
	if (ss_library_ready) {
		mongoc_cleanup();
		ss_library_ready = false;
	}
}

int serverstatus_poller_timeout_ms(double interval_s)
{
	double ms = interval_s * 1000.0;
	if (!(ms < SS_TIMEOUT_CAP_MS))
		return SS_TIMEOUT_CAP_MS;
	if (ms < SS_TIMEOUT_MIN_MS)
		return SS_TIMEOUT_MIN_MS;
	return (int)ms;
}

/* Lowers a timeout option to ours; a smaller value the user chose is kept. */
static void ss_cap_option(mongoc_uri_t *uri, const char *key, int ms)
{
	int32_t have = mongoc_uri_get_option_as_int32(uri, key, 0);
	if (have <= 0 || have > ms)
		mongoc_uri_set_option_as_int32(uri, key, ms);
}

void serverstatus_auth_message(const char *uri_text, const char *reason, char *out, size_t len)
{
	char redacted[SS_URI_TEXT_MAX];
	serverstatus_redact_uri(uri_text, redacted, sizeof(redacted));
	const char *user = NULL, *mech = NULL, *pass = NULL;
	mongoc_uri_t *uri = uri_text ? mongoc_uri_new_with_error(uri_text, NULL) : NULL;
	if (uri) {
		user = mongoc_uri_get_username(uri);
		mech = mongoc_uri_get_auth_mechanism(uri);
		pass = mongoc_uri_get_password(uri);
	}
	/* Servers do not echo passwords, but the reason is foreign text: check rather than trust. */
	if (!reason)
		reason = "";
	if (pass && pass[0] && strstr(reason, pass))
		reason = "(the reason is withheld: it contains the password)";
	snprintf(out, len,
		 "serverstatus: authentication failed for user '%s' (mechanism %s) at '%s': %s",
		 user ? user : "", mech ? mech : "default, negotiated SCRAM", redacted, reason);
	mongoc_uri_destroy(uri);
}

struct serverstatus_poller *serverstatus_poller_new(const char *uri_text, double interval_s)
{
	serverstatus_library_init();
	if (!uri_text || !(interval_s > 0) || !isfinite(interval_s)) {
		log_error("serverstatus: bad poller arguments (URI %s, interval %g s)",
			  uri_text ? "given" : "missing", interval_s);
		return NULL;
	}
	if (interval_s < 0.05)
		interval_s = 0.05;
	struct serverstatus_poller *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	serverstatus_redact_uri(uri_text, p->redacted, sizeof(p->redacted));
	bson_error_t err;
	p->uri = mongoc_uri_new_with_error(uri_text, &err);
	if (!p->uri) {
		/* err.message is libmongoc's parse message; it names the problem, not the value. */
		log_error("serverstatus: invalid MongoDB URI '%s': %s", p->redacted, err.message);
		free(p);
		return NULL;
	}
	p->uri_text = strdup(uri_text);
	if (!p->uri_text) {
		mongoc_uri_destroy(p->uri);
		free(p);
		return NULL;
	}
	p->interval_ns = (int64_t)(interval_s * 1e9);
	p->timeout_ms = serverstatus_poller_timeout_ms(interval_s);
	ss_cap_option(p->uri, MONGOC_URI_CONNECTTIMEOUTMS, p->timeout_ms);
	ss_cap_option(p->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, p->timeout_ms);
	ss_cap_option(p->uri, MONGOC_URI_SOCKETTIMEOUTMS, p->timeout_ms);
	if (!mongoc_uri_get_appname(p->uri))
		mongoc_uri_set_appname(p->uri, "tierprobe");

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

static int64_t ss_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * TS_NS_PER_SEC + ts.tv_nsec;
}

/* Sleeps until the monotonic deadline or stop; returns true if asked to stop. Lock held. */
static bool ss_wait_until(struct serverstatus_poller *p, int64_t deadline_ns)
{
	struct timespec ts = { (time_t)(deadline_ns / TS_NS_PER_SEC), (long)(deadline_ns % TS_NS_PER_SEC) };
	while (!p->stop && ss_mono_ns() < deadline_ns) {
		int rc = pthread_cond_timedwait(&p->wake, &p->lock, &ts);
		if (rc == ETIMEDOUT)
			break;
	}
	return p->stop;
}

static enum serverstatus_poll_status ss_classify(const bson_error_t *err)
{
	if (err->domain == MONGOC_ERROR_CLIENT && err->code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
		return SERVERSTATUS_POLL_AUTH_FAILED;
	if (err->domain == MONGOC_ERROR_SERVER_SELECTION || err->domain == MONGOC_ERROR_STREAM)
		return SERVERSTATUS_POLL_UNREACHABLE;
	return SERVERSTATUS_POLL_ERROR;
}

/* One attempt. *client is created on demand and destroyed after a failure (see below). */
static void ss_poll_once(struct serverstatus_poller *p, mongoc_client_t **client,
			 struct serverstatus_sample *s, bson_error_t *err)
{
	memset(s, 0, sizeof(*s));
	memset(err, 0, sizeof(*err));
	s->status = SERVERSTATUS_POLL_ERROR;
	if (!*client) {
		*client = mongoc_client_new_from_uri_with_error(p->uri, err);
		if (!*client) {
			s->time = timestamp_now();
			snprintf(s->note, sizeof(s->note), "%s", "MongoDB client could not be created");
			return;
		}
		mongoc_client_set_error_api(*client, MONGOC_ERROR_API_VERSION_2);
	}
	bson_t cmd = BSON_INITIALIZER, reply;
	BSON_APPEND_INT32(&cmd, "serverStatus", 1);
	bool ok = mongoc_client_command_simple(*client, "admin", &cmd, NULL, &reply, err);
	s->time = timestamp_now();
	if (ok && serverstatus_parse(&reply, &s->doc) == 0) {
		s->status = SERVERSTATUS_POLL_OK;
		s->doc.sample_time = s->time;
	} else {
		if (ok)
			snprintf(err->message, sizeof(err->message), "the reply is not a serverStatus");
		s->status = ok ? SERVERSTATUS_POLL_ERROR : ss_classify(err);
		snprintf(s->note, sizeof(s->note), "%s",
			 s->status == SERVERSTATUS_POLL_UNREACHABLE ? "server unreachable"
			 : s->status == SERVERSTATUS_POLL_AUTH_FAILED ? "authentication failed"
								     : "serverStatus failed");
	}
	bson_destroy(&reply);
	bson_destroy(&cmd);
	/*
	 * A single-threaded client skips a server for 5 s after a failed check (cooldownMS) and
	 * keeps a socket that may point at a dead process: a fresh client on the next attempt
	 * reconnects as soon as the server is back, which is what "within two intervals" needs.
	 */
	if (s->status != SERVERSTATUS_POLL_OK) {
		mongoc_client_destroy(*client);
		*client = NULL;
	}
}

/* Logs a change of state once: the first failure of an outage, and the recovery. */
static void ss_log_transition(struct serverstatus_poller *p, int was,
			      const struct serverstatus_sample *s, const bson_error_t *err)
{
	if ((int)s->status == was)
		return;
	char msg[1024];
	switch (s->status) {
	case SERVERSTATUS_POLL_OK:
		log_notice("serverstatus: polling '%s' (%s, MongoDB %s)", p->redacted,
			   s->doc.host[0] ? s->doc.host : "host unknown",
			   s->doc.version[0] ? s->doc.version : "version unknown");
		break;
	case SERVERSTATUS_POLL_UNREACHABLE:
		log_warning("serverstatus: cannot reach '%s': %s; retrying, columns stay empty meanwhile",
			    p->redacted, err->message);
		break;
	case SERVERSTATUS_POLL_AUTH_FAILED:
		serverstatus_auth_message(p->uri_text, err->message, msg, sizeof(msg));
		log_error("%s", msg);
		break;
	case SERVERSTATUS_POLL_ERROR:
		log_warning("serverstatus: serverStatus on '%s' failed: %s", p->redacted, err->message);
		break;
	}
}

static void *ss_thread(void *arg)
{
	struct serverstatus_poller *p = arg;
	mongoc_client_t *client = NULL;
	/* -1: nothing logged yet, so the very first outcome (even a failure at start) is logged. */
	int was = -1;
	int64_t backoff_ns = 0;
	int64_t next_ns = ss_mono_ns();

	pthread_mutex_lock(&p->lock);
	while (!ss_wait_until(p, next_ns)) {
		pthread_mutex_unlock(&p->lock);
		int64_t start = ss_mono_ns();
		struct serverstatus_sample s;
		bson_error_t err;
		ss_poll_once(p, &client, &s, &err);
		/*
		 * A server that restarted since the last poll leaves the client a dead socket: the
		 * first command fails at once. One immediate retry on a fresh client hides that,
		 * so a quick restart costs no sample and logs nothing.
		 */
		if (was == SERVERSTATUS_POLL_OK && s.status == SERVERSTATUS_POLL_UNREACHABLE) {
			pthread_mutex_lock(&p->lock);
			bool stopping = p->stop;
			pthread_mutex_unlock(&p->lock);
			if (!stopping)
				ss_poll_once(p, &client, &s, &err);
		}
		ss_log_transition(p, was, &s, &err);
		was = (int)s.status;

		if (s.status == SERVERSTATUS_POLL_OK) {
			backoff_ns = 0;
			next_ns = start + p->interval_ns;
		} else {
			/* Quick retries first (a server still starting), never slower than the interval. */
			backoff_ns = backoff_ns ? backoff_ns * 2 : p->interval_ns / 4;
			if (backoff_ns > p->interval_ns)
				backoff_ns = p->interval_ns;
			next_ns = ss_mono_ns() + backoff_ns;
		}
		if (next_ns < ss_mono_ns())
			next_ns = ss_mono_ns();

		pthread_mutex_lock(&p->lock);
		p->latest = s;
		p->has_new = true;
	}
	pthread_mutex_unlock(&p->lock);
	mongoc_client_destroy(client);
	return NULL;
}

int serverstatus_poller_start(struct serverstatus_poller *p)
{
	pthread_mutex_lock(&p->lock);
	int rc = 0;
	if (!p->running) {
		p->stop = false;
		rc = -pthread_create(&p->thread, NULL, ss_thread, p);
		p->running = rc == 0;
	}
	pthread_mutex_unlock(&p->lock);
	if (rc)
		log_error("serverstatus: cannot start the poller thread: %s", strerror(-rc));
	return rc;
}

bool serverstatus_poller_take(struct serverstatus_poller *p, struct serverstatus_sample *out)
{
	pthread_mutex_lock(&p->lock);
	bool got = p->has_new;
	if (got) {
		*out = p->latest;
		p->has_new = false;
	}
	pthread_mutex_unlock(&p->lock);
	return got;
}

void serverstatus_poller_stop(struct serverstatus_poller *p)
{
	pthread_mutex_lock(&p->lock);
	bool running = p->running;
	p->stop = true;
	p->running = false;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	if (running)
		pthread_join(p->thread, NULL);
}

void serverstatus_poller_free(struct serverstatus_poller *p)
{
	if (!p)
		return;
	serverstatus_poller_stop(p);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	mongoc_uri_destroy(p->uri);
	if (p->uri_text) {
		explicit_bzero(p->uri_text, strlen(p->uri_text));
		free(p->uri_text);
	}
	free(p);
}

int serverstatus_read_uri_file(const char *path, char **uri)
{
	*uri = NULL;
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		log_error("serverstatus: cannot open URI file '%s': %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		log_warning("serverstatus: URI file '%s' is readable by group or others (chmod 600)", path);
	char buf[SS_URI_TEXT_MAX];
	bool got = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	int rc = 0;
	size_t n = got ? strlen(buf) : 0;
	if (got && n == sizeof(buf) - 1 && buf[n - 1] != '\n') {
		log_error("serverstatus: URI file '%s': the first line is too long", path);
		rc = -EINVAL;
	} else {
		char *b = buf;
		while (n && (b[n - 1] == '\n' || b[n - 1] == '\r' || b[n - 1] == ' ' || b[n - 1] == '\t'))
			b[--n] = '\0';
		while (*b == ' ' || *b == '\t') {
			b++;
			n--;
		}
		if (n == 0) {
			log_error("serverstatus: URI file '%s' is empty", path);
			rc = -EINVAL;
		} else {
			*uri = strdup(b);
			rc = *uri ? 0 : -ENOMEM;
		}
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

void serverstatus_sample_row(struct serverstatus_doc *prev, bool *have_prev,
			     const struct serverstatus_sample *s, struct serverstatus_row *row)
{
	if (s->status != SERVERSTATUS_POLL_OK) {
		/* prev is kept: counters are cumulative, so the next good sample rates over the gap. */
		serverstatus_row_empty(row, s->time, s->note);
		return;
	}
	double dt_s = 0;
	if (*have_prev && prev->sample_time != TS_NONE && s->doc.sample_time != TS_NONE)
		dt_s = (double)(s->doc.sample_time - prev->sample_time) / (double)TS_NS_PER_SEC;
	serverstatus_delta(*have_prev ? prev : NULL, &s->doc, dt_s, row);
	*prev = s->doc;
	*have_prev = true;
}
