import Logging
import SluiceCore
import SluiceKit

/// A sink that runs an external connector: each task starts its own process, tells it the partitions
/// it owns, sends it batches in frames (a window of them in flight) and reads, for every frame, how
/// many records were written and which failed and why. `flush` asks the connector to make everything
/// durable; the runtime commits offsets only after it answers.
///
/// A reply that does not account for every record of its frame, a malformed message or an exit is
/// a transient error: the process is ended, the batch is dropped (`abort`) and written again, after a
/// backoff, to a connector started again and told its partitions from the committed offsets.
public final class ExecSink: InspectableSink {
    public static let window = 4
    public static let frameRecords = 8_192
    public static let frameBytes = 4 << 20

    private let context: SinkContext
    private let command: [String]
    /// The folder the connector runs in: the config file's, unless the config says otherwise.
    private let directory: String?
    private let connection = Locked<ExternalConnection?>(nil)
    /// The partitions the task owns, each with the offset to deliver from after the last flush.
    private var assigned: [TopicPartition: Int64] = [:]
    /// Offsets after the batches written since the last flush.
    private var written: [TopicPartition: Int64] = [:]
    private var nextBatchNumber: UInt64 = 1
    /// Whether everything written since the last flush was reported durable already (`"durable": true`
    /// in every reply), so that the flush needs no round trip.
    private var writtenDurable = true

    public init(context: SinkContext) throws {
        self.context = context
        command = context.options.stringList("command") ?? []
        directory = context.options.string(ExecConnector.workingDirectory.name)
        _ = try live()
    }

    /// The running connector, started (opened and told its partitions) when there is none.
    private func live() throws -> ExternalConnection {
        if let current = connection.withLock({ $0 }) { return current }
        let started = try ExternalConnection.start(
            command: command, directory: directory, name: context.name, role: .sink, logger: context.logger)
        do {
            var schemas: [(key: String, value: JSONValue)] = []
            for topic in context.topics.sorted() {
                if let schema = context.schemas[topic] { schemas.append((topic, schema.json)) }
            }
            try started.request(
                .message(
                    "open",
                    [
                        ("protocol_version", .int(started.version)),
                        ("name", .string(context.name)),
                        ("task", .int(context.task)),
                        ("group", .string(context.group)),
                        ("options", started.declaredOptions(context.options)),
                        ("topics", .array(context.topics.map { .string($0) })),
                        ("schemas", .object(schemas)),
                        ("window", .int(Self.window)),
                    ]),
                expecting: "ready", timeoutMillis: ExternalConnection.openTimeoutMillis)
            if !assigned.isEmpty { try started.request(Self.partitionsMessage("assign", assigned), expecting: "ok") }
        } catch let error as ExternalProtocolError {
            throw started.broken(error)
        } catch let error as ConnectorError {
            started.process.finish(graceMillis: 2_000)
            throw error
        }
        connection.withLock { $0 = started }
        return started
    }

    /// Runs `body` against the live connector; a broken channel ends it and becomes a transient error.
    private func withConnector<T>(_ body: (ExternalConnection) throws -> T) throws -> T {
        let current = try live()
        do {
            return try body(current)
        } catch let error as ExternalProtocolError {
            connection.withLock { $0 = nil }
            throw current.broken(error)
        }
    }

    static func partitionsMessage(_ type: String, _ partitions: [TopicPartition: Int64]) -> JSONValue {
        let sorted = partitions.sorted { ($0.key.topic, $0.key.partition) < ($1.key.topic, $1.key.partition) }
        return .message(
            type,
            [
                (
                    "partitions",
                    .array(
                        sorted.map { tp, offset in
                            .object([
                                ("topic", .string(tp.topic)), ("partition", .int(tp.partition)),
                                ("offset", .int(offset)),
                            ])
                        })
                )
            ])
    }

    public func open(partitions: [TopicPartition: Int64]) throws {
        for (tp, offset) in partitions { assigned[tp] = offset }
        if connection.withLock({ $0 }) == nil {
            _ = try live()  // tells it every partition it owns
            return
        }
        _ = try withConnector { try $0.request(Self.partitionsMessage("assign", partitions), expecting: "ok") }
    }

