#!/usr/bin/env bash
# The broker's performance targets (issue 2), on a release build, as medians of $RUNS runs:
#   perf produce, 100-byte records, fsync per batch:  at least 2,000,000 records/s
#   perf produce, 1 KiB records:                      at least 40% of dd's fdatasync bandwidth
#   perf consume of the 100-byte topic:               at least 5,000,000 records/s
# Usage: Benchmarks/broker.sh   (RUNS=5 Benchmarks/broker.sh for more runs)
source "$(dirname "$0")/lib.sh"
build_release

records_small="${RECORDS_SMALL:-5000000}"
records_large="${RECORDS_LARGE:-1000000}"
produce_small=() produce_large=() consume=() dd=()
for run in $(seq "$RUNS"); do
    data="$WORK/broker-$run"
    rm -rf "$data"
    dd+=("$(dd_write_mbps "$WORK/dd.bin")")
    produce_small+=("$("$SLUICE" perf produce --data-dir "$data" --topic small --records "$records_small" \
        --record-size 100 2>/dev/null | awk '{ print $4 }')")
    produce_large+=("$("$SLUICE" perf produce --data-dir "$data" --topic large --records "$records_large" \
        --record-size 1024 2>/dev/null | awk '{ printf "%.1f\n", $4 * 1024 / 1000000 }')")
    consume+=("$("$SLUICE" perf consume --data-dir "$data" --topic small | awk '{ print $4 }')")
    rm -rf "$data"
    echo "run $run: produce-100B ${produce_small[-1]} rec/s, produce-1KiB ${produce_large[-1]} MB/s," \
        "consume ${consume[-1]} rec/s, dd ${dd[-1]} MB/s" >&2
done

p_small=$(median "${produce_small[@]}")
p_large=$(median "${produce_large[@]}")
c_small=$(median "${consume[@]}")
d=$(median "${dd[@]}")
echo "perf produce 100 B records:  $p_small records/s   (target 2000000; ratio $(ratio "$p_small" 2000000))"
echo "perf produce 1 KiB records:  $p_large MB/s vs dd fdatasync $d MB/s: $(ratio "$p_large" "$d") of dd (target 0.40)"
echo "perf consume 100 B records:  $c_small records/s   (target 5000000; ratio $(ratio "$c_small" 5000000))"
