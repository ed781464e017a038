/*
 * capture.c - packets from libpcap (pcap(3PCAP)): classic pcap and pcapng
 * files read at nanosecond precision, or a live interface with its own
 * kernel buffer size, read timeout and BPF filter.
 */
#include "capture.h"

#include "mapped_file.h"

#include <pcap/pcap.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAPTURE_DEFAULT_SNAPLEN 262144
#define CAPTURE_DEFAULT_BUFFER (64 * 1024 * 1024)
#define CAPTURE_DEFAULT_TIMEOUT_MS 100
#define CAPTURE_BLOCK_TIMEOUT_MS 1
/* "One live batch": at most one kernel buffer, but never unbounded. */
#define CAPTURE_LIVE_BATCH 4096

struct capture {
	pcap_t *p;
	int live;
	int dlt;
	int nano;			/* timestamps are in ns (else us) */
	int err_pending;		/* a read error waits behind delivered packets */
	int timeout_ms;			/* live: how long one batch waits for a packet */
	int fd;				/* live: selectable descriptor, else -1 */
	volatile sig_atomic_t stop;
	long offset;			/* file offset of the next record */
	long rec_hdr;			/* classic pcap record header size; 0 = pcapng */
	char name[256];			/* file path or interface, for messages */
	char err[PCAP_ERRBUF_SIZE + 320];
	capture_packet_fn fn;		/* for the pcap_dispatch trampoline */
	void *fn_ctx;
};

