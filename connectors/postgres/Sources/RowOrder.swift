import SluiceCore

/// The order in which a batch's records go to their table: by the columns of the table's index (its
/// primary key, or the upsert's key), whatever the topic is keyed by.
///
/// Why: PostgreSQL adds each row to the index where its key belongs. Rows in index order fill the
/// rightmost leaf page after page (and the page splits leave full pages behind); rows in another
/// order touch leaf pages all over the index and split them half full. Measured on this machine with
/// the 1,000,000-row orders file into a table keyed by `order_id` (`psql \copy`, server CPU): in key
/// order 1.6 s and a 22 MB index; shuffled 3.7 s and 31 MB; shuffled but sorted within each 100,000
/// rows 2.1 s. A batch's chunks are each in their partition's offset order, which is usually key order
/// already (a source reads its files from the start), and then sorting them is a merge of a few runs.
///
/// Keys compare as the column's type does, as far as the text shows it: integer columns as integers,
/// other numeric columns as numbers, everything else byte by byte (collations aside, which only makes
/// the order less good, never wrong: the order is a speed-up, and every order loads the same rows).
/// Ties keep batch order, so records of one partition keep their offset order, and the upsert's "last
/// one wins" is unchanged. Records without the key (no value, not an object) come first, in batch order.
struct RowOrder {
    /// One record of the batch, and where its value is.
    struct Record {
        var chunk: Int32
        var index: Int32
        /// Where its value lies in the chunk's arena; `valueLength` is -1 for a record without a value.
        var valueStart: Int32
        var valueLength: Int32

        var valueRange: Range<Int>? {
            valueLength < 0 ? nil : Int(valueStart)..<Int(valueStart + valueLength)
        }
    }

    /// How the values of one key column compare.
    enum Comparison: Equatable {
        case integer
        case number
        case text

        /// How values of a column of this type (as `format_type` writes it) compare.
        init(columnType: String) {
            switch columnType {
            case "smallint", "integer", "bigint": self = .integer
            case "real", "double precision": self = .number
            default: self = columnType.hasPrefix("numeric") ? .number : .text
            }
        }
    }

    /// The records, in the order to load them.
    private(set) var records: [Record]
    /// Whether two records next to each other in `records` have equal keys (so, in key order, whether
    /// any two records of the batch do). False when the records are not in key order.
    private(set) var hasEqualNeighbours = false
    /// How many key fields `records` is in the order of; 0 for batch order.
    private(set) var keyCount = 0

    /// The records of `chunks` in batch order: chunk by chunk, each in offset order.
    init(batchOrder chunks: [PartitionRecords]) {
        records = []
        records.reserveCapacity(chunks.reduce(0) { $0 + $1.records.count })
        for (c, chunk) in chunks.enumerated() {
            for (i, entry) in chunk.records.entries.enumerated() {
                records.append(
                    Record(
                        chunk: Int32(c), index: Int32(i), valueStart: entry.valueStart, valueLength: entry.valueLength))
            }
        }
    }

    /// The records of `chunks` in the order of the fields `keys` (record field names, the first
    /// compared first), each compared as `comparisons` says.
    init(_ chunks: [PartitionRecords], keys: [String], comparisons: [Comparison]) {
        precondition(keys.count == comparisons.count && !keys.isEmpty)
        self.init(batchOrder: chunks)
        keyCount = keys.count
        var extractor = KeyExtractor(fields: keys, comparisons: comparisons, capacity: records.count)
        var first = 0
        for chunk in chunks {
            let end = first + chunk.records.count
            chunk.records.bytes.withUnsafeBytes { extractor.extract(records[first..<end], in: $0) }
            first = end
        }
        // Records are numbered in batch order, which is also the tie-break.
        var numbers = Array(0..<Int32(records.count))
        let width = keys.count
        let (keys, text) = (extractor.keys, extractor.text)
        let equalNeighbours = text.withUnsafeBytes { text in
            keys.withUnsafeBufferPointer { keys in
                func compare(_ a: Int32, _ b: Int32) -> Int {
                    Key.compare(keys, Int(a) * width, Int(b) * width, width, text)
                }
                func precedes(_ a: Int32, _ b: Int32) -> Bool {
                    let order = compare(a, b)
                    return order != 0 ? order < 0 : a < b
                }
                // Chunks of sorted records are runs that the sort merges; a batch already in order is
                // left as it is.
                if !zip(numbers, numbers.dropFirst()).allSatisfy({ precedes($0, $1) }) {
                    numbers.sort(by: precedes)
                }
                return zip(numbers, numbers.dropFirst()).contains { compare($0, $1) == 0 }
            }
        }
        let batchOrder = records
        records = numbers.map { batchOrder[Int($0)] }
        hasEqualNeighbours = equalNeighbours
    }
}
