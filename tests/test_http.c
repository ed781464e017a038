/* test_http.c - the HTTP/1.x parser through http_stream_ops: framing, pairing, gaps, caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"
#include "stream.h"
#include "txn.h"

#define MAX_TXNS 128

struct fx {
	struct quality q;
	struct membudget budget;
	struct txn_sink sink;
	struct stream_ctx ctx;
	struct http_txn txns[MAX_TXNS];
	size_t n;
	void *p;
};

static void sink_http(void *ctx, const struct http_txn *t)
{
	struct fx *f = ctx;
	assert_true(f->n < MAX_TXNS);
	f->txns[f->n++] = *t;
}

static struct fx *fx_new(int midstream)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	membudget_init(&f->budget, 1 << 20);
	f->sink.http = sink_http;
	f->sink.ctx = f;
	f->ctx.flow_id = 77;
	f->ctx.midstream = midstream;
	f->ctx.q = &f->q;
	f->ctx.budget = &f->budget;
	f->ctx.sink = &f->sink;
	f->p = http_stream_ops.open(&f->ctx);
	assert_non_null(f->p);
	return f;
}

/* Closes the parser (emitting what is pending) and checks it gave its memory back. */
static void fx_close(struct fx *f, ts_ns ts)
{
	http_stream_ops.close(f->p, ts);
	f->p = NULL;
	assert_int_equal(f->budget.used, 0);
}

static void fx_free(struct fx *f)
{
	if (f->p)
		http_stream_ops.close(f->p, 0);
	free(f);
}

static void req(struct fx *f, const char *s, ts_ns ts)
{
	http_stream_ops.data(f->p, STREAM_TO_SERVER, (const uint8_t *)s, strlen(s), ts);
}

static void resp(struct fx *f, const char *s, ts_ns ts)
{
	http_stream_ops.data(f->p, STREAM_TO_CLIENT, (const uint8_t *)s, strlen(s), ts);
}

/* ---- basics ---------------------------------------------------------------- */

static void test_get_200_cl(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	const char *rq = "GET /user/42/profile?secret=hunter2 HTTP/1.1\r\nHost: x\r\nCookie: s=1\r\n\r\n";
	const char *rs = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	req(f, rq, 100);
	assert_int_equal(f->n, 0);
	resp(f, rs, 300);
	assert_int_equal(f->n, 1);
	const struct http_txn *t = &f->txns[0];
	assert_string_equal(t->method, "GET");
	assert_string_equal(t->route, "/user/:id/profile");
	assert_int_equal(t->status, 200);
	assert_int_equal(t->req_bytes, strlen(rq));
	assert_int_equal(t->resp_bytes, strlen(rs));
	assert_int_equal(t->t.req_first, 100);
	assert_int_equal(t->t.req_last, 100);
	assert_int_equal(t->t.resp_first, 300);
	assert_int_equal(t->t.resp_last, 300);
	assert_int_equal(t->notes, 0);
	assert_int_equal(t->flow_id, 77);
	assert_int_equal(f->q.http_requests, 1);
	assert_int_equal(f->q.http_responses, 1);
	assert_int_equal(f->q.http_parse_errors, 0);
	fx_close(f, 400);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->q.http_unmatched_requests, 0);
	fx_free(f);
}

static void test_keepalive_three(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	for (int i = 0; i < 3; i++) {
		char rq[64];
		snprintf(rq, sizeof(rq), "GET /item/%d HTTP/1.1\r\n\r\n", i + 1);
		req(f, rq, 1000 * i + 1);
		resp(f, i == 1 ? "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"
			       : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1000 * i + 2);
	}
	assert_int_equal(f->n, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(f->txns[i].route, "/item/:id");
		assert_int_equal(f->txns[i].t.req_first, 1000 * i + 1);
		assert_int_equal(f->txns[i].t.resp_last, 1000 * i + 2);
	}
	assert_int_equal(f->txns[1].status, 500);
	assert_int_equal(f->txns[2].status, 200);
	fx_close(f, 5000);
	assert_int_equal(f->n, 3);
	fx_free(f);
}

static void test_pipelining(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "GET /a HTTP/1.1\r\n\r\n"
	       "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"
	       "DELETE /c HTTP/1.1\r\n\r\n", 10);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
		"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nBB\r\n0\r\n\r\n"
		"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 20);
	assert_int_equal(f->n, 3);
	assert_string_equal(f->txns[0].method, "GET");
	assert_string_equal(f->txns[0].route, "/a");
	assert_int_equal(f->txns[0].status, 200);
	assert_string_equal(f->txns[1].method, "POST");
	assert_string_equal(f->txns[1].route, "/b");
	assert_int_equal(f->txns[1].status, 201);
	assert_int_equal(f->txns[1].req_bytes, strlen("POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz"));
	assert_string_equal(f->txns[2].method, "DELETE");
	assert_int_equal(f->txns[2].status, 404);
	assert_int_equal(f->q.http_requests, 3);
	assert_int_equal(f->q.http_responses, 3);
	fx_close(f, 30);
	fx_free(f);
}

