import SluiceCore
import SluiceKit

/// Deletes in upsert mode (`delete_enabled`, on by default): a record with a null value, a tombstone,
/// deletes the row with its key, as it means "deleted" to every Kafka user. Within a batch the last
/// record of a key wins: rows older than their key's tombstone are dropped, the keys are deleted, then
/// the rows that came after are merged. A tombstone whose key does not give every key column is a
/// record error.
extension PostgresSink {
    /// A tombstone: the row of `key` (one text per key column) goes.
    struct Deletion {
        var topicPartition: TopicPartition
        var offset: Int64
        /// Each key column's text, as given and as COPY text (which rows' keys are compared in).
        var key: [[UInt8]]
        var escaped: [[UInt8]]
    }

    /// Loads a batch that holds tombstones: the careful path, with the deletions before the merge.
    func loadWithDeletions(_ chunks: [PartitionRecords], topic: String) throws -> [RecordFailure] {
        let name = tableName(for: topic)
        var failures: [RecordFailure] = []
        let (deletions, refused) = tombstones(chunks, keyColumns: keyColumns(for: topic))
        failures += refused
        let sample = chunks.lazy.flatMap { chunk in
            (0..<chunk.records.count).lazy.compactMap { chunk.records.value($0) }
        }.first
        try connection.ensureTransaction()
        // A batch of tombstones alone deletes from the table if it exists; it has nothing to create one from.
        guard
            var table = try sample.map({ try tableInfo(name, topic: topic, sample: Array($0)) })
                ?? existingTableInfo(name, topic: topic)
        else { return failures }
        var rows: [Row] = []
        var data: [UInt8] = []
        var fields: [String] = []
        if sample != nil {
            var encodeFailures: [RecordFailure] = []
            (fields, data, rows) = try encode(chunks, table: &table, topic: topic, failures: &encodeFailures)
            // Tombstones are deletions here, not failures.
            failures += encodeFailures.filter { $0.error.errorClass != "postgres.null_value" }
        }
        // The last record of each key (on its partition) decides: rows before their key's latest tombstone
        // go, and a tombstone with a later row for its key deletes nothing (no cascade, no trigger).
        func keyOf(_ parts: [[UInt8]]) -> [UInt8] { parts.reduce(into: [UInt8]()) { $0 += $1 + [0] } }
        struct Latest { var partition: TopicPartition; var offset: Int64 }
        var latestDeletion: [[UInt8]: Latest] = [:]
        for deletion in deletions {
            let key = keyOf(deletion.escaped)
            if let seen = latestDeletion[key], seen.offset > deletion.offset { continue }
            latestDeletion[key] = Latest(partition: deletion.topicPartition, offset: deletion.offset)
        }
        var latestRow: [[UInt8]: Latest] = [:]
        let keyPositions = table.keyColumns.compactMap { key in fields.firstIndex { (mapping[$0] ?? $0) == key } }
        if keyPositions.count == table.keyColumns.count {
            rows.removeAll { row in
                let key = data.withUnsafeBytes {
                    Self.key(of: UnsafeRawBufferPointer(rebasing: $0[row.range]), at: keyPositions)
                }
                if let deleted = latestDeletion[key], deleted.partition == row.topicPartition,
                    deleted.offset > row.offset
                {
                    return true
                }
                if (latestRow[key]?.offset ?? Int64.min) < row.offset {
                    latestRow[key] = Latest(partition: row.topicPartition, offset: row.offset)
                }
                return false
            }
        }
        let effective = deletions.filter { deletion in
            let key = keyOf(deletion.escaped)
            guard let latest = latestDeletion[key], latest.offset == deletion.offset else { return false }
            guard let row = latestRow[key], row.partition == deletion.topicPartition else { return true }
            return row.offset < deletion.offset
        }
        failures += try delete(effective, from: table)
        rows = keepLatestPerKey(rows, data: data, fields: fields, table: table)
        guard !rows.isEmpty else { return failures }
        failures += try isolate(rows, data: data, columns: fields.map { mapping[$0] ?? $0 }, table: table)
        return failures
    }

    /// The batch's tombstones as deletions (their keys in COPY text, as rows' keys are compared), and
    /// the tombstones whose key cannot be read.
    private func tombstones(_ chunks: [PartitionRecords], keyColumns: [String]) -> ([Deletion], [RecordFailure]) {
        var deletions: [Deletion] = []
        var failures: [RecordFailure] = []
        let fieldNames = keyColumns.map { column in mapping.first(where: { $0.value == column })?.key ?? column }
        for chunk in chunks {
            let block = chunk.records
            for index in 0..<block.count where block.valueRange(index) == nil {
                let offset = block.entries[index].offset
                guard let key = block.key(index).flatMap({ keyParts(Array($0), fields: fieldNames) }) else {
                    failures.append(
                        RecordFailure(
                            topicPartition: chunk.topicPartition, offset: offset,
                            error: .record(
                                "postgres.tombstone_key",
                                "a tombstone deletes by its key, and this one's key does not give the key columns "
                                    + "\(keyColumns.joined(separator: ", ")) (a JSON object with them, or their texts "
                                    + "joined by key_separator)")))
                    continue
                }
                deletions.append(
                    Deletion(
                        topicPartition: chunk.topicPartition, offset: offset, key: key,
                        escaped: key.map { part in
                            var text = CopyText()
                            part.withUnsafeBytes { raw in
                                text.write(atMost: 2 * raw.count) { start in CopyEncoder.escape(raw, to: start) - start
                                }
                            }
                            return text.withRows { Array($0) }
                        }))
            }
        }
        return (deletions, failures)
    }

