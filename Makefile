# upload-filter: the nginx module, the hashdb tool, tests and benchmarks.
#
#   make            build build/ngx_http_upload_filter_module.so, build/hashdb
#   make run        install what is missing, build, start the demo
#   make test       install what is missing, build, run every test against
#                   the normal and the AddressSanitizer + UBSan builds
#   make test-asan  the sanitizer run alone
#   make bench      benchmarks (see bench/README.md)
#   make deb        the Debian packages, in build/deb/
#   make test-package  install them into the system's nginx, try, purge
#   make install    the module, hashdb, the sync units and manual pages
#                   (DESTDIR, PREFIX; the packages are the better way)

SHELL := /bin/bash

BUILD       ?= build
SANITIZE    ?=
NGX_SRC     ?= /usr/share/nginx/src

WARN        := -Wall -Wextra -Werror
comma       := ,
SAN_FLAGS   := $(if $(SANITIZE),-fsanitize=address$(comma)undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
CFLAGS      ?= -O2 -g
UF_CFLAGS   := -std=c11 -D_GNU_SOURCE $(WARN) $(SAN_FLAGS) -Ihashdb -Itools -Ingx_module
UF_LDFLAGS  := $(SAN_FLAGS)

HDB_SRCS    := $(wildcard hashdb/*.c)
HDB_LIBS    := -llmdb -lcrypto -lturbojpeg -lspng -lgif -lwebpdemux -lwebp \
               -lheif -ltiff -lavformat -lavcodec -lswscale -lavutil \
               -lz -lm -lpthread
HDB_HDRS    := $(wildcard hashdb/*.h)
TOOL_SRCS   := $(wildcard tools/*.c)
MOD_SRCS    := $(wildcard ngx_module/*.c) $(wildcard ngx_module/*.h)
# the body parsers and decoders: plain C, driven alone by tests and fuzzers
UF_SRCS     := $(wildcard ngx_module/uf_*.c)
UF_HDRS     := $(wildcard ngx_module/uf_*.h)
# the image decoders' fuzz targets: fuzz/fuzz_NAME.c each
IMG_FUZZ    := png gif webp heif bmp tiff video
UNIT_TESTS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c)) \
               $(BUILD)/unit/replay_multipart $(BUILD)/unit/replay_list \
               $(BUILD)/unit/replay_jpeg $(BUILD)/unit/replay_inspect \
               $(BUILD)/unit/replay_decoders $(BUILD)/unit/replay_ledger \
               $(BUILD)/unit/replay_feed $(BUILD)/unit/replay_pdq_index \
               $(patsubst %,$(BUILD)/unit/replay_%,$(IMG_FUZZ)) \
               $(BUILD)/unit/inspect_body \
               $(BUILD)/unit/jpeg_transform
FUZZ_SECONDS ?= 60

# packages a fresh Debian 12 machine needs (build, run, test, bench);
# the application parsers and clients of the differential test last
DEB_PKGS    := gcc make dpkg-dev perl curl nginx nginx-dev liblmdb-dev \
               lmdb-utils libssl-dev libturbojpeg0-dev libjpeg62-turbo-dev \
               zlib1g-dev libspng-dev libgif-dev libwebp-dev libheif-dev libtiff-dev \
               libcurl4-openssl-dev \
               libavformat-dev libavcodec-dev libswscale-dev ffmpeg \
               libheif-examples webp wrk \
               php-cgi python3-werkzeug python3-multipart python3-requests \
               golang-go nodejs npm chromium prometheus \
               debhelper lintian bash-completion

# what only "make bench" needs: faiss and a C++ compiler for the
# indexes bench/pdq_index.sh measures ours against
BENCH_PKGS  := python3-faiss g++

VERSION     := $(shell sed -n 's/^\#define HDB_VERSION *"\(.*\)"/\1/p' hashdb/hashdb.h)
PREFIX      ?= /usr/local
SYSTEMDDIR  ?= /lib/systemd/system
NGX_MODDIR  ?= /usr/lib/nginx/modules
MANPAGES    := $(BUILD)/man/hashdb.1 $(BUILD)/man/ngx_http_upload_filter_module.5

.PHONY: all tool module unit deps deps-fuzz deps-bench diff run stop test test-asan asan bench fuzz clean \
        man install install-tools install-module deb deb-deps test-package

all: tool module

tool: $(BUILD)/hashdb
module: $(BUILD)/ngx_http_upload_filter_module.so
unit: $(UNIT_TESTS)

$(BUILD)/hashdb: $(HDB_SRCS) $(HDB_HDRS) $(TOOL_SRCS) $(wildcard tools/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(UF_CFLAGS) -o $@ $(HDB_SRCS) $(TOOL_SRCS) \
	    $(LDFLAGS) $(UF_LDFLAGS) $(HDB_LIBS) -lcurl

$(BUILD)/unit/test_multipart $(BUILD)/unit/test_inspect: $(BUILD)/unit/%: \
        t/unit/%.c $(UF_SRCS) $(UF_HDRS) t/unit/tap.h
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(UF_CFLAGS) -It/unit -o $@ $< $(UF_SRCS) \
	    $(UF_LDFLAGS) -lz

$(BUILD)/unit/test_%: t/unit/test_%.c $(HDB_SRCS) $(HDB_HDRS) t/unit/tap.h
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(UF_CFLAGS) -It/unit -o $@ $< $(HDB_SRCS) \
	    $(UF_LDFLAGS) $(HDB_LIBS)

# what the filter makes of a body (objects and digests, or why refused)
$(BUILD)/unit/inspect_body: t/unit/inspect_body.c $(UF_SRCS) $(UF_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(UF_CFLAGS) -o $@ $< $(UF_SRCS) $(UF_LDFLAGS) -lz -lcrypto

# makes altered copies of benign JPEGs for the PDQ tests and bench/
$(BUILD)/unit/jpeg_transform: t/unit/jpeg_transform.c
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(UF_CFLAGS) -o $@ $< $(UF_LDFLAGS) -lturbojpeg

# The fuzz targets, replayed on the corpus and past crashers by the tests
$(BUILD)/unit/replay_multipart $(BUILD)/unit/replay_inspect \
$(BUILD)/unit/replay_decoders: \
        $(BUILD)/unit/replay_%: fuzz/fuzz_%.c fuzz/standalone.c $(UF_SRCS) $(UF_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(UF_CFLAGS) -o $@ fuzz/fuzz_$*.c fuzz/standalone.c \
	    $(UF_SRCS) $(UF_LDFLAGS) -lz

$(BUILD)/unit/replay_list: fuzz/fuzz_list.c fuzz/standalone.c tools/list_format.c \
                           tools/list_vpdq.c tools/list_format.h \
                           tools/list_vpdq.h $(HDB_SRCS) $(HDB_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(UF_CFLAGS) -o $@ fuzz/fuzz_list.c fuzz/standalone.c \
	    tools/list_format.c tools/list_vpdq.c $(HDB_SRCS) $(UF_LDFLAGS) \
	    $(HDB_LIBS)

$(BUILD)/unit/replay_ledger: fuzz/fuzz_ledger.c fuzz/standalone.c \
                             tools/ledger_parse.c $(HDB_SRCS) $(HDB_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(UF_CFLAGS) -o $@ fuzz/fuzz_ledger.c fuzz/standalone.c \
	    tools/ledger_parse.c $(HDB_SRCS) $(UF_LDFLAGS) $(HDB_LIBS)

$(BUILD)/unit/replay_feed: fuzz/fuzz_feed.c fuzz/standalone.c \
                           tools/feed_index.c tools/signature.c tools/feed.h \
                           tools/signature.h $(HDB_SRCS) $(HDB_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(UF_CFLAGS) -o $@ fuzz/fuzz_feed.c fuzz/standalone.c \
	    tools/feed_index.c tools/signature.c $(HDB_SRCS) $(UF_LDFLAGS) \
	    $(HDB_LIBS)

$(BUILD)/unit/replay_pdq_index: fuzz/fuzz_pdq_index.c fuzz/standalone.c \
                                $(HDB_SRCS) $(HDB_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(UF_CFLAGS) -o $@ fuzz/fuzz_pdq_index.c fuzz/standalone.c \
	    $(HDB_SRCS) $(UF_LDFLAGS) $(HDB_LIBS)

$(patsubst %,$(BUILD)/unit/replay_%,jpeg $(IMG_FUZZ)): $(BUILD)/unit/replay_%: \
        fuzz/fuzz_%.c fuzz/fuzz_image.h fuzz/standalone.c $(HDB_SRCS) $(HDB_HDRS)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) $(UF_CFLAGS) -o $@ $< fuzz/standalone.c \
	    $(HDB_SRCS) $(UF_LDFLAGS) $(HDB_LIBS)

# libFuzzer (clang): each target runs FUZZ_SECONDS; new inputs go to
# build-fuzz/corpus, crashers to fuzz/crashers/ (commit them: the tests
# replay them)
FUZZ_CC    := clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE \
              -Ihashdb -Itools -Ingx_module

build-fuzz/fuzz_multipart build-fuzz/fuzz_inspect \
build-fuzz/fuzz_decoders: build-fuzz/fuzz_%: \
        fuzz/fuzz_%.c $(UF_SRCS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ -lz

build-fuzz/fuzz_list: fuzz/fuzz_list.c tools/list_format.c tools/list_vpdq.c $(HDB_SRCS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(HDB_LIBS)

build-fuzz/fuzz_ledger: fuzz/fuzz_ledger.c tools/ledger_parse.c $(HDB_SRCS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(HDB_LIBS)

build-fuzz/fuzz_feed: fuzz/fuzz_feed.c tools/feed_index.c tools/signature.c \
                      $(HDB_SRCS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(HDB_LIBS)

build-fuzz/fuzz_pdq_index: fuzz/fuzz_pdq_index.c $(HDB_SRCS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(HDB_LIBS)

build-fuzz/fuzz_jpeg: fuzz/fuzz_jpeg.c $(HDB_SRCS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(HDB_LIBS)

$(patsubst %,build-fuzz/fuzz_%,$(IMG_FUZZ)): build-fuzz/fuzz_%: \
        fuzz/fuzz_%.c fuzz/fuzz_image.h $(HDB_SRCS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(HDB_SRCS) $(HDB_LIBS)

deps-fuzz:
	@command -v clang >/dev/null && test -n "$$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a | grep /)" \
	    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null; }

fuzz: deps-fuzz build-fuzz/fuzz_multipart build-fuzz/fuzz_inspect \
      build-fuzz/fuzz_decoders build-fuzz/fuzz_list \
      build-fuzz/fuzz_jpeg build-fuzz/fuzz_ledger build-fuzz/fuzz_feed \
      build-fuzz/fuzz_pdq_index $(patsubst %,build-fuzz/fuzz_%,$(IMG_FUZZ))
	@mkdir -p fuzz/crashers
	for t in multipart inspect decoders list jpeg ledger feed pdq_index $(IMG_FUZZ); do \
	    mkdir -p build-fuzz/corpus/$$t; \
	    ./build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        -artifact_prefix=fuzz/crashers/$$t- build-fuzz/corpus/$$t fuzz/corpus/$$t \
	        2>&1 | tail -12 || exit 1; \
	done

# The module is built with nginx's own build system, against a copy of the
# nginx-dev tree (or NGX_SRC, an upstream nginx source tree of the same
# version as the nginx binary that loads the module).
NGX_CC_OPT := $(shell dpkg-buildflags --get CFLAGS 2>/dev/null) -fPIC \
              $(shell dpkg-buildflags --get CPPFLAGS 2>/dev/null) $(WARN) $(SAN_FLAGS)
NGX_LD_OPT := $(shell dpkg-buildflags --get LDFLAGS 2>/dev/null) -fPIC $(SAN_FLAGS)

$(BUILD)/nginx/Makefile: config
	@test -d $(NGX_SRC) || { echo "no nginx source at $(NGX_SRC):" \
	    "apt-get install nginx-dev, or make NGX_SRC=/path/to/nginx"; exit 1; }
	rm -rf $(BUILD)/nginx-src $(BUILD)/nginx
	mkdir -p $(BUILD)/nginx
	cp -r $(NGX_SRC) $(BUILD)/nginx-src
	cd $(BUILD)/nginx-src && \
	if [ -f conf_flags ]; then . ./conf_flags; else NGX_CONF_FLAGS=(--with-compat); fi; \
	if [ -x configure ]; then cfg=./configure; else cfg=./auto/configure; fi; \
	$$cfg --with-cc-opt="$(NGX_CC_OPT)" --with-ld-opt="$(NGX_LD_OPT)" \
	    "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(CURDIR) \
	    --builddir=$(abspath $(BUILD))/nginx > $(abspath $(BUILD))/configure.log \
	    || { cat $(abspath $(BUILD))/configure.log; exit 1; }

$(BUILD)/ngx_http_upload_filter_module.so: $(BUILD)/nginx/Makefile $(MOD_SRCS) \
                                           $(HDB_SRCS) $(HDB_HDRS)
	$(MAKE) -s -f $(abspath $(BUILD))/nginx/Makefile -C $(BUILD)/nginx-src modules
	@# a new file, not the old one rewritten: a running nginx maps it
	cp $(BUILD)/nginx/ngx_http_upload_filter_module.so $@.tmp
	mv -f $@.tmp $@

$(BUILD)/bench/%: bench/%.c bench/bench_time.h $(HDB_SRCS) $(HDB_HDRS)
	@mkdir -p $(BUILD)/bench
	$(CC) $(CFLAGS) $(UF_CFLAGS) -Ibench -o $@ $< $(HDB_SRCS) $(UF_LDFLAGS) $(HDB_LIBS)

asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 all unit

# the parsers of the differential test (t/48): Go's, built here, and
# busboy from npm (Debian has no package of it)
diff: build/diff/goparser build/npm/node_modules/busboy

build/diff/goparser: t/diff/goparser.go
	@mkdir -p build/diff
	cd t/diff && GOCACHE=$(CURDIR)/build/diff/gocache GOPATH=$(CURDIR)/build/diff/gopath \
	    GO111MODULE=off go build -o $(CURDIR)/$@ goparser.go

build/npm/node_modules/busboy:
	@mkdir -p build/npm
	npm install --prefix build/npm --no-audit --no-fund --silent busboy@1.6.0

# Installs the Debian packages that are missing (needs root and apt).
# Node and npm may come with the image from elsewhere than Debian (a
# nodesource nodejs bundles npm and conflicts with Debian's): a command
# that is there counts as installed.
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
	    case $$p in nodejs) c=node ;; npm) c=npm ;; *) c= ;; esac; \
	    if [ -n "$$c" ] && command -v $$c >/dev/null; then continue; fi; \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    if [ $$(id -u) != 0 ]; then echo "run as root, or: apt-get install" $$missing; exit 1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

run: deps all $(BUILD)/unit/jpeg_transform
	./demo/run.sh

stop:
	./demo/run.sh stop

# every test twice: against the normal build, then the sanitizer build
test: deps all unit asan diff
	prove t/
	UF_BUILD=build-asan prove t/

test-asan: deps asan diff
	UF_BUILD=build-asan prove t/

deps-bench:
	@missing=$$(for p in $(BENCH_PKGS); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

bench: deps deps-bench all $(BUILD)/bench/pdq_cost $(BUILD)/bench/pdq_index \
       $(BUILD)/bench/media_cost $(BUILD)/unit/jpeg_transform
	./bench/run.sh
	./bench/sync.sh
	$(BUILD)/bench/pdq_cost t/data/pdq-vectors/images/dih--bridge-1-original.jpg
	./bench/media_cost.sh
	./bench/pdq_latency.sh
	./bench/pdq_robustness.sh
	./bench/vpdq.sh
	./bench/decode_priority.sh
	./bench/pdq_index.sh
	./bench/cold_set.sh
	./bench/responses.sh
	./bench/feed.sh
	DURATION=120 ./bench/soak.sh
	SEEDS=3 ./bench/differential.sh

# the manual pages are sections of README.md
man: $(MANPAGES)

$(BUILD)/man/hashdb.1: README.md deploy/readme2man.pl hashdb/hashdb.h
	@mkdir -p $(BUILD)/man
	perl deploy/readme2man.pl $(VERSION) README.md hashdb > $@.tmp && mv $@.tmp $@

$(BUILD)/man/ngx_http_upload_filter_module.5: README.md deploy/readme2man.pl hashdb/hashdb.h
	@mkdir -p $(BUILD)/man
	perl deploy/readme2man.pl $(VERSION) README.md module > $@.tmp && mv $@.tmp $@

install: install-tools install-module

install-tools: tool man
	install -D -m 0755 $(BUILD)/hashdb $(DESTDIR)$(PREFIX)/bin/hashdb
	install -D -m 0755 deploy/upload-filter-sync.sh \
	    $(DESTDIR)$(PREFIX)/libexec/upload-filter/upload-filter-sync
	mkdir -p '$(DESTDIR)$(SYSTEMDDIR)'
	sed 's|/usr/libexec/|$(PREFIX)/libexec/|' 'deploy/upload-filter-sync@.service' \
	    > '$(DESTDIR)$(SYSTEMDDIR)/upload-filter-sync@.service'
	chmod 0644 '$(DESTDIR)$(SYSTEMDDIR)/upload-filter-sync@.service'
	install -D -m 0644 'deploy/upload-filter-sync@.timer' \
	    '$(DESTDIR)$(SYSTEMDDIR)/upload-filter-sync@.timer'
	install -D -m 0644 $(BUILD)/man/hashdb.1 $(DESTDIR)$(PREFIX)/share/man/man1/hashdb.1
	install -D -m 0644 deploy/hashdb.bash-completion \
	    $(DESTDIR)$(PREFIX)/share/bash-completion/completions/hashdb
	install -D -m 0644 deploy/source.conf \
	    $(DESTDIR)$(PREFIX)/share/doc/upload-filter-tools/examples/source.conf

install-module: module man
	install -D -m 0644 $(BUILD)/ngx_http_upload_filter_module.so \
	    $(DESTDIR)$(NGX_MODDIR)/ngx_http_upload_filter_module.so
	install -D -m 0644 $(BUILD)/man/ngx_http_upload_filter_module.5 \
	    $(DESTDIR)$(PREFIX)/share/man/man5/ngx_http_upload_filter_module.5

# The packages, built by dpkg-buildpackage (debhelper and nginx-dev's
# dh-sequence-nginx, as Debian builds its libnginx-mod-* packages) in a
# copy of the source without the build trees; the .debs land in build/deb/
deb: deb-deps
	rm -rf $(BUILD)/deb
	mkdir -p $(BUILD)/deb/upload-filter-$(VERSION)
	tar -c --exclude-vcs --exclude='./build*' --exclude=./run -f - . \
	    | tar -x -C $(BUILD)/deb/upload-filter-$(VERSION) -f -
	cd $(BUILD)/deb/upload-filter-$(VERSION) && \
	    dpkg-buildpackage -b -us -uc > ../build.log 2>&1 \
	    || { tail -40 ../build.log; exit 1; }
	lintian --fail-on error,warning $(BUILD)/deb/*.changes
	@ls $(BUILD)/deb/*.deb

# the packages' build dependencies (debian/control) and lintian, when
# missing: apt-get build-dep reads debian/control
deb-deps:
	@if ! { command -v dpkg-checkbuilddeps >/dev/null && dpkg-checkbuilddeps 2>/dev/null \
	        && command -v lintian >/dev/null; }; then \
	    if [ $$(id -u) != 0 ]; then echo "run as root, or: apt-get build-dep ./ && apt-get install lintian"; exit 1; fi; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev lintian >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq ./ >/dev/null; \
	fi

# installs the packages into this machine's nginx, blocks and passes an
# upload through it, purges them (CI runs it after make test; it changes
# the system: a machine of its own)
test-package: deb tool
	prove t/package/

clean:
	rm -rf build build-asan build-fuzz
