# Thin wrapper over CMake. `make demo` and `make test` work on a fresh Debian 12 machine: they install what is
# missing first (Debian packages through apt-get), then configure and build in Release.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
MTREC := $(BUILD_DIR)/src/mtrec
DEMO_DIR ?= out/demo
DEMO_ROWS ?= 500000

DEBIAN_PACKAGES := cmake g++ make pkg-config libdnnl-dev ocl-icd-opencl-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libsimdjson-dev \
  libfmt-dev libfast-float-dev libcpp-httplib-dev libzstd-dev zlib1g-dev liblzma-dev libgtest-dev libbenchmark-dev \
  xz-utils zstd gzip chromium libopenmpi-dev openmpi-bin \
  python3-dev pybind11-dev python3-numpy python3-pandas python3-pytest

# What only the tests need: PyTorch for the round trip of examples/pytorch. Best effort: where it cannot be installed
# (no network, no sudo) the round trip is skipped with a message and the other tests run.
TEST_PACKAGES := python3-torch

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Installs those of the Debian packages $(1) that are missing.
define install_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

.PHONY: setup setup-test configure build python demo test test-slow test-all bench census clean
.PHONY: setup-fuzz fuzz test-fuzz check-fresh setup-package package check-package

setup:
	$(call install_missing,$(DEBIAN_PACKAGES))

setup-test:
	-$(call install_missing,$(TEST_PACKAGES))

configure: setup
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The Python module alone (`import mtrec` with PYTHONPATH=build/python; docs/python.md). `make build` builds it too.
python: configure
	cmake --build $(BUILD_DIR) -j $(JOBS) --target python

# Simulated e-commerce data -> shared-bottom model -> per-task test metrics beside the oracle's, and an HTML report.
demo: build
	$(MTREC) simulate --preset ecommerce --rows $(DEMO_ROWS) --seed 1 --out $(DEMO_DIR)
	$(MTREC) train --config $(DEMO_DIR)/config.toml --out $(DEMO_DIR)/model.mtrec
	$(MTREC) eval --model $(DEMO_DIR)/model.mtrec --data $(DEMO_DIR)/test.csv --json $(DEMO_DIR)/metrics.json \
	  --report $(DEMO_DIR)/report.html

# The fast tier: unit, gradient-check and end-to-end tests.
test: build setup-test
	cd $(BUILD_DIR) && ctest -L fast --output-on-failure -j $(JOBS) --timeout 600

# Slower suites (full-size data, the census example).
test-slow: build
	cd $(BUILD_DIR) && ctest -L slow --output-on-failure --timeout 3600

test-all: test test-slow

# The README's commands in a minimal Debian 12 root (mmdebstrap, only `make` added), as on a fresh machine: proves
# that `make setup` installs everything they need. Needs root or sudo; about 20 minutes on 2 cores. CI runs it.
FRESH_TARGETS ?= demo test
check-fresh:
	.ci/fresh-machine $(FRESH_TARGETS)

# The fuzz tier (tests/fuzz/README.md), not part of `make test`: libFuzzer targets for the HTTP and request
# parsers and the model loader, built with clang, ASan and UBSan in their own build directory. `make test-fuzz`
# replays tests/fuzz/regressions, then fuzzes each target for FUZZ_SECONDS (ctest label `fuzz`); any finding fails it.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_PACKAGES := clang-14 libclang-rt-14-dev libomp-14-dev

setup-fuzz: setup
	$(call install_missing,$(FUZZ_PACKAGES))

fuzz: setup-fuzz
	CC=clang-14 CXX=clang++-14 cmake -S . -B $(FUZZ_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTREC_FUZZ=ON \
	  -DMTREC_BUILD_TESTS=OFF -DMTREC_BUILD_BENCH=OFF
	cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS) --target fuzzers mtrec

test-fuzz: fuzz
	cd $(FUZZ_BUILD_DIR) && FUZZ_SECONDS=$(FUZZ_SECONDS) ctest -L fuzz --output-on-failure -j $(JOBS) \
	  --timeout $$(($(FUZZ_SECONDS) + 600))

# The Debian package: build/mtrec_VERSION_amd64.deb with the binary, man pages made from its --help (help2man), the
# docs and the examples; its Depends come from the libraries the binary links (dpkg-shlibdeps). `make
# check-package` installs it into a fresh Debian 12 root (mmdebstrap) and runs it there; CI does the same.
PACKAGE_PACKAGES := help2man dpkg-dev file

setup-package: setup
	$(call install_missing,$(PACKAGE_PACKAGES))

package: setup-package
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && cpack -G DEB

check-package: package
	.ci/package-check $$(ls -t $(BUILD_DIR)/mtrec_*_amd64.deb | head -1)

bench: build
	$(BUILD_DIR)/bench/mtrec_micro_bench

census: build
	examples/census/run.sh

clean:
	rm -rf $(BUILD_DIR) out
