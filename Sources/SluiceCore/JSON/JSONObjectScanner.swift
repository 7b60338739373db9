/// Walks the members of one JSON object held in bytes, without building anything: for each member it
/// gives where the key's text and the value lie and what kind the value is. For sinks that turn record
/// values into columns on the hot path. Nested objects and arrays are skipped over as whole values.
public struct JSONObjectScanner {
    /// The kind of a member's value.
    public enum Kind: UInt8, Sendable {
        case string
        case number
        case bool
        case null
        /// An object or array, as raw JSON text.
        case nested
    }

    /// One member: `key` is the key's raw text between its quotes (escapes not undone; `keyEscaped`
    /// says whether it has any); `value` is the value's text (for strings, between the quotes).
    public struct Member: Sendable {
        public var key: Range<Int>
        public var keyEscaped: Bool
        public var value: Range<Int>
        public var kind: Kind
        /// For strings: whether the text has escapes to undo.
        public var valueEscaped: Bool

        @inlinable
        public init(key: Range<Int>, keyEscaped: Bool, value: Range<Int>, kind: Kind, valueEscaped: Bool) {
            self.key = key
            self.keyEscaped = keyEscaped
            self.value = value
            self.kind = kind
            self.valueEscaped = valueEscaped
        }
    }

    public enum Failure: Error, Sendable, Equatable {
        /// The bytes are not one JSON object; `position` is where the problem was found.
        case malformed(position: Int)
    }

    /// Calls `body` for every member of the object in `bytes`, in order; throws when the bytes are not
    /// a JSON object. Stops early when `body` returns false.
    @inlinable
    public static func forEachMember(
        _ bytes: UnsafeRawBufferPointer,
        _ body: (Member) throws -> Bool
    ) throws {
        var cursor = Cursor(bytes)
        cursor.skipSpace()
        guard cursor.peek == UInt8(ascii: "{") else { throw Failure.malformed(position: cursor.i) }
        cursor.i += 1
        cursor.skipSpace()
        if cursor.peek == UInt8(ascii: "}") {
            cursor.i += 1
            cursor.skipSpace()
            guard cursor.i == cursor.n else { throw Failure.malformed(position: cursor.i) }
            return
        }
        while true {
            cursor.skipSpace()
            guard cursor.peek == UInt8(ascii: "\"") else { throw Failure.malformed(position: cursor.i) }
            let (key, keyEscaped) = try cursor.string()
            cursor.skipSpace()
            guard cursor.peek == UInt8(ascii: ":") else { throw Failure.malformed(position: cursor.i) }
            cursor.i += 1
            cursor.skipSpace()
            guard let first = cursor.peek else { throw Failure.malformed(position: cursor.i) }
            var member = Member(
                key: key, keyEscaped: keyEscaped, value: cursor.i..<cursor.i, kind: .null, valueEscaped: false)
            switch first {
            case UInt8(ascii: "\""):
                let (value, escaped) = try cursor.string()
                member.value = value
                member.kind = .string
                member.valueEscaped = escaped
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                member.value = try cursor.nested()
                member.kind = .nested
            default:
                let start = cursor.i
                cursor.scalar()
                guard cursor.i > start else { throw Failure.malformed(position: cursor.i) }
                member.value = start..<cursor.i
                switch first {
                case UInt8(ascii: "t"), UInt8(ascii: "f"): member.kind = .bool
                case UInt8(ascii: "n"): member.kind = .null
                default: member.kind = .number
                }
            }
            guard try body(member) else { return }
            cursor.skipSpace()
            guard let next = cursor.peek else { throw Failure.malformed(position: cursor.i) }
            if next == UInt8(ascii: ",") {
                cursor.i += 1
                continue
            }
            guard next == UInt8(ascii: "}") else { throw Failure.malformed(position: cursor.i) }
            cursor.i += 1
            cursor.skipSpace()
            guard cursor.i == cursor.n else { throw Failure.malformed(position: cursor.i) }
            return
        }
    }