    public func close(partitions: Set<TopicPartition>) throws {
        let given = assigned.filter { partitions.contains($0.key) }
        for tp in partitions {
            assigned[tp] = nil
            written[tp] = nil
        }
        guard !given.isEmpty, connection.withLock({ $0 }) != nil else { return }
        _ = try withConnector { try $0.request(Self.partitionsMessage("revoke", given), expecting: "ok") }
    }

    public func write(_ batch: SinkBatch) throws -> [RecordFailure] {
        let frames = Self.frames(of: batch)
        return try withConnector { connector in
            var failures: [RecordFailure] = []
            var batchError: ConnectorError?
            var sent = 0
            var answered = 0
            var numbers: [UInt64] = []
            // Once the connector refuses a frame as a whole, no more go out; the replies to those sent are
            // still read, so that the channel stays in step.
            var sending = true
            while answered < (sending ? frames.count : sent) {
                while sending && sent < frames.count && sent - answered < Self.window {
                    let number = nextBatchNumber
                    nextBatchNumber += 1
                    numbers.append(number)
                    let groups = frames[sent]
                    try connector.channel.sendRecords(
                        { RecordsFrame.encode(batch: number, position: [], groups: groups, to: &$0) },
                        json: { RecordsFrame(batch: number, groups: groups).json() })
                    sent += 1
                }
                var error: ConnectorError?
                do {
                    let reply = try connector.reply(expecting: "written")
                    let checked = try Self.check(
                        reply, frame: frames[answered], number: numbers[answered], name: context.name)
                    failures += checked.0
                    error = checked.1
                    if reply["durable"]?.boolValue != true { writtenDurable = false }
                } catch let refused as ConnectorError {
                    error = refused
                    sending = false
                }
                if let error, batchError == nil || error.kind == .fatal { batchError = error }
                answered += 1
            }
            if let batchError { throw batchError }
            for chunk in batch.partitions {
                if let next = chunk.nextOffset { written[chunk.topicPartition] = next }
            }
            return failures
        }
    }

    /// The batch cut into frames of at most `frameRecords` records and about `frameBytes` bytes, each a
    /// list of groups (one per partition chunk). Nothing is copied until a frame is encoded.
    static func frames(of batch: SinkBatch) -> [[RecordsFrame.Group]] {
        var frames: [[RecordsFrame.Group]] = []
        var current: [RecordsFrame.Group] = []
        var records = 0
        var bytes = 0
        for chunk in batch.partitions {
            let block = chunk.records
            var from = 0
            while from < block.count {
                let room = frameRecords - records
                var to = from
                while to < block.count && to - from < room && bytes < frameBytes {
                    let entry = block.entries[to]
                    bytes += Int(max(0, entry.keyLength) + max(0, entry.valueLength)) + 64
                    to += 1
                }
                current.append(
                    RecordsFrame.Group(
                        topic: chunk.topicPartition.topic, partition: chunk.topicPartition.partition,
                        records: from == 0 && to == block.count ? block : block.slice(from..<to)))
                records += to - from
                from = to
                if records >= frameRecords || bytes >= frameBytes {
                    frames.append(current)
                    current = []
                    records = 0
                    bytes = 0
                }
            }
        }
        if !current.isEmpty { frames.append(current) }
        return frames
    }

