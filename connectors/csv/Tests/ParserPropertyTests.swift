import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceCSV

/// Property tests of the parser: random tables written by a reference writer parse back equal, across
/// every split of the input into two read buffers and across random many-way splits, and come out of
/// the whole source (plain and gzip, resumed after every batch) as the same records.
@Suite struct ParserPropertyTests {
    /// The dialects the properties run under.
    enum Flavor: String, CaseIterable, Sendable {
        case comma
        case tab
        case singleQuote
        case backslashEscape

        var dialect: CSVDialect {
            switch self {
            case .comma: return CSVDialect()
            case .tab: return CSVDialect(delimiter: 0x09)
            case .singleQuote: return CSVDialect(quote: UInt8(ascii: "'"))
            case .backslashEscape: return CSVDialect(escape: UInt8(ascii: "\\"))
            }
        }

        /// The source options that select this dialect.
        var options: [(key: String, value: JSONValue)] {
            switch self {
            case .comma: return []
            case .tab: return [("delimiter", .string("\t"))]
            case .singleQuote: return [("quote", .string("'"))]
            case .backslashEscape: return [("escape", .string("\\"))]
            }
        }

        var seed: UInt64 { UInt64(Flavor.allCases.firstIndex(of: self) ?? 0) * 1_000 + 17 }
    }

    // MARK: The reference writer

    /// A table written as CSV, with where each row starts and on which line.
    struct Written {
        var bytes: [UInt8] = []
        var rowStarts: [Int] = []
        var rowLines: [Int64] = []
    }

    /// Writes CSV the plain way: a field is quoted when it holds the delimiter, a quote, CR, LF or the
    /// escape; inside quotes a quote is doubled, or preceded by the escape (which escapes itself too).
    /// A row of one empty field is written `""`, as Python's writer does, so that it is not a blank line.
    struct ReferenceWriter {
        let dialect: CSVDialect

        func needsQuotes(_ field: [UInt8]) -> Bool {
            field.contains { byte in
                byte == dialect.delimiter || byte == dialect.quote || byte == 0x0D || byte == 0x0A
                    || byte == dialect.escape
            }
        }

        func append(_ field: [UInt8], alone: Bool, to out: inout [UInt8]) {
            guard needsQuotes(field) || (alone && field.isEmpty) else {
                out += field
                return
            }
            out.append(dialect.quote)
            for byte in field {
                if byte == dialect.quote || byte == dialect.escape { out.append(dialect.escape ?? dialect.quote) }
                out.append(byte)
            }
            out.append(dialect.quote)
        }

        func write(_ rows: [[[UInt8]]], crlf: [Bool], finalNewline: Bool) -> Written {
            var written = Written()
            var line: Int64 = 1
            for (index, row) in rows.enumerated() {
                written.rowStarts.append(written.bytes.count)
                written.rowLines.append(line)
                let start = written.bytes.count
                for (n, field) in row.enumerated() {
                    if n > 0 { written.bytes.append(dialect.delimiter) }
                    append(field, alone: row.count == 1, to: &written.bytes)
                }
                if index < rows.count - 1 || finalNewline {
                    written.bytes += crlf[index] ? [0x0D, 0x0A] : [0x0A]
                }
                line += Self.lineBreaks(written.bytes[start...])
            }
            return written
        }

        /// LF, CR LF and a lone CR each end a line.
        static func lineBreaks(_ bytes: ArraySlice<UInt8>) -> Int64 {
            var count: Int64 = 0
            var i = bytes.startIndex
            while i < bytes.endIndex {
                if bytes[i] == 0x0A || (bytes[i] == 0x0D && (i + 1 == bytes.endIndex || bytes[i + 1] != 0x0A)) {
                    count += 1
                }
                i += 1
            }
            return count
        }
    }

    // MARK: Random tables

    struct Table {
        var names: [String]
        var rows: [[String]]
        var crlf: [Bool]
        var finalNewline: Bool

        /// The rows as bytes, with the header first when `header` is set.
        func byteRows(header: Bool) -> [[[UInt8]]] {
            (header ? [names] : []).map { $0.map { Array($0.utf8) } } + rows.map { $0.map { Array($0.utf8) } }
        }
    }

