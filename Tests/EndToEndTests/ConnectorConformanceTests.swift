import Foundation
import SluiceRuntime
import SluiceTestSupport
import Testing

/// `sluice connectors test`: the example connectors and a built-in one pass it; a connector that
/// breaks the contract on purpose fails it.
@Suite(.serialized) struct ConnectorConformanceTests {
    static var examples: String { EndToEnd.repositoryRoot + "/connectors/examples" }
    static var testConnectors: String { EndToEnd.repositoryRoot + "/connectors/exec/Tests/Connectors" }

    static func conformance(_ arguments: [String], options: String, in dir: TemporaryDirectory, expect status: Int32)
        throws -> String
    {
        try EndToEnd.write(options, to: "options.json", in: dir.path)
        let result = try EndToEnd.sluice(
            ["connectors", "test"] + arguments + ["--config", "options.json"], in: dir.path, expect: status)
        return result.stdout + result.stderr
    }

    @Test func theNDJSONSourcePasses() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try ExternalConnectorTests.ndjson(count: 30000, badEvery: 1000)
            .write(toFile: dir.file("in/a.ndjson"), atomically: true, encoding: .utf8)
        try ExternalConnectorTests.ndjson(first: 30000, count: 20000)
            .write(toFile: dir.file("in/b.ndjson"), atomically: true, encoding: .utf8)
        let report = try Self.conformance(
            ["exec", "--command", "python3 \(Self.examples)/ndjson_source.py"],
            options: #"{"path": "in", "key": "user"}"#,
            in: dir, expect: 0)
        #expect(report.contains("killed 20 times; every record came once"), "\(report)")
        #expect(report.contains("8 of 8 checks passed"), "\(report)")
    }

    @Test func theSQLiteSinkPasses() throws {
        let dir = TemporaryDirectory()
        let report = try Self.conformance(
            ["exec", "--command", "python3 \(Self.examples)/sqlite_sink.py"],
            options: #"{"database": "conformance.db", "table": "t", "key": ["id"]}"#, in: dir, expect: 0)
        #expect(report.contains("crashed 20 times in the middle of batches"), "\(report)")
        #expect(report.contains("11 of 11 checks passed"), "\(report)")
    }

    @Test func theSwiftExampleSinkPasses() throws {
        let dir = TemporaryDirectory()
        let report = try Self.conformance(
            ["exec", "--command", ExternalConnectorTests.swiftSink], options: #"{"folder": "out"}"#, in: dir, expect: 0)
        #expect(report.contains("11 of 11 checks passed"), "\(report)")
    }

    @Test func theBuiltInCSVSourcePasses() throws {
        let dir = TemporaryDirectory()
        var generator = SampleOrders(rows: 50000, seed: 3)
        generator.badEvery = 997
        try generator.write(to: dir.file("orders.csv"))
        let report = try Self.conformance(
            ["csv"], options: #"{"path": "orders.csv", "key": ["customer"], "max_batch_rows": 2000}"#, in: dir,
            expect: 0)
        #expect(report.contains("checks passed"), "\(report)")
    }

    @Test func aSourceWhosePositionIsOffByOneFails() throws {
        let dir = TemporaryDirectory()
        let report = try Self.conformance(
            ["exec", "--command", "python3 \(Self.testConnectors)/broken_source.py"], options: #"{"count": 40000}"#,
            in: dir, expect: 1)
        #expect(report.contains("✘ source: resumes exactly at stored positions"), "\(report)")
        #expect(report.contains("✘ source: killed at random moments"), "\(report)")
    }

    @Test func aSinkThatAcknowledgesBeforeWritingFails() throws {
        let dir = TemporaryDirectory()
        let report = try Self.conformance(
            ["exec", "--command", "python3 \(Self.testConnectors)/broken_sink.py"], options: #"{"out": "ids.txt"}"#,
            in: dir, expect: 1)
        #expect(report.contains("✘ sink: holds every record it reported durable"), "\(report)")
        #expect(report.contains("are not there"), "\(report)")
    }

    @Test func theTestSinkPassesWithItsRecordsReadBack() throws {
        let dir = TemporaryDirectory()
        let report = try Self.conformance(
            ["exec", "--command", "python3 \(Self.testConnectors)/test_sink.py"], options: #"{"out": "ids.txt"}"#,
            in: dir, expect: 0)
        #expect(report.contains("✔ sink: holds every record it reported durable"), "\(report)")
    }

    @Test func optionsThatDoNotValidateAreNamed() throws {
        let dir = TemporaryDirectory()
        let report = try Self.conformance(
            ["exec", "--command", "python3 \(Self.examples)/sqlite_sink.py"], options: #"{"database": 5}"#, in: dir,
            expect: 2)
        #expect(report.contains("config.database"), "\(report)")
        #expect(report.contains("config.table: required option is missing"), "\(report)")
    }
}
