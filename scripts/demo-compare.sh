#!/bin/sh
# make demo-compare: the origin's comparison, with tierprobe watching. Runs the demo on two
# stacks (default: Apache/mod_wsgi on CPython against Twisted on PyPy, as in the original
# benchmark) under the same scenario and levels, then `tierprobe compare`s them level by level.
#
#   scripts/demo-compare.sh [BIN]
# Environment: DEMO_COMPARE="STACK_A STACK_B" (default "apache pypy"), DEMO_LEVELS (default
# "5"), and everything scripts/demo.sh reads (DEMO_SCENARIO, DEMO_DURATION, DEMO_OUT, ...).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-build/tierprobe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
set -- ${DEMO_COMPARE:-apache pypy}
[ $# -eq 2 ] || { echo "demo-compare: DEMO_COMPARE must name two stacks" >&2; exit 2; }
A=$1 B=$2
SCENARIO=${DEMO_SCENARIO:-default}
LEVELS=${DEMO_LEVELS:-5}
OUT=${DEMO_OUT:-demo-out}
export DEMO_SCENARIO="$SCENARIO" DEMO_LEVELS="$LEVELS" DEMO_OUT="$OUT"

for s in "$A" "$B"; do
	[ -f "$ROOT/demo/stacks/$s.sh" ] || { echo "demo-compare: unknown stack $s" >&2; exit 2; }
	if ! reason=$("$ROOT/demo/stacks/$s.sh" check 2>&1); then
		echo "== demo-compare: stack $s $reason; nothing to compare"
		exit 0
	fi
done
for s in "$A" "$B"; do
	DEMO_STACK=$s "$ROOT/scripts/demo.sh" "$BIN"
	echo
done
for n in $LEVELS; do
	a=$OUT/$A-$SCENARIO-c$n b=$OUT/$B-$SCENARIO-c$n
	echo "== tierprobe compare $a $b"
	"$BIN" compare "$a" "$b"
	echo
done
