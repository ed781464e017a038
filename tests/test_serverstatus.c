/* test_serverstatus.c - serverStatus parsing (fixtures 2.2.7 to 5.0.0), rates, CSV cells, URI redaction, poller. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csv.h"
#include "log.h"
#include "serverstatus.h"
#include "serverstatus_fixture.h"
#include "serverstatus_poller.h"

#define FIXTURES "../shared/peer/serverstatus/"

static void load_doc(const char *path, struct serverstatus_doc *d)
{
	bson_t b;
	assert_int_equal(ssfx_load(path, &b), 0);
	assert_int_equal(serverstatus_parse(&b, d), 0);
	bson_destroy(&b);
}

static int64_t get(const struct serverstatus_doc *d, enum serverstatus_field f)
{
	int64_t v = -777;
	assert_true(serverstatus_get(d, f, &v));
	return v;
}

static void assert_absent(const struct serverstatus_doc *d, enum serverstatus_field f)
{
	int64_t v;
	assert_false(serverstatus_get(d, f, &v));
}

/* The cells serverstatus.csv would get for doc as a first sample (gauges only). */
static void first_row_cells(const struct serverstatus_doc *d, struct serverstatus_cells *cells)
{
	struct serverstatus_row row;
	assert_int_equal(serverstatus_delta(NULL, d, 1.0, &row), SERVERSTATUS_DELTA_BASELINE);
	serverstatus_row_format(&row, cells);
}

static bool is_structdump(const char *name) { return strstr(name, "structdump") != NULL; }

/* Every file in the fixture dirs loads and parses; each real serverStatus has the basics. */
static void test_every_fixture_parses(void **state)
{
	(void)state;
	static const char *const dirs[] = { FIXTURES, FIXTURES "raw/" };
	int files = 0, real = 0;
	for (size_t i = 0; i < 2; i++) {
		DIR *dir = opendir(dirs[i]);
		assert_non_null(dir);
		struct dirent *e;
		while ((e = readdir(dir))) {
			char path[512];
			struct stat st;
			snprintf(path, sizeof(path), "%s%s", dirs[i], e->d_name);
			if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			struct serverstatus_doc d;
			load_doc(path, &d);
			files++;
			size_t present = 0;
			for (int f = 0; f < SERVERSTATUS_FIELD_COUNT; f++)
				present += d.present[f];
			if (is_structdump(e->d_name)) {
				/*
				 * netdata's Go struct dumps ("OpCounters", "Insert"): not what a server
				 * sends. Keys are matched exactly, so nothing may be picked up.
				 */
				assert_int_equal(present, 0);
				assert_string_equal(d.version, "");
				continue;
			}
			real++;
			assert_true(d.present[SERVERSTATUS_UPTIME_S]);
			assert_true(d.present[SERVERSTATUS_OP_COMMAND]);
			assert_true(d.present[SERVERSTATUS_CONN_CURRENT]);
			assert_true(d.version[0] != '\0');
			assert_true(d.host[0] != '\0');
		}
		closedir(dir);
	}
	/* 10 top-level documents + 2 getDiagnosticData + 1 BSON + 2 struct dumps at the time of writing. */
	assert_true(files >= 15);
	assert_true(real >= 13);
}

static void test_mongod_2_2_7(void **state)
{
	(void)state;
	struct serverstatus_doc d;
	load_doc(FIXTURES "mongod-2.2.7.mackerel.json", &d);
	assert_string_equal(d.version, "2.2.7");
	/* mackerel: btree_hits == 5, from the 2.2 nesting indexCounters.btree.hits. */
	assert_int_equal(get(&d, SERVERSTATUS_INDEX_HITS), 5);
	assert_int_equal(get(&d, SERVERSTATUS_OP_COMMAND), 10);
	assert_int_equal(get(&d, SERVERSTATUS_RESIDENT_MIB), 30);
	assert_int_equal(get(&d, SERVERSTATUS_CONN_AVAILABLE), 818);
	assert_int_equal(get(&d, SERVERSTATUS_PAGE_FAULTS), 136);
	/* 2.x: no opLatencies, no wiredTiger, no locks.Global. */
	assert_absent(&d, SERVERSTATUS_OPS_READS);
	assert_absent(&d, SERVERSTATUS_LAT_READS_US);
	assert_absent(&d, SERVERSTATUS_READ_TICKETS_OUT);
	assert_absent(&d, SERVERSTATUS_WT_CACHE_BYTES);
	assert_absent(&d, SERVERSTATUS_GLOBAL_ACQ_R);
	/* localTime is a string in this stub, not a BSON date: unknown rather than guessed. */
	assert_true(d.local_time == TS_NONE);

	struct serverstatus_cells c;
	first_row_cells(&d, &c);
	assert_string_equal(c.ptr[SERVERSTATUS_COL_READS_LATENCY_MS], "");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_READ_TICKETS_OUT], "");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CACHE_USED_PCT], "");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_RESIDENT_MIB], "30");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_UPTIME_S], "35");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CONNECTIONS_CURRENT], "1");
}

static void test_mongod_2_4_and_2_6_index_hits(void **state)
{
	(void)state;
	struct serverstatus_doc d;
	load_doc(FIXTURES "mongod-2.4.14.mackerel.json", &d);
	assert_int_equal(get(&d, SERVERSTATUS_INDEX_HITS), 5); /* flat indexCounters.hits */
	assert_int_equal(get(&d, SERVERSTATUS_OP_QUERY), 26);
	assert_absent(&d, SERVERSTATUS_OPS_COMMANDS);
	load_doc(FIXTURES "mongod-2.6.11.mackerel.json", &d);
	assert_int_equal(get(&d, SERVERSTATUS_INDEX_HITS), 5);
	assert_int_equal(get(&d, SERVERSTATUS_NET_REQUESTS), 4);
	assert_absent(&d, SERVERSTATUS_WT_MODIFIED_EVICTED);
}

static void test_mongod_3_0_5(void **state)
{
	(void)state;
	struct serverstatus_doc d;
	load_doc(FIXTURES "mongod-3.0.5.mackerel.json", &d);
	/*
	 * mackerel's TestParse30 expects duration_ms == 3; its metricPlace30 reads that from
	 * backgroundFlushing.total_ms. The peer README says dur.timeMs.dt, but dt is 3037 in this
	 * file (writeToJournal is the 3 there): both are asserted as they are.
	 */
	assert_int_equal(get(&d, SERVERSTATUS_BG_FLUSH_TOTAL_MS), 3);
	assert_int_equal(get(&d, SERVERSTATUS_DUR_DT_MS), 3037);
	assert_int_equal(get(&d, SERVERSTATUS_GLOBAL_ACQ_WW), 5);
	assert_int_equal(get(&d, SERVERSTATUS_GLOBAL_ACQ_R), 21);
	assert_int_equal(get(&d, SERVERSTATUS_GLOBAL_ACQ_W), 2);
	assert_absent(&d, SERVERSTATUS_GLOBAL_ACQ_RR);
	assert_absent(&d, SERVERSTATUS_GLOBAL_WAIT_US_W);
	assert_absent(&d, SERVERSTATUS_INDEX_HITS); /* removed in 3.0 */
	assert_absent(&d, SERVERSTATUS_OPS_READS);
	assert_int_equal(get(&d, SERVERSTATUS_ACTIVE_TOTAL), 9);
}

