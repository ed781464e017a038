/* main.c - the tierprobe command line: analyze, run, report, compare. */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "tierprobe: not built yet\n");
	return 1;
}
