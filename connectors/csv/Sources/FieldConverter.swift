import Glibc
import SluiceCore
import SluiceKit

/// Writes a field of a declared type as JSON: numbers as JSON numbers with the digits the file gave
/// (a leading `+` and leading zeros dropped), booleans as `true`/`false`, dates and timestamps as
/// checked JSON strings, `json` embedded as is. Surrounding spaces are ignored for every type but
/// `string`. Each function returns nil on success, or the reason the text does not convert.
enum FieldConverter {
    /// Appends the JSON of `text` as `type` (not `string`, and not empty) to `out`.
    static func append(_ text: UnsafeRawBufferPointer, as type: ColumnType, to out: inout [UInt8]) -> String? {
        let trimmed = trim(text)
        switch type {
        case .string:
            JSONWriter.appendString(text, to: &out)
            return nil
        case .int: return appendInteger(trimmed, to: &out)
        case .decimal: return appendNumber(trimmed, to: &out)
        case .float:
            let start = out.count
            if let problem = appendNumber(trimmed, to: &out) { return problem }
            guard fitsDouble(trimmed) else {
                out.removeSubrange(start...)
                return "is out of range for a 64-bit float (about ±1.8e308, and nonzero values from 2.2e-308)"
            }
            return nil
        case .bool: return appendBool(trimmed, to: &out)
        case .date: return appendChecked(trimmed, valid: isDate(trimmed), what: "a date (YYYY-MM-DD)", to: &out)
        case .timestamp:
            return appendChecked(trimmed, valid: isTimestamp(trimmed), what: "an ISO 8601 timestamp", to: &out)
        case .json:
            guard JSONValidator.isValid(trimmed) else { return "is not valid JSON" }
            out.append(contentsOf: trimmed)
            return nil
        }
    }

    static func trim(_ text: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = text.count
        while start < end && (text[start] == 0x20 || text[start] == 0x09) { start += 1 }
        while end > start && (text[end - 1] == 0x20 || text[end - 1] == 0x09) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: text[start..<end])
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// `[+-]?[0-9]+` within the range of a 64-bit integer.
    static func appendInteger(_ text: UnsafeRawBufferPointer, to out: inout [UInt8]) -> String? {
        var i = 0
        var negative = false
        if i < text.count && (text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-")) {
            negative = text[i] == UInt8(ascii: "-")
            i += 1
        }
        let digitsStart = i
        while i < text.count && isDigit(text[i]) { i += 1 }
        guard i == text.count, i > digitsStart else { return "is not an integer" }
        var first = digitsStart
        while first < text.count - 1 && text[first] == UInt8(ascii: "0") { first += 1 }
        let digits = UnsafeRawBufferPointer(rebasing: text[first...])
        if digits.count >= 19 {
            let limit = negative ? "9223372036854775808" : "9223372036854775807"
            if digits.count > 19 || !digits.lexicographicallyPrecedes(limit.utf8) && !digits.elementsEqual(limit.utf8) {
                return "is out of range for a 64-bit integer"
            }
        }
        if negative && !(digits.count == 1 && digits[0] == UInt8(ascii: "0")) { out.append(UInt8(ascii: "-")) }
        out.append(contentsOf: digits)
        return nil
    }

    /// `[+-]?(digits[.digits?]|.digits)([eE][+-]?digits)?`, written as a JSON number.
    /// Whether the number `text` (already checked by `appendNumber`) is a finite double that does not
    /// round a nonzero value to zero, as PostgreSQL's `double precision` and JSON readers need.
    static func fitsDouble(_ text: UnsafeRawBufferPointer) -> Bool {
        var terminated = [CChar](repeating: 0, count: text.count + 1)
        for i in 0..<text.count { terminated[i] = CChar(bitPattern: text[i]) }
        let value = strtod(terminated, nil)
        guard value.isFinite else { return false }
        if value != 0 { return true }
        let mantissa = text.prefix { $0 != UInt8(ascii: "e") && $0 != UInt8(ascii: "E") }
        return !mantissa.contains { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }
    }

