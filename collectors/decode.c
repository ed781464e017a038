/*
 * decode.c - link, IP and TCP headers of one frame: Ethernet II with IEEE
 * 802.1Q / 802.1ad tags, Linux cooked capture v1/v2, BSD loopback, raw IP;
 * IPv4 (RFC 791), IPv6 (RFC 8200) with extension headers, TCP (RFC 9293).
 *
 * Every byte comes through struct byte_reader; a frame is rejected (and the
 * reason counted in struct quality) as soon as a header does not fit or lies.
 */
#include "decode.h"

#include <pcap/dlt.h>
#include <string.h>
#include <sys/socket.h>

#include "byte_reader.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100

/* More tags than this is not a real network, it is a crafted frame. */
#define MAX_VLAN_TAGS 8
/* Same for IPv6 extension header chains. */
#define MAX_IPV6_EXT 16

#define IPPROTO_TCP_NUM 6

/* libpcap maps LINKTYPE_RAW (101) to DLT_RAW, but be lenient with both. */
#define LINKTYPE_RAW_NUM 101

enum l3 {
	L3_NONE,
	L3_IPV4,
	L3_IPV6,
	L3_ANY,		/* raw IP: the version nibble decides */
};

int decode_linktype_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
	case LINKTYPE_RAW_NUM:
	case DLT_IPV4:
	case DLT_IPV6:
		return 1;
	default:
		return 0;
	}
}

static enum l3 l3_from_ethertype(uint16_t type)
{
	if (type == ETHERTYPE_IPV4)
		return L3_IPV4;
	if (type == ETHERTYPE_IPV6)
		return L3_IPV6;
	return L3_NONE;
}

static int is_vlan_type(uint16_t type)
{
	return type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD;
}

/*
 * Follows any stack of VLAN tags after an ethertype has been read.
 *   +--------+--------+  repeated while the type is 0x8100 / 0x88a8 / 0x9100
 *   |  TCI   |  type  |
 *   +--------+--------+
 */
static uint16_t skip_vlan_tags(struct byte_reader *r, uint16_t type)
{
	for (int n = 0; is_vlan_type(type) && n < MAX_VLAN_TAGS; n++) {
		byte_reader_skip(r, 2);		/* TCI: priority, DEI, VLAN id */
		type = byte_reader_be16(r);
	}
	return is_vlan_type(type) ? 0 : type;
}

/* AF_INET6 differs between BSDs: 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS). */
static enum l3 l3_from_bsd_family(uint32_t fam)
{
	if (fam == 2)
		return L3_IPV4;
	if (fam == 24 || fam == 28 || fam == 30)
		return L3_IPV6;
	return L3_NONE;
}

/*
 * Reads the link header; returns the layer-3 kind, r positioned at it.
 * Sets r->err when the frame is too short for the link header.
 */
static enum l3 decode_link(int dlt, struct byte_reader *r)
{
	uint16_t type;
	uint32_t fam_le, fam_be;
	enum l3 l3;

	switch (dlt) {
	case DLT_EN10MB:
		/* dst MAC (6) | src MAC (6) | ethertype (2) */
		byte_reader_skip(r, 12);
		type = skip_vlan_tags(r, byte_reader_be16(r));
		return l3_from_ethertype(type);
	case DLT_LINUX_SLL:
		/* pkttype (2) | ARPHRD (2) | addr len (2) | addr (8) | protocol (2) */
		byte_reader_skip(r, 14);
		type = skip_vlan_tags(r, byte_reader_be16(r));
		return l3_from_ethertype(type);
	case DLT_LINUX_SLL2:
		/* protocol (2) | reserved (2) | ifindex (4) | ARPHRD (2) | pkttype (1) |
		 * addr len (1) | addr (8) */
		type = byte_reader_be16(r);
		byte_reader_skip(r, 18);
		type = skip_vlan_tags(r, type);
		return l3_from_ethertype(type);
	case DLT_NULL:
	case DLT_LOOP:
		/*
		 * 4-byte address family: host order of the capturing machine for
		 * DLT_NULL, network order for DLT_LOOP. Files travel between
		 * machines, so accept either order for both.
		 */
		if (byte_reader_need(r, 4))
			return L3_NONE;
		fam_le = (uint32_t)r->cur[0] | (uint32_t)r->cur[1] << 8 |
			 (uint32_t)r->cur[2] << 16 | (uint32_t)r->cur[3] << 24;
		fam_be = byte_reader_be32(r);
		l3 = l3_from_bsd_family(fam_le);
		return l3 != L3_NONE ? l3 : l3_from_bsd_family(fam_be);
	case DLT_RAW:
	case LINKTYPE_RAW_NUM:
		return L3_ANY;
	case DLT_IPV4:
		return L3_IPV4;
	case DLT_IPV6:
		return L3_IPV6;
	default:
		return L3_NONE;
	}
}

