#!/usr/bin/env bash
# Regenerates the committed fuzz seeds, core-rs/fuzz/seeds/<target>/: first those the Rust side makes
# (core-rs/fuzz/examples/seeds.rs: typical sessions of the test client, and valid inputs for every decoder),
# then those taken from real OpenSSH sessions through the demo server (scripts/fuzz-seeds.ts). Needs what
# scripts/setup.sh installs (ssh, sshpass, npm packages); rebuilds the wasm module if the core changed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

seeds=core-rs/fuzz/seeds
rm -rf "$seeds"
cargo run --quiet --release --manifest-path core-rs/fuzz/Cargo.toml --example seeds -- "$seeds"
node scripts/build-wasm.mjs
npx tsx scripts/fuzz-seeds.ts "$seeds"
printf '%s files, %s bytes\n' "$(find "$seeds" -type f | wc -l)" "$(find "$seeds" -type f -exec cat {} + | wc -c)"