static void test_chunked(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "GET /feed HTTP/1.1\r\n\r\n", 1);
	/*
	 * a chunk with an extension, a chunk size with leading zeros and
	 * uppercase hex, a trailer field, and the last chunk split "0\r" | "\n\r\n"
	 */
	const char *a = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
			"5;name=\"v\";x\r\nhello\r\n000A\r\n0123456789\r\n0\r";
	const char *b = "\nX-Checksum: abc\r\n\r\n";
	resp(f, a, 2);
	assert_int_equal(f->n, 0);
	resp(f, b, 3);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->txns[0].status, 200);
	assert_int_equal(f->txns[0].resp_bytes, strlen(a) + strlen(b));
	assert_int_equal(f->txns[0].t.resp_first, 2);
	assert_int_equal(f->txns[0].t.resp_last, 3);

	/* the zero chunk split as "0\r" + "\n\r\n" with no trailers */
	req(f, "GET /feed HTTP/1.1\r\n\r\n", 4);
	resp(f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r", 5);
	assert_int_equal(f->n, 1);
	resp(f, "\n\r\n", 6);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->txns[1].t.resp_last, 6);
	assert_int_equal(f->q.http_parse_errors, 0);
	fx_close(f, 7);
	assert_int_equal(f->n, 2);
	fx_free(f);
}

static void test_close_delimited_http10(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "GET /old HTTP/1.0\r\n\r\n", 1);
	const char *h = "HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n";
	resp(f, h, 2);
	resp(f, "<html>...", 3);
	resp(f, "</html>", 4);
	assert_int_equal(f->n, 0);
	http_stream_ops.fin(f->p, STREAM_TO_CLIENT, 9);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->txns[0].status, 200);
	assert_int_equal(f->txns[0].resp_bytes, strlen(h) + 16);
	assert_int_equal(f->txns[0].t.resp_last, 4);	/* the last byte, not the FIN */
	assert_int_equal(f->txns[0].notes, 0);
	fx_close(f, 10);
	assert_int_equal(f->n, 1);
	fx_free(f);

	/* the same, ended by close() without a FIN */
	f = fx_new(0);
	req(f, "GET /old HTTP/1.0\r\n\r\n", 1);
	resp(f, "HTTP/1.0 404 Not Found\r\n\r\nnope", 2);
	fx_close(f, 5);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->txns[0].status, 404);
	assert_int_equal(f->txns[0].notes, 0);
	fx_free(f);
}

static void test_head_204_304(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "HEAD /big HTTP/1.1\r\n\r\nDELETE /x/1 HTTP/1.1\r\n\r\n"
	       "GET /c HTTP/1.1\r\nIf-None-Match: \"e\"\r\n\r\n"
	       "GET /d HTTP/1.1\r\n\r\n", 1);
	/* HEAD: Content-Length describes the GET body that is not sent */
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 2);
	resp(f, "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 3);
	resp(f, "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", 4);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 5);
	assert_int_equal(f->n, 4);
	assert_string_equal(f->txns[0].method, "HEAD");
	assert_int_equal(f->txns[0].status, 200);
	assert_int_equal(f->txns[0].resp_bytes, strlen("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"));
	assert_int_equal(f->txns[1].status, 204);
	assert_int_equal(f->txns[2].status, 304);
	assert_int_equal(f->txns[3].status, 200);
	assert_string_equal(f->txns[3].route, "/d");
	assert_int_equal(f->q.http_parse_errors, 0);
	fx_close(f, 6);
	fx_free(f);
}

static void test_100_continue(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	const char *rh = "PUT /index/doc/1 HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
	const char *r100 = "HTTP/1.1 100 Continue\r\n\r\n";
	const char *r200 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	req(f, rh, 10);
	resp(f, r100, 20);
	assert_int_equal(f->n, 0);
	req(f, "body", 30);
	assert_int_equal(f->n, 0);
	resp(f, r200, 50);
	assert_int_equal(f->n, 1);
	const struct http_txn *t = &f->txns[0];
	assert_int_equal(t->status, 200);
	assert_true(t->notes & TXN_NOTE_CONTINUE);
	assert_int_equal(t->notes, TXN_NOTE_CONTINUE);
	assert_int_equal(t->req_bytes, strlen(rh) + 4);
	assert_int_equal(t->resp_bytes, strlen(r100) + strlen(r200));
	assert_int_equal(t->t.req_first, 10);
	assert_int_equal(t->t.req_last, 30);
	assert_int_equal(t->t.resp_first, 50);	/* the final response, not the 100 */
	assert_int_equal(t->t.resp_last, 50);
	assert_int_equal(f->q.http_responses, 1);
	fx_close(f, 60);
	assert_int_equal(f->n, 1);
	fx_free(f);
}