    /// Checks a `written` reply against its frame: every record accounted for, exactly once. Returns the
    /// record failures and the error for the batch as a whole (a transient or fatal failure).
    static func check(_ reply: JSONValue, frame: [RecordsFrame.Group], number: UInt64, name: String) throws
        -> ([RecordFailure], ConnectorError?)
    {
        guard reply["batch"]?.integerValue == Int64(bitPattern: number) else {
            throw ExternalProtocolError(
                "a reply for batch \(reply["batch"]?.serialized() ?? "(none)") where batch \(number) was due")
        }
        let total = frame.reduce(0) { $0 + $1.records.count }
        guard let writtenCount = reply["written"]?.integerValue, writtenCount >= 0 else {
            throw ExternalProtocolError("the reply to batch \(number) has no \"written\" count")
        }
        var failedItems: [JSONValue] = []
        if let failed = reply["failed"] {
            guard case .array(let items) = failed else {
                throw ExternalProtocolError("the reply to batch \(number) has a \"failed\" that is not a list")
            }
            failedItems = items
        }
        guard Int(writtenCount) + failedItems.count == total else {
            throw ExternalProtocolError(
                "the reply to batch \(number) accounts for \(Int(writtenCount) + failedItems.count) of its \(total) "
                    + "records (\(writtenCount) written, \(failedItems.count) failed)")
        }
        var offsets: [TopicPartition: Set<Int64>] = [:]
        if !failedItems.isEmpty {
            for group in frame {
                offsets[TopicPartition(group.topic, group.partition), default: []].formUnion(
                    group.records.entries.lazy.map(\.offset))
            }
        }
        var seen: Set<String> = []
        var failures: [RecordFailure] = []
        var batchError: ConnectorError?
        for (i, item) in failedItems.enumerated() {
            guard let topic = item["topic"]?.stringValue, let partition = item["partition"]?.integerValue,
                let offset = item["offset"]?.integerValue
            else {
                throw ExternalProtocolError(
                    "failed[\(i)] of the reply to batch \(number) lacks its topic, partition or offset")
            }
            let tp = TopicPartition(topic, Int32(truncatingIfNeeded: partition))
            guard offsets[tp]?.contains(offset) == true else {
                throw ExternalProtocolError(
                    "failed[\(i)] of the reply to batch \(number) names \(topic)-\(partition)@\(offset), not in the batch"
                )
            }
            guard seen.insert("\(topic)\u{0}\(partition)\u{0}\(offset)").inserted else {
                throw ExternalProtocolError("the reply to batch \(number) names \(topic)-\(partition)@\(offset) twice")
            }
            guard let classText = item["class"]?.stringValue,
                let failureClass = ExternalProtocol.FailureClass(rawValue: classText)
            else {
                throw ExternalProtocolError(
                    "failed[\(i)] of the reply to batch \(number) has no class (record, transient or fatal)")
            }
            let message = item["message"]?.stringValue ?? "no reason given"
            let code = item["code"]?.stringValue ?? "exec.\(classText)"
            switch failureClass {
            case .record:
                failures.append(
                    RecordFailure(topicPartition: tp, offset: offset, error: .record(code, message)))
            case .transient:
                if batchError == nil { batchError = .transient(code, "connector \(name): \(message)") }
            case .fatal:
                if batchError?.kind != .fatal { batchError = .fatal(code, "connector \(name): \(message)") }
            }
        }
        return (failures, batchError)
    }

    public func flush() throws {
        if !writtenDurable || written.isEmpty {
            try withConnector { _ = try $0.request(.message("flush"), expecting: "flushed") }
        }
        writtenDurable = true
        for (tp, next) in written where assigned[tp] != nil { assigned[tp] = next }
        written.removeAll()
    }

    public func abort() {
        written.removeAll()
        writtenDurable = true
        guard let current = connection.withLock({ $0 }) else { return }
        do {
            try current.request(.message("abort"), expecting: "ok", timeoutMillis: 30_000)
        } catch {
            // It cannot say it dropped what it wrote: start it again, from the committed offsets.
            connection.withLock { $0 = nil }
            current.process.finish(graceMillis: 1_000)
        }
    }

    public func stop() {
        guard
            let current = connection.withLock({ connection -> ExternalConnection? in
                defer { connection = nil }
                return connection
            })
        else { return }
        _ = try? current.request(.message("stop"), expecting: "stopped", timeoutMillis: 10_000)
        current.process.finish(graceMillis: 5_000)
    }

    /// Asks the connector for the ids of the records it holds (`read_back`, for the conformance suite);
    /// nil when it does not offer that.
    public func heldRecordIDs() throws -> Set<Int64>? {
        let reply: JSONValue
        do {
            reply = try withConnector { try $0.request(.message("read_back"), expecting: "read_back") }
        } catch let error as ConnectorError where error.kind == .fatal {
            return nil
        }
        guard case .array(let ids)? = reply["ids"] else {
            throw ConnectorError.transient("exec.protocol", "a read_back reply without a list of ids")
        }
        return Set(ids.compactMap(\.integerValue))
    }

    /// Kills the connector's process (SIGKILL), for tests of the contract: the next call fails as a
    /// transient error, and the one after starts it again.
    public func killConnector() {
        connection.withLock { $0 }?.process.kill()
    }

    public func interrupt() {
        // Nothing written since the last flush may become durable: the process ends at once.
        connection.withLock { $0 }?.process.kill()
    }

    public var destination: String? {
        "connector \(command.joined(separator: " "))"
    }
}
