# Makefile — the two entry points of the README, plus conveniences.
#   make demo   install dependencies, build, run the main job
#   make test   install dependencies, build, run the test suite
BUILD ?= build
JOBS  ?= 2

.PHONY: deps build demo test bench clean docs

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

# The API reference (docs/Doxyfile) in $(BUILD)/docs/api/html/index.html; fails when doxygen
# warns, e.g. about an undocumented public declaration (the warnings are printed).
docs: deps
	@mkdir -p $(BUILD)/docs/api
	@( cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $(BUILD)/docs/api"; \
	   echo "WARN_LOGFILE = $(BUILD)/docs/api/warnings.log" ) | doxygen -
	@log=$(BUILD)/docs/api/warnings.log; if [ -s $$log ]; then cat $$log; \
	   echo "make docs: $$(grep -c 'warning:' $$log) doxygen warnings ($$log)"; exit 1; fi
	@echo "make docs: $(BUILD)/docs/api/html/index.html"
