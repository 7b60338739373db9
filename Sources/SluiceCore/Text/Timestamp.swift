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
