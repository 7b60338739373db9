import SluiceCore

/// Generates the orders CSV the benchmarks and crash tests use, deterministically from a seed: an int
/// id, a customer key with about 10,000 values, an ISO timestamp, a decimal amount, an int quantity,
/// a short status, a free-text note (with commas, quotes and line breaks in a few percent of rows)
/// and a boolean. About 95 bytes a row.
public struct SampleOrders {
    public static let header = "order_id,customer,ordered_at,amount,quantity,status,note,gift"
    public static let columnTypes: [(String, String)] = [
        ("order_id", "int"), ("ordered_at", "timestamp"), ("amount", "decimal"), ("quantity", "int"), ("gift", "bool"),
    ]

    public var rows: Int
    public var seed: UInt64
    /// Rows that are deliberately bad (wrong field count, bad number), one in this many; 0 for none.
    public var badEvery = 0

    public init(rows: Int, seed: UInt64 = 42) {
        self.rows = rows
        self.seed = seed
    }

    static let statuses = ["new", "paid", "shipped", "delivered", "returned", "cancelled"]
    static let words = [
        "fast", "delivery", "please", "gift", "wrap", "call", "before", "leave", "at", "door", "fragile", "thanks",
        "blue", "large", "extra", "box", "weekend", "office", "ring", "twice",
    ]

    /// Writes the file, in chunks, through `write`.
    public func generate(_ write: ([UInt8]) throws -> Void) throws {
        var random = SplitMix64(seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        out.append(contentsOf: (Self.header + "\n").utf8)
        let start: Int64 = 1_767_225_600  // 2026-01-01T00:00:00Z
        for id in 1...max(rows, 1) where rows > 0 {
            let customer = random.next() % 10_000
            let seconds = start + Int64(random.next() % 31_536_000)
            let cents = random.next() % 100_000
            let quantity = 1 + random.next() % 20
            let status = Self.statuses[Int(random.next() % UInt64(Self.statuses.count))]
            let gift = random.next() % 5 == 0
            var note = ""
            for w in 0..<(3 + Int(random.next() % 7)) {
                if w > 0 { note += " " }
                note += Self.words[Int(random.next() % UInt64(Self.words.count))]
            }
            let flavour = random.next() % 100
            if flavour < 3 {
                note = "\"\(note), \"\"really\"\" \(note)\""
            } else if flavour < 5 {
                note = "\"\(note)\nsecond line, \(note)\""
            }
            var line =
                "\(id),C\(String(customer + 100_000)),\(Self.iso(seconds)),\(cents / 100).\(Self.two(Int(cents % 100))),"
            line += "\(quantity),\(status),\(note),\(gift)"
            if badEvery > 0 && id % badEvery == 0 {
                line = id % (2 * badEvery) == 0 ? "\(id),C100000,broken" : "\(id)x" + line.dropFirst(String(id).count)
            }
            out.append(contentsOf: line.utf8)
            out.append(0x0A)
            if out.count >= 1 << 20 {
                try write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        if !out.isEmpty { try write(out) }
    }

    /// Writes the file to `path` (gzip-compressed when `gzip` is true).
    public func write(to path: String, gzip: Bool = false) throws {
        let file = try SystemFile.open(path, .truncate)
        if gzip {
            let deflater = try Deflater(level: 6)
            var compressed: [UInt8] = []
            try generate { chunk in
                try chunk.withUnsafeBytes { try deflater.compress($0, into: &compressed) }
                try file.append(compressed)
                compressed.removeAll(keepingCapacity: true)
            }
            try deflater.finish(into: &compressed)
            try file.append(compressed)
        } else {
            try generate { try file.append($0) }
        }
    }

    static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    static func iso(_ seconds: Int64) -> String {
        let days = seconds / 86_400
        let rest = Int(seconds % 86_400)
        let (y, m, d) = civil(days)
        return "\(y)-\(two(m))-\(two(d))T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
    }

    /// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
    static func civil(_ days: Int64) -> (Int64, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