/*
 * IPv4 header (RFC 791):
 *   | ver/IHL | TOS | total length | id | flags/frag offset | TTL | proto |
 *   | checksum | source (4) | destination (4) | options (IHL*4 - 20)
 * On success r covers exactly the captured part of the IP payload and
 * *wire_len is the payload length the header claims. cut is how many bytes
 * of the frame the snaplen left out.
 */
static int decode_ipv4(struct byte_reader *r, size_t cut, struct tcp_segment *seg,
		       size_t *wire_len, struct quality *q)
{
	const uint8_t *start = r->cur;
	size_t avail = byte_reader_left(r);
	uint8_t vihl = byte_reader_u8(r);
	byte_reader_skip(r, 1);
	size_t total = byte_reader_be16(r);
	byte_reader_skip(r, 2);
	uint16_t frag = byte_reader_be16(r);
	byte_reader_skip(r, 1);
	uint8_t proto = byte_reader_u8(r);
	byte_reader_skip(r, 2);
	seg->src.family = AF_INET;
	seg->dst.family = AF_INET;
	byte_reader_copy(r, seg->src.addr, 4);
	byte_reader_copy(r, seg->dst.addr, 4);
	if (r->err) {
		q->packets_truncated++;
		return -1;
	}
	size_t hlen = (size_t)(vihl & 0x0f) * 4;
	/*
	 * Length 0 is a segmentation-offload (TSO / BIG TCP) send captured before
	 * the NIC filled it in: the frame is the packet, as tcpdump also assumes.
	 */
	if (total == 0)
		total = avail + cut;
	if ((vihl >> 4) != 4 || hlen < 20 || total < hlen) {
		q->packets_bad_header++;
		return -1;
	}
	if (avail < hlen) {
		q->packets_truncated++;
		return -1;
	}
	/* A total length beyond what was on the wire is a lie. */
	if (total > avail + cut) {
		q->packets_bad_header++;
		return -1;
	}
	if ((frag & 0x3fff) != 0) {	/* MF set or a nonzero offset */
		q->ip_fragments++;
		return -1;
	}
	if (proto != IPPROTO_TCP_NUM) {
		q->packets_not_tcp++;
		return -1;
	}
	/* Trim Ethernet padding: bytes past the total length are not IP. */
	size_t present = total < avail ? total : avail;
	byte_reader_init(r, start + hlen, present - hlen);
	*wire_len = total - hlen;
	return 0;
}

/*
 * IPv6 header (RFC 8200): | ver/TC/flow label (4) | payload length (2) |
 * next header (1) | hop limit (1) | source (16) | destination (16) |
 * then a chain of extension headers, each | next (1) | length (1) | ...
 */
