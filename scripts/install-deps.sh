#!/usr/bin/env bash
# Installs every build and run dependency of kizuki from Debian's packages.
# Idempotent and quiet: when everything is present it does nothing and prints nothing.
set -euo pipefail
packages=(
  g++ make meson ninja-build cmake pkg-config
  libopenblas-openmp-dev libdnnl-dev ocl-icd-opencl-dev
  libstb-dev doctest-dev libbenchmark-dev libcli11-dev libfmt-dev nlohmann-json3-dev zlib1g-dev
  dataset-fashion-mnist
  chromium  # headless, for the report.html test
  clang libclang-rt-14-dev  # libFuzzer and the sanitizer runtimes, for scripts/fuzz.sh
  doxygen  # the API reference, for make docs
  libopenmpi-dev openmpi-bin  # MPI for runs over many processes (dist/, mpirun)
  python3-numpy python3-pil  # scripts/map_kinds_figure.py, the docs' Grad-CAM/occlusion figure
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
