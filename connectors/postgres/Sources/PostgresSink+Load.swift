import SluiceCore
import SluiceKit

extension PostgresSink {
    /// One record of a batch, encoded as a COPY row.
    struct Row {
        var topicPartition: TopicPartition
        var offset: Int64
        /// Where its COPY text lies in the encoded data.
        var range: Range<Int>
    }

    /// Loads the records of one topic into its table; returns the records PostgreSQL refused or that do
    /// not fit the table.
    func load(_ chunks: [PartitionRecords], topic: String) throws -> [RecordFailure] {
        if deletesTombstones && chunks.contains(where: { $0.records.containsNullValue }) {
            return try loadWithDeletions(chunks, topic: topic)
        }
        let name = tableName(for: topic)
        // The table is made (with auto_create) from the first record that is an object with fields; a
        // batch with none has nothing a table could take, and each of its records is a record error.
        guard let (c, i) = firstObject(chunks) else {
            return chunks.flatMap { chunk in
                chunk.records.entries.map { entry in
                    failure(chunk, entry.offset, "postgres.not_an_object", "the value is not a JSON object with fields")
                }
            }
        }
        var table = try tableInfo(name, topic: topic, sample: Array(chunks[c].records.value(i) ?? []))
        if let streamed = try streamLoad(chunks, table: &table, topic: topic) { return streamed }
        var failures: [RecordFailure] = []
        let (fields, data, encoded) = try encode(chunks, table: &table, topic: topic, failures: &failures)
        guard !encoded.isEmpty else { return failures }
        let rows = mode == .upsert ? keepLatestPerKey(encoded, data: data, fields: fields, table: table) : encoded
        try connection.ensureTransaction()
        let columns = fields.map { mapping[$0] ?? $0 }
        failures += Self.inBatchOrder(try isolate(rows, data: data, columns: columns, table: table), chunks)
        return failures
    }

    /// The fast path: starts the COPY at once and sends rows as they are encoded, in the order of the
    /// table's index (`rowOrder`), so that PostgreSQL loads one part of the batch while the next is
    /// encoded and adds the rows to its index in order. Returns nil, having rolled back to its
    /// savepoint, when the batch needs the careful path: a record with a field the first record did
    /// not have, a key seen twice (upsert), or a row PostgreSQL refuses.
    private func streamLoad(_ chunks: [PartitionRecords], table: inout TableInfo, topic: String) throws
        -> [RecordFailure]?
    {
        let fields = firstFields(chunks)
        let columns = fields.map { mapping[$0] ?? $0 }
        guard !fields.isEmpty, columns.allSatisfy({ table.columns[$0] != nil }) else { return nil }
        let keyPositions = table.keyColumns.compactMap { key in columns.firstIndex(of: key) }
        if mode == .upsert && keyPositions.count != table.keyColumns.count { return nil }
        try connection.ensureTransaction()
        let order = try rowOrder(chunks, fields: fields, table: &table)
        // In the order of the upsert's whole key, records with one key are neighbours, and a batch with
        // any goes the careful way before it starts.
        let keysAreNeighbours = mode == .upsert && order.keyCount == table.keyColumns.count
        if keysAreNeighbours && order.hasEqualNeighbours { return nil }
        let list = "(" + columns.map(SQL.identifier).joined(separator: ", ") + ")"
        let target = mode == .upsert ? try stagingTable(table) : table.qualified
        try connection.execute("SAVEPOINT sluice_batch")
        if mode == .upsert { try connection.execute("TRUNCATE \(target)") }
        var failures: [RecordFailure] = []
        var encoder = CopyEncoder(fields: fields)
        // Rows are handed to libpq every `streamStep` bytes and forgotten: the batch is never held
        // encoded as a whole.
        var text = CopyText(capacity: 2 * Self.streamStep)
        var keys: Set<[UInt8]> = []
        var careful = false
        do {
            try connection.beginCopy("COPY \(target) \(list) FROM STDIN")
            Self.withArenas(chunks) { arenas in
                encoding: for record in order.records {
                    // Not `chunks[…]` for each record: copying a chunk out costs four reference counts.
                    guard let range = record.valueRange else {
                        let chunk = chunks[Int(record.chunk)]
                        failures.append(
                            tombstone(chunk, chunk.records.entries[Int(record.index)].offset))
                        continue
                    }
                    let start = text.count
                    do throws(CopyEncoder.Failure) {
                        try encoder.append(
                            UnsafeRawBufferPointer(rebasing: arenas[Int(record.chunk)][range]),
                            ignoreUnknown: ignoreUnknown, to: &text)
                    } catch {
                        switch error {
                        case .notAnObject:
                            let chunk = chunks[Int(record.chunk)]
                            failures.append(notAnObject(chunk, chunk.records.entries[Int(record.index)].offset))
                            continue
                        case .unknownField:
                            careful = true
                            break encoding
                        }
                    }
                    if mode == .upsert && !keysAreNeighbours
                        && !keys.insert(text.withRows(from: start) { Self.key(of: $0, at: keyPositions) }).inserted
                    {
                        careful = true
                        break encoding
                    }
                    if text.count >= Self.streamStep {
                        // A failed send is reported by `endCopy`.
                        guard text.withRows({ connection.sendCopyData($0) }) else { break encoding }
                        text.removeAll()
                    }
                }
            }
            if careful {
                try? connection.endCopy(abortWith: "the batch needs a second look")
                try connection.rollbackToSavepoint("sluice_batch")
                return nil
            }
            _ = text.withRows { connection.sendCopyData($0) }
            try connection.endCopy()
            if mode == .upsert { try mergeCountingWithStatistics(table, columns: columns, from: target) }
            return failures
        } catch let error as PostgresError where error.kind == .record || error.sqlState == "21000" {
            // 21000: the merge met one key twice, which the careful path keeps once.
            try connection.rollbackToSavepoint("sluice_batch")
            return nil
        }
    }

