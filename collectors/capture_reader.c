/*
 * capture_reader.c - capture files read ahead on their own thread and handed
 * over in blocks of whole packets (see capture_reader.h).
 *
 * A block is a run of records, each a fixed header followed by the frame
 * bytes padded to 8 so the next header is aligned:
 *
 *   +----------------+----------+----------+------------------+-----
 *   | ts (ns, 8 B)   | caplen 4 | wirelen 4| frame, caplen B  | pad | next record ...
 *   +----------------+----------+----------+------------------+-----
 *
 * Blocks never mix files (each carries its file's link type), and the last
 * block of a file says so, with the read error if the file ended in one.
 */
#include "capture_reader.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rec_hdr {
	ts_ns ts;
	uint32_t caplen;
	uint32_t wirelen;
};

#define REC_ALIGN 8u

struct block {
	int file;
	int dlt;
	int file_done;
	long offset;		/* file offset after the block's last packet */
	int npackets;
	size_t used;		/* bytes of data[] filled */
	char error[768];	/* "" unless the file ended in a read error */
	_Alignas(REC_ALIGN) uint8_t data[CAPTURE_READER_BLOCK_BYTES];
};

struct capture_reader {
	struct capture **caps;
	int ncaps;
	const volatile sig_atomic_t *interrupt;	/* may be NULL */
	pthread_t thread;
	int started;
	/*
	 * Each side sleeps on its own condition and is signalled only when it
	 * says it is waiting, after the lock is dropped: on two cores a wakeup
	 * nobody needs, or one that runs into a held lock, costs the thread
	 * that sent it its CPU.
	 */
	pthread_mutex_t mu;
	pthread_cond_t to_reader, to_caller;
	int reader_waiting, caller_waiting;
	struct block *full[CAPTURE_READER_BLOCKS];	/* handed over, FIFO */
	size_t head, nfull;
	struct block *free_list[CAPTURE_READER_BLOCKS];
	size_t nfree;
	int finished;		/* the thread has handed over every file */
	int stop;		/* capture_reader_free(): give up */
	/* reader thread only */
	struct block *filling;
	struct capture *cur;
	int cur_file;
	/* caller only */
	struct block *taken;	/* the block last handed to the caller */
};

static size_t rec_size(size_t caplen)
{
	return sizeof(struct rec_hdr) + ((caplen + REC_ALIGN - 1) & ~(size_t)(REC_ALIGN - 1));
}

static int interrupted(const struct capture_reader *r)
{
	return r->interrupt && *r->interrupt;
}

/*
 * Waits on cv (mu held). With an interrupt flag the wait is cut into 100 ms
 * slices, since a signal handler cannot signal a condition variable.
 */
static void wait_on(struct capture_reader *r, pthread_cond_t *cv)
{
	if (!r->interrupt) {
		pthread_cond_wait(cv, &r->mu);
		return;
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 100 * 1000 * 1000;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cv, &r->mu, &until);
}

/* Reader thread: a free block for the current file, or NULL when told to stop. */
static struct block *take_free(struct capture_reader *r)
{
	pthread_mutex_lock(&r->mu);
	while (r->nfree == 0 && !r->stop && !interrupted(r)) {
		r->reader_waiting = 1;
		wait_on(r, &r->to_reader);
		r->reader_waiting = 0;
	}
	struct block *b = r->stop || interrupted(r) ? NULL : r->free_list[--r->nfree];
	pthread_mutex_unlock(&r->mu);
	if (b) {
		b->file = r->cur_file;
		b->dlt = capture_dlt(r->cur);
		b->file_done = 0;
		b->offset = -1;
		b->npackets = 0;
		b->used = 0;
		b->error[0] = '\0';
	}
	return b;
}

/* Reader thread: passes the filling block to the caller (a ring slot is always free). */
static void hand_over(struct capture_reader *r)
{
	struct block *b = r->filling;
	r->filling = NULL;
	pthread_mutex_lock(&r->mu);
	r->full[(r->head + r->nfull) % CAPTURE_READER_BLOCKS] = b;
	r->nfull++;
	int wake = r->caller_waiting;
	pthread_mutex_unlock(&r->mu);
	if (wake)
		pthread_cond_signal(&r->to_caller);
}

static void copy_packet(void *ctx, int dlt, const uint8_t *frame, size_t caplen, size_t wirelen,
			ts_ns ts)
{
	struct capture_reader *r = ctx;
	(void)dlt;	/* the block carries it */

	/* libpcap caps caplen far below a block; never trust that with memory. */
	if (caplen > CAPTURE_READER_BLOCK_BYTES - sizeof(struct rec_hdr))
		caplen = CAPTURE_READER_BLOCK_BYTES - sizeof(struct rec_hdr);
	size_t need = rec_size(caplen);
	if (r->filling && r->filling->used + need > CAPTURE_READER_BLOCK_BYTES) {
		/* capture_next_batch() advances its offset after this call returns */
		r->filling->offset = capture_file_offset(r->cur);
		hand_over(r);
	}
	if (!r->filling && !(r->filling = take_free(r))) {
		capture_breakloop(r->cur);
		return;
	}
	struct block *b = r->filling;
	struct rec_hdr h = { .ts = ts, .caplen = (uint32_t)caplen, .wirelen = (uint32_t)wirelen };
	memcpy(b->data + b->used, &h, sizeof(h));
	memcpy(b->data + b->used + sizeof(h), frame, caplen);
	b->used += need;
	b->npackets++;
}