static void test_mongod_3_2_0(void **state)
{
	(void)state;
	struct serverstatus_doc d;
	load_doc(FIXTURES "mongod-3.2.0.mackerel.json", &d);
	assert_int_equal(get(&d, SERVERSTATUS_OP_COMMAND), 175);
	assert_int_equal(get(&d, SERVERSTATUS_READ_TICKETS_AVAILABLE), 128);
	assert_int_equal(get(&d, SERVERSTATUS_WRITE_TICKETS_OUT), 0);
	/*
	 * The mackerel stub stripped the spaces from the WiredTiger statistics names
	 * ("bytescurrentlyinthecache"); a server never sends that, so the cache stays unknown.
	 */
	assert_absent(&d, SERVERSTATUS_WT_CACHE_BYTES);
	struct serverstatus_cells c;
	first_row_cells(&d, &c);
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CACHE_USED_PCT], "");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_READ_TICKETS_AVAILABLE], "128");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_RESIDENT_MIB], "52");
}

static void test_mongod_3_6(void **state)
{
	(void)state;
	struct serverstatus_doc d;
	load_doc(FIXTURES "mongod-3.6.4.mackerel.json", &d);
	assert_int_equal(get(&d, SERVERSTATUS_OP_COMMAND), 457766);
	assert_int_equal(get(&d, SERVERSTATUS_UPTIME_S), 4299432);
	assert_int_equal(get(&d, SERVERSTATUS_OPS_READS), 2342194);
	assert_int_equal(get(&d, SERVERSTATUS_LAT_READS_US), 254611347099LL);
	assert_int_equal(get(&d, SERVERSTATUS_GLOBAL_ACQ_R), 3408208489LL); /* > INT32_MAX */
	assert_absent(&d, SERVERSTATUS_WT_CACHE_MAX_BYTES);

	load_doc(FIXTURES "mongod-3.6.20-wt.percona-ftdc.serverStatus.json", &d);
	assert_int_equal(get(&d, SERVERSTATUS_WT_CACHE_BYTES), 101592);
	assert_int_equal(get(&d, SERVERSTATUS_WT_CACHE_MAX_BYTES), 3109027840LL);
	assert_int_equal(get(&d, SERVERSTATUS_GLOBAL_WAIT_US_W), 29110);
	struct serverstatus_cells c;
	first_row_cells(&d, &c);
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CACHE_USED_PCT], "0.0");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_ACTIVE_READERS], "0");

	/* The whole getDiagnosticData reply wraps the same document in "serverStatus". */
	struct serverstatus_doc w;
	load_doc(FIXTURES "raw/getDiagnosticData-3.6.20.percona.json", &w);
	assert_memory_equal(w.v, d.v, sizeof(d.v));
	assert_memory_equal(w.present, d.present, sizeof(d.present));
}

static void test_mongod_4_2_8_locks(void **state)
{
	(void)state;
	struct serverstatus_doc d;
	load_doc(FIXTURES "mongod-4.2.8-wt-replset.percona-ftdc.serverStatus.json", &d);
	/* percona v1_compatibility_test.go */
	assert_int_equal(get(&d, SERVERSTATUS_GLOBAL_WAIT_US_WW) + get(&d, SERVERSTATUS_GLOBAL_WAIT_US_W),
			 42361);
	assert_int_equal(get(&d, SERVERSTATUS_GLOBAL_ACQ_R) + get(&d, SERVERSTATUS_GLOBAL_ACQ_W), 158671);
	assert_absent(&d, SERVERSTATUS_GLOBAL_WAIT_US_R);
	assert_int_equal(get(&d, SERVERSTATUS_WT_MODIFIED_EVICTED), 17);
	struct serverstatus_cells c;
	first_row_cells(&d, &c);
	/* 2839808 / 16241393664 = 0.017 %; 4148341 / 16241393664 = 0.026 % */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CACHE_DIRTY_PCT], "0.0");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CACHE_USED_PCT], "0.0");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_WRITE_TICKETS_AVAILABLE], "128");

	struct serverstatus_doc w;
	load_doc(FIXTURES "raw/getDiagnosticData-4.2.8.percona.json", &w);
	assert_memory_equal(w.v, d.v, sizeof(d.v));
	assert_memory_equal(w.present, d.present, sizeof(d.present));
	assert_string_equal(w.host, "a48cbf11789d");
}

static void test_mongod_5_0_0(void **state)
{
	(void)state;
	struct serverstatus_doc d;
	load_doc(FIXTURES "mongod-5.0.0.netdata.json", &d);
	assert_true(get(&d, SERVERSTATUS_ASSERTS_REGULAR) == 1234567890123456789LL);
	assert_int_equal(get(&d, SERVERSTATUS_ASSERTS_USER), 22);
	assert_int_equal(get(&d, SERVERSTATUS_READ_TICKETS_OUT), 1);
	assert_int_equal(get(&d, SERVERSTATUS_READ_TICKETS_AVAILABLE), 127);
	assert_int_equal(get(&d, SERVERSTATUS_OPS_COMMANDS), 50);
	assert_int_equal(get(&d, SERVERSTATUS_LAT_COMMANDS_US), 12272);
	assert_int_equal(get(&d, SERVERSTATUS_RESIDENT_MIB), 105);
	assert_absent(&d, SERVERSTATUS_GLOBAL_WAIT_US_W);
	/* localTime is {} in this extraction: absent, not epoch. */
	assert_true(d.local_time == TS_NONE);
	struct serverstatus_cells c;
	first_row_cells(&d, &c);
	assert_string_equal(c.ptr[SERVERSTATUS_COL_READ_TICKETS_OUT], "1");
	/* 50676 / 505413632 = 0.01 %, 1449 / 505413632 = 0.0003 % */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CACHE_USED_PCT], "0.0");
}

/* The same 2.6.7 status as JSON (shell "pretty" output) and as BSON must parse identically. */
static void test_bson_and_json_agree(void **state)
{
	(void)state;
	struct serverstatus_doc j, b;
	load_doc(FIXTURES "mongod-2.6.7.percona-v1.json", &j);
	load_doc(FIXTURES "raw/mongod-2.6.7.percona-v1.bson", &b);
	assert_memory_equal(j.v, b.v, sizeof(j.v));
	assert_memory_equal(j.present, b.present, sizeof(j.present));
	assert_string_equal(j.version, "2.6.7");
	assert_string_equal(b.version, "2.6.7");
	assert_int_equal(get(&b, SERVERSTATUS_PAGE_FAULTS), 1724156);
	assert_int_equal(get(&b, SERVERSTATUS_INDEX_HITS), 2094239);
	assert_int_equal(get(&b, SERVERSTATUS_ASSERTS_USER), 3);
	/* localTime is a string there too; the BSON has it as a string (0x02), not a date. */
	assert_true(b.local_time == TS_NONE);
}

