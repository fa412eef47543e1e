#!/usr/bin/env bash
# Builds vigil-fuzz with libFuzzer and AddressSanitizer and runs each target
# for FUZZ_SECONDS (default 60), starting from the seeds in Fuzz/seeds/TARGET
# and the corpus kept in .build-fuzz/corpus/TARGET. Prints executions,
# executions per second and coverage for each; exits 1 on any crash, whose
# input is kept in Fuzz/crashes/ (add it to a regression test).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${FUZZ_SECONDS:-60}"
swift build --scratch-path .build-fuzz --product vigil-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library
BIN=.build-fuzz/debug/vigil-fuzz
mkdir -p Fuzz/crashes
status=0
for target in jpeg config messages parameters; do
    corpus=.build-fuzz/corpus/$target
    mkdir -p "$corpus"
    seeds=()
    [ -d "Fuzz/seeds/$target" ] && seeds=("Fuzz/seeds/$target")
    echo "== $target (${SECONDS_EACH} s)"
    if ! VIGIL_FUZZ_TARGET=$target "$BIN" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 \
        -artifact_prefix="Fuzz/crashes/$target-" -print_final_stats=1 "$corpus" "${seeds[@]}" \
        > ".build-fuzz/$target.log" 2>&1; then
        status=1
        echo "   CRASH: see .build-fuzz/$target.log and Fuzz/crashes/"
    fi
    grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec|cov: ' ".build-fuzz/$target.log" \
        | tail -3 | sed 's/^/   /'
done
exit $status
