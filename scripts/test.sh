#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, then runs the Rust tests and
# lints, the TypeScript type check and the vitest suites (unit, interop with real clients).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

bash scripts/setup.sh

printf '\n== Rust: core tests\n'
cargo test --workspace --quiet

printf '\n== Rust: no panicking constructs in the core (clippy, warnings are errors)\n'
cargo clippy -p wasshd-core -p wasshd-wasm --all-targets --quiet -- -D warnings

printf '\n== TypeScript: type check\n'
npx tsc --noEmit

printf '\n== vitest: unit and interop suites\n'
npx vitest run
