/*
 * csv.h - RFC 4180 CSV files: a header row, quoted fields where needed, "\n"
 * line ends. Rows are written whole or not at all; a write error is sticky and
 * reported once, so a full disk never leaves a half line behind unnoticed.
 */
#ifndef TIERPROBE_CSV_H
#define TIERPROBE_CSV_H

#include <stddef.h>
#include <stdio.h>

struct csv_writer;

/*
 * Creates (truncates) path and writes the header (flushed at once). Returns NULL
 * and sets errno on failure. The writer owns its FILE.
 */
struct csv_writer *csv_writer_new(const char *path, const char *const *columns, size_t ncolumns);

/*
 * csv_writer_new() on dir/name, logging "output: cannot create 'dir/name':
 * reason" on failure (errno is kept).
 */
struct csv_writer *csv_writer_create_in(const char *dir, const char *name, const char *const *columns,
					size_t ncolumns);

/*
 * Writes one row of ncells cells (must equal the header's count). A NULL or
 * "" cell is an empty field (an unknown value). Returns 0 or -errno; after an
 * error every later call fails fast with the same errno.
 */
int csv_writer_row(struct csv_writer *w, const char *const *cells, size_t ncells);

/* Pushes buffered rows to the kernel (each interval, for tail -f). Returns 0 or -errno;
 * -ENOENT when the file was removed while open (its rows would be lost unseen). */
int csv_writer_flush(struct csv_writer *w);

/* Closes the file and reopens path for appending (SIGHUP: log rotation); a new
 * (empty) file gets the header row first. */
int csv_writer_reopen(struct csv_writer *w);

/* Flushes and closes; returns 0 or the first -errno seen. After an error the file
 * is cut back to its size at the last successful flush: whole rows only, never part
 * of one. NULL is a no-op. */
int csv_writer_free(struct csv_writer *w);

/* Escapes one field into out (RFC 4180); returns the length, or -1 if out is too small. */
int csv_escape(const char *in, char *out, size_t outlen);

/*
 * Reads a CSV file written by csv_writer back (tierprobe report/compare).
 * csv_reader_next() returns the number of cells of the next row (header first)
 * with pointers into a buffer owned by the reader, valid until the next call;
 * 0 at end of file; -1 on malformed input.
 */
struct csv_reader;
struct csv_reader *csv_reader_open(const char *path);
int csv_reader_next(struct csv_reader *r, char ***cells);
void csv_reader_free(struct csv_reader *r);

#endif
