#!/usr/bin/env bash
# bitlin's demo command (README "The two commands"): installs what is missing, builds the g++
# Release preset, runs every example program, then prints the benchmark table.
#
# Hooks:
#  - examples: every executable directly under <build>/examples is run, in name order; a failing
#    example stops the demo. Add an example by adding it to examples/ (examples/CMakeLists.txt).
#  - benchmarks: scripts/bench_table.sh, when present, is called with the release build directory
#    as its first argument (and BITLIN_BUILD_DIR exported); it runs the benchmark binary and prints
#    the ratio table.
# Environment: BITLIN_BUILD_DIR (default <repo>/build), BITLIN_JOBS (default 2).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_root=${BITLIN_BUILD_DIR:-$repo/build}
jobs=${BITLIN_JOBS:-2}
build="$build_root/release"

echo "==> setup: Debian packages"
bash scripts/setup.sh

echo "==> g++ Release build"
cmake --preset release -B "$build"
cmake --build "$build" -j "$jobs"

echo "==> examples"
ran=0
if [[ -d "$build/examples" ]]; then
  while IFS= read -r -d '' exe; do
    echo "--- $(basename "$exe")"
    "$exe"
    ran=$((ran + 1))
  done < <(find "$build/examples" -maxdepth 1 -type f -perm -u+x -print0 | sort -z)
fi
echo "(${ran} example(s) run)"

if [[ -f scripts/bench_table.sh ]]; then
  echo "==> benchmark table"
  export BITLIN_BUILD_DIR="$build_root"
  bash scripts/bench_table.sh "$build"
else
  echo "==> benchmark table: scripts/bench_table.sh not present yet, skipped"
fi
