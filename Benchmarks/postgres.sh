#!/usr/bin/env bash
# The PostgreSQL sink against psql on every table shape (issues 5 and 11), on a release build, medians
# of $RUNS runs, with PostgreSQL on this machine (a private server this script starts and stops,
# default durability). Every figure is a ratio against the same work done by psql in the same run:
#   insert: `sluice run` from the CSV file (source, broker, sink, commits) into a logged table with a
#           primary key, against psql -c "\copy t FROM FILE CSV HEADER" into the same table;
#           target at most 1.25
#   upsert: into the table already holding the first half of the keys, against the same work by hand
#           (\copy into a temporary table, then INSERT … ON CONFLICT DO UPDATE); target at most 1.25
# Shapes:
#   1 cust   the orders file (sluice perf generate-orders) keyed by customer, primary key order_id
#   2 oid    the same keyed by order_id
#   3 wide   a 40-column file (Benchmarks/wide-csv.py: integers, decimals, timestamps, text with
#            quotes, commas and line breaks, booleans, empty fields), primary key id; WIDE_ROWS rows
#   4 strict the orders file keyed by customer into NOT NULL, numeric(12,2), int, varchar(n) and date
#            columns
#   5 tcp    shape 1 over TCP to 127.0.0.1 (psql too) instead of the unix socket
#   6 nokey  the orders file without a key (records spread round-robin) into a table without a
#            primary key
# Upserts run on shapes 1 and 3. For each phase the script also takes the CPU time of sluice (or psql)
# and of the server (its backends and background processes, user and system) and sluice's peak RSS.
# Phases alternate within each run, and their order flips from one run to the next.
# Usage: Benchmarks/postgres.sh   (RUNS=5, ROWS=1000000, WIDE_ROWS=ROWS/4, SHAPES="cust oid wide strict
#        tcp nokey", MEM10M=1 to also measure shape 1's peak memory once with 10,000,000 rows,
#        SINK_OPTIONS='"tasks": 2' to add options to the sink's config)
RUNS="${RUNS:-5}"
source "$(dirname "$0")/lib.sh"
build_release

rows="${ROWS:-1000000}"
wide_rows="${WIDE_ROWS:-$((rows / 4))}"
shapes="${SHAPES:-cust oid wide strict tcp nokey}"
# The generators are sequential: the same seed with half the rows gives the file's first half.
orders="$WORK/orders-$rows.csv" orders_half="$WORK/orders-$rows-half.csv"
[ -f "$orders" ] || "$SLUICE" perf generate-orders --rows "$rows" --output "$orders"
[ -f "$orders_half" ] || "$SLUICE" perf generate-orders --rows "$((rows / 2))" --output "$orders_half"
wide="$WORK/wide-$wide_rows.csv" wide_half="$WORK/wide-$wide_rows-half.csv"
[ -f "$wide" ] || python3 "$BENCH_ROOT/Benchmarks/wide-csv.py" "$wide_rows" "$wide"
[ -f "$wide_half" ] || python3 "$BENCH_ROOT/Benchmarks/wide-csv.py" "$((wide_rows / 2))" "$wide_half"

start_postgres "$WORK/pg"
trap 'stop_postgres; rm -rf "$WORK/pg-data"' EXIT
bin="$PG_BIN" pgdir="$PG_DIR" socket="$PG_SOCKET" tcp="$PG_TCP"
psql_do() { psql_at "$socket" "$@"; }

