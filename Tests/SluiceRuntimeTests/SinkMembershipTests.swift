import Logging
import SluiceBroker
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceRuntime

/// Sink tasks keep their membership while a write takes long, lose it (and their batch) when a write
/// outlasts `max_poll_interval_ms`, and stop a run that dead-letters more than `max_dead_letter_percent`.
@Suite(.serialized) struct SinkMembershipTests {
    /// What the scripted sink saw: every flushed offset per partition, and the batches it aborted.
    final class Journal: Sendable {
        let flushed = Locked<[TopicPartition: [Int64]]>([:])
        let aborted = Locked(0)
        let writes = Locked(0)
    }

    /// A sink whose first write sleeps `firstWriteMillis`, and that fails every record when `failAll`.
    final class ScriptedSink: Sink {
        let journal: Journal
        let firstWriteMillis: Int
        let failAll: Bool
        private var pending: [TopicPartition: [Int64]] = [:]

        init(journal: Journal, firstWriteMillis: Int, failAll: Bool) {
            self.journal = journal
            self.firstWriteMillis = firstWriteMillis
            self.failAll = failAll
        }

        func open(partitions: [TopicPartition: Int64]) throws {}
        func close(partitions: Set<TopicPartition>) throws {}
        func stop() {}

        func write(_ batch: SinkBatch) throws -> [RecordFailure] {
            let attempt = journal.writes.withLock { count in
                count += 1
                return count
            }
            if attempt == 1 { Time.sleep(millis: firstWriteMillis) }
            var failures: [RecordFailure] = []
            for chunk in batch.partitions {
                for entry in chunk.records.entries {
                    if failAll {
                        failures.append(
                            RecordFailure(
                                topicPartition: chunk.topicPartition, offset: entry.offset,
                                error: .record("scripted.bad", "offset \(entry.offset) is not wanted")))
                    } else {
                        pending[chunk.topicPartition, default: []].append(entry.offset)
                    }
                }
            }
            return failures
        }

        func flush() throws {
            let written = pending
            pending = [:]
            journal.flushed.withLock { flushed in
                for (tp, offsets) in written { flushed[tp, default: []] += offsets }
            }
        }

        func abort() {
            pending = [:]
            journal.aborted.withLock { $0 += 1 }
        }
    }

    static let spec = ConnectorSpec(
        type: "scripted", kind: .sink, summary: "A test sink with a slow first write.",
        options: [
            OptionSpec(
                "first_write_ms", .integer(min: 0, max: 60_000), default: .number("0"), "Sleep of the first write."),
            OptionSpec("fail_all", .boolean, default: .bool(false), "Fail every record."),
        ])

    /// Runs `rows` CSV rows through topic `events` (2 partitions) into the scripted sink with `sinkOptions`.
    static func run(_ dir: TemporaryDirectory, rows: Int, journal: Journal, sinkOptions: String) throws -> RunSummary {
        var csv = "id,name\n"
        for row in 0..<rows { csv += "\(row),name \(row)\n" }
        try FileSystem.writeAtomically(dir.file("in.csv"), Array(csv.utf8))
        var registry = BuiltInConnectors.registry
        registry.register(sink: Self.spec) { context in
            ScriptedSink(
                journal: journal, firstWriteMillis: Int(context.options.integer("first_write_ms") ?? 0),
                failAll: context.options.bool("fail_all") ?? false)
        }
        let config = try ConfigLoader(registry: registry, environment: [:]).load(
            bytes: Array(
                """
                {"data_dir": "data", "topics": {"events": {"partitions": 2}},
                 "sources": {"in": {"type": "csv", "path": "in.csv", "topic": "events", "key": ["id"]}},
                 "sinks": {"out": {"type": "scripted", "topics": ["events"], "max_batch_records": 50,
                                   "batch_wait_ms": 0, \(sinkOptions)}}}
                """.utf8), file: dir.file("config.json"))
        return try Pipeline(config: config, registry: registry, logger: Logger(label: "test")).run()
    }

    /// Every offset of `events` exactly once in what the sink flushed, and the group committed to the end.
    static func expectEveryOffsetOnce(_ dir: TemporaryDirectory, _ journal: Journal) throws {
        let broker = try Broker(dataDirectory: dir.file("data"), readOnly: true)
        let flushed = journal.flushed.withLock { $0 }
        for partition: Int32 in 0..<2 {
            let tp = TopicPartition("events", partition)
            let end = try broker.offsets(tp).end
            #expect(flushed[tp] ?? [] == Array(0..<end), "\(tp)")
            #expect(broker.committedOffsets("out")[tp] == end)
        }
    }

    /// A write ten times longer than the session timeout: the background heartbeat keeps the task in
    /// its group, so the batch is written and committed once, with no eviction and no second delivery.
    @Test func aWriteLongerThanTheSessionTimeoutKeepsItsPartitions() throws {
        let dir = TemporaryDirectory()
        let journal = Journal()
        _ = try Self.run(
            dir, rows: 300, journal: journal, sinkOptions: #""first_write_ms": 2000, "session_timeout_ms": 200"#)
        try Self.expectEveryOffsetOnce(dir, journal)
        #expect(journal.aborted.withLock { $0 } == 0)
    }

    /// A write longer than max_poll_interval_ms: the task is evicted while it writes, its batch is
    /// aborted (never flushed, never committed), and delivered again after it joins again.
    @Test func aWriteLongerThanTheMaxPollIntervalLosesItsBatch() throws {
        let dir = TemporaryDirectory()
        let journal = Journal()
        _ = try Self.run(
            dir, rows: 300, journal: journal, sinkOptions: #""first_write_ms": 2500, "max_poll_interval_ms": 1000"#)
        try Self.expectEveryOffsetOnce(dir, journal)
        #expect(journal.aborted.withLock { $0 } == 1, "the fenced batch was dropped, not made durable")
    }

    @Test func aSinkThatRejectsNearlyEverythingStopsTheRun() throws {
        let dir = TemporaryDirectory()
        let journal = Journal()
        let error = try #require(throws: RuntimeError.self) {
            try Self.run(dir, rows: 300, journal: journal, sinkOptions: #""fail_all": true"#)
        }
        #expect(error.message.contains("max_dead_letter_percent"))
        #expect(error.message.contains("offset"))
        let broker = try Broker(dataDirectory: dir.file("data"), readOnly: true)
        #expect(broker.committedOffsets("out").values.allSatisfy { $0 <= 100 }, "at most the first 100 committed")

        let tolerant = TemporaryDirectory()
        let summary = try Self.run(
            tolerant, rows: 300, journal: Journal(), sinkOptions: #""fail_all": true, "max_dead_letter_percent": 100"#)
        #expect(summary.sinks.first?.deadLettered == 300)
    }
}
