import SluiceCore
import SluiceKit

/// What `sluice validate --connect` and `sluice run --dry-run` check on a PostgreSQL sink's server:
/// that it answers; that each table the sink writes exists with the rights the sink needs (INSERT; for
/// upsert also UPDATE, SELECT and temporary tables, and a unique index on the key columns for ON
/// CONFLICT), or, when it is missing, that `auto_create` is on and the user may create it.
///
/// Only reads the catalog: no DDL, no data. Messages name the server by user, host, port and
/// database, never with the password. Blocking; runs on the caller's thread.
struct PostgresPreflight {
    let context: PreflightContext
    let connection: PostgresConnection
    let upsert: Bool
    let autoCreate: Bool
    let tableOption: String?
    let mapping: [String: String]

    init(_ context: PreflightContext) {
        self.context = context
        let options = context.options
        connection = PostgresConnection(connectionString: options.string("connection") ?? "")
        upsert = options.string("mode") == "upsert"
        autoCreate = options.bool("auto_create") ?? true
        tableOption = options.string("table")
        var mapping: [String: String] = [:]
        for (field, column) in options.stringMap("columns") ?? [] { mapping[field] = column }
        self.mapping = mapping
    }

    var options: ConnectorOptions { context.options }

    /// The user and database the checks run as, once connected.
    struct Session {
        var user: String
        var database: String
    }

    func run() -> PreflightResult {
        var result = PreflightResult()
        defer { connection.close() }
        let session: Session
        do {
            try connection.ensureIdle()
            let row = try connection.execute("SELECT current_user, current_database()").first ?? []
            session = Session(user: (row.first ?? nil) ?? "?", database: (row.last ?? nil) ?? "?")
        } catch let error as PostgresError {
            if context.serverMayBeDown && error.kind == .transient {
                result.note("sink \(context.name): \(connection.target) does not answer now; the sink retries")
                return result
            }
            let path = options["connection"] == nil ? options.path : options.path(of: "connection")
            let hint = error.connectFailure.map { $0 == .unreachable ? Self.unreachableHint : $0.hint }
            result.problem(
                path, "cannot connect to \(connection.target): \(error.message)" + (hint.map { "; \($0)" } ?? ""))
            return result
        } catch {
            result.problem(options.path, "cannot connect to \(connection.target): \(error)")
            return result
        }
        var checked: Set<String> = []
        for topic in context.topics {
            let name = tableOption ?? topic
            guard checked.insert(name).inserted else { continue }
            let path = tableOption == nil ? options.path(of: "topics") : options.path(of: "table")
            do {
                result = result + (try check(name, topic: topic, session: session, path: path))
            } catch let error as PostgresError where error.sqlState == "42501" {
                result.problem(
                    path, "user \(session.user) may not look up table \(name) on \(connection.target): \(error.message)"
                )
            } catch {
                result.problem(path, "cannot check table \(name) on \(connection.target): \(error)")
            }
        }
        if options.string("delivery") == "exactly_once" {
            do {
                result = result + (try checkOffsetsTable(session))
            } catch {
                result.problem(
                    options.path(of: "offsets_table"),
                    "cannot check the offsets table on \(connection.target): \(error)")
            }
        }
        return result
    }

    /// The columns of the offsets table that exactly_once delivery keeps (see the README).
    static let offsetsColumns = [
        "group_name", "topic", "partition", "claim", "next_offset", "reset_at", "dead_letter_ends", "topic_id",
    ]