static void test_post_body_cl(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "POST /login HTTP/1.1\r\nContent-Length: 11\r\n\r\nuser=", 1);
	req(f, "alice", 2);
	assert_int_equal(f->n, 0);
	resp(f, "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", 3);
	assert_int_equal(f->n, 0);	/* the request still owes one byte */
	req(f, "!", 4);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->txns[0].req_bytes,
			 strlen("POST /login HTTP/1.1\r\nContent-Length: 11\r\n\r\nuser=alice!"));
	assert_int_equal(f->txns[0].t.req_last, 4);
	assert_int_equal(f->txns[0].status, 302);
	fx_close(f, 5);
	fx_free(f);
}

static void test_response_without_request(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	resp(f, "HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\n\r\nmissing", 5);
	assert_int_equal(f->n, 1);
	const struct http_txn *t = &f->txns[0];
	assert_int_equal(t->status, 404);
	assert_string_equal(t->method, "");
	assert_string_equal(t->route, "");
	assert_true(t->notes & TXN_NOTE_NO_REQUEST);
	assert_true(t->t.req_first == TS_NONE);
	assert_true(t->t.req_last == TS_NONE);
	assert_int_equal(t->t.resp_first, 5);
	assert_int_equal(f->q.http_unmatched_responses, 1);
	/* then a normal pair on the same connection (http_unmatched.pcap) */
	req(f, "GET /someotherthing HTTP/1.1\r\n\r\n", 6);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfound!", 7);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->txns[1].notes, 0);
	assert_string_equal(f->txns[1].route, "/someotherthing");
	fx_close(f, 8);
	fx_free(f);
}

static void test_request_without_response(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "GET /something HTTP/1.1\r\n\r\n", 5);
	fx_close(f, 9);
	assert_int_equal(f->n, 1);
	const struct http_txn *t = &f->txns[0];
	assert_string_equal(t->route, "/something");
	assert_int_equal(t->status, 0);
	assert_int_equal(t->notes, TXN_NOTE_NO_RESPONSE);
	assert_true(t->t.resp_first == TS_NONE);
	assert_true(t->t.resp_last == TS_NONE);
	assert_int_equal(f->q.http_unmatched_requests, 1);
	fx_free(f);
}

/* ---- gaps ---------------------------------------------------------------------- */

static void test_gap_in_body(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	const char *h = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
	char body[31];
	memset(body, 'b', 30);
	body[30] = '\0';
	req(f, "GET /jszip.min.js HTTP/1.1\r\n\r\n", 1);
	resp(f, h, 2);
	resp(f, body, 3);
	http_stream_ops.gap(f->p, STREAM_TO_CLIENT, 40, 4);
	assert_int_equal(f->n, 0);
	resp(f, body, 5);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->txns[0].status, 200);
	assert_int_equal(f->txns[0].notes, TXN_NOTE_GAP_RESPONSE);
	assert_int_equal(f->txns[0].resp_bytes, strlen(h) + 100);
	assert_int_equal(f->txns[0].t.resp_last, 5);
	assert_int_equal(f->q.http_gaps, 0);	/* no message lost */
	/* the connection goes on in sync */
	req(f, "GET /next HTTP/1.1\r\n\r\n", 6);
	resp(f, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 7);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->txns[1].status, 201);
	assert_int_equal(f->txns[1].notes, 0);

	/* a gap in a request body, and one that covers the end of a response body */
	req(f, "POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\n12", 8);
	http_stream_ops.gap(f->p, STREAM_TO_SERVER, 8, 9);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345", 10);
	http_stream_ops.gap(f->p, STREAM_TO_CLIENT, 25, 11);	/* 5 body bytes + 20 of what followed */
	assert_int_equal(f->n, 3);
	assert_int_equal(f->txns[2].notes, TXN_NOTE_GAP_REQUEST | TXN_NOTE_GAP_RESPONSE);
	assert_int_equal(f->txns[2].status, 200);
	assert_int_equal(f->q.http_gaps, 1);	/* the start of whatever followed is lost */
	/* the response direction resynchronises on "HTTP/1." */
	req(f, "GET /after HTTP/1.1\r\n\r\n", 12);
	resp(f, "sorry\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", 13);
	assert_int_equal(f->n, 4);
	assert_int_equal(f->txns[3].status, 202);
	assert_string_equal(f->txns[3].route, "/after");
	assert_int_equal(f->q.http_parse_errors, 0);
	fx_close(f, 14);
	fx_free(f);
}

