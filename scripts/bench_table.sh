#!/usr/bin/env bash
# Builds bitlin_bench, runs it, and prints the Markdown ratio table (scripts/bench_table.py).
#
#   scripts/bench_table.sh [BUILD_DIR] [--full] [--runs N] [-- extra Google Benchmark arguments]
#
# BUILD_DIR defaults to <repo>/build-bench (configured as Release with Ninja when it has no
# CMakeCache.txt yet); scripts/demo.sh passes its release build directory. Without --full (or
# BITLIN_BENCH_FULL=1) a demo subset runs in a few minutes: GEMV hot and cold at 2560x6912 and
# 4096x4096, GEMM with 128 tokens at 2560x6912, the 512 MiB read-bandwidth and the int8 peak
# benchmarks, the 1-vs-2-thread GEMV ladder (gemv_threads), threads 1 and 2, min time 0.2 s. --full runs every benchmark (about half an hour on
# 2 cores). BITLIN_BENCH_MIN_TIME overrides the min time. Results go to <repo>/bench-results/:
# bench-<stamp>.json (Google Benchmark JSON), bench-<stamp>.md (the table) and bench-<stamp>.png
# (when matplotlib is available). --runs N (default 1) runs the benchmarks N times, one JSON file
# each, and the table shows each benchmark's fastest run: the machine is shared, and the fastest
# of a few passes is the better estimate of what the code does.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=""
full=${BITLIN_BENCH_FULL:-0}
runs=1
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --full) full=1 ;;
    --runs) shift; runs="$1" ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench_table.sh: unknown option $1" >&2; exit 2 ;;
    *) build="$1" ;;
  esac
  shift
done
build=${build:-$repo/build-bench}
jobs=${BITLIN_JOBS:-2}

python=/usr/bin/python3
[[ -x $python ]] || python=python3

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  echo "==> configuring $build (Release)"
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBITLIN_BUILD_BENCHMARKS=ON
fi
# What the machine is, before anything else (bitlin_bench prints the kernels it uses, and the
# table repeats both from the JSON context).
echo "==> machine: $(grep -m1 -E '^(model name|Model|Hardware)' /proc/cpuinfo 2>/dev/null | sed 's/^[^:]*: *//' || echo unknown CPU), $(nproc) CPUs"
echo "==> building bitlin_bench"
cmake --build "$build" --target bitlin_bench -j "$jobs"
bench="$build/bench/bitlin_bench"

if [[ "$full" == 1 ]]; then
  filter="."
  min_time=${BITLIN_BENCH_MIN_TIME:-0.5}
else
  filter='^(stream_read/536870912/|peak_int8/|gemv(_cold)?/[^/]+/(2560x6912|4096x4096)/|gemm/[^/]+/2560x6912/tokens:128/|gemv_threads/)'
  min_time=${BITLIN_BENCH_MIN_TIME:-0.2}
fi

out_dir="$repo/bench-results"
mkdir -p "$out_dir"
stamp=$(date -u +%Y%m%d-%H%M%S)
jsons=()
for ((r = 1; r <= runs; r++)); do
  suffix=""
  if ((runs > 1)); then suffix="-run$r"; fi
  json="$out_dir/bench-$stamp$suffix.json"
  echo "==> load before run $r/$runs: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" \
       "(the machine is shared: a high load makes every number, the 2-thread ones most, unreliable)"
  cmd=("$bench" "--benchmark_filter=$filter" "--benchmark_min_time=$min_time"
       "--benchmark_out=$json" "--benchmark_out_format=json" ${extra[@]+"${extra[@]}"})
  echo "==> ${cmd[*]}"
  "${cmd[@]}"
  echo "==> load after run $r/$runs: $(cut -d' ' -f1-3 /proc/loadavg)"
  jsons+=("$json")
done

table="$out_dir/bench-$stamp.md"
png="$out_dir/bench-$stamp.png"
best=()
note=""
if ((runs > 1)); then
  best=(--best)
  note=" (run $runs times; fastest run per benchmark)"
fi
{
  echo "Command: \`${cmd[*]}\`$note"
  echo
  "$python" "$repo/scripts/bench_table.py" "${jsons[@]}" ${best[@]+"${best[@]}"} --png "$png"
} | tee "$table"
written="${jsons[*]}, $table"
if [[ -f $png ]]; then written+=", $png"; fi
echo "==> wrote $written"
