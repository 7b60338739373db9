import Logging
import SluiceBroker
import SluiceCore
import SluiceKit
import SluiceLog

/// Runs one source to the end of its input on two dedicated threads: a reader that asks the source for
/// batches, and a writer that appends each batch to the source's topic and dead-letter topic and then
/// stores the source's checkpoint with the partitions' end offsets. A bounded queue between them
/// keeps memory bounded and lets parsing and fsync overlap.
///
/// Delivery: records and checkpoint are tied by the producer id written in every batch. On restart,
/// the records this source stored after its last checkpoint are handed to the connector, which skips
/// the input they came from; a kill at any moment neither duplicates nor loses a row.
final class SourceTask: @unchecked Sendable {
    /// What a source did in this run.
    struct Report: Sendable {
        var name: String
        var progress: SourceProgress
        var records = 0
        var deadLetters = 0
        var seconds = 0.0
    }

    let definition: SourceDefinition
    let broker: Broker
    /// Set when the run stops (a signal, or another task failed).
    let stop: RunStop
    let logger: Logger
    let factory: SourceFactory
    let producerId: Int64
    /// The sink groups that read the source's topic in this pipeline.
    var sinkGroups: [String] = []
    private let source: Locked<(any Source)?> = Locked(nil)
    private let counts = Locked((records: 0, deadLetters: 0))
    private var started: UInt64 = 0
    /// The stored checkpoint, once `prepare` checked it against the logs.
    private var checked: SourceCheckpoint??

    init(definition: SourceDefinition, broker: Broker, factory: @escaping SourceFactory, stop: RunStop, logger: Logger)
    {
        self.definition = definition
        self.broker = broker
        self.stop = stop
        self.factory = factory
        self.logger = logger
        producerId = SourceCheckpoint.producerId(for: definition.name)
    }

    /// The source's progress so far (zero before it opens).
    var progress: SourceProgress {
        source.withLock { $0?.progress } ?? SourceProgress()
    }

    var report: Report {
        let (records, deadLetters) = counts.withLock { ($0.records, $0.deadLetters) }
        let seconds = started == 0 ? 0 : Double(Time.monotonicNanos() - started) / 1e9
        return Report(
            name: definition.name, progress: progress, records: records, deadLetters: deadLetters, seconds: seconds)
    }

    /// How much less the source's threads get the CPU than the sinks' when the machine is busy: what is
    /// stored is delivered before more is read, which keeps the sinks' lag and memory small. A source is
    /// several times faster than most sinks, so it still finishes first. Measured on 1,000,000 rows into
    /// PostgreSQL on two cores: 2.78 s end to end at normal priority, 2.67 s with the sources lowered.
    static let niceness: Int32 = 10

    /// Opens the source (restoring its position) and runs it to the end of its input. Blocks.
    func run() throws {
        started = Time.monotonicNanos()
        ThreadPriority.lowerCurrentThread(by: Self.niceness)
        let topics = [definition.topic, definition.deadLetterTopic]
        let stored = try prepare()
        let inFlight = try storedAfter(stored, topics: topics)
        if !inFlight.isEmpty {
            logger.info(
                "resuming after an interrupted run",
                metadata: ["source": "\(definition.name)", "records_already_stored": "\(inFlight.count)"])
        }
        let context = SourceContext(
            name: definition.name,
            options: definition.options,
            logger: logger,
            checkpoint: stored?.connector,
            storedAfterCheckpoint: inFlight
        )
        let opened = try factory(context)
        source.withLock { $0 = opened }
        defer { opened.close() }
        let queue = BoundedQueue<(SourceBatch, [UInt8])>(capacity: 2)
        let transfer = Transfer(opened)
        let stop = stop
        let reader = WorkerThread(name: "source-\(definition.name)") {
            ThreadPriority.lowerCurrentThread(by: Self.niceness)
            let opened = transfer.value
            defer { queue.close() }
            while !stop.isRequested {
                var batch = SourceBatch(capacity: 4096, byteCapacity: 1 << 20)
                let more = try opened.nextBatch(&batch)
                if !batch.isEmpty || !more {
                    guard queue.put((batch, opened.checkpoint())) else { return }
                }
                if !more { return }
            }
        }
        var failure: (any Error)?
        do {
            try write(queue, topics: topics)
        } catch {
            failure = error
            queue.close()
        }
        let readFailure = reader.join()
        if let failure = readFailure ?? failure { throw failure }
    }

    private func write(_ queue: BoundedQueue<(SourceBatch, [UInt8])>, topics: [String]) throws {
        let producer = try Producer(broker: broker, topic: definition.topic, producerId: producerId)
        let deadLetters = try Producer(broker: broker, topic: definition.deadLetterTopic, producerId: producerId)
        while let (batch, connectorCheckpoint) = queue.take() {
            try waitForSinks()
            let now = Time.nowMillis()
            try producer.send(batch.records, now: now)
            try deadLetters.send(batch.deadLetters, now: now)
            var ends: [String: [Int64]] = [:]
            for topic in topics {
                ends[topic] = try (0..<broker.partitionCount(topic)).map {
                    try broker.offsets(TopicPartition(topic, $0)).end
                }
            }
            var ids: [String: String] = [:]
            for topic in topics { ids[topic] = broker.topicID(topic) }
            let checkpoint = SourceCheckpoint(
                producerId: producerId, connector: connectorCheckpoint, partitionEnds: ends, topicIDs: ids)
            try broker.storeSourceCheckpoint(definition.name, checkpoint.encoded())
            counts.withLock {
                $0.records += batch.records.count
                $0.deadLetters += batch.deadLetters.count
            }
        }
    }

