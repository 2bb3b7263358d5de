#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what is missing, then runs the Rust tests and
# lints, the TypeScript type check and the vitest suites (unit, interop with real clients). Ends with one
# line counting every test: passed, failed and skipped, in Rust and in vitest. Fails if any test failed or
# was skipped (ignored, skip, todo, or left out by an `.only`), if a step failed, or if fewer tests passed
# than test/minimum-count says, so a deleted test cannot shrink the suite unnoticed. Raise that number by
# hand when adding tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT

bash scripts/setup.sh

# Steps that fail are counted and named at the end; the others still run, so one run shows everything.
broken=()

printf '\n== Rust: core tests\n'
# --no-fail-fast: every test binary runs and is counted, whichever fails first.
cargo test --workspace --no-fail-fast --quiet 2>&1 | tee "$results/cargo.txt" || broken+=('cargo test')

printf '\n== Rust: no panicking constructs in the core (clippy, warnings are errors)\n'
cargo clippy -p wasshd-core -p wasshd-wasm -p wasshd-boundary -p wasshd-component --all-targets --quiet -- -D warnings || broken+=(clippy)

printf '\n== Rust: the fuzz targets compile (scripts/fuzz.sh runs them; nothing else builds them)\n'
(cd core-rs/fuzz && cargo check --bins --quiet) || broken+=('fuzz targets')

printf '\n== TypeScript: type check\n'
npx tsc --noEmit || broken+=(tsc)

printf '\n== vitest: unit and interop suites\n'
# --allowOnly=false: an `.only` left in a file fails its run instead of quietly skipping the rest.
npx vitest run --allowOnly=false --reporter=default --reporter=json --outputFile="$results/vitest.json" || broken+=(vitest)

# cargo prints one line per test binary: "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; ..."
read -r rust_passed rust_failed rust_ignored < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored;.*/\1 \2 \3/p' "$results/cargo.txt" |
  awk '{p += $1; f += $2; i += $3} END {print p + 0, f + 0, i + 0}')
# vitest: a file that fails with none of its tests failing (an import error, a failing hook) counts as one
# failure; no report at all counts as one too.
read -r vitest_passed vitest_failed vitest_skipped < <(node -e '
  let r;
  try { r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); } catch { r = { testResults: [{ status: "failed", assertionResults: [] }] }; }
  const fileErrors = r.testResults.filter((f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed")).length;
  console.log(r.numPassedTests ?? 0, (r.numFailedTests ?? 0) + fileErrors, (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0));' "$results/vitest.json")

passed=$((rust_passed + vitest_passed))
failed=$((rust_failed + vitest_failed))
skipped=$((rust_ignored + vitest_skipped))
minimum=$(grep -v '^#' test/minimum-count 2>/dev/null | head -n 1 | tr -d '[:space:]' || true)
if ! [[ "$minimum" =~ ^[0-9]+$ ]]; then echo "wasshd: test/minimum-count holds no number"; exit 1; fi

printf '\nwasshd: %d passed, %d failed, %d skipped (Rust %d/%d/%d, vitest %d/%d/%d); at least %d must pass\n' \
  "$passed" "$failed" "$skipped" "$rust_passed" "$rust_failed" "$rust_ignored" "$vitest_passed" "$vitest_failed" "$vitest_skipped" "$minimum"
status=0
if [ "${#broken[@]}" -gt 0 ]; then echo "wasshd: failed steps: ${broken[*]}"; status=1; fi
if [ "$failed" -gt 0 ]; then echo "wasshd: $failed failed"; status=1; fi
if [ "$skipped" -gt 0 ]; then echo "wasshd: $skipped skipped: every test must run"; status=1; fi
if [ "$passed" -lt "$minimum" ]; then echo "wasshd: only $passed passed, fewer than test/minimum-count ($minimum): was a test deleted?"; status=1; fi
exit "$status"