    /// How much encoded data to hand to libpq at a time. Small steps keep the server busy while the next
    /// rows are encoded: the socket buffer holds only about 200 KB, and with 256 KB steps the server
    /// sat idle through each encoding (measured: a 1,000,000-row load took 4.2 s with 256 KB, 3.0 s
    /// with 64 KB).
    static let streamStep = 64 << 10

    /// The key columns' texts of one encoded row, for finding repeated keys.
    static func key(of row: UnsafeRawBufferPointer, at positions: [Int]) -> [UInt8] {
        var key: [UInt8] = []
        var column = 0
        var start = 0
        for position in row.indices where row[position] == 0x09 || row[position] == 0x0A {
            if positions.contains(column) {
                key.append(contentsOf: row[start..<position])
                key.append(0)
            }
            column += 1
            start = position + 1
        }
        return key
    }

    /// `INSERT … SELECT … FROM staging ON CONFLICT (keys) DO UPDATE SET …`. With `counting`, wrapped
    /// so that it answers how many rows it inserted and how many it updated (an inserted row version
    /// has no `xmax`; one updated by ON CONFLICT has the updating transaction's): a flag per row kept
    /// in the server, about a fifth more time on a 1,000,000-row merge, so only the isolation path,
    /// whose statements may fail, counts this way.
    func mergeStatement(
        _ table: TableInfo, columns: [String], from stage: String, filter: String = "", counting: Bool = false
    ) -> String {
        let list = columns.map(SQL.identifier).joined(separator: ", ")
        let keys = table.keyColumns.map(SQL.identifier).joined(separator: ", ")
        let updates = columns.filter { !table.keyColumns.contains($0) }.map {
            "\(SQL.identifier($0)) = EXCLUDED.\(SQL.identifier($0))"
        }
        let action = updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET " + updates.joined(separator: ", ")
        let merge =
            "INSERT INTO \(table.qualified) (\(list)) SELECT \(list) FROM \(stage)\(filter) ON CONFLICT (\(keys)) \(action)"
        guard counting else { return merge }
        return "WITH merged AS (\(merge) RETURNING xmax = 0 AS inserted) "
            + "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
    }

    /// Runs a counting statement of `mergeStatement` and adds what it did to the open transaction's counts.
    func mergeCounting(_ statement: String, _ parameters: [String?] = []) throws {
        let rows = try connection.execute(statement, parameters)
        guard let row = rows.first, row.count == 2 else { return }
        pendingCounts.inserted += row[0].flatMap { Int($0) } ?? 0
        pendingCounts.updated += row[1].flatMap { Int($0) } ?? 0
    }

