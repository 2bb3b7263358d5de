#!/usr/bin/env bash
# Fuzzes the protocol core: runs the cargo-fuzz targets of core-rs/fuzz one after another, each for a time
# budget, on one core. The corpus of each target grows in core-rs/fuzz/corpus/<target> (not committed),
# starting from the committed seeds in core-rs/fuzz/seeds/<target>; crashes land in
# core-rs/fuzz/artifacts/<target>/. Every run appends a line to core-rs/fuzz/stats.tsv (committed), so the
# executions add up across sessions; the totals are printed at the end. Exits non-zero if a run crashed.
#
# usage: scripts/fuzz.sh [--seconds N] [target...]    (default: 60 s for every target)
set -euo pipefail
cd "$(dirname "$0")/../core-rs/fuzz"
export PATH="$HOME/.cargo/bin:$PATH"

seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:-}; shift 2 || shift ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: --seconds wants a positive whole number" >&2; exit 2; }

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

known=$(cargo +nightly fuzz list)
[ ${#targets[@]} -gt 0 ] || mapfile -t targets <<<"$known"
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$known" || { echo "fuzz.sh: no target $t; the targets are:" $known >&2; exit 2; }
done

# Long enough for the largest seed of each target: libFuzzer cuts longer inputs short.
max_len() {
  case $1 in
    handshake) echo 65536 ;;
    handshake_raw | conn_raw) echo 32768 ;;
    packet) echo 16384 ;;
    zlib) echo 65536 ;;
    *) echo 4096 ;;
  esac
}

# Comparison tracing makes the curve25519 arithmetic of every key exchange three times slower: the
# targets that run whole sessions go without it (the seeds and ssh.dict give them the protocol's values).
build_flags() {
  case $1 in
    handshake | handshake_raw | conn_raw | kex) echo "--sanitizer none --no-trace-compares" ;;
    *) echo "--sanitizer none" ;;
  esac
}

[ -f stats.tsv ] || printf 'date\ttarget\tseconds\texecutions\tcov\tft\tcorpus\tcrashes\n' >stats.tsv
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
crashed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
  artifacts_before=$(find "artifacts/$t" -type f | wc -l)
  printf '\n== %s: %s s\n' "$t" "$seconds"
  # No sanitizer: the core forbids unsafe code, and AddressSanitizer would halve the executions. Overflow
  # checks are on in the core (Cargo.toml), as an overflow is a bug even where release builds would wrap.
  status=0
  # shellcheck disable=SC2046
  cargo +nightly fuzz run $(build_flags "$t") "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 -timeout=30 \
    -max_len="$(max_len "$t")" -dict=ssh.dict >"$logs/$t" 2>&1 || status=$?

  log="$logs/$t"
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o ' cov: [0-9]*' "$log" | tail -1 | tr -dc 0-9)
  ft=$(grep -o ' ft: [0-9]*' "$log" | tail -1 | tr -dc 0-9)
  corpus=$(find "corpus/$t" -type f | wc -l)
  crashes=$(($(find "artifacts/$t" -type f | wc -l) - artifacts_before))
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    tail -30 "$log"
    echo "fuzz.sh: $t failed without leaving an artifact (exit $status)" >&2
    exit 1
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" "$seconds" "${executions:-0}" \
    "${cov:-0}" "${ft:-0}" "$corpus" "$crashes" >>stats.tsv
  echo "$t: ${executions:-0} executions, cov ${cov:-0}, ft ${ft:-0}, corpus $corpus, crashes $crashes"
  if [ "$crashes" -gt 0 ]; then
    crashed+=("$t")
    grep -m1 -A12 'panicked at' "$log" || tail -30 "$log"
    for a in $(ls -t "artifacts/$t" | head -n "$crashes"); do
      echo "reproduce: (cd core-rs/fuzz && cargo +nightly fuzz run $(build_flags "$t") $t artifacts/$t/$a)"
    done
  fi
done

printf '\n== executions so far (stats.tsv)\n'
awk -F'\t' 'NR > 1 { n[$2] += $4; s[$2] += $3 } END { for (t in n) printf "%-14s %14d in %7d s\n", t, n[t], s[t] }' stats.tsv | sort
if [ ${#crashed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in ${crashed[*]}: see core-rs/fuzz/artifacts/" >&2
  exit 1
fi