/* Mongo-shell syntax, as `db.serverStatus()` prints it (cf. pikka-bird's 3.0.2 fixture). */
static const char shell_doc[] =
	"{\n"
	"\t\"host\" : \"shell.example\",\n"
	"\t\"version\" : \"3.0.2\",\n"
	"\t\"pid\" : NumberLong(286),\n"
	"\t\"uptime\" : 618022,\n"
	"\t\"uptimeMillis\" : NumberLong(618021690),\n"
	"\t\"localTime\" : ISODate(\"2015-05-16T15:46:30.380Z\"),\n"
	"\t\"note\" : \"a string with NumberLong(5) in it stays a string\",\n"
	"\t\"globalLock\" : { \"totalTime\" : NumberLong(\"618021658000\"),\n"
	"\t\t\"currentQueue\" : { \"total\" : 0, \"readers\" : NumberInt(2), \"writers\" : NumberInt(\"3\") } },\n"
	"\t\"repl\" : { \"lastWrite\" : Timestamp(1431791190, 7), \"electionId\" : ObjectId(\"55575e0ba4d5e2b1b9cb1e5b\") },\n"
	"\t\"locks\" : { \"Global\" : { \"acquireCount\" : { \"r\" : NumberLong(366257), \"w\" : NumberLong(15), \"W\" : NumberLong(5) } } },\n"
	"\t\"opcounters\" : { \"insert\" : 0, \"query\" : 2, \"update\" : 0, \"delete\" : 0, \"getmore\" : 0, \"command\" : 115 },\n"
	"\t\"connections\" : { \"current\" : 2, \"available\" : 202, \"totalCreated\" : NumberLong(28) },\n"
	"\t\"ok\" : 1\n"
	"}\n";

static void test_shell_syntax(void **state)
{
	(void)state;
	char *json = ssfx_shell_to_json(shell_doc, strlen(shell_doc));
	assert_non_null(json);
	assert_non_null(strstr(json, "{\"$numberLong\": \"618021658000\"}"));
	assert_non_null(strstr(json, "{\"$timestamp\": {\"t\": 1431791190, \"i\": 7}}"));
	assert_non_null(strstr(json, "\"a string with NumberLong(5) in it stays a string\""));
	bson_error_t err;
	bson_t *b = bson_new_from_json((const uint8_t *)json, -1, &err);
	bson_free(json);
	assert_non_null(b);
	struct serverstatus_doc d;
	assert_int_equal(serverstatus_parse(b, &d), 0);
	bson_iter_t it;
	assert_true(bson_iter_init_find(&it, b, "pid") && BSON_ITER_HOLDS_INT64(&it));
	assert_true(bson_iter_init_find(&it, b, "repl"));
	bson_destroy(b);
	assert_int_equal(get(&d, SERVERSTATUS_GLOBAL_ACQ_R), 366257);
	assert_int_equal(get(&d, SERVERSTATUS_QUEUE_READERS), 2);
	assert_int_equal(get(&d, SERVERSTATUS_QUEUE_WRITERS), 3);
	assert_int_equal(get(&d, SERVERSTATUS_OP_COMMAND), 115);
	/* ISODate became a BSON date: 2015-05-16T15:46:30.380Z */
	assert_true(d.local_time == 1431791190380LL * TS_NS_PER_MS);
	char t[TIMESTAMP_STRLEN];
	assert_string_equal(timestamp_format(d.local_time, t, sizeof(t)), "2015-05-16T15:46:30.380000Z");

	/* The real file, should it be added to the peer set under its README name. */
	if (access(FIXTURES "mongod-3.0.2-mmapv1.pikka-bird.shell.js", R_OK) == 0) {
		load_doc(FIXTURES "mongod-3.0.2-mmapv1.pikka-bird.shell.js", &d);
		assert_int_equal(get(&d, SERVERSTATUS_OP_COMMAND), 115);
	}
	/* A malformed constructor is an error, not silently passed through. */
	assert_null(ssfx_shell_to_json("{\"a\": NumberLong(}", 18));
}

/* Numbers arrive as int32, int64, double, or {$numberLong}; other types are absent. */
static void test_numeric_types(void **state)
{
	(void)state;
	bson_error_t err;
	bson_t *b = bson_new_from_json((const uint8_t *)
		"{\"uptime\": 12.6, \"opcounters\": {\"insert\": {\"$numberLong\": \"9223372036854775807\"},"
		" \"query\": 7, \"update\": \"12\", \"delete\": 1e300, \"getmore\": -3.0, \"command\": true},"
		" \"mem\": {\"resident\": {\"$numberInt\": \"42\"}}, \"network\": {\"bytesIn\": null},"
		" \"localTime\": {\"$date\": \"2026-11-25T22:16:15.946Z\"}, \"ok\": 1.0}", -1, &err);
	assert_non_null(b);
	struct serverstatus_doc d;
	assert_int_equal(serverstatus_parse(b, &d), 0);
	bson_destroy(b);
	assert_int_equal(get(&d, SERVERSTATUS_UPTIME_S), 13);
	assert_true(get(&d, SERVERSTATUS_OP_INSERT) == INT64_MAX);
	assert_int_equal(get(&d, SERVERSTATUS_OP_QUERY), 7);
	assert_int_equal(get(&d, SERVERSTATUS_OP_GETMORE), -3);
	assert_int_equal(get(&d, SERVERSTATUS_RESIDENT_MIB), 42);
	assert_absent(&d, SERVERSTATUS_OP_UPDATE);  /* a string */
	assert_absent(&d, SERVERSTATUS_OP_DELETE);  /* does not fit an int64 */
	assert_absent(&d, SERVERSTATUS_OP_COMMAND); /* a bool */
	assert_absent(&d, SERVERSTATUS_NET_BYTES_IN);
	char t[TIMESTAMP_STRLEN];
	assert_string_equal(timestamp_format(d.local_time, t, sizeof(t)), "2026-11-25T22:16:15.946000Z");
}

