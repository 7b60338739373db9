import Glibc
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceCSV

/// The CSV source over real files: gzip, folders and globs, header options, byte-order marks, rows
/// over `max_row_bytes`, provenance headers, header problems, and resuming from checkpoints.
@Suite struct SourceBehaviourTests {
    typealias Options = [(key: String, value: JSONValue)]

    static func run(
        _ path: String, _ extra: Options = [], checkpoint: [UInt8]? = nil, stored: [[Header]] = [],
        maxBatches: Int = .max
    ) throws -> SourceRun {
        try CSVTestSupport.run(
            try CSVTestSupport.options(path: path, extra), checkpoint: checkpoint, stored: stored,
            maxBatches: maxBatches)
    }

    static func headers(_ records: [Record], _ name: String) -> [String] {
        records.map { $0.headerText(name) ?? "-" }
    }

    /// `id,name` then rows `n,name-n` for `ids`.
    static func table(_ ids: ClosedRange<Int>) -> String {
        "id,name\n" + ids.map { "\($0),name-\($0)\n" }.joined()
    }

    static func ids(_ records: [Record]) throws -> [Int] {
        try records.map { record in
            let value = try JSONValue.parse(record.value ?? [])
            return try #require(value["id"]?.stringValue.flatMap { Int($0) })
        }
    }

    // MARK: Files

    @Test func gzipIsRecognisedByItsMagicBytesWhateverTheName() throws {
        let directory = TemporaryDirectory()
        let text = Self.table(1...500)
        let compressed = directory.file("orders.csv")
        try CSVTestSupport.write(try CSVTestSupport.gzip(Array(text.utf8)), to: compressed)
        let plain = directory.file("orders.csv.gz")
        try CSVTestSupport.write(text, to: plain)
        let members = directory.file("members.bin")
        let half = Self.table(1...250)
        let rest = (251...500).map { "\($0),name-\($0)\n" }.joined()
        try CSVTestSupport.write(
            try CSVTestSupport.gzip(Array(half.utf8)) + CSVTestSupport.gzip(Array(rest.utf8)), to: members)

        let expected = try Self.run(plain)
        #expect(try Self.ids(expected.records) == Array(1...500))
        for path in [compressed, members] {
            let run = try Self.run(path)
            #expect(CSVTestSupport.values(run.records) == CSVTestSupport.values(expected.records), "\(path)")
            #expect(
                Self.headers(run.records, "sluice.source.line") == Self.headers(expected.records, "sluice.source.line"))
        }

