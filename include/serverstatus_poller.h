/*
 * serverstatus_poller.h - runs {serverStatus: 1} against a mongodb:// URI every interval in its
 * own thread (libmongoc 1.23) and hands the latest sample to the main loop.
 *
 * The poller never stalls the probe: every network wait is bounded by min(interval, 2 s)
 * (connectTimeoutMS, serverSelectionTimeoutMS, socketTimeoutMS). A server that is down is logged
 * once per outage and retried with a backoff capped at the interval; while it is down the main
 * loop gets failed samples (empty columns). A restarted server is picked up on the next attempt
 * and serverstatus_delta() turns its reset counters into a new baseline. The URI is redacted in
 * every message (serverstatus_redact_uri); an authentication failure is reported once, naming the
 * user and mechanism, never the password.
 *
 * libmongoc must be initialised once per process: serverstatus_poller_new() calls
 * serverstatus_library_init() (idempotent, thread-safe). The program calls
 * serverstatus_library_cleanup() once at exit, after every poller has been freed.
 */
#ifndef TIERPROBE_SERVERSTATUS_POLLER_H
#define TIERPROBE_SERVERSTATUS_POLLER_H

#include <stdbool.h>
#include <stddef.h>

#include "serverstatus.h"
#include "timestamp.h"

struct serverstatus_poller;

/* What one poll attempt gave. */
enum serverstatus_poll_status {
	SERVERSTATUS_POLL_OK = 0,       /* doc holds the reply */
	SERVERSTATUS_POLL_UNREACHABLE,  /* no server selected / connection failed or timed out */
	SERVERSTATUS_POLL_AUTH_FAILED,  /* the server refused the credentials */
	SERVERSTATUS_POLL_ERROR,        /* the command failed or the reply was not usable */
};

struct serverstatus_sample {
	ts_ns time;                         /* when the attempt ended (wall clock) */
	enum serverstatus_poll_status status;
	struct serverstatus_doc doc;        /* valid only when status is SERVERSTATUS_POLL_OK */
	char note[SERVERSTATUS_NOTE_MAX];   /* short reason for a failed attempt ("" when OK) */
};

/* Initialises libmongoc once per process (pthread_once) and routes its log through log.h. */
void serverstatus_library_init(void);
/*
 * libmongoc publishes its performance counters in a shared-memory file,
 * /dev/shm/mongoc-PID, which it creates when the library is loaded and
 * removes at exit. A probe that is killed, or that dropped root (--user) and
 * so may no longer remove a root-owned file from /dev/shm, leaves it behind:
 * one file per start. This removes the name at once; the counters stay
 * mapped and usable. Called first thing in main().
 */
void serverstatus_library_unlink_counters(void);

/* Calls mongoc_cleanup() if serverstatus_library_init() ran. Once, at exit, no poller alive. */
void serverstatus_library_cleanup(void);

/*
 * Creates a poller for uri (copied; the copy is wiped on free) polling every interval_s seconds
 * (at least 0.05). The URI is parsed here: NULL and a log message (redacted) if it is invalid.
 * Does not connect; serverstatus_poller_start() starts the thread. Free with
 * serverstatus_poller_free().
 */
struct serverstatus_poller *serverstatus_poller_new(const char *uri, double interval_s);

/* Starts the polling thread. Returns 0 or -errno. */
int serverstatus_poller_start(struct serverstatus_poller *p);

/*
 * Non-blocking: copies the newest sample not yet taken into out and returns true, or returns
 * false if no attempt has finished since the last call. Only the newest sample is kept: rates
 * come from cumulative counters, so a skipped sample loses nothing.
 */
bool serverstatus_poller_take(struct serverstatus_poller *p, struct serverstatus_sample *out);

/*
 * What the main loop does with each taken sample: a failed attempt gives an empty row with the
 * reason in the note; a good one gives the rates since *prev over the time between the two
 * samples (a first sample, or a restart, gives a baseline row). *prev and *have_prev are the
 * caller's state (have_prev starts false) and are updated here.
 */
void serverstatus_sample_row(struct serverstatus_doc *prev, bool *have_prev,
			     const struct serverstatus_sample *s, struct serverstatus_row *row);

/*
 * Stops and joins the thread. An attempt in progress is bounded by the timeouts above (connect
 * and handshake, then the command), so this returns within two timeouts (≤ 4 s) unless name
 * resolution hangs (getaddrinfo is not bounded by libmongoc). Safe to call twice or before start.
 */
void serverstatus_poller_stop(struct serverstatus_poller *p);

/* Stops (if needed) and frees. NULL is a no-op. */
void serverstatus_poller_free(struct serverstatus_poller *p);

/* The per-operation timeout the poller uses for interval_s, in ms: min(interval, 2 s), ≥ 50 ms. */
int serverstatus_poller_timeout_ms(double interval_s);

/*
 * Reads a URI from path (--mongo-uri-file, so the password is in no process list): the first
 * line, without surrounding whitespace. Warns when the file is readable by group or others.
 * Returns 0 with *uri a malloc'd string the caller frees, or -errno (-EINVAL if empty/too long).
 */
int serverstatus_read_uri_file(const char *path, char **uri);

/*
 * The one message for an authentication failure: user and mechanism from the URI, the redacted
 * URI, and reason (the server's message). Never the password. Writes into out (NUL-terminated).
 */
void serverstatus_auth_message(const char *uri, const char *reason, char *out, size_t len);

#endif
