#!/bin/sh
# make fuzz: builds every libFuzzer target in tests/fuzz/ with clang (ASan + UBSan) against
# the project's sources and runs each for SECONDS. Crashes are kept in build-fuzz/.
set -eu
SECONDS_EACH=${1:-20}
shift
mkdir -p build-fuzz
SRC=$(ls collectors/*.c probe/*.c | grep -v '^probe/main.c$')
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE -Iinclude"
PKGS="libpcap libbson-1.0 libmongoc-1.0 snappy libzstd zlib libproc2 libsystemd inih libcap"
fail=0
for t in "$@"; do
	name=$(basename "$t" .c)
	echo "== $name: building"
	clang $CFLAGS $(pkg-config --cflags $PKGS) -o "build-fuzz/$name" "$t" $SRC \
		$(pkg-config --libs $PKGS) -lpthread -lm
	mkdir -p "build-fuzz/$name.corpus"
	echo "== $name: fuzzing for $SECONDS_EACH s"
	if (cd build-fuzz && "./$name" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
		"$name.corpus" >"$name.log" 2>&1); then
		grep -E 'number_of_executed_units|peak_rss' "build-fuzz/$name.log"
	else
		tail -30 "build-fuzz/$name.log"
		echo "FAIL $name (crash input in build-fuzz/)"; fail=1
	fi
done
exit $fail
