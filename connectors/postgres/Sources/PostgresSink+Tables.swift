import SluiceCore
import SluiceKit

extension PostgresSink {
    /// The table's columns from the catalog, creating the table when it is missing and `auto_create` is on.
    ///
    /// Catalog reads and DDL run inside the batch's transaction (DDL in a savepoint): a transaction of
    /// its own would first roll back what the batch already wrote for other topics. What DDL made is
    /// undone with the batch when it fails, so `abort` forgets the tables it knew.
    func tableInfo(_ name: String, topic: String, sample: [UInt8]) throws -> TableInfo {
        if let known = tables[name] { return known }
        try connection.ensureTransaction()
        // The `table` option may name a schema; a table named after its topic is one identifier, dots
        // and all (`orders.dlq` is the table "orders.dlq", not the table dlq of the schema orders).
        let (schema, table) = tableOption.map(SQL.tableParts) ?? (nil, name)
        let qualified = SQL.qualified(schema: schema, table: table)
        var columns = try catalogColumns(qualified)
        if columns == nil {
            guard autoCreate else {
                throw ConnectorError.fatal(
                    "postgres.42P01", "\(connection.target): table \(name) does not exist; create it or set auto_create"
                )
            }
            try checkLength(table: name, parts: [schema, table])
            try create(name, schema: schema, qualified: qualified, topic: topic, sample: sample)
            columns = try catalogColumns(qualified)
        }
        if displayNames[name] == nil, let found = try catalogName(qualified) { displayNames[name] = found }
        let info = TableInfo(
            name: name, qualified: qualified, columns: columns ?? [:], keyColumns: keyColumns(for: topic))
        tables[name] = info
        return info
    }

    /// What the sink knows of a table that exists; nil when it does not (nothing is created).
    func existingTableInfo(_ name: String, topic: String) throws -> TableInfo? {
        if let known = tables[name] { return known }
        let (schema, table) = tableOption.map(SQL.tableParts) ?? (nil, name)
        let qualified = SQL.qualified(schema: schema, table: table)
        guard let columns = try catalogColumns(qualified) else { return nil }
        return TableInfo(name: name, qualified: qualified, columns: columns, keyColumns: keyColumns(for: topic))
    }

