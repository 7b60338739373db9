import Foundation
import SluiceCore
import SluiceKit
import Testing

@testable import SluiceCSV

/// The conformance corpus: tricky CSV files with the rows Python's csv module reads from them
/// (Corpus/make_corpus.py). Every good row must come out as a record whose value holds exactly the
/// reference fields, in header order; every bad row must be a dead letter with its line and class.
@Suite struct CorpusTests {
    static var cases: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: CSVTestSupport.corpusDirectory)) ?? []
        return names.filter { $0.hasSuffix(".csv") }.map { String($0.dropLast(4)) }.sorted()
    }

    @Test(arguments: cases)
    func caseMatchesPythonCSV(_ name: String) throws {
        let directory = CSVTestSupport.corpusDirectory
        let optionsJSON = try JSONValue.parse(try FileSystem.readFile("\(directory)/\(name).options.json"))
        guard case .object(let extra) = optionsJSON else { throw CoreError(.invalidData, "options are not an object") }
        // The corpus files are finished: a last line without a line break is a row, as Python reads it.
        let run = try CSVTestSupport.run(
            CSVTestSupport.options(path: "\(directory)/\(name).csv", extra + [("files_complete", .bool(true))]))

        let expected = try lines("\(directory)/\(name).expected.jsonl").map { try JSONValue.parse($0) }
        #expect(run.records.count == expected.count, "\(name): record count")
        for (record, reference) in zip(run.records, expected) {
            let value = try JSONValue.parse(try #require(record.value))
            guard case .object(let got) = value, case .object(let want) = reference else {
                Issue.record("\(name): a value is not an object")
                continue
            }
            #expect(
                got.map(\.key.utf8).map(Array.init) == want.map(\.key.utf8).map(Array.init), "\(name): column names")
            let gotValues = got.map { Array(($0.value.stringValue ?? "<not a string>").utf8) }
            let wantValues = want.map { Array(($0.value.stringValue ?? "").utf8) }
            #expect(
                gotValues == wantValues,
                "\(name): values of the row on line \(record.headerText("sluice.source.line") ?? "?")")
        }

        let dead = try lines("\(directory)/\(name).dlq.jsonl").map { try JSONValue.parse($0) }
        let got = run.deadLetters.map {
            ($0.headerText("sluice.source.line") ?? "", $0.headerText("sluice.error.class") ?? "")
        }
        let want = dead.map { (String($0["line"]?.integerValue ?? -1), $0["class"]?.stringValue ?? "") }
        #expect(got.map(\.0) == want.map(\.0), "\(name): dead-letter lines")
        #expect(got.map(\.1) == want.map(\.1), "\(name): dead-letter classes")
        #expect(run.progress.rowsRead == expected.count + dead.count, "\(name): rows read")
    }

    private func lines(_ path: String) throws -> [[UInt8]] {
        try FileSystem.readFile(path).split(separator: UInt8(ascii: "\n")).map(Array.init)
    }
}
