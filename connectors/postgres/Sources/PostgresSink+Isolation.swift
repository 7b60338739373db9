import SluiceCore
import SluiceKit

/// Bad-row isolation: which rows of a batch PostgreSQL refuses, when it refused the batch as a whole.
///
/// Rows are tried in windows, each inside the one savepoint `sluice_try` (rolled back to after a
/// failure, released and set again after a success, so the savepoint stack never grows):
/// - a window that loads is kept, and the next one is twice as large;
/// - a window whose error names a COPY line: the rows before that line go next, as one window, and the
///   named row is refused without another attempt;
/// - a window whose error names no row (a CHECK constraint met by the upsert's merge, a foreign key):
///   the next window is half as large, down to the single row that fails.
///
/// A failing window is at most twice the window that last loaded, so the work is linear in the batch
/// in the worst case (every other row bad) and about 2 log n attempts per bad row when they are few.
/// Insert mode copies each window into the table. Upsert mode first copies the rows, numbered, into a
/// temporary table shaped like the table (type and NOT NULL errors show there, with their line), then
/// merges ranges of row numbers from it: no COPY or TRUNCATE is repeated, which inside savepoints cost
/// more with every attempt (measured: 2,000 rows half bad took 17.6 s that way, and 4,000 took 49 s).
/// The interruption is checked before each attempt, and when nearly every row fails the same way the
/// batch stops with a fatal error instead of being dead-lettered (`SystematicFailure`).
extension PostgresSink {
    /// Loads `rows`, returning the ones PostgreSQL refuses as record failures.
    func isolate(_ rows: [Row], data: [UInt8], columns: [String], table: TableInfo) throws -> [RecordFailure] {
        let list = columns.map(SQL.identifier).joined(separator: ", ")
        var refused: [(row: Int, error: PostgresError)]
        switch mode {
        case .insert:
            refused = try windows(rows.count, table: table) { range in
                try copy(rows[range], data, "COPY \(table.qualified) (\(list)) FROM STDIN")
            }
        case .upsert:
            let (stage, number) = try isolationTable(table)
            var numbered: [UInt8] = []
            numbered.reserveCapacity(data.count + rows.count * 8)
            let staged = rows.indices.map { index in
                let start = numbered.count
                numbered.append(contentsOf: String(index).utf8)
                numbered.append(0x09)
                numbered.append(contentsOf: data[rows[index].range])
                return Row(
                    topicPartition: rows[index].topicPartition, offset: rows[index].offset,
                    range: start..<numbered.count)
            }
            refused = try windows(rows.count, table: table) { range in
                try copy(staged[range], numbered, "COPY \(stage) (\(SQL.identifier(number)), \(list)) FROM STDIN")
            }
            let out = Set(refused.map(\.row))
            let inStage = rows.indices.filter { !out.contains($0) }
            try connection.execute("ANALYZE \(stage)")
            let merge = mergeStatement(
                table, columns: columns, from: stage, filter: " WHERE \(SQL.identifier(number)) BETWEEN $1 AND $2",
                counting: true)
            refused += try windows(inStage.count, table: table) { range in
                let bounds = [inStage[range.lowerBound], inStage[range.upperBound - 1]]
                try mergeCounting(merge, bounds.map { String($0) })
            }.map { (inStage[$0.row], $0.error) }
            try connection.execute("DROP TABLE \(stage)")
        }
        return refused.sorted { $0.row < $1.row }.map { rowFailure(rows[$0.row], $0.error) }
    }

    /// Tries `attempt` on windows of `0..<count` as the type's comment describes; returns the indices
    /// it refused, with their errors.
    private func windows(_ count: Int, table: TableInfo, _ attempt: (Range<Int>) throws -> Void) throws
        -> [(row: Int, error: PostgresError)]
    {
        var refused: [(row: Int, error: PostgresError)] = []
        var systematic = SystematicFailure()
        var position = 0
        var window = count
        var named: (row: Int, error: PostgresError)?
        try connection.execute("SAVEPOINT sluice_try")
        while position < count {
            if connection.interruption.isRaised { throw connection.abandon() }
            let error: PostgresError
            if let (row, namedError) = named, row == position {
                named = nil
                error = namedError
            } else {
                let range = position..<min(position + window, named?.row ?? count)
                do {
                    try attempt(range)
                    try connection.execute("RELEASE SAVEPOINT sluice_try; SAVEPOINT sluice_try")
                    systematic.loaded(range.count)
                    position = range.upperBound
                    window = min(count, range.count * 2)
                    continue
                } catch let failure as PostgresError where failure.kind == .record {
                    try connection.rollbackToSavepoint("sluice_try")
                    if let line = failure.copyLine, line >= 1, line <= range.count {
                        // The rows before the named one go next; once they load, the window after the
                        // named row is twice their count.
                        named = (position + line - 1, failure)
                        window = line > 1 ? line - 1 : max(1, range.count / 2)
                        continue
                    }
                    guard range.count == 1 else {
                        window = range.count / 2
                        continue
                    }
                    error = failure
                }
            }
            refused.append((position, error))
            position += 1
            if systematic.refused(error) { throw systematicFailure(error, systematic, table: table) }
        }
        try connection.execute("RELEASE SAVEPOINT sluice_try")
        return refused
    }

