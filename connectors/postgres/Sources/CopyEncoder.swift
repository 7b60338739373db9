import SluiceCore

/// Turns record values (JSON objects) into rows of PostgreSQL's COPY text format: fields separated by
/// tabs, rows ended by a newline, `\N` for null, and backslash, tab, newline and carriage return
/// escaped. Fields are placed by column: each record's members are matched to the table columns of
/// the COPY, and columns a record lacks are null. Used by one task's thread.
///
/// A row is written in one go into room made for its worst case (`CopyText`), through a pointer: a
/// string without JSON escapes is copied as it is (JSON has no raw control characters or backslashes
/// in it), and one with escapes is turned into COPY's escapes in a single pass (`\n`, `\t`, `\r` and
/// `\\` mean the same in both).
struct CopyEncoder {
    /// The COPY's columns, as the record field names that fill them.
    let fields: [[UInt8]]
    private let names: JSONFieldNames
    private var slots: [Slot]

    /// Where the value of one column lies in the record, when the record has it.
    private struct Slot {
        var value: Range<Int> = 0..<0
        var kind: JSONObjectScanner.Kind = .null
        var escaped = false
        var present = false
    }

    init(fields: [String]) {
        self.fields = fields.map { Array($0.utf8) }
        names = JSONFieldNames(self.fields)
        slots = Array(repeating: Slot(), count: fields.count)
    }

    /// Why a value cannot become a row.
    enum Failure: Error {
        case notAnObject
        /// The value has a field no column takes.
        case unknownField(String)
    }

    /// Appends the row for `value` to `text`; fields not among `fields` are a failure unless
    /// `ignoreUnknown`. Nothing is appended when it fails.
    mutating func append(_ value: UnsafeRawBufferPointer, ignoreUnknown: Bool, to text: inout CopyText)
        throws(Failure)
    {
        let count = names.count
        let names = names
        var unknown: Range<Int>?
        var malformed = false
        slots.withUnsafeMutableBufferPointer { slots in
            for i in 0..<count { slots[i].present = false }
            var next = 0
            do {
                try JSONObjectScanner.forEachMember(value) { member in
                    let column = names.index(of: member, in: value, hint: next)
                    guard column >= 0 else {
                        if ignoreUnknown { return true }
                        unknown = member.key
                        return false
                    }
                    next = column + 1
                    slots[column] = Slot(
                        value: member.value, kind: member.kind, escaped: member.valueEscaped, present: true)
                    return true
                }
            } catch {
                malformed = true
                return
            }
            guard unknown == nil else { return }
            // Each byte of the value becomes at most two; each column adds a tab or `\N`.
            text.write(atMost: 2 * value.count + 3 * count + 1) { start in
                var out = start
                for column in 0..<count {
                    if column > 0 {
                        out.pointee = 0x09
                        out += 1
                    }
                    let slot = slots[column]
                    guard slot.present, slot.kind != .null else {
                        out[0] = UInt8(ascii: "\\")
                        out[1] = UInt8(ascii: "N")
                        out += 2
                        continue
                    }
                    let field = UnsafeRawBufferPointer(rebasing: value[slot.value])
                    if slot.kind == .string && !slot.escaped {
                        if let base = field.baseAddress {
                            out.update(from: base.assumingMemoryBound(to: UInt8.self), count: field.count)
                        }
                        out += field.count
                    } else if slot.kind == .string {
                        out = Self.transcode(field, to: out)
                    } else {
                        out = Self.escape(field, to: out)
                    }
                }
                out.pointee = 0x0A
                out += 1
                return start.distance(to: out)
            }
        }
        if malformed { throw .notAnObject }
        if let unknown {
            var name: [UInt8] = []
            JSONObjectScanner.appendUnescaped(value, unknown, to: &name)
            throw .unknownField(String(decoding: name, as: UTF8.self))
        }
    }

    /// Appends the row for `value` to `out` (for callers that keep rows in an array).
    mutating func append(_ value: UnsafeRawBufferPointer, ignoreUnknown: Bool, to out: inout [UInt8]) throws(Failure) {
        var text = CopyText()
        try append(value, ignoreUnknown: ignoreUnknown, to: &text)
        text.withRows { out.append(contentsOf: $0) }
    }

    /// Writes `text` escaped for COPY's text format; returns where it stopped. Writes at most twice
    /// `text.count` bytes.
    static func escape(_ text: UnsafeRawBufferPointer, to start: UnsafeMutablePointer<UInt8>)
        -> UnsafeMutablePointer<UInt8>
    {
        var out = start
        for byte in text {
            switch byte {
            case UInt8(ascii: "\\"): out = pair(UInt8(ascii: "\\"), out)
            case 0x09: out = pair(UInt8(ascii: "t"), out)
            case 0x0A: out = pair(UInt8(ascii: "n"), out)
            case 0x0D: out = pair(UInt8(ascii: "r"), out)
            default:
                out.pointee = byte
                out += 1
            }
        }
        return out
    }

    /// Writes the inside of a JSON string that has escapes (`json`) as COPY text: the escapes undone
    /// as `JSONObjectScanner.appendUnescaped` undoes them, and the result escaped as `escape` does,
    /// in one pass. Writes at most twice `json.count` bytes (only a stray backslash grows).
    static func transcode(_ json: UnsafeRawBufferPointer, to start: UnsafeMutablePointer<UInt8>)
        -> UnsafeMutablePointer<UInt8>
    {
        var out = start
        var i = 0
        let end = json.count
        while i < end {
            let byte = json[i]
            guard byte == UInt8(ascii: "\\"), i + 1 < end else {
                out = escapeByte(byte, out)
                i += 1
                continue
            }
            let escape = json[i + 1]
            i += 2
            switch escape {
            // The same two bytes mean the same character in COPY text.
            case UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"), UInt8(ascii: "\\"):
                out = pair(escape, out)
            case UInt8(ascii: "b"):
                out.pointee = 0x08
                out += 1
            case UInt8(ascii: "f"):
                out.pointee = 0x0C
                out += 1
            case UInt8(ascii: "u"):
                let (unicode, next) = JSONObjectScanner.unicodeEscape(json, at: i, end: end)
                i = next
                if unicode.isASCII {
                    out = escapeByte(UInt8(unicode.value), out)
                } else if let encoded = UTF8.encode(unicode) {
                    for unit in encoded {
                        out.pointee = unit
                        out += 1
                    }
                }
            default:
                out = escapeByte(escape, out)
            }
        }
        return out
    }

    @inline(__always)
    private static func pair(_ second: UInt8, _ out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        out[0] = UInt8(ascii: "\\")
        out[1] = second
        return out + 2
    }

    @inline(__always)
    private static func escapeByte(_ byte: UInt8, _ out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        switch byte {
        case UInt8(ascii: "\\"): return pair(UInt8(ascii: "\\"), out)
        case 0x09: return pair(UInt8(ascii: "t"), out)
        case 0x0A: return pair(UInt8(ascii: "n"), out)
        case 0x0D: return pair(UInt8(ascii: "r"), out)
        default:
            out.pointee = byte
            return out + 1
        }
    }
}
