#!/bin/sh
# Apache 2.4 with mod_wsgi (embedded mode, prefork MPM: DEMO_WORKERS child processes, one
# request each) on CPython, from a private config in RUNDIR on 127.0.0.1:PORT. KeepAlive is
# off so that, as with gunicorn's sync workers, a client does not pin a child between requests.
. "$(dirname "$0")/common.sh"
MODS=/usr/lib/apache2/modules

check() {
	[ -x /usr/sbin/apache2 ] || skip "apache2 is not installed (apt-get install apache2-bin)"
	[ -f $MODS/mod_wsgi.so ] || skip "mod_wsgi is not installed (apt-get install libapache2-mod-wsgi-py3)"
	[ -f $MODS/mod_mpm_prefork.so ] || skip "apache2's prefork MPM module is missing"
	id www-data >/dev/null 2>&1 || skip "no www-data user for apache2's children"
}

start() {
	port=$1 rd=$2
	conf=$rd/apache2.conf
	user=www-data
	[ "$(id -u)" -eq 0 ] || user=$(id -un)
	cat >"$conf" <<CONF
ServerRoot "$rd"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$rd/apache2.pid"
ErrorLog "$rd/error.log"
LogLevel warn
Mutex file:$rd default
LoadModule mpm_prefork_module $MODS/mod_mpm_prefork.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule wsgi_module $MODS/mod_wsgi.so
User $user
Group $(id -gn "$user")
StartServers $DEMO_WORKERS
MinSpareServers 1
MaxSpareServers $DEMO_WORKERS
ServerLimit $DEMO_WORKERS
MaxRequestWorkers $DEMO_WORKERS
MaxConnectionsPerChild 0
ListenBacklog 256
KeepAlive Off
Timeout 60
WSGIScriptAlias / "$DEMO_DIR/app.py"
WSGIApplicationGroup %{GLOBAL}
WSGIPassAuthorization On
WSGIPythonPath "$DEMO_DIR"
<Directory "$DEMO_DIR">
    Require all granted
</Directory>
CONF
	/usr/sbin/apache2 -t -f "$conf" >"$rd/configtest.log" 2>&1 || { cat "$rd/configtest.log" >&2; die "apache2 rejects $conf"; }
	# Daemonised (-k start): apache2 calls setsid, so its shutdown, which signals its whole
	# process group, cannot reach the shell that started it (with -DFOREGROUND it would).
	/usr/sbin/apache2 -f "$conf" -k start >"$rd/apache2.out" 2>&1 </dev/null || { cat "$rd/apache2.out" >&2; die "apache2 did not start"; }
	i=0
	while [ ! -s "$rd/apache2.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -s "$rd/apache2.pid" ] || die "apache2 wrote no pidfile; see $rd/error.log"
	cp "$rd/apache2.pid" "$rd/stack.pid"
	set -- "$(cat "$rd/stack.pid")"
	wait_ready "$port" "$1" "$rd/error.log" || { stop "$rd"; exit 1; }
	echo "$(/usr/sbin/apache2 -v | sed -n 's/^Server version: //p') prefork + mod_wsgi $(dpkg-query -W -f='${Version}' libapache2-mod-wsgi-py3 2>/dev/null) on CPython, $DEMO_WORKERS processes, pid $(cat "$rd/stack.pid")"
}

stop() { stop_pidfile "$1/stack.pid"; }

stack_main start stop check "$@"