static void test_gap_in_headers(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	/* response side: status known, then the rest of the header section is lost */
	req(f, "GET /a HTTP/1.1\r\n\r\n", 1);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Ty", 2);
	http_stream_ops.gap(f->p, STREAM_TO_CLIENT, 1400, 3);
	assert_int_equal(f->n, 1);	/* delivered with what we know */
	assert_int_equal(f->txns[0].status, 200);
	assert_int_equal(f->txns[0].notes, TXN_NOTE_GAP_RESPONSE);
	assert_int_equal(f->q.http_gaps, 1);
	req(f, "GET /b HTTP/1.1\r\n\r\n", 4);
	resp(f, "ain; charset=utf-8\r\n\r\n<html>lots of body</html>", 5);
	assert_int_equal(f->n, 1);
	resp(f, "HTTP/1.1 204 No Content\r\n\r\n", 6);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->txns[1].status, 204);
	assert_string_equal(f->txns[1].route, "/b");
	assert_int_equal(f->txns[1].t.resp_first, 6);

	/* request side: the gap hides the end of a request line's headers */
	req(f, "GET /c HTTP/1.1\r\nHo", 7);
	http_stream_ops.gap(f->p, STREAM_TO_SERVER, 10, 8);
	req(f, "om\r\n\r\nGET /d/5 HTTP/1.1\r\n\r\n", 9);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 10);
	assert_int_equal(f->n, 4);
	assert_string_equal(f->txns[2].route, "/c");
	assert_int_equal(f->txns[2].notes, TXN_NOTE_GAP_REQUEST);
	assert_string_equal(f->txns[3].route, "/d/:id");
	assert_int_equal(f->txns[3].t.req_first, 9);	/* found by the resync scan */
	assert_int_equal(f->txns[3].notes, 0);
	assert_int_equal(f->q.http_gaps, 2);

	/* a gap between messages, and a resync whose match is split across calls */
	http_stream_ops.gap(f->p, STREAM_TO_SERVER, 100, 11);
	req(f, "xx GE", 12);
	req(f, "T /e HTTP/1.1\r\n\r\n", 13);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 14);
	assert_int_equal(f->n, 5);
	assert_string_equal(f->txns[4].route, "/e");
	assert_int_equal(f->txns[4].t.req_first, 12);
	assert_int_equal(f->q.http_parse_errors, 0);
	fx_close(f, 20);
	assert_int_equal(f->n, 5);
	fx_free(f);
}

static void test_midstream(void **state)
{
	(void)state;
	struct fx *f = fx_new(1);
	/* the capture starts inside a response body and a request body */
	req(f, "tail of a form\r\nGET /x HTTP/1.1\r\n\r\n", 1);
	resp(f, "\"}]}HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 2);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->txns[0].route, "/x");
	assert_int_equal(f->txns[0].status, 200);
	assert_int_equal(f->q.http_parse_errors, 0);
	fx_close(f, 3);
	fx_free(f);
}

/* ---- not HTTP, caps, lies ---------------------------------------------------------- */

static void test_tls_garbage(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	/* TLS 1.2 records: handshake (0x16), version 3.1, length, ClientHello (0x01) */
	static const uint8_t hello[] = {
		0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03,
	};
	static const uint8_t server[] = { 0x16, 0x03, 0x03, 0x00, 0x5d, 0x02, 0x00, 0x00, 0x59 };
	uint8_t noise[4096];
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (uint8_t)(i * 7 + 3);
	memcpy(noise + 100, "GET / HTTP/1.1\r\n\r\n", 18);	/* inside TLS: must not count */
	http_stream_ops.data(f->p, STREAM_TO_SERVER, hello, sizeof(hello), 1);
	http_stream_ops.data(f->p, STREAM_TO_CLIENT, server, sizeof(server), 2);
	for (int i = 0; i < 10; i++) {
		http_stream_ops.data(f->p, STREAM_TO_SERVER, noise, sizeof(noise), 3);
		http_stream_ops.data(f->p, STREAM_TO_CLIENT, noise, sizeof(noise), 3);
		http_stream_ops.gap(f->p, STREAM_TO_CLIENT, 10, 3);
	}
	assert_int_equal(f->q.http_parse_errors, 2);	/* once per direction */
	assert_int_equal(f->q.http_requests, 0);
	fx_close(f, 4);
	assert_int_equal(f->n, 0);
	fx_free(f);

	/* an HTTP/2 prior-knowledge preface is not HTTP/1.x either */
	f = fx_new(0);
	req(f, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 1);
	req(f, "GET / HTTP/1.1\r\n\r\n", 2);
	assert_int_equal(f->q.http_parse_errors, 1);
	fx_close(f, 3);
	assert_int_equal(f->n, 0);
	fx_free(f);
}

static void test_caps(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	/* 300 short header lines: over HTTP_HEADER_LINES_MAX */
	req(f, "GET /many HTTP/1.1\r\n", 1);
	for (int i = 0; i < 300; i++)
		req(f, "X-A: b\r\n", 1);
	req(f, "\r\n", 1);
	assert_int_equal(f->q.http_parse_errors, 1);
	/* one 80 KiB header line: over HTTP_HEADER_BLOCK_MAX */
	size_t big = 80 * 1024;
	char *line = malloc(big + 1);
	assert_non_null(line);
	memset(line, 'v', big);
	memcpy(line, "X-Big: ", 7);
	line[big] = '\0';
	req(f, "GET /huge HTTP/1.1\r\n", 2);
	req(f, line, 2);
	req(f, "\r\n\r\n", 2);
	assert_int_equal(f->q.http_parse_errors, 2);
	/* a 10 KiB request line: over HTTP_START_LINE_MAX, then a method over 15 chars */
	memset(line, 'p', big);
	line[0] = '/';
	line[10 * 1024] = '\0';
	req(f, "GET ", 3);
	req(f, line, 3);
	req(f, " HTTP/1.1\r\n\r\n", 3);
	assert_int_equal(f->q.http_parse_errors, 3);
	free(line);
	/* the stream is still followed */
	req(f, "GET /fine HTTP/1.1\r\n\r\n", 4);
	resp(f, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n", 5);
	resp(f, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n\r\n", 5);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 5);
	/* the two requests whose start line was understood are reported, oversize */
	assert_int_equal(f->n, 3);
	assert_string_equal(f->txns[0].route, "/many");
	assert_int_equal(f->txns[0].notes, TXN_NOTE_OVERSIZE);
	assert_int_equal(f->txns[0].status, 431);
	assert_string_equal(f->txns[1].route, "/huge");
	assert_int_equal(f->txns[1].notes, TXN_NOTE_OVERSIZE);
	assert_string_equal(f->txns[2].route, "/fine");
	assert_int_equal(f->txns[2].status, 200);
	assert_int_equal(f->q.http_parse_errors, 3);
	fx_close(f, 6);
	fx_free(f);

	/* a method over 15 chars on a fresh connection: an error, not "not HTTP" */
	f = fx_new(0);
	req(f, "ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n", 1);
	assert_int_equal(f->q.http_parse_errors, 1);
	fx_close(f, 2);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->txns[0].route, "/next");
	fx_free(f);
}

static void test_chunk_line_cap_and_bad_cl(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "GET /c HTTP/1.1\r\n\r\n", 1);
	resp(f, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;", 2);
	char ext[5000];
	memset(ext, 'e', sizeof(ext) - 1);
	ext[sizeof(ext) - 1] = '\0';
	resp(f, ext, 3);
	assert_int_equal(f->q.http_parse_errors, 1);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->txns[0].notes, TXN_NOTE_OVERSIZE);
	/* conflicting Content-Length values: framing unknown, counted */
	req(f, "GET /d HTTP/1.1\r\n\r\n", 4);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 5);
	assert_int_equal(f->q.http_parse_errors, 2);
	/* equal values in a list are fine */
	req(f, "GET /e HTTP/1.1\r\n\r\n", 6);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabcHTTP/1.1 200 OK\r\n\r\n", 7);
	assert_int_equal(f->n, 3);
	assert_string_equal(f->txns[2].route, "/e");
	assert_int_equal(f->txns[2].resp_bytes,
			 strlen("HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc"));
	assert_int_equal(f->q.http_parse_errors, 2);
	fx_close(f, 8);
	fx_free(f);
}

