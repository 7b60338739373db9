import SluiceCore
import SluiceKit

extension PostgresSink {
    /// The PostgreSQL sink's options: the one declaration behind validation, `sluice connectors describe
    /// postgres` and the table in connectors/postgres/README.md.
    public static let spec = ConnectorSpec(
        type: "postgres",
        kind: .sink,
        summary: "Loads records into PostgreSQL tables with COPY, as inserts or upserts; bad rows go to the "
            + "dead-letter topic.",
        options: [
            OptionSpec(
                "connection", .string,
                "A libpq connection string or URL; when unset, libpq's PG* environment variables and defaults apply. "
                    + "Put the password in ${PGPASSWORD} or ~/.pgpass, not here.",
                example: "postgresql://loader@localhost:5432/shop"),
            OptionSpec(
                "table", .string,
                "The table, optionally schema.table; when unset, the table named exactly as the topic (dots included).",
                example: "public.orders"),
            OptionSpec(
                "mode", .choice(["insert", "upsert"]), default: .string("insert"),
                "insert: COPY each batch in one transaction. upsert: COPY into a staging table and merge with "
                    + "INSERT … ON CONFLICT (key_columns) DO UPDATE; the latest record per key wins."),
            OptionSpec(
                "key_columns", .stringList,
                "The table's key for upsert; the source's key columns when the topic carries them."),
            OptionSpec(
                "columns", .stringMap(allowed: nil), default: .object([]),
                "Record field → table column, for fields whose column has another name.",
                example: "{\"amount\": \"amount_usd\"}"),
            OptionSpec(
                "auto_create", .boolean, default: .bool(true),
                "Create a missing table from the topic's declared column types (a primary key on key_columns "
                    + "in upsert mode)."),
            OptionSpec("auto_evolve", .boolean, default: .bool(false), "Add columns the table lacks."),
            OptionSpec(
                "ignore_unknown_fields", .boolean, default: .bool(false),
                "Drop record fields the table has no column for, instead of dead-lettering the record."),
            OptionSpec(
                "delete_enabled", .boolean, default: .bool(true),
                "In upsert mode, a record with a null value (a tombstone) deletes the row with its key, as Kafka "
                    + "Connect's JDBC sink does with delete.enabled. Insert mode dead-letters tombstones."),
            OptionSpec(
                "key_separator", .string, default: .string("|"),
                "How a tombstone's key splits into several key columns (the csv source joins them with |); a key "
                    + "that is a JSON object gives them by name instead."),
            OptionSpec(
                "delivery", .choice(["at_least_once", "exactly_once"]), default: .string("at_least_once"),
                "exactly_once: store the group's offsets in offsets_table in the same transaction as each batch's "
                    + "rows, and continue from them, so that a crash never loads a row twice, in either mode. "
                    + "at_least_once: a crash between a commit and its offsets loads that batch again."),
            OptionSpec(
                "offsets_table", .string, default: .string("sluice_offsets"),
                "With exactly_once, the table (optionally schema.table) that holds each group's offsets; "
                    + "created when missing."),
        ],
        check: { options in
            var problems: [ConfigProblem] = []
            if let connection = options.string("connection"), let problem = PostgresConnection.problem(in: connection) {
                problems.append(ConfigProblem(options.path(of: "connection"), problem))
            }
            for name in ["table", "offsets_table"] {
                guard let table = options.string(name) else { continue }
                if table.isEmpty || table.hasPrefix(".") || table.hasSuffix(".") {
                    problems.append(ConfigProblem(options.path(of: name), "expected a table name or schema.table"))
                } else if let long = [SQL.tableParts(table).schema, SQL.tableParts(table).table].compactMap({ $0 })
                    .first(where: { $0.utf8.count > PostgresSink.maxIdentifierBytes })
                {
                    problems.append(
                        ConfigProblem(
                            options.path(of: name),
                            "\"\(long)\" is longer than the \(PostgresSink.maxIdentifierBytes) bytes PostgreSQL keeps of a name"
                        ))
                }
            }
            if let keys = options.stringList("key_columns"), keys.isEmpty || keys.contains("") {
                problems.append(
                    ConfigProblem(
                        options.path(of: "key_columns"),
                        "name at least one column (or leave it out to use the topic's key columns)"))
            }
            return problems
        },
        // Two tasks: each loads its partitions through its own connection, so two backends parse and index
        // rows at once where one `psql \copy` uses one, and one task's gaps (sorting the next batch, its
        // commit waiting for the WAL) are the other's busy time. A task holds two batches (the one it
        // loads and the one read ahead), which bounds their size. Measured with Benchmarks/postgres.sh
        // (1,000,000 orders, medians of 3, ratios to `psql \copy`): one task with batches of 60,000
        // records and 24 MB took 1.31 × on the orders keyed by customer, peaking at 125 MB; two tasks
        // with those batches 1.14 × and 190 MB; two with 30,000 records and 8 MB 1.01 × (0.94–1.22 ×
        // on every shape) and 123–143 MB.
        commonDefaults: [
            "tasks": .number("2"), "max_batch_records": .number("30000"), "max_batch_bytes": .number(String(8 << 20)),
        ],
        preflight: { context in PostgresSink.preflight(context) }
    )
}
