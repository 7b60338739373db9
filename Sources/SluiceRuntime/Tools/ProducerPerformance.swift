import SluiceBroker
import SluiceCore
import SluiceLog

/// `sluice perf produce`: appends generated records as fast as the broker takes them, the way Kafka's
/// `kafka-producer-perf-test` does: keyless records of a fixed size whose payload is random bytes made
/// once, sent in batches of `batchRecords`, with the topic's flush policy.
public struct ProducerPerformance {
    public struct Report: Sendable {
        public var records: Int
        public var bytes: Int
        public var seconds: Double
        public var recordsPerSecond: Double { Double(records) / max(seconds, 1e-9) }
        public var megabytesPerSecond: Double { Double(bytes) / 1_048_576 / max(seconds, 1e-9) }
        public var averageBatchMillis: Double
        public var maxBatchMillis: Double

        /// One line in the manner of kafka-producer-perf-test.
        public var summary: String {
            "\(records) records sent, \(format(recordsPerSecond, 1)) records/sec (\(format(megabytesPerSecond, 2)) MB/sec), "
                + "\(format(averageBatchMillis, 2)) ms avg batch latency, \(format(maxBatchMillis, 2)) ms max batch latency"
        }
    }

    public var topic: String
    public var records: Int
    public var recordSize: Int
    /// Records per batch: by default about 1 MiB of them. A batch that fits in the CPU's cache goes
    /// through encoding, the CRC and the kernel's copy without being read from memory again (measured
    /// with 1 KiB records: 750 MB/s in 1 MiB batches, 358 MB/s in 10 MiB ones).
    public var batchRecords: Int
    public var compression: BatchCompression?

    public init(topic: String, records: Int, recordSize: Int) {
        self.topic = topic
        self.records = records
        self.recordSize = recordSize
        batchRecords = max(1, (1 << 20) / (recordSize + 24))
    }

    /// Runs the test; `progress` gets a line about every five seconds.
    public func run(broker: Broker, progress: (String) -> Void) throws -> Report {
        var config = TopicConfig(partitions: 1)
        if let compression { try config.set("compression", .string(compression.description)) }
        let created = try broker.ensureTopic(topic, config: config)
        if let compression, !created, let existing = broker.topicConfig(topic)?.compression, existing != compression {
            progress(
                "warning: topic \(topic) exists with compression \(existing.description); --compression applies only "
                    + "to a topic this command creates, so the test writes \(existing.description)")
        }
        let producer = try Producer(broker: broker, topic: topic)
        var generator = SystemRandomNumberGenerator()
        let payload = (0..<recordSize).map { _ in UInt8.random(in: 0x21...0x7E, using: &generator) }
        var block = RecordBlock(capacity: batchRecords, byteCapacity: batchRecords * recordSize)
        let start = Time.monotonicNanos()
        var lastReport = start
        var sent = 0
        var windowSent = 0
        var latencyTotal = 0.0
        var latencyMax = 0.0
        var batches = 0
        while sent < records && !StopRequest.isRequested {
            let count = min(batchRecords, records - sent)
            let now = Time.nowMillis()
            block.removeAll()
            payload.withUnsafeBytes { raw in
                for _ in 0..<count {
                    block.beginRecord(timestamp: now)
                    block.setValue(block.appendBytes(raw))
                }
            }
            let before = Time.monotonicNanos()
            try producer.send(block, now: now)
            let after = Time.monotonicNanos()
            let millis = Double(after - before) / 1e6
            latencyTotal += millis
            latencyMax = max(latencyMax, millis)
            batches += 1
            sent += count
            windowSent += count
            if after - lastReport >= 5_000_000_000 {
                let seconds = Double(after - lastReport) / 1e9
                progress(
                    "\(windowSent) records sent, \(format(Double(windowSent) / seconds, 1)) records/sec "
                        + "(\(format(Double(windowSent * recordSize) / 1_048_576 / seconds, 2)) MB/sec)"
                )
                lastReport = after
                windowSent = 0
            }
        }
        let seconds = Double(Time.monotonicNanos() - start) / 1e9
        return Report(
            records: sent,
            bytes: sent * recordSize,
            seconds: seconds,
            averageBatchMillis: batches > 0 ? latencyTotal / Double(batches) : 0,
            maxBatchMillis: latencyMax
        )
    }
}

/// `value` with `digits` digits after the point.
func format(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    } else if digits > 0 {
        text += "." + String(repeating: "0", count: digits)
    }
    return text
}