    /// Copies `rows` (adjacent in `data`, or gathered) with the COPY statement `sql`.
    private func copy(_ rows: ArraySlice<Row>, _ data: [UInt8], _ sql: String) throws {
        let contiguous = zip(rows, rows.dropFirst()).allSatisfy { $0.range.upperBound == $1.range.lowerBound }
        if contiguous, let first = rows.first, let last = rows.last {
            try data.withUnsafeBytes {
                try connection.copy(
                    sql, UnsafeRawBufferPointer(rebasing: $0[first.range.lowerBound..<last.range.upperBound]))
            }
        } else {
            var text: [UInt8] = []
            text.reserveCapacity(rows.reduce(0) { $0 + $1.range.count })
            for row in rows { text.append(contentsOf: data[row.range]) }
            try text.withUnsafeBytes { try connection.copy(sql, $0) }
        }
    }

    /// A temporary table shaped like `table` with a column for row numbers, made afresh for one
    /// isolation (it is dropped at its end, or with the transaction); returns its quoted name and the
    /// number column's name.
    private func isolationTable(_ table: TableInfo) throws -> (String, String) {
        let bare = "sluice_rows_" + String(UInt32(truncatingIfNeeded: table.qualified.hashValue), radix: 16)
        stagingNames[bare] = table.name
        var number = "sluice_row"
        while table.columns[number] != nil { number += "_" }
        let name = SQL.identifier(bare)
        try connection.execute("DROP TABLE IF EXISTS \(name)")
        try connection.execute(
            "CREATE TEMPORARY TABLE \(name) (LIKE \(table.qualified) INCLUDING DEFAULTS, "
                + "\(SQL.identifier(number)) bigint PRIMARY KEY)")
        return (name, number)
    }

    private func rowFailure(_ row: Row, _ error: PostgresError) -> RecordFailure {
        RecordFailure(
            topicPartition: row.topicPartition, offset: row.offset,
            error: .record("postgres.\(error.sqlState)", userFacing(error)))
    }

    /// The error's text with the staging tables named as the tables they stand for: the user never
    /// made a `sluice_stage_…` table and should not have to find out what it is.
    func userFacing(_ error: PostgresError) -> String {
        var text = error.description
        for (stage, table) in stagingNames where text.contains(stage) { text = text.replacing(stage, with: table) }
        return text
    }

    /// The fatal error for a batch whose rows nearly all fail the same way, naming the table, the
    /// column and the constraint.
    private func systematicFailure(_ error: PostgresError, _ count: SystematicFailure, table: TableInfo)
        -> ConnectorError
    {
        var columns = error.failedColumn.map { [$0] } ?? []
        if columns.isEmpty, let constraint = error.constraint {
            // A CHECK constraint names no column; the catalog says which it covers.
            let rows = try? connection.execute(
                "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
                    + "AND a.attnum = ANY (c.conkey) WHERE c.conrelid = to_regclass($1) AND c.conname = $2 "
                    + "ORDER BY a.attnum",
                [table.qualified, constraint])
            columns = (rows ?? []).compactMap { $0.first ?? nil }
        }
        var what: [String] = []
        if !columns.isEmpty { what.append("column " + columns.map { "\"\($0)\"" }.joined(separator: ", ")) }
        if let constraint = error.constraint { what.append("constraint \"\(constraint)\"") }
        return .fatal(
            "postgres.batch_refused",
            "\(connection.target): table \(table.name) refused \(count.refused) of the \(count.tried) rows tried in this "
                + "batch the same way" + (what.isEmpty ? "" : " (" + what.joined(separator: ", ") + ")") + ": "
                + userFacing(error) + ". Nothing of the batch was loaded or dead-lettered; fix the data or the table "
                + "(its column types and constraints), or map the field to another column with columns, and run again")
    }
}

/// The rule that stops isolation when nearly every row fails the same way: once `threshold` rows
/// were refused, all with the same SQLSTATE, constraint and column, and they are at least 90% of the
/// rows tried, the cause is the table or the data as a whole, not a few bad records. Batches smaller
/// than the threshold are never stopped: a handful of bad records is what the dead-letter topic is for.
struct SystematicFailure {
    static let threshold = 100
    private(set) var refused = 0
    private(set) var tried = 0
    private var signature: [String?]?
    private var alike = true

    mutating func loaded(_ rows: Int) { tried += rows }

    /// Counts a refused row; true when the batch should stop.
    mutating func refused(_ error: PostgresError) -> Bool {
        refused += 1
        tried += 1
        let key = [error.sqlState, error.constraint, error.failedColumn]
        if let signature, signature != key { alike = false }
        if signature == nil { signature = key }
        return alike && refused >= Self.threshold && refused * 10 >= tried * 9
    }
}
