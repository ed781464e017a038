/* txn.c - the transaction notes as the text of the CSV "note" column. */
#include "txn.h"

#include <stdio.h>
#include <string.h>

static const char *const note_names[] = {
	"gap-request", "gap-response", "no-response", "no-request", "truncated",
	"interim-1xx", "midstream", "compressed", "more-to-come", "exhaust", "oversize",
	"monitor",
};

char *txn_note_format(unsigned notes, char *buf, size_t len)
{
	size_t used = 0;
	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(note_names) / sizeof(note_names[0]); i++) {
		if (!(notes & (1u << i)))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? ";" : "", note_names[i]);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

unsigned txn_note_parse(const char *text)
{
	unsigned notes = 0;
	const char *p = text;
	while (p && *p) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		for (size_t i = 0; i < sizeof(note_names) / sizeof(note_names[0]); i++)
			if (strlen(note_names[i]) == len && strncmp(p, note_names[i], len) == 0)
				notes |= 1u << i;
		p = end ? end + 1 : NULL;
	}
	return notes;
}