static void test_error_reply_and_mongos_like(void **state)
{
	(void)state;
	bson_error_t err;
	struct serverstatus_doc d;
	bson_t *b = bson_new_from_json((const uint8_t *)"{\"ok\": 0, \"errmsg\": \"not authorized\", \"code\": 13}", -1, &err);
	assert_int_equal(serverstatus_parse(b, &d), -EINVAL);
	bson_destroy(b);

	/* A mongos or arbiter: whole sections missing. */
	b = bson_new_from_json((const uint8_t *)
		"{\"ok\": 1, \"host\": \"router:27017\", \"version\": \"4.4.1\", \"process\": \"mongos\","
		" \"connections\": {\"current\": 4, \"available\": 100}}", -1, &err);
	struct serverstatus_doc prev, cur;
	assert_int_equal(serverstatus_parse(b, &prev), 0);
	assert_int_equal(serverstatus_parse(b, &cur), 0);
	bson_destroy(b);
	assert_string_equal(cur.host, "router:27017");
	prev.sample_time = 1000 * TS_NS_PER_SEC;
	cur.sample_time = 1001 * TS_NS_PER_SEC;
	struct serverstatus_row row;
	assert_int_equal(serverstatus_delta(&prev, &cur, 1.0, &row), SERVERSTATUS_DELTA_RATES);
	struct serverstatus_cells c;
	serverstatus_row_format(&row, &c);
	for (int i = 0; i < SERVERSTATUS_NCOLUMNS; i++) {
		if (i == SERVERSTATUS_COL_TIME || i == SERVERSTATUS_COL_CONNECTIONS_CURRENT ||
		    i == SERVERSTATUS_COL_CONNECTIONS_AVAILABLE || i == SERVERSTATUS_COL_INTERVAL_S)
			continue;
		assert_string_equal(c.ptr[i], "");
	}
	assert_string_equal(c.ptr[SERVERSTATUS_COL_INTERVAL_S], "1.000");	/* what the rates cover */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CONNECTIONS_CURRENT], "4");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_TIME], "1970-01-01T00:16:41.000000Z");

	/* An empty document and a NULL reply. */
	bson_t empty = BSON_INITIALIZER;
	assert_int_equal(serverstatus_parse(&empty, &d), 0);
	assert_false(d.present[SERVERSTATUS_UPTIME_S]);
	assert_int_equal(serverstatus_parse(NULL, &d), -EINVAL);
}

/* A synthetic status: counters scaled by k, uptime u. */
static bson_t *synthetic(int64_t u, int64_t k)
{
	bson_t *b = bson_new();
	bson_t sub, sub2, sub3;
	BSON_APPEND_UTF8(b, "host", "db1:27017");
	BSON_APPEND_INT64(b, "uptime", u);
	BSON_APPEND_DOCUMENT_BEGIN(b, "opcounters", &sub);
	BSON_APPEND_INT32(&sub, "insert", (int32_t)(10 * k));
	BSON_APPEND_INT64(&sub, "query", 100 * k);
	BSON_APPEND_DOUBLE(&sub, "update", (double)(3 * k));
	BSON_APPEND_INT32(&sub, "delete", 0);
	BSON_APPEND_INT32(&sub, "getmore", (int32_t)k);
	BSON_APPEND_INT64(&sub, "command", 1000 * k);
	bson_append_document_end(b, &sub);
	BSON_APPEND_DOCUMENT_BEGIN(b, "network", &sub);
	BSON_APPEND_INT64(&sub, "bytesIn", 5000 * k);
	BSON_APPEND_INT64(&sub, "bytesOut", 7000 * k);
	BSON_APPEND_INT64(&sub, "numRequests", 1111 * k);
	bson_append_document_end(b, &sub);
	BSON_APPEND_DOCUMENT_BEGIN(b, "asserts", &sub);
	BSON_APPEND_INT32(&sub, "regular", 0);
	BSON_APPEND_INT32(&sub, "warning", 0);
	BSON_APPEND_INT32(&sub, "msg", 0);
	BSON_APPEND_INT32(&sub, "user", (int32_t)(2 * k));
	BSON_APPEND_INT32(&sub, "rollovers", 0);
	bson_append_document_end(b, &sub);
	BSON_APPEND_DOCUMENT_BEGIN(b, "opLatencies", &sub);
	BSON_APPEND_DOCUMENT_BEGIN(&sub, "reads", &sub2);
	BSON_APPEND_INT64(&sub2, "latency", 1500 * k);
	BSON_APPEND_INT64(&sub2, "ops", 3 * k);
	bson_append_document_end(&sub, &sub2);
	BSON_APPEND_DOCUMENT_BEGIN(&sub, "writes", &sub2);
	BSON_APPEND_INT64(&sub2, "latency", 900);
	BSON_APPEND_INT64(&sub2, "ops", 4); /* no writes in between */
	bson_append_document_end(&sub, &sub2);
	bson_append_document_end(b, &sub);
	BSON_APPEND_DOCUMENT_BEGIN(b, "wiredTiger", &sub);
	BSON_APPEND_DOCUMENT_BEGIN(&sub, "cache", &sub2);
	BSON_APPEND_INT64(&sub2, "bytes currently in the cache", 750);
	BSON_APPEND_INT64(&sub2, "maximum bytes configured", 1000);
	BSON_APPEND_INT64(&sub2, "tracked dirty bytes in the cache", 125);
	BSON_APPEND_INT64(&sub2, "unmodified pages evicted", 4 * k);
	BSON_APPEND_INT64(&sub2, "modified pages evicted", 6 * k);
	BSON_APPEND_INT64(&sub2, "pages evicted by application threads", k);
	bson_append_document_end(&sub, &sub2);
	bson_append_document_end(b, &sub);
	/* 8.0 layout for the tickets. */
	BSON_APPEND_DOCUMENT_BEGIN(b, "queues", &sub);
	BSON_APPEND_DOCUMENT_BEGIN(&sub, "execution", &sub2);
	BSON_APPEND_DOCUMENT_BEGIN(&sub2, "read", &sub3);
	BSON_APPEND_INT32(&sub3, "out", 2);
	BSON_APPEND_INT32(&sub3, "available", 126);
	bson_append_document_end(&sub2, &sub3);
	BSON_APPEND_DOCUMENT_BEGIN(&sub2, "write", &sub3);
	BSON_APPEND_INT32(&sub3, "out", 1);
	BSON_APPEND_INT32(&sub3, "available", 127);
	bson_append_document_end(&sub2, &sub3);
	bson_append_document_end(&sub, &sub2);
	bson_append_document_end(b, &sub);
	BSON_APPEND_DOCUMENT_BEGIN(b, "locks", &sub);
	BSON_APPEND_DOCUMENT_BEGIN(&sub, "Global", &sub2);
	BSON_APPEND_DOCUMENT_BEGIN(&sub2, "acquireCount", &sub3);
	BSON_APPEND_INT64(&sub3, "r", 100 * k);
	bson_append_document_end(&sub2, &sub3);
	BSON_APPEND_DOCUMENT_BEGIN(&sub2, "timeAcquiringMicros", &sub3);
	BSON_APPEND_INT64(&sub3, "w", 2000 * k);
	if (k > 1)
		BSON_APPEND_INT64(&sub3, "W", 500); /* appears once somebody waited */
	bson_append_document_end(&sub2, &sub3);
	bson_append_document_end(&sub, &sub2);
	bson_append_document_end(b, &sub);
	BSON_APPEND_INT32(b, "ok", 1);
	return b;
}

static void parse_synthetic(int64_t u, int64_t k, ts_ns t, struct serverstatus_doc *d)
{
	bson_t *b = synthetic(u, k);
	assert_int_equal(serverstatus_parse(b, d), 0);
	bson_destroy(b);
	d->sample_time = t;
}