    /// With exactly_once: the offsets table is there with its columns and the rights to read and write
    /// it, or the user may create it.
    private func checkOffsetsTable(_ session: Session) throws -> PreflightResult {
        var result = PreflightResult()
        let name = options.string("offsets_table") ?? "sluice_offsets"
        let path = options.path(of: "offsets_table")
        let (schema, table) = SQL.tableParts(name)
        if let long = [schema, table].compactMap({ $0 }).first(where: {
            $0.utf8.count > PostgresSink.maxIdentifierBytes
        }) {
            result.problem(
                path, "the name \"\(long)\" is longer than PostgreSQL keeps (\(PostgresSink.maxIdentifierBytes) bytes)")
            return result
        }
        let qualified = SQL.qualified(schema: schema, table: table)
        if let oid = try connection.execute("SELECT to_regclass($1)::oid::text", [qualified]).first?.first ?? nil {
            let present = Set(
                try connection.execute(
                    "SELECT attname FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped",
                    [oid]
                ).compactMap { $0.first ?? nil })
            let missing = Self.offsetsColumns.filter { !present.contains($0) }
            if !missing.isEmpty {
                result.problem(
                    path,
                    "table \(name) is not an offsets table of exactly_once delivery (it lacks "
                        + missing.joined(separator: ", ") + "); name another with offsets_table")
                return result
            }
            let rights =
                try connection.execute(
                    "SELECT has_table_privilege($1::oid, 'SELECT'), has_table_privilege($1::oid, 'INSERT'), "
                        + "has_table_privilege($1::oid, 'UPDATE')", [oid]
                ).first ?? []
            if rights.contains(where: { $0 != "t" }) {
                result.problem(
                    path,
                    "user \(session.user) needs SELECT, INSERT and UPDATE on the offsets table \(name): GRANT SELECT, "
                        + "INSERT, UPDATE ON \(qualified) TO \(SQL.identifier(session.user))")
            } else {
                result.note("sink \(context.name): offsets table \(name) exists")
            }
            return result
        }
        let row = try creationRights(schema)
        if row.count == 4 && row[2] == "t" {
            result.note("sink \(context.name): offsets table \(name) does not exist; the run creates it")
        } else {
            result.problem(
                path,
                "the offsets table \(name) does not exist, and user \(session.user) may not create it; create it as "
                    + "connectors/postgres/README.md shows, or grant CREATE on its schema")
        }
        return result
    }

    static let unreachableHint = "check that the server runs and that host and port in the connection are right"

    /// For a table to be created in `schema` (nil: the first schema of the search_path): the schema's
    /// name, whether it exists, whether the user may create there (in the database, when the schema
    /// must be made too), and whether the user may make temporary tables.
    private func creationRights(_ schema: String?) throws -> [String?] {
        try connection.execute(
            "SELECT s.name, n.oid IS NOT NULL, CASE WHEN n.oid IS NULL "
                + "THEN has_database_privilege(current_database(), 'CREATE') "
                + "ELSE has_schema_privilege(n.oid, 'CREATE') END, "
                + "has_database_privilege(current_database(), 'TEMPORARY') "
                + "FROM (SELECT coalesce($1::text, current_schema()) AS name) s "
                + "LEFT JOIN pg_namespace n ON n.nspname = s.name",
            [schema]
        ).first ?? []
    }

    /// The checks of one table, found by `name` (the table option, or the topic's name).
    private func check(_ name: String, topic: String, session: Session, path: String) throws -> PreflightResult {
        let (schema, table) = tableOption.map(SQL.tableParts) ?? (nil, name)
        let qualified = SQL.qualified(schema: schema, table: table)
        let oid = try connection.execute("SELECT to_regclass($1)::oid::text", [qualified]).first?.first ?? nil
        if let oid { return try checkExisting(name, oid: oid, topic: topic, session: session, path: path) }
        var result = PreflightResult()
        guard autoCreate else {
            result.problem(
                path, "table \(name) does not exist on \(connection.target); create it or set auto_create")
            return result
        }
        if let long = [schema, table].compactMap({ $0 }).first(where: {
            $0.utf8.count > PostgresSink.maxIdentifierBytes
        }) {
            result.problem(
                path,
                "cannot create table \(name): the name \"\(long)\" is longer than PostgreSQL keeps "
                    + "(\(PostgresSink.maxIdentifierBytes) bytes); name a shorter table with the table option")
        }
        let row = try creationRights(schema)
        guard row.count == 4, let schemaName = row[0] else {
            result.problem(
                path,
                "table \(name) does not exist, and no schema on the search_path of \(session.user) exists to create "
                    + "it in; name one in the table option (schema.table)")
            return result
        }
        let schemaExists = row[1] == "t"
        if row[2] != "t" {
            let grant =
                schemaExists
                ? "GRANT CREATE ON SCHEMA \(SQL.identifier(schemaName)) TO \(SQL.identifier(session.user))"
                : "GRANT CREATE ON DATABASE \(SQL.identifier(session.database)) TO \(SQL.identifier(session.user))"
            result.problem(
                path,
                "table \(name) does not exist, and user \(session.user) may not create it "
                    + (schemaExists ? "in schema \(schemaName)" : "(nor the schema \(schemaName))")
                    + "; create the table, or \(grant)")
        }
        if upsert && row[3] != "t" { result.problem(path, temporaryProblem(session)) }
        if result.problems.isEmpty {
            result.note(
                "sink \(context.name): table \(name) does not exist on \(connection.target); the run creates it"
                    + (schemaExists ? "" : " and the schema \(schemaName)"))
        }
        return result
    }

