/// A byte-level RFC 4180 parser: finds one row at a time in a buffer, without copying.
///
/// It follows Python's `csv` module on the cases RFC 4180 leaves open: a quote inside an unquoted field
/// is an ordinary byte; bytes after a closing quote belong to the field; LF, CR LF and a lone CR all
/// end a row outside quotes; line breaks inside quotes belong to the field. The caller keeps the
/// bytes of an incomplete row and calls again with more (`needMore`); `final` says no more will come.
/// A value type with a reusable field list; not thread-safe.
public struct CSVParser {
    /// The outcome of parsing at one position.
    public enum Outcome: Equatable {
        /// A row: its bytes are `start..<end` (without the line break); the next row starts at `next`.
        /// `lineBreaks` counts the line breaks consumed, those inside quotes and the final one.
        case row(end: Int, next: Int, lineBreaks: Int)
        /// An empty line (skipped by callers) ending at `next`.
        case blank(next: Int, lineBreaks: Int)
        /// The bytes end inside the row; call again with more, or with `final` at the end of input.
        case needMore
        /// The input ends inside a quoted field that was never closed.
        case unterminatedQuote(lineBreaks: Int)
        /// No bytes left at all.
        case endOfInput
    }

    public let dialect: CSVDialect
    /// The fields of the last row found.
    public private(set) var fields: [CSVField] = []
    /// Bytes that end an unquoted field: delimiter, CR, LF and the escape.
    private var stopsUnquoted = [Bool](repeating: false, count: 256)
    /// Bytes that matter inside quotes: quote, CR, LF and the escape.
    private var stopsQuoted = [Bool](repeating: false, count: 256)

    public init(dialect: CSVDialect) {
        self.dialect = dialect
        fields.reserveCapacity(64)
        for byte in [dialect.delimiter, 0x0A, 0x0D] { stopsUnquoted[Int(byte)] = true }
        for byte in [dialect.quote, 0x0A, 0x0D] { stopsQuoted[Int(byte)] = true }
        if let escape = dialect.escape {
            stopsUnquoted[Int(escape)] = true
            stopsQuoted[Int(escape)] = true
        }
    }

    /// Parses the row that starts at `start` in `bytes[..<end]`.
    public mutating func parseRow(_ bytes: UnsafeRawBufferPointer, from start: Int, final: Bool) -> Outcome {
        fields.removeAll(keepingCapacity: true)
        let end = bytes.count
        guard let p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), start < end else {
            return final ? .endOfInput : .needMore
        }
        // An empty line.
        if p[start] == 0x0A { return .blank(next: start + 1, lineBreaks: 1) }
        if p[start] == 0x0D {
            if start + 1 < end { return .blank(next: p[start + 1] == 0x0A ? start + 2 : start + 1, lineBreaks: 1) }
            return final ? .blank(next: start + 1, lineBreaks: 1) : .needMore
        }
        let quote = dialect.quote
        let delimiter = dialect.delimiter
        let escape = dialect.escape
        var lineBreaks = 0
        var i = start
        return stopsUnquoted.withUnsafeBufferPointer { unquoted in
            stopsQuoted.withUnsafeBufferPointer { quoted -> Outcome in
                while true {
                    let fieldStart = i
                    var kind = CSVField.Kind.plain
                    var valueStart = fieldStart
                    var valueEnd = fieldStart
                    if i < end && p[i] == quote {
                        // A quoted field.
                        i += 1
                        valueStart = i
                        var closed = false
                        while !closed {
                            while i < end && !quoted[Int(p[i])] { i += 1 }
                            guard i < end else { return final ? .unterminatedQuote(lineBreaks: lineBreaks) : .needMore }
                            let byte = p[i]
                            if byte == quote {
                                if escape == nil {
                                    guard i + 1 < end || final else { return .needMore }
                                    if i + 1 < end && p[i + 1] == quote {
                                        kind = .complex
                                        i += 2
                                        continue
                                    }
                                }
                                valueEnd = i
                                i += 1
                                closed = true
                            } else if byte == 0x0A {
                                lineBreaks += 1
                                i += 1
                            } else if byte == 0x0D {
                                guard i + 1 < end || final else { return .needMore }
                                lineBreaks += 1
                                i += (i + 1 < end && p[i + 1] == 0x0A) ? 2 : 1
                            } else {
                                // The escape: the next byte is literal.
                                guard i + 1 < end else {
                                    return final ? .unterminatedQuote(lineBreaks: lineBreaks) : .needMore
                                }
                                if p[i + 1] == 0x0A || (p[i + 1] == 0x0D && !(i + 2 < end && p[i + 2] == 0x0A)) {
                                    lineBreaks += 1
                                }
                                kind = .complex
                                i += 2
                            }
                        }
                        if kind == .plain { kind = .quoted }
                    }
                    // Unquoted bytes: a whole unquoted field, or what follows a closing quote.
                    let tailStart = i
                    while true {
                        while i < end && !unquoted[Int(p[i])] { i += 1 }
                        if i < end, let escape, p[i] == escape {
                            kind = .complex
                            guard i + 1 < end else {
                                guard final else { return .needMore }
                                i += 1
                                break
                            }
                            if p[i + 1] == 0x0A { lineBreaks += 1 }
                            i += 2
                            continue
                        }
                        break
                    }
                    if kind == .plain {
                        valueStart = fieldStart
                        valueEnd = i
                    } else if i > tailStart {
                        kind = .complex
                    }
                    if kind == .complex {
                        valueStart = fieldStart
                        valueEnd = i
                    }
                    guard i < end else {
                        guard final else { return .needMore }
                        fields.append(CSVField(start: valueStart, end: valueEnd, kind: kind))
                        return .row(end: i, next: i, lineBreaks: lineBreaks)
                    }
                    fields.append(CSVField(start: valueStart, end: valueEnd, kind: kind))
                    let byte = p[i]
                    if byte == delimiter {
                        i += 1
                        continue
                    }
                    if byte == 0x0A { return .row(end: i, next: i + 1, lineBreaks: lineBreaks + 1) }
                    // CR, alone or before LF.
                    if i + 1 < end {
                        return .row(end: i, next: p[i + 1] == 0x0A ? i + 2 : i + 1, lineBreaks: lineBreaks + 1)
                    }
                    return final ? .row(end: i, next: i + 1, lineBreaks: lineBreaks + 1) : .needMore
                }
            }
        }
    }

    /// Appends the value of a `complex` field (whose `start..<end` are its raw bytes) to `out`:
    /// doubled quotes become one, escaped bytes lose their escape, the quotes go.
    public func unescape(_ bytes: UnsafeRawBufferPointer, _ field: CSVField, into out: inout [UInt8]) {
        var i = field.start
        let end = field.end
        let quote = dialect.quote
        let escape = dialect.escape
        if i < end && bytes[i] == quote {
            i += 1
            while i < end {
                let byte = bytes[i]
                if byte == quote {
                    if escape == nil && i + 1 < end && bytes[i + 1] == quote {
                        out.append(quote)
                        i += 2
                        continue
                    }
                    i += 1
                    break
                }
                if let escape, byte == escape, i + 1 < end {
                    out.append(bytes[i + 1])
                    i += 2
                    continue
                }
                out.append(byte)
                i += 1
            }
        }
        while i < end {
            let byte = bytes[i]
            if let escape, byte == escape, i + 1 < end {
                out.append(bytes[i + 1])
                i += 2
            } else {
                out.append(byte)
                i += 1
            }
        }
    }
}
