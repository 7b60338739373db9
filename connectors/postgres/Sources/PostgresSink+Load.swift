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
        failures += try isolate(rows, data: data, columns: columns, table: table)
        return failures
    }

    /// The fast path: starts the COPY at once and sends rows as they are encoded, so that PostgreSQL
    /// loads one part of the batch while the next is encoded. Returns nil, having rolled back to its
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
        let list = "(" + columns.map(SQL.identifier).joined(separator: ", ") + ")"
        let target = mode == .upsert ? try stagingTable(table) : table.qualified
        try connection.execute("SAVEPOINT sluice_batch")
        if mode == .upsert { try connection.execute("TRUNCATE \(target)") }
        var failures: [RecordFailure] = []
        var encoder = CopyEncoder(fields: fields)
        var data: [UInt8] = []
        data.reserveCapacity(chunks.reduce(0) { $0 + $1.records.bytes.count })
        var keys: Set<[UInt8]> = []
        var sent = 0
        var careful = false
        let order =
            (recordKeyIsTableKey(table, topic: topic) ? Self.mergedByKey(chunks) : nil)
            ?? chunks.indices.flatMap { c in (0..<chunks[c].records.count).map { (chunk: Int32(c), record: Int32($0)) }
            }
        do {
            try connection.beginCopy("COPY \(target) \(list) FROM STDIN")
            encoding: for (chunkIndex, recordIndex) in order {
                let chunk = chunks[Int(chunkIndex)]
                let block = chunk.records
                let index = Int(recordIndex)
                do {
                    let offset = block.entries[index].offset
                    guard let range = block.valueRange(index) else {
                        failures.append(
                            tombstone(chunk, offset))
                        continue
                    }
                    let start = data.count
                    var outcome: CopyEncoder.Failure?
                    block.bytes.withUnsafeBytes { arena in
                        do {
                            try encoder.append(
                                UnsafeRawBufferPointer(rebasing: arena[range]), ignoreUnknown: ignoreUnknown, to: &data)
                        } catch let error as CopyEncoder.Failure {
                            outcome = error
                        } catch {
                            outcome = .notAnObject
                        }
                    }
                    switch outcome {
                    case .none: break
                    case .notAnObject?:
                        data.removeLast(data.count - start)
                        failures.append(
                            failure(chunk, offset, "postgres.not_an_object", "the value is not a JSON object"))
                        continue
                    case .unknownField?:
                        careful = true
                        break encoding
                    }
                    if mode == .upsert
                        && !keys.insert(Self.key(of: data, start..<data.count, at: keyPositions)).inserted
                    {
                        careful = true
                        break encoding
                    }
                    if data.count - sent >= Self.streamStep {
                        guard
                            data.withUnsafeBytes({
                                connection.sendCopyData(UnsafeRawBufferPointer(rebasing: $0[sent...]))
                            })
                        else {
                            break encoding
                        }
                        sent = data.count
                    }
                }
            }
            if careful {
                try? connection.endCopy(abortWith: "the batch needs a second look")
                try connection.rollbackToSavepoint("sluice_batch")
                return nil
            }
            _ = data.withUnsafeBytes { connection.sendCopyData(UnsafeRawBufferPointer(rebasing: $0[sent...])) }
            try connection.endCopy()
            if mode == .upsert { try mergeCountingWithStatistics(table, columns: columns, from: target) }
            return failures
        } catch let error as PostgresError where error.kind == .record {
            try connection.rollbackToSavepoint("sluice_batch")
            return nil
        }
    }

    /// How much encoded data to hand to libpq at a time. Small steps keep the server busy while the next
    /// rows are encoded: the socket buffer holds only about 200 KB, and with 256 KB steps the server
    /// sat idle through each encoding (measured: a 1,000,000-row load took 4.2 s with 256 KB, 3.0 s
    /// with 64 KB).
    static let streamStep = 64 << 10

    /// Whether each record's key is the table's key: the source keyed the topic by the columns that make
    /// the table's key. Then rows can be put in key order, which PostgreSQL's index takes faster.
    func recordKeyIsTableKey(_ table: TableInfo, topic: String) -> Bool {
        guard let key = schemas[topic]?.key, !key.isEmpty else { return false }
        return key.map { mapping[$0] ?? $0 } == table.keyColumns
    }

    /// The records of `chunks` in key order: each partition's chunk is usually already in key order (a
    /// source reads its files in order), so a stable merge of the chunks gives the index nearly sorted
    /// inserts, measured at 15% less server time than partitions interleaved. Records of one key stay
    /// in offset order. Nil when a record has no key.
    static func mergedByKey(_ chunks: [PartitionRecords]) -> [(chunk: Int32, record: Int32)]? {
        for chunk in chunks where chunk.records.entries.contains(where: { $0.keyLength < 0 }) { return nil }
        var heads = [Int](repeating: 0, count: chunks.count)
        var order: [(chunk: Int32, record: Int32)] = []
        order.reserveCapacity(chunks.reduce(0) { $0 + $1.records.count })
        while true {
            var best = -1
            for c in chunks.indices where heads[c] < chunks[c].records.count {
                if best < 0 || keyPrecedes(chunks[c], heads[c], chunks[best], heads[best]) { best = c }
            }
            guard best >= 0 else { return order }
            order.append((Int32(best), Int32(heads[best])))
            heads[best] += 1
        }
    }

    /// Key order: digit strings compare as numbers, anything else byte by byte.
    static func keyPrecedes(_ a: PartitionRecords, _ i: Int, _ b: PartitionRecords, _ j: Int) -> Bool {
        let ea = a.records.entries[i]
        let eb = b.records.entries[j]
        return a.records.bytes.withUnsafeBytes { x in
            b.records.bytes.withUnsafeBytes { y in
                let ka = UnsafeRawBufferPointer(rebasing: x[Int(ea.keyStart)..<Int(ea.keyStart + ea.keyLength)])
                let kb = UnsafeRawBufferPointer(rebasing: y[Int(eb.keyStart)..<Int(eb.keyStart + eb.keyLength)])
                if ka.count != kb.count && isDigits(ka) && isDigits(kb) { return ka.count < kb.count }
                return ka.lexicographicallyPrecedes(kb)
            }
        }
    }

    static func isDigits(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// The key columns' texts of one encoded row, for finding repeated keys.
    static func key(of data: [UInt8], _ range: Range<Int>, at positions: [Int]) -> [UInt8] {
        var key: [UInt8] = []
        var column = 0
        var start = range.lowerBound
        for position in range where data[position] == 0x09 || data[position] == 0x0A {
            if positions.contains(column) {
                key.append(contentsOf: data[start..<position])
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
        var fields = firstFields(chunks).filter { table.columns[mapping[$0] ?? $0] != nil || autoEvolve }
        while true {
            var encoder = CopyEncoder(fields: fields)
            var data: [UInt8] = []
            data.reserveCapacity(chunks.reduce(0) { $0 + $1.records.bytes.count })
            var rows: [Row] = []
            var missing: [String] = []
            var failed: [RecordFailure] = []
            for chunk in chunks {
                let block = chunk.records
                block.bytes.withUnsafeBytes { arena in
                    for index in 0..<block.count {
                        let offset = block.entries[index].offset
                        guard let range = block.valueRange(index) else {
                            failed.append(
                                tombstone(chunk, offset))
                            continue
                        }
                        let start = data.count
                        do {
                            try encoder.append(
                                UnsafeRawBufferPointer(rebasing: arena[range]), ignoreUnknown: ignoreUnknown, to: &data)
                            rows.append(
                                Row(topicPartition: chunk.topicPartition, offset: offset, range: start..<data.count))
                        } catch let error as CopyEncoder.Failure {
                            data.removeLast(data.count - start)
                            switch error {
                            case .notAnObject:
                                failed.append(
                                    failure(chunk, offset, "postgres.not_an_object", "the value is not a JSON object"))
                            case .unknownField(let field):
                                let column = mapping[field] ?? field
                                if table.columns[column] != nil || autoEvolve {
                                    if !missing.contains(field) { missing.append(field) }
                                } else {
                                    let error = unknownField(field, column, table)
                                    failed.append(failure(chunk, offset, error.errorClass, error.message))
                                }
                            }
                        } catch {
                            data.removeLast(data.count - start)
                        }
                    }
                }
            }
            let added = missing.filter { !fields.contains($0) }
            if added.isEmpty {
                failures += failed
                try ensureColumns(fields, table: &table, topic: topic)
                return (fields, data, rows)
            }
            fields += added
        }
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
