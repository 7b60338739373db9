import Logging
import SluiceCore
import SluiceKit

/// A source that runs an external connector: it opens the connector at the position stored last,
/// grants it a window of batches, turns each records frame into a batch, and acknowledges the
/// frame's position once the batch is durable in the broker.
///
/// Delivery: the position travels with the batch (the runtime stores it as the checkpoint after the
/// batch), and every record carries its ordinal since the position before it. After a crash between
/// storing records and storing the checkpoint, the connector is opened at the old position and the
/// records whose ordinals were stored are skipped: none is stored twice or lost, provided the
/// connector gives the same records in the same order from the same position (PROTOCOL.md).
///
/// A connector that exits or breaks the protocol is started again from the position of the last
/// batch received, with backoff; five failures in a row without a batch stop the pipeline.
public final class ExecSource: Source {
    public static let window = 4
    public static let maxBatchRecords = 10_000
    public static let maxBatchBytes = 1 << 20
    static let maxFailuresInARow = 5

    private let context: SourceContext
    private let command: [String]
    /// The folder the connector runs in: the config file's, unless the config says otherwise.
    private let directory: String?
    private let connection: Locked<ExternalConnection?>
    /// The position after the last frame received.
    private var position: [UInt8]
    /// Records (and dead letters) received since the last checkpoint the runtime stored.
    private var ordinal = 0
    /// Ordinals stored after the checkpoint before a crash: skipped when they come again.
    private var storedOrdinals: Set<Int>
    private var pendingAcknowledgement: [UInt8]?
    private var ended = false
    private var failuresInARow = 0
    private let counters = Locked(SourceProgress())

    public init(context: SourceContext) throws {
        self.context = context
        command = context.options.stringList("command") ?? []
        directory = context.options.string(ExecConnector.workingDirectory.name)
        position = context.checkpoint ?? []
        storedOrdinals = Set(
            context.storedAfterCheckpoint.compactMap { headers in
                headers.last(where: { $0.name == ExternalProtocol.ordinalHeader })?.value.flatMap {
                    Int(String(decoding: $0, as: UTF8.self))
                }
            })
        connection = Locked(nil)
        let opened = try open()
        connection.withLock { $0 = opened }
    }

    private func open() throws -> ExternalConnection {
        let started = try ExternalConnection.start(
            command: command, directory: directory, name: context.name, role: .source, logger: context.logger)
        do {
            try started.request(
                .message(
                    "open",
                    [
                        ("protocol_version", .int(started.version)),
                        ("name", .string(context.name)),
                        ("options", started.declaredOptions(context.options)),
                        ("position", position.isEmpty ? .null : .string(String(decoding: position, as: UTF8.self))),
                        ("window", .int(Self.window)),
                        ("max_batch_records", .int(Self.maxBatchRecords)),
                        ("max_batch_bytes", .int(Self.maxBatchBytes)),
                        ("continuous", .bool(context.continuous)),
                    ]),
                expecting: "ready", timeoutMillis: ExternalConnection.openTimeoutMillis)
            try started.channel.send(.message("request", [("batches", .int(Self.window))]))
        } catch let error as ExternalProtocolError {
            throw started.broken(error)
        } catch let error as ConnectorError {
            started.process.finish(graceMillis: 2_000)
            throw error
        }
        return started
    }

    public func nextBatch(_ batch: inout SourceBatch) throws -> Bool {
        if ended { return false }
        while true {
            guard let current = connection.withLock({ $0 }) else {
                if context.stopping() { return true }  // stopped while waiting to start it again
                throw ConnectorError.fatal("exec.closed", "the connector is closed")
            }
            // The run may stop while the connector has nothing to say: wait in slices, and give back
            // what there is (nothing) when it does; the runtime ends the read at this batch boundary.
            while !current.channel.waitReadable(timeoutMillis: 100) {
                if context.stopping() { return true }
            }
            let message: ExternalMessage
            do {
                message = try current.channel.receive()
            } catch {
                try restart(after: current.broken(error))
                continue
            }
            switch message {
            case .records(let frame):
                failuresInARow = 0
                // One more batch of credit. A connector that went away meanwhile is found by the next read,
                // after what it sent before it went (its last batches, an error saying why).
                try? current.channel.send(.message("request", [("batches", .int(1))]))
                position = frame.position
                add(frame, to: &batch)
                if batch.isEmpty { continue }
                ordinal = 0
                pendingAcknowledgement = position
                return true
            case .control(let value):
                switch value["type"]?.stringValue {
                case "end":
                    ended = true
                    pendingAcknowledgement = position
                    return false
                case "error":
                    let error = ExternalConnection.error(value, name: context.name)
                    if error.kind == .transient {
                        current.process.finish(graceMillis: 2_000)
                        try restart(after: error)
                        continue
                    }
                    throw error
                case let other:
                    try restart(
                        after: current.broken(
                            ExternalProtocolError(
                                "a \"\(other ?? "untyped")\" message where records or end were expected")))
                }
            }
        }
    }