    /// A record key's text for each key column: the fields of a JSON object key, else the whole key
    /// for one column, else its parts between `key_separator`s.
    private func keyParts(_ key: [UInt8], fields: [String]) -> [[UInt8]]? {
        guard !fields.isEmpty else { return nil }
        if key.first == UInt8(ascii: "{"), let json = try? JSONValue.parse(key) {
            var parts: [[UInt8]] = []
            for field in fields {
                guard let value = json[field] else { return nil }
                switch value {
                case .string(let text), .number(let text): parts.append(Array(text.utf8))
                case .bool(let flag): parts.append(Array((flag ? "true" : "false").utf8))
                default: return nil
                }
            }
            return parts
        }
        if fields.count == 1 { return [key] }
        var parts: [[UInt8]] = []
        var start = 0
        var i = 0
        while i + keySeparator.count <= key.count {
            if key[i..<(i + keySeparator.count)].elementsEqual(keySeparator) {
                parts.append(Array(key[start..<i]))
                i += keySeparator.count
                start = i
            } else {
                i += 1
            }
        }
        parts.append(Array(key[start...]))
        return parts.count == fields.count ? parts : nil
    }

    /// `DELETE … USING unnest(…)`: each key column's texts travel as one text array, cast to the
    /// column's type so that the key's index serves. Counts what it deleted. A key PostgreSQL refuses
    /// (a text for a number column, a row other rows still refer to) is found key by key inside
    /// savepoints and returned as its tombstone's record error; the other keys are deleted.
    private func delete(_ deletions: [Deletion], from table: TableInfo) throws -> [RecordFailure] {
        guard !deletions.isEmpty else { return [] }
        try connection.execute("SAVEPOINT sluice_delete")
        do {
            try deleteKeys(deletions.map(\.key), from: table)
            try connection.execute("RELEASE SAVEPOINT sluice_delete")
            return []
        } catch let error as PostgresError where error.kind == .record {
            try connection.rollbackToSavepoint("sluice_delete")
        }
        var failures: [RecordFailure] = []
        for deletion in deletions {
            do {
                try deleteKeys([deletion.key], from: table)
                try connection.execute("RELEASE SAVEPOINT sluice_delete")
            } catch let error as PostgresError where error.kind == .record {
                try connection.rollbackToSavepoint("sluice_delete")
                failures.append(
                    RecordFailure(
                        topicPartition: deletion.topicPartition, offset: deletion.offset,
                        error: .record("postgres.\(error.sqlState)", "the tombstone's key: " + userFacing(error))))
            }
            try connection.execute("SAVEPOINT sluice_delete")
        }
        try connection.execute("RELEASE SAVEPOINT sluice_delete")
        return failures
    }

    private func deleteKeys(_ keys: [[[UInt8]]], from table: TableInfo) throws {
        var unique: [[[UInt8]]] = []
        var seen: Set<[[UInt8]]> = []
        for key in keys where seen.insert(key).inserted { unique.append(key) }
        let columns = table.keyColumns
        var arrays: [String?] = []
        for position in columns.indices {
            arrays.append(SQL.textArray(unique.map { String(decoding: $0[position], as: UTF8.self) }))
        }
        let given = columns.indices.map { "k\($0)" }.joined(separator: ", ")
        let matches = columns.enumerated().map { index, column in
            "stored.\(SQL.identifier(column)) = given.k\(index)::\(table.columns[column] ?? "text")"
        }.joined(separator: " AND ")
        let arrayParameters = columns.indices.map { "$\($0 + 1)::text[]" }.joined(separator: ", ")
        let rows = try connection.execute(
            "WITH gone AS (DELETE FROM \(table.qualified) AS stored USING unnest(\(arrayParameters)) AS given (\(given)) "
                + "WHERE \(matches) RETURNING 1) SELECT count(*) FROM gone",
            arrays)
        pendingCounts.deleted += rows.first?.first.flatMap { $0.flatMap { Int($0) } } ?? 0
    }
}

extension RecordBlock {
    /// Whether a record of the block has no value (a tombstone).
    var containsNullValue: Bool {
        (0..<count).contains { valueRange($0) == nil }
    }
}
