#!/bin/sh
# Runs one libFuzzer target for a while and prints how many inputs it ran.
#
#   run-fuzzer.sh FUZZER SECONDS SEEDS WORKDIR [libFuzzer options...]
#
# New inputs go to WORKDIR/corpus (SEEDS is only read); a crashing input is
# saved under WORKDIR/artifacts and the run fails with the fuzzer's report.
set -eu

if [ $# -lt 4 ]; then
  echo "usage: $0 FUZZER SECONDS SEEDS WORKDIR [libFuzzer options...]" >&2
  exit 2
fi

fuzzer=$1
seconds=$2
seeds=$3
work=$4
shift 4

name=$(basename "$fuzzer")
mkdir -p "$work/corpus" "$work/artifacts"
log="$work/fuzz.log"

# A dictionary of the input's words, when the target has one.
dict=$(dirname "$0")/$name.dict
if [ -f "$dict" ]; then
  set -- -dict="$dict" "$@"
fi

# Leaks are checked by libFuzzer after each input that allocated more than
# it freed; GLib's one-time allocations are still reachable and not leaks.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1:detect_leaks=1" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1" \
G_DEBUG=gc-friendly \
"$fuzzer" \
  -max_total_time="$seconds" \
  -timeout=25 \
  -rss_limit_mb=2048 \
  -print_final_stats=1 \
  -error_exitcode=1 \
  -artifact_prefix="$work/artifacts/" \
  "$@" \
  "$work/corpus" "$seeds" >"$log" 2>&1 && status=0 || status=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
corpus=$(find "$work/corpus" -type f | wc -l)
# Coverage (edges) and features of the last status line.
cov=$(sed -n 's/^#[0-9]*.* cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1, ft \2/p' "$log" | tail -n 1)
echo "$name: ${execs:-?} executions in ${seconds}s, ${cov:-cov ?}, $corpus inputs in $work/corpus"

if [ "$status" -ne 0 ]; then
  tail -n 60 "$log" >&2
  echo "$name: FAILED (exit status $status); log: $log; artifacts:" >&2
  ls -1 "$work/artifacts" >&2 || true
  exit "$status"
fi
