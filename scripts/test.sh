#!/usr/bin/env bash
# bitlin's test command (README "The two commands"; .ci/run runs exactly this).
#
#  1. installs missing Debian packages (scripts/setup.sh)
#  2. clang++-14 Debug (-O1) build of every test program with AddressSanitizer +
#     UndefinedBehaviorSanitizer and warnings as errors (preset "debug-asan"), and the whole unit
#     suite run under it (test cases tagged [slow] left out): the clang warning check and the
#     sanitizer run in one build
#  3. clang++-14 ThreadSanitizer build (preset "tsan"): the test cases tagged [threads] (thread
#     pool, executor independence of the kernels, multi-threaded model and head products)
#  4. fuzzing (scripts/fuzz.sh, preset "fuzz"): the regression inputs, then every libFuzzer target
#     for BITLIN_FUZZ_SECONDS (default 20 here) each; any crash, leak or timeout fails
#  5. AArch64 cross build (preset "aarch64"): the architecture-dependent test programs run under
#     qemu-aarch64-static (BITLIN_FULL=1: every test and example)
#  6. g++ Release build of everything (preset "release", warnings as errors) and its full ctest
#     run: unit tests, examples, package consumers (find_package after install, add_subdirectory)
#     and the kernel tests again under qemu as a Haswell (AVX2) and a baseline x86-64 CPU
#
# The native builds link bitlin::kernels (every kernel table compiled once); the fuzz and AArch64
# builds and the add_subdirectory package consumer use bitlin header-only.
# A failing step does not hide the others: every stage runs (a stage stops at its own first failed
# step), failures are listed at the end and the exit status is non-zero. The g++ run comes last,
# so a passing run ends with its ctest summary.
# Environment: BITLIN_BUILD_DIR (default <repo>/build), BITLIN_JOBS (default 2),
# BITLIN_FUZZ_SECONDS, BITLIN_FULL=1 (everything in the cross build), BITLIN_STAGES (default
# "asan tsan fuzz aarch64 release": the stages to run, in that order).
# Each stage's duration is printed at the end.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
build_root=${BITLIN_BUILD_DIR:-$repo/build}
jobs=${BITLIN_JOBS:-2}
start=$SECONDS
failed=()

timings=()
step() { printf '\n==> [%4ds] %s\n' $((SECONDS - start)) "$*"; }
# timed <stage function>: runs it and records how long it took.
timed() {
  local t0=$SECONDS
  "$1"
  timings+=("$(printf '%-10s %5ds' "${1%_stage}" $((SECONDS - t0)))")
}
# run <label> <command...>: runs the command, records <label> when it fails.
run() {
  local label=$1
  shift
  if "$@"; then return 0; fi
  failed+=("$label")
  return 1
}

step "setup: Debian packages"
if ! run "setup" bash scripts/setup.sh; then
  echo "test.sh: setup failed" >&2
  exit 1
fi

# Test programs are one per folder (tests/<folder>/ -> tests_<folder>), except files marked
# "// bitlin-test: own program" (program test_<what>); each file tests/<folder>/test_<what>.cpp is
# the ctest test test_<what>. programs_of <test names...> prints the programs that hold them, once
# each.
programs_of() {
  local t f
  for t in "$@"; do
    f=$(find tests -mindepth 2 -name "$t.cpp" | head -n 1)
    [[ -z "$f" ]] && continue
    if grep -qx '// bitlin-test: own program' "$f"; then
      echo "$t"
    else
      echo "tests_$(basename "$(dirname "$f")")"
    fi
  done | sort -u
}

# The tests whose code differs by architecture (kernels, dispatch, quantizers, formats, the
# layers and model that run on them); the rest is portable C++ the x86 builds already test.
# BITLIN_FULL=1 builds and runs everything in the cross build.
aarch64_tests=(test_dispatch test_gemm test_gemm_lut test_gemm_bit_linear test_kernels_layouts test_kernels_xnor
  test_kernels_hamming_tiles test_kernels_rowops
  test_kernels_ops test_quantizers test_pack test_bit_linear test_onebit test_bitnet_model
  test_hamming_index)
