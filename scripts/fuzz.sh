#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time from its seed corpus (fuzz/seeds/<name>/) and
# prints executions and findings per target. Crashes are saved as fuzz-crash-<target>-* in the
# current directory; each one found becomes a unit test.
# Usage: scripts/fuzz.sh BUILD_DIR [SECONDS_PER_TARGET]   (FUZZ_TARGETS="hook vault" runs only those)
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/runguard-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
for target in ${FUZZ_TARGETS:-spec policy runc_args rules listener frame attest hook vault agent replies}; do
  mkdir -p "$work/$target"
  cp "$here/fuzz/seeds/$target/"* "$work/$target/"
  # ../shared's real-world configs, when present, join the config.json seeds.
  if [ "$target" = spec ] && [ -d "$here/../shared/corpora/oci" ]; then cp "$here/../shared/corpora/oci/"*.json "$work/$target/"; fi
  # ... and as bundles runguard-hook check reads (first byte 2: the deny-only verdict).
  if [ "$target" = hook ] && [ -d "$here/../shared/corpora/oci" ]; then
    for f in "$here/../shared/corpora/oci/"*.json; do { printf '\x02'; cat "$f"; } >"$work/$target/corpus-$(basename "$f")"; done
  fi
  # ... and Falco's official rule files join the rules seeds (the first byte picks file mode, even).
  if [ "$target" = rules ] && [ -d "$here/../shared/corpora/falco-rules" ]; then
    for f in "$here/../shared/corpora/falco-rules/"*.yaml; do { printf '\0'; cat "$f"; } >"$work/$target/$(basename "$f")"; done
  fi
  # ... and the real attestations, reports and VEX documents join the attest seeds (first byte: the reader).
  if [ "$target" = attest ] && [ -d "$here/../shared/corpora" ]; then
    n=0
    for f in "$here/../shared/corpora/"{dsse,cosign-vuln,trivy,grype,openvex}/*.json*; do
      for mode in 0 1 2 3 4; do { printf "\\x0$mode"; cat "$f"; } >"$work/$target/corpus-$n-$mode"; done
      n=$((n + 1))
    done
  fi
  log="$work/$target.log"
  if "$build/bin/fuzz_$target" -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="fuzz-crash-$target-" "$work/$target" >"$log" 2>&1; then result=clean; else result=CRASH; status=1; fi
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  echo "| fuzz_$target | ${seconds}s | ${execs:-?} executions | $result |"
  [ "$result" = clean ] || tail -30 "$log"
done
exit $status