    private func checkExisting(
        _ name: String, oid: String, topic: String, session: Session, path: String
    ) throws -> PreflightResult {
        var result = PreflightResult()
        let row =
            try connection.execute(
                "SELECT c.relkind::text, has_any_column_privilege(c.oid, 'INSERT'), "
                    + "has_any_column_privilege(c.oid, 'UPDATE'), has_any_column_privilege(c.oid, 'SELECT'), "
                    + "has_database_privilege(current_database(), 'TEMPORARY'), "
                    + "(SELECT count(*) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 "
                    + "AND NOT a.attisdropped) FROM pg_class c WHERE c.oid = $1::oid",
                [oid]
            ).first ?? []
        guard row.count == 6 else { return result }
        let user = SQL.identifier(session.user)
        guard ["r", "p", "f"].contains(row[0] ?? "") else {
            result.problem(path, "\(name) on \(connection.target) is not a table (relkind \(row[0] ?? "?"))")
            return result
        }
        var missing: [String] = []
        if row[1] != "t" { missing.append("INSERT") }
        if upsert && row[2] != "t" { missing.append("UPDATE") }
        if upsert && row[3] != "t" { missing.append("SELECT") }
        if !missing.isEmpty {
            let rights = missing.joined(separator: ", ")
            result.problem(
                path,
                "user \(session.user) lacks \(rights) on table \(name) on \(connection.target)"
                    + (upsert ? " (upsert needs INSERT, UPDATE and SELECT)" : "")
                    + "; GRANT \(rights) ON \(qualifiedName(name)) TO \(user)")
        }
        if upsert && row[4] != "t" { result.problem(path, temporaryProblem(session)) }
        if upsert { result.problems += try keyProblems(name, oid: oid, topic: topic) }
        if options.bool("auto_evolve") != true {
            let columns = try columnNames(oid)
            for (field, column) in mapping.sorted(by: { $0.key < $1.key }) where !columns.contains(column) {
                result.problem(
                    options.path(of: "columns") + "." + field,
                    "table \(name) has no column \"\(column)\" (the column field \"\(field)\" maps to)")
            }
        }
        if result.problems.isEmpty {
            result.note(
                "sink \(context.name): table \(name) exists on \(connection.target) (\(row[5] ?? "?") columns); "
                    + "\(session.user) may insert" + (upsert ? " and update" : ""))
        }
        return result
    }

    /// The key columns of upsert: each is a column of the table, and a unique index (or primary key)
    /// covers exactly them, as ON CONFLICT needs.
    private func keyProblems(_ name: String, oid: String, topic: String) throws -> [ConfigProblem] {
        let keys = (options.stringList("key_columns") ?? context.schemas[topic]?.key ?? []).map { mapping[$0] ?? $0 }
        guard !keys.isEmpty else { return [] }
        let path = options.path(of: "key_columns")
        let columns = try columnNames(oid)
        let absent = keys.filter { !columns.contains($0) }
        guard absent.isEmpty else {
            return absent.map { ConfigProblem(path, "table \(name) has no column \"\($0)\" (a key column of upsert)") }
        }
        let json = JSONValue.array(keys.map { .string($0) }).serialized()
        let unique =
            try connection.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = $1::oid AND i.indisunique "
                    + "AND i.indimmediate AND i.indpred IS NULL AND i.indexprs IS NULL "
                    + "AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a "
                    + "WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)) "
                    + "= (SELECT array_agg(k ORDER BY k) FROM jsonb_array_elements_text($2::jsonb) k))",
                [oid, json]
            ).first?.first ?? nil
        guard unique != "t" else { return [] }
        let list = keys.map(SQL.identifier).joined(separator: ", ")
        return [
            ConfigProblem(
                path,
                "table \(name) has no primary key or unique index on exactly (\(keys.joined(separator: ", "))), "
                    + "which upsert's ON CONFLICT needs; ALTER TABLE \(qualifiedName(name)) ADD PRIMARY KEY (\(list)), "
                    + "or use mode insert")
        ]
    }

    /// The names of the table's columns.
    private func columnNames(_ oid: String) throws -> Set<String> {
        Set(
            try connection.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = $1::oid AND attnum > 0 AND NOT attisdropped", [oid]
            ).compactMap { $0.first ?? nil })
    }

    private func temporaryProblem(_ session: Session) -> String {
        "user \(session.user) may not create temporary tables in database \(session.database), which upsert stages "
            + "its batches in; GRANT TEMPORARY ON DATABASE \(SQL.identifier(session.database)) TO "
            + SQL.identifier(session.user)
    }

    /// The table's name as SQL, for the statements the messages suggest.
    private func qualifiedName(_ name: String) -> String {
        let (schema, table) = tableOption.map(SQL.tableParts) ?? (nil, name)
        return SQL.qualified(schema: schema, table: table)
    }
}
