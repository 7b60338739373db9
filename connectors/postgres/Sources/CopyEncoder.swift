import SluiceCore

/// Turns record values (JSON objects) into rows of PostgreSQL's COPY text format: fields separated by
/// tabs, rows ended by a newline, `\N` for null, and backslash, tab, newline and carriage return
/// escaped. Fields are placed by column: each record's members are matched to the table columns of
/// the COPY, and columns a record lacks are null. Used by one task's thread.
struct CopyEncoder {
    /// The COPY's columns, as the record field names that fill them.
    let fields: [[UInt8]]
    private var slots: [Range<Int>?]
    private var kinds: [JSONObjectScanner.Kind]
    private var escapedFlags: [Bool]

    init(fields: [String]) {
        self.fields = fields.map { Array($0.utf8) }
        slots = Array(repeating: nil, count: fields.count)
        kinds = Array(repeating: .null, count: fields.count)
        escapedFlags = Array(repeating: false, count: fields.count)
    }

    /// Why a value cannot become a row.
    enum Failure: Error {
        case notAnObject
        /// The value has a field no column takes.
        case unknownField(String)
    }

    /// Appends the row for `value` to `out`; fields not among `fields` are a failure unless `ignoreUnknown`.
    mutating func append(_ value: UnsafeRawBufferPointer, ignoreUnknown: Bool, to out: inout [UInt8]) throws(Failure) {
        for i in slots.indices { slots[i] = nil }
        var next = 0
        var unknown: String?
        do {
            try JSONObjectScanner.forEachMember(value) { member in
                let column = Self.column(of: member, in: value, fields: fields, next: next)
                guard column >= 0 else {
                    if !ignoreUnknown {
                        var name: [UInt8] = []
                        JSONObjectScanner.appendUnescaped(value, member.key, to: &name)
                        unknown = String(decoding: name, as: UTF8.self)
                        return false
                    }
                    return true
                }
                next = column + 1
                slots[column] = member.value
                kinds[column] = member.kind
                escapedFlags[column] = member.valueEscaped
                return true
            }
        } catch {
            throw .notAnObject
        }
        if let unknown { throw .unknownField(unknown) }
        for column in 0..<fields.count {
            if column > 0 { out.append(0x09) }
            guard let range = slots[column], kinds[column] != .null else {
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "N")])
                continue
            }
            if kinds[column] == .string && escapedFlags[column] {
                var text: [UInt8] = []
                JSONObjectScanner.appendUnescaped(value, range, to: &text)
                text.withUnsafeBytes { Self.appendEscaped($0, to: &out) }
            } else {
                Self.appendEscaped(UnsafeRawBufferPointer(rebasing: value[range]), to: &out)
            }
        }
        out.append(0x0A)
    }

    /// The index of the field a member's key names (its escapes undone), or -1; `next` is tried first,
    /// as records usually list their fields in the same order.
    static func column(
        of member: JSONObjectScanner.Member,
        in value: UnsafeRawBufferPointer,
        fields: [[UInt8]],
        next: Int
    ) -> Int {
        var unescaped: [UInt8] = []
        if member.keyEscaped { JSONObjectScanner.appendUnescaped(value, member.key, to: &unescaped) }
        return unescaped.withUnsafeBytes { unescapedKey in
            let key = member.keyEscaped ? unescapedKey : UnsafeRawBufferPointer(rebasing: value[member.key])
            if next < fields.count && fields[next].elementsEqual(key) { return next }
            return fields.firstIndex { $0.elementsEqual(key) } ?? -1
        }
    }

    /// Appends text escaped for COPY's text format.
    static func appendEscaped(_ text: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        var start = 0
        for i in 0..<text.count {
            let byte = text[i]
            let escaped: UInt8
            switch byte {
            case UInt8(ascii: "\\"): escaped = UInt8(ascii: "\\")
            case 0x09: escaped = UInt8(ascii: "t")
            case 0x0A: escaped = UInt8(ascii: "n")
            case 0x0D: escaped = UInt8(ascii: "r")
            default: continue
            }
            if i > start { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[start..<i])) }
            out.append(UInt8(ascii: "\\"))
            out.append(escaped)
            start = i + 1
        }
        if text.count > start { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[start...])) }
    }
}
