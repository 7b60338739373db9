extension ISO8601 {
    /// Milliseconds of an ISO 8601 duration as Java's `Duration.parse` (and so Kafka's
    /// `kafka-consumer-groups --by-duration`) reads it: `P`, then days, then `T` and hours, minutes
    /// and seconds, each optional but at least one given: `PT1H`, `P1D`, `PT30M`, `P1DT12H`, `PT0.5S`.
    /// Weeks (`P2W`) are read too. Letters may be lower case. Nil for anything else: a negative
    /// duration, years and months (their length varies), or more than `Int64.max` milliseconds.
    public static func parseDurationMillis(_ text: String) -> Int64? {
        let bytes = Array(text.uppercased().utf8)
        guard bytes.first == UInt8(ascii: "P"), bytes.count > 1 else { return nil }
        var total: Int64 = 0
        var inTime = false
        var units = 0
        var i = 1
        // Units in the order they must come, before and after the T.
        var allowed: [UInt8] = [UInt8(ascii: "W"), UInt8(ascii: "D")]
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "T") {
                guard !inTime, i + 1 < bytes.count else { return nil }
                inTime = true
                allowed = [UInt8(ascii: "H"), UInt8(ascii: "M"), UInt8(ascii: "S")]
                i += 1
                continue
            }
            var whole: Int64 = 0
            var digits = 0
            while i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 {
                let (times, overflow1) = whole.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times.addingReportingOverflow(Int64(bytes[i] - 0x30))
                guard !overflow1 && !overflow2 else { return nil }
                whole = sum
                digits += 1
                i += 1
            }
            var fractionMillis: Int64 = 0
            if i < bytes.count && (bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: ",")) {
                i += 1
                var scale: Int64 = 100
                let start = i
                while i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 {
                    fractionMillis += Int64(bytes[i] - 0x30) * scale
                    scale /= 10
                    i += 1
                }
                // Only seconds take a fraction; more than nanoseconds is not a duration.
                guard i > start, i - start <= 9, i < bytes.count, bytes[i] == UInt8(ascii: "S") else { return nil }
            }
            guard digits > 0, i < bytes.count, let place = allowed.firstIndex(of: bytes[i]) else { return nil }
            let unit: Int64
            switch bytes[i] {
            case UInt8(ascii: "W"): unit = 7 * 86_400_000
            case UInt8(ascii: "D"): unit = 86_400_000
            case UInt8(ascii: "H"): unit = 3_600_000
            case UInt8(ascii: "M"): unit = 60_000
            default: unit = 1000
            }
            let (part, overflow1) = whole.multipliedReportingOverflow(by: unit)
            let (sum, overflow2) = total.addingReportingOverflow(part + fractionMillis)
            guard !overflow1 && !overflow2 && part <= Int64.max - fractionMillis else { return nil }
            total = sum
            allowed.removeFirst(place + 1)
            units += 1
            i += 1
        }
        return units > 0 ? total : nil
    }
}
