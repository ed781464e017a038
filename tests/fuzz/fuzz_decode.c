/*
 * fuzz_decode.c - libFuzzer target for decode_frame(): the first input byte
 * picks the link type, the second how many bytes the snaplen "cut", the rest
 * is the frame. Checks that an accepted segment's payload lies inside the
 * frame and that exactly one counter explains a rejection.
 */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

static const int dlts[] = {
	DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP,
	DLT_RAW, 101 /* LINKTYPE_RAW */, DLT_IPV4, DLT_IPV6, DLT_IEEE802_11,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tcp_segment seg;
	struct quality q;

	if (size < 2)
		return 0;
	int dlt = dlts[data[0] % (sizeof(dlts) / sizeof(dlts[0]))];
	size_t cut = data[1];
	const uint8_t *frame = data + 2;
	size_t caplen = size - 2;

	memset(&q, 0, sizeof(q));
	int rc = decode_frame(dlt, frame, caplen, caplen + cut, 1, &seg, &q);
	uint64_t why = q.packets_truncated + q.packets_not_ip + q.packets_not_tcp +
		       q.packets_bad_header + q.ip_fragments;
	if (q.packets != 1)
		abort();
	if (rc == 0) {
		if (why != 0)
			abort();
		if (seg.payload_len && (seg.payload < frame ||
					seg.payload + seg.payload_len > frame + caplen))
			abort();
		if (seg.payload_len > seg.payload_wire_len)
			abort();
		/* touch every payload byte so ASan checks the range */
		volatile uint8_t sum = 0;
		for (size_t i = 0; i < seg.payload_len; i++)
			sum ^= seg.payload[i];
		(void)sum;
	} else if (why != 1) {
		abort();
	}
	return 0;
}
