#!/usr/bin/env bash
# bitlin's test command (README "The two commands"; .ci/run runs exactly this).
#
#  1. installs missing Debian packages (scripts/setup.sh)
#  2. clang++-14 build of every test with warnings as errors (preset "clang"), and runs them
#  3. AArch64 cross build (preset "aarch64"), tests run under qemu-aarch64-static
#  4. g++ Release build of everything (preset "release") and its full ctest run: unit tests,
#     examples, package consumers (find_package after install, add_subdirectory) and the kernel
#     tests again under qemu as a Haswell (AVX2) and a baseline x86-64 CPU
#
# The g++ run comes last so the output ends with its ctest summary. Any failure exits non-zero.
# Environment: BITLIN_BUILD_DIR (default <repo>/build), BITLIN_JOBS (default 2),
# BITLIN_SKIP_CLANG_RUN=1 builds the clang tests without running them.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_root=${BITLIN_BUILD_DIR:-$repo/build}
jobs=${BITLIN_JOBS:-2}
start=$SECONDS

step() { printf '\n==> [%4ds] %s\n' $((SECONDS - start)) "$*"; }

step "setup: Debian packages"
bash scripts/setup.sh

step "clang++-14 (-Werror): configure and build the tests"
cmake --preset clang -B "$build_root/clang"
cmake --build "$build_root/clang" --target bitlin_tests -j "$jobs"
if [[ "${BITLIN_SKIP_CLANG_RUN:-0}" != 1 ]]; then
  step "clang++-14: run the unit tests"
  ctest --test-dir "$build_root/clang" -j "$jobs" --output-on-failure --no-tests=error \
    -R '^test_' -E '@'
fi

step "AArch64 cross build, tests under qemu-aarch64-static"
cmake --preset aarch64 -B "$build_root/aarch64"
cmake --build "$build_root/aarch64" -j "$jobs"
ctest --test-dir "$build_root/aarch64" -j "$jobs" --output-on-failure --no-tests=error

step "g++ Release: configure and build everything"
cmake --preset release -B "$build_root/release"
cmake --build "$build_root/release" -j "$jobs"

step "g++ Release: ctest (unit tests, examples, package consumers, older-x86 qemu runs)"
ctest --test-dir "$build_root/release" -j "$jobs" --output-on-failure --no-tests=error
