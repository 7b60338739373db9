import Foundation
import Glibc
import SluiceCore
import SluiceRuntime
import SluiceTestSupport
import Testing

/// `sluice run` with sinks, through the binary: the repository's own config on the samples, two sinks
/// on one topic, two tasks in one group, record errors, and transient errors that clear or do not.
@Suite struct SinkPipelineTests {
    /// The `order_id`s in the jsonl files of a folder (all lines, duplicates kept).
    static func orderIds(in folder: String) throws -> [Int64] {
        var ids: [Int64] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".jsonl") {
            for line in try FileSystem.readFile(folder + "/" + name).split(separator: 0x0A) {
                ids.append(try #require(try JSONValue.parse(Array(line))["order_id"]?.integerValue))
            }
        }
        return ids
    }

    @Test func theRepositoryConfigRunsOnTheSamples() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.copyItem(atPath: EndToEnd.repositoryRoot + "/samples", toPath: dir.file("samples"))
        try FileManager.default.copyItem(
            atPath: EndToEnd.repositoryRoot + "/config.json", toPath: dir.file("config.json"))
        let first = try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        #expect(first.stdout.contains("Rows read 4,000 = 3,995 delivered + 5 dead-lettered"))
        let ids = try Self.orderIds(in: dir.file("out/orders"))
        #expect(ids.count == 3995 && Set(ids).count == 3995)
        // The dead-lettered rows may reach the sink in more than one batch, so in more than one file.
        var deadLines = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.file("out/dead-letters")) {
            deadLines += try FileSystem.readFile(dir.file("out/dead-letters/" + name)).split(separator: 0x0A).count
        }
        #expect(deadLines == 5)

        let second = try EndToEnd.sluice(["run", "config.json", "--fail-on-dead-letters"], in: dir.path)
        #expect(second.stdout.contains("Rows read 0 = 0 delivered + 0 dead-lettered"))
        #expect(try Self.orderIds(in: dir.file("out/orders")).count == 3995)

        try FileSystem.removeTree(dir.file("data"))
        try FileSystem.removeTree(dir.file("out"))
        let strict = try EndToEnd.sluice(["run", "config.json", "--fail-on-dead-letters"], in: dir.path, expect: 3)
        #expect(strict.stderr.contains("5 records were dead-lettered"))
    }

    func pipeline(_ dir: TemporaryDirectory, rows: Int, sinks: String, extraSource: String = "") throws {
        try SampleOrders(rows: rows, seed: 3).write(to: dir.file("orders.csv"))
        try EndToEnd.write(
            """
            {"topics": {"orders": {"partitions": 4}},
             "sources": {"orders": {"type": "csv", "path": "orders.csv", "key": ["customer"],
                                    "columns": {"order_id": "int"}\(extraSource)}},
             "sinks": {\(sinks)}}
            """, to: "config.json", in: dir.path)
    }

    @Test func twoSinksOnOneTopicBothGetEverything() throws {
        let dir = TemporaryDirectory()
        try pipeline(
            dir, rows: 20_000,
            sinks:
                #""a": {"type": "file", "topics": ["orders"], "path": "out/a"}, "b": {"type": "file", "topics": ["orders"], "path": "out/b", "max_batch_records": 999}"#
        )
        try EndToEnd.sluice(["run"], in: dir.path)
        let a = try Self.orderIds(in: dir.file("out/a"))
        let b = try Self.orderIds(in: dir.file("out/b"))
        #expect(a.count == 20_000 && b.count == 20_000)
        #expect(Set(a) == Set(1...20_000).reduce(into: Set<Int64>()) { $0.insert(Int64($1)) })
        #expect(Set(a) == Set(b))
    }

    @Test func twoTasksInOneGroupWriteEachRecordOnce() throws {
        let dir = TemporaryDirectory()
        try pipeline(
            dir, rows: 30_000,
            sinks:
                #""files": {"type": "file", "topics": ["orders"], "path": "out", "tasks": 2, "max_batch_records": 1000, "batch_wait_ms": 10}"#
        )
        let result = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(result.stdout.contains("(2 tasks)"))
        let ids = try Self.orderIds(in: dir.file("out"))
        #expect(ids.count == 30_000)
        #expect(Set(ids).count == 30_000)
    }

    @Test func aRecordErrorGoesToTheDeadLetterTopicWithEveryHeader() throws {
        let dir = TemporaryDirectory()
        let lines = ["k1|{\"a\":1,\"b\":\"x\"}", "k2|not json", "k3|{\"a\":3,\"b\":\"z\"}", "k4|[1,2]", "k5|{\"a\":5}"]
        try EndToEnd.sluice(
            ["produce", "--topic", "events", "--key-separator", "|"], in: dir.path, stdin: lines.joined(separator: "\n")
        )
        try EndToEnd.write(
            #"{"sinks": {"rows": {"type": "file", "topics": ["events"], "path": "out", "format": "csv"}}}"#,
            to: "config.json",
            in: dir.path)
        let result = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(result.stdout.contains("rows → folder out: 3 written, 2 dead-lettered"))
        let written = try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).map { dir.file("out/" + $0) }
        let csv = try written.map { String(decoding: try FileSystem.readFile($0), as: UTF8.self) }.joined()
        #expect(csv == "a,b\n1,x\n3,z\n5,\n")
        let dead = try EndToEnd.records("rows.dlq", dataDirectory: dir.file("data")).map(\.record)
        #expect(dead.count == 2)
        let first = try #require(dead.first)
        #expect(first.key == Array("k2".utf8))
        #expect(first.value == Array("not json".utf8))
        for name in [
            "sluice.error.class", "sluice.error.message", "sluice.error.stage", "sluice.connector",
            "sluice.original.topic",
            "sluice.original.partition", "sluice.original.offset", "sluice.failed_at",
        ] {
            #expect(first.headerText(name) != nil, "header \(name)")
        }
        #expect(first.headerText("sluice.error.class") == "file.not_an_object")
        #expect(first.headerText("sluice.error.stage") == "sink")
        #expect(first.headerText("sluice.connector") == "rows")
        #expect(first.headerText("sluice.original.topic") == "events")
        let sources = dead.compactMap { $0.headerText("sluice.original.offset") }
        #expect(sources.count == 2)
    }

    /// Produces `count` JSON records to `events` and writes a config with one file sink on it.
    func sinkOnly(_ dir: TemporaryDirectory, count: Int, retryTimeoutMs: Int) throws {
        let lines = (1...count).map { "{\"n\":\($0)}" }.joined(separator: "\n")
        try EndToEnd.sluice(["produce", "--topic", "events"], in: dir.path, stdin: lines)
        try EndToEnd.write(
            """
            {"sinks": {"files": {"type": "file", "topics": ["events"], "path": "out", "max_batch_records": 100,
                                 "batch_wait_ms": 0, "retry_initial_ms": 100, "retry_max_ms": 300,
                                 "retry_timeout_ms": \(retryTimeoutMs)}}}
            """, to: "config.json", in: dir.path)
    }

    static func numbers(in folder: String) throws -> [Int64] {
        var values: [Int64] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".jsonl") {
            for line in try FileSystem.readFile(folder + "/" + name).split(separator: 0x0A) {
                values.append(try #require(try JSONValue.parse(Array(line))["n"]?.integerValue))
            }
        }
        return values
    }

    /// Starts the run and moves the output folder away once the group has committed its first batch.
    /// One task writes one file per batch and commits before it starts the next, so a second finished
    /// file means the first is committed. Listing the folder keeps the wait short even on a busy machine,
    /// where starting a `groups describe` process per look once let the run finish first.
    func startAndPullTheFolder(_ dir: TemporaryDirectory) throws -> (Process, OutputCollector) {
        let (process, out, err) = try SluiceBinary.start(["run", "--log-level", "warning"], in: dir.path)
        let collector = OutputCollector(out: out, err: err)
        let deadline = Time.monotonicNanos() + 60_000_000_000
        while Time.monotonicNanos() < deadline {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.file("out"))) ?? []
            if names.filter({ $0.hasSuffix(".jsonl") && !$0.hasPrefix(".") }).count >= 2 { break }
            Time.sleep(millis: 1)
        }
        try FileManager.default.moveItem(atPath: dir.file("out"), toPath: dir.file("away"))
        return (process, collector)
    }

    @Test func aTransientErrorThatClearsIsRetriedAndNothingIsLost() throws {
        let dir = TemporaryDirectory()
        try sinkOnly(dir, count: 40_000, retryTimeoutMs: 60_000)
        let (process, collector) = try startAndPullTheFolder(dir)
        Time.sleep(millis: 1500)
        try FileManager.default.moveItem(atPath: dir.file("away"), toPath: dir.file("out"))
        process.waitUntilExit()
        let (stdout, stderr) = collector.finish()
        #expect(process.terminationStatus == 0, "\(stderr)")
        #expect(stderr.contains("sink write failed; retrying"))
        #expect(!stdout.contains(" 0 retries"))
        let values = try Self.numbers(in: dir.file("out"))
        #expect(values.count == 40_000)
        #expect(Set(values).count == 40_000)
    }

    @Test func aTransientErrorThatDoesNotClearStopsTheRunWithoutCommittingPastTheFiles() throws {
        let dir = TemporaryDirectory()
        try sinkOnly(dir, count: 40_000, retryTimeoutMs: 1500)
        let (process, collector) = try startAndPullTheFolder(dir)
        process.waitUntilExit()
        let (_, stderr) = collector.finish()
        #expect(process.terminationStatus == 1)
        #expect(stderr.contains("sink \"files\" gave up after retrying"))
        #expect(stderr.contains("the output folder"))
        let durable = try Self.numbers(in: dir.file("away"))
        let result = try EndToEnd.sluice(["groups", "describe", "files"], in: dir.path)
        let committed = result.stdout.split(separator: "\n").dropFirst(2).compactMap { line -> Int64? in
            let cells = line.split(separator: " ", omittingEmptySubsequences: true)
            return cells.count >= 3 ? Int64(cells[2]) : nil
        }.reduce(0, +)
        #expect(committed > 0 && committed < 40_000)
        #expect(committed <= Int64(durable.count), "committed past what the files hold")
    }

    @Test func aSourcePausesOnlyWhenRetentionCouldDeleteWhatASinkHasNotRead() throws {
        let dir = TemporaryDirectory()
        try SampleOrders(rows: 40_000, seed: 8).write(to: dir.file("orders.csv"))
        try EndToEnd.write(
            """
            {"topics": {"orders": {"partitions": 1, "retention_respects_groups": false, "retention_bytes": 2000000,
                                   "segment_bytes": 100000}},
             "sources": {"orders": {"type": "csv", "path": "orders.csv", "max_batch_rows": 500,
                                    "max_unconsumed_bytes": 1024, "columns": {"order_id": "int"}}},
             "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out", "max_batch_records": 200,
                                 "batch_wait_ms": 0}}}
            """, to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["run", "--log-level", "info"], in: dir.path)
        #expect(result.stderr.contains("pausing: a sink lags so far that retention could delete what it has not read"))
        let ids = try Self.orderIds(in: dir.file("out"))
        #expect(ids.count == 40_000 && Set(ids).count == 40_000)

        // With the default (retention respects groups) nothing can be lost, and the source never waits.
        let relaxed = TemporaryDirectory()
        try SampleOrders(rows: 40_000, seed: 8).write(to: relaxed.file("orders.csv"))
        try EndToEnd.write(
            #"{"sources": {"orders": {"type": "csv", "path": "orders.csv"}}, "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out"}}}"#,
            to: "config.json", in: relaxed.path)
        let free = try EndToEnd.sluice(["run", "--log-level", "info"], in: relaxed.path)
        #expect(!free.stderr.contains("pausing"))
    }

    @Test func theFileSinkWritesOnlyInsideItsFolder() throws {
        let dir = TemporaryDirectory()
        for topic in ["...", ".hidden", "a..b", "-dash", "_x"] {
            try EndToEnd.sluice(["produce", "--topic=\(topic)"], in: dir.path, stdin: "{\"k\":1}\n{\"k\":2}")
        }
        try FileManager.default.createDirectory(atPath: dir.file("box"), withIntermediateDirectories: true)
        try EndToEnd.write(
            #"{"sinks": {"files": {"type": "file", "topics": ["...", ".hidden", "a..b", "-dash", "_x"], "path": "box/out"}}}"#,
            to: "config.json", in: dir.path)
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: dir.path))
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("box")) == ["out"])
        let written = try FileManager.default.contentsOfDirectory(atPath: dir.file("box/out")).sorted()
        #expect(written.count == 5)
        #expect(written.allSatisfy { !$0.contains("/") })
    }
}