# server_ticks: "user system" clock ticks of the server so far: the backends that ended (reaped into
# the postmaster's children times) and the processes still running.
server_ticks() {
    local postmaster
    postmaster=$(head -1 "$pgdir/data/postmaster.pid")
    {
        awk '{ print $14 + $16, $15 + $17 }' "/proc/$postmaster/stat"
        for child in $(cat /proc/"$postmaster"/task/*/children); do
            awk '{ print $14, $15 }' "/proc/$child/stat" 2> /dev/null || true
        done
    } | awk '{ u += $1; s += $2 } END { print u, s }'
}

# measure NAME COMMAND... : runs the command and appends "wall user system peak_rss_mb server_user
# server_system" (seconds, MB) to $WORK/m/NAME (kept after the run), and prints it to stderr.
mkdir -p "$WORK/m"
measure() {
    local name="$1" log before after tick
    shift
    log=$(mktemp)
    tick=$(getconf CLK_TCK)
    before=$(server_ticks)
    /usr/bin/time -f '%e %U %S %M' -o "$log" "$@" > /dev/null 2> "$WORK/m/last-stderr" \
        || { cat "$WORK/m/last-stderr" "$log" >&2; exit 1; }
    sleep 0.3 # the backend ends after its client does
    after=$(server_ticks)
    awk -v b="$before" -v a="$after" -v t="$tick" '{ split(b, x, " "); split(a, y, " ");
        printf "%s %s %s %.1f %.2f %.2f\n", $1, $2, $3, $4 / 1024, (y[1] - x[1]) / t, (y[2] - x[2]) / t }' \
        "$log" >> "$WORK/m/$name"
    echo "$name: $(tail -1 "$WORK/m/$name") (wall user system rss_mb server_user server_system)" >&2
    rm -f "$log"
}

# The shapes: file, table, the sluice source's key and column types, the upsert's key and updates.
orders_table="CREATE TABLE t (order_id bigint PRIMARY KEY, customer text, ordered_at timestamptz, amount numeric,
  quantity bigint, status text, note text, gift boolean)"
strict_table="CREATE TABLE t (order_id integer PRIMARY KEY, customer varchar(12) NOT NULL, ordered_at date NOT NULL,
  amount numeric(12,2) NOT NULL, quantity int NOT NULL, status varchar(16) NOT NULL, note text, gift boolean NOT NULL)"
orders_types='"order_id": "int", "ordered_at": "timestamp", "amount": "decimal", "quantity": "int", "gift": "bool"'
orders_update="customer = EXCLUDED.customer, ordered_at = EXCLUDED.ordered_at, amount = EXCLUDED.amount,
  quantity = EXCLUDED.quantity, status = EXCLUDED.status, note = EXCLUDED.note, gift = EXCLUDED.gift"
wide_columns=$(python3 -c '
import importlib.util, sys
spec = importlib.util.spec_from_file_location("w", sys.argv[1]); w = importlib.util.module_from_spec(spec)
spec.loader.exec_module(w); print(" ".join(w.header()))' "$BENCH_ROOT/Benchmarks/wide-csv.py")
wide_type() { # COLUMN → SQL type and sluice type
    case "$1" in
        id) echo "bigint PRIMARY KEY|int" ;; i*) echo "bigint|int" ;; d*) echo "numeric|decimal" ;;
        t*) echo "timestamptz|timestamp" ;; b*) echo "boolean|bool" ;; x1) echo "integer|int" ;;
        x2) echo "double precision|float" ;; *) echo "text|" ;;
    esac
}
wide_table="CREATE TABLE t (" wide_types="" wide_update=""
for column in $wide_columns; do
    IFS='|' read -r sql_type sluice_type <<< "$(wide_type "$column")"
    wide_table+="$column $sql_type, "
    if [ -n "$sluice_type" ]; then wide_types+="\"$column\": \"$sluice_type\", "; fi
    if [ "$column" != id ]; then wide_update+="$column = EXCLUDED.$column, "; fi
done
wide_table="${wide_table%, })" wide_types="${wide_types%, }" wide_update="${wide_update%, }"

shape() { # NAME: sets file half table types key conflict update connection upsert title
    connection="$socket" upsert=""
    case "$1" in
        cust | tcp | strict)
            file="$orders" half="$orders_half" table="$orders_table" types="$orders_types" key=customer
            conflict=order_id update="$orders_update" upsert=yes
            title="1 orders keyed by customer"
            if [ "$1" = tcp ]; then connection="$tcp" upsert="" title="5 shape 1 over TCP"; fi
            if [ "$1" = strict ]; then table="$strict_table" upsert="" title="4 NOT NULL, numeric(12,2), date..."; fi
            ;;
        oid)
            file="$orders" half="$orders_half" table="$orders_table" types="$orders_types" key=order_id
            conflict=order_id update="$orders_update" title="2 orders keyed by order_id"
            ;;
        nokey)
            file="$orders" half="$orders_half" table="${orders_table/ PRIMARY KEY/}" types="$orders_types" key=""
            conflict="" update="" title="6 no key, no primary key"
            ;;
        wide)
            file="$wide" half="$wide_half" table="$wide_table" types="$wide_types" key=id conflict=id
            update="$wide_update" upsert=yes title="3 40 columns ($wide_rows rows)"
            ;;
    esac
}

sluice_config() { # MODE
    local source_key="" sink_key=""
    if [ -n "$key" ]; then source_key="\"key\": [\"$key\"], "; fi
    if [ -n "$conflict" ]; then sink_key="\"key_columns\": [\"$conflict\"], "; fi
    cat > "$WORK/pg.json" << JSON
{"data_dir": "$WORK/pg-data", "topics": {"t": {"partitions": 4}},
 "sources": {"t": {"type": "csv", "path": "$file", ${source_key}"columns": {$types}}},
 "sinks": {"db": {"type": "postgres", "topics": ["t"], "table": "t", "mode": "$1",
                  ${sink_key}"connection": "$connection"${SINK_OPTIONS:+, $SINK_OPTIONS}}}}
JSON
}

reset_table() { # HALF?
    psql_do -c "DROP TABLE IF EXISTS t" -c "$table" > /dev/null
    if [ "${1:-}" = half ]; then psql_do -c "\\copy t FROM '$half' CSV HEADER" > /dev/null; fi
    psql_do -c "CHECKPOINT" > /dev/null
}

expect_rows() { # WHAT
    local want got
    want=$([ "$file" = "$wide" ] && echo "$wide_rows" || echo "$rows")
    got=$(psql_do -c 'SELECT count(*) FROM t')
    [ "$got" -eq "$want" ] || { echo "$1 loaded $got rows, not $want" >&2; exit 1; }
}

phase() { # SHAPE PHASE
    case "$2" in
        copy)
            reset_table
            measure "copy-$1" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -d "$connection" -c "\\copy t FROM '$file' CSV HEADER"
            expect_rows "psql \\copy" ;;
        insert)
            reset_table
            rm -rf "$WORK/pg-data"
            sluice_config insert
            measure "insert-$1" "$SLUICE" run "$WORK/pg.json"
            expect_rows "sluice insert" ;;
        hand)
            reset_table half
            measure "hand-$1" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -d "$connection" \
                -c "CREATE TEMPORARY TABLE stage (LIKE t)" -c "\\copy stage FROM '$file' CSV HEADER" \
                -c "INSERT INTO t SELECT * FROM stage ON CONFLICT ($conflict) DO UPDATE SET $update"
            expect_rows "the upsert by hand" ;;
        upsert)
            reset_table half
            rm -rf "$WORK/pg-data"
            sluice_config upsert
            measure "upsert-$1" "$SLUICE" run "$WORK/pg.json"
            expect_rows "sluice upsert" ;;
    esac
}

echo "load before: $(uptime | sed 's/.*load average/load average/')" >&2
rm -f "$WORK"/m/*
for run in $(seq "$RUNS"); do
    for s in $shapes; do
        shape "$s"
        phases="copy insert"
        if [ -n "$upsert" ]; then phases+=" hand upsert"; fi
        # Every other run the other way round, so that neither side always goes first.
        if [ $((run % 2)) -eq 0 ]; then phases=$(echo "$phases" | tr ' ' '\n' | tac | tr '\n' ' '); fi
        for p in $phases; do phase "$s" "$p"; done
    done
    echo "run $run of $RUNS done; $(uptime | sed 's/.*load average/load average/')" >&2
done

# column NAME FIELD : the median of one field of a phase's measurements.
column() { median $(awk -v f="$2" '{ print $f }' "$WORK/m/$1"); }
echo "load after: $(uptime | sed 's/.*load average/load average/')" >&2
echo
echo "PostgreSQL sink vs psql, medians of $RUNS runs, $rows rows ($wide_rows for shape 3); seconds"
printf '%-36s %8s %8s %7s | %8s %8s %7s\n' shape "\\copy" sluice ratio "by hand" upsert ratio
for s in $shapes; do
    shape "$s"
    c=$(column "copy-$s" 1) i=$(column "insert-$s" 1)
    line=$(printf '%-36s %8s %8s %7s' "$title" "$c" "$i" "$(ratio "$i" "$c")")
    if [ -n "$upsert" ]; then
        h=$(column "hand-$s" 1) u=$(column "upsert-$s" 1)
        line+=$(printf ' | %8s %8s %7s' "$h" "$u" "$(ratio "$u" "$h")")
    fi
    echo "$line"
done
echo "targets: insert ≤ 1.25 × \\copy on every shape, upsert ≤ 1.25 × by hand on shapes 1 and 3"
echo
echo "CPU seconds (medians; user+system), and sluice's peak RSS"
printf '%-36s %-22s %-22s %-22s %8s\n' shape "psql \\copy: psql, server" "sluice insert: sluice" "server" "RSS MB"
for s in $shapes; do
    shape "$s"
    printf '%-36s %-22s %-22s %-22s %8s\n' "$title" \
        "$(column "copy-$s" 2)+$(column "copy-$s" 3), $(column "copy-$s" 5)+$(column "copy-$s" 6)" \
        "$(column "insert-$s" 2)+$(column "insert-$s" 3)" "$(column "insert-$s" 5)+$(column "insert-$s" 6)" \
        "$(column "insert-$s" 4)"
    if [ -n "$upsert" ]; then
        printf '%-36s %-22s %-22s %-22s %8s\n' "  upsert" \
            "$(column "hand-$s" 2)+$(column "hand-$s" 3), $(column "hand-$s" 5)+$(column "hand-$s" 6)" \
            "$(column "upsert-$s" 2)+$(column "upsert-$s" 3)" "$(column "upsert-$s" 5)+$(column "upsert-$s" 6)" \
            "$(column "upsert-$s" 4)"
    fi
done

if [ -n "${MEM10M:-}" ]; then
    rss_1m=$(column insert-cust 4)
    big="$WORK/orders-10000000.csv"
    [ -f "$big" ] || "$SLUICE" perf generate-orders --rows 10000000 --output "$big"
    shape cust
    rows_1m="$rows"
    file="$big" rows=10000000
    phase cust copy
    phase cust insert
    echo
    echo "10,000,000 rows, shape 1, once: psql \\copy $(awk '{ print $1 }' "$WORK/m/copy-cust" | tail -1) s," \
        "sluice insert $(awk '{ print $1 }' "$WORK/m/insert-cust" | tail -1) s," \
        "peak RSS $(awk '{ print $4 }' "$WORK/m/insert-cust" | tail -1) MB ($rows_1m rows: median $rss_1m MB)"
fi
