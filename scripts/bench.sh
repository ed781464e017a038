#!/bin/sh
# make bench: speed and memory targets, measured side by side in one run (not a timed test).
set -eu
BIN=${1:-build/tierprobe}
mkdir -p build/bench
cc -O2 -o build/bench/pcap_loop tests/bench/pcap_loop.c $(pkg-config --cflags --libs libpcap)
exec /usr/bin/python3 tests/bench/bench.py --bin "$BIN" --loop build/bench/pcap_loop