    static func appendNumber(_ text: UnsafeRawBufferPointer, to out: inout [UInt8]) -> String? {
        var i = 0
        var negative = false
        if i < text.count && (text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-")) {
            negative = text[i] == UInt8(ascii: "-")
            i += 1
        }
        let wholeStart = i
        while i < text.count && isDigit(text[i]) { i += 1 }
        let wholeEnd = i
        var fractionStart = i
        var fractionEnd = i
        if i < text.count && text[i] == UInt8(ascii: ".") {
            i += 1
            fractionStart = i
            while i < text.count && isDigit(text[i]) { i += 1 }
            fractionEnd = i
        }
        guard wholeEnd > wholeStart || fractionEnd > fractionStart else { return "is not a number" }
        var exponentStart = i
        if i < text.count && (text[i] == UInt8(ascii: "e") || text[i] == UInt8(ascii: "E")) {
            i += 1
            exponentStart = i
            if i < text.count && (text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-")) { i += 1 }
            let digitsStart = i
            while i < text.count && isDigit(text[i]) { i += 1 }
            guard i > digitsStart else { return "is not a number" }
        }
        guard i == text.count else { return "is not a number" }
        if negative { out.append(UInt8(ascii: "-")) }
        var first = wholeStart
        while first < wholeEnd - 1 && text[first] == UInt8(ascii: "0") { first += 1 }
        if first == wholeEnd {
            out.append(UInt8(ascii: "0"))
        } else {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[first..<wholeEnd]))
        }
        if fractionEnd > fractionStart {
            out.append(UInt8(ascii: "."))
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[fractionStart..<fractionEnd]))
        }
        if exponentStart < text.count {
            out.append(UInt8(ascii: "e"))
            var k = exponentStart
            if text[k] == UInt8(ascii: "+") {
                k += 1
            } else if text[k] == UInt8(ascii: "-") {
                out.append(UInt8(ascii: "-"))
                k += 1
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: text[k...]))
        }
        return nil
    }

    static func appendBool(_ text: UnsafeRawBufferPointer, to out: inout [UInt8]) -> String? {
        var lower: UInt64 = 0
        guard text.count <= 5, !text.contains(0) else {
            return "is not a boolean (true/false, t/f, yes/no, y/n, on/off, 1/0)"
        }
        for byte in text { lower = lower << 8 | UInt64(byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte) }
        switch lower {
        case 0x74_7275_65, 0x74, 0x79_6573, 0x79, 0x6F6E, 0x31:
            out.append(contentsOf: "true".utf8)
        case 0x66_616C_7365, 0x66, 0x6E6F, 0x6E, 0x6F_6666, 0x30:
            out.append(contentsOf: "false".utf8)
        default:
            return "is not a boolean (true/false, t/f, yes/no, y/n, on/off, 1/0)"
        }
        return nil
    }

    static func appendChecked(_ text: UnsafeRawBufferPointer, valid: Bool, what: String, to out: inout [UInt8])
        -> String?
    {
        guard valid else { return "is not \(what)" }
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: text)
        out.append(UInt8(ascii: "\""))
        return nil
    }

    static func number(_ text: UnsafeRawBufferPointer, _ start: Int, _ count: Int) -> Int? {
        guard start + count <= text.count else { return nil }
        var value = 0
        for k in start..<(start + count) {
            guard isDigit(text[k]) else { return nil }
            value = value * 10 + Int(text[k] - 0x30)
        }
        return value
    }

    /// `YYYY-MM-DD`, a real calendar day.
    static func isDate(_ text: UnsafeRawBufferPointer) -> Bool {
        text.count == 10 && ISO8601.parseMillis(text) != nil
    }

    /// An ISO 8601 date or date and time, as `ISO8601` reads them.
    static func isTimestamp(_ text: UnsafeRawBufferPointer) -> Bool {
        ISO8601.parseMillis(text) != nil
    }
}
