#!/usr/bin/env bash
# `make test-asan`: the unit and integration suites against an AddressSanitizer +
# UndefinedBehaviorSanitizer build (RUNGUARD_SANITIZE=ON). Every sanitized process (the unit test
# binaries, and runguard, runguard-hook, runguard-monitor, runguardd, runguardctl as runc,
# containerd and podman start them) writes its reports to files under one directory, so a report
# from a process whose failure a test expects, or whose stderr nobody reads, still fails the run.
# Usage: scripts/test_asan.sh BUILD_DIR [extra ctest arguments...]
set -uo pipefail
build=${1:?usage: scripts/test_asan.sh BUILD_DIR [ctest args...]}
shift
grep -q '^RUNGUARD_SANITIZE:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null || {
  echo "test-asan: $build is not a RUNGUARD_SANITIZE=ON build" >&2; exit 2; }

reports=$(mktemp -d /tmp/runguard-asan-reports.XXXXXX)
chmod 0777 "$reports"  # processes that drop privileges write here too
# Tests whose runguard runs as a user namespace's root, or under podman, still see this env.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$reports/asan:log_exe_name=1:strip_path_prefix=$PWD/"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan:log_exe_name=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"

start=$(date +%s)
ctest --test-dir "$build" --output-on-failure --timeout 900 "$@"
rc=$?
elapsed=$(( $(date +%s) - start ))

# A report is a file with a sanitizer's ERROR/SUMMARY or a UBSan "runtime error". A file with
# neither holds only LeakSanitizer's own notes, such as "Unable to get registers from thread N"
# when a test SIGKILLs a process (a hung helper, a runguard killed on purpose) while LeakSanitizer
# is stopping its threads at exit: listed, not a failure.
reports_found=() notes_found=()
while IFS= read -r f; do
  if grep -qE 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|SUMMARY: |runtime error:' "$f"; then
    reports_found+=("$f")
  else
    notes_found+=("$f")
  fi
done < <(find "$reports" -type f | sort)
for f in "${notes_found[@]}"; do echo "test-asan: note (not a finding) in $f: $(head -c 300 "$f" | tr '\n' ' ')"; done
if [ "${#reports_found[@]}" -gt 0 ]; then
  echo "test-asan: sanitizer reports (each one fails the run):" >&2
  for f in "${reports_found[@]}"; do echo "== $f" >&2; head -60 "$f" >&2; done
  [ "$rc" -ne 0 ] || rc=1
else
  echo "test-asan: no sanitizer report from any process (${elapsed}s of tests)"
fi
rm -rf "$reports"
exit "$rc"
