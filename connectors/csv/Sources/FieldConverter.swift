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
        case .float, .decimal: return appendNumber(trimmed, to: &out)
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
        text.count == 10 && isDatePrefix(text)
    }

    static func isDatePrefix(_ text: UnsafeRawBufferPointer) -> Bool {
        guard text.count >= 10, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-"),
            let year = number(text, 0, 4), let month = number(text, 5, 2), let day = number(text, 8, 2),
            year >= 1, (1...12).contains(month), day >= 1
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= days
    }

    /// `YYYY-MM-DD`, optionally followed by `T` or a space and `HH:MM[:SS[.fraction]]`, and a zone
    /// (`Z`, `±HH`, `±HHMM` or `±HH:MM`).
    static func isTimestamp(_ text: UnsafeRawBufferPointer) -> Bool {
        guard isDatePrefix(text) else { return false }
        if text.count == 10 { return true }
        guard text.count >= 16,
            text[10] == UInt8(ascii: "T") || text[10] == UInt8(ascii: " ") || text[10] == UInt8(ascii: "t"),
            let hour = number(text, 11, 2), text[13] == UInt8(ascii: ":"), let minute = number(text, 14, 2),
            hour < 24, minute < 60
        else { return false }
        var i = 16
        if i < text.count && text[i] == UInt8(ascii: ":") {
            guard let second = number(text, i + 1, 2), second <= 60 else { return false }
            i += 3
            if i < text.count && (text[i] == UInt8(ascii: ".") || text[i] == UInt8(ascii: ",")) {
                i += 1
                let start = i
                while i < text.count && isDigit(text[i]) { i += 1 }
                guard i > start && i - start <= 9 else { return false }
            }
        }
        if i == text.count { return true }
        if text[i] == UInt8(ascii: "Z") || text[i] == UInt8(ascii: "z") { return i + 1 == text.count }
        if text[i] == UInt8(ascii: " ") { i += 1 }
        guard i < text.count, text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-"),
            let zoneHours = number(text, i + 1, 2), zoneHours < 24
        else { return false }
        i += 3
        if i == text.count { return true }
        if text[i] == UInt8(ascii: ":") { i += 1 }
        guard let zoneMinutes = number(text, i, 2), zoneMinutes < 60 else { return false }
        return i + 2 == text.count
    }
}
