# Makefile — the two entry points of the README, plus conveniences.
#   make demo   install dependencies, build, run the main job
#   make test   install dependencies, build, run the test suite
BUILD ?= build
JOBS  ?= 2

.PHONY: deps build demo test bench clean

deps:
	@bash scripts/install-deps.sh

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) --buildtype=release >/dev/null
	@ninja -C $(BUILD) -j $(JOBS) | tail -n 1

demo: build
	./$(BUILD)/apps/kizuki benchmark --dataset fashion-mnist --preset quick --out results/quick

test: build
	./$(BUILD)/tests/kizuki_tests

bench: build
	./$(BUILD)/bench/bench_gemm

clean:
	rm -rf $(BUILD)
