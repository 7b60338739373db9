import SluiceCore

extension PostgresSink {
    /// The order to load a batch's records in (see `RowOrder`): by the upsert's key columns, or in
    /// insert mode by the table's primary key (or its first unique index), as far as `fields` (the
    /// record fields the COPY takes) fill those columns; batch order when they fill none.
    func rowOrder(_ chunks: [PartitionRecords], fields: [String], table: inout TableInfo) throws -> RowOrder {
        let columns = mode == .upsert ? table.keyColumns : try indexColumns(&table)
        var keys: [String] = []
        var comparisons: [RowOrder.Comparison] = []
        for column in columns {
            // A leading part of the index's columns still orders the rows for it.
            guard let field = fields.first(where: { (mapping[$0] ?? $0) == column }) else { break }
            keys.append(field)
            comparisons.append(RowOrder.Comparison(columnType: table.columns[column] ?? "text"))
        }
        guard !keys.isEmpty else { return RowOrder(batchOrder: chunks) }
        return RowOrder(chunks, keys: keys, comparisons: comparisons)
    }

    /// The columns of the table's primary key, or else of its first unique index on plain columns
    /// without a predicate; empty when it has neither. Read from the catalog once per table (and again
    /// after a batch failed, as the table may have changed).
    func indexColumns(_ table: inout TableInfo) throws -> [String] {
        if let known = table.indexColumns { return known }
        let rows = try connection.execute(
            "SELECT a.attname FROM (SELECT indrelid, indkey FROM pg_index WHERE indrelid = to_regclass($1) "
                + "AND indisunique AND indpred IS NULL AND indexprs IS NULL "
                + "ORDER BY indisprimary DESC, indexrelid LIMIT 1) i "
                + "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k (attnum, n) "
                + "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n",
            [table.qualified])
        let columns = rows.compactMap { $0.first ?? nil }
        table.indexColumns = columns
        tables[table.name] = table
        return columns
    }

    /// Calls `body` with the arena of every chunk, so that records can be read in any order without
    /// going through the chunks' arrays for each.
    static func withArenas<Result>(
        _ chunks: [PartitionRecords], _ body: ([UnsafeRawBufferPointer]) throws -> Result
    ) rethrows -> Result {
        var arenas: [UnsafeRawBufferPointer] = []
        arenas.reserveCapacity(chunks.count)
        return try withArenas(chunks, from: 0, &arenas, body)
    }

    private static func withArenas<Result>(
        _ chunks: [PartitionRecords], from index: Int, _ arenas: inout [UnsafeRawBufferPointer],
        _ body: ([UnsafeRawBufferPointer]) throws -> Result
    ) rethrows -> Result {
        guard index < chunks.count else { return try body(arenas) }
        return try chunks[index].records.bytes.withUnsafeBytes { arena in
            arenas.append(arena)
            return try withArenas(chunks, from: index + 1, &arenas, body)
        }
    }
}
