import SluiceBroker
import SluiceCore

/// `sluice produce`: one record per line of input. With a key separator, the text before its first
/// occurrence is the key and the rest the value; lines without it have no key. A trailing CR is
/// dropped, so CR LF input gives the same records as LF input.
public struct ConsoleProducer {
    public var topic: String
    public var keySeparator: [UInt8]?
    public var batchRecords = 10_000

    public init(topic: String, keySeparator: String?) {
        self.topic = topic
        self.keySeparator = keySeparator.map { Array($0.utf8) }
    }

    /// Reads `input` to its end and sends every line; returns the number of records sent.
    public func run(broker: Broker, input: SystemFile) throws -> Int {
        try broker.ensureTopic(topic)
        let producer = try Producer(broker: broker, topic: topic)
        var block = RecordBlock(capacity: batchRecords, byteCapacity: 1 << 20)
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var sent = 0
        var now = Time.nowMillis()
        func addLine(_ line: ArraySlice<UInt8>) {
            var line = line
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            block.beginRecord(timestamp: now)
            if let separator = keySeparator, let split = Self.firstIndex(of: separator, in: line) {
                block.setKey(block.appendBytes(line[line.startIndex..<split]))
                block.setValue(block.appendBytes(line[(split + separator.count)...]))
            } else {
                block.setValue(block.appendBytes(line))
            }
        }
        func sendBlock() throws {
            guard !block.isEmpty else { return }
            try producer.send(block, now: now)
            sent += block.count
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
        return sent
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
