#!/usr/bin/env bash
# The BitNet papers' training claims in miniature, on the fortunes corpus (scripts/setup.sh
# installs it), with examples/bitnet_train; then scripts/train_plots.py draws the PNGs and the
# tables of docs/training.md. Runs (same corpus, model, token budget, seed; about 15-25 minutes on
# 2 busy cores):
#   (a) curves/{ternary,binary,float}: 300 steps x 8 windows x 64 tokens, lr 3e-3, eval every 25
#   (b) the float run's final weights quantized post-training (--ptq-eval) vs (a)'s ternary run
#   (c) sweep/<kind>_lr<lr>: 100 steps at lr 3e-3, 1e-2, 3e-2, 1e-1 for ternary and float
# Usage: scripts/train_experiments.sh [BUILD_DIR (build/release)] [OUT_DIR (build/experiments)]
set -uo pipefail
build=${1:-build/release}
out=${2:-build/experiments}
train=$build/examples/bitnet_train
[[ -x $train ]] || { echo "train_experiments: build $train first" >&2; exit 1; }
corpus=$(bash "$(dirname "$0")/fortunes_corpus.sh" "$out/fortunes.txt") || exit 1
common=(--data "$corpus" --threads 2 --seed 1 --batch 8 --eval-windows 32)
mkdir -p "$out/curves" "$out/sweep"
for kind in ternary binary float; do
  extra=()
  [[ $kind == float ]] && extra=(--ptq-eval)
  echo "== (a) $kind"
  "$train" "${common[@]}" --weights $kind --steps 300 --lr 3e-3 --eval-every 25 \
    --out "$out/curves/$kind" "${extra[@]}" > "$out/curves/$kind.log" 2>&1
  tail -2 "$out/curves/$kind.log"
done
for kind in ternary float; do
  for lr in 3e-3 1e-2 3e-2 1e-1; do
    echo "== (c) $kind lr $lr"
    "$train" "${common[@]}" --weights $kind --steps 100 --lr $lr --eval-every 50 \
      --out "$out/sweep/${kind}_lr$lr" > "$out/sweep/${kind}_lr$lr.log" 2>&1
    tail -1 "$out/sweep/${kind}_lr$lr.log"
  done
done
"${PYTHON:-/usr/bin/python3}" "$(dirname "$0")/train_plots.py" "$out" docs/training