    static func randomField(_ generator: inout SplitMix64, _ dialect: CSVDialect) -> String {
        let delimiter = String(decoding: [dialect.delimiter], as: UTF8.self)
        let quote = String(decoding: [dialect.quote], as: UTF8.self)
        let pieces = [
            "a", "xyz", "42", "-3.5", " ", "\t", delimiter, delimiter, quote, quote, "\"", "'", "\\", "\r", "\n",
            "\r\n", "\n\r", "é", "😀", "漢字", "\u{1}", "#", "=", ";",
        ]
        if Int.random(in: 0..<5, using: &generator) == 0 { return "" }
        var field = ""
        for _ in 0..<Int.random(in: 1...5, using: &generator) { field += pieces.randomElement(using: &generator) ?? "" }
        return field
    }

    static func randomTable(_ generator: inout SplitMix64, _ dialect: CSVDialect) -> Table {
        let columns = Int.random(in: 1...5, using: &generator)
        let rowCount = Int.random(in: 1...7, using: &generator)
        let templates = ["c", "name ", "a\(String(decoding: [dialect.delimiter], as: UTF8.self))b", "q\"", "é", "x\ny"]
        let names = (0..<columns).map { n in (templates.randomElement(using: &generator) ?? "c") + "\(n)" }
        let rows = (0..<rowCount).map { _ in (0..<columns).map { _ in randomField(&generator, dialect) } }
        return Table(
            names: names, rows: rows, crlf: (0...rowCount).map { _ in Bool.random(using: &generator) },
            finalNewline: Int.random(in: 0..<4, using: &generator) != 0)
    }

    // MARK: Parsing as FileReader does

    /// The rows parsed from `input` delivered in `chunks`, or a description of what went wrong.
    struct Parsed: Equatable {
        var rows: [[[UInt8]]] = []
        var starts: [Int] = []
        var lines: [Int64] = []
    }

    /// Parses `input` handed over in pieces that end at `cuts`, the way `FileReader` does: it keeps a
    /// buffer, drops the rows it has finished, appends the next piece on `needMore`, and calls with
    /// `final` once the pieces are all given.
    static func parse(_ input: [UInt8], cuts: [Int], dialect: CSVDialect) -> Result<Parsed, ParseFailure> {
        var parser = CSVParser(dialect: dialect)
        var parsed = Parsed()
        var buffer: [UInt8] = []
        var base = 0
        var position = 0
        var given = 0
        var pieces = (cuts + [input.count]).makeIterator()
        var eof = false
        var line: Int64 = 1
        for _ in 0..<(input.count * 4 + 100) {
            let outcome = buffer.withUnsafeBytes { parser.parseRow($0, from: position, final: eof) }
            switch outcome {
            case .needMore:
                guard !eof else { return .failure(ParseFailure("needMore after the final piece")) }
                buffer.removeFirst(position)
                base += position
                position = 0
                if let cut = pieces.next() {
                    buffer += input[given..<cut]
                    given = cut
                } else {
                    eof = true
                }
            case .endOfInput:
                guard eof else { return .failure(ParseFailure("endOfInput before the final piece")) }
                guard base + position == input.count else { return .failure(ParseFailure("ended early")) }
                return .success(parsed)
            case .blank(let next, _):
                return .failure(ParseFailure("a blank line at \(base + position)..<\(base + next)"))
            case .unterminatedQuote:
                return .failure(ParseFailure("an unterminated quote at \(base + position)"))
            case .row(let end, let next, let lineBreaks):
                guard end <= next, next <= buffer.count else {
                    return .failure(ParseFailure("a row end \(end) or next \(next) past the buffer"))
                }
                let fields = buffer.withUnsafeBytes { raw in
                    parser.fields.map { field -> [UInt8] in
                        switch field.kind {
                        case .plain, .quoted: return Array(raw[field.start..<field.end])
                        case .complex:
                            var out: [UInt8] = []
                            parser.unescape(raw, field, into: &out)
                            return out
                        }
                    }
                }
                parsed.rows.append(fields)
                parsed.starts.append(base + position)
                parsed.lines.append(line)
                line += Int64(lineBreaks)
                position = next
            }
        }
        return .failure(ParseFailure("the parser made no progress"))
    }

    struct ParseFailure: Error, Equatable, CustomStringConvertible {
        var description: String

        init(_ description: String) {
            self.description = description
        }
    }

    // MARK: Properties

