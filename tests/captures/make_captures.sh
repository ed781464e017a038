#!/bin/bash
# Regenerates tierprobe's own captures (tests/captures/*.pcap) and their tshark references
# (*.tshark.pdus.tsv, *.tshark_http.tsv): what the peer captures lack (../shared/peer/README.md
# section 7). Real servers and real clients, in network namespaces this script creates (so
# nothing else on the machine ends up in a capture and the ports cannot clash), captured with
# tcpdump (snaplen 0, -U, bounded by timeout). Everything is stopped and deleted on exit.
#
#   tests/captures/make_captures.sh [OUTDIR]      (root: ip netns, tcpdump; default OUTDIR here)
#
# Servers: tests/captures/http_app.py (stdlib http.server, HTTP/1.1 keep-alive, Content-Length
# and chunked responses) on port 8000; tests/mongo_server/mongo_server.py (the project's
# MongoDB-wire test server, offering zlib,zstd,snappy) on port 27017.
# Clients: curl (keep-alive: one curl, several URLs, one connection); http_pipeline.py (raw
# socket: no mainstream client pipelines any more - curl removed it in 7.65 - so it writes 4
# requests in ONE write); Debian's python3-pymongo 3.11 (mongo_client.py); libmongoc 1.23
# (tests/mongo_server/ss_check.c, serverStatus with zstd).
#
# Captures:
#   http_pipelined.pcap     pipelined GET/GET(chunked)/POST/GET(404) + curl keep-alive x3
#   mongo_kind1.pcap        pymongo insert_many (OP_MSG kind-1 sequence), find, update_many...
#   mongo_more_to_come.pcap pymongo w=0 writes: OP_MSG moreToCome, never answered
#   mongo_exhaust.pcap      pymongo exhaust cursor. pymongo 3.11 sends exhaust finds as legacy
#                           OP_QUERY with the exhaust flag and a stream of OP_REPLY, each reply
#                           answering the previous one.
#   mongo_op_msg_exhaust.pcap  the npm `mongodb` driver 6.x (node_monitor.js): its server monitor's
#                           streaming hello, an OP_MSG exhaust stream (exhaustAllowed request,
#                           moreToCome replies every heartbeat), beside an insert and two finds.
#                           No client here uses OP_MSG exhaust for cursors (pymongo 3.11 and
#                           libmongoc 1.23 use the legacy form). Needs TIERPROBE_NODE_MODULES (a
#                           node_modules holding mongodb@6); skipped without it.
#   mongo_zlib.pcap, mongo_zstd.pcap   pymongo compressors=zlib / zstd (OP_COMPRESSED ids 2 / 3)
#   mongo_libmongoc.pcap    libmongoc handshake + serverStatus, compressors=zstd
#   http_ipv6.pcap, mongo_ipv6.pcap    the same kind of traffic over ::1
#   http_vlan.pcap          curl in one namespace, the server in another, every frame between
#                           them tagged VLAN 100 on a trunk veth where it is captured (the
#                           tagging is userspace, vlan_relay.py: this kernel lacks 802.1Q)
#   any_sll2.pcap           tcpdump -i any -y LINUX_SLL2: curl + pymongo together
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3            # Debian's: pymongo, zstandard, snappy
OUT=$(mkdir -p "${1:-$HERE}" && cd "${1:-$HERE}" && pwd)
TMP=$(mktemp -d /tmp/tp-captures.XXXXXX)
NS=tpcap$$ NSA=tpcapa$$ NSM=tpcapm$$ NSB=tpcapb$$
PIDS=()
HP=8000 MP=27017

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	for n in $NS $NSA $NSM $NSB; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die() { echo "make_captures: $*" >&2; exit 1; }
for t in tcpdump tshark curl ip gcc ethtool; do command -v $t >/dev/null || die "$t missing"; done
[ "$(id -u)" -eq 0 ] || die "needs root (ip netns, tcpdump)"

