#!/bin/sh
# Installs the Debian packages tierprobe's build, tests and demo need - only the
# missing ones, so a machine that has them all is not touched (and needs no network).
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libpcap-dev libbson-dev libmongoc-dev libsnappy-dev zlib1g-dev libzstd-dev
libproc2-dev libsystemd-dev libinih-dev libcap-dev libcmocka-dev
tshark tcpdump curl iproute2 procps ethtool wrk
python3 python3-flask python3-pymongo python3-mongomock python3-zstandard python3-snappy gunicorn
python3-pymongo-ext python3-bson-ext
python3-twisted apache2-bin libapache2-mod-wsgi-py3 pypy3"
# python3-pymongo-ext / -bson-ext are only Recommends of python3-pymongo, which this script does not
# install: without them pymongo encodes and decodes BSON in pure Python, and the attribution test's
# ground truth (the driver's own clock) would count that CPU time as database time.
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: need root to install:$missing (run: sudo apt-get install$missing)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
