/* csv.c - RFC 4180 writer and reader for tierprobe's output tables. */
#include "csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

struct csv_writer {
	FILE *f;
	char *path;
	size_t ncolumns;
	int err;		/* sticky: first -errno */
	char *line;		/* one row is assembled here, then written with one fwrite */
	size_t line_cap, line_len;
	char *header;		/* the header line, written again into a new file after a reopen */
	size_t header_len;
	off_t good;		/* file size at the last successful flush: whole rows only */
};

/* After a successful flush: everything up to the file's size is whole rows. A file that was
 * removed (no name left) would swallow every later row unseen: that is an error (-ENOENT). */
static int mark_good(struct csv_writer *w)
{
	struct stat st;
	if (fstat(fileno(w->f), &st) != 0)
		return 0;
	if (st.st_nlink == 0)
		return -ENOENT;
	w->good = st.st_size;
	return 0;
}

static int needs_quotes(const char *s)
{
	return strpbrk(s, ",\"\r\n") != NULL;
}

int csv_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	int q = needs_quotes(in);

	if (q) {
		if (o + 1 >= outlen) return -1;
		out[o++] = '"';
	}
	for (const char *p = in; *p; p++) {
		if (*p == '"') {
			if (o + 1 >= outlen) return -1;
			out[o++] = '"';
		}
		if (o + 1 >= outlen) return -1;
		out[o++] = *p;
	}
	if (q) {
		if (o + 1 >= outlen) return -1;
		out[o++] = '"';
	}
	if (o >= outlen) return -1;
	out[o] = '\0';
	return (int)o;
}

static int line_reserve(struct csv_writer *w, size_t need)
{
	if (need <= w->line_cap)
		return 0;
	size_t cap = w->line_cap ? w->line_cap : 256;
	while (cap < need) {
		if (cap > ((size_t)-1) / 2)
			return -ENOMEM;
		cap *= 2;
	}
	char *n = realloc(w->line, cap);
	if (!n)
		return -ENOMEM;
	w->line = n;
	w->line_cap = cap;
	return 0;
}

/* Nonzero for the bytes that force a field into quotes (RFC 4180). */
static inline int csv_special(char c)
{
	return c == ',' || c == '"' || c == '\r' || c == '\n';
}

static int write_cells(struct csv_writer *w, const char *const *cells, size_t ncells)
{
	size_t used = 0;
	for (size_t i = 0; i < ncells; i++) {
		const char *c = cells[i] ? cells[i] : "";
		/* One pass finds the length and whether quoting is needed (the common case: not). */
		size_t clen = strcspn(c, ",\"\r\n");	/* glibc scans 16 bytes at a time */
		int special = c[clen] != '\0';
		if (special)
			clen += strlen(c + clen);
		if (clen > ((size_t)-1) / 4)
			return -EOVERFLOW;
		/* worst case every byte doubled, plus quotes, comma, newline, NUL */
		int rc = line_reserve(w, used + 2 * clen + 5);
		if (rc)
			return rc;
		if (i)
			w->line[used++] = ',';
		if (!special) {
			memcpy(w->line + used, c, clen);
			used += clen;
			continue;
		}
		int n = csv_escape(c, w->line + used, w->line_cap - used);
		if (n < 0)
			return -EOVERFLOW;
		used += (size_t)n;
	}
	w->line[used++] = '\n';
	w->line_len = used;
	if (fwrite(w->line, 1, used, w->f) != used)
		return errno ? -errno : -EIO;
	return 0;
}

struct csv_writer *csv_writer_new(const char *path, const char *const *columns, size_t ncolumns)
{
	struct csv_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->path = strdup(path);
	w->ncolumns = ncolumns;
	/*
	 * A previous run's regular file is removed, not truncated: ext4 writes
	 * back a file that was truncated and rewritten when it is closed
	 * (auto_da_alloc), which made every rerun of analyze into the same
	 * folder wait for the disk. Anything else (a device, a FIFO, a symlink)
	 * is opened as it is.
	 */
	struct stat old;
	if (lstat(path, &old) == 0 && S_ISREG(old.st_mode) && unlink(path) != 0 && errno != ENOENT) {
		int e = errno;
		free(w->path);
		free(w);
		errno = e;
		return NULL;
	}
	w->f = fopen(path, "w");
	if (!w->path || !w->f) {
		int e = errno;
		if (w->f)
			fclose(w->f);
		free(w->path);
		free(w);
		errno = e;
		return NULL;
	}
	/* The header reaches the file at once: a reader (or a full disk) never sees a file without it. */
	int rc = write_cells(w, columns, ncolumns);
	if (!rc) {
		w->header_len = w->line_len;
		w->header = malloc(w->header_len);
		if (!w->header)
			rc = -ENOMEM;
		else
			memcpy(w->header, w->line, w->header_len);
	}
	if (!rc)
		rc = csv_writer_flush(w);
	if (rc) {
		w->err = rc;
		csv_writer_free(w);
		errno = -rc;
		return NULL;
	}
	return w;
}