static void test_lying_content_length(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "GET /f HTTP/1.1\r\n\r\n", 1);
	const char *rs = "HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\nshort";
	resp(f, rs, 2);
	assert_int_equal(f->n, 0);
	fx_close(f, 3);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->txns[0].status, 200);
	assert_int_equal(f->txns[0].notes, TXN_NOTE_TRUNCATED);
	assert_int_equal(f->txns[0].resp_bytes, strlen(rs));
	assert_int_equal(f->txns[0].t.resp_last, 2);
	assert_int_equal(f->q.http_unmatched_requests, 0);
	fx_free(f);
}

static void test_upgrade_101(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 1);
	resp(f, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", 2);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->txns[0].status, 101);
	/* a masked websocket text frame "hello" from the client */
	static const uint8_t frame[] = {
		0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
	};
	http_stream_ops.data(f->p, STREAM_TO_SERVER, frame, sizeof(frame), 3);
	resp(f, "HTTP/1.1 200 OK\r\n\r\n", 4);	/* websocket payload, not HTTP */
	fx_close(f, 5);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->q.http_parse_errors, 0);
	fx_free(f);
}

static void test_absolute_form_and_oom_budget(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "GET http://example.com/users/12?x=1 HTTP/1.1\r\n\r\n"
	       "GET http://example.com HTTP/1.1\r\n\r\n"
	       "OPTIONS * HTTP/1.1\r\n\r\n", 1);
	fx_close(f, 2);
	assert_int_equal(f->n, 3);
	assert_string_equal(f->txns[0].route, "/users/:id");
	assert_string_equal(f->txns[1].route, "/");
	assert_string_equal(f->txns[2].route, "*");
	fx_free(f);

	/* a budget that cannot hold the parser: open() refuses */
	struct quality q;
	struct membudget b;
	struct stream_ctx ctx;
	memset(&q, 0, sizeof(q));
	memset(&ctx, 0, sizeof(ctx));
	membudget_init(&b, 64);
	ctx.q = &q;
	ctx.budget = &b;
	assert_null(http_stream_ops.open(&ctx));
	assert_int_equal(b.used, 0);
}

