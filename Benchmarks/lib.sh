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

# peak_rss_mb COMMAND... : the command's peak resident memory in MB (from /usr/bin/time).
peak_rss_mb() {
    local log
    log=$(mktemp)
    /usr/bin/time -f '%M' -o "$log" "$@" > /dev/null 2>&1
    awk '{ printf "%.1f\n", $1 / 1024 }' "$log"
    rm -f "$log"
}
