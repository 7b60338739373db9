#!/usr/bin/env bash
# `sluice daemon` (issue 12), on a release build:
#   latency:    rows appended to a watched file at RATE rows/s (default 1,000) for SECONDS seconds reach
#               the file sink's folder; p50 and p99 of (time the row's file appeared − time the row was
#               written); targets p50 under 100 ms and p99 under 1 s
#   latency into PostgreSQL: the same rows into a table of a private PostgreSQL server (default
#               durability) by the postgres sink; p50 and p99 of (the commit time of the row's
#               transaction, track_commit_timestamp − time the row was written); target p99 under 1 s
#   throughput: a ROWS-row file dropped into a watched folder, from the drop until the file sink holds
#               every row, against `sluice run` on the same file into the same sink (medians of $RUNS
#               runs); target at least 0.9 × the run's rate
#   idle:       10 watched folders and nothing arriving: the daemon's CPU over 10 s; target under 1%
# Usage: Benchmarks/daemon.sh   (RUNS=3, ROWS=1000000, RATE=1000, SECONDS_=10)
source "$(dirname "$0")/lib.sh"
build_release

rows="${ROWS:-1000000}"
rate="${RATE:-1000}"
duration="${SECONDS_:-10}"
orders="$WORK/orders-$rows.csv"
[ -f "$orders" ] || "$SLUICE" perf generate-orders --rows "$rows" --output "$orders"
dir="$WORK/daemon"
daemon_pid=""
trap '[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2> /dev/null; rm -rf "$dir"' EXIT

config() { # SOURCE_PATH [EXTRA_SOURCES]
    cat > "$dir/config.json" << JSON
{"data_dir": "$dir/data", "topics": {"t": {"partitions": 4}}, "admin": {"listen": "127.0.0.1:0"},
 "sources": {"t": {"type": "csv", "path": "$1", "key": ["customer"]}${2:-}},
 "sinks": {"out": {"type": "file", "topics": ["t"], "path": "$dir/out"}}}
JSON
}

start_daemon() {
    "$SLUICE" daemon "$dir/config.json" --log-level warning > "$dir/daemon.out" 2> "$dir/daemon.err" &
    daemon_pid=$!
}

stop_daemon() {
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || { echo "the daemon exited $?" >&2; cat "$dir/daemon.err" >&2; exit 1; }
    daemon_pid=""
}

# --- latency
rm -rf "$dir" && mkdir -p "$dir/in" "$dir/out"
echo "id,customer,written_ns" > "$dir/in/live.csv"
config "$dir/in"
start_daemon
sleep 1
cat > "$WORK/latency-writer.py" << 'PY'
import json, os, sys, threading, time
# OUT is the file sink's folder, watched for the rows' arrival; "-" only writes the rows.
path, out, rate, duration = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
total = rate * duration
seen = {}  # file name -> time it appeared
latencies = []
done = threading.Event()

def watch():
    while not done.is_set() or len(latencies) < total:
        now = time.time_ns()
        for name in os.listdir(out):
            if name.endswith(".jsonl") and not name.startswith(".") and name not in seen:
                seen[name] = now
                with open(os.path.join(out, name)) as f:
                    for line in f:
                        latencies.append(now - int(json.loads(line)["written_ns"]))
        if done.is_set() and time.time() > deadline:
            break
        time.sleep(0.002)

deadline = time.time() + duration + 30
watcher = threading.Thread(target=watch)
if out != "-":
    watcher.start()
with open(path, "a") as f:
    start = time.time()
    # Rows go out in small groups, as an application logging them would (every 10 ms).
    for i in range(total):
        f.write(f"{i},C{i % 1000},{time.time_ns()}\n")
        if i % (rate // 100) == rate // 100 - 1:
            f.flush()
            wait = start + (i + 1) / rate - time.time()
            if wait > 0:
                time.sleep(wait)
    f.flush()
done.set()
if out == "-":
    sys.exit(0)
watcher.join()
latencies.sort()
if len(latencies) < total:
    print(f"latency: only {len(latencies)} of {total} rows arrived", file=sys.stderr)
    sys.exit(1)
p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] / 1e6
print(f"latency at {rate} rows/s for {duration} s: p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {p(1):.1f} ms "
      "(targets: p50 < 100 ms, p99 < 1000 ms)")
PY
python3 "$WORK/latency-writer.py" "$dir/in/live.csv" "$dir/out" "$rate" "$duration"
stop_daemon

# --- latency into PostgreSQL
start_postgres "$WORK/pg-latency" track_commit_timestamp=on
trap '[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2> /dev/null; rm -rf "$dir"; stop_postgres' EXIT
psql_at "$PG_SOCKET" -c "CREATE TABLE live (id bigint PRIMARY KEY, customer text, written_ns bigint)"
rm -rf "$dir" && mkdir -p "$dir/in" "$dir/out"
echo "id,customer,written_ns" > "$dir/in/live.csv"
cat > "$dir/config.json" << JSON
{"data_dir": "$dir/data", "topics": {"t": {"partitions": 4}}, "admin": {"listen": "127.0.0.1:0"},
 "sources": {"t": {"type": "csv", "path": "$dir/in", "key": ["customer"], "columns": {"id": "int", "written_ns": "int"}}},
 "sinks": {"pg": {"type": "postgres", "topics": ["t"], "table": "live", "connection": "$PG_SOCKET"}}}
