# tierprobe - plain Makefile. `make` builds build/tierprobe; `make test` installs
# what is missing, builds, and runs every test (see README.md).

BUILD    ?= build
CC       ?= cc
PKGS     := libpcap libbson-1.0 libmongoc-1.0 snappy libzstd zlib libproc2 libsystemd inih libcap
WARN     := -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla
OPT      ?= -O2 -g
SAN      ?=
CPPFLAGS := -D_GNU_SOURCE -Iinclude $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   := $(WARN) $(OPT) $(SAN) -MMD -MP
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
PREFIX   ?= /usr/local
DESTDIR  ?=

LIB_SRC  := $(sort $(wildcard collectors/*.c) $(filter-out probe/main.c,$(wildcard probe/*.c)))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all test unit golden integration asan fuzz bench install clean deps demo check-tools

all: $(BUILD)/tierprobe

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libtierprobe.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tierprobe: $(BUILD)/probe/main.o $(BUILD)/libtierprobe.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(BUILD)/libtierprobe.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libtierprobe.a $(LDLIBS) -lcmocka

# Installs the Debian packages the build and the tests need, only those missing.
deps:
	@scripts/deps.sh

unit: $(TESTS)
	@scripts/run-unit.sh $(TESTS)

golden: all
	@/usr/bin/python3 tests/golden/run.py --bin $(BUILD)/tierprobe
	@/usr/bin/python3 tests/golden/own.py --bin $(BUILD)/tierprobe

integration: all
	@scripts/run-integration.sh $(BUILD)/tierprobe

# The whole suite: what CI runs (.ci/run).
test: deps
	@$(MAKE) --no-print-directory all unit golden
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory integration

# The unit and golden tests again under AddressSanitizer + UBSan, in their own build tree.
asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all unit golden

# libFuzzer targets (clang); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 20
fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_SRC)

bench: all
	@scripts/bench.sh $(BUILD)/tierprobe

demo: deps all
	@scripts/demo.sh $(BUILD)/tierprobe

demo-compare: deps all
	@scripts/demo-compare.sh $(BUILD)/tierprobe

SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     ?= $(PREFIX)/share/doc/tierprobe

# The binary, the systemd unit (paths filled in), the example config and the README.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/tierprobe $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BUILD)/tierprobe $(DESTDIR)$(PREFIX)/bin/tierprobe
	sed -e 's#@BINDIR@#$(PREFIX)/bin#g' -e 's#@DOCDIR@#$(DOCDIR)#g' systemd/tierprobe.service \
		> $(DESTDIR)$(UNITDIR)/tierprobe.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tierprobe.service
	install -m 0644 systemd/tierprobe.conf.example $(DESTDIR)$(SYSCONFDIR)/tierprobe/tierprobe.conf.example
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
