#!/usr/bin/env bash
# bitlin's demo command (README "The two commands"): installs what is missing, builds the g++
# Release preset, runs every example program, then prints the benchmark table.
#
# Hooks:
#  - examples: every ctest test named example_* (examples/CMakeLists.txt, bitlin_add_example) runs
#    with its registered arguments and its output shown; a failing example stops the demo.
#  - benchmarks: scripts/bench_table.sh, when present, is called with the release build directory
#    as its first argument (and BITLIN_BUILD_DIR exported); it runs the benchmark binary and prints
#    the ratio table.
# Environment: BITLIN_BUILD_DIR (default <repo>/build), BITLIN_JOBS (default 2),
# BITLIN_DEMO_SKIP_BENCH=1 stops after the examples.
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
# Each example is run as ctest registers it (examples/CMakeLists.txt: bitlin_add_example and its
# arguments), so the demo shows them doing real work; ctest's bookkeeping lines are dropped.
ctest --test-dir "$build" -R '^example_' --no-tests=error -V |
  grep -vE '^(UpdateCTestConfiguration|Constructing a list|Done constructing|Updating test list|Added [0-9]+ tests to meet|Checking test dependency|test [0-9]+$)|Test timeout computed|Working Directory:'

if [[ "${BITLIN_DEMO_SKIP_BENCH:-0}" == 1 ]]; then
  echo "==> benchmark table: skipped (BITLIN_DEMO_SKIP_BENCH=1)"
elif [[ -f scripts/bench_table.sh ]]; then
  echo "==> benchmark table"
  export BITLIN_BUILD_DIR="$build_root"
  bash scripts/bench_table.sh "$build"
else
  echo "==> benchmark table: scripts/bench_table.sh not present yet, skipped"
fi
