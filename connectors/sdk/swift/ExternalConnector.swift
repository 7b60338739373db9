import Logging
import SluiceCore
import SluiceKit

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a connector written in Swift as its own program, speaking Sluice's external-connector protocol
/// (connectors/PROTOCOL.md) on its standard input and output. The connector is a `Source` or a `Sink`
/// of SluiceKit, the protocols the built-in connectors implement, described by a `ConnectorSpec`:
///
///     @main struct Main {
///         static func main() {
///             ExternalConnector.run(sink: JSONLinesSink.spec) { context in try JSONLinesSink(context: context) }
///         }
///     }
///
/// Records a sink receives are a view of the frame they came in: nothing is copied. Printing is safe:
/// the protocol keeps its own copy of standard output, and standard output goes to standard error,
/// which Sluice writes to its log. `run` never returns.
public enum ExternalConnector {
    /// Runs a source until Sluice closes its input.
    public static func run(source spec: ConnectorSpec, make: @escaping SourceFactory) -> Never {
        let session = Session(spec: spec, role: .source)
        session.serve { opening, options in try session.runSource(opening, options: options, make: make) }
    }

    /// Runs a sink until Sluice closes its input.
    public static func run(sink spec: ConnectorSpec, make: @escaping SinkFactory) -> Never {
        let session = Session(spec: spec, role: .sink)
        session.serve { opening, options in try session.runSink(opening, options: options, make: make) }
    }
}

/// One run of a connector: the protected channel, the handshake and the message loop.
final class Session: @unchecked Sendable {
    let spec: ConnectorSpec
    let role: ConnectorSpec.Kind
    let channel: FrameChannel
    var logger: Logger

    init(spec: ConnectorSpec, role: ConnectorSpec.Kind) {
        self.spec = spec
        self.role = role
        signal(SIGPIPE, SIG_IGN)
        // The protocol gets private copies of standard input and output; standard output then goes to
        // standard error and standard input reads as empty, so nothing else can reach the protocol.
        let protocolOutput = dup(1)
        let protocolInput = dup(0)
        dup2(2, 1)
        let null = open("/dev/null", O_RDONLY)
        if null >= 0 {
            dup2(null, 0)
            close(null)
        }
        channel = FrameChannel(input: protocolInput, output: protocolOutput)
        logger = Logger(label: spec.type) { label in StreamLogHandler.standardError(label: label) }
    }

    /// Says hello, waits for `open`, validates its options against the spec, runs `body`, and exits:
    /// 0 when Sluice closed the input, 1 after a connector error (said to Sluice first), 3 after a
    /// protocol error.
    func serve(_ body: (JSONValue, ConnectorOptions) throws -> Void) -> Never {
        let declaration = ConnectorDeclaration(
            role: role, name: spec.type, summary: spec.summary, framing: .binary, options: spec.options)
        do {
            try channel.sendLine(declaration.hello)
            let opening: JSONValue
            switch try channel.receive() {
            case .control(let value) where value["type"]?.stringValue == "open": opening = value
            default: throw ExternalProtocolError("expected an open message")
            }
            guard case .object(let members)? = opening["options"] else {
                throw ExternalProtocolError("the open message has no options object")
            }
            let (options, problems) = spec.validate(members, path: "options")
            if !problems.isEmpty {
                throw ConnectorError.fatal("options", problems.map(\.description).joined(separator: "; "))
            }
            try body(opening, options)
            exit(0)
        } catch let error as ExternalProtocolError {
            if error.closed { exit(0) }  // Sluice is done with us (or wanted the hello only)
            logger.error("protocol error: \(error.message)")
            try? channel.send(.message("error", [("class", .string("fatal")), ("message", .string(error.message))]))
            exit(3)
        } catch {
            let failure = error as? ConnectorError ?? ConnectorError.fatal("error", "\(error)")
            logger.error("\(failure.message)")
            say(failure)
            exit(1)
        }
    }

    func say(_ error: ConnectorError) {
        let kind: String
        switch error.kind {
        case .record: kind = "record"
        case .transient: kind = "transient"
        case .fatal: kind = "fatal"
        }
        try? channel.send(
            .message(
                "error",
                [("class", .string(kind)), ("message", .string(error.message)), ("code", .string(error.errorClass))]))
    }

    // MARK: Sources

