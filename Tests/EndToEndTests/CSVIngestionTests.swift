import Foundation
import SluiceCore
import SluiceTestSupport
import Testing

/// `sluice run` on CSV sources, through the binary: the conformance corpus read into topics and
/// printed by `sluice consume`, config errors, and a second run that reads nothing.
@Suite struct CSVIngestionTests {
    static var cases: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: EndToEnd.corpus)) ?? []
        return names.filter { $0.hasSuffix(".csv") }.map { String($0.dropLast(4)) }.sorted()
    }

    @Test(arguments: cases)
    func corpusCaseThroughTheBinary(_ name: String) throws {
        let dir = TemporaryDirectory()
        let options = try JSONValue.parse(try FileSystem.readFile("\(EndToEnd.corpus)/\(name).options.json"))
        guard case .object(var members) = options else { throw CoreError(.invalidData, "options are not an object") }
        members =
            [
                ("type", .string("csv")), ("path", .string("\(EndToEnd.corpus)/\(name).csv")),
                ("topic", .string("rows")),
                ("files_complete", .bool(true)),
            ] + members
        let config = JSONValue.object([
            ("data_dir", .string("data")), ("sources", .object([("corpus", .object(members))])),
        ])
        try EndToEnd.write(config.serialized(), to: "config.json", in: dir.path)
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)

        let consumed = try EndToEnd.sluice(
            ["consume", "--topic", "rows", "--from-beginning", "--format", "jsonl"], in: dir.path)
        let lines = consumed.stdout.split(separator: "\n").map { Array($0.utf8) }
        let expected = try FileSystem.readFile("\(EndToEnd.corpus)/\(name).expected.jsonl").split(separator: 0x0A)
        #expect(lines.count == expected.count)
        for (line, reference) in zip(lines, expected) {
            let envelope = try JSONValue.parse(line)
            // consume embeds a value that is a JSON object as it is.
            let value = try #require(envelope["value"])
            #expect(value.serialized().utf8.elementsEqual(try JSONValue.parse(Array(reference)).serialized().utf8))
        }

        let dead = try EndToEnd.sluice(["consume", "--topic", "rows.dlq", "--from-beginning"], in: dir.path)
        let got = try dead.stdout.split(separator: "\n").map { line -> [String] in
            let headers = try #require(try JSONValue.parse(String(line))["headers"])
            return [headers["sluice.source.line"]?.stringValue ?? "", headers["sluice.error.class"]?.stringValue ?? ""]
        }
        let want = try FileSystem.readFile("\(EndToEnd.corpus)/\(name).dlq.jsonl").split(separator: 0x0A).map { line in
            let json = try JSONValue.parse(Array(line))
            return [String(json["line"]?.integerValue ?? -1), json["class"]?.stringValue ?? ""]
        }
        #expect(got == want)
    }

    @Test func aSecondRunReadsNothingNew() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("order_id,customer\n1,a\n2,b\n", to: "orders.csv", in: dir.path)
        try EndToEnd.write(
            #"{"sources": {"orders": {"type": "csv", "path": "orders.csv", "key": ["customer"]}}}"#, to: "config.json",
            in: dir.path)
        let first = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(first.stdout.contains("2 rows read, 2 records, 0 dead-lettered"))
        let second = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(second.stdout.contains("0 rows read, 0 records"))
        #expect(try EndToEnd.records("orders", dataDirectory: dir.file("data")).count == 2)

        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("orders.csv")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("3,c\n".utf8))
        try handle.close()
        let third = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(third.stdout.contains("1 row read, 1 record, 0 dead-lettered, 4 B read"))
        #expect(try EndToEnd.records("orders", dataDirectory: dir.file("data")).count == 3)
    }

    @Test func configErrorsExitTwoAndNameTheirPath() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(
            #"{"sources": {"orders": {"type": "csv", "path": "x.csv", "delimter": ";"}}}"#, to: "config.json",
            in: dir.path)
        let result = try EndToEnd.sluice(["run"], in: dir.path, expect: 2)
        #expect(result.stderr.contains(#"sources.orders.delimter: unknown option; did you mean "delimiter"?"#))
        try EndToEnd.sluice(["validate"], in: dir.path, expect: 2)
        try EndToEnd.sluice(["validate", "missing.json"], in: dir.path, expect: 2)
    }

    @Test func aPathThatMatchesNothingIsAConfigError() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(
            #"{"sources": {"orders": {"type": "csv", "path": "nothing*.csv"}}}"#, to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["run"], in: dir.path, expect: 2)
        #expect(result.stderr.contains("matches no file"))
    }

    @Test func aResetSourceReadsAgainButStoresNothingTwice() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("order_id,customer\n1,a\n2,b\n", to: "orders.csv", in: dir.path)
        try EndToEnd.write(
            #"{"sources": {"orders": {"type": "csv", "path": "orders.csv"}}}"#, to: "config.json", in: dir.path)
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try EndToEnd.sluice(["sources", "list"], in: dir.path).stdout.contains("orders  1      1"))
        try EndToEnd.sluice(["sources", "reset", "orders", "--execute"], in: dir.path)
        let again = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(again.stdout.contains("0 records, 0 dead-lettered, 2 already stored (skipped)"))
        #expect(try EndToEnd.records("orders", dataDirectory: dir.file("data")).count == 2)

        try EndToEnd.sluice(["topics", "delete", "orders"], in: dir.path)
        try EndToEnd.sluice(["sources", "reset", "orders", "--execute"], in: dir.path)
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try EndToEnd.records("orders", dataDirectory: dir.file("data")).count == 2)
        try EndToEnd.sluice(["sources", "reset", "nothing"], in: dir.path, expect: 1)
    }
}
