/// Finds the end of a row without keeping its bytes, by the same quoting rules as `CSVParser`: for
/// rows longer than `max_row_bytes`, whose bytes the source does not hold. Feed it buffers in order.
struct RowSkipper {
    let dialect: CSVDialect
    private var inQuotes = false
    private var quoteSeen = false
    private var escaped = false
    private var pendingCR = false
    private var carriageInQuotes = false
    private var atFieldStart = true
    /// Line breaks passed so far, the row's final one included once it is found.
    private(set) var lineBreaks = 0

    init(dialect: CSVDialect) {
        self.dialect = dialect
    }

    /// Feeds `bytes[start...]`; returns the index just after the row's line break when it is there.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var i = start
        while i < bytes.count {
            let byte = bytes[i]
            if pendingCR { return byte == 0x0A ? i + 1 : i }
            i += 1
            if escaped {
                escaped = false
                atFieldStart = false
                // As the parser counts them: an escaped LF, and an escaped CR inside quotes (its LF then not).
                if byte == 0x0A || (inQuotes && byte == 0x0D) { lineBreaks += 1 }
                carriageInQuotes = inQuotes && byte == 0x0D
                continue
            }
            if inQuotes {
                if quoteSeen {
                    quoteSeen = false
                    if byte == dialect.quote && dialect.escape == nil { continue }
                    inQuotes = false
                } else {
                    if byte == dialect.quote {
                        quoteSeen = true
                    } else if let escape = dialect.escape, byte == escape {
                        escaped = true
                    } else if byte == 0x0D {
                        lineBreaks += 1
                        carriageInQuotes = true
                        continue
                    } else if byte == 0x0A && !carriageInQuotes {
                        lineBreaks += 1
                    }
                    carriageInQuotes = false
                    continue
                }
            }
            if let escape = dialect.escape, byte == escape {
                escaped = true
            } else if atFieldStart && byte == dialect.quote {
                inQuotes = true
                atFieldStart = false
            } else if byte == dialect.delimiter {
                atFieldStart = true
            } else if byte == 0x0A {
                lineBreaks += 1
                return i
            } else if byte == 0x0D {
                lineBreaks += 1
                pendingCR = true
            } else {
                atFieldStart = false
            }
        }
        return nil
    }

    /// At the end of the input: the row ends there.
    var endsAtEndOfInput: Bool { true }
}
