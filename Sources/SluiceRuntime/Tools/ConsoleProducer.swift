import SluiceBroker
import SluiceCore

/// `sluice produce`: one record per line of input. With a key separator, the text before its first
/// occurrence is the key and the rest the value; lines without it have no key. A trailing CR is
/// dropped, so CR LF input gives the same records as LF input. Every record carries `headers`, and
/// goes to `partition` when one is set, or where the key's hash (or, without a key, the batch) puts it.
public struct ConsoleProducer {
    /// What a run sent, and what to tell the user on standard error.
    public struct Outcome: Sendable {
        public var sent = 0
        public var notes: [String] = []
    }

    public var topic: String
    public var keySeparator: [UInt8]?
    /// The partition for every record; nil: the partitioner's choice.
    public var partition: Int32?
    public var headers: [Header] = []
    /// Send an empty value as no value at all (a tombstone), as kcat's `-Z` does.
    public var emptyAsNull = false
    public var batchRecords = 10_000

    public init(topic: String, keySeparator: [UInt8]?) {
        self.topic = topic
        self.keySeparator = keySeparator
    }

    /// A header as kcat's `-H` takes it: `name=value`, split at the first `=`; the value may be empty.
    public static func parseHeader(_ text: String) throws -> Header {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw RuntimeError("expected name=value, such as source=import")
        }
        return Header(String(text[..<equals]), String(text[text.index(after: equals)...]))
    }

    /// Reads `input` to its end and sends every line.
    public func run(broker: any PipelineBroker, input: SystemFile) throws -> Outcome {
        let embedded = broker as? Broker
        if let partition {
            guard let embedded else {
                throw RuntimeError(
                    "--partition works on the embedded broker only; on a Kafka cluster records go by key")
            }
            try checkPartition(partition, embedded)
        }
        try broker.ensureTopic(topic)
        let producer = try broker.makeProducer(topic: topic, source: nil)
        let headerBytes = headers.map { (Array($0.name.utf8), $0.value) }
        var block = RecordBlock(capacity: batchRecords, byteCapacity: 1 << 20)
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var outcome = Outcome()
        var keyedElsewhere = 0
        var now = Time.nowMillis()
        func addLine(_ line: ArraySlice<UInt8>) {
            var line = line
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            block.beginRecord(timestamp: now)
            var value = line
            if let separator = keySeparator, let split = Self.firstIndex(of: separator, in: line) {
                block.setKey(block.appendBytes(line[line.startIndex..<split]))
                value = line[(split + separator.count)...]
            }
            if !(emptyAsNull && value.isEmpty) { block.setValue(block.appendBytes(value)) }
            for (name, value) in headerBytes {
                let nameRange = block.appendBytes(name)
                block.addHeader(name: nameRange, value: value.map { block.appendBytes($0) })
            }
        }
        func sendBlock() throws {
            guard !block.isEmpty else { return }
            if let partition, let embedded {
                for index in 0..<block.count where block.keyRange(index) != nil {
                    if producer.partition(of: block, at: index) != partition { keyedElsewhere += 1 }
                }
                try embedded.append(block, to: TopicPartition(topic, partition), now: now)
            } else {
                try producer.send(block, now: now)
            }
            outcome.sent += block.count
            block.removeAll()
            now = Time.nowMillis()
        }
        let maxLine = broker.topicConfig(topic)?.logConfig.maxBatchBytes ?? (64 << 20)
        var lineNumber = 1
        var scanned = 0
        while !StopRequest.isRequested {
            // Lines typed or piped in slowly go out once the input pauses, as Kafka's console producer
            // sends each line; the wait also lets SIGINT and SIGTERM stop a producer waiting for input.
            if !input.waitReadable(timeoutMillis: 100) {
                try sendBlock()
                continue
            }
            let n = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
            if n == 0 { break }
            pending.append(contentsOf: chunk[0..<n])
            var start = pending.startIndex
            // Only the new bytes are searched: a long line arriving in many reads stays linear.
            while let newline = pending[max(start, scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
                addLine(pending[start..<newline])
                start = newline + 1
                lineNumber += 1
                if block.count >= batchRecords || block.bytes.count >= 1 << 20 { try sendBlock() }
            }
            pending.removeFirst(start)
            scanned = pending.count
            if pending.count > maxLine {
                try sendBlock()
                throw RuntimeError(
                    "line \(lineNumber) of the input is longer than \(maxLine) bytes, the topic's max_message_bytes; "
                        + "the lines before it were sent")
            }
        }
        if !pending.isEmpty { addLine(pending[...]) }
        try sendBlock()
        if let partition, keyedElsewhere > 0 {
            outcome.notes.append(
                "note: \(Format.count(keyedElsewhere)) keyed record\(keyedElsewhere == 1 ? "" : "s") went to "
                    + "partition \(partition) although the key's hash picks another; a key's records are then in "
                    + "two partitions, and their order across them is not kept")
        }
        return outcome
    }

    /// Refuses a partition the topic does not have, or would not have when this run creates it.
    private func checkPartition(_ partition: Int32, _ broker: Broker) throws {
        guard broker.topicConfig(topic) == nil else {
            try broker.checkPartition(TopicPartition(topic, partition))
            return
        }
        let created = TopicConfig().partitions
        guard partition >= created else { return }
        throw BrokerError(
            .invalidPartitions,
            "topic \"\(topic)\" does not exist, and a topic this command creates has \(created) partition"
                + "\(created == 1 ? "" : "s"), so no partition \(partition); create it first with "
                + "`sluice topics create \(topic) --partitions \(partition + 1)`")
    }

    static func firstIndex(of separator: [UInt8], in line: ArraySlice<UInt8>) -> Int? {
        guard !separator.isEmpty, line.count >= separator.count else { return nil }
        var i = line.startIndex
        while i <= line.endIndex - separator.count {
            if line[i] == separator[0] && line[i..<(i + separator.count)].elementsEqual(separator) { return i }
            i += 1
        }
        return nil
    }
}
