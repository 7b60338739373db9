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
        let name = tableName(for: topic)
        guard
            let first = chunks.lazy.flatMap({ chunk in
                (0..<chunk.records.count).lazy.compactMap { chunk.records.value($0) }
            }).first
        else { return [] }
        var table = try tableInfo(name, topic: topic, sample: Array(first))
        var failures: [RecordFailure] = []
        var (fields, data, rows) = try encode(chunks, table: &table, topic: topic, failures: &failures)
        guard !rows.isEmpty else { return failures }
        if mode == .upsert { rows = keepLatestPerKey(rows, data: data, fields: fields, table: table) }
        try connection.ensureTransaction()
        // Made before the savepoints, so that rolling back to one does not undo it.
        if mode == .upsert { _ = try stagingTable(table) }
        let columns = fields.map { mapping[$0] ?? $0 }
        try isolate(rows, data: &data, columns: columns, table: table, failures: &failures)
        return failures
    }

    /// Encodes every record as a COPY row of the fields of the first record (and any the table also
    /// has). Records with fields the table lacks are failures, unless they are ignored or added.
    private func encode(
        _ chunks: [PartitionRecords],
        table: inout TableInfo,
        topic: String,
        failures: inout [RecordFailure]
    ) throws -> ([String], [UInt8], [Row]) {
        var fields = firstFields(chunks).filter { table.columns[mapping[$0] ?? $0] != nil || !ignoreUnknown }
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
                                failure(chunk, offset, "postgres.null_value", "the record has no value (a tombstone)"))
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
                                    failed.append(
                                        failure(
                                            chunk, offset, "postgres.unknown_field",
                                            "table \(table.name) has no column \"\(column)\" for the field \"\(field)\"; add it, "
                                                + "or set auto_evolve or ignore_unknown_fields"))
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

    private func failure(_ chunk: PartitionRecords, _ offset: Int64, _ errorClass: String, _ message: String)
        -> RecordFailure
    {
        RecordFailure(topicPartition: chunk.topicPartition, offset: offset, error: .record(errorClass, message))
    }

    /// The field names of the first record that has a value, in order.
    private func firstFields(_ chunks: [PartitionRecords]) -> [String] {
        for chunk in chunks {
            for index in 0..<chunk.records.count {
                guard let range = chunk.records.valueRange(index) else { continue }
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
                if !names.isEmpty { return names }
            }
        }
        return []
    }

    /// In upsert mode: of several records with one key, only the last (highest offset) stays.
    private func keepLatestPerKey(_ rows: [Row], data: [UInt8], fields: [String], table: TableInfo) -> [Row] {
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

    /// Loads `rows`, finding rows PostgreSQL refuses: from the COPY line its error names, or else by
    /// loading each half on its own, each attempt inside a savepoint so the good rows stay.
    private func isolate(
        _ rows: [Row],
        data: inout [UInt8],
        columns: [String],
        table: TableInfo,
        failures: inout [RecordFailure]
    ) throws {
        var pending = rows
        while !pending.isEmpty {
            try connection.execute("SAVEPOINT sluice_batch")
            do {
                try attempt(pending, data: data, columns: columns, table: table)
                try connection.execute("RELEASE SAVEPOINT sluice_batch")
                return
            } catch let error as PostgresError where error.kind == .record {
                try connection.rollbackToSavepoint("sluice_batch")
                if pending.count == 1 {
                    failures.append(rowFailure(pending[0], error))
                    return
                }
                if let line = error.copyLine, line >= 1, line <= pending.count {
                    failures.append(rowFailure(pending[line - 1], error))
                    pending.remove(at: line - 1)
                    continue
                }
                let middle = pending.count / 2
                try isolate(Array(pending[..<middle]), data: &data, columns: columns, table: table, failures: &failures)
                try isolate(Array(pending[middle...]), data: &data, columns: columns, table: table, failures: &failures)
                return
            }
        }
    }

    private func rowFailure(_ row: Row, _ error: PostgresError) -> RecordFailure {
        RecordFailure(
            topicPartition: row.topicPartition, offset: row.offset,
            error: .record("postgres.\(error.sqlState)", error.description))
    }

    /// One load of `rows`: COPY into the table, or into the staging table and merge.
    private func attempt(_ rows: [Row], data: [UInt8], columns: [String], table: TableInfo) throws {
        let list = "(" + columns.map(SQL.identifier).joined(separator: ", ") + ")"
        var text: [UInt8] = []
        let contiguous =
            rows.count > 0 && zip(rows, rows.dropFirst()).allSatisfy { $0.range.upperBound == $1.range.lowerBound }
        if !contiguous {
            text.reserveCapacity(rows.reduce(0) { $0 + $1.range.count })
            for row in rows { text.append(contentsOf: data[row.range]) }
        }
        let copyData = { (body: (UnsafeRawBufferPointer) throws -> Void) throws in
            if contiguous, let first = rows.first, let last = rows.last {
                try data.withUnsafeBytes {
                    try body(UnsafeRawBufferPointer(rebasing: $0[first.range.lowerBound..<last.range.upperBound]))
                }
            } else {
                try text.withUnsafeBytes(body)
            }
        }
        switch mode {
        case .insert:
            try copyData { try connection.copy("COPY \(table.qualified) \(list) FROM STDIN", $0) }
        case .upsert:
            let stage = try stagingTable(table)
            try connection.execute("TRUNCATE \(stage)")
            try copyData { try connection.copy("COPY \(stage) \(list) FROM STDIN", $0) }
            let keys = table.keyColumns.map(SQL.identifier).joined(separator: ", ")
            let updates = columns.filter { !table.keyColumns.contains($0) }.map {
                "\(SQL.identifier($0)) = EXCLUDED.\(SQL.identifier($0))"
            }
            let action = updates.isEmpty ? "DO NOTHING" : "DO UPDATE SET " + updates.joined(separator: ", ")
            try connection.execute(
                "INSERT INTO \(table.qualified) \(list) SELECT \(list.dropFirst().dropLast()) FROM \(stage) "
                    + "ON CONFLICT (\(keys)) \(action)")
        }
    }

    /// A temporary table shaped like `table`, made once per connection.
    func stagingTable(_ table: TableInfo) throws -> String {
        let name = SQL.identifier(
            "sluice_stage_" + String(UInt32(truncatingIfNeeded: table.qualified.hashValue), radix: 16))
        if !stagingCreated.contains(table.qualified) {
            try connection.execute("DROP TABLE IF EXISTS \(name)")
            try connection.execute("CREATE TEMPORARY TABLE \(name) (LIKE \(table.qualified) INCLUDING DEFAULTS)")
            stagingCreated.insert(table.qualified)
        }
        return name
    }
}
