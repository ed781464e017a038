#!/bin/sh
# make demo: the origin experiment, answered. A Flask + MongoDB service (demo/app.py) under
# a five-step user flow run by 2, 5 and 10 parallel clients (demo/load.py), with tierprobe
# watching each level; prints the flow timings and, for each level, where the time went.
#
#   scripts/demo.sh [BIN]            BIN: the tierprobe binary (default build/tierprobe)
#
# Environment:
#   DEMO_STACK     gunicorn (default) | apache | twisted | pypy      (demo/stacks/*.sh)
#   DEMO_SCENARIO  default | db-slow | cpu-heavy | few-workers       (a staged bottleneck)
#   DEMO_LEVELS    concurrency levels (default "2 5 10")
#   DEMO_DURATION  seconds of load per level (default 15)
#   DEMO_WARMUP    seconds of unmeasured load before the first level (default 3)
#   DEMO_OUT       output folder (default demo-out): DEMO_OUT/<stack>-<scenario>-c<N>/
#   DEMO_HTTP_PORT, DEMO_MONGO_PORT   fixed ports (default: free ones picked at start)
# Exit: 0 done (also when the stack cannot run here: it says why), 1 failure, 2 bad usage.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-build/tierprobe}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
PY=/usr/bin/python3 # Debian's: flask, pymongo, gunicorn, twisted
STACK=${DEMO_STACK:-gunicorn}
SCENARIO=${DEMO_SCENARIO:-default}
LEVELS=${DEMO_LEVELS:-2 5 10}
DURATION=${DEMO_DURATION:-15}
WARMUP=${DEMO_WARMUP:-3}
OUT=${DEMO_OUT:-demo-out}

usage() { echo "demo: $*" >&2; exit 2; }
[ -x "$BIN" ] || usage "no tierprobe binary at $BIN (run make first)"
[ -f "$ROOT/demo/stacks/$STACK.sh" ] || usage "unknown DEMO_STACK=$STACK (gunicorn, apache, twisted, pypy)"
case $SCENARIO in default | db-slow | cpu-heavy | few-workers) ;;
*) usage "unknown DEMO_SCENARIO=$SCENARIO (default, db-slow, cpu-heavy, few-workers)" ;; esac
for n in $LEVELS; do case $n in '' | *[!0-9]* | 0) usage "bad level '$n' in DEMO_LEVELS" ;; esac; done
case $DURATION in '' | *[!0-9]* | 0) usage "DEMO_DURATION must be a positive whole number of seconds" ;; esac
case $WARMUP in '' | *[!0-9]*) usage "DEMO_WARMUP must be a whole number of seconds" ;; esac
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: tierprobe run captures packets and reads other processes: run as root (sudo make demo)" >&2
	exit 1
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RUN=$(mktemp -d /tmp/tierprobe-demo.XXXXXX)
TP_PID=
MONGO_PIDFILE=
STACK_UP=

cleanup() {
	set +e
	if [ -n "$TP_PID" ] && kill -0 "$TP_PID" 2>/dev/null; then
		kill -TERM "$TP_PID" 2>/dev/null
		i=0
		while kill -0 "$TP_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -KILL "$TP_PID" 2>/dev/null
	fi
	[ -n "$STACK_UP" ] && "$ROOT/demo/stacks/$STACK.sh" stop "$RUN/stack"
	[ -n "$MONGO_PIDFILE" ] && "$ROOT/scripts/mongo-server" stop "$MONGO_PIDFILE" 2>/dev/null
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HTTP_PORT=${DEMO_HTTP_PORT:-$(free_port)}
MONGO_PORT=${DEMO_MONGO_PORT:-$(free_port)}
while [ "$MONGO_PORT" = "$HTTP_PORT" ]; do MONGO_PORT=$(free_port); done
MONGO_URI="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"

# ---- the staged scenario ----
mongo_knobs=
case $SCENARIO in
default) what="nothing staged: the service as it is" ;;
db-slow)
	mongo_knobs="--delay find=30 --delay insert=30 --delay update=30"
	what="MongoDB made slow: every find, insert and update takes 30 ms more inside the server"
	;;
cpu-heavy)
	export DEMO_WORKERS=1 DEMO_PBKDF2_ITERS=${DEMO_PBKDF2_ITERS:-300000}
	what="one worker, and password hashing made expensive: PBKDF2 with $DEMO_PBKDF2_ITERS iterations (default 20000)"
	;;
few-workers)
	export DEMO_WORKERS=1 DEMO_EXTERNAL_MS=${DEMO_EXTERNAL_MS:-100}
	what="one worker, and GET /profile waits ${DEMO_EXTERNAL_MS} ms on a simulated external service (a sleep: no CPU, no MongoDB)"
	;;
esac
export DEMO_MONGO_URI="$MONGO_URI"

echo "== tierprobe demo: stack $STACK, scenario $SCENARIO ($what)"
echo "   levels: $LEVELS parallel clients, ${DURATION} s each; outputs in $OUT/$STACK-$SCENARIO-c<N>/"

# ---- the stack can run here? ----
if ! reason=$("$ROOT/demo/stacks/$STACK.sh" check 2>&1); then
	echo "== stack $STACK: $reason"
	exit 0
fi