# bg NS LOG CMD... : start CMD in namespace NS in the background, remember its pid.
bg() {
	local ns=$1 log=$2; shift 2
	ip netns exec "$ns" "$@" >"$TMP/$log.out" 2>"$TMP/$log.err" &
	PIDS+=($!)
}
# wait_port NS HOST PORT : until something accepts there (10 s bound).
wait_port() {
	ip netns exec "$1" "$PY" - "$2" "$3" <<'PYEOF' || die "nothing listening on $2:$3 in $1"
import socket, sys, time
end = time.monotonic() + 10
while True:
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > end:
            sys.exit(1)
        time.sleep(0.05)
PYEOF
}
# stop PID : stop one server we started.
stop() {
	kill "$1" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null || true
}
# cap_start NS IFACE NAME FILTER [tcpdump options] : capture into $TMP/NAME (-G 30 -W 1: tcpdump
# stops by itself after 30 s).
CAP_PID=
cap_start() {
	local ns=$1 ifc=$2 name=$3 filter=$4; shift 4
	ip netns exec "$ns" tcpdump -i "$ifc" -s 0 -U -n -G 30 -W 1 "$@" -w "$TMP/$name" "$filter" \
		2>"$TMP/$name.tcpdump" &
	CAP_PID=$!
	PIDS+=($CAP_PID)
	for _ in $(seq 100); do grep -q "listening on" "$TMP/$name.tcpdump" && break; sleep 0.05; done
	grep -q "listening on" "$TMP/$name.tcpdump" || die "tcpdump did not start: $(cat "$TMP/$name.tcpdump")"
}
# cap_stop NAME : let the last packets arrive, stop tcpdump, move the file to OUT.
cap_stop() {
	# TPACKET_V3 hands packets over in blocks retired after a timeout: wait for it. (Not
	# --immediate-mode: with it this libpcap 1.10.3 dropped a third of a loopback burst.)
	sleep 1.5
	kill -TERM "$CAP_PID"  # (not INT: a background job of a script ignores SIGINT)
	wait "$CAP_PID" || true
	grep -q "^0 packets dropped by kernel" "$TMP/$1.tcpdump" || die "$1: drops: $(cat "$TMP/$1.tcpdump")"
	mv "$TMP/$1" "$OUT/$1"
	echo "make_captures: $1: $(grep -o '[0-9]* packets captured' "$TMP/$1.tcpdump")" >&2
}
in_ns() { ip netns exec "$NS" "$@"; }

ip netns add $NS
ip -n $NS link set lo up

# ---- servers on loopback (IPv4 and IPv6) ------------------------------------------------
bg $NS http4 "$PY" "$HERE/http_app.py" --bind 127.0.0.1 --port $HP
bg $NS http6 "$PY" "$HERE/http_app.py" --bind ::1 --port $HP
HTTP6_PID=${PIDS[-1]}
wait_port $NS 127.0.0.1 $HP
wait_port $NS ::1 $HP

start_mongo() { # BIND -> MONGO_PID
	bg $NS "mongo-$1" "$PY" "$ROOT/tests/mongo_server/mongo_server.py" --bind "$1" --port $MP \
		--compressors zlib,zstd,snappy
	MONGO_PID=${PIDS[-1]}
	wait_port $NS "$1" $MP
}
mongo_cap() { # NAME SCENARIO : one pymongo run on a fresh server, one capture
	start_mongo 127.0.0.1
	cap_start $NS lo "$1" "tcp port $MP"
	in_ns "$PY" "$HERE/mongo_client.py" "$2" 127.0.0.1 $MP
	cap_stop "$1"
	stop "$MONGO_PID"
}

# ---- the npm driver: OP_MSG exhaust (streaming hello) -----------------------------------------
npm_cap() {
	if [ ! -d "${TIERPROBE_NODE_MODULES:-}/mongodb" ] || ! command -v node >/dev/null; then
		echo "make_captures: mongo_op_msg_exhaust.pcap skipped (node or TIERPROBE_NODE_MODULES/mongodb missing)" >&2
		return 0
	fi
	start_mongo 127.0.0.1
	cap_start $NS lo mongo_op_msg_exhaust.pcap "tcp port $MP"
	in_ns env NODE_PATH="$TIERPROBE_NODE_MODULES" node "$HERE/node_monitor.js" 127.0.0.1 $MP
	cap_stop mongo_op_msg_exhaust.pcap
	stop "$MONGO_PID"
}
# ONLY=npm: just this capture (the others need no npm package and rarely change).
if [ "${ONLY:-}" = npm ]; then
	npm_cap
	[ -f "$OUT/mongo_op_msg_exhaust.pcap" ] && "$PY" "$HERE/tshark_ref.py" mongo "$OUT/mongo_op_msg_exhaust.pcap" $MP
	exit 0
fi

# ---- HTTP: pipelined + keep-alive ---------------------------------------------------------
cap_start $NS lo http_pipelined.pcap "tcp port $HP"
in_ns "$PY" "$HERE/http_pipeline.py" 127.0.0.1 $HP
in_ns curl -sS --http1.1 -o /dev/null -o /dev/null -o /dev/null \
	http://127.0.0.1:$HP/items/2 http://127.0.0.1:$HP/stream http://127.0.0.1:$HP/nope
cap_stop http_pipelined.pcap

# ---- MongoDB with pymongo ------------------------------------------------------------------
mongo_cap mongo_kind1.pcap kind1
mongo_cap mongo_more_to_come.pcap more_to_come
mongo_cap mongo_exhaust.pcap exhaust
mongo_cap mongo_zlib.pcap zlib
mongo_cap mongo_zstd.pcap zstd

# ---- libmongoc -------------------------------------------------------------------------------
gcc -O1 -o "$TMP/ss_check" "$ROOT/tests/mongo_server/ss_check.c" \
	$(pkg-config --cflags --libs libmongoc-1.0)
