/*
 * http.h - the passive HTTP/1.0 and 1.1 transaction parser (RFC 9112).
 *
 * The parser is reached only through http_stream_ops (stream.h): the flow
 * table opens one per HTTP connection and feeds it both byte streams. It
 * emits one struct http_txn (txn.h) per request/final-response pair through
 * ctx->sink->http, in request order, and frees all its memory in close().
 * Nothing is buffered beyond the fixed-size state below, the request path
 * prefix and the queue of pipelined requests waiting for their responses.
 */
#ifndef TIERPROBE_HTTP_H
#define TIERPROBE_HTTP_H

#include "stream.h"

/* Hard caps. A message over any of them is counted in http_parse_errors. */
#define HTTP_START_LINE_MAX 8192	/* request or status line, CRLF included */
#define HTTP_HEADER_BLOCK_MAX 65536	/* header (or trailer) section after the start line */
#define HTTP_HEADER_LINES_MAX 200	/* header (or trailer) fields per message */
#define HTTP_CHUNK_LINE_MAX 4096	/* chunk-size line with its extensions */
#define HTTP_PATH_KEEP 1024		/* path bytes kept for route_normalize() */
#define HTTP_PIPELINE_MAX 64		/* requests waiting for a response */

#endif