    func runSource(_ opening: JSONValue, options: ConnectorOptions, make: SourceFactory) throws {
        // Checkpoints are bytes, positions are text: base64 in between.
        let position = opening["position"]?.stringValue.flatMap { Base64.decode($0) }
        let context = SourceContext(
            name: opening["name"]?.stringValue ?? spec.type, options: options, logger: logger, checkpoint: position,
            continuous: opening["continuous"]?.boolValue ?? false)
        let source = try make(context)
        defer { source.close() }
        try channel.send(.message("ready"))
        let maxRecords = Int(opening["max_batch_records"]?.integerValue ?? 10_000)
        let maxBytes = Int(opening["max_batch_bytes"]?.integerValue ?? 1 << 20)
        var credit = 0
        var number: UInt64 = 0
        /// Work to do once a position is acknowledged, oldest first.
        var waiting: [(position: String, actions: [ActionAfterDurable])] = []
        func handle(_ message: ExternalMessage) throws {
            guard case .control(let value) = message else { throw ExternalProtocolError("a records frame to a source") }
            switch value["type"]?.stringValue {
            case "request"?: credit += Int(value["batches"]?.integerValue ?? 0)
            case "ack"?:
                let acknowledged = value["position"]?.stringValue ?? ""
                // Acknowledgements come in order: everything up to this one is durable.
                if let index = waiting.firstIndex(where: { $0.position == acknowledged }) {
                    for entry in waiting[...index] {
                        for action in entry.actions { _ = try? action.run() }
                    }
                    waiting.removeSubrange(...index)
                }
            case "stop"?: throw ExternalProtocolError("stopped", closed: true)
            case let other: throw ExternalProtocolError("a \"\(other ?? "untyped")\" message to a source")
            }
        }
        var more = true
        var batch = SourceBatch(capacity: maxRecords, byteCapacity: maxBytes)
        while more {
            while credit == 0 { try handle(try channel.receive()) }
            batch.removeAll()
            more = try source.nextBatch(&batch)
            let actions = source.takeActionsAfterDurable()
            let checkpoint = Base64.encode(source.checkpoint())
            if !actions.isEmpty { waiting.append((checkpoint, actions)) }
            guard !batch.isEmpty else { continue }
            number += 1
            var groups = [RecordsFrame.Group(records: batch.records)]
            if !batch.deadLetters.isEmpty {
                groups.append(RecordsFrame.Group(deadLetters: true, records: batch.deadLetters))
            }
            let frameNumber = number
            let framed = groups
            try channel.sendRecords(
                {
                    RecordsFrame.encode(batch: frameNumber, position: Array(checkpoint.utf8), groups: framed, to: &$0)
                }, json: { .null })
            credit -= 1
        }
        try channel.send(.message("end"))
        while true { try handle(try channel.receive()) }
    }

    // MARK: Sinks

    func runSink(_ opening: JSONValue, options: ConnectorOptions, make: SinkFactory) throws {
        var schemas: [String: TopicSchema] = [:]
        if case .object(let members)? = opening["schemas"] {
            for (topic, value) in members { schemas[topic] = TopicSchema(json: value) }
        }
        let context = SinkContext(
            name: opening["name"]?.stringValue ?? spec.type, task: Int(opening["task"]?.integerValue ?? 0),
            group: opening["group"]?.stringValue ?? "", options: options,
            topics: (opening["topics"]?.arrayValue ?? []).compactMap(\.stringValue), schemas: schemas, logger: logger)
        let sink = try make(context)
        try channel.send(.message("ready"))
        while true {
            let message = try channel.receive()
            do {
                switch message {
                case .records(let frame):
                    let batch = SinkBatch(
                        partitions: frame.groups.map {
                            PartitionRecords(
                                topicPartition: TopicPartition($0.topic, $0.partition), records: $0.records)
                        })
                    let failures = try sink.write(batch)
                    let failed: [JSONValue] = failures.map { failure in
                        .object([
                            ("topic", .string(failure.topicPartition.topic)),
                            ("partition", .int(failure.topicPartition.partition)), ("offset", .int(failure.offset)),
                            ("class", .string("record")), ("message", .string(failure.error.message)),
                            ("code", .string(failure.error.errorClass)),
                        ])
                    }
                    try channel.send(
                        .message(
                            "written",
                            [
                                ("batch", .int(frame.batch)), ("written", .int(frame.count - failures.count)),
                                ("failed", .array(failed)),
                            ]))
                case .control(let value):
                    switch value["type"]?.stringValue {
                    case "assign"?:
                        var partitions: [TopicPartition: Int64] = [:]
                        for item in value["partitions"]?.arrayValue ?? [] {
                            guard let topic = item["topic"]?.stringValue,
                                let partition = item["partition"]?.integerValue,
                                let offset = item["offset"]?.integerValue
                            else { throw ExternalProtocolError("an assign entry without topic, partition or offset") }
                            partitions[TopicPartition(topic, Int32(truncatingIfNeeded: partition))] = offset
                        }
                        try sink.open(partitions: partitions)
                        try channel.send(.message("ok"))
                    case "revoke"?:
                        var partitions: Set<TopicPartition> = []
                        for item in value["partitions"]?.arrayValue ?? [] {
                            if let topic = item["topic"]?.stringValue, let partition = item["partition"]?.integerValue {
                                partitions.insert(TopicPartition(topic, Int32(truncatingIfNeeded: partition)))
                            }
                        }
                        try sink.close(partitions: partitions)
                        try channel.send(.message("ok"))
                    case "flush"?:
                        try sink.flush()
                        try channel.send(.message("flushed"))
                    case "abort"?:
                        sink.abort()
                        try channel.send(.message("ok"))
                    case "stop"?:
                        sink.stop()
                        try channel.send(.message("stopped"))
                    case "read_back"?:
                        guard let ids = try (sink as? any InspectableSink)?.heldRecordIDs() else {
                            throw ConnectorError.fatal("read_back", "read_back is not offered")
                        }
                        try channel.send(.message("read_back", [("ids", .array(ids.sorted().map { .int($0) }))]))
                    case let other:
                        throw ExternalProtocolError("a \"\(other ?? "untyped")\" message to a sink")
                    }
                }
            } catch let error as ConnectorError where error.errorClass == "read_back" {
                say(error)  // not offered: said, and the loop goes on
            } catch let error as ConnectorError where error.kind != .fatal {
                // Transient (or a record error for the whole batch): said, and the loop goes on.
                say(error.kind == .record ? ConnectorError.transient(error.errorClass, error.message) : error)
            }
        }
    }
}

extension JSONValue {
    fileprivate var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