JSON
start_daemon
sleep 1
python3 "$WORK/latency-writer.py" "$dir/in/live.csv" - "$rate" "$duration"
total=$((rate * duration))
for _ in $(seq 300); do
    [ "$(psql_at "$PG_SOCKET" -c "SELECT count(*) FROM live")" -ge "$total" ] && break
    sleep 0.1
done
psql_at "$PG_SOCKET" -F ' ' -c "
  WITH l AS (SELECT (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1e9 - written_ns) / 1e6 AS ms FROM live)
  SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
         round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1) FROM l" \
    | awk -v t="$total" -v r="$rate" -v d="$duration" '{
        if ($1 < t) { print "latency into PostgreSQL: only " $1 " of " t " rows arrived" > "/dev/stderr"; exit 1 }
        printf "latency into PostgreSQL at %s rows/s for %s s: p50 %s ms, p99 %s ms, max %s ms (target: p99 < 1000 ms)\n",
            r, d, $2, $3, $4 }'
stop_daemon
stop_postgres
trap '[ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2> /dev/null; rm -rf "$dir"' EXIT

# --- throughput
cat > "$WORK/drop-and-wait.py" << 'PY'
import os, sys, time
# Renames FILE to its name in the watched folder and waits until the file sink's folder OUT holds ROWS
# records (from its file names, TOPIC-P-FIRST-LAST.jsonl); prints the seconds in between.
file, dropped, out, rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def delivered():
    n = 0
    for name in os.listdir(out):
        if name.startswith("t-") and name.endswith(".jsonl"):
            first, last = name[:-len(".jsonl")].split("-")[-2:]
            n += int(last) - int(first) + 1
    return n
start = time.monotonic()
os.rename(file, dropped)
while delivered() < rows:
    time.sleep(0.005)
print(f"{time.monotonic() - start:.4f}")
PY
daemon_rate=() run_rate=()
for run in $(seq "$RUNS"); do
    rm -rf "$dir" && mkdir -p "$dir/in" "$dir/out"
    config "$dir/in"
    start_daemon
    sleep 1
    # The file is written beside the folder's pattern first (a hidden name), and dropped by a rename:
    # the clock starts at the drop, as `sluice run`'s starts with its file in place.
    # One small process renames the file and watches the sink's folder (a listing every 5 ms): a
    # `find` forked every few milliseconds took a tenth of a core from the daemon it measured.
    # Both measurements start with the copy on disk (`sync`): its write-back would otherwise run into
    # the measured work, by as much as a fifth of it.
    cp "$orders" "$dir/in/.orders.csv.tmp" && sync
    s=$(python3 "$WORK/drop-and-wait.py" "$dir/in/.orders.csv.tmp" "$dir/in/orders.csv" "$dir/out" "$rows")
    stop_daemon
    daemon_rate+=("$(awk -v r="$rows" -v s="$s" 'BEGIN { printf "%.0f\n", r / s }')")

    rm -rf "$dir" && mkdir -p "$dir/in" "$dir/out"
    cp "$orders" "$dir/in/orders.csv" && sync
    config "$dir/in"
    s=$(seconds "$SLUICE" run "$dir/config.json" --quiet)
    run_rate+=("$(awk -v r="$rows" -v s="$s" 'BEGIN { printf "%.0f\n", r / s }')")
    echo "run $run: daemon ${daemon_rate[-1]} rows/s, sluice run ${run_rate[-1]} rows/s" >&2
done
d=$(median "${daemon_rate[@]}") r=$(median "${run_rate[@]}")
echo "throughput, $rows rows dropped into a watched folder (medians of $RUNS): daemon $d rows/s," \
    "sluice run $r rows/s, ratio $(ratio "$d" "$r") (target ≥ 0.9)"

# --- idle
rm -rf "$dir" && mkdir -p "$dir/out"
extra=""
for i in $(seq 0 9); do
    mkdir -p "$dir/in$i"
    echo "id,customer" > "$dir/in$i/a.csv"
    if [ "$i" -gt 0 ]; then extra+=", \"s$i\": {\"type\": \"csv\", \"path\": \"$dir/in$i\", \"topic\": \"t\"}"; fi
done
config "$dir/in0" "$extra"
start_daemon
sleep 2
tick=$(getconf CLK_TCK)
before=$(awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat")
sleep 10
after=$(awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat")
stop_daemon
echo "idle, 10 watched folders: $(awk -v a="$after" -v b="$before" -v t="$tick" \
    'BEGIN { printf "%.2f", (a - b) / t / 10 * 100 }')% of a core (target < 1%)"
