import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceCSV

/// A plain file that a writer is still appending to: a row the file ends inside (a last line without
/// its line break, an open quoted field, a long row cut short) is held back, the checkpoint stays at the
/// row's start, and the next read takes it whole once it is complete. `files_complete` and gzip files
/// keep reading what is there.
@Suite struct GrowingFileTests {
    typealias Options = [(key: String, value: JSONValue)]

    static func append(_ text: String, to path: String) throws {
        let file = try SystemFile.open(path, .readWrite)
        try Array(text.utf8).withUnsafeBytes { try file.write($0, at: try file.size()) }
    }

    static func values(_ run: SourceRun) -> [String] {
        CSVTestSupport.values(run.records)
    }

    static func read(_ path: String, _ extra: Options = [], after previous: SourceRun? = nil) throws -> SourceRun {
        try CSVTestSupport.run(
            try CSVTestSupport.options(
                path: path, [(key: "columns", value: .object([("amount", .string("float"))]))] + extra),
            checkpoint: previous?.checkpoint)
    }

    /// The issue's reproduction: `3,c,3` then `9.99\n4,d,4.5\n` appended.
    @Test func aLastLineWithoutItsLineBreakWaitsForTheRest() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("g.csv")
        try CSVTestSupport.write("id,name,amount\n1,a,1.5\n2,b,2.5\n3,c,3", to: path)
        let first = try Self.read(path)
        #expect(Self.values(first) == [#"{"id":"1","name":"a","amount":1.5}"#, #"{"id":"2","name":"b","amount":2.5}"#])
        #expect(first.deadLetters.isEmpty)
        #expect(first.progress.filesHeldBack == 1)

