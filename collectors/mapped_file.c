/*
 * mapped_file.c - a stdio read stream over a file mapped a window at a time
 * (fopencookie(3) over mmap(2); see mapped_file.h).
 */
#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct mapped_file {
	int fd;
	off_t size;		/* fixed at open: a file still being written reads to that size */
	off_t pos;		/* the stream's position */
	uint8_t *map;		/* the window, or NULL */
	off_t map_off;		/* file offset of map[0], a multiple of the window */
	size_t map_len;
};

/*
 * Maps the window holding offset pos. Returns 0, or -1 (errno set). A file
 * that shrank since it was opened reads as ending there: touching a mapped
 * page past the end of a file would be SIGBUS. This is checked as each
 * window is mapped; a file cut short inside the window being read (someone
 * truncating a capture while it is analysed) is caught by copy_guarded().
 */
static int map_window(struct mapped_file *m, off_t pos)
{
	struct stat sb;
	if (m->map)
		munmap(m->map, m->map_len);
	m->map = NULL;
	if (fstat(m->fd, &sb) == 0 && sb.st_size < m->size)
		m->size = sb.st_size;
	if (pos >= m->size)
		return 0;
	m->map_off = pos - pos % (off_t)MAPPED_FILE_WINDOW;
	off_t left = m->size - m->map_off;
	m->map_len = left < (off_t)MAPPED_FILE_WINDOW ? (size_t)left : MAPPED_FILE_WINDOW;
	/* MAP_POPULATE: one call maps every page of the window instead of a fault per 64 KiB. */
	void *p = mmap(NULL, m->map_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, m->fd, m->map_off);
	if (p == MAP_FAILED)
		return -1;
	m->map = p;
	return 0;
}

/*
 * SIGBUS while copying from a window means the file was cut short under it:
 * the copy jumps back and the stream ends there, instead of the process
 * dying. Only a fault inside copy_guarded() is caught (the jump target is
 * per thread); any other SIGBUS gets the default action.
 */
static _Thread_local sigjmp_buf *volatile copy_jump;	/* volatile: the stores around memcpy must stay */

static void on_sigbus(int sig)
{
	if (copy_jump)
		siglongjmp(*copy_jump, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_sigbus_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	/* not blocked inside the handler: the jump out does not restore the mask (no syscall per copy) */
	sa.sa_flags = SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

/* memcpy from the mapping; 0, or -1 when the file vanished under it (SIGBUS). */
static int copy_guarded(void *dst, const void *src, size_t n)
{
	sigjmp_buf here;
	if (sigsetjmp(here, 0)) {
		copy_jump = NULL;
		return -1;
	}
	copy_jump = &here;
	memcpy(dst, src, n);
	copy_jump = NULL;
	return 0;
}

static ssize_t mapped_read(void *cookie, char *buf, size_t n)
{
	struct mapped_file *m = cookie;
	size_t done = 0;

	while (done < n && m->pos < m->size) {
		if (!m->map || m->pos < m->map_off || m->pos >= m->map_off + (off_t)m->map_len) {
			if (map_window(m, m->pos) != 0)
				return done ? (ssize_t)done : -1;
			if (!m->map)
				break;	/* the file shrank: it ends here */
		}
		size_t avail = (size_t)(m->map_off + (off_t)m->map_len - m->pos);
		size_t k = n - done < avail ? n - done : avail;
		if (copy_guarded(buf + done, m->map + (m->pos - m->map_off), k) != 0) {
			m->size = m->pos;	/* the file ends here now: read no further */
			break;
		}
		done += k;
		m->pos += (off_t)k;
	}
	return (ssize_t)done;
}

static int mapped_seek(void *cookie, off64_t *offset, int whence)
{
	struct mapped_file *m = cookie;
	off_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;

	if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) {
		errno = EINVAL;
		return -1;
	}
	if (*offset < -base) {
		errno = EINVAL;
		return -1;
	}
	m->pos = base + *offset;
	*offset = m->pos;
	return 0;
}

static int mapped_close(void *cookie)
{
	struct mapped_file *m = cookie;
	if (m->map)
		munmap(m->map, m->map_len);
	int rc = close(m->fd);
	free(m);
	return rc;
}

FILE *mapped_file_open(const char *path)
{
	struct stat sb;
	/* stat() before open(): opening a FIFO would already take it from its writer. */
	if (stat(path, &sb) != 0)
		return NULL;
	if (!S_ISREG(sb.st_mode)) {
		errno = ENOTSUP;
		return NULL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {	/* replaced in between */
		close(fd);
		errno = ENOTSUP;
		return NULL;
	}
	struct mapped_file *m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	install_sigbus_handler();	/* at every open: whoever set another since is overridden */
	m->fd = fd;
	m->size = sb.st_size;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	cookie_io_functions_t io = { .read = mapped_read, .seek = mapped_seek, .close = mapped_close };
	FILE *f = fopencookie(m, "r", io);
	if (!f) {
		int e = errno;
		mapped_close(m);
		errno = e;
		return NULL;
	}
	return f;
}
