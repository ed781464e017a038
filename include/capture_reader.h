/*
 * capture_reader.h - reads capture files ahead, on a thread of its own.
 *
 * Reading a file through libpcap is mostly copying (the page cache into
 * stdio's buffer, that into libpcap's): a third of `analyze`'s CPU, and work
 * that does not need the flow table. So one thread does nothing but read and
 * copy whole packets into blocks, while the caller decodes and parses the
 * block before. Files are read one after another in the order given; a
 * packet is handed over exactly as capture_next_batch() would have handed it.
 *
 * Bounded: CAPTURE_READER_BLOCKS blocks of CAPTURE_READER_BLOCK_BYTES; the
 * reader waits while all are full. One caller thread only.
 */
#ifndef TIERPROBE_CAPTURE_READER_H
#define TIERPROBE_CAPTURE_READER_H

#include <signal.h>

#include "capture.h"

#define CAPTURE_READER_BLOCK_BYTES (1u << 20)
#define CAPTURE_READER_BLOCKS 8

struct capture_reader;

/* Where the packets handed over so far came from. */
struct capture_reader_pos {
	int file;		/* index into the caps given to capture_reader_start */
	long offset;		/* file offset after the last packet handed over; -1 unknown */
	int file_done;		/* that file has been read to its end (or its error) */
	/*
	 * The file's read error when it ended in one (capture_error() text:
	 * names the file and the offset), else NULL. Owned by the reader,
	 * valid until the next call.
	 */
	const char *error;
};

/*
 * Starts reading caps[0..ncaps) in order. The captures stay the caller's but
 * must not be touched until capture_reader_free(). interrupt, when not NULL,
 * is a flag a signal handler sets: once it is nonzero the thread stops
 * reading, hands over the packets it holds, and capture_reader_next() returns
 * -1 after them, as at the end (a blocking read of a pipe ends only if the
 * signal reaches the reader thread: leave the signal unblocked there alone). NULL when out of memory
 * or no thread could be started.
 */
struct capture_reader *capture_reader_start(struct capture **caps, int ncaps,
					    const volatile sig_atomic_t *interrupt);

/*
 * Calls fn on every packet of the next block, in capture order, and fills
 * *pos. Returns the number of packets (which may be 0 for a block that only
 * reports the end of a file: check pos->file_done), or -1 when every file
 * has been handed over.
 */
int capture_reader_next(struct capture_reader *r, capture_packet_fn fn, void *ctx,
			struct capture_reader_pos *pos);

/* Stops the thread (even mid-file) and frees the blocks. NULL is a no-op. */
void capture_reader_free(struct capture_reader *r);

#endif
