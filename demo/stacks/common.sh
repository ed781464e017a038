# Shared by demo/stacks/*.sh (sourced). Each stack script:
#   STACK.sh start PORT RUNDIR   starts the demo app on 127.0.0.1:PORT, waits until
#                                GET /status/mongo answers 200, writes RUNDIR/stack.pid
#   STACK.sh stop RUNDIR         stops everything it started (SIGTERM, then SIGKILL)
#   STACK.sh check               exit 0 if the stack can run here, else 3 with the reason
# Exit 3 from start/check = "skipped: <reason>" on stderr (the stack cannot run here).
# Environment: DEMO_WORKERS (worker processes or threads), and the app's knobs
# DEMO_MONGO_URI, DEMO_PBKDF2_ITERS, DEMO_EXTERNAL_MS (see demo/app.py).
set -eu
DEMO_DIR=$(cd "$(dirname "$0")/.." && pwd)
WAIT_S=${DEMO_STACK_WAIT_S:-30}
: "${DEMO_WORKERS:=$(( $(nproc) * 2 + 1 ))}"
export DEMO_WORKERS

skip() { echo "skipped: $*" >&2; exit 3; }
die() { echo "stack: $*" >&2; exit 1; }
alive() { kill -0 "$1" 2>/dev/null; }

# wait_ready PORT PID LOG: until GET /status/mongo answers 200, the process dies, or WAIT_S.
wait_ready() {
	end=$(($(date +%s) + WAIT_S))
	while [ "$(date +%s)" -lt "$end" ]; do
		if ! alive "$2"; then
			echo "stack: the server exited during startup; last lines of $3:" >&2
			tail -n 15 "$3" >&2
			return 1
		fi
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$1/status/mongo" || true)
		[ "$code" = 200 ] && return 0
		sleep 0.3
	done
	echo "stack: no answer on 127.0.0.1:$1 within ${WAIT_S}s; last lines of $3:" >&2
	tail -n 15 "$3" >&2
	return 1
}

# stop_pidfile FILE: SIGTERM the pid in FILE, SIGKILL after 10 s, remove FILE.
stop_pidfile() {
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	case $pid in '' | *[!0-9]*) rm -f "$1"; return 0 ;; esac
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while alive "$pid" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		if alive "$pid"; then
			echo "stack: pid $pid ignored SIGTERM for 10 s; SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$1"
}

port_free() {
	! /usr/bin/python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)' "$1"
}

# main START_FN STOP_FN CHECK_FN "$@"
stack_main() {
	start_fn=$1 stop_fn=$2 check_fn=$3
	shift 3
	case ${1:-} in
	start)
		[ $# -eq 3 ] || die "usage: $0 start PORT RUNDIR"
		port=$2
		mkdir -p "$3"
		rundir=$(cd "$3" && pwd)
		"$check_fn"
		port_free "$port" || die "127.0.0.1:$port is already in use"
		"$start_fn" "$port" "$rundir"
		;;
	stop)
		[ $# -eq 2 ] || die "usage: $0 stop RUNDIR"
		[ -d "$2" ] || return 0
		rundir=$(cd "$2" && pwd)
		"$stop_fn" "$rundir"
		;;
	check) "$check_fn" ;;
	*) die "usage: $0 start PORT RUNDIR | stop RUNDIR | check" ;;
	esac
}