# ---- MongoDB ----
mongo_env=
if [ -n "$mongo_knobs" ] && { [ -n "${MONGOD:-}" ] || command -v mongod >/dev/null 2>&1; }; then
	# A real mongod cannot be made slow on demand (slowms only logs; $where/sleep would change
	# the queries): this scenario uses the test server, whose --delay holds a ticket.
	echo "   note: a real mongod is installed, but $SCENARIO needs the test server's --delay; using the test server"
	d=$(dirname "$(command -v mongod 2>/dev/null || echo /nonexistent/x)")
	mongo_env=$(echo ":$PATH:" | sed "s#:$d:#:#g; s#^:##; s#:\$##")
fi
# shellcheck disable=SC2086 # knobs are "--flag value" pairs
if [ -n "$mongo_env" ]; then
	MONGO_PIDFILE=$(MONGOD= PATH="$mongo_env" "$ROOT/scripts/mongo-server" start --port "$MONGO_PORT" --dir "$RUN/mongo" $mongo_knobs 2>"$RUN/mongo-start.log") || { cat "$RUN/mongo-start.log" >&2; exit 1; }
else
	MONGO_PIDFILE=$("$ROOT/scripts/mongo-server" start --port "$MONGO_PORT" --dir "$RUN/mongo" $mongo_knobs 2>"$RUN/mongo-start.log") || { cat "$RUN/mongo-start.log" >&2; exit 1; }
fi
echo "== MongoDB: $(grep -m1 -o 'using .*' "$RUN/mongo-start.log" || echo "started"), 127.0.0.1:$MONGO_PORT${mongo_knobs:+ ($mongo_knobs)}"

# ---- the web stack ----
STACK_UP=1
rc=0
desc=$("$ROOT/demo/stacks/$STACK.sh" start "$HTTP_PORT" "$RUN/stack" 2>"$RUN/stack-start.log") || rc=$?
if [ $rc -ne 0 ]; then
	if [ $rc -eq 3 ]; then
		echo "== stack $STACK: $(cat "$RUN/stack-start.log")"
		exit 0
	fi
	cat "$RUN/stack-start.log" >&2
	echo "demo: the $STACK stack did not start" >&2
	exit 1
fi
echo "== web: $desc, 127.0.0.1:$HTTP_PORT"

if [ "$WARMUP" -gt 0 ]; then
	# imports, connection pools and PyPy's JIT warm up outside the measured levels
	"$PY" "$ROOT/demo/load.py" --url "http://127.0.0.1:$HTTP_PORT" --clients 2 --duration "$WARMUP" >/dev/null || true
fi

# ---- one level: tierprobe run around the load ----
verdict_of() { # DIR -> prints the verdict lines
	"$PY" - "$1/summary.json" <<'PYEOF'
import json, sys
v = json.load(open(sys.argv[1]))["verdict"]
sec = ", ".join(v.get("secondary") or [])
print("   verdict: %s (confidence %s)%s" % (v["primary"], v.get("confidence", "?"), "; also " + sec if sec else ""))
for e in v.get("evidence") or []:
    print("     - " + e)
PYEOF
}

SUMMARY=$RUN/summary.txt
: >"$SUMMARY"
for n in $LEVELS; do
	dir=$OUT/$STACK-$SCENARIO-c$n
	rm -rf "$dir"
	mkdir -p "$dir"
	echo
	echo "== $n parallel clients"
	"$BIN" run -i lo -q --duration $((DURATION + 60)) -o "$dir" --http-ports "$HTTP_PORT" \
		--mongo-ports "$MONGO_PORT" --mongo-uri "$MONGO_URI" 2>"$dir/tierprobe.log" &
	TP_PID=$!
	i=0
	until grep -q 'capturing on' "$dir/tierprobe.log" 2>/dev/null; do
		if ! kill -0 "$TP_PID" 2>/dev/null || [ $i -ge 100 ]; then
			cat "$dir/tierprobe.log" >&2
			echo "demo: tierprobe run did not start capturing" >&2
			exit 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	sleep 1 # a first interval without load: the samples start from idle
	load_rc=0
	"$PY" "$ROOT/demo/load.py" --url "http://127.0.0.1:$HTTP_PORT" --clients "$n" \
		--duration "$DURATION" --json "$dir/load.json" >"$dir/load.txt" || load_rc=$?
	sleep 1
	kill -TERM "$TP_PID"
	tp_rc=0
	wait "$TP_PID" || tp_rc=$?
	TP_PID=
	echo "   flows: $(cat "$dir/load.txt")"
	[ $load_rc -eq 0 ] || echo "   (the load generator reported a problem: exit $load_rc)"
	if [ $tp_rc -ne 0 ] || [ ! -f "$dir/summary.json" ]; then
		cat "$dir/tierprobe.log" >&2
		echo "demo: tierprobe run failed (exit $tp_rc)" >&2
		exit 1
	fi
	verdict_of "$dir"
	primary=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"]["primary"])' "$dir/summary.json")
	"$PY" -c '
import json, sys
sys.path.insert(0, sys.argv[4])
from load import sig2
r = json.load(open(sys.argv[1]))
print("%8s  %6s  %9s  %9s  %s" % (sys.argv[2], r["flows"], sig2(r.get("mean_ms")), sig2(r.get("median_ms")), sys.argv[3]))
' "$dir/load.json" "$n" "$primary" "$ROOT/demo" >>"$SUMMARY"
done

echo
echo "== where the time went: stack $STACK, scenario $SCENARIO"
printf '%8s  %6s  %9s  %9s  %s\n' clients flows "mean ms" "median ms" verdict
cat "$SUMMARY"
echo "(tierprobe's CSVs and summaries: $OUT/$STACK-$SCENARIO-c<N>/; tierprobe report DIR prints one again)"