    @Test(arguments: Flavor.allCases)
    func tablesParseBackAcrossEverySplit(_ flavor: Flavor) {
        let dialect = flavor.dialect
        let writer = ReferenceWriter(dialect: dialect)
        var generator = SplitMix64(seed: flavor.seed)
        var checkedInputs = 0
        for _ in 0..<120 {
            let table = Self.randomTable(&generator, dialect)
            let rows = table.byteRows(header: false)
            let written = writer.write(rows, crlf: table.crlf, finalNewline: table.finalNewline)
            let input = written.bytes
            let expected = Parsed(rows: rows, starts: written.rowStarts, lines: written.rowLines)
            var splits = (0...input.count).map { [$0] }
            splits.append(Array(1..<max(1, input.count)))
            for _ in 0..<8 {
                let count = Int.random(in: 2...10, using: &generator)
                splits.append((0..<count).map { _ in Int.random(in: 0...input.count, using: &generator) }.sorted())
            }
            for cuts in splits {
                let result = Self.parse(input, cuts: cuts, dialect: dialect)
                #expect(
                    result == .success(expected),
                    "\(flavor) cuts \(cuts) of \(String(decoding: input, as: UTF8.self).debugDescription)")
                if result != .success(expected) { return }
                checkedInputs += 1
            }
        }
        #expect(checkedInputs > 5_000)
    }

    /// The same tables, with a header, read by the whole source: each record's value is the JSON object
    /// of its row, with its line and offset, when read in one go and when restarted from the checkpoint
    /// after every batch (plain and gzip).
    @Test(arguments: Flavor.allCases)
    func tablesComeOutOfTheSourceEqual(_ flavor: Flavor) throws {
        let dialect = flavor.dialect
        let writer = ReferenceWriter(dialect: dialect)
        var generator = SplitMix64(seed: flavor.seed + 1)
        let directory = TemporaryDirectory()
        for round in 0..<30 {
            let table = Self.randomTable(&generator, dialect)
            let written = writer.write(table.byteRows(header: true), crlf: table.crlf, finalNewline: table.finalNewline)
            let gzip = round % 3 == 2
            let path = directory.file("table-\(round).csv")
            try CSVTestSupport.write(gzip ? try CSVTestSupport.gzip(written.bytes) : written.bytes, to: path)
            let expected = table.rows.map { row in
                JSONValue.object(zip(table.names, row).map { ($0, .string($1)) }).serialized()
            }
            let batchRows = Int.random(in: 1...3, using: &generator)
            let options = try CSVTestSupport.options(
                path: path,
                flavor.options + [("max_batch_rows", .number(String(batchRows))), ("files_complete", .bool(true))])
            let context = "\(flavor) round \(round): \(String(decoding: written.bytes, as: UTF8.self).debugDescription)"

            // Read as a file that may still grow, a plain one without its final line break holds its last
            // row back, and gives it once the line break arrives.
            if !gzip && !table.finalNewline && !table.rows.isEmpty {
                let growing = try CSVTestSupport.options(path: path, flavor.options)
                let first = try CSVTestSupport.run(growing)
                #expect(CSVTestSupport.values(first.records) == Array(expected.dropLast()), "held back: \(context)")
                #expect(first.deadLetters.isEmpty && first.progress.filesHeldBack == 1, "held back: \(context)")
                let file = try SystemFile.open(path, .readWrite)
                try [UInt8(0x0A)].withUnsafeBytes { try file.write($0, at: Int64(written.bytes.count)) }
                let rest = try CSVTestSupport.run(growing, checkpoint: first.checkpoint)
                #expect(CSVTestSupport.values(rest.records) == [expected[expected.count - 1]], "completed: \(context)")
            }

            let whole = try CSVTestSupport.run(options)
            #expect(CSVTestSupport.values(whole.records) == expected, "\(context)")
            #expect(whole.deadLetters.isEmpty, "\(context)")
            let name = String(path.split(separator: "/").last ?? "")
            #expect(whole.records.map { $0.headerText("sluice.source.file") } == table.rows.map { _ in name })
            #expect(
                whole.records.map { $0.headerText("sluice.source.line") }
                    == written.rowLines.dropFirst().map { String($0) }, "\(context)")

            var resumed: [Record] = []
            var checkpoint: [UInt8]?
            for _ in 0...table.rows.count + 1 {
                let run = try CSVTestSupport.run(options, checkpoint: checkpoint, maxBatches: 1)
                checkpoint = run.checkpoint
                if run.records.isEmpty && run.deadLetters.isEmpty { break }
                resumed += run.records
            }
            #expect(CSVTestSupport.values(resumed) == expected, "resumed after every batch: \(context)")
            let lines = { (records: [Record]) in records.map { $0.headerText("sluice.source.line") } }
            #expect(lines(resumed) == lines(whole.records), "\(context)")
        }
    }
}
