# Thin wrapper over CMake. `make demo` and `make test` work on a fresh Debian 12 machine: they install what is
# missing first (Debian packages through apt-get), then configure and build in Release.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
MTREC := $(BUILD_DIR)/src/mtrec
DEMO_DIR ?= out/demo
DEMO_ROWS ?= 500000

DEBIAN_PACKAGES := cmake g++ make pkg-config libdnnl-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev \
  libfmt-dev libfast-float-dev libcpp-httplib-dev libzstd-dev zlib1g-dev liblzma-dev libgtest-dev libbenchmark-dev \
  xz-utils zstd gzip chromium

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup configure build demo test test-slow test-all bench census clean

setup:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

configure: setup
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Simulated e-commerce data -> shared-bottom model -> per-task test metrics beside the oracle's, and an HTML report.
demo: build
	$(MTREC) simulate --preset ecommerce --rows $(DEMO_ROWS) --seed 1 --out $(DEMO_DIR)
	$(MTREC) train --config $(DEMO_DIR)/config.toml --out $(DEMO_DIR)/model.mtrec
	$(MTREC) eval --model $(DEMO_DIR)/model.mtrec --data $(DEMO_DIR)/test.csv --json $(DEMO_DIR)/metrics.json \
	  --report $(DEMO_DIR)/report.html

# The fast tier: unit, gradient-check and end-to-end tests.
test: build
	cd $(BUILD_DIR) && ctest -L fast --output-on-failure -j $(JOBS) --timeout 600

# Slower suites (full-size data, the census example).
test-slow: build
	cd $(BUILD_DIR) && ctest -L slow --output-on-failure --timeout 3600

test-all: test test-slow

bench: build
	$(BUILD_DIR)/bench/mtrec_micro_bench

census: build
	examples/census/run.sh

clean:
	rm -rf $(BUILD_DIR) out
