#!/usr/bin/env bash
# The Kafka backend's target (issue 15), on a release build, medians of $RUNS runs:
#   sluice run, CSV → 4-partition topic → file sink on the 1,000,000-row file, with the broker section
#   pointing at a `sluice daemon` on this machine acting as the Kafka cluster, in at most 2 × the same
#   pipeline on the embedded broker, in the same run. Also the CPU the cluster daemon spent per run, to
#   show where the time goes (the run's own CPU is librdkafka's client work plus Sluice's).
# With SLUICE_BEFORE=/path/to/an/older/sluice, the embedded pipeline is timed with that binary too
# (the embedded broker must not be more than 5% slower than before the backend interface).
# Usage: Benchmarks/kafka-backend.sh   (RUNS=5, ROWS=1000000)
source "$(dirname "$0")/lib.sh"
build_release

rows="${ROWS:-1000000}"
file="$WORK/orders-$rows.csv"
[ -f "$file" ] || "$SLUICE" perf generate-orders --rows "$rows" --output "$file"
dir="$WORK/kafka-backend"
rm -rf "$dir" && mkdir -p "$dir"
port=$((20000 + RANDOM % 10000))
cat > "$dir/cluster.json" << JSON
{"data_dir": "$dir/cluster", "sources": {}, "sinks": {}, "admin": {"listen": "off"},
 "kafka": {"listen": "127.0.0.1:$port"}}
JSON
"$SLUICE" daemon "$dir/cluster.json" > "$dir/cluster.out" 2>&1 &
cluster=$!
trap 'kill $cluster 2> /dev/null; wait $cluster 2> /dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q "Kafka listener started" "$dir/cluster.out" && break; sleep 0.1; done

pipeline() { # BROKER-SECTION TOPIC
    cat << JSON
{"data_dir": "$dir/data", $1 "topics": {"$2": {"partitions": 4}},
 "sources": {"$2": {"type": "csv", "path": "$file", "key": ["customer"], "topic": "$2",
   "columns": {"order_id": "int", "ordered_at": "timestamp", "amount": "decimal", "quantity": "int", "gift": "bool"}}},
 "sinks": {"files": {"type": "file", "topics": ["$2"], "path": "$dir/out", "format": "jsonl", "group": "files-$2"}}}
JSON
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

embedded=() kafka=() before=() cluster_cpu=() embedded_cpu=() kafka_cpu=()
for run in $(seq "$RUNS"); do
    pipeline "" "orders" > "$dir/embedded.json"
    rm -rf "$dir/data" "$dir/out"
    read -r wall cpu < <(timed "$SLUICE" run "$dir/embedded.json")
    embedded+=("$wall") embedded_cpu+=("$cpu")
    if [ -n "${SLUICE_BEFORE:-}" ]; then
        rm -rf "$dir/data" "$dir/out"
        before+=("$(seconds "$SLUICE_BEFORE" run "$dir/embedded.json")")
    fi
    pipeline "\"broker\": {\"type\": \"kafka\", \"bootstrap_servers\": \"127.0.0.1:$port\"}," "orders$run" \
        > "$dir/kafka.json"
    rm -rf "$dir/data" "$dir/out"
    ticks=$(cpu_ticks "$cluster")
    read -r wall cpu < <(timed "$SLUICE" run "$dir/kafka.json")
    kafka+=("$wall") kafka_cpu+=("$cpu")
    cluster_cpu+=("$(awk -v a="$ticks" -v b="$(cpu_ticks "$cluster")" 'BEGIN { printf "%.2f\n", (b - a) / 100 }')")
    lines=$(cat "$dir"/out/*.jsonl | wc -l)
    [ "$lines" -eq "$rows" ] || { echo "run $run: the files hold $lines lines, expected $rows" >&2; exit 1; }
    echo "run $run: embedded ${embedded[-1]} s (CPU ${embedded_cpu[-1]} s)${before:+, before ${before[-1]} s}," \
        "kafka backend ${kafka[-1]} s (CPU ${kafka_cpu[-1]} s, cluster CPU ${cluster_cpu[-1]} s)" >&2
done

e=$(median "${embedded[@]}")
k=$(median "${kafka[@]}")
echo "embedded broker, CSV → topic → file:          $e s, CPU $(median "${embedded_cpu[@]}") s"
echo "Kafka backend (sluice daemon on this machine): $k s = $(ratio "$k" "$e") × embedded (target ≤ 2)"
echo "  CPU: the run $(median "${kafka_cpu[@]}") s, the cluster $(median "${cluster_cpu[@]}") s, on $(nproc) cores"
if [ -n "${SLUICE_BEFORE:-}" ]; then
    b=$(median "${before[@]}")
    echo "embedded before the interface:                 $b s; now $(ratio "$e" "$b") × (target ≤ 1.05)"
fi