    /// Moves a frame's records and dead letters into `batch`, each with its ordinal, skipping those
    /// stored before a crash.
    private func add(_ frame: RecordsFrame, to batch: inout SourceBatch) {
        let now = Time.nowMillis()
        // The ordinal header's name is put in the arena once; each record points at it.
        let ordinalName = batch.records.appendBytes(ExternalProtocol.ordinalHeader.utf8)
        var progress = SourceProgress()
        for group in frame.groups {
            let block = group.records
            for i in 0..<block.count {
                let number = ordinal
                ordinal += 1
                progress.rowsRead += 1
                if !storedOrdinals.isEmpty && storedOrdinals.remove(number) != nil {
                    progress.rowsSkipped += 1
                    continue
                }
                if group.deadLetters {
                    progress.rowsDeadLettered += 1
                    batch.deadLetters.append(from: block, at: i)
                    batch.deadLetters.entries[batch.deadLetters.count - 1].timestamp = now
                    let message = block.headerValue(i, named: SluiceHeader.errorMessage)
                    if message == nil {
                        DeadLetter.addHeader(&batch.deadLetters, SluiceHeader.errorMessage, "no reason given")
                    }
                    DeadLetter.addHeader(&batch.deadLetters, SluiceHeader.errorClass, "exec.record")
                    DeadLetter.addHeader(&batch.deadLetters, SluiceHeader.errorStage, "source")
                    DeadLetter.addHeader(&batch.deadLetters, SluiceHeader.connector, context.name)
                    DeadLetter.addHeader(&batch.deadLetters, SluiceHeader.failedAt, Timestamp.iso8601(millis: now))
                    DeadLetter.addHeader(&batch.deadLetters, ExternalProtocol.ordinalHeader, String(number))
                } else {
                    batch.records.append(from: block, at: i)
                    if batch.records.entries[batch.records.count - 1].timestamp < 0 {
                        batch.records.entries[batch.records.count - 1].timestamp = now
                    }
                    let start = batch.records.bytes.count
                    JSONWriter.appendInteger(Int64(number), to: &batch.records.bytes)
                    batch.records.addHeader(name: ordinalName, value: start..<batch.records.bytes.count)
                }
            }
        }
        batch.inputRows += progress.rowsRead
        batch.inputBytes += frame.count > 0 ? frame.groups.reduce(0) { $0 + $1.records.payloadBytes } : 0
        progress.bytesRead = Int64(batch.inputBytes)
        counters.withLock { total in
            total.rowsRead += progress.rowsRead
            total.rowsSkipped += progress.rowsSkipped
            total.rowsDeadLettered += progress.rowsDeadLettered
            total.bytesRead += progress.bytesRead
        }
    }

    /// Starts the connector again after `failure`, from the last position received, after a backoff;
    /// gives up (throwing a fatal error) after too many failures without a batch in between.
    private func restart(after failure: ConnectorError) throws {
        connection.withLock { $0 = nil }
        failuresInARow += 1
        guard failuresInARow < Self.maxFailuresInARow else {
            throw ConnectorError.fatal(
                failure.errorClass, "\(failure.message) (\(failuresInARow) times in a row without a batch; giving up)")
        }
        let delay = min(10_000, 250 << (failuresInARow - 1))
        context.logger.warning(
            "the connector failed; starting it again from its last position",
            metadata: [
                "source": "\(context.name)", "error": "\(failure.message)", "retry_in_ms": "\(delay)",
            ])
        var waited = 0
        while waited < delay {
            if context.stopping() { return }
            Time.sleep(millis: min(100, delay - waited))
            waited += 100
        }
        let opened = try open()
        connection.withLock { $0 = opened }
    }

    public func checkpoint() -> [UInt8] { position }

    /// Kills the connector's process (SIGKILL), for tests of the contract: the next read starts it again.
    public func killConnector() {
        connection.withLock { $0 }?.process.kill()
    }

    public var progress: SourceProgress { counters.withLock { $0 } }

    public func takeActionsAfterDurable() -> [ActionAfterDurable] {
        guard let acknowledged = pendingAcknowledgement else { return [] }
        pendingAcknowledgement = nil
        let connection = connection
        let text = String(decoding: acknowledged, as: UTF8.self)
        return [
            ActionAfterDurable("acknowledge position \(text.prefix(80)) to \(context.name)") {
                // A connector that went away meanwhile is started again from this position anyway.
                try? connection.withLock { $0 }?.channel.send(.message("ack", [("position", .string(text))]))
                return true
            }
        ]
    }

    public func close() {
        let current = connection.withLock { connection -> ExternalConnection? in
            defer { connection = nil }
            return connection
        }
        // A connector that ended its input has exited by now; one that still reads is told to stop.
        current?.process.finish(graceMillis: 1_000)
    }
}
