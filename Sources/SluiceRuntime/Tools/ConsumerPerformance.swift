import SluiceBroker
import SluiceCore
import SluiceLog

/// `sluice perf consume`: reads a topic from its beginning to its end (or `maxRecords`), decoding every
/// record and checking every batch's CRC, the way Kafka's `kafka-consumer-perf-test` reads.
public struct ConsumerPerformance {
    public struct Report: Sendable {
        public var records: Int
        public var bytes: Int
        public var seconds: Double
        public var recordsPerSecond: Double { Double(records) / max(seconds, 1e-9) }
        public var megabytesPerSecond: Double { Double(bytes) / 1_048_576 / max(seconds, 1e-9) }

        public var summary: String {
            "\(records) records consumed, \(format(recordsPerSecond, 1)) records/sec (\(format(megabytesPerSecond, 2)) MB/sec)"
        }
    }

    public var topic: String
    public var maxRecords: Int?
    public var fetchBytes = 8 << 20

    public init(topic: String) {
        self.topic = topic
    }

    public func run(broker: Broker) throws -> Report {
        let partitions = try broker.partitionCount(topic)
        let start = Time.monotonicNanos()
        var records = 0
        var bytes = 0
        reading: for partition in 0..<partitions {
            let tp = TopicPartition(topic, partition)
            var (position, end) = try broker.offsets(tp)
            while position < end && !StopRequest.isRequested {
                let block = try broker.readRecords(tp, from: position, maxBytes: fetchBytes)
                guard let batchesEnd = block.batchesEnd, batchesEnd > position else { break }
                var count = block.count
                if let maxRecords, records + count >= maxRecords { count = maxRecords - records }
                for index in 0..<count {
                    bytes += (block.valueRange(index)?.count ?? 0) + (block.keyRange(index)?.count ?? 0)
                }
                records += count
                if let maxRecords, records >= maxRecords { break reading }
                position = batchesEnd
            }
        }
        return Report(records: records, bytes: bytes, seconds: Double(Time.monotonicNanos() - start) / 1e9)
    }
}
