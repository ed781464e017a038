/* http.c - passive HTTP/1.0 and 1.1 transaction parser: message syntax and framing per RFC 9112. */

/*
 * Why our own parser and not Debian's libhttp-parser: upstream has been
 * unmaintained since 2022, and it cannot resynchronise after a capture gap,
 * which a passive probe needs (a lost segment must cost one transaction, not
 * the rest of the connection). This one is a byte-at-a-time state machine
 * whose whole state lives in struct http_msg, so a message may be split at
 * any byte, and bodies are counted in bulk, never stored.
 *
 * Each direction has one struct http_msg. Requests are queued when their
 * header section ends (so an interim "100 Continue" can refer to them before
 * their body arrives); a final response answers the oldest unanswered queued
 * request (RFC 9112 section 9.3.2, pipelining is FIFO). A transaction is
 * emitted once both its request and its final response are complete, so
 * transactions always leave in request order.
 *
 * Privacy (DESIGN.md): the only things kept from a request are the method,
 * the path up to '?' or '#' (the query is skipped byte by byte and never
 * stored) and the values of Content-Length and Transfer-Encoding, which are
 * parsed on the fly into numbers and flags. No other header value is kept.
 *
 * resp_first is the first byte of the FINAL response, not of an interim 1xx,
 * so that server_ms measures the server's work and not how fast it said
 * "100 Continue"; resp_bytes counts interim responses too (they were on the
 * wire) and TXN_NOTE_CONTINUE says one was there.
 *
 * Counters (quality.h): http_requests = requests whose start line was
 * understood; http_responses = final responses (an interim 1xx is part of
 * its final response); http_gaps = gaps that cost the framing, i.e. were
 * followed by a resync (a gap inside a body of known length costs nothing
 * but a note); http_parse_errors = malformed or over-cap messages, and a
 * direction that is not HTTP/1.x at all counts once.
 */
#include "http.h"

#include <stdlib.h>
#include <string.h>

#include "route.h"

enum http_state {
	HS_START,	/* between messages: stray CRLFs are skipped (RFC 9112 2.2) */
	HS_LINE,	/* request-line or status-line */
	HS_HEADER,	/* field lines, or trailer lines when cur.trailers */
	HS_BODY_LEN,	/* Content-Length body: cur.left bytes to go */
	HS_BODY_CLOSE,	/* body delimited by the end of the connection */
	HS_CHUNK_SIZE,	/* chunk-size [ chunk-ext ] CRLF */
	HS_CHUNK_DATA,	/* cur.left bytes of chunk-data */
	HS_CHUNK_END,	/* the CRLF after chunk-data */
	HS_RESYNC,	/* scanning for the start of a message */
	HS_DEAD,	/* not HTTP (any more): ignore the direction */
};

/* Where the start line parser is. */
enum http_line_sub {
	RL_METHOD, RL_TARGET0, RL_ABS, RL_PATH, RL_QUERY, RL_VERSION,	/* request-line */
	SL_VERSION, SL_STATUS, SL_REASON,				/* status-line */
};

enum http_hdr_sub { H_FIRST, H_NAME, H_VALUE, H_SKIP };
enum http_hdr_which { HDR_OTHER, HDR_CL, HDR_TE };
enum http_err { ERR_SYNTAX = -1, ERR_CAP = -2 };

#define HTTP_NAME_KEEP 20	/* longer field names are none we need */
#define HTTP_CAND_MAX 8		/* longest resync pattern: "OPTIONS " */

/* The message being parsed in one direction; zeroed between messages. */
struct http_cur {
	ts_ns first, last;	/* capture times of its first and latest byte */
	uint64_t bytes;		/* wire bytes so far */
	unsigned notes;
	int line_done;		/* start line parsed: method/route or status known */
	int queued;		/* request: it is the tail of the pending queue */
	int saw_cr;
	uint32_t line_len;
	uint32_t hdr_bytes, hdr_lines;
	enum http_line_sub lsub;
	char method[HTTP_METHOD_MAX];
	uint8_t method_len;
	uint8_t ver_pos;
	uint8_t slashes;	/* absolute-form: the third '/' starts the path */
	uint8_t status_digits;
	int status;
	size_t path_len;	/* into http_parser.path (requests) */
	/* the field line being read */
	enum http_hdr_sub hsub;
	enum http_hdr_which which;
	char name[HTTP_NAME_KEEP];
	uint8_t name_len;
	uint8_t name_long;
	/* Content-Length, parsed as it streams by: a list of equal decimals */
	uint64_t cl_cur, cl_val;
	uint8_t cl_digits, cl_trail, cl_have, cl_err;
	/* Transfer-Encoding: only "is the last coding chunked" matters */
	char te_tok[8];
	uint8_t te_len, te_over, te_param, te_present, te_chunked;
	/* body */
	int trailers;
	uint64_t left;
	uint32_t chunk_line;
	uint8_t chunk_digits, chunk_ext;
};

struct http_msg {
	enum http_state st;
	enum stream_dir dir;
	uint64_t good;		/* messages completed in this direction */
	int resyncing;		/* the current message was found by a resync scan */
	struct http_cur cur;
	/* resync: the last bytes seen, with their capture times */
	uint8_t cand[HTTP_CAND_MAX];
	ts_ns cand_ts[HTTP_CAND_MAX];
	uint8_t cand_len;
};

/* A request waiting for its final response, or a pair waiting for its request's end. */
struct http_pending {
	struct http_txn t;
	uint8_t req_done, resp_done, head, connect;
};