static void copy_name(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

/* libpcap often starts its text with "path: "; the message names the file already. */
static const char *strip_prefix(const char *msg, const char *path)
{
	size_t n = strlen(path);
	if (n && strncmp(msg, path, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
		return msg + n + 2;
	return msg;
}

/*
 * Classic pcap records have a fixed header, so the offset of the next record
 * is simple arithmetic (ftell() would cost an lseek per packet). Returns 16,
 * 24 for the old "modified" format (magic 0xa1b2cd34), or 0 for pcapng and
 * anything else, whose position is asked of the stream only on failure.
 */
static long record_header_size(const char *path)
{
	uint8_t m[4];
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(m, 1, sizeof(m), f) : 0;
	if (f)
		fclose(f);
	if (n != sizeof(m))
		return 0;
	uint32_t le = (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 |
		      (uint32_t)m[3] << 24;
	uint32_t be = (uint32_t)m[3] | (uint32_t)m[2] << 8 | (uint32_t)m[1] << 16 |
		      (uint32_t)m[0] << 24;
	if (le == 0xa1b2c3d4 || be == 0xa1b2c3d4 || le == 0xa1b23c4d || be == 0xa1b23c4d)
		return 16;
	if (le == 0xa1b2cd34 || be == 0xa1b2cd34)
		return 24;
	return 0;
}

struct capture *capture_open_file(const char *path, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c;
	pcap_t *p;

	/* A regular file is read through a mapping (mapped_file.h); anything else as libpcap does. */
	FILE *mf = mapped_file_open(path);
	if (mf) {
		p = pcap_fopen_offline_with_tstamp_precision(mf, PCAP_TSTAMP_PRECISION_NANO, ebuf);
		if (!p)
			fclose(mf);	/* libpcap leaves a stream it rejected to the caller */
	} else {
		p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	}
	if (!p) {
		snprintf(err, errlen, "cannot open capture '%s': %s", path,
			 strip_prefix(ebuf, path));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pcap_close(p);
		snprintf(err, errlen, "cannot open capture '%s': out of memory", path);
		return NULL;
	}
	c->p = p;
	c->dlt = pcap_datalink(p);
	c->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	copy_name(c->name, sizeof(c->name), path);
	c->fd = -1;
	FILE *f = pcap_file(p);
	c->offset = f ? ftell(f) : -1;
	/* Reopening a pipe to look at the magic would eat the stream's bytes. */
	c->rec_hdr = mf ? record_header_size(path) : 0;
	return c;
}

struct capture *capture_open_live(const struct capture_live_config *cfg, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	const char *iface = cfg->iface && *cfg->iface ? cfg->iface : "any";
	struct bpf_program prog;
	struct capture *c;
	pcap_t *p;
	int rc;

	p = pcap_create(iface, ebuf);
	if (!p) {
		snprintf(err, errlen, "cannot open capture on '%s': %s", iface, ebuf);
		return NULL;
	}
	pcap_set_snaplen(p, cfg->snaplen > 0 ? cfg->snaplen : CAPTURE_DEFAULT_SNAPLEN);
	pcap_set_buffer_size(p, cfg->buffer_bytes > 0 ? cfg->buffer_bytes
						      : CAPTURE_DEFAULT_BUFFER);
	/*
	 * The kernel hands over a TPACKET_V3 block when it is full or this old:
	 * 1 ms keeps packets at most ~1 ms late, so the socket -> process lookup
	 * still finds connections that live only a few milliseconds, while busy
	 * traffic is still delivered in blocks. Our own poll() uses timeout_ms.
	 */
	pcap_set_timeout(p, CAPTURE_BLOCK_TIMEOUT_MS);
	/* Per-packet wakeups cost too much for the main capture; fine for a filtered trickle. */
	if (cfg->immediate)
		pcap_set_immediate_mode(p, 1);
	/* Not every interface offers ns timestamps; us is then converted. */
	pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);

	rc = pcap_activate(p);
	if (rc < 0) {
		const char *why = pcap_geterr(p);
		switch (rc) {
		case PCAP_ERROR_PERM_DENIED:
			/* Without promiscuous mode, CAP_NET_RAW is all libpcap needs. */
			(void)why;
			snprintf(err, errlen, "cannot activate capture on '%s': permission denied "
				 "(needs CAP_NET_RAW)", iface);
			break;
		case PCAP_ERROR_NO_SUCH_DEVICE:
			snprintf(err, errlen, "cannot activate capture on '%s': no such interface",
				 iface);
			break;
		case PCAP_ERROR_IFACE_NOT_UP:
			snprintf(err, errlen, "cannot activate capture on '%s': interface is down",
				 iface);
			break;
		default:
			snprintf(err, errlen, "cannot activate capture on '%s': %s (%s)", iface,
				 pcap_statustostr(rc), why);
			break;
		}
		pcap_close(p);
		return NULL;
	}
	if (cfg->bpf && *cfg->bpf) {
		if (pcap_compile(p, &prog, cfg->bpf, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			snprintf(err, errlen, "cannot compile capture filter '%s': %s", cfg->bpf,
				 pcap_geterr(p));
			pcap_close(p);
			return NULL;
		}
		rc = pcap_setfilter(p, &prog);
		pcap_freecode(&prog);
		if (rc < 0) {
			snprintf(err, errlen, "cannot set capture filter on '%s': %s", iface,
				 pcap_geterr(p));
			pcap_close(p);
			return NULL;
		}
	}
	/*
	 * With TPACKET_V3 the kernel's read timeout only starts once a packet has
	 * arrived, so a quiet interface would block forever. Read nonblocking and
	 * wait in poll() with our own timeout instead.
	 */
	if (pcap_setnonblock(p, 1, ebuf) < 0) {
		snprintf(err, errlen, "cannot set capture on '%s' nonblocking: %s", iface, ebuf);
		pcap_close(p);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pcap_close(p);
		snprintf(err, errlen, "cannot open capture on '%s': out of memory", iface);
		return NULL;
	}
	c->p = p;
	c->live = 1;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : CAPTURE_DEFAULT_TIMEOUT_MS;
	c->fd = pcap_get_selectable_fd(p);
	c->dlt = pcap_datalink(p);
	c->nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
	c->offset = -1;
	copy_name(c->name, sizeof(c->name), iface);
	return c;
}

int capture_dlt(const struct capture *c)
{
	return c->dlt;
}

static ts_ns capture_ts(const struct capture *c, const struct pcap_pkthdr *h)
{
	ts_ns frac = (ts_ns)h->ts.tv_usec;
	return (ts_ns)h->ts.tv_sec * TS_NS_PER_SEC + (c->nano ? frac : frac * 1000);
}

static void capture_dispatch_cb(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct capture *c = (struct capture *)user;
	c->fn(c->fn_ctx, c->dlt, bytes, h->caplen, h->len, capture_ts(c, h));
}

static int capture_next_live(struct capture *c, int max, capture_packet_fn fn, void *ctx)
{
	int cnt = max > 0 ? max : CAPTURE_LIVE_BATCH;
	c->fn = fn;
	c->fn_ctx = ctx;
	int n = pcap_dispatch(c->p, cnt, capture_dispatch_cb, (u_char *)c);
	if (n == 0 && c->fd >= 0 && !c->stop) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		/* EINTR (a signal: SIGINT, the interval timer) is just an early timeout. */
		if (poll(&pfd, 1, c->timeout_ms) > 0)
			n = pcap_dispatch(c->p, cnt, capture_dispatch_cb, (u_char *)c);
	}
	c->stop = 0;
	if (n == PCAP_ERROR_BREAK)
		return 0;
	if (n < 0) {
		snprintf(c->err, sizeof(c->err), "cannot read capture on '%s': %s", c->name,
			 pcap_geterr(c->p));
		return -1;
	}
	return n;
}

int capture_next_batch(struct capture *c, int max, capture_packet_fn fn, void *ctx)
{
	struct pcap_pkthdr *h;
	const u_char *bytes;
	int n = 0;

	if (c->live)
		return capture_next_live(c, max, fn, ctx);
	if (c->err_pending)
		return -1;
	FILE *f = pcap_file(c->p);
	while (!c->stop && (max <= 0 || n < max)) {
		int rc = pcap_next_ex(c->p, &h, &bytes);
		if (rc == 1) {
			fn(ctx, c->dlt, bytes, h->caplen, h->len, capture_ts(c, h));
			n++;
			/* Where a later failure starts, for the error message. */
			if (c->rec_hdr)
				c->offset += c->rec_hdr + (long)h->caplen;
			continue;
		}
		if (rc == PCAP_ERROR_BREAK)	/* end of file */
			break;
		/* pcapng: blocks vary in size; say where reading stopped. */
		if (!c->rec_hdr && f)
			c->offset = ftell(f);
		snprintf(c->err, sizeof(c->err), "cannot read capture '%s' at offset %ld: %s",
			 c->name, c->offset, strip_prefix(pcap_geterr(c->p), c->name));
		c->err_pending = 1;
		/* The whole packets before the failure count; the error comes next call. */
		return n > 0 ? n : -1;
	}
	c->stop = 0;
	return n;
}

const char *capture_error(const struct capture *c)
{
	return c->err;
}

int capture_stats(struct capture *c, struct capture_stats *st)
{
	struct pcap_stat ps;

	if (!c->live || pcap_stats(c->p, &ps) < 0)
		return -1;
	st->received = ps.ps_recv;
	st->dropped_kernel = ps.ps_drop;
	st->dropped_iface = ps.ps_ifdrop;
	return 0;
}

long capture_file_offset(const struct capture *c)
{
	if (c->live)
		return -1;
	if (c->rec_hdr || c->err_pending)
		return c->offset;
	/* pcapng: blocks vary in size, ask the stream (once per block of packets, not per packet) */
	FILE *f = pcap_file(c->p);
	return f ? ftell(f) : -1;
}

void capture_breakloop(struct capture *c)
{
	c->stop = 1;
	if (c->live)
		pcap_breakloop(c->p);
}

int capture_fd(const struct capture *c)
{
	return c->live ? c->fd : -1;
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	if (c->p)
		pcap_close(c->p);
	free(c);
}
