/* quality.c - measurement-quality counters. */
#include "quality.h"

int quality_note_unknown_opcode(struct quality *q, int32_t opcode)
{
	for (unsigned i = 0; i < q->n_unknown_opcodes; i++)
		if (q->unknown_opcodes[i] == opcode)
			return 0;
	if (q->n_unknown_opcodes < QUALITY_MAX_UNKNOWN_OPCODES)
		q->unknown_opcodes[q->n_unknown_opcodes++] = opcode;
	return 1;
}

#define QF(field) { #field, offsetof(struct quality, field) }
const struct quality_field quality_fields[] = {
	QF(packets), QF(bytes), QF(packets_truncated), QF(packets_not_ip), QF(packets_not_tcp),
	QF(packets_bad_header), QF(packets_ignored_port), QF(ip_fragments), QF(flows),
	QF(flows_midstream), QF(flows_expired_idle), QF(flows_evicted),
	QF(flows_never_established), QF(flows_parser_failed), QF(tcp_gaps), QF(tcp_gap_bytes), QF(tcp_out_of_order),
	QF(tcp_retransmits), QF(reasm_flow_cap_hits), QF(reasm_global_cap_hits),
	QF(http_requests), QF(http_responses), QF(http_unmatched_requests),
	QF(http_unmatched_responses), QF(http_parse_errors), QF(http_gaps), QF(mongo_messages),
	QF(mongo_unmatched_requests), QF(mongo_unmatched_replies), QF(mongo_parse_errors),
	QF(mongo_bson_errors), QF(mongo_decompress_errors), QF(mongo_oversize),
	QF(mongo_unknown_opcode_msgs), QF(mongo_gap_messages), QF(mongo_monitor_calls), QF(pid_lookups), QF(pid_unresolved), QF(kernel_drops), QF(iface_drops),
};
const size_t QUALITY_NFIELDS = sizeof(quality_fields) / sizeof(quality_fields[0]);
