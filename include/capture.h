/*
 * capture.h - packets from libpcap: a saved file (pcap or pcapng) or a live
 * interface, handed one at a time to a callback with nanosecond timestamps.
 */
#ifndef TIERPROBE_CAPTURE_H
#define TIERPROBE_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "timestamp.h"

struct capture;

typedef void (*capture_packet_fn)(void *ctx, int dlt, const uint8_t *frame, size_t caplen,
				  size_t wirelen, ts_ns ts);

/*
 * Opens a capture file (pcap or pcapng; timestamps kept to the nanosecond).
 * On failure returns NULL and writes into err a whole message naming the file
 * and the reason, e.g. "cannot open capture 'x.pcap': unknown file format"
 * or "...: truncated dump file; tried to read 24 file header bytes, only got 3".
 */
struct capture *capture_open_file(const char *path, char *err, size_t errlen);

struct capture_live_config {
	const char *iface;		/* "any" by default */
	const char *bpf;		/* filter text; NULL for none */
	int snaplen;			/* default 262144 */
	int buffer_bytes;		/* kernel buffer; default 64 MiB */
	int timeout_ms;			/* read timeout; default 100 */
	int immediate;			/* deliver every packet at once (a low-volume capture) */
};

/*
 * Opens and activates a live capture; NULL with a whole message when it cannot,
 * naming the interface and, when denied, the capability:
 * "cannot activate capture on 'eth0': permission denied (needs CAP_NET_RAW)".
 */
struct capture *capture_open_live(const struct capture_live_config *cfg, char *err, size_t errlen);

/* The datalink type (DLT_*) of the capture. */
int capture_dlt(const struct capture *c);

/*
 * Reads up to max packets (0 = until the file ends / one live batch) and calls fn.
 * Returns the number of packets handed over, 0 at end of file (or a live
 * timeout), or -1 on a read error, whose text capture_error() gives. A file
 * that ends inside a record is reported as an error after its last whole packet.
 */
int capture_next_batch(struct capture *c, int max, capture_packet_fn fn, void *ctx);

/*
 * The last read error as a whole message naming the file, the offset of the
 * record that could not be read and the reason, e.g. "cannot read capture
 * 'x.pcap' at offset 1234: truncated dump file; tried to read ...". "" if none.
 */
const char *capture_error(const struct capture *c);

struct capture_stats {
	uint64_t received;
	uint64_t dropped_kernel;
	uint64_t dropped_iface;
};
/* Live only: cumulative libpcap statistics. Returns 0 or -1. */
int capture_stats(struct capture *c, struct capture_stats *st);

/*
 * File offset of the next record (progress; where a truncated file ended).
 * pcapng blocks vary in size, so there it is the stream's position (an
 * ftell(), not to be called per packet). -1 when live.
 */
long capture_file_offset(const struct capture *c);

/* Breaks a blocking capture loop from a signal handler. */
void capture_breakloop(struct capture *c);

/*
 * The selectable fd for a live capture (poll), -1 otherwise. A live capture is
 * read nonblocking: capture_next_batch() itself waits up to timeout_ms in
 * poll() when nothing is queued, so it returns 0 on a quiet interface instead
 * of blocking (libpcap's TPACKET_V3 timeout starts only with the first packet).
 */
int capture_fd(const struct capture *c);

void capture_free(struct capture *c);

#endif
