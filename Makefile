# danemx - top-level Makefile: the commands a newcomer types.
#
#   make            build ./build/danemx
#   make deps       install the Debian packages (as root; idempotent)
#   make test       deps + build + every test under ASan/UBSan
#   make demo       deps + build + a local DNSSEC world, then show the log
#   make bench      benchmarks (danemx against the reference tools)
#   make fuzz       build libFuzzer targets and run each for FUZZ_SECONDS
#   make install    install into $(DESTDIR)$(PREFIX)

PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 60
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all build deps test test-asan demo bench fuzz install clean

all: build

build:
	@test -f build/CMakeCache.txt || cmake -S . -B build $(CMAKE_GEN) \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build build -j $(JOBS)

deps:
	@sh scripts/deps.sh

build-asan/CMakeCache.txt:
	cmake -S . -B build-asan $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug \
		-DDANEMX_SANITIZE=ON -DCMAKE_C_COMPILER=cc

test: deps
	$(MAKE) build
	$(MAKE) build-asan/CMakeCache.txt
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

demo: deps
	$(MAKE) build
	@sh scripts/demo.sh build

bench: deps
	$(MAKE) build
	@sh bench/run.sh build

fuzz: deps
	@test -f build-fuzz/CMakeCache.txt || cmake -S . -B build-fuzz $(CMAKE_GEN) \
		-DCMAKE_BUILD_TYPE=Debug -DDANEMX_FUZZ=ON -DCMAKE_C_COMPILER=clang
	cmake --build build-fuzz -j $(JOBS)
	@sh fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

install: build
	DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-fuzz
