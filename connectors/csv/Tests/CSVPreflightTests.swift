import Glibc
import Logging
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceCSV

/// The CSV source's checks before a run: a path that matches no file, key and typed columns that are
/// not in a file's header (named with the file), and that only the header row of each file is read.
@Suite struct CSVPreflightTests {
    func preflight(path: String, _ extra: [(key: String, value: JSONValue)] = []) throws -> PreflightResult {
        let options = try CSVTestSupport.options(path: path, extra)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return CSVSource.spec.preflight(
            PreflightContext(
                name: "test", options: options, topics: ["test"], dataDirectory: "/nonexistent/data", logger: logger))
    }

    @Test func aPathThatMatchesNoFileIsAProblem() throws {
        let dir = TemporaryDirectory()
        let glob = try preflight(path: dir.file("orders-*.csv"))
        #expect(
            glob.problems == [ConfigProblem("sources.test.path", "\"\(dir.file("orders-*.csv"))\" matches no file")])
        let missingFolder = try preflight(path: dir.file("in/orders.csv"))
        #expect(
            missingFolder.problems.first?.message.hasSuffix("(the folder \(dir.file("in")) does not exist)") == true)
        // An empty folder is not a mistake: files may arrive later.
        try FileSystem.createDirectory(dir.file("empty"))
        let empty = try preflight(path: dir.file("empty"))
        #expect(empty.problems.isEmpty)
        #expect(empty.notes.first?.contains("holds no files yet") == true)
    }

    @Test func aPathToSomethingThatIsNotAFileIsAProblem() throws {
        let dir = TemporaryDirectory()
        #expect(symlink(dir.file("nowhere.csv"), dir.file("dangling.csv")) == 0)
        let found = try preflight(path: dir.file("dangling.csv"))
        #expect(found.problems.count == 1)
        #expect(found.problems.first?.message.contains("a symbolic link to a file that does not exist") == true)
    }

    @Test func keyAndTypedColumnsMustBeInTheHeaderOfEachFile() throws {
        let dir = TemporaryDirectory()
        try CSVTestSupport.write("id,name,amount\n1,a,2\n", to: dir.file("a.csv"))
        let found = try preflight(
            path: dir.file("a.csv"),
            [
                ("key", .array([.string("idx")])),
                ("columns", .object([("amount", .string("int")), ("ts", .string("date"))])),
            ]
        )
        let file = try #require(FileSystem.canonicalPath(dir.file("a.csv")))
        #expect(
            found.problems == [
                ConfigProblem(
                    "sources.test.key",
                    "column \"idx\" is not in the header of \(file) (id, name, amount); did you mean \"id\"?"),
                ConfigProblem(
                    "sources.test.columns.ts", "column \"ts\" is not in the header of \(file) (id, name, amount)"),
            ])
        let good = try preflight(path: dir.file("a.csv"), [("key", .array([.string("id")]))])
        #expect(good.problems.isEmpty)
        #expect(good.notes == ["source test: 1 file matches \(dir.file("a.csv"))"])
    }

    @Test func filesWithTheSameHeaderAreReportedTogether() throws {
        let dir = TemporaryDirectory()
        for name in ["a", "b", "c"] { try CSVTestSupport.write("id,name\n1,x\n", to: dir.file("\(name).csv")) }
        try CSVTestSupport.write(try CSVTestSupport.gzip(Array("order,name\n1,x\n".utf8)), to: dir.file("d.csv.gz"))
        try CSVTestSupport.write("order_id,name\n", to: dir.file("e.csv"))
        let found = try preflight(path: dir.file("*.csv*"), [("key", .array([.string("order_id")]))])
        #expect(found.problems.count == 2)
        #expect(found.problems.allSatisfy { $0.path == "sources.test.key" })
        #expect(found.problems[0].message.contains("a.csv (and of 2 more files) (id, name)"))
        #expect(found.problems[1].message.contains("d.csv.gz (order, name); did you mean \"order\"?"))
    }

    /// A plain file that ends inside its header row is still being written: the source waits for the
    /// rest, and so does the check, unless the files are complete.
    @Test func aHeaderRowStillBeingWrittenIsNotJudged() throws {
        let dir = TemporaryDirectory()
        try CSVTestSupport.write("order_id,na", to: dir.file("a.csv"))
        let key: (key: String, value: JSONValue) = ("key", .array([.string("order_id"), .string("name")]))
        #expect(try preflight(path: dir.file("a.csv"), [key]).problems.isEmpty)
        let complete = try preflight(path: dir.file("a.csv"), [key, ("files_complete", .bool(true))])
        #expect(complete.problems.map(\.path) == ["sources.test.key"])
    }

    /// Only the header row is read: a plain file after its first few kilobytes, and a gzip file whose
    /// stream is cut short after the header (reading it whole would fail) are never read further.
    @Test func onlyTheHeaderRowIsRead() throws {
        let dir = TemporaryDirectory()
        var rows = "id,name\n"
        var random = SplitMix64(seed: 7)
        while rows.utf8.count < 4 << 20 { rows += "\(random.next()),\(random.next() % 1_000_000)\n" }
        try CSVTestSupport.write(rows, to: dir.file("big.csv"))
        let compressed = try CSVTestSupport.gzip(Array(rows.utf8))
        #expect(compressed.count > 1 << 20)
        try CSVTestSupport.write(Array(compressed.prefix(compressed.count / 2)), to: dir.file("cut.csv.gz"))
        let reader = HeaderReader(settings: CSVSource.Settings(try CSVTestSupport.options(path: dir.path)))
        for name in ["big.csv", "cut.csv.gz"] {
            let header = try reader.read(dir.file(name))
            #expect(header.names == ["id", "name"], "\(name)")
            #expect(header.bytesRead <= Int64(HeaderReader.chunkSize), "\(name): read \(header.bytesRead) bytes")
        }
        let found = try preflight(path: dir.file("cut.csv.gz"), [("key", .array([.string("id")]))])
        #expect(found.problems.isEmpty)
    }

    /// Files whose header rows are shaped unusually, with the options that read them.
    static func shaped(_ shape: String) -> (bytes: [UInt8], options: [(key: String, value: JSONValue)]) {
        switch shape {
        case "byte-order mark": return (Array("\u{FEFF}id,name\n1,a\n".utf8), [])
        case "rows skipped": return (Array("junk\n\nmore junk\nid,name\n1,a\n".utf8), [("skip_rows", .number("2"))])
        case "odd names": return (Array("\"multi\nline\",,id,id,id_2\n1,2,3,4,5\n".utf8), [])
        case "latin1":
            return (
                [0x63, 0x61, 0x66, 0xE9, 0x2C, 0x62, 0x0A, 0x31, 0x2C, 0x32, 0x0A], [("encoding", .string("latin1"))]
            )
        default:
            let wide =
                (0..<3_000).map { "column_name_\($0)" }.joined(separator: ";") + "\n"
                + String(repeating: "1;", count: 2_999) + "1\n"
            return (Array(wide.utf8), [("delimiter", .string(";"))])
        }
    }

    /// The reader names columns as the source does, whatever the file looks like: a byte-order mark,
    /// rows skipped, a quoted name with a line break, an empty name, a name given twice, latin1, and a
    /// header row longer than one chunk.
    @Test(arguments: ["byte-order mark", "rows skipped", "odd names", "latin1", "wide header"])
    func theReaderNamesColumnsAsTheSourceDoes(shape: String) throws {
        let dir = TemporaryDirectory()
        let (bytes, extra) = Self.shaped(shape)
        try CSVTestSupport.write(bytes, to: dir.file("in.csv"))
        let options = try CSVTestSupport.options(path: dir.file("in.csv"), extra + [("files_complete", .bool(true))])
        let run = try CSVTestSupport.run(options)
        let value = try #require(run.records.first?.value)
        var sourceNames: [String] = []
        try value.withUnsafeBytes { raw in
            try JSONObjectScanner.forEachMember(raw) { member in
                var name: [UInt8] = []
                JSONObjectScanner.appendUnescaped(raw, member.key, to: &name)
                sourceNames.append(String(decoding: name, as: UTF8.self))
                return true
            }
        }
        let header = try HeaderReader(settings: CSVSource.Settings(options)).read(dir.file("in.csv"))
        #expect(header.names == sourceNames)
        #expect(sourceNames.count >= 2)
    }
}