static void test_rates(void **state)
{
	(void)state;
	struct serverstatus_doc a, b;
	parse_synthetic(100, 1, 1000 * TS_NS_PER_SEC, &a);
	parse_synthetic(102, 3, 1002 * TS_NS_PER_SEC + 500 * TS_NS_PER_MS, &b);
	struct serverstatus_row row;
	struct serverstatus_cells c;
	assert_int_equal(serverstatus_delta(&a, &b, 2.5, &row), SERVERSTATUS_DELTA_RATES);
	serverstatus_row_format(&row, &c);
	assert_string_equal(c.ptr[SERVERSTATUS_COL_TIME], "1970-01-01T00:16:42.500000Z");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_UPTIME_S], "102");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_INSERT_PER_S], "8.000");     /* 20 / 2.5 */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_QUERY_PER_S], "80.000");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_UPDATE_PER_S], "2.400");     /* double counter */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_DELETE_PER_S], "0.000");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_GETMORE_PER_S], "0.800");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_COMMAND_PER_S], "800.000");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_NET_IN_BYTES_PER_S], "4000.000");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_NET_OUT_BYTES_PER_S], "5600.000");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_REQUESTS_PER_S], "888.800");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_PAGE_FAULTS_PER_S], "");     /* no extra_info */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_ASSERTS_PER_S], "1.600");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_PAGES_EVICTED_PER_S], "8.000"); /* (8+12)/2.5 */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_APP_PAGES_EVICTED_PER_S], "0.800");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_READ_TICKETS_OUT], "2");     /* queues.execution */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_WRITE_TICKETS_AVAILABLE], "127");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CACHE_USED_PCT], "75.0");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CACHE_DIRTY_PCT], "12.5");
	/* reads: Δlatency 3000 µs over Δops 6 = 0.5 ms */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_READS_LATENCY_MS], "0.500");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_READS_OPS_PER_S], "2.400");
	/* writes: Δops 0 → rate 0, mean latency unknown */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_WRITES_OPS_PER_S], "0.000");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_WRITES_LATENCY_MS], "");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_COMMANDS_LATENCY_MS], "");
	/* lock waits: w 4000 µs + W 500 µs (new key) over 2.5 s = 1.8 ms/s */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_GLOBAL_LOCK_WAIT_MS_PER_S], "1.800");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_NOTE], "");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CONNECTIONS_CURRENT], "");
}

/* A restart (counters and uptime backwards) is a new baseline: empty rates, then normal again. */
static void test_restart_baseline(void **state)
{
	(void)state;
	struct serverstatus_doc a, b, r, n;
	parse_synthetic(100, 5, 10 * TS_NS_PER_SEC, &a);
	parse_synthetic(101, 6, 11 * TS_NS_PER_SEC, &b);
	parse_synthetic(1, 1, 12 * TS_NS_PER_SEC, &r);   /* restarted */
	parse_synthetic(2, 2, 13 * TS_NS_PER_SEC, &n);
	struct serverstatus_row row;
	struct serverstatus_cells c;

	assert_int_equal(serverstatus_delta(NULL, &a, 1.0, &row), SERVERSTATUS_DELTA_BASELINE);
	serverstatus_row_format(&row, &c);
	assert_string_equal(c.ptr[SERVERSTATUS_COL_INSERT_PER_S], "");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_NOTE], "baseline: first sample");

	assert_int_equal(serverstatus_delta(&a, &b, 1.0, &row), SERVERSTATUS_DELTA_RATES);
	serverstatus_row_format(&row, &c);
	assert_string_equal(c.ptr[SERVERSTATUS_COL_INSERT_PER_S], "10.000");

	assert_int_equal(serverstatus_delta(&b, &r, 1.0, &row), SERVERSTATUS_DELTA_BASELINE);
	serverstatus_row_format(&row, &c);
	for (int i = 0; i < SERVERSTATUS_NCOLUMNS; i++) {
		if (serverstatus_columns[i][0] && strstr(serverstatus_columns[i], "_per_s"))
			assert_string_equal(c.ptr[i], "");
	}
	assert_string_equal(c.ptr[SERVERSTATUS_COL_READS_LATENCY_MS], "");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_UPTIME_S], "1");        /* gauges still there */
	assert_string_equal(c.ptr[SERVERSTATUS_COL_CACHE_USED_PCT], "75.0");
	assert_non_null(strstr(c.ptr[SERVERSTATUS_COL_NOTE], "restarted"));

	assert_int_equal(serverstatus_delta(&r, &n, 1.0, &row), SERVERSTATUS_DELTA_RATES);
	serverstatus_row_format(&row, &c);
	assert_string_equal(c.ptr[SERVERSTATUS_COL_INSERT_PER_S], "10.000");
	assert_string_equal(c.ptr[SERVERSTATUS_COL_READS_LATENCY_MS], "0.500");

	/* A counter backwards with uptime still rising (rollover, or a reset): baseline too. */
	struct serverstatus_doc back = b;
	back.v[SERVERSTATUS_UPTIME_S] = 200;
	back.v[SERVERSTATUS_NET_BYTES_IN] = 1;
	assert_int_equal(serverstatus_delta(&b, &back, 1.0, &row), SERVERSTATUS_DELTA_BASELINE);
	assert_false(row.present[SERVERSTATUS_COL_INSERT_PER_S]);
	assert_non_null(strstr(row.note, "backwards"));

	/* Another host answered (failover through the URI): baseline. */
	struct serverstatus_doc other = n;
	snprintf(other.host, sizeof(other.host), "db2:27017");
	other.v[SERVERSTATUS_UPTIME_S] = 50;
	assert_int_equal(serverstatus_delta(&n, &other, 1.0, &row), SERVERSTATUS_DELTA_BASELINE);

	/* No time elapsed: no division by zero, no rates. */
	assert_int_equal(serverstatus_delta(&r, &n, 0.0, &row), SERVERSTATUS_DELTA_BASELINE);
	assert_false(row.present[SERVERSTATUS_COL_INSERT_PER_S]);
}

/* The main loop's use: good, failed, good again → rates over the whole gap. */
static void test_sample_rows(void **state)
{
	(void)state;
	struct serverstatus_doc prev;
	bool have_prev = false;
	struct serverstatus_sample s;
	struct serverstatus_row row;
	memset(&s, 0, sizeof(s));
	s.status = SERVERSTATUS_POLL_OK;
	s.time = 10 * TS_NS_PER_SEC;
	parse_synthetic(100, 1, s.time, &s.doc);
	serverstatus_sample_row(&prev, &have_prev, &s, &row);
	assert_true(have_prev);
	assert_false(row.present[SERVERSTATUS_COL_INSERT_PER_S]);
	assert_string_equal(row.note, "baseline: first sample");

	struct serverstatus_sample down;
	memset(&down, 0, sizeof(down));
	down.status = SERVERSTATUS_POLL_UNREACHABLE;
	down.time = 11 * TS_NS_PER_SEC;
	snprintf(down.note, sizeof(down.note), "server unreachable");
	serverstatus_sample_row(&prev, &have_prev, &down, &row);
	assert_true(row.time == 11 * TS_NS_PER_SEC);
	assert_false(row.present[SERVERSTATUS_COL_UPTIME_S]);
	assert_string_equal(row.note, "server unreachable");

	s.time = 14 * TS_NS_PER_SEC;
	parse_synthetic(104, 5, s.time, &s.doc);
	serverstatus_sample_row(&prev, &have_prev, &s, &row);
	assert_true(row.present[SERVERSTATUS_COL_INSERT_PER_S]);
	assert_true(row.val[SERVERSTATUS_COL_INSERT_PER_S] == 10.0); /* 40 inserts over 4 s */
	assert_string_equal(row.note, "");
}

