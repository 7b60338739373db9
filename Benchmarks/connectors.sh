#!/usr/bin/env bash
# External connectors (issue 13), on a release build: COUNT records of 100 bytes (default 1,000,000)
#   sources, into a 4-partition topic: the built-in CSV source on a CSV of the same records (key and a
#     100-byte value), the Swift external source (Benchmarks/connectors/swift), the Python SDK's
#     per-record API, its batch API, and the per-record API in the JSON-lines framing;
#   sinks, from that topic: the built-in file sink against the Swift example sink, which writes the
#     same records to files with the same fsyncs (connectors/examples/swift-jsonl-sink), and the Python
#     SDK's per-record API (a trivial body), its batch API and the JSON-lines framing;
#   memory: sluice's peak RSS with the Swift source and the Python source at COUNT and 5 × COUNT.
# Rates are records per second of the whole `sluice run` (medians of $RUNS); targets: Swift external
# ≥ 1,000,000/s and ≥ 0.5 × the built-in connector, Python per-record ≥ 250,000/s.
# Usage: Benchmarks/connectors.sh   (RUNS=3, COUNT=1000000)
source "$(dirname "$0")/lib.sh"
(cd "$BENCH_ROOT" && for product in sluice sluice-bench-connector sluice-jsonl-sink; do
    swift build -c release --product "$product" 2>&1 | tail -1
done) >&2

count="${COUNT:-1000000}"
bench="$BENCH_ROOT/.build/release/sluice-bench-connector"
jsonl_sink="$BENCH_ROOT/.build/release/sluice-jsonl-sink"
python_source="$BENCH_ROOT/Benchmarks/connectors/bench_source.py"
python_sink="$BENCH_ROOT/Benchmarks/connectors/bench_sink.py"
dir="$WORK/connectors"
trap 'rm -rf "$dir"' EXIT
rm -rf "$dir" && mkdir -p "$dir"
csv="$WORK/records-$count.csv"
[ -f "$csv" ] || awk -v n="$count" 'BEGIN {
    v = sprintf("%100s", ""); gsub(/ /, "x", v); print "k,v"
    for (i = 0; i < n; i++) printf "k%d,%s\n", i % 100, v }' > "$csv"

# source_run NAME SOURCE_JSON: seconds of `sluice run` of one source into topic t, in a fresh data dir.
source_run() {
    rm -rf "$dir/data" "$dir/out"
    cat > "$dir/config.json" << JSON
{"data_dir": "$dir/data", "topics": {"t": {"partitions": 4}}, "sources": {"t": $2}}
JSON
    seconds "$SLUICE" run "$dir/config.json" --quiet
}

# sink_run NAME SINK_JSON: seconds of `sluice run` of one sink (a new group) over topic t.
sink_run() {
    rm -rf "$dir/out"
    cat > "$dir/sink.json" << JSON
{"data_dir": "$dir/data", "topics": {"t": {"partitions": 4}}, "sinks": {"$1": $2}}
JSON
    seconds "$SLUICE" run "$dir/sink.json" --quiet
}

rate() { awk -v n="$count" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }

declare -A sources=(
    [builtin_csv]="{\"type\": \"csv\", \"path\": \"$csv\", \"key\": [\"k\"]}"
    [swift]="{\"type\": \"exec\", \"command\": [\"$bench\", \"source\"], \"count\": $count}"
    [python_record]="{\"type\": \"exec\", \"command\": [\"python3\", \"$python_source\"], \"count\": $count}"
    [python_batch]="{\"type\": \"exec\", \"command\": [\"python3\", \"$python_source\"], \"count\": $count, \"batches\": true}"
)
declare -A source_rates
for name in builtin_csv swift python_record python_batch python_jsonl; do
    values=()
    for _ in $(seq "$RUNS"); do
        if [ "$name" = python_jsonl ]; then
            s=$(SLUICE_CONNECTOR_FRAMING=jsonl source_run "$name" "${sources[python_record]}")
        else
            s=$(source_run "$name" "${sources[$name]}")
        fi
        values+=("$(rate "$s")")
    done
    source_rates[$name]=$(median "${values[@]}")
    echo "source $name: ${source_rates[$name]} records/s (runs: ${values[*]})" >&2
