/*
 * pcap_loop.c - the bench's baseline: read every packet of a capture with
 * libpcap and touch its bytes, nothing else. tierprobe analyze is measured
 * against this floor (make bench).
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	if (argc != 2) {
		fprintf(stderr, "usage: pcap_loop FILE\n");
		return 2;
	}
	pcap_t *p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
	if (!p) {
		fprintf(stderr, "pcap_loop: cannot open '%s': %s\n", argv[1], err);
		return 2;
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t packets = 0, sum = 0;
	int rc;
	while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
		packets++;
		/* Touch the headers as a decoder would, so the loop is not optimised to nothing. */
		for (uint32_t i = 0; i < h->caplen && i < 64; i += 8)
			sum += data[i];
	}
	pcap_close(p);
	printf("packets %llu checksum %llu\n", (unsigned long long)packets, (unsigned long long)sum);
	return 0;
}
