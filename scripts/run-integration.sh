#!/bin/sh
# Runs every integration test (tests/integration/test_*.py and the test server's own tests):
# each starts real processes and stops them itself, even on failure.
set -u
BIN=${1:-build/tierprobe}
export TIERPROBE_BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
fail=0
for t in tests/mongo_server/test_*.py tests/integration/test_*.py; do
	[ -f "$t" ] || continue
	echo "---- $t"
	if ! timeout 600 /usr/bin/python3 "$t"; then
		echo "FAIL $t"; fail=1
	fi
done
exit $fail
