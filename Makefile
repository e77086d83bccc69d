# danemx - top-level Makefile: the commands a newcomer types.
#
#   make            build ./build/danemx
#   make deps       install the Debian packages (as root; idempotent)
#   make test       deps + build + every test under ASan/UBSan
#   make demo       deps + build + a local DNSSEC world, then show the log
#   make bench      benchmarks (danemx against the reference tools)
#
# test, demo and bench run in a private network namespace with only
# loopback (scripts/netns.sh; DANEMX_NETNS=0 turns that off).
#   make fuzz       build libFuzzer targets and run each for FUZZ_SECONDS
#   make install    install into $(DESTDIR)$(PREFIX)

PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 60
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all build build-asan deps test demo bench fuzz install clean

# configure DIR CMAKE-ARGS: configure DIR unless it holds a complete
# configuration (a cache and the generated build file). A configure that
# failed leaves no build file, so the next make configures again; the old
# cache goes first, so a changed generator or compiler is never a trap.
configure = @if [ ! -f $(1)/CMakeCache.txt ] || \
	{ [ ! -f $(1)/build.ninja ] && [ ! -f $(1)/Makefile ]; }; then \
	rm -rf $(1)/CMakeCache.txt $(1)/CMakeFiles; \
	echo "cmake -S . -B $(1) $(CMAKE_GEN) $(2)"; \
	cmake -S . -B $(1) $(CMAKE_GEN) $(2) || { rm -f $(1)/CMakeCache.txt; exit 1; }; \
	fi

all: build

build:
	$(call configure,build,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX))
	cmake --build build -j $(JOBS)

deps:
	@sh scripts/deps.sh

build-asan:
	$(call configure,build-asan,-DCMAKE_BUILD_TYPE=Debug -DDANEMX_SANITIZE=ON -DCMAKE_C_COMPILER=cc)
	cmake --build build-asan -j $(JOBS)

test: deps
	$(MAKE) build
	$(MAKE) build-asan
	cd build-asan && sh ../scripts/netns.sh ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

demo: deps
	$(MAKE) build
	@sh scripts/netns.sh sh scripts/demo.sh build

bench: deps
	$(MAKE) build
	@sh scripts/netns.sh sh bench/run.sh build

fuzz: deps
	$(call configure,build-fuzz,-DCMAKE_BUILD_TYPE=Debug -DDANEMX_FUZZ=ON -DCMAKE_C_COMPILER=clang)
	cmake --build build-fuzz -j $(JOBS)
	@sh fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

install: build
	DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

clean:
	@for w in build-asan/world build/demo-world build/bench-world; do \
		[ ! -L $$w ] || sh tests/world/world.sh clean $$w; done
	rm -rf build build-asan build-fuzz
