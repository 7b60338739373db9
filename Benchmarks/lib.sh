# Shared helpers for the benchmark scripts: building, medians, ratios.
# Source it from a script in this folder.
set -euo pipefail

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${RUNS:-3}"
WORK="${BENCH_WORK:-$BENCH_ROOT/Benchmarks/work}"
mkdir -p "$WORK"
SLUICE="$BENCH_ROOT/.build/release/sluice"

build_release() {
    (cd "$BENCH_ROOT" && swift build -c release --product sluice 2>&1 | tail -1) >&2
}

# median VALUES... : the middle value (the lower middle for an even count).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# ratio A B : A / B with three decimals.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.3f\n", a / b }'
}

# seconds COMMAND... : wall-clock seconds a command takes (its output discarded).
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null 2>&1
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f\n", e - s }'
}

# dd_write_mbps FILE : MB/s of writing 1 GiB of zeros with fdatasync at the end, as dd reports it.
dd_write_mbps() {
    local out
    out=$(dd if=/dev/zero of="$1" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1)
    rm -f "$1"
    echo "$out" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[MG]B\/s$/) { v = $(i - 1); if ($i == "GB/s") v *= 1000; print v } }'
}

# measured FORMAT AWK-PROGRAM COMMAND... : runs the command (output discarded) under /usr/bin/time -f
# FORMAT and prints what AWK-PROGRAM makes of that line.
measured() {
    local log format="$1" program="$2"
    shift 2
    log=$(mktemp)
    /usr/bin/time -f "$format" -o "$log" "$@" > /dev/null 2>&1
    awk "$program" "$log"
    rm -f "$log"
}

# peak_rss_mb COMMAND... : the command's peak resident memory in MB.
peak_rss_mb() {
    measured '%M' '{ printf "%.1f\n", $1 / 1024 }' "$@"
}

# timed COMMAND... : the command's wall-clock seconds and its CPU seconds (user + system, all threads).
timed() {
    measured '%e %U %S' '{ printf "%s %.2f\n", $1, $2 + $3 }' "$@"
}

# start_postgres DIR [SETTING=VALUE...] : initdb and start a private PostgreSQL server in DIR (default
# durability; the settings are passed as -c), listening on a unix socket in DIR and on 127.0.0.1 on a
# private port. Sets PG_BIN, PG_DATA, PG_SOCKET (a libpq connection string over the socket) and PG_TCP;
# stop_postgres stops it and removes DIR. Runs the server as user postgres when run as root.
start_postgres() {
    local dir="$1" options="" port
    shift
    for setting in "$@"; do options+=" -c $setting"; done
    PG_BIN=$(pg_config --bindir)
    PG_DIR="$dir"
    PG_DATA="$dir/data"
    rm -rf "$dir"
    mkdir -p "$dir/socket"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$dir" && chmod o+rx "$(dirname "$dir")" "$WORK"; fi
    run_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale=C > /dev/null
    port=$((45000 + $$ % 10000))
    run_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$dir/log" \
        -o "-c listen_addresses=127.0.0.1 -k $dir/socket -p $port$options" -w start > /dev/null
    PG_SOCKET="host=$dir/socket port=$port user=postgres dbname=postgres"
    PG_TCP="host=127.0.0.1 port=$port user=postgres dbname=postgres"
}

stop_postgres() {
    run_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop > /dev/null
    rm -rf "$PG_DIR"
}

# run_pg COMMAND... : runs a PostgreSQL program as user postgres when run as root.
run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# psql_at CONNECTION ARGUMENTS... : psql, quiet and unaligned, stopping at the first error.
psql_at() {
    local connection="$1"
    shift
    PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$connection" "$@"
}