static void test_columns_and_csv(void **state)
{
	(void)state;
	for (int i = 0; i < SERVERSTATUS_NCOLUMNS; i++)
		assert_non_null(serverstatus_columns[i]);
	assert_string_equal(serverstatus_columns[0], "time");
	assert_string_equal(serverstatus_columns[SERVERSTATUS_NCOLUMNS - 1], "note");

	char path[] = "/tmp/test_serverstatus_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	struct csv_writer *w = csv_writer_new(path, serverstatus_columns, SERVERSTATUS_NCOLUMNS);
	assert_non_null(w);
	struct serverstatus_row row;
	struct serverstatus_cells c;
	serverstatus_row_empty(&row, 5 * TS_NS_PER_SEC, "server unreachable");
	serverstatus_row_format(&row, &c);
	assert_int_equal(csv_writer_row(w, c.ptr, SERVERSTATUS_NCOLUMNS), 0);
	assert_int_equal(csv_writer_free(w), 0);
	size_t len;
	char *text = ssfx_read_file(path, &len);
	unlink(path);
	assert_non_null(text);
	const char *line2 = strchr(text, '\n');
	assert_non_null(line2);
	assert_string_equal(line2 + 1,
			    "1970-01-01T00:00:05.000000Z,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,server unreachable\n");
	assert_true(strncmp(text, "time,interval_s,uptime_s,insert_per_s,", 38) == 0);
	free(text);
}