    /// Merges the whole staging table, counting inserted and updated rows from the transaction's own
    /// statistics of the table (`pg_stat_xact_user_tables`, kept by this session only) before and
    /// after: two catalog reads instead of a flag per row. Those statistics also count the work of
    /// statements that failed, so this serves only a merge that is expected to succeed whole.
    func mergeCountingWithStatistics(_ table: TableInfo, columns: [String], from stage: String) throws {
        let before = try transactionCounts(table)
        try connection.execute(mergeStatement(table, columns: columns, from: stage))
        let after = try transactionCounts(table)
        pendingCounts.inserted += after.inserted - before.inserted
        pendingCounts.updated += after.updated - before.updated
    }

    private func transactionCounts(_ table: TableInfo) throws -> SinkWriteCounts {
        let rows = try connection.execute(
            "SELECT n_tup_ins, n_tup_upd FROM pg_stat_xact_user_tables WHERE relid = to_regclass($1)",
            [table.qualified])
        guard let row = rows.first, row.count == 2 else { return SinkWriteCounts() }
        return SinkWriteCounts(inserted: row[0].flatMap { Int($0) } ?? 0, updated: row[1].flatMap { Int($0) } ?? 0)
    }

    /// Encodes every record as a COPY row of the fields of the first record (and any the table also
    /// has). Records with fields the table lacks are failures, unless they are ignored or added.
    func encode(
        _ chunks: [PartitionRecords],
        table: inout TableInfo,
        topic: String,
        failures: inout [RecordFailure]
    ) throws -> ([String], [UInt8], [Row]) {
        // A field the table has no column for is left out (and each record holding it is a record
        // error, unless ignore_unknown_fields), unless auto_evolve adds the column.
        if !autoEvolve,
            let (field, column) = mapping.sorted(by: { $0.key < $1.key }).first(where: {
                table.columns[$0.value] == nil
            })
        {
            // A mapping's column is the config's word, not a record's: every record would fail on it.
            throw ConnectorError.fatal(
                "postgres.mapped_column",
                "columns.\(field): table \(table.name) has no column \"\(column)\" (the column field \"\(field)\" "
                    + "maps to); add it, correct the mapping, or set auto_evolve")
        }
        var fields = firstFields(chunks).filter { table.columns[mapping[$0] ?? $0] != nil || autoEvolve }
        let order = try rowOrder(chunks, fields: fields, table: &table)
        while true {
            var encoder = CopyEncoder(fields: fields)
            var text = CopyText(capacity: chunks.reduce(0) { $0 + $1.records.bytes.count })
            var rows: [Row] = []
            var missing: [String] = []
            var failed: [RecordFailure] = []
            Self.withArenas(chunks) { arenas in
                for record in order.records {
                    let chunk = chunks[Int(record.chunk)]
                    let offset = chunk.records.entries[Int(record.index)].offset
                    guard let range = record.valueRange else {
                        failed.append(
                            tombstone(chunk, offset))
                        continue
                    }
                    let start = text.count
                    do throws(CopyEncoder.Failure) {
                        try encoder.append(
                            UnsafeRawBufferPointer(rebasing: arenas[Int(record.chunk)][range]),
                            ignoreUnknown: ignoreUnknown, to: &text)
                        rows.append(
                            Row(topicPartition: chunk.topicPartition, offset: offset, range: start..<text.count))
                    } catch {
                        switch error {
                        case .notAnObject:
                            failed.append(notAnObject(chunk, offset))
                        case .unknownField(let field):
                            let column = mapping[field] ?? field
                            if table.columns[column] != nil || autoEvolve {
                                if !missing.contains(field) { missing.append(field) }
                            } else {
                                let error = unknownField(field, column, table)
                                failed.append(failure(chunk, offset, error.errorClass, error.message))
                            }
                        }
                    }
                }
            }
            let added = missing.filter { !fields.contains($0) }
            if added.isEmpty {
                failures += Self.inBatchOrder(failed, chunks)
                try ensureColumns(fields, table: &table, topic: topic)
                return (fields, text.array, rows)
            }
            fields += added
        }
    }