struct http_parser {
	const struct stream_ctx *ctx;
	struct http_msg m[2];
	char path[HTTP_PATH_KEEP];
	/* q[qhead .. qhead + qlen): the first nresp of them have their response */
	struct http_pending *q;
	size_t qhead, qlen, qcap, nresp;
	/* interim 1xx responses seen before the final one */
	uint64_t acc_bytes;
	unsigned acc_notes;
	int acc_interim;
	size_t budget_taken;
};

static int http_msg_byte(struct http_parser *p, struct http_msg *m, uint8_t c, ts_ns ts);
static void http_resync_byte(struct http_parser *p, struct http_msg *m, uint8_t c, ts_ns ts);

static void http_cur_reset(struct http_msg *m)
{
	memset(&m->cur, 0, sizeof(m->cur));
	m->cur.first = TS_NONE;
	m->cur.last = TS_NONE;
	m->cur.lsub = m->dir == STREAM_TO_SERVER ? RL_METHOD : SL_VERSION;
}

static void http_go_resync(struct http_msg *m)
{
	http_cur_reset(m);
	m->st = HS_RESYNC;
	m->resyncing = 0;
	m->cand_len = 0;
}

/* RFC 9110 5.6.2 tchar: a table, since header names are checked byte by byte. */
static const uint8_t http_tchar[256] = {
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
	['8'] = 1, ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
	['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1,
	['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
	['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['!'] = 1, ['#'] = 1,
	['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
	['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
};

static int http_is_tchar(uint8_t c)
{
	return http_tchar[c];
}

static int http_hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static uint8_t http_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* ---- emitting ---------------------------------------------------------- */

static void http_emit(struct http_parser *p, struct http_txn *t)
{
	const struct stream_ctx *ctx = p->ctx;

	t->flow_id = ctx->flow_id;
	t->client = ctx->client;
	t->server = ctx->server;
	if (ctx->sink && ctx->sink->http)
		ctx->sink->http(ctx->sink->ctx, t);
}

static void http_pop(struct http_parser *p)
{
	if (p->q[p->qhead].resp_done && p->nresp > 0)
		p->nresp--;
	p->qhead++;
	p->qlen--;
	if (p->qlen == 0)
		p->qhead = 0;
}

/* Emits, in request order, every transaction whose two halves are complete. */
static void http_try_emit(struct http_parser *p)
{
	while (p->qlen > 0) {
		struct http_pending *e = &p->q[p->qhead];
		if (!e->req_done || !e->resp_done)
			break;
		http_emit(p, &e->t);
		http_pop(p);
	}
}

/* Emits a request that will never get its response, with the note that says so. */
static void http_emit_unanswered(struct http_parser *p, struct http_pending *e)
{
	if (!e->resp_done) {
		e->t.notes |= TXN_NOTE_NO_RESPONSE;
		e->t.status = 0;
		e->t.t.resp_first = TS_NONE;
		e->t.t.resp_last = TS_NONE;
		p->ctx->q->http_unmatched_requests++;
	}
	if (!e->req_done)
		e->t.notes |= TXN_NOTE_TRUNCATED;
	http_emit(p, &e->t);
}

/*
 * Makes room for one more pending request. Returns NULL when neither memory
 * nor the budget allows it. Past HTTP_PIPELINE_MAX the oldest request is
 * given up as unanswered: a server never has that many in flight on one
 * connection, so its response was lost.
 */
static struct http_pending *http_queue_push(struct http_parser *p)
{
	if (p->qlen >= HTTP_PIPELINE_MAX) {
		http_emit_unanswered(p, &p->q[p->qhead]);
		http_pop(p);
	}
	if (p->qhead + p->qlen == p->qcap && p->qhead > 0) {
		memmove(p->q, p->q + p->qhead, p->qlen * sizeof(*p->q));
		p->qhead = 0;
	}
	if (p->qlen == p->qcap) {
		size_t ncap = p->qcap ? p->qcap * 2 : 4;
		if (ncap > HTTP_PIPELINE_MAX)
			ncap = HTTP_PIPELINE_MAX;
		size_t more = (ncap - p->qcap) * sizeof(*p->q);
		if (p->ctx->budget && membudget_take(p->ctx->budget, more) < 0)
			return NULL;
		struct http_pending *nq = realloc(p->q, ncap * sizeof(*p->q));
		if (!nq) {
			if (p->ctx->budget)
				membudget_give(p->ctx->budget, more);
			return NULL;
		}
		p->budget_taken += more;
		p->q = nq;
		p->qcap = ncap;
	}
	struct http_pending *e = &p->q[p->qhead + p->qlen++];
	memset(e, 0, sizeof(*e));
	return e;
}

/* Queues the current request (its start line is parsed) as waiting for a response. */
static void http_req_enqueue(struct http_parser *p, struct http_msg *m)
{
	struct http_cur *c = &m->cur;
	struct http_pending *e = http_queue_push(p);

	p->ctx->q->http_requests++;
	if (!e) {
		/* out of memory: report it unanswered rather than lose it silently */
		struct http_pending tmp;
		memset(&tmp, 0, sizeof(tmp));
		memcpy(tmp.t.method, c->method, sizeof(c->method));
		route_normalize(p->path, c->path_len, tmp.t.route, sizeof(tmp.t.route));
		tmp.t.t.req_first = c->first;
		tmp.t.t.req_last = c->last;
		tmp.t.req_bytes = c->bytes;
		tmp.t.notes = c->notes | TXN_NOTE_OVERSIZE;
		tmp.req_done = 1;
		http_emit_unanswered(p, &tmp);
		c->queued = 0;
		return;
	}
	memcpy(e->t.method, c->method, sizeof(c->method));
	route_normalize(p->path, c->path_len, e->t.route, sizeof(e->t.route));
	e->t.t.req_first = c->first;
	e->t.t.req_last = c->last;
	e->t.t.resp_first = TS_NONE;
	e->t.t.resp_last = TS_NONE;
	e->head = strcmp(c->method, "HEAD") == 0;
	e->connect = strcmp(c->method, "CONNECT") == 0;
	c->queued = 1;
}

/* The request in m is over (normally or not): fill in its end and its notes. */
static void http_req_deliver(struct http_parser *p, struct http_msg *m, unsigned notes)
{
	struct http_cur *c = &m->cur;

	if (!c->queued) {
		http_req_enqueue(p, m);
		if (!c->queued)
			return;
	}
	struct http_pending *e = &p->q[p->qhead + p->qlen - 1];
	e->t.t.req_last = c->last;
	e->t.req_bytes = c->bytes;
	e->t.notes |= c->notes | notes;
	e->req_done = 1;
	c->queued = 0;
	http_try_emit(p);
}

/* The request a response being parsed answers, or NULL. */
static struct http_pending *http_resp_target(struct http_parser *p)
{
	return p->nresp < p->qlen ? &p->q[p->qhead + p->nresp] : NULL;
}

/*
 * The response in m is over. An interim 1xx only adds its bytes to the
 * final response; a final one completes the oldest unanswered request, or is
 * emitted alone when there is none.
 */
static void http_resp_deliver(struct http_parser *p, struct http_msg *m, unsigned notes)
{
	struct http_cur *c = &m->cur;

	if (c->status >= 100 && c->status < 200 && c->status != 101) {
		p->acc_bytes += c->bytes;
		p->acc_notes |= c->notes | notes;
		p->acc_interim = 1;
		return;
	}
	unsigned all = p->acc_notes | c->notes | notes | (p->acc_interim ? TXN_NOTE_CONTINUE : 0);
	uint64_t bytes = p->acc_bytes + c->bytes;
	p->acc_bytes = 0;
	p->acc_notes = 0;
	p->acc_interim = 0;
	p->ctx->q->http_responses++;

	struct http_pending *e = http_resp_target(p);
	if (e) {
		e->t.t.resp_first = c->first;
		e->t.t.resp_last = c->last;
		e->t.status = c->status;
		e->t.resp_bytes = bytes;
		e->t.notes |= all;
		e->resp_done = 1;
		p->nresp++;
		http_try_emit(p);
		return;
	}
	struct http_txn t;
	memset(&t, 0, sizeof(t));
	t.t.req_first = TS_NONE;
	t.t.req_last = TS_NONE;
	t.t.resp_first = c->first;
	t.t.resp_last = c->last;
	t.status = c->status;
	t.resp_bytes = bytes;
	t.notes = all | TXN_NOTE_NO_REQUEST;
	if (p->ctx->midstream && p->m[STREAM_TO_CLIENT].good == 0)
		t.notes |= TXN_NOTE_MIDSTREAM;
	p->ctx->q->http_unmatched_responses++;
	http_emit(p, &t);
}

static void http_deliver(struct http_parser *p, struct http_msg *m, unsigned notes)
{
	if (m->dir == STREAM_TO_SERVER)
		http_req_deliver(p, m, notes);
	else
		http_resp_deliver(p, m, notes);
}

/* The message in m ended where its framing says: deliver it and wait for the next. */
static void http_msg_complete(struct http_parser *p, struct http_msg *m, unsigned notes)
{
	http_deliver(p, m, notes);
	m->good++;
	m->resyncing = 0;
	http_cur_reset(m);
	m->st = HS_START;
}

/*
 * The message in m cannot be followed any further (a gap, a cap, bad
 * syntax, the end of the stream). When we know what it was (its start line
 * is parsed) it is still delivered, with notes, so that responses keep
 * pairing with the right requests; otherwise it is dropped.
 */
static void http_msg_abort(struct http_parser *p, struct http_msg *m, unsigned notes)
{
	if (m->cur.line_done)
		http_deliver(p, m, notes);
	http_cur_reset(m);
}

static unsigned http_gap_note(const struct http_msg *m)
{
	return m->dir == STREAM_TO_SERVER ? TXN_NOTE_GAP_REQUEST : TXN_NOTE_GAP_RESPONSE;
}

/* ---- errors and resynchronisation --------------------------------------- */

/*
 * A byte did not fit the grammar or a cap was hit. A direction whose very
 * first start line is malformed is not HTTP/1.x at all (TLS on port 80, an
 * HTTP/2 preface): one parse error, and the direction is ignored from then
 * on, so a binary stream costs neither CPU nor a flood of counts. A failed candidate found by a
 * resync scan is not an error: scanning just goes on. Anything else is one
 * parse error, and a resync; a message whose start line was understood is
 * still delivered, noted TXN_NOTE_OVERSIZE (a cap) or TXN_NOTE_TRUNCATED.
 */
static void http_msg_error(struct http_parser *p, struct http_msg *m, uint8_t c, ts_ns ts,
			   int kind)
{
	struct http_cur *cur = &m->cur;

	/* a candidate that ran into a cap was real text, worth counting */
	if (m->resyncing && !cur->line_done && kind != ERR_CAP) {
		http_go_resync(m);
		http_resync_byte(p, m, c, ts);
		return;
	}
	p->ctx->q->http_parse_errors++;
	if (m->good == 0 && !m->resyncing && !cur->line_done && kind == ERR_SYNTAX) {
		http_cur_reset(m);
		m->st = HS_DEAD;
		return;
	}
	http_msg_abort(p, m, kind == ERR_CAP ? TXN_NOTE_OVERSIZE : TXN_NOTE_TRUNCATED);
	http_go_resync(m);
	http_resync_byte(p, m, c, ts);
}

static const char *const http_req_starts[] = {
	"GET ", "HEAD ", "POST ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE ",
};
static const char *const http_resp_starts[] = { "HTTP/1." };

/*
 * One byte of a resync scan: keep the last HTTP_CAND_MAX bytes and look for
 * a message start ending at this byte. A match restarts the start line
 * parser with the matched bytes, timed from the first of them.
 */
static void http_resync_byte(struct http_parser *p, struct http_msg *m, uint8_t c, ts_ns ts)
{
	const char *const *pats = m->dir == STREAM_TO_SERVER ? http_req_starts : http_resp_starts;
	size_t npats = m->dir == STREAM_TO_SERVER
		? sizeof(http_req_starts) / sizeof(http_req_starts[0])
		: sizeof(http_resp_starts) / sizeof(http_resp_starts[0]);

	if (m->cand_len == HTTP_CAND_MAX) {
		memmove(m->cand, m->cand + 1, HTTP_CAND_MAX - 1);
		memmove(m->cand_ts, m->cand_ts + 1, (HTTP_CAND_MAX - 1) * sizeof(ts_ns));
		m->cand_len--;
	}
	m->cand[m->cand_len] = c;
	m->cand_ts[m->cand_len] = ts;
	m->cand_len++;

	for (size_t i = 0; i < npats; i++) {
		size_t n = strlen(pats[i]);
		if (n > m->cand_len || memcmp(m->cand + m->cand_len - n, pats[i], n) != 0)
			continue;
		http_cur_reset(m);
		m->cur.first = m->cand_ts[m->cand_len - n];
		m->st = HS_LINE;
		m->resyncing = 1;
		m->cand_len = 0;
		/* cannot fail: every pattern is a valid start of a start line */
		for (size_t k = 0; k < n; k++)
			(void)http_msg_byte(p, m, (uint8_t)pats[i][k], ts);
		return;
	}
}

/* ---- start line ---------------------------------------------------------- */

static int http_is_ctl(uint8_t c)
{
	return c < 0x20 || c == 0x7f;
}

static void http_path_add(struct http_parser *p, struct http_cur *c, uint8_t ch)
{
	/* a longer path only loses its tail; the route is capped shorter anyway */
	if (c->path_len < sizeof(p->path))
		p->path[c->path_len++] = (char)ch;
}

/* One byte of "HTTP/1.x" (start or status line); returns 1 when it belongs there. */
static int http_version_byte(struct http_cur *c, uint8_t ch)
{
	static const char ver[] = "HTTP/1.";

	if (c->ver_pos < 7 && ch == (uint8_t)ver[c->ver_pos]) {
		c->ver_pos++;
		return 1;
	}
	if (c->ver_pos == 7 && ch >= '0' && ch <= '9') {
		c->ver_pos++;
		return 1;
	}
	return 0;
}

/* One byte of a request-line other than CR/LF: method SP request-target SP HTTP-version. */
static int http_reqline_byte(struct http_parser *p, struct http_cur *c, uint8_t ch)
{
	switch (c->lsub) {
	case RL_METHOD:
		if (ch == ' ' && c->method_len > 0) {
			c->lsub = RL_TARGET0;
			return 0;
		}
		if (!http_is_tchar(ch))
			return ERR_SYNTAX;
		if (c->method_len >= HTTP_METHOD_MAX - 1)
			return ERR_CAP;
		c->method[c->method_len++] = (char)ch;
		return 0;
	case RL_TARGET0:
		if (ch == '/') {
			http_path_add(p, c, ch);
			c->lsub = RL_PATH;
			return 0;
		}
		if (ch == '*') {	/* asterisk-form: OPTIONS * */
			http_path_add(p, c, ch);
			c->lsub = RL_QUERY;
			return 0;
		}
		if (ch == ' ' || http_is_ctl(ch))
			return ERR_SYNTAX;
		c->lsub = RL_ABS;
		c->slashes = 0;
		return 0;
	case RL_ABS:
		/* absolute-form "http://host/path" (proxies) or authority-form "host:443" */
		if (ch == ' ') {
			if (c->slashes >= 2)
				http_path_add(p, c, '/');
			c->lsub = RL_VERSION;
			return 0;
		}
		if (http_is_ctl(ch))
			return ERR_SYNTAX;
		if (ch == '/' && ++c->slashes == 3) {
			http_path_add(p, c, '/');
			c->lsub = RL_PATH;
		} else if (ch == '?' || ch == '#') {
			if (c->slashes >= 2)
				http_path_add(p, c, '/');
			c->lsub = RL_QUERY;
		}
		return 0;
	case RL_PATH:
		if (ch == ' ') {
			c->lsub = RL_VERSION;
			return 0;
		}
		if (http_is_ctl(ch))
			return ERR_SYNTAX;
		if (ch == '?' || ch == '#')
			c->lsub = RL_QUERY;	/* the query is never stored */
		else
			http_path_add(p, c, ch);
		return 0;
	case RL_QUERY:
		if (ch == ' ')
			c->lsub = RL_VERSION;
		else if (http_is_ctl(ch))
			return ERR_SYNTAX;
		return 0;
	case RL_VERSION:
		return http_version_byte(c, ch) ? 0 : ERR_SYNTAX;
	default:
		return ERR_SYNTAX;
	}
}

/* One byte of a status-line other than CR/LF: HTTP-version SP status-code SP [reason-phrase]. */
static int http_statusline_byte(struct http_cur *c, uint8_t ch)
{
	switch (c->lsub) {
	case SL_VERSION:
		if (http_version_byte(c, ch))
			return 0;
		if (c->ver_pos == 8 && ch == ' ') {
			c->lsub = SL_STATUS;
			return 0;
		}
		return ERR_SYNTAX;
	case SL_STATUS:
		if (ch >= '0' && ch <= '9' && c->status_digits < 3) {
			c->status = c->status * 10 + (ch - '0');
			c->status_digits++;
			return 0;
		}
		if (ch == ' ' && c->status_digits == 3) {
			c->lsub = SL_REASON;
			return 0;
		}
		return ERR_SYNTAX;
	case SL_REASON:
		return ch != '\t' && http_is_ctl(ch) ? ERR_SYNTAX : 0;
	default:
		return ERR_SYNTAX;
	}
}

static int http_start_line_done(const struct http_cur *c)
{
	if (c->lsub == RL_VERSION)
		return c->ver_pos == 8;
	if (c->lsub == SL_STATUS)
		return c->status_digits == 3 && c->status >= 100;
	if (c->lsub == SL_REASON)
		return c->status >= 100;
	return 0;
}

/* ---- header section ------------------------------------------------------- */

static void http_cl_end_element(struct http_cur *c)
{
	if (c->cl_digits == 0)
		return;		/* empty list element: "1#" lists tolerate them */
	if (c->cl_have && c->cl_val != c->cl_cur)
		c->cl_err = 1;	/* RFC 9112 6.3 item 5: differing values */
	c->cl_val = c->cl_cur;
	c->cl_have = 1;
	c->cl_cur = 0;
	c->cl_digits = 0;
	c->cl_trail = 0;
}

static void http_cl_byte(struct http_cur *c, uint8_t ch)
{
	if (ch >= '0' && ch <= '9') {
		if (c->cl_trail || c->cl_cur > (UINT64_MAX - 9) / 10) {
			c->cl_err = 1;
			return;
		}
		c->cl_cur = c->cl_cur * 10 + (uint64_t)(ch - '0');
		if (c->cl_digits < 255)
			c->cl_digits++;
	} else if (ch == ' ' || ch == '\t') {
		if (c->cl_digits)
			c->cl_trail = 1;
	} else if (ch == ',') {
		http_cl_end_element(c);
	} else {
		c->cl_err = 1;
	}
}

static void http_te_end_token(struct http_cur *c)
{
	if (c->te_len > 0 || c->te_over)
		c->te_chunked = !c->te_over && c->te_len == 7 && memcmp(c->te_tok, "chunked", 7) == 0;
	c->te_len = 0;
	c->te_over = 0;
	c->te_param = 0;
}

static void http_te_byte(struct http_cur *c, uint8_t ch)
{
	if (ch == ',') {
		http_te_end_token(c);
	} else if (ch == ';') {
		c->te_param = 1;
	} else if (ch != ' ' && ch != '\t' && !c->te_param) {
		if (c->te_len < sizeof(c->te_tok))
			c->te_tok[c->te_len++] = (char)http_lower(ch);
		else
			c->te_over = 1;
	}
}

/* The header name just ended with ':'. Only the framing fields are looked at. */
/* Appends a field name's bytes, lower-cased; a name longer than we keep is only flagged. */
static void http_name_add(struct http_cur *c, const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (c->name_len < sizeof(c->name))
			c->name[c->name_len++] = (char)http_lower(s[i]);
		else
			c->name_long = 1;
	}
}

static enum http_hdr_which http_which(const struct http_cur *c)
{
	if (c->trailers || c->name_long)
		return HDR_OTHER;
	if (c->name_len == 14 && memcmp(c->name, "content-length", 14) == 0)
		return HDR_CL;
	if (c->name_len == 17 && memcmp(c->name, "transfer-encoding", 17) == 0)
		return HDR_TE;
	return HDR_OTHER;
}

/*
 * The header section just ended: decide how the body is delimited
 * (RFC 9112 section 6.3) and move to that state, or complete the message.
 */
static int http_headers_end(struct http_parser *p, struct http_msg *m)
{
	struct http_cur *c = &m->cur;

	if (c->trailers) {
		http_msg_complete(p, m, 0);
		return 0;
	}
	m->resyncing = 0;	/* a whole header section: this was a real message */

	if (m->dir == STREAM_TO_SERVER) {
		http_req_enqueue(p, m);
		if (c->te_present) {
			if (!c->te_chunked)
				return ERR_SYNTAX;	/* 6.3 item 4: no way to find the end */
			m->st = HS_CHUNK_SIZE;
			return 0;
		}
		if (c->cl_err)
			return ERR_SYNTAX;
		if (c->cl_have && c->cl_val > 0) {
			c->left = c->cl_val;
			m->st = HS_BODY_LEN;
			return 0;
		}
		http_msg_complete(p, m, 0);
		return 0;
	}

	struct http_pending *req = http_resp_target(p);
	int st = c->status;
	if (st == 101 || (req && req->connect && st >= 200 && st < 300)) {
		/* the connection stops being HTTP: items 1 and 2 of 6.3 */
		http_msg_complete(p, m, 0);
		p->m[STREAM_TO_SERVER].st = HS_DEAD;
		p->m[STREAM_TO_CLIENT].st = HS_DEAD;
		return 0;
	}
	if ((req && req->head) || st < 200 || st == 204 || st == 304) {
		http_msg_complete(p, m, 0);
		return 0;
	}
	if (c->te_present) {
		m->st = c->te_chunked ? HS_CHUNK_SIZE : HS_BODY_CLOSE;
		return 0;
	}
	if (c->cl_err)
		return ERR_SYNTAX;
	if (c->cl_have) {
		if (c->cl_val == 0) {
			http_msg_complete(p, m, 0);
			return 0;
		}
		c->left = c->cl_val;
		m->st = HS_BODY_LEN;
		return 0;
	}
	m->st = HS_BODY_CLOSE;
	return 0;
}

/* One byte of a field line (or trailer line) other than CR/LF. */
static int http_header_byte(struct http_cur *c, uint8_t ch)
{
	switch (c->hsub) {
	case H_FIRST:
		if (ch == ' ' || ch == '\t') {	/* obs-fold continuation: ignored */
			c->hsub = H_SKIP;
			return 0;
		}
		if (!http_is_tchar(ch))
			return ERR_SYNTAX;
		c->hsub = H_NAME;
		c->name_len = 0;
		c->name_long = 0;
		/* fall through */
	case H_NAME:
		if (ch == ':') {
			c->which = http_which(c);
			c->hsub = H_VALUE;
			return 0;
		}
		if (!http_is_tchar(ch))
			return ERR_SYNTAX;	/* includes whitespace before ':' (5.1) */
		http_name_add(c, &ch, 1);
		return 0;
	case H_VALUE:
		if (c->which == HDR_CL)
			http_cl_byte(c, ch);
		else if (c->which == HDR_TE)
			http_te_byte(c, ch);
		return 0;
	case H_SKIP:
	default:
		return 0;
	}
}

/* A field line ended (LF seen). */
static int http_header_eol(struct http_parser *p, struct http_msg *m)
{
	struct http_cur *c = &m->cur;

	switch (c->hsub) {
	case H_FIRST:
		return http_headers_end(p, m);
	case H_NAME:
		return ERR_SYNTAX;	/* a field line without ':' */
	case H_VALUE:
		if (c->which == HDR_CL) {
			http_cl_end_element(c);
		} else if (c->which == HDR_TE) {
			http_te_end_token(c);
			c->te_present = 1;
		}
		break;
	case H_SKIP:
		break;
	}
	c->hsub = H_FIRST;
	c->which = HDR_OTHER;
	if (++c->hdr_lines > HTTP_HEADER_LINES_MAX)
		return ERR_CAP;
	return 0;
}

/* ---- chunked coding -------------------------------------------------------- */

/*
 *   chunk-size [ ";" ext ... ] CRLF   hex, any number of leading zeros
 *   chunk-data CRLF                    (size bytes: counted, not stored)
 *   ...
 *   "0" [ ext ] CRLF
 *   *( field-line CRLF )               trailer section
 *   CRLF
 */
static int http_chunk_size_byte(struct http_cur *c, uint8_t ch)
{
	if (++c->chunk_line > HTTP_CHUNK_LINE_MAX)
		return ERR_CAP;
	if (c->chunk_ext)
		return http_is_ctl(ch) && ch != '\t' ? ERR_SYNTAX : 0;
	int v = http_hexval(ch);
	if (v >= 0) {
		if (c->left >> 60)
			return ERR_SYNTAX;	/* would overflow 64 bits: nonsense */
		c->left = c->left * 16 + (uint64_t)v;
		c->chunk_digits = 1;
		return 0;
	}
	if ((ch == ';' || ch == ' ' || ch == '\t') && c->chunk_digits) {
		c->chunk_ext = 1;
		return 0;
	}
	return ERR_SYNTAX;
}

/* ---- the byte loop ------------------------------------------------------- */

/* Handles CR and the LF that ends a line; returns 1 when ch was one of them. */
static int http_line_end(struct http_cur *c, uint8_t ch, int *err, int *eol)
{
	*eol = 0;
	if (c->saw_cr && ch != '\n') {
		*err = ERR_SYNTAX;	/* a bare CR */
		return 1;
	}
	if (ch == '\r') {
		c->saw_cr = 1;
		return 1;
	}
	if (ch == '\n') {
		c->saw_cr = 0;
		*eol = 1;
		return 1;
	}
	return 0;
}

/*
 * One byte in a state that is parsed byte by byte (start line, field lines,
 * chunk framing). Returns 0 or an enum http_err; on error nothing has been
 * changed yet, the caller decides what to do.
 */
static int http_msg_byte(struct http_parser *p, struct http_msg *m, uint8_t ch, ts_ns ts)
{
	struct http_cur *c = &m->cur;
	int err = 0, eol = 0;

	if (m->st == HS_START) {
		if (ch == '\r' || ch == '\n')
			return 0;
		c->first = ts;
		m->st = HS_LINE;
	}
	c->bytes++;
	c->last = ts;

	switch (m->st) {
	case HS_LINE:
		if (++c->line_len > HTTP_START_LINE_MAX)
			return ERR_CAP;
		if (http_line_end(c, ch, &err, &eol)) {
			if (err || !eol)
				return err;
			if (!http_start_line_done(c))
				return ERR_SYNTAX;
			c->line_done = 1;
			c->hsub = H_FIRST;
			m->st = HS_HEADER;
			return 0;
		}
		return m->dir == STREAM_TO_SERVER ? http_reqline_byte(p, c, ch)
						  : http_statusline_byte(c, ch);
	case HS_HEADER:
		if (++c->hdr_bytes > HTTP_HEADER_BLOCK_MAX)
			return ERR_CAP;
		if (http_line_end(c, ch, &err, &eol))
			return err ? err : eol ? http_header_eol(p, m) : 0;
		return http_header_byte(c, ch);
	case HS_CHUNK_SIZE:
		if (http_line_end(c, ch, &err, &eol)) {
			if (err || !eol)
				return err;
			if (!c->chunk_digits)
				return ERR_SYNTAX;
			c->chunk_line = 0;
			c->chunk_digits = 0;
			c->chunk_ext = 0;
			if (c->left == 0) {
				c->trailers = 1;
				c->hdr_bytes = 0;
				c->hdr_lines = 0;
				c->hsub = H_FIRST;
				m->st = HS_HEADER;
			} else {
				m->st = HS_CHUNK_DATA;
			}
			return 0;
		}
		return http_chunk_size_byte(c, ch);
	case HS_CHUNK_END:
		if (http_line_end(c, ch, &err, &eol)) {
			if (!err && eol)
				m->st = HS_CHUNK_SIZE;
			return err;
		}
		return ERR_SYNTAX;
	default:
		return ERR_SYNTAX;	/* not reached: bodies are handled by the caller */
	}
}

/* n bytes of the header section went by (the caller checked them against the cap). */
static void http_header_bytes(struct http_cur *c, size_t n, ts_ns ts)
{
	c->bytes += n;
	c->hdr_bytes += (uint32_t)n;
	c->last = ts;
}

/*
 * n bytes of a body of known length (Content-Length, or chunk-data) went by,
 * seen or lost in a gap (n <= c->left): count them, and at the end of the
 * body complete the message or expect the CRLF that closes the chunk.
 */
static void http_body_bytes(struct http_parser *p, struct http_msg *m, uint64_t n, ts_ns ts)
{
	struct http_cur *c = &m->cur;

	c->left -= n;
	c->bytes += n;
	c->last = ts;
	if (c->left > 0)
		return;
	if (m->st == HS_BODY_LEN) {
		http_msg_complete(p, m, 0);
	} else {
		c->saw_cr = 0;
		m->st = HS_CHUNK_END;
	}
}

/*
 * The common case in bulk: the rest of a start line, up to its CR or LF, in
 * one call instead of one trip per byte through http_dir_data(). Each byte
 * is accounted and checked exactly as http_msg_byte() would; *rc is set and
 * the bytes up to and including the offending one are returned on an error.
 */
static size_t http_start_line_run(struct http_parser *p, struct http_msg *m, const uint8_t *d,
				  size_t n, ts_ns ts, int *rc)
{
	struct http_cur *c = &m->cur;
	int request = m->dir == STREAM_TO_SERVER;
	size_t j = 0;

	*rc = 0;
	while (j < n && d[j] != '\r' && d[j] != '\n') {
		uint8_t ch = d[j++];
		c->bytes++;
		c->last = ts;
		if (++c->line_len > HTTP_START_LINE_MAX) {
			*rc = ERR_CAP;
			break;
		}
		int r = request ? http_reqline_byte(p, c, ch) : http_statusline_byte(c, ch);
		if (r < 0) {
			*rc = r;
			break;
		}
	}
	return j;
}

/*
 * A whole field line "name: value CRLF" (or the empty line that ends the
 * section) in one step, when all of it is in d and it is ordinary: the name
 * all tchar up to ':', no bare CR, within the header cap. Returns the bytes
 * consumed (through the LF) with *rc from the line's end, or 0 for anything
 * else (a split line, obs-fold, a bad name...), which the byte machine then
 * takes with its exact errors.
 */
static size_t http_header_line(struct http_parser *p, struct http_msg *m, const uint8_t *d,
			       size_t n, ts_ns ts, int *rc)
{
	struct http_cur *c = &m->cur;
	size_t room = HTTP_HEADER_BLOCK_MAX - c->hdr_bytes;
	const uint8_t *nl = memchr(d, '\n', n < room ? n : room);

	if (!nl)
		return 0;
	size_t k = (size_t)(nl - d);			/* the LF */
	size_t e = k && d[k - 1] == '\r' ? k - 1 : k;	/* end of the content */
	if (e && memchr(d, '\r', e))
		return 0;
	if (e) {
		size_t j = 0;
		while (j < e && http_is_tchar(d[j]))
			j++;
		if (j == 0 || j == e || d[j] != ':')
			return 0;
		c->name_len = 0;
		c->name_long = 0;
		http_name_add(c, d, j);
		c->which = http_which(c);
		c->hsub = H_VALUE;
		for (size_t t = j + 1; t < e && c->which != HDR_OTHER; t++) {
			if (c->which == HDR_CL)
				http_cl_byte(c, d[t]);
			else
				http_te_byte(c, d[t]);
		}
	}
	http_header_bytes(c, k + 1, ts);
	c->saw_cr = 0;
	*rc = http_header_eol(p, m);
	return k + 1;
}

/*
 * The header section in bulk: a whole ordinary line (http_header_line()), the
 * rest of a value we do not read up to its CR or LF, or the rest of a field
 * name, each in one step with the accounting and cap of the byte machine.
 * Returns the bytes consumed (*rc set when a line ended in an error), or 0:
 * the next byte is for http_msg_byte().
 */
static size_t http_header_run(struct http_parser *p, struct http_msg *m, const uint8_t *d,
			      size_t n, ts_ns ts, int *rc)
{
	struct http_cur *c = &m->cur;

	*rc = 0;
	if (c->saw_cr || c->hdr_bytes >= HTTP_HEADER_BLOCK_MAX)
		return 0;
	if (c->hsub == H_FIRST)
		return http_header_line(p, m, d, n, ts, rc);
	size_t room = HTTP_HEADER_BLOCK_MAX - c->hdr_bytes;
	size_t lim = n < room ? n : room, k = 0;
	if (c->hsub == H_SKIP || (c->hsub == H_VALUE && c->which == HDR_OTHER)) {
		const uint8_t *nl = memchr(d, '\n', lim);
		k = nl ? (size_t)(nl - d) : lim;
		const uint8_t *cr = memchr(d, '\r', k);
		if (cr)
			k = (size_t)(cr - d);
	} else if (c->hsub == H_NAME) {
		while (k < lim && http_is_tchar(d[k]))
			k++;
		http_name_add(c, d, k);
	}
	if (k > 0)
		http_header_bytes(c, k, ts);
	return k;
}

static void http_dir_data(struct http_parser *p, struct http_msg *m, const uint8_t *d,
			  size_t len, ts_ns ts)
{
	size_t i = 0;

	while (i < len) {
		struct http_cur *c = &m->cur;
		size_t n;

		switch (m->st) {
		case HS_DEAD:
			return;
		case HS_BODY_CLOSE:
			c->bytes += len - i;
			c->last = ts;
			return;
		case HS_BODY_LEN:
		case HS_CHUNK_DATA:
			n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			i += n;
			http_body_bytes(p, m, n, ts);
			break;
		case HS_RESYNC:
			http_resync_byte(p, m, d[i], ts);
			i++;
			break;
		case HS_LINE:
			if (!c->saw_cr) {
				int rc;
				n = http_start_line_run(p, m, d + i, len - i, ts, &rc);
				i += n;
				if (rc < 0)
					http_msg_error(p, m, d[i - 1], ts, rc);
				if (n > 0)
					break;
			}
			goto one_byte;
		case HS_HEADER: {
			int rc = 0;
			n = http_header_run(p, m, d + i, len - i, ts, &rc);
			if (n > 0) {
				i += n;
				if (rc < 0)
					http_msg_error(p, m, '\n', ts, rc);
				break;
			}
		}
			/* fall through */
		default:
one_byte: {
			int rc = http_msg_byte(p, m, d[i], ts);
			if (rc < 0)
				http_msg_error(p, m, d[i], ts, rc);
			i++;
			break;
		}
		}
	}
}

/* ---- stream_parser_ops ------------------------------------------------------ */

static void *http_open(const struct stream_ctx *ctx)
{
	struct http_parser *p;

	if (ctx->budget && membudget_take(ctx->budget, sizeof(*p)) < 0)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p) {
		if (ctx->budget)
			membudget_give(ctx->budget, sizeof(*p));
		return NULL;
	}
	p->ctx = ctx;
	p->budget_taken = sizeof(*p);
	for (int d = 0; d < 2; d++) {
		struct http_msg *m = &p->m[d];
		m->dir = (enum stream_dir)d;
		http_cur_reset(m);
		/* picked up mid-connection: the first bytes may be the middle of anything */
		m->st = ctx->midstream ? HS_RESYNC : HS_START;
	}
	return p;
}

static void http_data(void *vp, enum stream_dir dir, const uint8_t *data, size_t len, ts_ns ts)
{
	struct http_parser *p = vp;

	if (!p || (dir != STREAM_TO_SERVER && dir != STREAM_TO_CLIENT) || (!data && len))
		return;
	http_dir_data(p, &p->m[dir], data, len, ts);
}

/*
 * len bytes are missing. Inside a body of known length they are simply
 * counted (the message keeps its status, with a gap note); anywhere else
 * the framing is lost: the message is delivered if we know what it was, and
 * the direction resynchronises on the next message start.
 */
static void http_gap(void *vp, enum stream_dir dir, uint64_t len, ts_ns ts)
{
	struct http_parser *p = vp;

	if (!p || (dir != STREAM_TO_SERVER && dir != STREAM_TO_CLIENT) || len == 0)
		return;
	struct http_msg *m = &p->m[dir];
	struct http_cur *c = &m->cur;
	unsigned note = http_gap_note(m);

	switch (m->st) {
	case HS_DEAD:
		return;
	case HS_RESYNC:
		m->cand_len = 0;
		return;
	case HS_BODY_CLOSE:
		c->bytes += len;
		c->notes |= note;
		return;
	case HS_BODY_LEN:
	case HS_CHUNK_DATA:
		c->notes |= note;
		if (len <= c->left) {
			http_body_bytes(p, m, len, ts);
			return;
		}
		/* the message ended inside the gap, and whatever followed it with it */
		c->bytes += c->left;
		c->last = ts;
		if (m->st == HS_BODY_LEN)
			http_deliver(p, m, 0);
		else
			http_msg_abort(p, m, 0);
		p->ctx->q->http_gaps++;
		http_go_resync(m);
		return;
	case HS_START:
		/* whole messages may be in the hole: only a resync can tell */
		p->ctx->q->http_gaps++;
		http_go_resync(m);
		return;
	default:
		p->ctx->q->http_gaps++;
		http_msg_abort(p, m, note);
		http_go_resync(m);
		return;
	}
}

/* No more bytes in this direction: a close-delimited body ends, anything else is cut short. */
static void http_fin(void *vp, enum stream_dir dir, ts_ns ts)
{
	struct http_parser *p = vp;
	(void)ts;

	if (!p || (dir != STREAM_TO_SERVER && dir != STREAM_TO_CLIENT))
		return;
	struct http_msg *m = &p->m[dir];
	switch (m->st) {
	case HS_BODY_CLOSE:
		http_msg_complete(p, m, 0);
		break;
	case HS_START:
	case HS_RESYNC:
	case HS_DEAD:
		break;
	default:
		http_msg_abort(p, m, TXN_NOTE_TRUNCATED);
		break;
	}
	http_cur_reset(m);
	m->st = HS_DEAD;
}

static void http_close(void *vp, ts_ns ts)
{
	struct http_parser *p = vp;

	if (!p)
		return;
	/* requests first: a response completed at close must find them done */
	http_fin(p, STREAM_TO_SERVER, ts);
	http_fin(p, STREAM_TO_CLIENT, ts);
	while (p->qlen > 0) {
		struct http_pending *e = &p->q[p->qhead];
		if (e->resp_done && e->req_done)
			http_emit(p, &e->t);
		else
			http_emit_unanswered(p, e);
		http_pop(p);
	}
	if (p->ctx->budget)
		membudget_give(p->ctx->budget, p->budget_taken);
	free(p->q);
	free(p);
}

const struct stream_parser_ops http_stream_ops = {
	.name = "http",
	.open = http_open,
	.data = http_data,
	.gap = http_gap,
	.fin = http_fin,
	.close = http_close,
};
