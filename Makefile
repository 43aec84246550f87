# The two commands of the README, plus the developer targets behind them.
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
CMAKE_FLAGS ?=

.PHONY: all deps build test unit-test integration-test demo bench clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD)

# Every test: unit tests and the integration suites (real runc, as root).
test: build
	@ctest --test-dir $(BUILD) --output-on-failure --timeout 600

unit-test: build
	@ctest --test-dir $(BUILD) --output-on-failure -LE integration

integration-test: build
	@ctest --test-dir $(BUILD) --output-on-failure -L integration

# The main job: one insecure container hardened by runguard, one refused.
demo: build
	@scripts/demo.sh $(BUILD)/bin

# Lifecycle ratios against plain runc and in-process policy evaluation (docs/benchmarks.md).
bench: build
	@scripts/bench.sh $(BUILD)/bin

clean:
	rm -rf $(BUILD)