static void redact(const char *uri, const char *want)
{
	char out[256];
	assert_int_equal(serverstatus_redact_uri(uri, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_redact_uri(void **state)
{
	(void)state;
	redact("mongodb://bob:s3cret@db1:27017/app?authSource=admin",
	       "mongodb://bob:***@db1:27017/app?authSource=admin");
	redact("mongodb://db1:27017,db2:27017/?replicaSet=rs0", "mongodb://db1:27017,db2:27017/?replicaSet=rs0");
	redact("mongodb://bob@db1/?authMechanism=MONGODB-X509", "mongodb://bob@db1/?authMechanism=MONGODB-X509");
	/* Unescaped specials in the password: '@', ':', '/', '?'. */
	redact("mongodb://bob:p@ss:w/o?rd@db1:27017/", "mongodb://bob:***@db1:27017/");
	redact("mongodb://bob:p%40ss%3A@db1/", "mongodb://bob:***@db1/");
	redact("mongodb+srv://alice:hunter2@cluster0.example.net/?retryWrites=true&w=majority",
	       "mongodb+srv://alice:***@cluster0.example.net/?retryWrites=true&w=majority");
	redact("mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok&tls=true",
	       "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=***&tls=true");
	redact("mongodb://h/?tls=true&tlsCertificateKeyFilePassword=pw", "mongodb://h/?tls=true&tlsCertificateKeyFilePassword=***");
	redact("not a uri with secret", "***");
	/* An '@' in an option value: no ":" before it, so nothing is hidden that need not be. */
	redact("mongodb://h/?appName=me@x", "mongodb://h/?appName=me@x");
	char small[16];
	assert_int_equal(serverstatus_redact_uri("mongodb://bob:s3cret@db1:27017/", small, sizeof(small)),
			 -ENOSPC);
	assert_string_equal(small, "mongodb://bob:*");
	assert_null(strstr(small, "s3cret"));
}

static void test_auth_message(void **state)
{
	(void)state;
	char msg[1024];
	serverstatus_auth_message("mongodb://bob:s3cret@db1:27017/?authMechanism=SCRAM-SHA-256&authSource=admin",
				  "Authentication failed.", msg, sizeof(msg));
	assert_non_null(strstr(msg, "user 'bob'"));
	assert_non_null(strstr(msg, "SCRAM-SHA-256"));
	assert_non_null(strstr(msg, "mongodb://bob:***@db1:27017/"));
	assert_non_null(strstr(msg, "Authentication failed."));
	assert_null(strstr(msg, "s3cret"));
	/* A reason quoting the password is withheld. */
	serverstatus_auth_message("mongodb://bob:s3cret@db1/", "bad password s3cret", msg, sizeof(msg));
	assert_null(strstr(msg, "s3cret"));
	assert_non_null(strstr(msg, "default"));
}

static void test_uri_file(void **state)
{
	(void)state;
	char path[] = "/tmp/test_serverstatus_uri_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "  mongodb://bob:s3cret@db1:27017/?authSource=admin \r\nsecond line\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	char *uri = NULL;
	assert_int_equal(serverstatus_read_uri_file(path, &uri), 0);
	assert_string_equal(uri, "mongodb://bob:s3cret@db1:27017/?authSource=admin");
	free(uri);
	fd = open(path, O_WRONLY | O_TRUNC);
	close(fd);
	assert_int_equal(serverstatus_read_uri_file(path, &uri), -EINVAL);
	assert_null(uri);
	unlink(path);
	assert_int_equal(serverstatus_read_uri_file("/nonexistent/tierprobe-uri", &uri), -ENOENT);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs fn with stderr sent to a temporary file; returns what was written (malloc'd). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/test_serverstatus_err_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	size_t len;
	char *text = ssfx_read_file(path, &len);
	unlink(path);
	assert_non_null(text);
	return text;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void run_unreachable(void *arg)
{
	(void)arg;
	/* Port 1 on loopback: connection refused at once, so several retries fit in the window. */
	struct serverstatus_poller *p =
		serverstatus_poller_new("mongodb://bob:s3cret@127.0.0.1:1/?authSource=admin", 0.4);
	assert_non_null(p);
	assert_int_equal(serverstatus_poller_start(p), 0);
	struct serverstatus_sample s;
	int64_t t0 = mono_ms();
	(void)serverstatus_poller_take(p, &s); /* never blocks, sample or not */
	assert_true(mono_ms() - t0 < 100);

	int got = 0;
	while (mono_ms() - t0 < 1500) {
		int64_t t1 = mono_ms();
		if (serverstatus_poller_take(p, &s)) {
			got++;
			assert_int_equal(s.status, SERVERSTATUS_POLL_UNREACHABLE);
			assert_string_equal(s.note, "server unreachable");
			assert_true(s.time != TS_NONE);
		}
		assert_true(mono_ms() - t1 < 100);
		usleep(50 * 1000);
	}
	assert_true(got >= 3); /* retried with backoff: 0, 0.1, 0.3, 0.7 s, then every 0.4 s */
	int64_t t2 = mono_ms();
	serverstatus_poller_free(p);
	assert_true(mono_ms() - t2 < 1000);
}

static void test_poller_unreachable(void **state)
{
	(void)state;
	char *err = capture_stderr(run_unreachable, NULL);
	assert_int_equal(count(err, "cannot reach"), 1); /* logged once for the whole outage */
	assert_non_null(strstr(err, "mongodb://bob:***@127.0.0.1:1/"));
	assert_null(strstr(err, "s3cret"));
	free(err);
}

/*
 * A server that accepts the TCP connection and never answers (a hung process): each attempt must
 * give up after the timeout, min(interval, 2 s) = 0.5 s here, so the probe never stalls.
 */
static void test_poller_silent_server(void **state)
{
	(void)state;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 16), 0); /* the kernel completes handshakes; nobody reads */
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	char uri[64];
	snprintf(uri, sizeof(uri), "mongodb://127.0.0.1:%d/?connectTimeoutMS=60000", ntohs(sa.sin_port));

	assert_int_equal(serverstatus_poller_timeout_ms(0.5), 500);
	assert_int_equal(serverstatus_poller_timeout_ms(10), 2000);
	log_set_level(LOG_LEVEL_ERR); /* the one warning is checked in test_poller_unreachable */
	struct serverstatus_poller *p = serverstatus_poller_new(uri, 0.5);
	assert_non_null(p);
	int64_t t0 = mono_ms();
	assert_int_equal(serverstatus_poller_start(p), 0);
	struct serverstatus_sample s;
	while (!serverstatus_poller_take(p, &s) && mono_ms() - t0 < 3000)
		usleep(20 * 1000);
	int64_t took = mono_ms() - t0;
	assert_int_equal(s.status, SERVERSTATUS_POLL_UNREACHABLE);
	assert_true(took >= 400 && took < 1500);
	int64_t t1 = mono_ms();
	serverstatus_poller_free(p);
	assert_true(mono_ms() - t1 < 1500);
	log_set_level(LOG_LEVEL_INFO);
	close(ls);
}

/*
 * A minimal MongoDB wire-protocol server for the poller's success path, until the shared Python
 * test server lands: it answers the handshake (OP_QUERY isMaster, or OP_MSG hello) and
 * serverStatus with synthetic(), counters growing each reply. One connection at a time.
 *
 *   header: messageLength int32 | requestID int32 | responseTo int32 | opCode int32 (LE)
 *   OP_QUERY 2004: flags | fullCollectionName cstring | skip | return | query BSON
 *   OP_REPLY 1:    flags | cursorID int64 | startingFrom | numberReturned | documents
 *   OP_MSG 2013:   flagBits | section kind 0: BSON body
 */
struct fake_server {
	int listen_fd;
	int port;
	int64_t uptime, k;
	volatile int stop;
	int serverstatus_calls;
	int auth_attempts;
	pthread_t thread;
};

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static bool read_full(int fd, uint8_t *buf, size_t n)
{
	while (n) {
		ssize_t got = recv(fd, buf, n, 0);
		if (got <= 0)
			return false;
		buf += got;
		n -= (size_t)got;
	}
	return true;
}

static bson_t *fake_reply_for(struct fake_server *fs, const bson_t *cmd)
{
	bson_iter_t it;
	const char *name = bson_iter_init(&it, cmd) && bson_iter_next(&it) ? bson_iter_key(&it) : "";
	if (strcasecmp(name, "serverStatus") == 0) {
		fs->serverstatus_calls++;
		fs->uptime++;
		fs->k++;
		return synthetic(fs->uptime, fs->k);
	}
	bson_t *r = bson_new();
	if (strcmp(name, "saslStart") == 0 || strcmp(name, "authenticate") == 0) {
		fs->auth_attempts++;
		BSON_APPEND_DOUBLE(r, "ok", 0.0);
		BSON_APPEND_UTF8(r, "errmsg", "Authentication failed.");
		BSON_APPEND_INT32(r, "code", 18);
		BSON_APPEND_UTF8(r, "codeName", "AuthenticationFailed");
		return r;
	}
	if (strcasecmp(name, "isMaster") == 0 || strcmp(name, "hello") == 0) {
		BSON_APPEND_BOOL(r, "ismaster", true);
		BSON_APPEND_BOOL(r, "helloOk", true);
		BSON_APPEND_INT32(r, "maxBsonObjectSize", 16777216);
		BSON_APPEND_INT32(r, "maxMessageSizeBytes", 48000000);
		BSON_APPEND_INT32(r, "maxWriteBatchSize", 100000);
		BSON_APPEND_DATE_TIME(r, "localTime", 0);
		BSON_APPEND_INT32(r, "minWireVersion", 0);
		BSON_APPEND_INT32(r, "maxWireVersion", 13);
	}
	BSON_APPEND_DOUBLE(r, "ok", 1.0);
	return r;
}

/* Serves one connection until it closes, sends garbage, or stop is set. */
static void fake_serve(struct fake_server *fs, int fd)
{
	while (!fs->stop) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		uint8_t hdr[16];
		if (!read_full(fd, hdr, 16))
			return;
		uint32_t len = le32(hdr), op = le32(hdr + 12);
		if (len < 16 || len > (1u << 24))
			return;
		uint8_t *body = malloc(len - 16);
		if (!body || !read_full(fd, body, len - 16)) {
			free(body);
			return;
		}
		const uint8_t *doc = NULL;
		size_t room = 0;
		if (op == 2004) { /* flags, cstring, skip, return, query */
			const uint8_t *nul = memchr(body + 4, 0, len - 16 - 4);
			if (nul && (size_t)(nul + 9 - body) <= len - 16) {
				doc = nul + 9;
				room = len - 16 - (size_t)(doc - body);
			}
		} else if (op == 2013 && len - 16 >= 5 && body[4] == 0) {
			doc = body + 5;
			room = len - 16 - 5;
		}
		bson_t cmd;
		if (!doc || room < 5 || le32(doc) > room || !bson_init_static(&cmd, doc, le32(doc))) {
			free(body);
			return;
		}
		bson_t *r = fake_reply_for(fs, &cmd);
		free(body);
		size_t pre = op == 2004 ? 20 : 5;
		size_t total = 16 + pre + r->len;
		uint8_t *out = calloc(1, total);
		put32(out, (uint32_t)total);
		put32(out + 4, 77);
		memcpy(out + 8, hdr + 4, 4); /* responseTo = requestID */
		put32(out + 12, op == 2004 ? 1 : 2013);
		if (op == 2004)
			put32(out + 16 + 16, 1); /* numberReturned */
		memcpy(out + 16 + pre, bson_get_data(r), r->len);
		bson_destroy(r);
		bool sent = send(fd, out, total, MSG_NOSIGNAL) == (ssize_t)total;
		free(out);
		if (!sent)
			return;
	}
}

static void *fake_thread(void *arg)
{
	struct fake_server *fs = arg;
	while (!fs->stop) {
		struct pollfd pfd = { fs->listen_fd, POLLIN, 0 };
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		int fd = accept(fs->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		fake_serve(fs, fd);
		close(fd);
	}
	return NULL;
}

/* Starts on port (0: any). */
static void fake_start(struct fake_server *fs, int port, int64_t uptime)
{
	memset(fs, 0, sizeof(*fs));
	fs->uptime = uptime;
	fs->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fs->listen_fd >= 0);
	int one = 1;
	setsockopt(fs->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fs->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fs->listen_fd, 8), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(fs->listen_fd, (struct sockaddr *)&sa, &sl), 0);
	fs->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&fs->thread, NULL, fake_thread, fs), 0);
}

