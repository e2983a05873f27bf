#!/usr/bin/env bash
# Writes the training corpus bitnet_train's documented runs use: every text file of Debian's
# `fortunes` package (installed by scripts/setup.sh) in name order, concatenated as they are
# (fortunes separated by "%" lines). Usage: scripts/fortunes_corpus.sh [OUT] (default
# build/corpus/fortunes.txt); prints the path.
set -euo pipefail
src=/usr/share/games/fortunes
out=${1:-build/corpus/fortunes.txt}
if [[ ! -d $src ]]; then
  echo "fortunes_corpus: $src is missing; run scripts/setup.sh (Debian package 'fortunes')" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
: > "$out"
for f in $(ls "$src" | LC_ALL=C sort); do
  p=$src/$f
  [[ -f $p && ! -L $p && $f != *.dat ]] || continue
  cat "$p" >> "$out"
done
echo "$out"
