#!/bin/sh
# The origin's other stack: Twisted Web's WSGI container on PyPy (Debian's pypy3): one
# process, DEMO_WORKERS threads. Debian's pypy3 has /usr/lib/python3/dist-packages on its
# path, so it imports the CPython packages' pure-Python code (flask, pymongo without its C
# extension, twisted); check says so, or why it cannot.
. "$(dirname "$0")/common.sh"
PY=/usr/bin/pypy3

check() {
	[ -x $PY ] || skip "pypy3 is not installed (apt-get install pypy3)"
	out=$(timeout 60 $PY -c 'import flask, pymongo, twisted.web.wsgi' 2>&1) ||
		skip "pypy3 cannot import flask/pymongo/twisted (Debian builds them for CPython): $(echo "$out" | tail -n 1)"
}

start() {
	log=$2/pypy.log
	$PY "$DEMO_DIR/stacks/twisted_serve.py" "$1" >"$log" 2>&1 </dev/null &
	echo $! >"$2/stack.pid"
	wait_ready "$1" "$!" "$log" || { stop "$2"; exit 1; }
	echo "Twisted $($PY -c 'import twisted; print(twisted.__version__)') WSGI on PyPy $($PY -c 'import sys; print("%d.%d.%d" % sys.pypy_version_info[:3])') (Python $($PY -c 'import platform; print(platform.python_version())'); pymongo C extension: $($PY -c 'import pymongo; print("yes" if pymongo.has_c() else "no, pure Python")')), one process, $DEMO_WORKERS threads, pid $(cat "$2/stack.pid")"
}

stop() { stop_pidfile "$1/stack.pid"; }

stack_main start stop check "$@"
