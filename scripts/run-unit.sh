#!/bin/sh
# Runs every cmocka test binary given; fails if any fails. Tests find ../shared by relative path.
set -u
fail=0
for t in "$@"; do
	if ! "$t" >"$t.log" 2>&1; then
		echo "FAIL $t"; cat "$t.log"; fail=1
	else
		echo "ok   $t ($(grep -c '\[       OK \]' "$t.log") cases)"
	fi
done
exit $fail
