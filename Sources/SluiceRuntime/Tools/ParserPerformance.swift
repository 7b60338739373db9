import SluiceCSV
import SluiceCore

/// `sluice perf parse`: the CSV parser alone over a file already in memory, on one core: rows and
/// fields found, no conversion, no broker. The file is read once before the clock starts.
public struct ParserPerformance {
    public struct Report: Sendable {
        public var bytes: Int
        public var rows: Int
        public var fields: Int
        public var seconds: Double
        public var megabytesPerSecond: Double { Double(bytes) / 1e6 / max(seconds, 1e-9) }

        public var summary: String {
            "\(rows) rows, \(fields) fields, \(bytes) bytes in \(format(seconds, 3)) s: \(format(megabytesPerSecond, 1)) MB/s"
        }
    }

    public var path: String
    public var dialect = CSVDialect()

    public init(path: String) {
        self.path = path
    }

    public func run() throws -> Report {
        let bytes = try FileSystem.readFile(path)
        var parser = CSVParser(dialect: dialect)
        let start = Time.monotonicNanos()
        var rows = 0
        var fields = 0
        bytes.withUnsafeBytes { raw in
            var position = 0
            parsing: while true {
                switch parser.parseRow(raw, from: position, final: true) {
                case .row(_, let next, _):
                    rows += 1
                    fields += parser.fields.count
                    position = next
                case .blank(let next, _): position = next
                case .unterminatedQuote, .endOfInput, .needMore: break parsing
                }
            }
        }
        return Report(
            bytes: bytes.count, rows: rows, fields: fields, seconds: Double(Time.monotonicNanos() - start) / 1e9)
    }
}
