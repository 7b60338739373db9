import Glibc
import SluiceConnector
import SluiceCore
import SluiceKit

/// The Swift side of Benchmarks/connectors.sh: `sluice-bench-connector source` sends `count` records
/// of `size` bytes (keyed, 100 keys); `sluice-bench-connector sink` reads every byte of every record
/// it is given and writes nothing.
final class BenchSource: Source {
    static let spec = ConnectorSpec(
        type: "bench-source", kind: .source, summary: "Records for benchmarks",
        options: [
            OptionSpec("count", .integer(min: 0, max: 1 << 40), default: .number("1000000"), "How many records."),
            OptionSpec("size", .integer(min: 1, max: 1 << 20), default: .number("100"), "Bytes per value."),
        ])

    let count: Int64
    let value: [UInt8]
    var next: Int64
    let keys: [[UInt8]] = (0..<100).map { Array("k\($0)".utf8) }
    var produced = SourceProgress()

    init(context: SourceContext) {
        count = context.options.integer("count") ?? 0
        value = [UInt8](repeating: UInt8(ascii: "x"), count: Int(context.options.integer("size") ?? 100))
        next = context.checkpoint.flatMap { Int64(String(decoding: $0, as: UTF8.self)) } ?? 0
    }

    func nextBatch(_ batch: inout SourceBatch) throws -> Bool {
        let end = min(count, next + 10_000)
        while next < end {
            batch.records.beginRecord(timestamp: -1)
            batch.records.setKey(batch.records.appendBytes(keys[Int(next % 100)]))
            batch.records.setValue(batch.records.appendBytes(value))
            next += 1
        }
        produced.rowsRead = Int(next)
        return next < count
    }

    func checkpoint() -> [UInt8] { Array(String(next).utf8) }
    var progress: SourceProgress { produced }
    func close() {}
}

final class BenchSink: Sink {
    static let spec = ConnectorSpec(
        type: "bench-sink", kind: .sink, summary: "Reads records for benchmarks", options: [])
    var checksum: UInt64 = 0

    func open(partitions: [TopicPartition: Int64]) throws {}
    func close(partitions: Set<TopicPartition>) throws {}

    func write(_ batch: SinkBatch) throws -> [RecordFailure] {
        for chunk in batch.partitions {
            let block = chunk.records
            for i in 0..<block.count {
                if let value = block.value(i) { checksum &+= UInt64(value.count) &+ UInt64(value.last ?? 0) }
            }
        }
        return []
    }

    func flush() throws {}
    func abort() {}
    func stop() {}
}

switch CommandLine.arguments.dropFirst().first {
case "source": ExternalConnector.run(source: BenchSource.spec) { BenchSource(context: $0) }
case "sink": ExternalConnector.run(sink: BenchSink.spec) { _ in BenchSink() }
default:
    print("usage: sluice-bench-connector source|sink")
    exit(2)
}
