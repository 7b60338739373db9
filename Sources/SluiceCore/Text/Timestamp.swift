#if canImport(Glibc)
    import Glibc
#endif

/// Formatting of epoch milliseconds.
public enum Timestamp {
    /// `2026-11-21T10:30:00.123Z`.
    public static func iso8601(millis: Int64) -> String {
        var seconds = time_t(millis / 1000 - (millis % 1000 < 0 ? 1 : 0))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = Int(((millis % 1000) + 1000) % 1000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(msText)Z"
    }
}

/// ISO 8601 dates and times as Sluice reads them, byte-level: `YYYY-MM-DD`, optionally followed by `T`
/// (or a space) and `HH:MM[:SS[.fraction]]`, and a zone (`Z`, `±HH`, `±HHMM` or `±HH:MM`; none is UTC).
/// Days are real calendar days; seconds may be 60 (a leap second, counted as the next minute's 0).
public enum ISO8601 {
    /// Milliseconds since the epoch of `text`, or nil when it is not such a date or time.
    public static func parseMillis(_ text: UnsafeRawBufferPointer) -> Int64? {
        func number(_ start: Int, _ count: Int) -> Int64? {
            guard start + count <= text.count else { return nil }
            var value: Int64 = 0
            for k in start..<(start + count) {
                guard text[k] >= 0x30 && text[k] <= 0x39 else { return nil }
                value = value * 10 + Int64(text[k] - 0x30)
            }
            return value
        }
        guard text.count >= 10, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-"),
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            isCalendarDay(year: year, month: month, day: day)
        else { return nil }
        var seconds = daysFromCivil(year, month, day) * 86_400
        if text.count == 10 { return seconds * 1000 }
        guard text.count >= 16,
            text[10] == UInt8(ascii: "T") || text[10] == UInt8(ascii: " ") || text[10] == UInt8(ascii: "t"),
            let hour = number(11, 2), text[13] == UInt8(ascii: ":"), let minute = number(14, 2), hour < 24,
            minute < 60
        else { return nil }
        seconds += hour * 3600 + minute * 60
        var millis: Int64 = 0
        var i = 16
        if i < text.count && text[i] == UInt8(ascii: ":") {
            guard let second = number(i + 1, 2), second <= 60 else { return nil }
            seconds += second
            i += 3
            if i < text.count && (text[i] == UInt8(ascii: ".") || text[i] == UInt8(ascii: ",")) {
                i += 1
                let start = i
                var scale: Int64 = 100
                while i < text.count && text[i] >= 0x30 && text[i] <= 0x39 {
                    millis += Int64(text[i] - 0x30) * scale
                    scale /= 10
                    i += 1
                }
                guard i > start && i - start <= 9 else { return nil }
            }
        }
        if i == text.count { return seconds * 1000 + millis }
        if text[i] == UInt8(ascii: "Z") || text[i] == UInt8(ascii: "z") {
            return i + 1 == text.count ? seconds * 1000 + millis : nil
        }
        if text[i] == UInt8(ascii: " ") { i += 1 }
        guard i < text.count, text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-"),
            let zoneHours = number(i + 1, 2), zoneHours < 24
        else { return nil }
        let sign: Int64 = text[i] == UInt8(ascii: "-") ? -1 : 1
        i += 3
        var zoneMinutes: Int64 = 0
        if i < text.count {
            if text[i] == UInt8(ascii: ":") { i += 1 }
            guard let minutes = number(i, 2), minutes < 60, i + 2 == text.count else { return nil }
            zoneMinutes = minutes
        }
        return (seconds - sign * (zoneHours * 3600 + zoneMinutes * 60)) * 1000 + millis
    }

    public static func parseMillis(_ text: String) -> Int64? {
        var text = text
        return text.withUTF8 { parseMillis(UnsafeRawBufferPointer($0)) }
    }

    /// Whether year-month-day is a day of the proleptic Gregorian calendar (years 1 to 9999).
    public static func isCalendarDay(year: Int64, month: Int64, day: Int64) -> Bool {
        guard year >= 1, (1...12).contains(month), day >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        return day <= [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][Int(month) - 1]
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
