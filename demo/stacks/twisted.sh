#!/bin/sh
# Twisted Web's WSGI container on CPython: one process, DEMO_WORKERS threads.
. "$(dirname "$0")/common.sh"
PY=/usr/bin/python3

check() {
	$PY -c 'import twisted.web.wsgi' 2>/dev/null || skip "python3-twisted is not installed (apt-get install python3-twisted)"
	$PY -c 'import flask, pymongo' 2>/dev/null || skip "Debian's python3 lacks flask or pymongo"
}

start() {
	log=$2/twisted.log
	$PY "$DEMO_DIR/stacks/twisted_serve.py" "$1" >"$log" 2>&1 </dev/null &
	echo $! >"$2/stack.pid"
	wait_ready "$1" "$!" "$log" || { stop "$2"; exit 1; }
	echo "Twisted $($PY -c 'import twisted; print(twisted.__version__)') WSGI on CPython $($PY -c 'import platform; print(platform.python_version())'), one process, $DEMO_WORKERS threads, pid $(cat "$2/stack.pid")"
}

stop() { stop_pidfile "$1/stack.pid"; }

stack_main start stop check "$@"
