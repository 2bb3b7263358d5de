#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, then runs the Rust tests and
# lints, the TypeScript type check and the vitest suites (unit, interop with real clients). Ends with one
# line counting every test that ran.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

bash scripts/setup.sh

printf '\n== Rust: core tests\n'
cargo test --workspace --quiet 2>&1 | tee "$results/cargo.txt"

printf '\n== Rust: no panicking constructs in the core (clippy, warnings are errors)\n'
cargo clippy -p wasshd-core -p wasshd-wasm --all-targets --quiet -- -D warnings

printf '\n== TypeScript: type check\n'
npx tsc --noEmit

printf '\n== vitest: unit and interop suites\n'
npx vitest run --reporter=default --reporter=json --outputFile="$results/vitest.json"

rust_passed=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$results/cargo.txt" | awk '{s += $1} END {print s + 0}')
read -r vitest_passed vitest_failed < <(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(r.numPassedTests, r.numFailedTests);' "$results/vitest.json")
printf '\nwasshd: %d passed, %d failed\n' "$((rust_passed + vitest_passed))" "$vitest_failed"
