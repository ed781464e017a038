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
