/// The rows of one file that a crashed run stored after the source's last checkpoint, which a restarted
/// source must not hand out again: ordinary records name their row by its line, dead letters (and
/// records written before records named their line only) by its byte offset.
struct StoredRows {
    var offsets: Set<Int64> = []
    var lines: Set<Int64> = []

    var isEmpty: Bool { offsets.isEmpty && lines.isEmpty }

    /// Whether the row starting at `offset` on `line` is stored already.
    func contains(offset: Int64, line: Int64) -> Bool {
        (!offsets.isEmpty && offsets.contains(offset)) || (!lines.isEmpty && lines.contains(line))
    }
}
