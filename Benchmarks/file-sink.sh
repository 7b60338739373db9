#!/usr/bin/env bash
# The file sink's performance target (issue 4), on a release build, medians of $RUNS runs:
#   sluice run, CSV source → 4-partition topic → file sink (jsonl, one task, fsync per file), end to end,
#   at most 1.5 times DuckDB's COPY (SELECT * FROM read_csv('FILE')) TO 'out.json' in the same run,
#   with peak memory under 200 MB. `cat FILE > /dev/null` is printed for scale.
# DuckDB is installed from PyPI into a virtualenv under Benchmarks/work for the benchmark only.
# Usage: Benchmarks/file-sink.sh   (RUNS=5, ROWS=1000000)
source "$(dirname "$0")/lib.sh"
build_release

rows="${ROWS:-1000000}"
file="$WORK/orders-$rows.csv"
[ -f "$file" ] || "$SLUICE" perf generate-orders --rows "$rows" --output "$file"
venv="$WORK/duckdb-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" && "$venv/bin/pip" install -q duckdb >&2
fi

cat > "$WORK/file-sink.json" <<JSON
{"data_dir": "$WORK/fs-data", "topics": {"orders": {"partitions": 4}},
 "sources": {"orders": {"type": "csv", "path": "$file", "key": ["customer"],
   "columns": {"order_id": "int", "ordered_at": "timestamp", "amount": "decimal", "quantity": "int", "gift": "bool"}}},
 "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "$WORK/fs-out", "format": "jsonl"}}}
JSON

duck=() sluice_s=() mem=() cat_s=()
for run in $(seq "$RUNS"); do
    cat_s+=("$(seconds cat "$file")")
    rm -f "$WORK/duck.json"
    duck+=("$(seconds "$venv/bin/python" -c "import duckdb; duckdb.sql(\"COPY (SELECT * FROM read_csv('$file')) TO '$WORK/duck.json'\")")")
    rm -rf "$WORK/fs-data" "$WORK/fs-out"
    start=$(date +%s.%N)
    mem+=("$(peak_rss_mb "$SLUICE" run "$WORK/file-sink.json")")
    end=$(date +%s.%N)
    sluice_s+=("$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f\n", e - s }')")
    lines=$(cat "$WORK"/fs-out/*.jsonl | wc -l)
    [ "$lines" -eq "$rows" ] || { echo "run $run: the files hold $lines lines, expected $rows" >&2; exit 1; }
    echo "run $run: cat ${cat_s[-1]} s, duckdb ${duck[-1]} s, sluice ${sluice_s[-1]} s, ${mem[-1]} MB peak" >&2
done
rm -rf "$WORK/fs-data" "$WORK/fs-out" "$WORK/duck.json"

d=$(median "${duck[@]}")
s=$(median "${sluice_s[@]}")
echo "cat FILE > /dev/null:            $(median "${cat_s[@]}") s"
echo "DuckDB CSV → JSON lines:         $d s"
echo "sluice run, CSV → broker → file: $s s = $(ratio "$s" "$d") × DuckDB (target ≤ 1.5), peak $(median "${mem[@]}") MB (target < 200)"
