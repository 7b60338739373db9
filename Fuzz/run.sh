#!/usr/bin/env bash
# Builds the fuzz harnesses (libFuzzer + AddressSanitizer, debug) and runs each for SECONDS seconds
# (default 20) on a copy of its committed seed corpus. Exits non-zero when any harness crashes, hangs,
# runs out of memory or fails to build. New corpus entries and crash artifacts go to a temporary
# folder (under $TMPDIR, else /tmp), which is removed after a clean run and kept, and printed, after
# a failure. Usage: Fuzz/run.sh [SECONDS] [HARNESS...], HARNESS being a folder name of Fuzz/Corpus.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
shift || true
harnesses=("$@")
((${#harnesses[@]} > 0)) || harnesses=(csv-parser csv-source record-batch segment-recovery config-loader protocol-frames kafka-requests)
scratch=${FUZZ_SCRATCH_PATH:-.build-fuzz}
configuration=${FUZZ_CONFIGURATION:-debug}

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz-XXXXXX")
echo "== building the fuzz harnesses ($configuration, $scratch); output in $work/build.log"
if ! swift build --package-path Fuzz --scratch-path "$scratch" -c "$configuration" \
    -Xswiftc -sanitize=fuzzer,address >"$work/build.log" 2>&1; then
    # The linker warns about every ASan helper it cannot export; keep the rest.
    grep -v "Cannot export local symbol" "$work/build.log" | tail -40
    echo "the fuzz build failed; see $work/build.log"
    exit 1
fi
bin=$(swift build --package-path Fuzz --scratch-path "$scratch" -c "$configuration" --show-bin-path)

# The Swift runtime's backtracer would take over libFuzzer's crash handling (and take minutes).
export SWIFT_BACKTRACE=enable=no

failed=()
for harness in "${harnesses[@]}"; do
    case $harness in
        csv-parser) binary=FuzzCSVParser dict=csv.dict ;;
        csv-source) binary=FuzzCSVSource dict=csv.dict ;;
        record-batch) binary=FuzzRecordBatch dict= ;;
        segment-recovery) binary=FuzzSegmentRecovery dict= ;;
        config-loader) binary=FuzzConfigLoader dict=config-loader.dict ;;
        protocol-frames) binary=FuzzProtocolFrames dict= ;;
        kafka-requests) binary=FuzzKafkaRequests dict= ;;
        *)
            echo "unknown harness $harness"
            exit 2
            ;;
    esac
    dir=$work/$harness
    mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/tmp"
    cp Fuzz/Corpus/"$harness"/* "$dir/corpus/"
    flags=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$dir/artifacts/")
    [ -n "$dict" ] && flags+=(-dict=Fuzz/Dictionaries/"$dict")
    echo "== $harness: $seconds s"
    if TMPDIR=$dir/tmp "$bin/$binary" "$dir/corpus" "${flags[@]}" >"$dir/log.txt" 2>&1; then
        grep -E "^#[0-9]+[[:space:]]+DONE" "$dir/log.txt" || tail -1 "$dir/log.txt"
    else
        grep -E "Fatal error|ERROR:|SUMMARY:|Test unit written" "$dir/log.txt" || tail -20 "$dir/log.txt"
        failed+=("$harness")
    fi
done

if ((${#failed[@]} > 0)); then
    echo "fuzzing found problems in: ${failed[*]}; logs and reproducers are in $work"
    echo "reproduce with: SWIFT_BACKTRACE=enable=no $bin/<Harness> <artifact>"
    exit 1
fi
rm -rf "$work"
echo "== every harness ran clean"