static void fake_stop(struct fake_server *fs)
{
	fs->stop = 1;
	pthread_join(fs->thread, NULL);
	close(fs->listen_fd);
}

/* Waits up to ms for an OK sample. */
static bool take_ok(struct serverstatus_poller *p, struct serverstatus_sample *s, int64_t ms)
{
	int64_t t0 = mono_ms();
	while (mono_ms() - t0 < ms) {
		if (serverstatus_poller_take(p, s) && s->status == SERVERSTATUS_POLL_OK)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* Polls a live (fake) server, then a restarted one on the same port: new baseline, then rates. */
static void test_poller_live_and_restart(void **state)
{
	(void)state;
	struct fake_server a, b;
	fake_start(&a, 0, 1000);
	char uri[80];
	snprintf(uri, sizeof(uri), "mongodb://127.0.0.1:%d/?directConnection=true", a.port);
	log_set_level(LOG_LEVEL_ERR);
	struct serverstatus_poller *p = serverstatus_poller_new(uri, 0.2);
	assert_non_null(p);
	assert_int_equal(serverstatus_poller_start(p), 0);

	struct serverstatus_doc prev;
	bool have_prev = false;
	struct serverstatus_sample s;
	struct serverstatus_row row;
	assert_true(take_ok(p, &s, 1500));
	assert_true(s.doc.sample_time == s.time);
	assert_true(get(&s.doc, SERVERSTATUS_UPTIME_S) > 1000);
	serverstatus_sample_row(&prev, &have_prev, &s, &row);
	assert_true(take_ok(p, &s, 1000));
	serverstatus_sample_row(&prev, &have_prev, &s, &row);
	assert_true(row.present[SERVERSTATUS_COL_INSERT_PER_S]);
	assert_true(row.val[SERVERSTATUS_COL_INSERT_PER_S] > 0);
	assert_string_equal(row.note, "");

	/* Restart: the same port, uptime from 0, counters from the start. */
	int port = a.port;
	fake_stop(&a);
	fake_start(&b, port, 0);
	int64_t t0 = mono_ms();
	/* Within two intervals (0.4 s) plus a timeout of slack: the first sample of the new process. */
	bool restarted = false;
	while (!restarted && take_ok(p, &s, 1000))
		restarted = get(&s.doc, SERVERSTATUS_UPTIME_S) < 1000;
	assert_true(restarted);
	assert_true(mono_ms() - t0 < 1000);
	serverstatus_sample_row(&prev, &have_prev, &s, &row);
	assert_false(row.present[SERVERSTATUS_COL_INSERT_PER_S]);
	assert_non_null(strstr(row.note, "restarted"));
	assert_true(take_ok(p, &s, 1000));
	serverstatus_sample_row(&prev, &have_prev, &s, &row);
	assert_true(row.present[SERVERSTATUS_COL_INSERT_PER_S]);

	serverstatus_poller_free(p);
	fake_stop(&b);
	log_set_level(LOG_LEVEL_INFO);
}

static void run_auth_failure(void *arg)
{
	struct fake_server *fs = arg;
	char uri[160];
	snprintf(uri, sizeof(uri),
		 "mongodb://bob:s3cret@127.0.0.1:%d/?directConnection=true&authMechanism=SCRAM-SHA-256",
		 fs->port);
	struct serverstatus_poller *p = serverstatus_poller_new(uri, 0.2);
	assert_non_null(p);
	assert_int_equal(serverstatus_poller_start(p), 0);
	struct serverstatus_sample s;
	int64_t t0 = mono_ms();
	int failed = 0;
	while (mono_ms() - t0 < 900) {
		if (serverstatus_poller_take(p, &s)) {
			assert_int_equal(s.status, SERVERSTATUS_POLL_AUTH_FAILED);
			assert_string_equal(s.note, "authentication failed");
			failed++;
		}
		usleep(20 * 1000);
	}
	serverstatus_poller_free(p);
	assert_true(failed >= 2);
}

/* The server refuses the credentials: one clear message (user, mechanism), never the password. */
static void test_poller_auth_failure(void **state)
{
	(void)state;
	struct fake_server fs;
	fake_start(&fs, 0, 10);
	char *err = capture_stderr(run_auth_failure, &fs);
	fake_stop(&fs);
	assert_true(fs.auth_attempts >= 2);      /* it kept retrying ... */
	assert_int_equal(fs.serverstatus_calls, 0);
	assert_int_equal(count(err, "authentication failed for user 'bob' (mechanism SCRAM-SHA-256)"), 1);
	assert_int_equal(count(err, "tierprobe:"), 1); /* ... and said so once */
	assert_null(strstr(err, "s3cret"));
	free(err);
}

static void test_poller_bad_uri(void **state)
{
	(void)state;
	assert_null(serverstatus_poller_new("http://nope", 1.0));
	assert_null(serverstatus_poller_new(NULL, 1.0));
	assert_null(serverstatus_poller_new("mongodb://h/", 0.0));
	serverstatus_poller_free(NULL);
	struct serverstatus_poller *p = serverstatus_poller_new("mongodb://127.0.0.1:1/", 1.0);
	assert_non_null(p);
	struct serverstatus_sample s;
	assert_false(serverstatus_poller_take(p, &s)); /* not started: nothing, immediately */
	serverstatus_poller_stop(p);                   /* before start: fine */
	serverstatus_poller_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_fixture_parses),
		cmocka_unit_test(test_mongod_2_2_7),
		cmocka_unit_test(test_mongod_2_4_and_2_6_index_hits),
		cmocka_unit_test(test_mongod_3_0_5),
		cmocka_unit_test(test_mongod_3_2_0),
		cmocka_unit_test(test_mongod_3_6),
		cmocka_unit_test(test_mongod_4_2_8_locks),
		cmocka_unit_test(test_mongod_5_0_0),
		cmocka_unit_test(test_bson_and_json_agree),
		cmocka_unit_test(test_shell_syntax),
		cmocka_unit_test(test_numeric_types),
		cmocka_unit_test(test_error_reply_and_mongos_like),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_restart_baseline),
		cmocka_unit_test(test_sample_rows),
		cmocka_unit_test(test_columns_and_csv),
		cmocka_unit_test(test_redact_uri),
		cmocka_unit_test(test_auth_message),
		cmocka_unit_test(test_uri_file),
		cmocka_unit_test(test_poller_bad_uri),
		cmocka_unit_test(test_poller_unreachable),
		cmocka_unit_test(test_poller_silent_server),
		cmocka_unit_test(test_poller_live_and_restart),
		cmocka_unit_test(test_poller_auth_failure),
	};
	serverstatus_library_init();
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	serverstatus_library_cleanup();
	return failed;
}
