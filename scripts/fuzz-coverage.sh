#!/usr/bin/env bash
# Line coverage of the protocol core (core-rs/src) by the fuzz inputs: builds each target with coverage
# instrumentation, runs its corpus (core-rs/fuzz/corpus/<target>, if fuzzing has run here) and its committed
# seeds, then prints the lines of each source file covered by any target, and each target's share.
# Needs nightly's llvm-tools, installed here if missing.
#
# usage: scripts/fuzz-coverage.sh [target...]    (default: every target)
set -euo pipefail
cd "$(dirname "$0")/../core-rs/fuzz"
export PATH="$HOME/.cargo/bin:$PATH"

case "${1:-}" in -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
rustup component list --toolchain nightly --installed | grep -q '^llvm-tools' ||
  rustup component add llvm-tools-preview --toolchain nightly
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
llvm_cov=$(find "$(rustc +nightly --print sysroot)" -name llvm-cov -type f | head -1)

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
lcov_dir=coverage/lcov
mkdir -p "$lcov_dir"
for t in "${targets[@]}"; do
  inputs=("seeds/$t")
  [ -d "corpus/$t" ] && inputs+=("corpus/$t")
  echo "== $t: $(find "${inputs[@]}" -type f | wc -l) inputs" >&2
  cargo +nightly fuzz coverage "$t" "${inputs[@]}" >/dev/null 2>"coverage/$t.log" ||
    { grep -v LLVM_PROFILE_FILE "coverage/$t.log" | tail -20; exit 1; }
  "$llvm_cov" export -format=lcov -instr-profile="coverage/$t/coverage.profdata" \
    "target/$triple/coverage/$triple/release/$t" >"$lcov_dir/$t.info"
done

python3 - "$lcov_dir" "${targets[@]}" <<'EOF'
import os, sys
lcov_dir, targets = sys.argv[1], sys.argv[2:]
lines = {}                      # file -> {line: set of targets covering it}
for t in targets:
    path = None
    for row in open(os.path.join(lcov_dir, t + '.info')):
        row = row.strip()
        if row.startswith('SF:'):
            path = row[3:] if '/core-rs/src/' in row else None
            if path: path = path[path.index('core-rs/src/'):]
        elif row.startswith('DA:') and path:
            n, count = row[3:].split(',')[:2]
            covering = lines.setdefault(path, {}).setdefault(int(n), set())
            if int(count) > 0: covering.add(t)
total = sum(len(v) for v in lines.values())
hit = sum(1 for v in lines.values() for c in v.values() if c)
print(f"{'file':44} {'lines':>6} {'covered':>8}")
for f in sorted(lines):
    v = lines[f]
    print(f"{f:44} {len(v):6} {100 * sum(1 for c in v.values() if c) / len(v):7.1f}%")
print(f"{'core-rs/src, all targets':44} {total:6} {100 * hit / total:7.1f}%")
for t in targets:
    mine = sum(1 for v in lines.values() for c in v.values() if t in c)
    print(f"  {t:42} {'':6} {100 * mine / total:7.1f}%")
EOF
