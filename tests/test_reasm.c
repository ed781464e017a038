/* test_reasm.c - per-direction TCP reassembly: order, retransmits, overlaps, 2^32 wrap, caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "reasm.h"

/* What the parser saw: the bytes, and an event log such as "D3@1 G2@5 F@6". */
struct rec {
	uint8_t buf[8192];
	size_t len;
	char log[4096];
	size_t loglen;
	uint64_t gap_bytes;
	int fins;
};

static void rec_log(struct rec *r, const char *s)
{
	size_t n = strlen(s);
	if (r->loglen + n + 1 < sizeof(r->log)) {
		memcpy(r->log + r->loglen, s, n + 1);
		r->loglen += n;
	}
}

static void on_data(void *ctx, int dir, const uint8_t *data, size_t len, ts_ns ts)
{
	struct rec *r = ctx;
	char e[64];
	assert_int_equal(dir, 1);
	assert_true(r->len + len <= sizeof(r->buf));
	memcpy(r->buf + r->len, data, len);
	r->len += len;
	snprintf(e, sizeof(e), "D%zu@%lld ", len, (long long)ts);
	rec_log(r, e);
}

static void on_gap(void *ctx, int dir, uint64_t len, ts_ns ts)
{
	struct rec *r = ctx;
	char e[64];
	assert_int_equal(dir, 1);
	r->gap_bytes += len;
	snprintf(e, sizeof(e), "G%llu@%lld ", (unsigned long long)len, (long long)ts);
	rec_log(r, e);
}

static void on_fin(void *ctx, int dir, ts_ns ts)
{
	struct rec *r = ctx;
	char e[64];
	assert_int_equal(dir, 1);
	r->fins++;
	snprintf(e, sizeof(e), "F@%lld ", (long long)ts);
	rec_log(r, e);
}

struct fixture {
	struct rec rec;
	struct reasm_sink sink;
	struct membudget budget;
	struct quality q;
	struct reasm_config cfg;
	struct reasm_dir d;
};

static struct fixture *fx_new(size_t cap, size_t global)
{
	static struct fixture fx;
	memset(&fx, 0, sizeof(fx));
	fx.sink.data = on_data;
	fx.sink.gap = on_gap;
	fx.sink.fin = on_fin;
	fx.sink.ctx = &fx.rec;
	membudget_init(&fx.budget, global);
	fx.cfg.per_dir_cap = cap;
	fx.cfg.budget = &fx.budget;
	fx.cfg.q = &fx.q;
	reasm_dir_init(&fx.d, 1);
	return &fx;
}

static void seg(struct fixture *fx, uint32_t seq, const char *s, ts_ns ts)
{
	size_t n = strlen(s);
	reasm_dir_segment(&fx->d, &fx->cfg, seq, (const uint8_t *)s, n, n, 0, ts, &fx->sink);
}

static void fx_done(struct fixture *fx)
{
	reasm_dir_release(&fx->d, &fx->budget);
	assert_int_equal(fx->budget.used, 0);
	assert_int_equal(reasm_dir_held(&fx->d), 0);
}

static void assert_stream(struct fixture *fx, const char *want)
{
	assert_int_equal(fx->rec.len, strlen(want));
	assert_memory_equal(fx->rec.buf, want, strlen(want));
}

static void test_in_order_midstream(void **state)
{
	(void)state;
	struct fixture *fx = fx_new(1 << 20, 1 << 20);
	seg(fx, 5000, "abc", 1);	/* no SYN: the first segment sets the base */
	seg(fx, 5003, "def", 2);
	seg(fx, 5006, "ghi", 3);
	assert_stream(fx, "abcdefghi");
	assert_string_equal(fx->rec.log, "D3@1 D3@2 D3@3 ");
	assert_int_equal(fx->q.tcp_out_of_order + fx->q.tcp_retransmits + fx->q.tcp_gaps, 0);
	fx_done(fx);
}

static void test_syn_sets_base(void **state)
{
	(void)state;
	struct fixture *fx = fx_new(1 << 20, 1 << 20);
	reasm_dir_syn(&fx->d, 99);
	seg(fx, 103, "de", 2);		/* held: bytes 100..102 not yet seen */
	assert_int_equal(fx->rec.len, 0);
	seg(fx, 100, "abc", 3);
	assert_stream(fx, "abcde");
	/* held bytes are stamped with the time they became contiguous */
	assert_string_equal(fx->rec.log, "D3@3 D2@3 ");
	assert_int_equal(fx->q.tcp_out_of_order, 1);
	fx_done(fx);
}

