import Glibc
import SluiceCore

/// Turns record values (JSON objects) into rows of PostgreSQL's COPY text format: fields separated by
/// tabs, rows ended by a newline, `\N` for null, and backslash, tab, newline and carriage return
/// escaped. Fields are placed by column: each record's members are matched to the table columns of
/// the COPY, and columns a record lacks are null. Used by one task's thread.
struct CopyEncoder {
    /// The COPY's columns, as the record field names that fill them.
    let fields: [[UInt8]]
    private let names: JSONFieldNames
    private var slots: [Range<Int>?]
    private var kinds: [JSONObjectScanner.Kind]
    private var escapedFlags: [Bool]

    init(fields: [String]) {
        self.fields = fields.map { Array($0.utf8) }
        names = JSONFieldNames(self.fields)
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
        let count = names.count
        let names = names
        var unknown: Range<Int>?
        var malformed = false
        do {
            do {
                slots.withUnsafeMutableBufferPointer { slots in
                    kinds.withUnsafeMutableBufferPointer { kinds in
                        escapedFlags.withUnsafeMutableBufferPointer { escaped in
                            for i in 0..<count { slots[i] = nil }
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
                                    slots[column] = member.value
                                    kinds[column] = member.kind
                                    escaped[column] = member.valueEscaped
                                    return true
                                }
                            } catch {
                                malformed = true
                                return
                            }
                            guard unknown == nil else { return }
                            for column in 0..<count {
                                if column > 0 { out.append(0x09) }
                                guard let range = slots[column], kinds[column] != .null else {
                                    out.append(UInt8(ascii: "\\"))
                                    out.append(UInt8(ascii: "N"))
                                    continue
                                }
                                if kinds[column] == .string && escaped[column] {
                                    var text: [UInt8] = []
                                    JSONObjectScanner.appendUnescaped(value, range, to: &text)
                                    text.withUnsafeBytes { Self.appendEscaped($0, to: &out) }
                                } else {
                                    Self.appendEscaped(UnsafeRawBufferPointer(rebasing: value[range]), to: &out)
                                }
                            }
                            out.append(0x0A)
                        }
                    }
                }
            }
        }
        if malformed { throw .notAnObject }
        if let unknown {
            var name: [UInt8] = []
            JSONObjectScanner.appendUnescaped(value, unknown, to: &name)
            throw .unknownField(String(decoding: name, as: UTF8.self))
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