struct csv_writer *csv_writer_create_in(const char *dir, const char *name, const char *const *columns,
					size_t ncolumns)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	struct csv_writer *w = csv_writer_new(path, columns, ncolumns);
	if (!w) {
		int e = errno;
		log_error("output: cannot create '%s': %s", path, strerror(e));
		errno = e;
	}
	return w;
}

int csv_writer_row(struct csv_writer *w, const char *const *cells, size_t ncells)
{
	if (w->err)
		return w->err;
	if (ncells != w->ncolumns)
		return -EINVAL;
	int rc = write_cells(w, cells, ncells);
	if (rc)
		w->err = rc;
	return rc;
}

int csv_writer_flush(struct csv_writer *w)
{
	if (w->err)
		return w->err;
	if (fflush(w->f) != 0)
		w->err = errno ? -errno : -EIO;
	else
		w->err = mark_good(w);
	return w->err;
}

int csv_writer_reopen(struct csv_writer *w)
{
	int rc = csv_writer_flush(w);
	if (rc)
		return rc;
	FILE *n = freopen(w->path, "a", w->f);
	if (!n) {
		w->f = NULL;
		return w->err = errno ? -errno : -EIO;
	}
	w->f = n;
	/* A new file (the old one renamed away, or truncated) starts with the header again. */
	struct stat st;
	if (fstat(fileno(w->f), &st) == 0 && st.st_size == 0) {
		w->good = 0;
		if (fwrite(w->header, 1, w->header_len, w->f) != w->header_len)
			return w->err = errno ? -errno : -EIO;
	}
	return csv_writer_flush(w);
}

int csv_writer_free(struct csv_writer *w)
{
	if (!w)
		return 0;
	int rc = w->err;
	if (w->f) {
		/* After a write error what reached the file may end in part of a row: cut the file
		 * back to the last flush that succeeded, so it holds whole rows only. */
		int fd = dup(fileno(w->f));
		if (fclose(w->f) != 0 && !rc)
			rc = errno ? -errno : -EIO;
		if (rc && fd >= 0)
			(void)!ftruncate(fd, w->good);
		if (fd >= 0)
			close(fd);
	}
	free(w->line);
	free(w->header);
	free(w->path);
	free(w);
	return rc;
}

struct csv_reader {
	FILE *f;
	char *buf;		/* unescaped cells, NUL-separated */
	size_t buf_cap;
	char **cells;
	size_t cells_cap;
};

struct csv_reader *csv_reader_open(const char *path)
{
	struct csv_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->f = fopen(path, "r");
	if (!r->f) {
		int e = errno;
		free(r);
		errno = e;
		return NULL;
	}
	return r;
}

static int buf_push(struct csv_reader *r, size_t *used, char c)
{
	if (*used + 1 >= r->buf_cap) {
		size_t cap = r->buf_cap ? r->buf_cap * 2 : 1024;
		char *n = realloc(r->buf, cap);
		if (!n)
			return -1;
		r->buf = n;
		r->buf_cap = cap;
	}
	r->buf[(*used)++] = c;
	return 0;
}

int csv_reader_next(struct csv_reader *r, char ***cells)
{
	size_t used = 0, ncell = 0;
	size_t starts[1024];
	int c, inq = 0, any = 0;

	starts[ncell++] = 0;
	while ((c = fgetc(r->f)) != EOF) {
		any = 1;
		if (inq) {
			if (c == '"') {
				int d = fgetc(r->f);
				if (d == '"') {
					if (buf_push(r, &used, '"')) return -1;
					continue;
				}
				inq = 0;
				if (d == EOF)
					break;
				c = d;
			} else {
				if (buf_push(r, &used, (char)c)) return -1;
				continue;
			}
		}
		if (c == '"') {
			inq = 1;
		} else if (c == ',') {
			if (buf_push(r, &used, '\0')) return -1;
			if (ncell >= sizeof(starts) / sizeof(starts[0]))
				return -1;
			starts[ncell++] = used;
		} else if (c == '\n') {
			break;
		} else if (c != '\r') {
			if (buf_push(r, &used, (char)c)) return -1;
		}
	}
	if (!any)
		return 0;
	if (inq)
		return -1;
	if (buf_push(r, &used, '\0'))
		return -1;
	if (ncell > r->cells_cap) {
		char **n = realloc(r->cells, ncell * sizeof(*n));
		if (!n)
			return -1;
		r->cells = n;
		r->cells_cap = ncell;
	}
	for (size_t i = 0; i < ncell; i++)
		r->cells[i] = r->buf + starts[i];
	*cells = r->cells;
	return (int)ncell;
}

void csv_reader_free(struct csv_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	free(r->buf);
	free(r->cells);
	free(r);
}
