#!/bin/sh
# make demo: until the live demo (issue 6) lands, analyse bundled real captures and print the tables.
set -eu
BIN=${1:-build/tierprobe}
OUT=demo-out
PEER=../shared/peer/packetbeat
rm -rf "$OUT"
if [ -f "$PEER/wsgi_drum.pcap" ]; then
	echo "== tierprobe analyze: a WSGI application (wsgi_drum.pcap, port 8888)"
	"$BIN" analyze --http-ports 8888 -o "$OUT/wsgi" "$PEER/wsgi_drum.pcap"
	echo
	echo "== tierprobe analyze: a MongoDB 3.0 shell session (mongo_3.0_session.pcap)"
	"$BIN" analyze -o "$OUT/mongo" "$PEER/mongo_3.0_session.pcap"
	echo
	echo "== routes.csv"; cat "$OUT/wsgi/routes.csv"
	echo "== shapes.csv"; cat "$OUT/mongo/shapes.csv"
	echo "outputs are in $OUT/"
else
	echo "demo: the sample captures in $PEER are not here" >&2
	exit 1
fi
