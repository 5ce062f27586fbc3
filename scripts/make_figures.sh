#!/usr/bin/env bash
# make_figures.sh — regenerates every figure and table of docs/walkthrough.md: builds the
# examples (examples/*.cpp), runs each with --out docs/figures, and splices their tables and
# printouts into the walkthrough between its markers
#   <!-- begin NAME -->  ...  <!-- end NAME -->
# (NAME.md is pasted as it is; NAME.txt, an example's printout, inside a code fence).
# Nothing in docs/figures/ is drawn by hand. About 2 minutes on two cores.
#
#   bash scripts/make_figures.sh [BUILD_DIR]        (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
figures=docs/figures
examples=(tensor_views autograd_basics perceptron conv_cost mobilenet_features arcface_2d doc_2d lof_2d
          roc_auc)

# One thread: the small matrices here gain nothing from more, and one thread makes every
# printed number the same on every machine (sums are added in one fixed order).
export OMP_NUM_THREADS=1

[ -f "$build/build.ninja" ] || meson setup "$build" --buildtype=release >/dev/null
ninja -C "$build" -j 2 "${examples[@]/#/examples/}" | tail -n 1
mkdir -p "$figures"

for name in "${examples[@]}"; do
  start=$SECONDS
  # The printout, without the "wrote FILE" lines, is kept as NAME.txt.
  if ! "$build/examples/$name" --out "$figures" > "$figures/$name.log" 2>&1; then
    cat "$figures/$name.log" >&2
    rm -f "$figures/$name.log"
    echo "make_figures: $name failed" >&2
    exit 1
  fi
  grep -v '^wrote ' "$figures/$name.log" > "$figures/$name.txt" || true
  rm -f "$figures/$name.log"
  echo "$name: $((SECONDS - start)) s"
done

# Splice NAME.md / NAME.txt into the walkthrough between its markers.
doc=docs/walkthrough.md
bash scripts/splice.sh "$doc" "$figures"
echo "make_figures: $(ls "$figures"/*.svg | wc -l) figures in $figures, tables spliced into $doc"