done

# The topic the sinks read: COUNT records from the Swift source.
source_run fill "${sources[swift]}" > /dev/null
declare -A sinks=(
    [builtin_file]="{\"type\": \"file\", \"topics\": [\"t\"], \"path\": \"$dir/out\"}"
    [swift_jsonl]="{\"type\": \"exec\", \"command\": [\"$jsonl_sink\"], \"topics\": [\"t\"], \"folder\": \"$dir/out\"}"
    [swift_trivial]="{\"type\": \"exec\", \"command\": [\"$bench\", \"sink\"], \"topics\": [\"t\"]}"
    [python_record]="{\"type\": \"exec\", \"command\": [\"python3\", \"$python_sink\"], \"topics\": [\"t\"]}"
    [python_batch]="{\"type\": \"exec\", \"command\": [\"python3\", \"$python_sink\"], \"topics\": [\"t\"], \"batches\": true}"
)
declare -A sink_rates
run_number=0
for name in builtin_file swift_jsonl swift_trivial python_record python_batch python_jsonl; do
    values=()
    for _ in $(seq "$RUNS"); do
        run_number=$((run_number + 1))
        if [ "$name" = python_jsonl ]; then
            s=$(SLUICE_CONNECTOR_FRAMING=jsonl sink_run "g$run_number" "${sinks[python_record]}")
        else
            s=$(sink_run "g$run_number" "${sinks[$name]}")
        fi
        values+=("$(rate "$s")")
    done
    sink_rates[$name]=$(median "${values[@]}")
    echo "sink $name: ${sink_rates[$name]} records/s (runs: ${values[*]})" >&2
done

echo "records of 100 bytes, $count per run, records/s (medians of $RUNS), two cores:"
echo "  sources: built-in CSV ${source_rates[builtin_csv]}, Swift external ${source_rates[swift]}" \
    "($(ratio "${source_rates[swift]}" "${source_rates[builtin_csv]}") × built-in; targets ≥ 1,000,000 and ≥ 0.5 ×)"
echo "           Python per-record ${source_rates[python_record]} (target ≥ 250,000), batch API" \
    "${source_rates[python_batch]}, JSON lines ${source_rates[python_jsonl]}"
echo "  sinks:   built-in file ${sink_rates[builtin_file]}, Swift external (same files, same fsyncs)" \
    "${sink_rates[swift_jsonl]} ($(ratio "${sink_rates[swift_jsonl]}" "${sink_rates[builtin_file]}") × built-in; targets" \
    "≥ 1,000,000 and ≥ 0.5 ×), Swift trivial ${sink_rates[swift_trivial]}"
echo "           Python per-record ${sink_rates[python_record]} (target ≥ 250,000), batch API" \
    "${sink_rates[python_batch]}, JSON lines ${sink_rates[python_jsonl]}"

# Memory: sluice's peak RSS does not grow with the input (the window bounds what is in flight).
for source in swift python_record; do
    line=""
    for n in "$count" "$((count * 5))"; do
        rm -rf "$dir/data"
        json="${sources[$source]//\"count\": $count/\"count\": $n}"
        cat > "$dir/config.json" << JSON
{"data_dir": "$dir/data", "topics": {"t": {"partitions": 4}}, "sources": {"t": $json}}
JSON
        kb=$( { /usr/bin/time -f "%M" "$SLUICE" run "$dir/config.json" --quiet > /dev/null; } 2>&1 | tail -1)
        line+=" $n records: $((kb / 1024)) MB;"
    done
    echo "  memory, sluice's peak RSS with the $source source:$line"
done