static void test_retransmit_and_overlap(void **state)
{
	(void)state;
	struct fixture *fx = fx_new(1 << 20, 1 << 20);
	seg(fx, 0, "0123456789", 1);
	seg(fx, 0, "0123456789", 2);		/* whole retransmit */
	seg(fx, 5, "56789ABCDE", 3);		/* half old, half new */
	assert_stream(fx, "0123456789ABCDE");
	assert_int_equal(fx->q.tcp_retransmits, 2);

	/* overlaps among held segments */
	seg(fx, 20, "KLMNO", 4);		/* held [20,25) */
	seg(fx, 18, "IJKLMNOPQ", 5);		/* covers it and more: replaces it */
	seg(fx, 17, "HI", 6);			/* overlaps the front of the held one */
	seg(fx, 26, "QRS", 7);			/* overlaps the back */
	assert_int_equal(fx->rec.len, 15);
	seg(fx, 15, "FG", 8);
	assert_stream(fx, "0123456789ABCDEFGHIJKLMNOPQRS");
	assert_int_equal(fx->q.tcp_gaps, 0);
	fx_done(fx);
}

static void test_wraparound(void **state)
{
	(void)state;
	struct fixture *fx = fx_new(1 << 20, 1 << 20);
	reasm_dir_syn(&fx->d, 0xfffffff9u);	/* data starts at 2^32 - 6 */
	seg(fx, 0x00000000u, "ghij", 1);		/* after the wrap: held */
	seg(fx, 0xfffffffau, "abc", 2);
	seg(fx, 0xfffffffdu, "def", 3);		/* ends exactly at 2^32 */
	assert_stream(fx, "abcdefghij");
	assert_int_equal(fx->q.tcp_out_of_order, 1);
	seg(fx, 0xfffffffeu, "efghi", 4);	/* a retransmit across the wrap */
	assert_int_equal(fx->q.tcp_retransmits, 1);
	seg(fx, 0xffffffffu, "fghijk", 5);	/* crosses 2^32, one new byte */
	assert_stream(fx, "abcdefghijk");
	assert_int_equal(fx->d.next_seq, 5);
	seg(fx, 0x00000007u, "n", 6);		/* ahead across nothing: held */
	seg(fx, 0xfffffff0u, "old", 7);		/* far behind: a retransmit */
	seg(fx, 0x00000005u, "lm", 8);
	assert_stream(fx, "abcdefghijklmn");
	assert_int_equal(fx->q.tcp_retransmits, 3);
	fx_done(fx);
}

static void test_gap_on_flow_cap(void **state)
{
	(void)state;
	/* room for two held 4-byte segments */
	struct fixture *fx = fx_new(2 * reasm_seg_cost(4), 1 << 20);
	seg(fx, 0, "aaaa", 1);
	/* bytes 4..9 are lost for good */
	seg(fx, 10, "cccc", 2);
	seg(fx, 14, "dddd", 3);
	assert_int_equal(fx->rec.len, 4);
	seg(fx, 22, "ffff", 4);		/* no room: give up the 6-byte hole */
	assert_string_equal(fx->rec.log, "D4@1 G6@4 D4@4 D4@4 ");
	assert_int_equal(fx->q.reasm_flow_cap_hits, 1);
	assert_int_equal(fx->q.tcp_gaps, 1);
	assert_int_equal(fx->q.tcp_gap_bytes, 6);
	/* "ffff" is held now, behind a new hole at 18..21 */
	assert_int_equal(reasm_dir_held(&fx->d), reasm_seg_cost(4));
	seg(fx, 18, "eeee", 5);
	assert_stream(fx, "aaaaccccddddeeeeffff");
	fx_done(fx);
}

static void test_global_budget_refusal(void **state)
{
	(void)state;
	struct fixture *fx = fx_new(1 << 20, reasm_seg_cost(4));
	seg(fx, 0, "aa", 1);
	seg(fx, 4, "cccc", 2);		/* fits the budget exactly */
	assert_int_equal(fx->budget.used, reasm_seg_cost(4));
	seg(fx, 10, "eeee", 3);		/* refused: hole 2..3 given up, then it is held */
	assert_int_equal(fx->q.reasm_global_cap_hits, 1);
	assert_int_equal(fx->budget.refusals, 1);
	assert_string_equal(fx->rec.log, "D2@1 G2@3 D4@3 ");
	assert_int_equal(fx->budget.used, reasm_seg_cost(4));
	/* larger than the whole budget: every hole before it goes, then it is delivered */
	seg(fx, 30, "hhhhhhhh", 4);
	assert_string_equal(fx->rec.log, "D2@1 G2@3 D4@3 G2@4 D4@4 G16@4 D8@4 ");
	assert_int_equal(fx->q.reasm_global_cap_hits, 3);
	assert_int_equal(fx->q.tcp_gap_bytes, 20);
	assert_int_equal(fx->budget.used, 0);
	assert_int_equal(fx->d.next_seq, 38);
	fx_done(fx);
}