    /// Backpressure, only where it is needed: when the topic's retention could delete records a sink has
    /// not consumed, waits while the slowest sink group lags by more than the threshold. Otherwise the
    /// broker keeps everything on disk and the source never waits for a sink.
    private func waitForSinks() throws {
        guard !sinkGroups.isEmpty, let config = broker.topicConfig(definition.topic),
            let threshold = definition.pauseThreshold(config)
        else { return }
        var logged = false
        while !stop.isRequested,
            try broker.unconsumedBytes(topic: definition.topic, groups: sinkGroups) > threshold
        {
            if !logged {
                logger.info(
                    "pausing: a sink lags so far that retention could delete what it has not read",
                    metadata: [
                        "source": "\(definition.name)", "topic": "\(definition.topic)",
                        "threshold_bytes": "\(threshold)",
                    ])
                logged = true
            }
            Time.sleep(millis: 50)
        }
    }

    /// Checks the stored checkpoint against the logs before anything runs (the pipeline calls it before
    /// it starts any sink, so that a run that cannot start changes nothing); `run` calls it again.
    @discardableResult
    func prepare() throws -> SourceCheckpoint? {
        if let checked { return checked }
        let stored = try storedCheckpoint()
        checked = .some(stored)
        return stored
    }

    /// The source's stored checkpoint, checked against the logs: one that cannot be read, or that says
    /// more records were stored than a partition now holds (the log lost acknowledged records), is an
    /// error. Read as "nothing stored", the first would read every file again and the second would skip
    /// rows whose records are gone.
    private func storedCheckpoint() throws -> SourceCheckpoint? {
        guard let bytes = broker.sourceCheckpoint(definition.name) else { return nil }
        guard var checkpoint = SourceCheckpoint(decoding: bytes) else {
            throw RuntimeError(
                "its stored position in \(Broker.checkpointsTopic) cannot be read "
                    + "(\(String(decoding: bytes.prefix(200), as: UTF8.self))); restore the data directory from a "
                    + "backup, or forget the position with `sluice sources reset \(definition.name) --execute` "
                    + "(rows already stored are then recognized and skipped)")
        }
        for (topic, ends) in checkpoint.partitionEnds.sorted(by: { $0.key < $1.key }) {
            guard broker.topicConfig(topic) != nil else { continue }
            if let stored = checkpoint.topicIDs[topic], stored != broker.topicID(topic) {
                // The topic was deleted and created again: its old ends mean nothing in the new one.
                checkpoint.partitionEnds[topic] = nil
                logger.warning(
                    """
                    the topic was deleted and created again since the source last ran; the files it had read \
                    are not read again (run `sluice sources reset SOURCE --execute` to read them into the new topic)
                    """,
                    metadata: ["source": "\(definition.name)", "topic": "\(topic)"])
                continue
            }
            for (partition, stored) in ends.enumerated() where partition < Int(try broker.partitionCount(topic)) {
                let tp = TopicPartition(topic, Int32(partition))
                let end = try broker.offsets(tp).end
                guard stored <= end else {
                    throw RuntimeError(
                        "partition \(tp) ends at offset \(end), but the source had "
                            + "stored records up to offset \(stored): the log lost records it had acknowledged. "
                            + "Nothing was read. Restore the data directory from a backup; to go on without those "
                            + "records, forget the source's position with `sluice sources reset \(definition.name) "
                            + "--execute` (rows still in the topic are recognized and skipped)")
                }
            }
        }
        return checkpoint
    }

    /// The headers of the records this source stored after `checkpoint` (all of them when there is
    /// none), found by the producer id in their batches.
    private func storedAfter(_ checkpoint: SourceCheckpoint?, topics: [String]) throws -> [[Header]] {
        var result: [[Header]] = []
        for topic in topics {
            let count = try broker.partitionCount(topic)
            for partition in 0..<count {
                let tp = TopicPartition(topic, partition)
                var offset =
                    checkpoint?.partitionEnds[topic].flatMap { Int(partition) < $0.count ? $0[Int(partition)] : nil }
                    ?? 0
                let (start, end) = try broker.offsets(tp)
                offset = max(offset, start)
                while offset < end {
                    let bytes = try broker.read(tp, from: offset, maxBytes: 8 << 20)
                    guard !bytes.isEmpty else { break }
                    var next = offset
                    var position = 0
                    while position + RecordBatchHeader.size <= bytes.count {
                        let header = bytes.withUnsafeBytes { RecordBatchHeader($0, at: position) }
                        let size = header.totalSize
                        if header.producerId == producerId {
                            let block = try RecordBatchDecoder.decode(
                                Array(bytes[position..<(position + size)]), from: offset)
                            for index in 0..<block.count { result.append(block.record(index).headers) }
                        }
                        next = header.nextOffset
                        position += size
                    }
                    offset = max(next, offset + 1)
                }
            }
        }
        return result
    }
}
