#!/usr/bin/env bash
# Installs the Debian 12 packages bitlin's build, tests, demo and cross/emulated CI runs need.
# Idempotent and non-interactive: packages already installed are left alone, and `apt-get update`
# runs only when something is missing. Needs root (uses sudo when available).
set -euo pipefail

packages=(
  build-essential g++ clang libclang-rt-14-dev libomp-dev cmake ninja-build
  libeigen3-dev libxsimd-dev xtl-dev catch2 libbenchmark-dev nlohmann-json3-dev libopenblas-dev
  libfaiss-dev libopenmpi-dev openmpi-bin
  g++-aarch64-linux-gnu qemu-user-static
  python3 python3-numpy python3-matplotlib clang-format git
  fortunes
  libpcre2-dev pkg-config
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

# Node.js and npm run the tokenizer and GGUF oracles (Hugging Face's own JavaScript readers) in
# the tests. Any installed Node (e.g. a newer one from NodeSource) is kept; otherwise Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup: missing packages (${missing[*]}) and not root; run this script as root or install sudo" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