start_mongo 127.0.0.1
cap_start $NS lo mongo_libmongoc.pcap "tcp port $MP"
in_ns "$TMP/ss_check" "mongodb://127.0.0.1:$MP/?compressors=zstd&appname=tierprobe-captures"
cap_stop mongo_libmongoc.pcap
stop "$MONGO_PID"

npm_cap

# ---- IPv6 -------------------------------------------------------------------------------------
cap_start $NS lo http_ipv6.pcap "tcp port $HP"
in_ns curl -sS -g --http1.1 -o /dev/null -o /dev/null http://[::1]:$HP/items/7 http://[::1]:$HP/stream
in_ns "$PY" "$HERE/http_pipeline.py" ::1 $HP
cap_stop http_ipv6.pcap
stop "$HTTP6_PID"
start_mongo ::1
cap_start $NS lo mongo_ipv6.pcap "tcp port $MP"
in_ns "$PY" "$HERE/mongo_client.py" basic ::1 $MP
cap_stop mongo_ipv6.pcap
stop "$MONGO_PID"

# ---- Linux cooked v2 on "any": HTTP and MongoDB together -------------------------------------
start_mongo 127.0.0.1
cap_start $NS any any_sll2.pcap "tcp port $HP or tcp port $MP" -y LINUX_SLL2
in_ns curl -sS --http1.1 -o /dev/null http://127.0.0.1:$HP/items/3
in_ns "$PY" "$HERE/mongo_client.py" basic 127.0.0.1 $MP
cap_stop any_sll2.pcap
stop "$MONGO_PID"

# ---- 802.1Q: client and server namespaces joined through a tagging trunk ----------------------
# The kernel here has no VLAN support (no CONFIG_VLAN_8021Q: "ip link add link veth0 name
# veth0.100 type vlan id 100" fails with "Unknown device type"; no bridge VLAN filtering, no tc
# vlan action), so vlan_relay.py tags and untags in a middle namespace and the capture is taken
# on its trunk veth: the client's and the server's own TCP/IP stacks and programs are real.
ip netns add $NSA
ip netns add $NSM
ip netns add $NSB
ip -n $NSA link add veth0 type veth peer name veth1 netns $NSM
ip -n $NSB link add veth3 type veth peer name veth2 netns $NSM
ip -n $NSM link add trunk0 type veth peer name trunk1
for i in veth1 veth2 trunk0 trunk1; do ip -n $NSM link set $i up; done
ip -n $NSA addr add 10.231.100.1/24 dev veth0
ip -n $NSB addr add 10.231.100.2/24 dev veth3
ip -n $NSA link set veth0 up
ip -n $NSB link set veth3 up
ip -n $NSA link set lo up
ip -n $NSB link set lo up
# Frames leave the ends MTU-sized with their checksums filled in, so the relay can forward them.
ip netns exec $NSA ethtool -K veth0 tx off tso off gso off >/dev/null
ip netns exec $NSB ethtool -K veth3 tx off tso off gso off >/dev/null
bg $NSM relay "$PY" "$HERE/vlan_relay.py" 100
for _ in $(seq 100); do grep -q "up" "$TMP/relay.out" && break; sleep 0.05; done
grep -q "up" "$TMP/relay.out" || die "vlan_relay did not start: $(cat "$TMP/relay.err")"
bg $NSB httpv "$PY" "$HERE/http_app.py" --bind 10.231.100.2 --port $HP
wait_port $NSB 10.231.100.2 $HP
wait_port $NSA 10.231.100.2 $HP
cap_start $NSM trunk0 http_vlan.pcap "vlan and tcp port $HP"
ip netns exec $NSA curl -sS --http1.1 -o /dev/null -o /dev/null \
	http://10.231.100.2:$HP/items/5 http://10.231.100.2:$HP/stream
cap_stop http_vlan.pcap
n=$(tshark -r "$OUT/http_vlan.pcap" -Y "vlan.id == 100" 2>/dev/null | wc -l)
m=$(tshark -r "$OUT/http_vlan.pcap" 2>/dev/null | wc -l)
[ "$n" -gt 0 ] && [ "$n" -eq "$m" ] || die "http_vlan.pcap: $n of $m frames tagged VLAN 100"
echo "make_captures: http_vlan.pcap: all $n frames carry 802.1Q VLAN 100" >&2

# ---- tshark references --------------------------------------------------------------------------
for f in http_pipelined http_ipv6 http_vlan any_sll2; do
	"$PY" "$HERE/tshark_ref.py" http "$OUT/$f.pcap" $HP
done
for f in mongo_kind1 mongo_more_to_come mongo_exhaust mongo_zlib mongo_zstd mongo_libmongoc \
	mongo_ipv6 any_sll2; do
	"$PY" "$HERE/tshark_ref.py" mongo "$OUT/$f.pcap" $MP
done
[ -f "$OUT/mongo_op_msg_exhaust.pcap" ] && "$PY" "$HERE/tshark_ref.py" mongo "$OUT/mongo_op_msg_exhaust.pcap" $MP
ls -l "$OUT"/*.pcap >&2