static int decode_ipv6(struct byte_reader *r, size_t cut, struct tcp_segment *seg,
		       size_t *wire_len, struct quality *q)
{
	size_t avail = byte_reader_left(r);
	uint32_t vtf = byte_reader_be32(r);
	uint16_t plen = byte_reader_be16(r);
	uint8_t next = byte_reader_u8(r);
	byte_reader_skip(r, 1);
	seg->src.family = AF_INET6;
	seg->dst.family = AF_INET6;
	byte_reader_copy(r, seg->src.addr, 16);
	byte_reader_copy(r, seg->dst.addr, 16);
	if (r->err) {
		q->packets_truncated++;
		return -1;
	}
	/* plen 0 means a jumbogram (RFC 2675); not on an application's LAN. */
	if ((vtf >> 28) != 6 || plen == 0) {
		q->packets_bad_header++;
		return -1;
	}
	if ((size_t)plen + 40 > avail + cut) {
		q->packets_bad_header++;
		return -1;
	}
	/* Trim padding, then walk the extension headers within the payload length. */
	size_t present = (size_t)plen < avail - 40 ? (size_t)plen : avail - 40;
	byte_reader_init(r, r->cur, present);
	size_t used = 0;

	for (int n = 0; n < MAX_IPV6_EXT; n++) {
		uint8_t nh = 0, hl;
		size_t len = 0;
		uint16_t off;

		switch (next) {
		case IPPROTO_TCP_NUM:
			*wire_len = (size_t)plen - used;
			return 0;
		case 0:		/* hop-by-hop options */
		case 43:	/* routing */
		case 60:	/* destination options */
			nh = byte_reader_u8(r);
			hl = byte_reader_u8(r);
			len = ((size_t)hl + 1) * 8;
			byte_reader_skip(r, len - 2);
			break;
		case 51:	/* authentication header: length in 4-byte units, minus 2 */
			nh = byte_reader_u8(r);
			hl = byte_reader_u8(r);
			len = ((size_t)hl + 2) * 4;
			byte_reader_skip(r, len - 2);
			break;
		case 44:	/* fragment: | next | res | offset/res/M (2) | id (4) | */
			nh = byte_reader_u8(r);
			byte_reader_skip(r, 1);
			off = byte_reader_be16(r);
			byte_reader_skip(r, 4);
			len = 8;
			if (r->err)
				break;
			/* An atomic fragment (offset 0, no more) is a whole packet. */
			if ((off & 0xfff9) != 0) {
				q->ip_fragments++;
				return -1;
			}
			break;
		case 59:	/* no next header */
		default:
			q->packets_not_tcp++;
			return -1;
		}
		if (r->err) {
			/* The chain ran past the payload length, or past the capture. */
			if (used + len > plen)
				q->packets_bad_header++;
			else
				q->packets_truncated++;
			return -1;
		}
		used += len;
		next = nh;
	}
	q->packets_bad_header++;
	return -1;
}

/*
 * TCP header (RFC 9293):
 *   | src port | dst port | seq (4) | ack (4) | data offset/res | flags |
 *   | window | checksum | urgent | options (offset*4 - 20) | data
 */
static int decode_tcp(struct byte_reader *r, size_t wire_len, struct tcp_segment *seg,
		      struct quality *q)
{
	const uint8_t *start = r->cur;
	size_t avail = byte_reader_left(r);
	seg->src.port = byte_reader_be16(r);
	seg->dst.port = byte_reader_be16(r);
	seg->seq = byte_reader_be32(r);
	seg->ack = byte_reader_be32(r);
	uint8_t off = byte_reader_u8(r);
	seg->flags = byte_reader_u8(r);
	byte_reader_skip(r, 6);
	if (r->err) {
		/* A header the IP length says cannot be there is a lie, not a cut. */
		if (wire_len < 20)
			q->packets_bad_header++;
		else
			q->packets_truncated++;
		return -1;
	}
	size_t hlen = (size_t)(off >> 4) * 4;
	if (hlen < 20 || hlen > wire_len) {
		q->packets_bad_header++;
		return -1;
	}
	if (hlen > avail) {
		q->packets_truncated++;
		return -1;
	}
	seg->payload = start + hlen;
	seg->payload_len = avail - hlen;
	seg->payload_wire_len = wire_len - hlen;
	return 0;
}

int decode_frame(int dlt, const uint8_t *frame, size_t caplen, size_t wirelen, ts_ns ts,
		 struct tcp_segment *seg, struct quality *q)
{
	struct byte_reader r;
	size_t wire_len = 0;
	enum l3 l3;
	size_t cut = caplen < wirelen ? wirelen - caplen : 0;

	q->packets++;
	q->bytes += wirelen > caplen ? wirelen : caplen;
	memset(seg, 0, sizeof(*seg));
	seg->ts = ts;
	if (!frame) {
		q->packets_truncated++;
		return -1;
	}
	byte_reader_init(&r, frame, caplen);
	l3 = decode_link(dlt, &r);
	if (r.err) {
		q->packets_truncated++;
		return -1;
	}
	if (l3 == L3_ANY) {
		if (byte_reader_left(&r) < 1) {
			q->packets_truncated++;
			return -1;
		}
		switch (r.cur[0] >> 4) {
		case 4: l3 = L3_IPV4; break;
		case 6: l3 = L3_IPV6; break;
		default:
			q->packets_bad_header++;
			return -1;
		}
	}
	switch (l3) {
	case L3_IPV4:
		if (decode_ipv4(&r, cut, seg, &wire_len, q))
			return -1;
		break;
	case L3_IPV6:
		if (decode_ipv6(&r, cut, seg, &wire_len, q))
			return -1;
		break;
	default:
		q->packets_not_ip++;
		return -1;
	}
	return decode_tcp(&r, wire_len, seg, q);
}