static int stopping(struct capture_reader *r)
{
	pthread_mutex_lock(&r->mu);
	int s = r->stop || interrupted(r);
	pthread_mutex_unlock(&r->mu);
	return s;
}

static void *reader_main(void *arg)
{
	struct capture_reader *r = arg;

	for (int i = 0; i < r->ncaps && !stopping(r); i++) {
		r->cur = r->caps[i];
		r->cur_file = i;
		int n;
		while ((n = capture_next_batch(r->cur, 4096, copy_packet, r)) > 0 && !stopping(r))
			;
		/* Every file ends with a block that says so, even an empty one. */
		if (!r->filling && !(r->filling = take_free(r)))
			break;
		r->filling->file_done = 1;
		r->filling->offset = capture_file_offset(r->cur);
		/* a read cut short by the interrupting signal is not the file's fault */
		if (n < 0 && !interrupted(r))
			snprintf(r->filling->error, sizeof(r->filling->error), "%s",
				 capture_error(r->cur));
		hand_over(r);
	}
	pthread_mutex_lock(&r->mu);
	r->finished = 1;
	pthread_mutex_unlock(&r->mu);
	pthread_cond_signal(&r->to_caller);
	return NULL;
}

struct capture_reader *capture_reader_start(struct capture **caps, int ncaps,
					    const volatile sig_atomic_t *interrupt)
{
	struct capture_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->caps = caps;
	r->ncaps = ncaps;
	r->interrupt = interrupt;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->to_reader, NULL);
	pthread_cond_init(&r->to_caller, NULL);
	for (size_t i = 0; i < CAPTURE_READER_BLOCKS; i++) {
		struct block *b = malloc(sizeof(*b));
		if (!b) {
			capture_reader_free(r);
			return NULL;
		}
		r->free_list[r->nfree++] = b;
	}
	if (pthread_create(&r->thread, NULL, reader_main, r) != 0) {
		capture_reader_free(r);
		return NULL;
	}
	r->started = 1;
	return r;
}

/* Caller: gives the block it was handed last back to the reader. */
static void give_back(struct capture_reader *r)
{
	if (!r->taken)
		return;
	pthread_mutex_lock(&r->mu);
	r->free_list[r->nfree++] = r->taken;
	int wake = r->reader_waiting;
	pthread_mutex_unlock(&r->mu);
	if (wake)
		pthread_cond_signal(&r->to_reader);
	r->taken = NULL;
}

int capture_reader_next(struct capture_reader *r, capture_packet_fn fn, void *ctx,
			struct capture_reader_pos *pos)
{
	give_back(r);
	pthread_mutex_lock(&r->mu);
	/* Interrupted, the reader hands over what it holds and finishes soon: drain it. */
	while (r->nfull == 0 && !r->finished) {
		r->caller_waiting = 1;
		wait_on(r, &r->to_caller);
		r->caller_waiting = 0;
	}
	if (r->nfull == 0) {
		pthread_mutex_unlock(&r->mu);
		return -1;
	}
	struct block *b = r->full[r->head];
	r->head = (r->head + 1) % CAPTURE_READER_BLOCKS;
	r->nfull--;
	pthread_mutex_unlock(&r->mu);
	r->taken = b;

	size_t off = 0;
	for (int i = 0; i < b->npackets; i++) {
		struct rec_hdr h;
		memcpy(&h, b->data + off, sizeof(h));
		fn(ctx, b->dlt, b->data + off + sizeof(h), h.caplen, h.wirelen, h.ts);
		off += rec_size(h.caplen);
	}
	pos->file = b->file;
	pos->offset = b->offset;
	pos->file_done = b->file_done;
	pos->error = b->error[0] ? b->error : NULL;
	return b->npackets;
}

void capture_reader_free(struct capture_reader *r)
{
	if (!r)
		return;
	if (r->started) {
		pthread_mutex_lock(&r->mu);
		r->stop = 1;
		pthread_mutex_unlock(&r->mu);
		pthread_cond_signal(&r->to_reader);
		pthread_join(r->thread, NULL);
	}
	/* Every block is in exactly one place now. */
	free(r->filling);
	free(r->taken);
	for (size_t i = 0; i < r->nfull; i++)
		free(r->full[(r->head + i) % CAPTURE_READER_BLOCKS]);
	for (size_t i = 0; i < r->nfree; i++)
		free(r->free_list[i]);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->to_reader);
	pthread_cond_destroy(&r->to_caller);
	free(r);
}
