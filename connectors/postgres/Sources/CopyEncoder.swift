import Glibc
import SluiceCore

/// Turns record values (JSON objects) into rows of PostgreSQL's COPY text format: fields separated by
/// tabs, rows ended by a newline, `\N` for null, and backslash, tab, newline and carriage return
/// escaped. Fields are placed by column: each record's members are matched to the table columns of
/// the COPY, and columns a record lacks are null. Used by one task's thread.
struct CopyEncoder {
    /// The COPY's columns, as the record field names that fill them.
    let fields: [[UInt8]]
    /// The same names laid out in one array, for comparing without reference counting.
    private let names: [UInt8]
    private let nameRanges: [Range<Int>]
    private var slots: [Range<Int>?]
    private var kinds: [JSONObjectScanner.Kind]
    private var escapedFlags: [Bool]

    init(fields: [String]) {
        self.fields = fields.map { Array($0.utf8) }
        var names: [UInt8] = []
        var ranges: [Range<Int>] = []
        for field in fields {
            let start = names.count
            names.append(contentsOf: field.utf8)
            ranges.append(start..<names.count)
        }
        self.names = names
        nameRanges = ranges
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
        let count = nameRanges.count
        var unknown: Range<Int>?
        var malformed = false
        names.withUnsafeBytes { names in
            nameRanges.withUnsafeBufferPointer { nameRanges in
                slots.withUnsafeMutableBufferPointer { slots in
                    kinds.withUnsafeMutableBufferPointer { kinds in
                        escapedFlags.withUnsafeMutableBufferPointer { escaped in
                            for i in 0..<count { slots[i] = nil }
                            var next = 0
                            do {
                                try JSONObjectScanner.forEachMember(value) { member in
                                    let column = Self.column(
                                        of: member, in: value, names: names, ranges: nameRanges, next: next)
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

    /// The index of the field a member's key names (its escapes undone), or -1; `next` is tried first,
    /// as records usually list their fields in the same order.
    static func column(
        of member: JSONObjectScanner.Member,
        in value: UnsafeRawBufferPointer,
        names: UnsafeRawBufferPointer,
        ranges: UnsafeBufferPointer<Range<Int>>,
        next: Int
    ) -> Int {
        guard member.keyEscaped else {
            return find(UnsafeRawBufferPointer(rebasing: value[member.key]), names: names, ranges: ranges, next: next)
        }
        var unescaped: [UInt8] = []
        JSONObjectScanner.appendUnescaped(value, member.key, to: &unescaped)
        return unescaped.withUnsafeBytes { find($0, names: names, ranges: ranges, next: next) }
    }

    @inline(__always)
    private static func find(
        _ key: UnsafeRawBufferPointer,
        names: UnsafeRawBufferPointer,
        ranges: UnsafeBufferPointer<Range<Int>>,
        next: Int
    ) -> Int {
        @inline(__always) func matches(_ index: Int) -> Bool {
            let range = ranges[index]
            guard range.count == key.count else { return false }
            guard let a = names.baseAddress, let b = key.baseAddress else { return range.isEmpty }
            return memcmp(a + range.lowerBound, b, range.count) == 0
        }
        if next < ranges.count && matches(next) { return next }
        for index in 0..<ranges.count where matches(index) { return index }
        return -1
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
