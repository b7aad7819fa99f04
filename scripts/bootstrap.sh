#!/usr/bin/env bash
# Installs what the build and the tests need: Debian packages (apt-get) and a
# Python venv in .venv with the test tools from PyPI. Idempotent; prints
# nothing when everything is already there.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  cmake g++ ninja-build ccache python3 python3-venv
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  libonnx-dev libprotobuf-dev protobuf-compiler
  libopenmpi-dev openmpi-bin libgtest-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

# The venv uses Debian's python3 so that it works the same on every machine.
venv="$root/.venv"
req="$root/scripts/requirements.txt"
stamp="$venv/.requirements.installed"
if [ ! -x "$venv/bin/python" ]; then
  echo "bootstrap: creating Python venv in .venv"
  /usr/bin/python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || ! cmp -s "$req" "$stamp"; then
  echo "bootstrap: installing Python test tools (lit, numpy, onnx, onnxruntime)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
fi