        try Self.append("9.99\n4,d,4.5\n", to: path)
        let second = try Self.read(path, after: first)
        #expect(
            Self.values(second) == [#"{"id":"3","name":"c","amount":39.99}"#, #"{"id":"4","name":"d","amount":4.5}"#])
        #expect(second.deadLetters.isEmpty)
        #expect(second.progress.filesHeldBack == 0)
        #expect(
            try CSVTestSupport.run(try CSVTestSupport.options(path: path), checkpoint: second.checkpoint).records
                .isEmpty)
    }

    @Test func anOpenQuotedFieldAtTheEndWaitsInsteadOfBeingABadRow() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("q.csv")
        try CSVTestSupport.write("id,name,amount\n1,\"multi\nline", to: path)
        let first = try Self.read(path)
        #expect(first.records.isEmpty)
        #expect(first.deadLetters.isEmpty)
        try Self.append(" name\",2\n", to: path)
        let second = try Self.read(path, after: first)
        #expect(Self.values(second) == [#"{"id":"1","name":"multi\nline name","amount":2}"#])
        #expect(second.records.first?.headerText("sluice.source.line") == "2")
    }

    @Test func anIncompleteHeaderWaitsToo() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("h.csv")
        try CSVTestSupport.write("id,na", to: path)
        let first = try Self.read(path)
        #expect(first.records.isEmpty && first.deadLetters.isEmpty)
        try Self.append("me,amount\n1,a,1\n", to: path)
        let second = try Self.read(path, after: first)
        #expect(Self.values(second) == [#"{"id":"1","name":"a","amount":1}"#])
    }

    @Test func aLongRowCutShortWaitsAndIsNotDeadLettered() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("long.csv")
        let long = String(repeating: "x", count: 3_000)
        try CSVTestSupport.write("id,name,amount\n1,a,1\n2,\(long)", to: path)
        let options: Options = [(key: "max_row_bytes", value: .number("1024"))]
        let first = try Self.read(path, options)
        #expect(first.records.count == 1)
        #expect(first.deadLetters.isEmpty)
        try Self.append("y,2\n3,c,3\n", to: path)
        let second = try Self.read(path, options, after: first)
        #expect(second.records.map { $0.headerText("sluice.source.line") } == ["4"])
        #expect(second.deadLetters.count == 1, "the long row, now complete, is too long")
        #expect(second.deadLetters.first?.headerText("sluice.source.line") == "3")
    }

    @Test func filesCompleteReadsTheLastLineAsARow() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("done.csv")
        try CSVTestSupport.write("id,name,amount\n1,a,1\n2,b,2", to: path)
        let run = try Self.read(path, [(key: "files_complete", value: .bool(true))])
        #expect(run.records.count == 2)
        #expect(run.progress.filesHeldBack == 0)
        let quote = directory.file("quote.csv")
        try CSVTestSupport.write("id,name,amount\n1,\"open", to: quote)
        let bad = try Self.read(quote, [(key: "files_complete", value: .bool(true))])
        #expect(bad.deadLetters.count == 1)
    }

    /// `gzip -c more.csv >> orders.csv.gz`: the members appended after a file was read to its end are
    /// read in a later run, after the rows already stored.
    @Test func gzipMembersAppendedAfterAReadAreReadOnce() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("g.csv.gz")
        try CSVTestSupport.write(try CSVTestSupport.gzip(Array("id,name,amount\n1,a,1\n2,b,2\n".utf8)), to: path)
        let first = try Self.read(path)
        #expect(first.records.count == 2)
        let unchanged = try Self.read(path, after: first)
        #expect(unchanged.records.isEmpty)
        try CSVTestSupport.append(try CSVTestSupport.gzip(Array("3,c,3\n4,d,4\n".utf8)), to: path)
        let second = try Self.read(path, after: unchanged)
        #expect(Self.values(second) == [#"{"id":"3","name":"c","amount":3}"#, #"{"id":"4","name":"d","amount":4}"#])
        #expect(second.records.first?.headerText("sluice.source.line") == "4")
        #expect(try Self.read(path, after: second).records.isEmpty)
    }

    /// A file read part-way, then replaced (a new inode) by the complete file, as a download moved into
    /// place: the rest is read, not the whole file again.
    @Test func aPartReadFileReplacedByItsCompleteVersionIsReadOnwards() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("d.csv")
        let rows = (1...100).map { "\($0),n\($0),\($0)\n" }
        try CSVTestSupport.write("id,name,amount\n" + rows[..<50].joined(), to: path)
        let part = try Self.read(path, [(key: "max_batch_rows", value: .number("30"))], after: nil)
        #expect(part.records.count == 50)
        // The complete file is written beside it and renamed over it (a new inode).
        try CSVTestSupport.write("id,name,amount\n" + rows.joined(), to: path)
        let rest = try Self.read(path, after: part)
        #expect(rest.records.count == 50)
        #expect(rest.records.first?.headerText("sluice.source.line") == "52")
        // A different file with the same first bytes is a new file: read from its start.
        try CSVTestSupport.write("id,name,amount\n" + rows[..<50].joined() + "999,x,1\n", to: path)
        #expect(try Self.read(path, after: rest).records.count == 51)
    }

    /// A gzip file that ends before its end marker (a download cut short) stops the run after its rows
    /// were stored; the complete file moved over it is read from where that stopped.
    @Test func aTruncatedGzipReplacedByTheCompleteFileIsReadOnwards() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("t.csv.gz")
        let text = "id,name,amount\n" + (1...20000).map { "\($0),n\($0),\($0)\n" }.joined()
        let full = try CSVTestSupport.gzip(Array(text.utf8))
        try CSVTestSupport.write(Array(full[..<(full.count / 2)]), to: path)
        let source = try CSVSource(
            context: CSVTestSupport.context(
                try CSVTestSupport.options(path: path, [(key: "max_batch_rows", value: .number("1000"))]),
                checkpoint: nil))
        var stored = 0
        var failed = false
        while !failed {
            var batch = SourceBatch()
            do {
                _ = try source.nextBatch(&batch)
                stored += batch.records.count
            } catch {
                failed = true
            }
        }
        let checkpoint = source.checkpoint()
        source.close()
        #expect(stored > 0)
        try CSVTestSupport.write(full, to: path)
        let rest = try CSVTestSupport.run(try CSVTestSupport.options(path: path), checkpoint: checkpoint)
        #expect(stored + rest.records.count == 20000, "\(stored) + \(rest.records.count)")
    }

    @Test func aGzipFileIsAlwaysComplete() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("g.csv.gz")
        try CSVTestSupport.write(try CSVTestSupport.gzip(Array("id,name,amount\n1,a,1\n2,b,2".utf8)), to: path)
        let run = try Self.read(path)
        #expect(run.records.count == 2)
    }
}