    /// The table's name as `schema.table` (unquoted, for people), from the catalog.
    private func catalogName(_ qualified: String) throws -> String? {
        let rows = try connection.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                + "WHERE c.oid = to_regclass($1)",
            [qualified])
        guard let row = rows.first, row.count == 2, let schema = row[0], let table = row[1] else { return nil }
        return schema + "." + table
    }

    /// Column name → type, or nil when the table does not exist. The name travels as a parameter.
    private func catalogColumns(_ qualified: String) throws -> [String: String]? {
        let exists = try connection.execute("SELECT to_regclass($1) IS NOT NULL", [qualified])
        guard exists.first?.first == "t" else { return nil }
        let rows = try connection.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                + "WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            [qualified])
        var columns: [String: String] = [:]
        for row in rows where row.count == 2 {
            if let name = row[0] { columns[name] = row[1] ?? "text" }
        }
        return columns
    }

    /// `CREATE TABLE` from the sample record's fields, typed as the topic's schema declares, with a
    /// primary key on the key columns in upsert mode.
    private func create(_ name: String, schema: String?, qualified: String, topic: String, sample: [UInt8]) throws {
        var fields: [String] = []
        sample.withUnsafeBytes { value in
            try? JSONObjectScanner.forEachMember(value) { member in
                var text: [UInt8] = []
                JSONObjectScanner.appendUnescaped(value, member.key, to: &text)
                fields.append(String(decoding: text, as: UTF8.self))
                return true
            }
        }
        guard !fields.isEmpty else {
            throw ConnectorError.fatal(
                "postgres.auto_create",
                "cannot create table \(name): the first record's value is not a JSON object with fields")
        }
        let types = schemas[topic]?.types ?? [:]
        for field in fields { try checkLength(column: mapping[field] ?? field, field: field, table: name) }
        var definitions = fields.map { field in
            SQL.identifier(mapping[field] ?? field) + " " + SQL.columnType(types[field])
        }
        let keys = keyColumns(for: topic)
        if mode == .upsert && !keys.isEmpty {
            definitions.append("PRIMARY KEY (" + keys.map(SQL.identifier).joined(separator: ", ") + ")")
        }
        if let schema { try definition("CREATE SCHEMA IF NOT EXISTS \(SQL.identifier(schema))") }
        try definition("CREATE TABLE IF NOT EXISTS \(qualified) (" + definitions.joined(separator: ", ") + ")")
        let shown = try catalogName(qualified) ?? name
        displayNames[name] = shown
        let key = mode == .upsert && !keys.isEmpty ? ", primary key " + keys.joined(separator: ", ") : ""
        logger.notice(
            "created the table (\(fields.count) column\(fields.count == 1 ? "" : "s")\(key))",
            metadata: ["sink": "\(sinkName)", "table": "\(shown)"])
    }

    /// Runs DDL inside the batch's transaction, in a savepoint. IF NOT EXISTS does not stop two sessions
    /// creating the same object at the same moment: the second fails on the catalog's unique index
    /// (23505) or finds it made (42P06, 42P07, or 42710 for the table's row type). Another task did the
    /// work, which is all that is needed.
    private func definition(_ sql: String) throws {
        try connection.execute("SAVEPOINT sluice_ddl")
        do {
            try connection.execute(sql)
        } catch let error as PostgresError where ["23505", "42P06", "42P07", "42710"].contains(error.sqlState) {
            try connection.rollbackToSavepoint("sluice_ddl")
        }
        try connection.execute("RELEASE SAVEPOINT sluice_ddl")
    }

    /// The longest name PostgreSQL keeps (NAMEDATALEN - 1); it cuts longer names short without an
    /// error, and the sink would then find no column for the field.
    static let maxIdentifierBytes = 63

    /// Refuses a column name PostgreSQL would cut short.
    func checkLength(column: String, field: String, table: String) throws {
        let bytes = column.utf8.count
        guard bytes > Self.maxIdentifierBytes else { return }
        throw ConnectorError.fatal(
            "postgres.name_too_long",
            "\(connection.target): cannot add the column \"\(column)\" to table \(table): the name is \(bytes) bytes "
                + "long and PostgreSQL keeps only \(Self.maxIdentifierBytes), so no record would find its column; "
                + "map the field to a shorter column with columns, as in {\"\(field)\": \"short_name\"}")
    }

    /// Refuses a table or schema name PostgreSQL would cut short.
    private func checkLength(table: String, parts: [String?]) throws {
        guard let long = parts.compactMap({ $0 }).first(where: { $0.utf8.count > Self.maxIdentifierBytes }) else {
            return
        }
        throw ConnectorError.fatal(
            "postgres.name_too_long",
            "\(connection.target): cannot create table \(table): the name \"\(long)\" is \(long.utf8.count) bytes long "
                + "and PostgreSQL keeps only \(Self.maxIdentifierBytes); name a shorter table with the table option")
    }

    /// Adds the columns `fields` need that the table lacks (with `auto_evolve`).
    func ensureColumns(_ fields: [String], table: inout TableInfo, topic: String) throws {
        let missing = fields.map { mapping[$0] ?? $0 }.filter { table.columns[$0] == nil }
        guard !missing.isEmpty else { return }
        guard autoEvolve else {
            throw ConnectorError.fatal(
                "postgres.42703",
                "\(connection.target): table \(table.name) has no column \"\(missing[0])\"; add it or set auto_evolve")
        }
        try connection.ensureTransaction()
        let types = schemas[topic]?.types ?? [:]
        for column in missing {
            let field = mapping.first { $0.value == column }?.key ?? column
            try checkLength(column: column, field: field, table: table.name)
            try definition(
                "ALTER TABLE \(table.qualified) ADD COLUMN IF NOT EXISTS \(SQL.identifier(column)) \(SQL.columnType(types[field]))"
            )
            table.columns[column] = SQL.columnType(types[field])
            logger.info(
                "added a column", metadata: ["sink": "\(sinkName)", "table": "\(table.name)", "column": "\(column)"])
        }
        stagingCreated.remove(table.qualified)
        tables[table.name] = table
    }
}