static void test_snaplen_cut_is_gap(void **state)
{
	(void)state;
	struct fixture *fx = fx_new(1 << 20, 1 << 20);
	/* 3 bytes captured of 8 sent */
	reasm_dir_segment(&fx->d, &fx->cfg, 0, (const uint8_t *)"abc", 3, 8, 0, 1, &fx->sink);
	seg(fx, 8, "zz", 2);
	assert_string_equal(fx->rec.log, "D3@1 G5@1 D2@2 ");
	/* the same, held out of order first */
	reasm_dir_segment(&fx->d, &fx->cfg, 20, (const uint8_t *)"xy", 2, 4, 0, 3, &fx->sink);
	seg(fx, 10, "0123456789", 4);
	assert_string_equal(fx->rec.log, "D3@1 G5@1 D2@2 D10@4 D2@4 G2@4 ");
	assert_int_equal(fx->d.next_seq, 24);
	fx_done(fx);
}

static void test_fin_and_flush(void **state)
{
	(void)state;
	struct fixture *fx = fx_new(1 << 20, 1 << 20);
	reasm_dir_syn(&fx->d, 0);
	/* FIN arrives before the data it follows */
	reasm_dir_segment(&fx->d, &fx->cfg, 4, (const uint8_t *)"d", 1, 1, 1, 1, &fx->sink);
	assert_int_equal(fx->rec.fins, 0);
	seg(fx, 1, "abc", 2);
	assert_string_equal(fx->rec.log, "D3@2 D1@2 F@2 ");
	fx_done(fx);

	/* data running past the FIN still ends the direction */
	fx = fx_new(1 << 20, 1 << 20);
	reasm_dir_syn(&fx->d, 0);
	reasm_dir_segment(&fx->d, &fx->cfg, 4, NULL, 0, 0, 1, 1, &fx->sink);
	seg(fx, 1, "abcdefg", 2);
	assert_string_equal(fx->rec.log, "D7@2 F@2 ");
	fx_done(fx);

	/* close with holes: each becomes a gap, then the FIN */
	fx = fx_new(1 << 20, 1 << 20);
	seg(fx, 0, "ab", 1);
	seg(fx, 5, "f", 2);
	reasm_dir_segment(&fx->d, &fx->cfg, 9, (const uint8_t *)"j", 1, 1, 1, 3, &fx->sink);
	reasm_dir_flush(&fx->d, &fx->cfg, 10, &fx->sink);
	assert_string_equal(fx->rec.log, "D2@1 G3@10 D1@10 G3@10 D1@10 F@10 ");
	assert_int_equal(fx->q.tcp_gap_bytes, 6);
	fx_done(fx);
}

/* Every order of the same segments must give the same bytes. */
static void permute(uint32_t isn, const uint32_t *seqs, const char *const *data, size_t n, const char *want)
{
	size_t idx[6], c[6] = { 0 }, i = 1, perms = 0;
	for (size_t k = 0; k < n; k++)
		idx[k] = k;
	for (;;) {
		struct fixture *fx = fx_new(1 << 20, 1 << 20);
		reasm_dir_syn(&fx->d, isn);
		for (size_t k = 0; k < n; k++)
			seg(fx, seqs[idx[k]], data[idx[k]], (ts_ns)k);
		assert_stream(fx, want);
		assert_int_equal(fx->q.tcp_gaps, 0);
		fx_done(fx);
		perms++;
		/* Heap's algorithm, iterative */
		while (i < n && c[i] >= i) {
			c[i] = 0;
			i++;
		}
		if (i >= n)
			break;
		size_t j = (i % 2) ? c[i] : 0, t = idx[j];
		idx[j] = idx[i];
		idx[i] = t;
		c[i]++;
		i = 1;
	}
	size_t fact = 1;
	for (size_t k = 2; k <= n; k++)
		fact *= k;
	assert_int_equal(perms, fact);
}

static void test_permutations(void **state)
{
	(void)state;
	const uint32_t s3[] = { 1000, 1003, 1006 };
	const char *d3[] = { "abc", "def", "ghi" };
	permute(999, s3, d3, 3, "abcdefghi");
	const uint32_t s4[] = { 1000, 1002, 1005, 1009 };
	const char *d4[] = { "ab", "cde", "fghi", "j" };
	permute(999, s4, d4, 4, "abcdefghij");
	/* overlapping segments with retransmitted parts */
	const uint32_t o4[] = { 1000, 1002, 1004, 1001 };
	const char *od[] = { "abcd", "cdef", "efgh", "bcdefg" };
	permute(999, o4, od, 4, "abcdefgh");
	/* five with a wrap inside */
	const uint32_t w5[] = { 0xfffffffeu, 0xffffffffu, 1, 2, 4 };
	const char *wd[] = { "a", "bc", "d", "ef", "g" };
	permute(0xfffffffdu, w5, wd, 5, "abcdefg");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order_midstream),
		cmocka_unit_test(test_syn_sets_base),
		cmocka_unit_test(test_retransmit_and_overlap),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_gap_on_flow_cap),
		cmocka_unit_test(test_global_budget_refusal),
		cmocka_unit_test(test_snaplen_cut_is_gap),
		cmocka_unit_test(test_fin_and_flush),
		cmocka_unit_test(test_permutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
