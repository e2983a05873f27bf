#!/usr/bin/env bash
# Builds the libFuzzer targets (preset "fuzz": clang++-14, ASan + UBSan) and runs each one for a
# bounded time; fails when any target finds a crash, a sanitizer error, a leak, an out-of-memory
# or a timeout. Called by scripts/test.sh as its "fuzz" stage; runnable alone.
#
# Per target tests/fuzz/fuzz_<what>.cpp: first the inputs that once failed,
# tests/data/regressions/<what>/, are replayed (-runs=0 equivalent: each file once), then the
# fuzzer runs on a working corpus build/fuzz/corpus/<what> seeded from tests/fuzz/corpus/<what>/
# (kept between runs; new finds stay out of the repository), with tests/fuzz/fuzz_<what>.dict as
# dictionary when present. A crashing input is written to build/fuzz/artifacts/<what>/; minimize it
# (fuzz_<what> -minimize_crash=1 FILE), fix the bug and add the input under
# tests/data/regressions/<what>/.
#
# Targets run BITLIN_JOBS at a time (default 2), each on one core.
# Environment: BITLIN_FUZZ_SECONDS (per target, default 30), BITLIN_FUZZ_RSS_MB (default 2048),
# BITLIN_FUZZ_TIMEOUT (seconds per input, default 10), BITLIN_FUZZ_TARGETS (space-separated names
# like "safetensors config"; default all), BITLIN_BUILD_DIR (default <repo>/build), BITLIN_JOBS.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BITLIN_BUILD_DIR:-$repo/build}/fuzz
jobs=${BITLIN_JOBS:-2}
seconds=${BITLIN_FUZZ_SECONDS:-30}
rss_mb=${BITLIN_FUZZ_RSS_MB:-2048}
timeout=${BITLIN_FUZZ_TIMEOUT:-10}

cmake --preset fuzz -B "$build" >/dev/null || { echo "fuzz.sh: configure failed" >&2; exit 1; }
cmake --build "$build" --target bitlin_fuzzers -j "$jobs" || { echo "fuzz.sh: build failed" >&2; exit 1; }

if [[ -n "${BITLIN_FUZZ_TARGETS:-}" ]]; then
  read -r -a whats <<<"$BITLIN_FUZZ_TARGETS"
else
  whats=()
  for src in "$repo"/tests/fuzz/fuzz_*.cpp; do
    w=$(basename "$src" .cpp)
    whats+=("${w#fuzz_}")
  done
fi

# fuzz_one <what>: replays the regressions, then fuzzes; writes its summary line to
# $results/<what>.line and, when it failed, the reason to $results/<what>.failed.
results=$build/results
rm -rf "$results"
mkdir -p "$results"
fuzz_one() {
  local what=$1
  local exe=$build/tests/fuzz/fuzz_$what
  if [[ ! -x "$exe" ]]; then
    echo "$what (not built)" >"$results/$what.failed"
    return
  fi
  local log=$build/logs/$what.log
  mkdir -p "$build/corpus/$what" "$build/artifacts/$what" "$build/logs"
  local regressions=$repo/tests/data/regressions/$what
  if [[ -d "$regressions" ]] && compgen -G "$regressions/*" >/dev/null; then
    echo "fuzz.sh: $what: replaying $(ls "$regressions" | wc -l) regression inputs"
    if ! "$exe" -rss_limit_mb="$rss_mb" -timeout="$timeout" "$regressions"/* >"$log.replay" 2>&1; then
      tail -n 40 "$log.replay" >&2
      echo "$what (regression replay)" >"$results/$what.failed"
      return
    fi
  fi
  local args=(-max_total_time="$seconds" -rss_limit_mb="$rss_mb" -malloc_limit_mb="$rss_mb"
    -timeout="$timeout" -print_final_stats=1 -artifact_prefix="$build/artifacts/$what/")
  [[ -f "$repo/tests/fuzz/fuzz_$what.dict" ]] && args+=(-dict="$repo/tests/fuzz/fuzz_$what.dict")
  local seeds=()
  [[ -d "$repo/tests/fuzz/corpus/$what" ]] && seeds+=("$repo/tests/fuzz/corpus/$what")
  echo "fuzz.sh: $what: fuzzing for ${seconds}s"
  local status
  if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$exe" "${args[@]}" "$build/corpus/$what" \
    "${seeds[@]}" >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    echo "$what" >"$results/$what.failed"
    grep -E 'ERROR|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -n 20 >&2
    tail -n 30 "$log" >&2
  fi
  # libFuzzer's last status line ("#N DONE cov: C ft: F corp: ...") and its final stats.
  local last execs
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  printf '%-14s %-6s execs %-9s %s\n' "$what" "$status" "${execs:-?}" \
    "$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[^ ]+' <<<"$last")" >"$results/$what.line"
}

# BITLIN_JOBS targets at a time (each libFuzzer process is single-threaded).
running=0
for what in "${whats[@]}"; do
  if ((running >= jobs)); then
    wait -n
    running=$((running - 1))
  fi
  fuzz_one "$what" &
  running=$((running + 1))
done
wait

failed=()
summary=()
for what in "${whats[@]}"; do
  [[ -f "$results/$what.line" ]] && summary+=("$(cat "$results/$what.line")")
  [[ -f "$results/$what.failed" ]] && failed+=("$(cat "$results/$what.failed")")
done

echo "fuzz.sh: results (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]} > 0)); then
  printf 'fuzz.sh: FAILED:' >&2
  printf ' [%s]' "${failed[@]}" >&2
  printf '\n' >&2
  exit 1
fi
