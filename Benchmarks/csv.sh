#!/usr/bin/env bash
# The CSV source's performance targets (issue 3), on a release build, medians of $RUNS runs, against
# `cat FILE > /dev/null` in the same run:
#   the parser alone:                        at least 400 MB/s on one core
#   sluice run into a 4-partition topic:     at least 700,000 rows/s, peak memory under 150 MB,
#                                            and a 10x larger file in the same memory
# Usage: Benchmarks/csv.sh   (RUNS=5, ROWS=1000000, BIG_ROWS=10000000 to change; BIG_ROWS=0 skips it)
source "$(dirname "$0")/lib.sh"
build_release

rows="${ROWS:-1000000}"
big_rows="${BIG_ROWS:-10000000}"
file="$WORK/orders-$rows.csv"
[ -f "$file" ] || "$SLUICE" perf generate-orders --rows "$rows" --output "$file"
echo "input: $file, $(stat -c %s "$file") bytes, $rows rows" >&2

config() { # config FILE DATA_DIR
    cat <<JSON
{"data_dir": "$2", "topics": {"orders": {"partitions": 4}},
 "sources": {"orders": {"type": "csv", "path": "$1", "key": ["customer"],
   "columns": {"order_id": "int", "ordered_at": "timestamp", "amount": "decimal", "quantity": "int", "gift": "bool"}}}}
JSON
}

cat_mbps=() parse_mbps=() run_rows=() run_mem=()
for run in $(seq "$RUNS"); do
    cat_s=$(seconds cat "$file")
    cat_mbps+=("$(awk -v b="$(stat -c %s "$file")" -v s="$cat_s" 'BEGIN { printf "%.1f\n", b / 1e6 / s }')")
    parse_mbps+=("$("$SLUICE" perf parse "$file" | awk '{ print $(NF-1) }')")
    data="$WORK/csv-data-$run"
    rm -rf "$data"
    config "$file" "$data" > "$WORK/csv.json"
    start=$(date +%s.%N)
    mem=$(peak_rss_mb "$SLUICE" run "$WORK/csv.json")
    end=$(date +%s.%N)
    run_rows+=("$(awk -v r="$rows" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f\n", r / (e - s) }')")
    run_mem+=("$mem")
    rm -rf "$data"
    echo "run $run: cat ${cat_mbps[-1]} MB/s, parser ${parse_mbps[-1]} MB/s, sluice run ${run_rows[-1]} rows/s, ${run_mem[-1]} MB peak" >&2
done

c=$(median "${cat_mbps[@]}")
p=$(median "${parse_mbps[@]}")
r=$(median "${run_rows[@]}")
m=$(median "${run_mem[@]}")
echo "cat FILE > /dev/null:      $c MB/s"
echo "parser alone:              $p MB/s = $(ratio "$p" "$c") of cat (target 400 MB/s; ratio $(ratio "$p" 400))"
echo "sluice run, 4 partitions:  $r rows/s (target 700000; ratio $(ratio "$r" 700000)), peak $m MB (target < 150)"

if [ "$big_rows" -gt 0 ]; then
    big="$WORK/orders-$big_rows.csv"
    [ -f "$big" ] || "$SLUICE" perf generate-orders --rows "$big_rows" --output "$big"
    rm -rf "$WORK/csv-big"
    config "$big" "$WORK/csv-big" > "$WORK/csv-big.json"
    start=$(date +%s.%N)
    mem=$(peak_rss_mb "$SLUICE" run "$WORK/csv-big.json")
    end=$(date +%s.%N)
    rm -rf "$WORK/csv-big"
    echo "10x file ($big_rows rows): $(awk -v r="$big_rows" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", r / (e - s) }') rows/s, peak $mem MB"
fi