    /// A position in the bytes being scanned. A value type with mutating methods, so that the hot loop
    /// needs no closures capturing mutable state (and no dynamic exclusivity checks).
    @usableFromInline
    struct Cursor {
        @usableFromInline let bytes: UnsafeRawBufferPointer
        @usableFromInline let n: Int
        @usableFromInline var i = 0

        @inlinable
        init(_ bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
            n = bytes.count
        }

        @inlinable
        var peek: UInt8? { i < n ? bytes[i] : nil }

        @inlinable
        mutating func skipSpace() {
            while i < n {
                let byte = bytes[i]
                guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
                i += 1
            }
        }

        /// Reads a string starting at its quote; returns the inner range and whether it has escapes.
        @inlinable
        mutating func string() throws -> (Range<Int>, Bool) {
            i += 1
            let start = i
            var escaped = false
            while i < n {
                let byte = bytes[i]
                if byte == UInt8(ascii: "\"") {
                    i += 1
                    return (start..<(i - 1), escaped)
                }
                if byte == UInt8(ascii: "\\") {
                    escaped = true
                    i += 2
                    continue
                }
                if byte < 0x20 { throw Failure.malformed(position: i) }
                i += 1
            }
            throw Failure.malformed(position: i)
        }

        /// Skips a whole object or array; returns its range.
        @inlinable
        mutating func nested() throws -> Range<Int> {
            let start = i
            var depth = 0
            while i < n {
                let byte = bytes[i]
                if byte == UInt8(ascii: "\"") {
                    _ = try string()
                    continue
                }
                if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { depth += 1 }
                if byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return start..<i
                    }
                }
                i += 1
            }
            throw Failure.malformed(position: i)
        }

        /// Skips a number, `true`, `false` or `null`.
        @inlinable
        mutating func scalar() {
            while i < n {
                let byte = bytes[i]
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == 0x20 || byte == 0x0A
                    || byte == 0x0D
                    || byte == 0x09
                {
                    return
                }
                i += 1
            }
        }
    }

    /// Appends the text of a JSON string's inside (`bytes[range]`, escapes undone) as UTF-8 to `out`.
    public static func appendUnescaped(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, to out: inout [UInt8]) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\"), i + 1 < end else {
                out.append(byte)
                i += 1
                continue
            }
            let escape = bytes[i + 1]
            i += 2
            switch escape {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                let (unicode, next) = unicodeEscape(bytes, at: i, end: end)
                i = next
                out.append(contentsOf: String(Character(unicode)).utf8)
            default: out.append(escape)
            }
        }
    }

    /// The character of a `\u` escape whose four hex digits start at `start` (just after `\u`), and
    /// where the text after the escape starts: a surrogate pair takes both of its escapes, a lone
    /// surrogate is U+FFFD, and an escape without four hex digits is U+0000 and takes none of them.
    public static func unicodeEscape(_ bytes: UnsafeRawBufferPointer, at start: Int, end: Int)
        -> (Unicode.Scalar, next: Int)
    {
        var i = start
        var scalar: UInt32 = 0
        if let value = hex4(bytes, i, end) {
            scalar = value
            i += 4
            if (0xD800..<0xDC00).contains(scalar), i + 6 <= end, bytes[i] == UInt8(ascii: "\\"),
                bytes[i + 1] == UInt8(ascii: "u"), let low = hex4(bytes, i + 2, end),
                (0xDC00..<0xE000).contains(low)
            {
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                i += 6
            }
        }
        return (Unicode.Scalar(scalar) ?? "\u{FFFD}", i)
    }

    private static func hex4(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> UInt32? {
        guard start + 4 <= end else { return nil }
        var value: UInt32 = 0
        for k in start..<(start + 4) {
            let byte = bytes[k]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value * 16 + UInt32(digit)
        }
        return value
    }
}