aarch64_stage() {
  step "AArch64 cross build, tests under qemu-aarch64-static"
  run "aarch64: configure" cmake --preset aarch64 -B "$build_root/aarch64" || return
  if [[ "${BITLIN_FULL:-0}" == 1 ]]; then
    run "aarch64: build" cmake --build "$build_root/aarch64" -j "$jobs" || return
    run "aarch64: ctest" ctest --test-dir "$build_root/aarch64" -j "$jobs" --output-on-failure \
      --no-tests=error
  else
    local targets
    mapfile -t targets < <(programs_of "${aarch64_tests[@]}")
    run "aarch64: build" cmake --build "$build_root/aarch64" -j "$jobs" \
      --target "${targets[@]}" || return
    local regex
    regex="^($(IFS='|'; echo "${aarch64_tests[*]}"))\$"
    run "aarch64: ctest" ctest --test-dir "$build_root/aarch64" -j "$jobs" --output-on-failure \
      --no-tests=error -R "$regex"
  fi
}

release_stage() {
  step "g++ Release: configure and build everything"
  run "release: configure" cmake --preset release -B "$build_root/release" -DBITLIN_WERROR=ON ||
    return
  run "release: build" cmake --build "$build_root/release" -j "$jobs" || return
  step "g++ Release: ctest (unit tests, examples, package consumers, older-x86 qemu runs)"
  run "release: ctest" ctest --test-dir "$build_root/release" -j "$jobs" --output-on-failure \
    --no-tests=error
}

# The whole unit suite under ASan + UBSan, built by clang++-14 with warnings as errors.
asan_stage() {
  step "clang++-14 Debug (-O1) ASan + UBSan, -Werror: configure and build every test program"
  run "asan: configure" cmake --preset debug-asan -B "$build_root/debug-asan" || return
  run "asan: build" cmake --build "$build_root/debug-asan" --target bitlin_unit_tests -j "$jobs" ||
    return
  step "ASan + UBSan: run the unit suite (cases tagged [slow] skipped)"
  run "asan: ctest" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$build_root/debug-asan" -j "$jobs" --output-on-failure --no-tests=error \
    -R '^test_' -E '@'
}

# The tests holding [threads] cases (found by their tag) and their programs; the preset's test
# filter runs only those cases.
mapfile -t tsan_tests < <(grep -rl --include='test_*.cpp' '\[threads\]' tests |
  xargs -n1 basename | sed 's/\.cpp$//' | sort)
mapfile -t tsan_targets < <(programs_of "${tsan_tests[@]}")
tsan_stage() {
  step "clang++-14 ThreadSanitizer: configure and build the threaded tests"
  run "tsan: configure" cmake --preset tsan -B "$build_root/tsan" || return
  run "tsan: build" cmake --build "$build_root/tsan" -j "$jobs" --target "${tsan_targets[@]}" ||
    return
  step "ThreadSanitizer: run the [threads] test cases"
  run "tsan: ctest" env TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir "$build_root/tsan" -j "$jobs" --output-on-failure --no-tests=error \
    -R "^($(IFS='|'; echo "${tsan_tests[*]}"))\$"
}

fuzz_stage() {
  step "fuzzing: build the libFuzzer targets, replay regressions, fuzz each target"
  run "fuzz" env BITLIN_BUILD_DIR="$build_root" BITLIN_JOBS="$jobs" \
    BITLIN_FUZZ_SECONDS="${BITLIN_FUZZ_SECONDS:-20}" bash scripts/fuzz.sh
}

for stage in ${BITLIN_STAGES:-asan tsan fuzz aarch64 release}; do
  if ! declare -F "${stage}_stage" > /dev/null; then
    echo "test.sh: unknown stage '$stage' in BITLIN_STAGES" >&2
    exit 2
  fi
  timed "${stage}_stage"
done

printf '\ntest.sh: stage durations (total %ds):\n' $((SECONDS - start))
printf '  %s\n' "${timings[@]}"

if ((${#failed[@]} > 0)); then
  printf '\ntest.sh: FAILED after %ds:' $((SECONDS - start)) >&2
  printf ' [%s]' "${failed[@]}" >&2
  printf '\n' >&2
  exit 1
fi
