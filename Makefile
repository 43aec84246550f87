# The two commands of the README, plus the developer targets behind them.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(DESTDIR)$(PREFIX)/bin
CONFDIR = $(DESTDIR)/etc/runguard

.PHONY: all deps build test test-asan unit-test integration-test demo bench fuzz install install-files clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)

# Every test: unit tests and the integration suites (real runc, as root).
test: build
	@ctest --test-dir $(BUILD) --output-on-failure --timeout 600

# The unit and integration suites again, built with AddressSanitizer + UndefinedBehaviorSanitizer;
# a report from any runguard process fails it (scripts/test_asan.sh, docs/reliability.md).
ASAN_BUILD ?= build-asan
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DRUNGUARD_SANITIZE=ON \
	  -DRUNGUARD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD)
	@scripts/test_asan.sh $(ASAN_BUILD)

unit-test: build
	@ctest --test-dir $(BUILD) --output-on-failure -LE integration

integration-test: build
	@ctest --test-dir $(BUILD) --output-on-failure -L integration

# The main job: one insecure container hardened by runguard, one refused.
demo: build
	@scripts/demo.sh $(BUILD)/bin

# Every benchmark (lifecycle ratios against plain runc, userns, monitor, containerd, agent, secrets,
# attestation); regenerates docs/benchmarks.md with the machine and the commands (scripts/bench_all.sh).
bench: build
	@scripts/bench_all.sh $(BUILD)/bin

# libFuzzer targets (clang-14, ASan + UBSan) over the parsers, FUZZ_SECONDS each (docs/reliability.md).
FUZZ_SECONDS ?= 60
fuzz: deps
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DRUNGUARD_FUZZ=ON \
	  -DBUILD_TESTING=OFF -DRUNGUARD_BENCH=OFF >/dev/null
	@cmake --build build-fuzz --target fuzz_spec fuzz_policy fuzz_runc_args fuzz_rules fuzz_listener fuzz_frame fuzz_attest fuzz_hook fuzz_vault fuzz_agent fuzz_replies
	@scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

# Binaries to $(PREFIX)/bin (runguard-hook and runguard-monitor next to runguard: create adds the
# hook as a poststop hook and starts the monitor from there; runguardd, the optional agent),
# the built-in defaults as /etc/runguard/policy.yaml unless a policy is already there.
install: build install-files

# The copying alone, for an existing build (and the install test, which must not rebuild).
install-files:
	install -d $(BINDIR) $(CONFDIR)
	install -m 0755 $(BUILD)/bin/runguard $(BUILD)/bin/runguard-hook $(BUILD)/bin/runguard-monitor \
	  $(BUILD)/bin/runguardctl $(BUILD)/bin/runguardd $(BINDIR)/
	@if [ -e $(CONFDIR)/policy.yaml ]; then \
	  echo "install: keeping existing $(CONFDIR)/policy.yaml (new defaults: profiles/policies/default.yaml)"; \
	else \
	  install -m 0644 profiles/policies/default.yaml $(CONFDIR)/policy.yaml; \
	fi

clean:
	rm -rf $(BUILD)

# Create/start/stop/delete cycles through containerd, full policy, SOAK_SECONDS; growth verdict (docs/reliability.md).
SOAK_SECONDS ?= 600
.PHONY: soak
soak: build
	@python3 scripts/soak.py $(BUILD)/bin --seconds $(SOAK_SECONDS)
