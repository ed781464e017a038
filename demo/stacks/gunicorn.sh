#!/bin/sh
# The default stack: gunicorn sync workers (DEMO_WORKERS processes) on CPython.
. "$(dirname "$0")/common.sh"

check() {
	[ -x /usr/bin/gunicorn ] || skip "gunicorn is not installed (apt-get install gunicorn)"
	/usr/bin/python3 -c 'import flask, pymongo' 2>/dev/null || skip "Debian's python3 lacks flask or pymongo"
}

start() {
	log=$2/gunicorn.log
	/usr/bin/python3 /usr/bin/gunicorn --chdir "$DEMO_DIR" -w "$DEMO_WORKERS" -k sync \
		-b "127.0.0.1:$1" --timeout 60 --backlog 256 app:app >"$log" 2>&1 </dev/null &
	echo $! >"$2/stack.pid"
	wait_ready "$1" "$!" "$log" || { stop "$2"; exit 1; }
	echo "gunicorn $(/usr/bin/python3 -c 'import gunicorn; print(gunicorn.__version__)') on CPython $(/usr/bin/python3 -c 'import platform; print(platform.python_version())'), $DEMO_WORKERS sync workers, pid $(cat "$2/stack.pid")"
}

stop() { stop_pidfile "$1/stack.pid"; }

stack_main start stop check "$@"
