#!/usr/bin/env bash
# The Kafka protocol listener (issue 14), on a release build, medians of $RUNS:
#   produce: kcat -P of COUNT records of 100 bytes (acks=all, the topic's default durability) to
#     `sluice daemon`, against the same kcat command on librdkafka's in-process mock cluster
#     (-X test.mock.num.brokers=1), which measures what the client itself does on this machine;
#     target ≤ 1.5 ×.
#   consume: kcat -C -e of those records over the wire against `sluice consume --format value` of the
#     same topic, which reads the log directly; target ≤ 1.5 ×. Also the CPU the daemon and kcat spent,
#     to say where the time goes.
#   idle: ten kcat group members long-polling an idle topic for IDLE_SECONDS: the daemon's CPU, in %
#     of one core; target < 2 %.
# Usage: Benchmarks/kafka.sh   (RUNS=3, COUNT=1000000, IDLE_SECONDS=20)
source "$(dirname "$0")/lib.sh"
build_release
command -v kcat > /dev/null || { echo "kcat is missing (apt-get install kcat)" >&2; exit 1; }

count="${COUNT:-1000000}"
idle_seconds="${IDLE_SECONDS:-20}"
dir="$WORK/kafka"
rm -rf "$dir" && mkdir -p "$dir"
port=$((20000 + RANDOM % 10000))
values="$dir/values.txt"
awk -v n="$count" 'BEGIN { v = sprintf("%100s", ""); gsub(/ /, "x", v); for (i = 0; i < n; i++) print v }' > "$values"
cat > "$dir/config.json" << JSON
{"data_dir": "$dir/data", "sources": {}, "sinks": {}, "admin": {"listen": "off"},
 "kafka": {"listen": "127.0.0.1:$port"}}
JSON
"$SLUICE" daemon "$dir/config.json" > "$dir/daemon.out" 2>&1 &
daemon=$!
trap 'kill $daemon 2> /dev/null; wait $daemon 2> /dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q "Kafka listener started" "$dir/daemon.out" && break; sleep 0.1; done
bootstrap="127.0.0.1:$port"
# cpu_ticks PID: user + system clock ticks (1/100 s) the process has used.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

mock=() ; daemon_produce=() ; wire=() ; local_read=() ; daemon_cpu=() ; kcat_cpu=()
for run in $(seq "$RUNS"); do
    mock+=("$(seconds kcat -X test.mock.num.brokers=1 -b mock -t "bench$run" -P -X acks=all -l "$values")")
    daemon_produce+=("$(seconds kcat -b "$bootstrap" -t "bench$run" -P -X acks=all -l "$values")")
    before=$(cpu_ticks "$daemon")
    start=$(date +%s.%N)
    kcat_cpu+=("$( { /usr/bin/time -f '%U %S' kcat -b "$bootstrap" -t "bench$run" -C -e -o beginning -q > /dev/null; } 2>&1 | awk '{ print $1 + $2 }')")
    end=$(date +%s.%N)
    wire+=("$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f\n", e - s }')")
    daemon_cpu+=("$(awk -v t="$(( $(cpu_ticks "$daemon") - before ))" 'BEGIN { printf "%.2f\n", t / 100 }')")
    local_read+=("$(seconds "$SLUICE" consume --topic "bench$run" --from-beginning --format value --data-dir "$dir/data")")
done

# Ten idle group members: the daemon's CPU over IDLE_SECONDS once they have joined.
kcat -b "$bootstrap" -t idle -P -l /dev/null > /dev/null 2>&1 || true
echo x | kcat -b "$bootstrap" -t idle -P
members=()
for _ in $(seq 10); do
    kcat -b "$bootstrap" -G idlers idle -q > /dev/null 2>&1 &
    members+=($!)
done
sleep 8
before=$(cpu_ticks "$daemon")
sleep "$idle_seconds"
idle_ticks=$(( $(cpu_ticks "$daemon") - before ))
kill "${members[@]}" 2> /dev/null || true
wait "${members[@]}" 2> /dev/null || true

m=$(median "${mock[@]}"); p=$(median "${daemon_produce[@]}"); w=$(median "${wire[@]}"); l=$(median "${local_read[@]}")
echo "records: $count of 100 bytes; runs: $RUNS"
echo "produce: kcat -> sluice daemon ${p} s, kcat -> mock cluster ${m} s: $(ratio "$p" "$m") x (target <= 1.5)"
echo "consume: kcat -C -e over the wire ${w} s, sluice consume ${l} s: $(ratio "$w" "$l") x (target <= 1.5)"
echo "         CPU per read: daemon $(median "${daemon_cpu[@]}") s, kcat $(median "${kcat_cpu[@]}") s"
echo "idle:    ten long-polling members cost the daemon $(awk -v t="$idle_ticks" -v s="$idle_seconds" 'BEGIN { printf "%.2f", t / s }')% of a core (target < 2)"