static void test_pipeline_overflow(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	for (int i = 0; i < HTTP_PIPELINE_MAX + 6; i++)
		req(f, "GET /p HTTP/1.1\r\n\r\n", i);
	/* the six oldest were given up as unanswered */
	assert_int_equal(f->n, 6);
	assert_int_equal(f->txns[0].notes, TXN_NOTE_NO_RESPONSE);
	assert_int_equal(f->txns[5].t.req_first, 5);
	resp(f, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 100);
	assert_int_equal(f->n, 7);
	assert_int_equal(f->txns[6].t.req_first, 6);
	assert_int_equal(f->txns[6].status, 200);
	fx_close(f, 200);
	assert_int_equal(f->n, HTTP_PIPELINE_MAX + 6);
	assert_int_equal(f->q.http_unmatched_requests, HTTP_PIPELINE_MAX + 5);
	fx_free(f);
}

static void test_te_overrides_cl_and_close_gap(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	req(f, "GET /z HTTP/1.1\r\n\r\n", 1);
	/* a coding other than chunked last: the body runs to the close (6.3 item 4), CL ignored */
	const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\n";
	resp(f, h, 2);
	resp(f, "0123456789", 3);
	http_stream_ops.gap(f->p, STREAM_TO_CLIENT, 1000, 4);
	resp(f, "abc", 5);
	assert_int_equal(f->n, 0);
	http_stream_ops.fin(f->p, STREAM_TO_CLIENT, 6);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->txns[0].resp_bytes, strlen(h) + 1013);
	assert_int_equal(f->txns[0].notes, TXN_NOTE_GAP_RESPONSE);
	/* data after the FIN is ignored */
	resp(f, "HTTP/1.1 200 OK\r\n\r\n", 7);
	fx_close(f, 8);
	assert_int_equal(f->n, 1);
	fx_free(f);
}

