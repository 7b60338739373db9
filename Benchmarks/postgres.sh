#!/usr/bin/env bash
# The PostgreSQL sink's performance targets (issue 5), on a release build, medians of $RUNS runs, with
# PostgreSQL on this machine (a private server this script starts and stops, default durability):
#   insert: sluice run from the CSV file (source, broker, sink, commits) into a logged table with a
#           primary key, at most 1.25 × psql -c "\copy t FROM FILE CSV HEADER" into the same table
#   upsert: into the table already holding half of the keys, at most 1.25 × the same work by hand
#           (\copy into a temporary table, then INSERT … ON CONFLICT DO UPDATE)
# Usage: Benchmarks/postgres.sh   (RUNS=5, ROWS=1000000)
source "$(dirname "$0")/lib.sh"
build_release

rows="${ROWS:-1000000}"
file="$WORK/orders-$rows.csv"
[ -f "$file" ] || "$SLUICE" perf generate-orders --rows "$rows" --output "$file"
# The generator is sequential: the same seed with half the rows gives the file's first half.
half="$WORK/orders-$rows-half.csv"
[ -f "$half" ] || "$SLUICE" perf generate-orders --rows "$((rows / 2))" --output "$half"

bin=$(pg_config --bindir)
pgdir="$WORK/pg"
rm -rf "$pgdir"
mkdir -p "$pgdir/socket"
run_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" -eq 0 ] && chown -R postgres "$pgdir" && chmod o+rx "$WORK" "$(dirname "$WORK")"
run_pg "$bin/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --locale=C > /dev/null
port=$((45000 + $$ % 10000))
run_pg "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/log" -o "-c listen_addresses='' -k $pgdir/socket -p $port" -w start > /dev/null
trap 'run_pg "$bin/pg_ctl" -D "$pgdir/data" -m fast -w stop > /dev/null; rm -rf "$pgdir"' EXIT
psql_do() { "$bin/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$pgdir/socket" -p "$port" -U postgres -d postgres "$@"; }
table="CREATE TABLE t (order_id bigint PRIMARY KEY, customer text, ordered_at timestamptz, amount numeric,
  quantity bigint, status text, note text, gift boolean)"
columns='"order_id": "int", "ordered_at": "timestamp", "amount": "decimal", "quantity": "int", "gift": "bool"'
update="customer = EXCLUDED.customer, ordered_at = EXCLUDED.ordered_at, amount = EXCLUDED.amount,
  quantity = EXCLUDED.quantity, status = EXCLUDED.status, note = EXCLUDED.note, gift = EXCLUDED.gift"

sluice_config() { # MODE
    cat > "$WORK/pg.json" <<JSON
{"data_dir": "$WORK/pg-data", "topics": {"orders": {"partitions": 4}},
 "sources": {"orders": {"type": "csv", "path": "$file", "key": ["order_id"], "columns": {$columns}}},
 "sinks": {"db": {"type": "postgres", "topics": ["orders"], "table": "t", "mode": "$1",
                  "connection": "host=$pgdir/socket port=$port user=postgres dbname=postgres"}}}
JSON
}

reset_table() { # HALF?
    psql_do -c "DROP TABLE IF EXISTS t" -c "$table" > /dev/null
    if [ "${1:-}" = half ]; then psql_do -c "\\copy t FROM '$half' CSV HEADER" > /dev/null; fi
    psql_do -c "CHECKPOINT" > /dev/null
}

copy_s=() insert_s=() manual_s=() upsert_s=()
for run in $(seq "$RUNS"); do
    reset_table
    copy_s+=("$(seconds psql_do -c "\\copy t FROM '$file' CSV HEADER")")
    [ "$(psql_do -c 'SELECT count(*) FROM t')" -eq "$rows" ] || { echo "psql loaded the wrong count" >&2; exit 1; }

    reset_table
    rm -rf "$WORK/pg-data"
    sluice_config insert
    insert_s+=("$(seconds "$SLUICE" run "$WORK/pg.json")")
    [ "$(psql_do -c 'SELECT count(*) FROM t')" -eq "$rows" ] || { echo "sluice inserted the wrong count" >&2; exit 1; }

    reset_table half
    manual_s+=("$(seconds psql_do -c "CREATE TEMPORARY TABLE stage (LIKE t)" -c "\\copy stage FROM '$file' CSV HEADER" \
        -c "INSERT INTO t SELECT * FROM stage ON CONFLICT (order_id) DO UPDATE SET $update")")
    [ "$(psql_do -c 'SELECT count(*) FROM t')" -eq "$rows" ] || { echo "the manual upsert gave the wrong count" >&2; exit 1; }

    reset_table half
    rm -rf "$WORK/pg-data"
    sluice_config upsert
    upsert_s+=("$(seconds "$SLUICE" run "$WORK/pg.json")")
    [ "$(psql_do -c 'SELECT count(*) FROM t')" -eq "$rows" ] || { echo "sluice upserted the wrong count" >&2; exit 1; }
    echo "run $run: psql \\copy ${copy_s[-1]} s, sluice insert ${insert_s[-1]} s," \
        "manual upsert ${manual_s[-1]} s, sluice upsert ${upsert_s[-1]} s" >&2
done
rm -rf "$WORK/pg-data"

c=$(median "${copy_s[@]}")
i=$(median "${insert_s[@]}")
m=$(median "${manual_s[@]}")
u=$(median "${upsert_s[@]}")
echo "psql \\copy t FROM FILE CSV HEADER:     $c s"
echo "sluice run, insert (end to end):      $i s = $(ratio "$i" "$c") × psql \\copy (target ≤ 1.25)"
echo "by hand: \\copy to temp + ON CONFLICT:  $m s"
echo "sluice run, upsert (half the keys):   $u s = $(ratio "$u" "$m") × by hand (target ≤ 1.25)"