        let truncated = directory.file("truncated.csv")
        try CSVTestSupport.write(Array(try CSVTestSupport.gzip(Array(text.utf8)).dropLast(5)), to: truncated)
        #expect(throws: CoreError.self) { try Self.run(truncated) }
    }

    @Test func aFolderIsReadInNameOrderWithoutHiddenFilesOrSubfolders() throws {
        let directory = TemporaryDirectory()
        for name in ["b.csv", "a.csv", "10.csv", ".hidden.csv", "B.csv"] {
            try CSVTestSupport.write("id\n\(name)\n", to: directory.file(name))
        }
        try FileSystem.createDirectory(directory.file("sub"))
        try CSVTestSupport.write("id\nsub\n", to: directory.file("sub/c.csv"))
        for path in [directory.path, directory.path + "/"] {
            let run = try Self.run(path)
            #expect(
                CSVTestSupport.values(run.records) == ["10.csv", "B.csv", "a.csv", "b.csv"].map { #"{"id":"\#($0)"}"# })
            #expect(
                Self.headers(run.records, "sluice.source.file")
                    == ["10.csv", "B.csv", "a.csv", "b.csv"], "named from the source's folder")
            #expect(run.progress.files == 4)
            #expect(run.progress.filesDone == 4)
        }
    }

    /// `**` is any depth of folders (hidden ones left out), `{a,b}` either name, as shells and Vector
    /// users write them.
    @Test func doubleStarGlobsReachSubfoldersAndBracesPickNames() throws {
        let directory = TemporaryDirectory()
        for name in ["a.csv", "sub/b.csv", "sub/deeper/c.csv", ".hidden/d.csv", "sub/e.txt"] {
            try FileSystem.createDirectory(FileSystem.parentDirectory(of: directory.file(name)))
            try CSVTestSupport.write("id\n\(name)\n", to: directory.file(name))
        }
        let deep = try Self.run(directory.file("**/*.csv"))
        #expect(
            CSVTestSupport.values(deep.records)
                == ["a.csv", "sub/b.csv", "sub/deeper/c.csv"].map { #"{"id":"\#($0)"}"# })
        #expect(deep.records.map { $0.headerText("sluice.source.file") } == ["a.csv", "sub/b.csv", "sub/deeper/c.csv"])
        #expect(try Self.run(directory.file("sub/**/c.csv")).records.count == 1)
        #expect(try Self.run(directory.file("{a,sub/b}.csv")).records.count == 2)
    }

    @Test func aGlobPicksItsFilesInNameOrder() throws {
        let directory = TemporaryDirectory()
        for name in ["orders-2.csv", "orders-1.csv", "orders-10.csv", "customers.csv", "orders-3.txt"] {
            try CSVTestSupport.write("id\n\(name)\n", to: directory.file(name))
        }
        let run = try Self.run(directory.file("orders-*.csv"))
        #expect(
            CSVTestSupport.values(run.records)
                == ["orders-1.csv", "orders-10.csv", "orders-2.csv"].map { #"{"id":"\#($0)"}"# })
        let brackets = try Self.run(directory.file("orders-[12].csv"))
        #expect(brackets.records.count == 2)
        let error = try #require(throws: ConnectorError.self) { try Self.run(directory.file("nothing-*.csv")) }
        #expect(error.kind == .fatal)
        #expect(error.errorClass == "csv.path")
    }

    /// A header that is not UTF-8 stops the file, naming it, instead of columns named with U+FFFD; a
    /// UTF-16 file (Excel's "Unicode text") is named as such instead of read as NUL-filled records.
    @Test func aHeaderThatIsNotUTF8AndAUTF16FileAreClearErrors() throws {
        let directory = TemporaryDirectory()
        let latin1 = directory.file("latin1.csv")
        try CSVTestSupport.write([UInt8]("id,Gr".utf8) + [0xF6, 0xDF] + [UInt8]("e\n1,M\n".utf8), to: latin1)
        let header = try #require(throws: ConnectorError.self) { try Self.run(latin1) }
        #expect(header.errorClass == "csv.header_encoding")
        #expect(header.message.contains("\(latin1), line 1: the header's column 2 is not valid UTF-8"))
        #expect(try Self.run(latin1, [("encoding", .string("latin1"))]).records.count == 1)
        let utf16 = directory.file("utf16.csv")
        try CSVTestSupport.write([0xFF, 0xFE] + "a,b\n1,2\n".utf8.flatMap { [$0, 0] }, to: utf16)
        let wide = try #require(throws: ConnectorError.self) { try Self.run(utf16) }
        #expect(wide.errorClass == "csv.encoding")
        #expect(wide.message.contains("the file is UTF-16"))
    }

    // MARK: Header options

    @Test func withoutAHeaderColumnNamesNameTheFields() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("rows.csv")
        try CSVTestSupport.write("1,a\n2,b\n3,c,extra\n4\n", to: path)
        let run = try Self.run(
            path, [("header", .bool(false)), ("column_names", .array([.string("id"), .string("name")]))])
        #expect(CSVTestSupport.values(run.records) == [#"{"id":"1","name":"a"}"#, #"{"id":"2","name":"b"}"#])
        #expect(Self.headers(run.records, "sluice.source.line") == ["1", "2"])
        #expect(Self.headers(run.deadLetters, "sluice.error.class") == ["csv.field_count", "csv.field_count"])
        #expect(
            Self.headers(run.deadLetters, "sluice.error.message") == [
                "expected 2 fields, found 3", "expected 2 fields, found 1",
            ])
        #expect(run.deadLetters.map { String(decoding: $0.value ?? [], as: UTF8.self) } == ["3,c,extra", "4"])
    }

    @Test func skipRowsComeBeforeTheHeader() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("report.csv")
        try CSVTestSupport.write("Exported report\n\"generated, today\nby someone\"\nid,name\n1,a\n\n2,b\n", to: path)
        let run = try Self.run(path, [("skip_rows", .number("2"))])
        #expect(CSVTestSupport.values(run.records) == [#"{"id":"1","name":"a"}"#, #"{"id":"2","name":"b"}"#])
        #expect(Self.headers(run.records, "sluice.source.line") == ["5", "7"])
        #expect(run.deadLetters.isEmpty)
        let noHeader = try Self.run(
            path,
            [
                ("skip_rows", .number("3")), ("header", .bool(false)),
                ("column_names", .array([.string("x"), .string("y")])),
            ])
        #expect(CSVTestSupport.values(noHeader.records) == [#"{"x":"1","y":"a"}"#, #"{"x":"2","y":"b"}"#])
    }

    @Test func aByteOrderMarkIsNotPartOfTheFirstName() throws {
        let directory = TemporaryDirectory()
        for (name, header) in [("plain.csv", "id,name"), ("quoted.csv", "\"id\",name")] {
            let path = directory.file(name)
            let text = "\u{FEFF}\(header)\r\n1,a\r\n2,b\r\n"
            try CSVTestSupport.write(text, to: path)
            let run = try Self.run(path, [("key", .string("id"))])
            #expect(CSVTestSupport.values(run.records) == [#"{"id":"1","name":"a"}"#, #"{"id":"2","name":"b"}"#])
            #expect(Self.headers(run.records, "sluice.source.line") == ["2", "3"])
            let gzip = directory.file(name + ".gz")
            try CSVTestSupport.write(try CSVTestSupport.gzip(Array(text.utf8)), to: gzip)
            #expect(CSVTestSupport.values(try Self.run(gzip).records) == CSVTestSupport.values(run.records))
        }
    }

    @Test func duplicateAndEmptyHeaderNamesAreRenamed() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("names.csv")
        try CSVTestSupport.write("a,b,a,,a\n1,2,3,4,5\n", to: path)
        #expect(
            CSVTestSupport.values(try Self.run(path).records) == [
                #"{"a":"1","b":"2","a_2":"3","column_4":"4","a_3":"5"}"#
            ])
        try CSVTestSupport.write("a_2,a,a,a_3\n1,2,3,4\n", to: path)
        let renamed = try JSONValue.parse(try #require(try Self.run(path).records.first?.value))
        guard case .object(let members) = renamed else {
            Issue.record("not an object")
            return
        }
        #expect(Set(members.map(\.key)).count == 4, "\(members.map(\.key))")
        #expect(members.map(\.key).prefix(2) == ["a_2", "a"])
    }

    @Test func aKeyOrTypedColumnMissingFromTheHeaderIsFatal() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("orders.csv")
        try CSVTestSupport.write("id,name\n1,a\n", to: path)
        let key = try #require(throws: ConnectorError.self) { try Self.run(path, [("key", .string("order_id"))]) }
        #expect(key.kind == .fatal)
        #expect(key.errorClass == "csv.key_column")
        #expect(key.message.contains("\"order_id\""))
        #expect(key.message.contains("id, name"))
        let typed = try #require(throws: ConnectorError.self) {
            try Self.run(path, [("columns", .object([("amount", .string("decimal"))]))])
        }
        #expect(typed.kind == .fatal)
        #expect(typed.message.contains("\"amount\""))
    }

    // MARK: Long rows

    static let longRowOptions: Options = [("max_row_bytes", .number("1024"))]

    @Test func aRowOverMaxRowBytesIsADeadLetterAndTheRowsAroundItAreDelivered() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("long.csv")
        let long = "2," + String(repeating: "x", count: 2_000)
        let exact = "3," + String(repeating: "y", count: 1_022)
        let text = "id,text\n1,short\n\(long)\n\(exact)\n4,after\n"
        try CSVTestSupport.write(text, to: path)
        let run = try Self.run(path, Self.longRowOptions)
        #expect(try Self.ids(run.records) == [1, 3, 4])
        #expect(Self.headers(run.records, "sluice.source.line") == ["2", "4", "5"])
        #expect(run.deadLetters.count == 1)
        let dead = try #require(run.deadLetters.first)
        #expect(dead.headerText("sluice.error.class") == "csv.row_too_long")
        #expect(dead.value == Array(long.utf8.prefix(1_024)))
        #expect(dead.headerText("sluice.source.line") == "3")
        #expect(dead.headerText("sluice.source.offset") == "\(16)")
        #expect(run.progress.rowsRead == 4)
    }

    /// Long rows inside quotes that span many lines: small ones found whole in the read buffer, and one
    /// larger than the read buffer that the source skips without keeping; lines stay right after them.
    @Test(arguments: [false, true])
    func longQuotedRowsSpanningLines(gzip: Bool) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("quoted.csv")
        let small = "2,\"" + String(repeating: "line, with \"\"quotes\"\"\n", count: 100) + "end\""
        let pieces = 3 * InputFile.chunkSize / 33
        let large = "4,\"" + String(repeating: "a much longer line, \"\"quoted\"\"\r\n", count: pieces) + "end\""
        let text = "id,text\n1,a\n\(small)\n3,b\n\(large)\r\n5,c\n6,\"d\ne\"\n"
        let bytes = Array(text.utf8)
        try CSVTestSupport.write(gzip ? try CSVTestSupport.gzip(bytes) : bytes, to: path)
        let run = try Self.run(path, Self.longRowOptions)
        #expect(try Self.ids(run.records) == [1, 3, 5, 6])
        #expect(Self.headers(run.records, "sluice.source.line") == ["2", "104", "\(106 + pieces)", "\(107 + pieces)"])
        #expect(Self.headers(run.deadLetters, "sluice.error.class") == ["csv.row_too_long", "csv.row_too_long"])
        #expect(Self.headers(run.deadLetters, "sluice.source.line") == ["3", "105"])
        let kept = run.deadLetters.map { String(decoding: $0.value ?? [], as: UTF8.self) }
        #expect(kept == [small, large].map { String(decoding: $0.utf8.prefix(1_024), as: UTF8.self) })
        #expect(run.progress.rowsRead == 6)

        var resumed = SourceRun()
        var checkpoint: [UInt8]?
        for _ in 0..<10 {
            let step = try Self.run(
                path, Self.longRowOptions + [("max_batch_rows", .number("1"))], checkpoint: checkpoint, maxBatches: 1)
            checkpoint = step.checkpoint
            resumed.records += step.records
            resumed.deadLetters += step.deadLetters
        }
        #expect(CSVTestSupport.values(resumed.records) == CSVTestSupport.values(run.records))
        #expect(Self.headers(resumed.records, "sluice.source.line") == Self.headers(run.records, "sluice.source.line"))
        #expect(Self.headers(resumed.deadLetters, "sluice.source.line") == ["3", "105"])
    }

    /// With an escape byte, escaped line breaks inside long rows count as lines, the same in a row found
    /// whole in the read buffer (unquoted here) as in one longer than the buffer, skipped (quoted here).
    @Test(arguments: [false, true])
    func escapedLineBreaksInLongRowsKeepLinesRight(gzip: Bool) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("escaped.csv")
        let (u, q) = (120, 3 * InputFile.chunkSize / 25)
        let unquoted = "2," + String(repeating: "escaped\\\nline \\\" ", count: u)
        let quoted = "4,\"" + String(repeating: "escaped \\\" quote \\\n line\n", count: q) + "\""
        let text = "id,text\n1,a\n\(unquoted)\n3,b\n\(quoted)\n5,c\n"
        let bytes = Array(text.utf8)
        try CSVTestSupport.write(gzip ? try CSVTestSupport.gzip(bytes) : bytes, to: path)
        let run = try Self.run(path, Self.longRowOptions + [("escape", .string("\\"))])
        #expect(try Self.ids(run.records) == [1, 3, 5])
        #expect(Self.headers(run.records, "sluice.source.line") == ["2", "\(4 + u)", "\(6 + u + 2 * q)"])
        #expect(Self.headers(run.deadLetters, "sluice.source.line") == ["3", "\(5 + u)"])
        #expect(Self.headers(run.deadLetters, "sluice.error.class") == ["csv.row_too_long", "csv.row_too_long"])
    }

    // MARK: Provenance

    /// Records name their file (from the source's folder) and line, and nothing more: the byte offset
    /// and the absolute path are for dead letters, which are read alone.
    @Test func provenanceHeadersNameFileAndLine() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("where.csv")
        let text = "id,text\r\n1,\"two\r\nlines\"\r\n\r\n\n2,plain\r3,cr\n4,\"\"\"x\"\"\"\n5,last"
        try CSVTestSupport.write(text, to: path)
        let run = try Self.run(path, [("files_complete", .bool(true))])
        #expect(try Self.ids(run.records) == [1, 2, 3, 4, 5])
        #expect(Self.headers(run.records, "sluice.source.line") == ["2", "6", "7", "8", "9"])
        #expect(Self.headers(run.records, "sluice.source.file") == Array(repeating: "where.csv", count: 5))
        #expect(run.records.allSatisfy { $0.headers.map(\.name) == ["sluice.source.file", "sluice.source.line"] })
        #expect(CSVTestSupport.values(run.records)[3] == #"{"id":"4","text":"\"x\""}"#)
    }

    // MARK: Checkpoints

    enum Layout: String, CaseIterable, Sendable {
        case header
        case noHeader
        case skipRowsThenHeader

        func text(_ ids: ClosedRange<Int>) -> String {
            let rows = ids.map { "\($0),name-\($0)\n" }.joined()
            switch self {
            case .header: return "id,name\n" + rows
            case .noHeader: return rows
            case .skipRowsThenHeader: return "junk\nid,name\n" + rows
            }
        }

        var options: Options {
            switch self {
            case .header: return []
            case .noHeader:
                return [("header", .bool(false)), ("column_names", .array([.string("id"), .string("name")]))]
            case .skipRowsThenHeader: return [("skip_rows", .number("1"))]
            }
        }
    }

    /// A run stopped after one batch, and a new source opened from its checkpoint, together deliver
    /// every row exactly once; a third run finds nothing to do.
    @Test(arguments: [false, true], Layout.allCases)
    func resumingFromACheckpointDeliversEveryRowOnce(gzip: Bool, layout: Layout) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("rows.csv")
        let bytes = Array(layout.text(1...25).utf8)
        try CSVTestSupport.write(gzip ? try CSVTestSupport.gzip(bytes) : bytes, to: path)
        let options = layout.options + [("max_batch_rows", .number("4"))]
        let first = try Self.run(path, options, maxBatches: 1)
        #expect(try Self.ids(first.records) == Array(1...4))
        let second = try Self.run(path, options, checkpoint: first.checkpoint)
        #expect(try Self.ids(second.records) == Array(5...25))
        let lines = Self.headers(first.records + second.records, "sluice.source.line")
        let firstLine = layout == .header ? 2 : layout == .noHeader ? 1 : 3
        #expect(lines == (0..<25).map { "\(firstLine + $0)" })
        let third = try Self.run(path, options, checkpoint: second.checkpoint)
        #expect(third.records.isEmpty && third.deadLetters.isEmpty)
        #expect(third.progress.files == 0)
    }

    /// Resuming deep into a large gzip file, past the first read, inflates and drops the text before
    /// the stored offset; a plain file seeks.
    @Test(arguments: [false, true])
    func resumingDeepIntoALargeFile(gzip: Bool) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("large.csv")
        var generator = SplitMix64(seed: 71)
        var text = "id,payload\n"
        for id in 1...50_000 {
            let payload = (0..<6).map { _ in String(generator.next(), radix: 16) }.joined()
            text += "\(id),\(payload)\n"
        }
        let bytes = Array(text.utf8)
        try CSVTestSupport.write(gzip ? try CSVTestSupport.gzip(bytes) : bytes, to: path)
        let first = try Self.run(path, maxBatches: 2)
        #expect(first.records.count == 40_000)
        let second = try Self.run(path, checkpoint: first.checkpoint)
        #expect(try Self.ids(first.records + second.records) == Array(1...50_000))
        #expect(second.records.first?.headerText("sluice.source.line") == "40002")
    }

    @Test func aFileThatGrewIsReadFromWhereItStopped() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("growing.csv")
        try CSVTestSupport.write("id,name\n1,a\n2,b", to: path)
        // "2,b" has no line break yet: a writer may still be appending to it, so it waits.
        let first = try Self.run(path)
        #expect(try Self.ids(first.records) == [1])
        let unchanged = try Self.run(path, checkpoint: first.checkpoint)
        #expect(unchanged.records.isEmpty)
        try CSVTestSupport.append(Array("\n3,c\n4,d\n".utf8), to: path)
        let second = try Self.run(path, checkpoint: unchanged.checkpoint)
        #expect(try Self.ids(second.records) == [2, 3, 4])
        #expect(Self.headers(second.records, "sluice.source.line") == ["3", "4", "5"])
        try CSVTestSupport.append(Array("5,e\n".utf8), to: path)
        let third = try Self.run(path, checkpoint: second.checkpoint)
        #expect(try Self.ids(third.records) == [5])
        #expect(Self.headers(third.records, "sluice.source.line") == ["6"])
    }

    /// Log rotation: the file read so far becomes `in.csv.1` (after growing a little) and a new
    /// `in.csv` starts; then that one is rotated too and the first moves on to `in.csv.2`.
    @Test func rotatedFilesKeepTheirPositionsAndTheNewFileIsReadFromItsStart() throws {
        let directory = TemporaryDirectory()
        let pattern = directory.file("in.csv*")
        try CSVTestSupport.write(Self.table(1...2), to: directory.file("in.csv"))
        let first = try Self.run(pattern)
        #expect(try Self.ids(first.records) == [1, 2])
        try CSVTestSupport.append(Array("3,c\n".utf8), to: directory.file("in.csv"))
        try FileSystem.rename(directory.file("in.csv"), to: directory.file("in.csv.1"))
        try CSVTestSupport.write(Self.table(4...4), to: directory.file("in.csv"))
        let second = try Self.run(pattern, checkpoint: first.checkpoint)
        #expect(try Self.ids(second.records).sorted() == [3, 4])
        try FileSystem.rename(directory.file("in.csv.1"), to: directory.file("in.csv.2"))
        try FileSystem.rename(directory.file("in.csv"), to: directory.file("in.csv.1"))
        try CSVTestSupport.write(Self.table(5...5), to: directory.file("in.csv"))
        let third = try Self.run(pattern, checkpoint: second.checkpoint)
        #expect(try Self.ids(third.records) == [5])
    }

    @Test func aFIFOIsRefusedInsteadOfWaitedFor() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("pipe.csv")
        #expect(mkfifo(path, 0o600) == 0)
        let error = try #require(throws: ConnectorError.self) { try Self.run(path) }
        #expect(error.message.contains("is a FIFO (named pipe), not a regular file"))
    }

    @Test func aDifferentFileUnderAnOldNameIsReadFromItsStart() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("daily.csv")
        try CSVTestSupport.write(Self.table(1...3), to: path)
        let first = try Self.run(path)
        #expect(try Self.ids(first.records) == [1, 2, 3])
        try FileSystem.removeFile(path)
        try CSVTestSupport.write(Self.table(7...9), to: path)
        let second = try Self.run(path, checkpoint: first.checkpoint)
        #expect(try Self.ids(second.records) == [7, 8, 9])
        try FileSystem.removeFile(path)
        try CSVTestSupport.write(Self.table(10...12) + Self.table(13...20).dropFirst(8), to: path)
        let third = try Self.run(path, checkpoint: second.checkpoint)
        #expect(try Self.ids(third.records) == Array(10...20))
        try CSVTestSupport.write("id,name\n5,x\n", to: path)
        let shorter = try Self.run(path, checkpoint: third.checkpoint)
        #expect(try Self.ids(shorter.records) == [5])
    }

    /// After a crash the runtime passes the headers of what was stored after the checkpoint: the
    /// source skips exactly those rows (records and dead letters) and delivers the rest.
    @Test(arguments: [false, true])
    func rowsStoredAfterTheCheckpointAreSkipped(gzip: Bool) throws {
        let directory = TemporaryDirectory()
        let path = directory.file("crash.csv")
        let text = "id,name\n" + (1...12).map { $0 == 6 ? "6,bad,row\n" : "\($0),name-\($0)\n" }.joined()
        try CSVTestSupport.write(gzip ? try CSVTestSupport.gzip(Array(text.utf8)) : Array(text.utf8), to: path)
        let options: Options = [("max_batch_rows", .number("3"))]
        let first = try Self.run(path, options, maxBatches: 1)
        #expect(try Self.ids(first.records) == [1, 2, 3])
        let lost = try Self.run(path, options, checkpoint: first.checkpoint, maxBatches: 2)
        #expect(try Self.ids(lost.records) == [4, 5, 7, 8, 9])
        #expect(lost.deadLetters.count == 1)
        let stored = (lost.records + lost.deadLetters).map(\.headers)
        let restarted = try Self.run(path, options, checkpoint: first.checkpoint, stored: stored)
        #expect(try Self.ids(restarted.records) == [10, 11, 12])
        #expect(restarted.deadLetters.isEmpty)
        #expect(restarted.progress.rowsSkipped == 6)
        let partly = try Self.run(path, options, checkpoint: first.checkpoint, stored: Array(stored.prefix(2)))
        #expect(try Self.ids(partly.records) == [7, 8, 9, 10, 11, 12])
        #expect(partly.deadLetters.count == 1)
    }

    /// Records stored by a version that named rows by absolute path and byte offset are still known
    /// after an upgrade.
    @Test func rowsStoredWithAbsolutePathsAndOffsetsAreSkipped() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("old.csv")
        try CSVTestSupport.write("id,name\n1,a\n2,b\n3,c\n", to: path)
        let canonical = FileSystem.canonicalPath(path) ?? path
        let stored = [12, 16].map { offset in
            [
                Header("sluice.source.file", Array(canonical.utf8)),
                Header("sluice.source.offset", Array("\(offset)".utf8)),
            ]
        }
        let restarted = try Self.run(path, stored: stored)
        #expect(try Self.ids(restarted.records) == [1])
        #expect(restarted.progress.rowsSkipped == 2)
    }

    /// A glob's files are named from the folder before its first wildcard, subfolders included; a file
    /// outside that folder (through a link) keeps its absolute path.
    @Test func filesAreNamedFromTheFolderBeforeTheFirstWildcard() throws {
        let directory = TemporaryDirectory()
        for day in ["2026-01", "2026-02"] {
            try FileSystem.createDirectory(directory.file(day))
            try CSVTestSupport.write("id\n\(day)\n", to: directory.file("\(day)/orders.csv"))
        }
        let run = try Self.run(directory.path + "/*/orders.csv")
        #expect(Self.headers(run.records, "sluice.source.file") == ["2026-01/orders.csv", "2026-02/orders.csv"])
        let outside = TemporaryDirectory()
        try CSVTestSupport.write("id\nx\n", to: outside.file("elsewhere.csv"))
        #expect(symlink(outside.file("elsewhere.csv"), directory.file("2026-01/link.csv")) == 0)
        let linked = try Self.run(directory.file("2026-01/link.csv"))
        let target = FileSystem.canonicalPath(outside.file("elsewhere.csv")) ?? ""
        #expect(Self.headers(linked.records, "sluice.source.file") == [target])
    }
}