static void test_header_syntax(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	/* obs-fold continuation lines are tolerated; header names are case-insensitive */
	const char *post = "POST /f HTTP/1.1\r\nX-Long: a\r\n  b\r\ncOnTeNt-LeNgTh:\t2 \r\n\r\nok";
	req(f, post, 1);
	req(f, "GET /g HTTP/1.1\n\n", 1);
	resp(f, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\nContent-Length: 0\n\n", 2);
	assert_int_equal(f->n, 2);
	assert_int_equal(f->txns[0].req_bytes, strlen(post));
	assert_string_equal(f->txns[1].route, "/g");	/* bare LF line ends */
	assert_int_equal(f->q.http_parse_errors, 0);
	/* whitespace between a field name and ':' is an error (RFC 9112 5.1) */
	req(f, "GET /h HTTP/1.1\r\nHost : x\r\n\r\n", 3);
	assert_int_equal(f->q.http_parse_errors, 1);
	/* a bare CR in the start line too */
	resp(f, "HTTP/1.1 200 OK\rX\n\r\n", 4);
	assert_int_equal(f->q.http_parse_errors, 2);
	fx_close(f, 5);
	assert_int_equal(f->n, 3);
	assert_string_equal(f->txns[2].route, "/h");
	/* the malformed request is still reported; its response was dropped as malformed */
	assert_int_equal(f->txns[2].notes, TXN_NOTE_TRUNCATED | TXN_NOTE_NO_RESPONSE);
	fx_free(f);
}

/* ---- whole lines against the byte machine ---------------------------------------- */

/*
 * The parser reads an ordinary start line or field line in one step when the
 * segment holds all of it, and byte by byte otherwise. Both must agree on
 * everything, errors included: each exchange below is fed once whole and
 * once a byte per call (every byte stamped with the same time), and the
 * transactions and counters must be identical.
 */
static const char *const odd_exchanges[][2] = {
	{ "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
	  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" },
	{ "GET /fold HTTP/1.1\r\nX-A: 1\r\n  continued\r\nContent-Length: 0\r\n\r\n",
	  "HTTP/1.1 204 No Content\r\n\r\n" },
	{ "GET /space HTTP/1.1\r\nHost : x\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" },
	{ "GET /nocolon HTTP/1.1\r\nJustAName\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n" },
	{ "GET /barecr HTTP/1.1\r\nX-A: a\rb\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" },
	{ "GET /lf HTTP/1.1\nContent-Length: 1\n\nz", "HTTP/1.1 500 Oops\nContent-Length: 0\n\n" },
	{ "POST /cl HTTP/1.1\r\nContent-Length: 2, 2\r\nContent-Length:  2\r\n\r\nhi",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" },
	{ "POST /badcl HTTP/1.1\r\nContent-Length: 2x\r\n\r\nhi", "HTTP/1.1 400 Bad\r\n\r\n" },
	{ "GET /te HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n" },
	{ "G@T /m HTTP/1.1\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n" },
	{ "GET /v HTTP/2.0\r\n\r\n", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n" },
	{ "GET http://h/abs/1?q HTTP/1.1\r\n:bad\r\n\r\n", "HTTP/1.1 200 OK\r\n\x01\r\n\r\n" },
	{ "GET /ctl\x01 HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nVery-Long-Header-Name-Beyond-Twenty: 1\r\n"
	  "Content-Length: 0\r\n\r\n" },
};

static struct fx *feed_odd(size_t which, int bytewise)
{
	struct fx *f = fx_new(0);
	for (int d = 0; d < 2; d++) {
		const char *s = odd_exchanges[which][d];
		size_t n = strlen(s), step = bytewise ? 1 : n;
		enum stream_dir dir = d ? STREAM_TO_CLIENT : STREAM_TO_SERVER;
		for (size_t i = 0; i < n; i += step)
			http_stream_ops.data(f->p, dir, (const uint8_t *)s + i, step, 10 + d);
	}
	fx_close(f, 20);
	return f;
}

static void test_whole_lines_match_byte_machine(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof(odd_exchanges) / sizeof(odd_exchanges[0]); k++) {
		struct fx *whole = feed_odd(k, 0), *bytes = feed_odd(k, 1);
		if (whole->n != bytes->n)
			fail_msg("exchange %zu: %zu transactions whole, %zu byte by byte", k, whole->n,
				 bytes->n);
		for (size_t t = 0; t < whole->n; t++) {
			const struct http_txn *a = &whole->txns[t], *b = &bytes->txns[t];
			assert_string_equal(a->method, b->method);
			assert_string_equal(a->route, b->route);
			assert_int_equal(a->status, b->status);
			assert_int_equal(a->req_bytes, b->req_bytes);
			assert_int_equal(a->resp_bytes, b->resp_bytes);
			assert_int_equal(a->notes, b->notes);
			assert_memory_equal(&a->t, &b->t, sizeof(a->t));
		}
		assert_int_equal(whole->q.http_requests, bytes->q.http_requests);
		assert_int_equal(whole->q.http_responses, bytes->q.http_responses);
		assert_int_equal(whole->q.http_parse_errors, bytes->q.http_parse_errors);
		assert_int_equal(whole->q.http_unmatched_requests, bytes->q.http_unmatched_requests);
		assert_int_equal(whole->q.http_unmatched_responses, bytes->q.http_unmatched_responses);
		fx_free(whole);
		fx_free(bytes);
	}
	/* the first exchange is the plain one: it really is a transaction */
	struct fx *f = feed_odd(0, 0);
	assert_int_equal(f->n, 1);
	assert_int_equal(f->txns[0].status, 200);
	assert_int_equal(f->q.http_parse_errors, 0);
	fx_free(f);
	/* and the broken ones really were errors, so both paths were exercised */
	f = feed_odd(2, 0);
	assert_int_equal(f->q.http_parse_errors, 1);
	fx_free(f);
}

/* ---- every split point ---------------------------------------------------------- */

/*
 * A fixed conversation: a chunked response (extension, trailer), a POST
 * with a Content-Length body, then two pipelined requests whose responses
 * share one segment (HEAD with a Content-Length, chunked 404). Each message
 * knows its direction and its offset, so the expected timestamps can be
 * computed for any way of cutting the bytes into calls.
 */
struct msg {
	enum stream_dir dir;
	const char *s;
};

static const struct msg conv_msgs[] = {
	{ STREAM_TO_SERVER, "GET /users/42?token=secret HTTP/1.1\r\nHost: a\r\n\r\n" },
	{ STREAM_TO_CLIENT, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n" },
	{ STREAM_TO_SERVER, "POST /login HTTP/1.1\r\nContent-Length: 7\r\n\r\nab=cdef" },
	{ STREAM_TO_CLIENT, "HTTP/1.1 302 Found\r\nContent-Length: 3\r\n\r\nxyz" },
	{ STREAM_TO_SERVER, "HEAD /x HTTP/1.1\r\n\r\n" },
	{ STREAM_TO_SERVER, "GET /static/app.js HTTP/1.1\r\n\r\n" },
	{ STREAM_TO_CLIENT, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" },
	{ STREAM_TO_CLIENT, "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
			    "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n" },
};
#define CONV_N (sizeof(conv_msgs) / sizeof(conv_msgs[0]))

/* Segments as TCP would deliver them: messages 4+5 and 6+7 share one. */
static const size_t conv_seg_count[] = { 1, 1, 1, 1, 2, 2 };
#define CONV_SEGS 6

struct conv {
	uint8_t bytes[1024];
	enum stream_dir dir[1024];
	size_t len;
	size_t msg_start[CONV_N], msg_end[CONV_N];	/* global offsets, end inclusive */
	size_t seg_start[CONV_SEGS + 1];
};

static void conv_build(struct conv *c)
{
	size_t m = 0;
	c->len = 0;
	for (size_t s = 0; s < CONV_SEGS; s++) {
		c->seg_start[s] = c->len;
		for (size_t k = 0; k < conv_seg_count[s]; k++, m++) {
			size_t n = strlen(conv_msgs[m].s);
			assert_true(c->len + n <= sizeof(c->bytes));
			c->msg_start[m] = c->len;
			memcpy(c->bytes + c->len, conv_msgs[m].s, n);
			for (size_t i = 0; i < n; i++)
				c->dir[c->len + i] = conv_msgs[m].dir;
			c->len += n;
			c->msg_end[m] = c->len - 1;
		}
	}
	c->seg_start[CONV_SEGS] = c->len;
}

/* A call starting at global offset o is stamped 1000 + o; a byte's expected time is its call's. */
static ts_ns call_ts(size_t o)
{
	return 1000 + (ts_ns)o;
}

/*
 * Feeds the conversation cut at the given (sorted) offsets, plus the
 * segment boundaries, and checks each transaction against the model.
 */
static void conv_run(const struct conv *c, const uint8_t *cut)
{
	struct fx *f = fx_new(0);
	ts_ns at[1024];
	size_t start = 0;

	for (size_t i = 1; i <= c->len; i++) {
		int boundary = i == c->len || cut[i];
		for (size_t s = 0; s <= CONV_SEGS; s++)
			boundary |= c->seg_start[s] == i;
		if (!boundary)
			continue;
		for (size_t k = start; k < i; k++)
			at[k] = call_ts(start);
		http_stream_ops.data(f->p, c->dir[start], c->bytes + start, i - start, call_ts(start));
		start = i;
	}
	fx_close(f, 99999);

	static const char *const method[] = { "GET", "POST", "HEAD", "GET" };
	static const char *const route[] = { "/users/:id", "/login", "/x", "/static/app.js" };
	static const int status[] = { 200, 302, 200, 404 };
	static const size_t reqm[] = { 0, 2, 4, 5 }, respm[] = { 1, 3, 6, 7 };
	assert_int_equal(f->n, 4);
	for (size_t t = 0; t < 4; t++) {
		const struct http_txn *x = &f->txns[t];
		assert_string_equal(x->method, method[t]);
		assert_string_equal(x->route, route[t]);
		assert_int_equal(x->status, status[t]);
		assert_int_equal(x->notes, 0);
		assert_int_equal(x->req_bytes, strlen(conv_msgs[reqm[t]].s));
		assert_int_equal(x->resp_bytes, strlen(conv_msgs[respm[t]].s));
		assert_int_equal(x->t.req_first, at[c->msg_start[reqm[t]]]);
		assert_int_equal(x->t.req_last, at[c->msg_end[reqm[t]]]);
		assert_int_equal(x->t.resp_first, at[c->msg_start[respm[t]]]);
		assert_int_equal(x->t.resp_last, at[c->msg_end[respm[t]]]);
	}
	assert_int_equal(f->q.http_parse_errors, 0);
	assert_int_equal(f->q.http_unmatched_requests, 0);
	assert_int_equal(f->q.http_unmatched_responses, 0);
	fx_free(f);
}

static void test_every_split_point(void **state)
{
	(void)state;
	struct conv c;
	uint8_t cut[1024];
	conv_build(&c);

	memset(cut, 0, sizeof(cut));
	conv_run(&c, cut);				/* one call per segment */
	for (size_t k = 1; k < c.len; k++) {		/* one extra cut, everywhere */
		memset(cut, 0, sizeof(cut));
		cut[k] = 1;
		conv_run(&c, cut);
	}
	memset(cut, 1, sizeof(cut));			/* byte by byte */
	conv_run(&c, cut);

	unsigned seed = 12345;				/* and some random multi-cuts */
	for (int r = 0; r < 300; r++) {
		for (size_t k = 0; k < c.len; k++) {
			seed = seed * 1103515245u + 12345u;
			cut[k] = ((seed >> 16) % 8) == 0;
		}
		conv_run(&c, cut);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_200_cl),
		cmocka_unit_test(test_keepalive_three),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_close_delimited_http10),
		cmocka_unit_test(test_head_204_304),
		cmocka_unit_test(test_100_continue),
		cmocka_unit_test(test_post_body_cl),
		cmocka_unit_test(test_response_without_request),
		cmocka_unit_test(test_request_without_response),
		cmocka_unit_test(test_gap_in_body),
		cmocka_unit_test(test_gap_in_headers),
		cmocka_unit_test(test_midstream),
		cmocka_unit_test(test_tls_garbage),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_chunk_line_cap_and_bad_cl),
		cmocka_unit_test(test_lying_content_length),
		cmocka_unit_test(test_upgrade_101),
		cmocka_unit_test(test_absolute_form_and_oom_budget),
		cmocka_unit_test(test_pipeline_overflow),
		cmocka_unit_test(test_te_overrides_cl_and_close_gap),
		cmocka_unit_test(test_header_syntax),
		cmocka_unit_test(test_whole_lines_match_byte_machine),
		cmocka_unit_test(test_every_split_point),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
