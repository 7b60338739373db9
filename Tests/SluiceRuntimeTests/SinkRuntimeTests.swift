import Logging
import SluiceBroker
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceRuntime

/// The sink runtime as a connector written with the kit sees it, in process: a sink of this file's own
/// that fails every record with an even offset, or that reports a failure for a record it was not given.
@Suite struct SinkRuntimeTests {
    /// Fails the records with even offsets, or, with `misreport`, names an offset outside the batch.
    final class PickySink: Sink {
        let misreport: Bool
        init(misreport: Bool) { self.misreport = misreport }

        func open(partitions: [TopicPartition: Int64]) throws {}
        func close(partitions: Set<TopicPartition>) throws {}
        func flush() throws {}
        func abort() {}
        func stop() {}

        func write(_ batch: SinkBatch) throws -> [RecordFailure] {
            var failures: [RecordFailure] = []
            for chunk in batch.partitions {
                if misreport {
                    let beyond = (chunk.nextOffset ?? 0) + 1_000
                    return [
                        RecordFailure(topicPartition: chunk.topicPartition, offset: beyond, error: .record("t", "x"))
                    ]
                }
                for entry in chunk.records.entries where entry.offset % 2 == 0 {
                    failures.append(
                        RecordFailure(
                            topicPartition: chunk.topicPartition, offset: entry.offset,
                            error: .record("picky.even", "offset \(entry.offset) is even")))
                }
            }
            return failures
        }
    }

    static let spec = ConnectorSpec(
        type: "picky", kind: .sink, summary: "Fails records with even offsets (a test sink).",
        options: [OptionSpec("misreport", .boolean, default: .bool(false), "Report an offset outside the batch.")])

    /// Runs a CSV of `rows` rows into topic `events` (2 partitions) and the picky sink.
    func run(_ dir: TemporaryDirectory, rows: Int, misreport: Bool) throws -> RunSummary {
        var csv = "id,name\n"
        for row in 0..<rows { csv += "\(row),name \(row)\n" }
        try FileSystem.writeAtomically(dir.file("in.csv"), Array(csv.utf8))
        var registry = BuiltInConnectors.registry
        registry.register(sink: Self.spec) { context in PickySink(misreport: context.options.bool("misreport") ?? false)
        }
        let config = try ConfigLoader(registry: registry, environment: [:]).load(
            bytes: Array(
                """
                {"data_dir": "data", "topics": {"events": {"partitions": 2}},
                 "sources": {"in": {"type": "csv", "path": "in.csv", "topic": "events", "key": ["id"]}},
                 "sinks": {"picky": {"type": "picky", "topics": ["events"], "misreport": \(misreport),
                                     "max_batch_records": 7}}}
                """.utf8), file: dir.file("config.json"))
        return try Pipeline(config: config, registry: registry, logger: Logger(label: "test")).run()
    }

    @Test func recordFailuresGoToTheDeadLetterTopicAndTheRestIsCommitted() throws {
        let dir = TemporaryDirectory()
        let summary = try run(dir, rows: 100, misreport: false)
        let sink = try #require(summary.sinks.first { $0.name == "picky" })
        let broker = try Broker(dataDirectory: dir.file("data"), readOnly: true)
        var evens = 0
        for partition: Int32 in 0..<2 {
            let tp = TopicPartition("events", partition)
            let end = try broker.offsets(tp).end
            evens += Int((end + 1) / 2)
            #expect(broker.committedOffsets("picky")[tp] == end)
        }
        #expect(sink.deadLettered == evens && sink.written == 100 - evens)

        let dead = try broker.log(TopicPartition("picky.dlq", 0)).records()
        #expect(dead.count == evens)
        for record in dead {
            let headers = Dictionary(record.headers.map { ($0.name, String(decoding: $0.value ?? [], as: UTF8.self)) })
            {
                first, _ in first
            }
            let offset = try #require(headers[SluiceHeader.originalOffset].flatMap { Int64($0) })
            #expect(offset % 2 == 0)
            #expect(headers[SluiceHeader.errorClass] == "picky.even")
            #expect(headers[SluiceHeader.errorMessage] == "offset \(offset) is even")
            #expect(headers[SluiceHeader.errorStage] == "sink")
            #expect(headers[SluiceHeader.connector] == "picky")
            #expect(headers[SluiceHeader.originalTopic] == "events")
            #expect(headers[SluiceHeader.sourceFile]?.hasSuffix("in.csv") == true)
        }
    }

    @Test func aFailureForARecordOutsideTheBatchStopsTheRunAndCommitsNothing() throws {
        let dir = TemporaryDirectory()
        let error = try #require(throws: RuntimeError.self) { try run(dir, rows: 20, misreport: true) }
        #expect(error.description.contains("which is not in the batch it was given"))
        let broker = try Broker(dataDirectory: dir.file("data"), readOnly: true)
        #expect(broker.committedOffsets("picky").isEmpty)
    }
}