    /// `failures` in the order of their records in the batch (chunk by chunk, by offset), as the
    /// runtime dead-letters them, whatever order the rows were loaded in.
    static func inBatchOrder(_ failures: [RecordFailure], _ chunks: [PartitionRecords]) -> [RecordFailure] {
        func position(_ failure: RecordFailure) -> (Int, Int64) {
            let chunk = chunks.firstIndex {
                $0.topicPartition == failure.topicPartition
                    && $0.records.entries.first.map { $0.offset <= failure.offset } ?? false
                    && $0.records.entries.last.map { failure.offset <= $0.offset } ?? false
            }
            return (chunk ?? chunks.count, failure.offset)
        }
        return failures.map { (position($0), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// The record error for a field the table has no column for.
    private func unknownField(_ field: String, _ column: String, _ table: TableInfo) -> ConnectorError {
        guard column.utf8.count <= Self.maxIdentifierBytes else {
            return .record(
                "postgres.unknown_field",
                "table \(table.name) has no column for the field \"\(field)\": its name is \(column.utf8.count) bytes "
                    + "long and PostgreSQL names are at most \(Self.maxIdentifierBytes) bytes; map the field to a shorter "
                    + "column with columns")
        }
        return .record(
            "postgres.unknown_field",
            "table \(table.name) has no column \"\(column)\" for the field \"\(field)\"; add it, or set auto_evolve "
                + "or ignore_unknown_fields")
    }

    private func tombstone(_ chunk: PartitionRecords, _ offset: Int64) -> RecordFailure {
        failure(chunk, offset, "postgres.null_value", "the record has no value (a tombstone)")
    }

    private func notAnObject(_ chunk: PartitionRecords, _ offset: Int64) -> RecordFailure {
        failure(chunk, offset, "postgres.not_an_object", "the value is not a JSON object")
    }

    private func failure(_ chunk: PartitionRecords, _ offset: Int64, _ errorClass: String, _ message: String)
        -> RecordFailure
    {
        RecordFailure(topicPartition: chunk.topicPartition, offset: offset, error: .record(errorClass, message))
    }

    /// The field names of the first record that is an object with fields, in order.
    private func firstFields(_ chunks: [PartitionRecords]) -> [String] {
        guard let (c, i) = firstObject(chunks) else { return [] }
        return fieldNames(chunks[c], i)
    }

    /// Where the first record that is a JSON object with fields is: chunk and record index.
    private func firstObject(_ chunks: [PartitionRecords]) -> (Int, Int)? {
        for c in chunks.indices {
            for index in 0..<chunks[c].records.count where !fieldNames(chunks[c], index).isEmpty { return (c, index) }
        }
        return nil
    }

    private func fieldNames(_ chunk: PartitionRecords, _ index: Int) -> [String] {
        guard let range = chunk.records.valueRange(index) else { return [] }
        var names: [String] = []
        chunk.records.bytes.withUnsafeBytes { arena in
            let value = UnsafeRawBufferPointer(rebasing: arena[range])
            try? JSONObjectScanner.forEachMember(value) { member in
                var name: [UInt8] = []
                JSONObjectScanner.appendUnescaped(value, member.key, to: &name)
                names.append(String(decoding: name, as: UTF8.self))
                return true
            }
        }
        return names
    }

    /// In upsert mode: of several records with one key, only the last (highest offset) stays.
    func keepLatestPerKey(_ rows: [Row], data: [UInt8], fields: [String], table: TableInfo) -> [Row] {
        let keyPositions = table.keyColumns.compactMap { key in fields.firstIndex { (mapping[$0] ?? $0) == key } }
        guard keyPositions.count == table.keyColumns.count else { return rows }
        var latest: [[UInt8]: Int] = [:]
        latest.reserveCapacity(rows.count)
        data.withUnsafeBytes { raw in
            for (i, row) in rows.enumerated() {
                var key: [UInt8] = []
                var column = 0
                var start = row.range.lowerBound
                for position in row.range where raw[position] == 0x09 || raw[position] == 0x0A {
                    if keyPositions.contains(column) {
                        key.append(contentsOf: raw[start..<position])
                        key.append(0)
                    }
                    column += 1
                    start = position + 1
                }
                latest[key] = i
            }
        }
        guard latest.count < rows.count else { return rows }
        let keep = Set(latest.values)
        return rows.enumerated().filter { keep.contains($0.offset) }.map(\.element)
    }

    /// A temporary table shaped like `table`, made once per connection.
    func stagingTable(_ table: TableInfo) throws -> String {
        let bare = "sluice_stage_" + String(UInt32(truncatingIfNeeded: table.qualified.hashValue), radix: 16)
        stagingNames[bare] = table.name
        let name = SQL.identifier(bare)
        if !stagingCreated.contains(table.qualified) {
            try connection.execute("DROP TABLE IF EXISTS \(name)")
            try connection.execute("CREATE TEMPORARY TABLE \(name) (LIKE \(table.qualified) INCLUDING DEFAULTS)")
            stagingCreated.insert(table.qualified)
        }
        return name
    }
}
