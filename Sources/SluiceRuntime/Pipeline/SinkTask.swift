import Logging
import Metrics
import SluiceBroker
import SluiceCore
import SluiceKit

/// One task of a sink: a consumer in the sink's group, on its own thread, with its own connector
/// instance. Its loop: poll a batch → write it → make it durable → send the records the sink could
/// not deliver to the dead-letter topic and make those durable → commit the offsets. Nothing is
/// committed that is not durable in the sink or in the dead-letter topic.
///
/// A transient failure aborts the batch and writes it again after a capped exponential backoff with
/// jitter, until `retry_timeout_ms`; a fatal one stops the run. On a rebalance the task finishes the
/// batch in hand and commits it for the partitions it still owns before giving any up.
final class SinkTask: @unchecked Sendable {
    struct Counters: Sendable {
        var consumed = 0
        var written = 0
        var deadLettered = 0
        var retries = 0
        var commits = 0
        /// Rows inserted and updated, from sinks that tell them apart (nil for the others).
        var writeCounts: SinkWriteCounts?
        /// Where the sink writes (`Sink.destination`).
        var destination: String?
    }

    let definition: SinkDefinition
    let index: Int
    let broker: any PipelineBroker
    /// Set when the run stops (a signal, or this or another task failed).
    let stop: RunStop
    let factory: SinkFactory
    let schemas: [String: TopicSchema]
    let logger: Logger
    let counters = Locked(Counters())
    let metrics: SinkMetrics
    /// Set by the pipeline when the task should finish: after its current batch, it leaves the group.
    let stopRequested = Locked(false)
    /// Set by the pipeline while no more records will arrive (at the end of a run; in a continuous run,
    /// while no source is reading), so tasks stop waiting for batches to fill.
    let inputFinished = Locked(false)
    /// Whether the run is continuous (a daemon): batches do not wait to fill (`batch_wait_ms` is for runs
    /// that read a known input), so a trickle of rows goes out at once and a flood still fills them.
    var continuous = false
    /// How long a batch of a continuous run waits to fill while a source reads. Measured with
    /// Benchmarks/daemon.sh (medians of 3): 0 gave a 1,000,000-row file dropped into a watched folder
    /// 0.85 × the rate of `sluice run` (many small batches) and rows written at 1,000/s a p50 latency of
    /// 15 ms; 50 ms gave 0.89–0.91 × and 36 ms; the whole batch_wait_ms (500) gave a p50 of 250 ms.
    /// Set by the task when it stops on an error, so the pipeline stops waiting for it.
    let failed = Locked(false)
    /// While the task waits to retry a batch: when the next attempt starts (monotonic nanoseconds) and
    /// why, for the progress line.
    let retrying = Locked<(until: UInt64, reason: String)?>(nil)
    /// Partitions given up while a batch was being gathered; their records leave the batch.
    private var revokedWhileGathering: Set<TopicPartition> = []
    /// The connector instance while the task runs, for `interrupt()` from the stopping thread.
    private let liveSink = Locked<(any Sink)?>(nil)
    /// For a sink that stores its offsets (exactly-once): what the task keeps between batches. Used by
    /// the task's thread only.
    var exactlyOnce = ExactlyOnceState()
    /// Shared by the sink's tasks: orders their dead letters against their claims.
    let deadLetterFence: DeadLetterFence

    /// The member was evicted from its group while it worked on a batch: the batch is dropped, not made
    /// durable or committed, and delivered again once the member has joined again.
    struct Fenced: Error {}

    init(
        definition: SinkDefinition,
        index: Int,
        broker: any PipelineBroker,
        factory: @escaping SinkFactory,
        schemas: [String: TopicSchema],
        stop: RunStop,
        deadLetterFence: DeadLetterFence = DeadLetterFence(),
        logger: Logger
    ) {
        self.deadLetterFence = deadLetterFence
        metrics = SinkMetrics(sink: definition.name)
        self.definition = definition
        self.index = index
        self.broker = broker
        self.stop = stop
        self.factory = factory
        self.schemas = schemas
        self.logger = logger
    }

    static let continuousLingerMillis = 50

    var memberId: String { "\(definition.name)-\(index)" }

    /// Runs until asked to stop. Blocks; throws `RuntimeError` when the sink fails for good.
    func run() throws {
        do {
            try loop()
        } catch {
            failed.withLock { $0 = true }
            // The run fails: sources stop reading (a paused one would otherwise wait for this sink). In a
            // continuous run, a failure whose cause may pass (a database down past retry_timeout_ms) ends
            // this sink alone, which the daemon starts again after a backoff (`PipelineTasks.superviseSinks`).
            // A task that ended because it was asked to (`RuntimeError.interrupted`) stops nothing more.
            let runtimeError = error as? RuntimeError
            if runtimeError?.isInterruption != true && !(continuous && runtimeError?.isTransient == true) {
                stop.request()
            }
            throw error
        }
    }

    private func loop() throws {
        let context = SinkContext(
            name: definition.name, task: index, group: definition.group, options: definition.options,
            topics: definition.topics,
            schemas: schemas,
            logger: logger)
        let sink: any Sink
        do {
            sink = try factory(context)
        } catch {
            throw RuntimeError("sink \"\(definition.name)\": \(Pipeline.describe(error))")
        }
        liveSink.withLock { $0 = sink }
        counters.withLock { $0.destination = sink.destination }
        defer {
            liveSink.withLock { $0 = nil }
            sink.stop()
        }
        var options = GroupConsumer.Options(group: definition.group, topics: definition.topics)
        options.memberId = memberId
        options.sessionTimeoutMs = definition.sessionTimeoutMs
        options.maxPollIntervalMs = definition.maxPollIntervalMs
        options.fetchMaxRecords = definition.maxBatchRecords
        options.fetchMaxBytes = definition.maxBatchBytes
        options.autoOffsetReset = definition.startFrom == "latest" ? .latest : .earliest
        let consumer = try broker.makeConsumer(options)
        defer { consumer.close() }
        let (broker, group, logger) = (broker, definition.group, logger)
        consumer.onPartitionsAssigned = { [unowned consumer, unowned self] starts in
            let highWater = broker.committedHighWater(group).filter { starts[$0.key] != nil }
            let rewinds = try sink.open(partitions: starts, committedBefore: highWater)
            if let storing = sink as? any OffsetStoringSink, storing.storesOffsets {
                try self.continueFromStoredPositions(storing, starts: starts, consumer: consumer)
                return
            }
            for (tp, offset) in rewinds.sorted(by: { $0.key < $1.key }) {
                guard let start = starts[tp], offset < start else { continue }
                let stored = try broker.offsets(tp).start
                guard offset >= stored else {
                    logger.warning(
                        "the sink asked for records from before where its group starts, which are no longer stored",
                        metadata: ["partition": "\(tp)", "from": "\(offset)", "stored_from": "\(stored)"])
                    continue
                }
                consumer.seek(tp, to: offset)
            }
        }
        consumer.onPartitionsRevoked = { [unowned self] partitions in
            revokedWhileGathering.formUnion(partitions)
            try sink.close(partitions: partitions)
        }
        let deadLetters = try broker.makeProducer(topic: definition.deadLetterTopic, source: nil)
        while !stopRequested.withLock({ $0 }) {
            let polled = try nextBatch(consumer)
            if !exactlyOnce.brokerBehind.isEmpty {
                let behind = exactlyOnce.brokerBehind.filter { consumer.owns([$0.key]) }
                exactlyOnce.brokerBehind = [:]
                if !behind.isEmpty { try consumer.commit(behind) }
            }
            guard !polled.partitions.isEmpty else { continue }
            let epoch = consumer.membershipEpoch
            var offsets: [TopicPartition: Int64] = [:]
            for chunk in polled.partitions {
                if let next = chunk.nextOffset {
                    offsets[chunk.topicPartition] = max(offsets[chunk.topicPartition] ?? 0, next)
                }
            }
            // Chunks without records (control batches read past) move the offsets but give the sink nothing.
            let batch = SinkBatch(partitions: polled.partitions.filter { !$0.records.isEmpty })
            let owned = Set(offsets.keys)
            let stillOwner = { consumer.membershipEpoch == epoch && consumer.owns(owned) }
            do {
                if !batch.partitions.isEmpty {
                    try deliver(
                        batch, next: offsets, sink: sink, consumer: consumer, deadLetters: deadLetters,
                        stillOwner: stillOwner)
                }
                guard stillOwner() else { throw Fenced() }
                try consumer.commit(offsets)
            } catch let rewind as Rewind {
                logger.warning(
                    """
                    the sink's database holds fewer batches than were committed to it (a failover or a restore); \
                    delivering again from the offsets it holds
                    """,
                    metadata: ["sink": "\(definition.name)", "task": "\(index)", "offsets": "\(rewind.positions)"])
                try rewindTo(rewind.positions, consumer: consumer)
                continue
            } catch is Fenced {
                logger.warning(
                    """
                    the task was evicted from its group while it worked on a batch (it took longer than \
                    max_poll_interval_ms, or missed its session); the batch is not committed and will be \
                    delivered again
                    """,
                    metadata: ["sink": "\(definition.name)", "task": "\(index)", "records": "\(batch.count)"])
                continue
            } catch let error as BrokerError where error.code == .unknownMember {
                logger.warning(
                    "the task was evicted from its group before it committed; the batch will be delivered again",
                    metadata: ["sink": "\(definition.name)", "task": "\(index)", "error": "\(error.message)"])
                continue
            }
            counters.withLock { $0.commits += 1 }
            metrics.commits.increment()
        }
    }

    /// Asks the connector to end a blocking call at once (the run is stopping). From any thread.
    func interrupt() {
        liveSink.withLock { $0?.interrupt() }
    }

    /// Polls until the batch is full, or `batch_wait_ms` passed since its first records arrived, or
    /// nothing more is there once the input has finished.
    private func nextBatch(_ consumer: any GroupReader) throws -> SinkBatch {
        var chunks: [PartitionRecords] = []
        var records = 0
        var bytes = 0
        var firstArrival: UInt64?
        revokedWhileGathering.removeAll()
        defer { revokedWhileGathering.removeAll() }
        while records < definition.maxBatchRecords && bytes < definition.maxBatchBytes {
            let finished = inputFinished.withLock { $0 }
            var timeout = 100
            var lingerLeft = 0
            if let firstArrival {
                let waited = Int((Time.monotonicNanos() - firstArrival) / 1_000_000)
                // In a continuous run a batch waits a moment at most: while the task writes it, the next
                // one gathers, so batches grow with the flow (as a Kafka consumer's polls do).
                let wait =
                    continuous ? min(definition.batchWaitMs, Self.continuousLingerMillis) : definition.batchWaitMs
                lingerLeft = finished ? 0 : max(0, wait - waited)
                timeout = min(lingerLeft, 100)
            }
            let polled = try consumer.poll(
                maxRecords: definition.maxBatchRecords - records,
                maxBytes: definition.maxBatchBytes - bytes,
                timeoutMillis: timeout,
                interrupted: { stopRequested.withLock { $0 } }
            )
            if !revokedWhileGathering.isEmpty {
                // Partitions given up during this poll go to another task, which reads them again from
                // the committed offset; what was gathered of them leaves the batch. What the poll returns
                // comes after the rebalance and is for partitions this task owns, also one it gave up
                // and got back within the same batch.
                chunks.removeAll { revokedWhileGathering.contains($0.topicPartition) }
                revokedWhileGathering.removeAll()
                records = chunks.reduce(0) { $0 + $1.records.count }
                bytes = chunks.reduce(0) { $0 + $1.records.bytes.count }
                if chunks.isEmpty { firstArrival = nil }
            }
            if polled.isEmpty {
                if stopRequested.withLock({ $0 }) { break }
                if firstArrival == nil ? finished : lingerLeft <= timeout { break }
                continue
            }
            if firstArrival == nil { firstArrival = Time.monotonicNanos() }
            for chunk in polled {
                records += chunk.records.count
                bytes += chunk.records.bytes.count
            }
            chunks += polled
        }
        return SinkBatch(partitions: chunks)
    }

    /// Writes, flushes and dead-letters one batch, retrying transient failures. Before the batch is made
    /// durable, `stillOwner` must hold (the member was not evicted meanwhile), or it is dropped (`Fenced`).
    /// A stop ends the retries at once.
    private func deliver(
        _ batch: SinkBatch, next: [TopicPartition: Int64], sink: any Sink, consumer: any GroupReader,
        deadLetters: any RecordSender, stillOwner: () -> Bool
    ) throws {
        let storing = (sink as? any OffsetStoringSink).flatMap { $0.storesOffsets ? $0 : nil }
        let started = Time.monotonicNanos()
        var attempt = 0
        /// The records the last attempt could not deliver, for a batch found committed after a failure.
        var lastFailures: [RecordFailure] = []
        while true {
            do {
                if let storing, attempt > 0 {
                    // The failure may have come after the commit (the connection lost while COMMIT was on
                    // its way), or the database may have lost commits (a failover): its positions tell.
                    switch try committedOutcome(storing, next: next) {
                    case .committed:
                        logger.notice(
                            "the batch was committed before the failure; not loading it again",
                            metadata: ["sink": "\(definition.name)", "task": "\(index)"])
                        exactlyOnce.committed(next)
                        counters.withLock {
                            $0.consumed += batch.count
                            $0.written += batch.count - lastFailures.count
                            $0.deadLettered += lastFailures.count
                        }
                        metrics.written.increment(by: Int64(batch.count - lastFailures.count))
                        metrics.deadLettered(lastFailures)
                        retrying.withLock { $0 = nil }
                        return
                    case .rewound(let stored):
                        throw Rewind(positions: stored)
                    case .movedByAnother:
                        logger.warning(
                            "another task stored offsets for a partition of this batch since; the batch is dropped",
                            metadata: ["sink": "\(definition.name)", "task": "\(index)"])
                        throw Fenced()
                    case .notCommitted:
                        break
                    }
                }
                let writeStarted = Time.monotonicNanos()
                let failures = try sink.write(batch)
                metrics.writeDuration.recordNanoseconds(Int64(Time.monotonicNanos() - writeStarted))
                lastFailures = failures
                guard stillOwner() else {
                    sink.abort()
                    throw Fenced()
                }
                if let problem = deadLetterLimitExceeded(by: failures, of: batch.count) {
                    sink.abort()
                    throw RuntimeError(problem)
                }
                if stop.isRequested {
                    sink.abort()
                    throw RuntimeError.interrupted
                }
                if let storing {
                    // The positions first (which checks the claim and holds it until the commit), then the
                    // dead letters, then the rows and the positions commit together: a record ends up
                    // either in the sink or in the dead-letter topic, once.
                    do {
                        try storing.stage(positions(after: next), replacing: exactlyOnce.held)
                    } catch let fenced as SinkFenced {
                        sink.abort()
                        // The database may have lost commits (a failover) rather than another task
                        // having claimed the partitions: its positions tell.
                        if case .rewound(let stored) = try committedOutcome(storing, next: next) {
                            throw Rewind(positions: stored)
                        }
                        logger.warning(
                            "\(fenced.message)", metadata: ["sink": "\(definition.name)", "task": "\(index)"])
                        throw Fenced()
                    }
                    guard try deadLetterOnce(failures, batch, deadLetters) else {
                        sink.abort()
                        logger.warning(
                            "another task claimed a partition of this batch while it was being committed; the batch is dropped",
                            metadata: ["sink": "\(definition.name)", "task": "\(index)"])
                        throw Fenced()
                    }
                    let flushStarted = Time.monotonicNanos()
                    try sink.flush()
                    metrics.commitDuration.recordNanoseconds(Int64(Time.monotonicNanos() - flushStarted))
                    exactlyOnce.committed(next)
                } else {
                    let flushStarted = Time.monotonicNanos()
                    try sink.flush()
                    metrics.commitDuration.recordNanoseconds(Int64(Time.monotonicNanos() - flushStarted))
                    if !failures.isEmpty { try deadLetter(failures, batch, deadLetters) }
                }
                let (flushed, destination) = (sink.flushedCounts, sink.destination)
                counters.withLock {
                    if let flushed { $0.writeCounts = ($0.writeCounts ?? SinkWriteCounts()) + flushed }
                    $0.destination = destination
                    $0.consumed += batch.count
                    $0.written += batch.count - failures.count
                    $0.deadLettered += failures.count
                }
                metrics.written.increment(by: Int64(batch.count - failures.count))
                metrics.deadLettered(failures)
                retrying.withLock { $0 = nil }
                return
            } catch let error as ConnectorError where error.kind == .transient {
                sink.abort()
                if stop.isRequested { throw RuntimeError.interrupted }
                let elapsed = Int((Time.monotonicNanos() - started) / 1_000_000)
                if elapsed >= definition.retryTimeoutMs {
                    throw RuntimeError(
                        "sink \"\(definition.name)\" gave up after retrying for \(elapsed / 1000) s "
                            + "(retry_timeout_ms \(definition.retryTimeoutMs), \(attempt) retries); "
                            + "it kept failing with: \(error.message). Nothing was committed past what was written.",
                        transient: true)
                }
                counters.withLock { $0.retries += 1 }
                metrics.retries.increment()
                // The last wait ends at the timeout, not past it.
                let delay = max(
                    1,
                    min(
                        Backoff.delay(attempt: attempt, initial: definition.retryInitialMs, max: definition.retryMaxMs),
                        definition.retryTimeoutMs - elapsed))
                logger.warning(
                    "sink write failed; retrying",
                    metadata: [
                        "sink": "\(definition.name)", "task": "\(index)", "error": "\(error.message)",
                        "retry_in_ms": "\(delay)",
                    ])
                retrying.withLock { $0 = (Time.monotonicNanos() + UInt64(delay) * 1_000_000, error.message) }
                try sleep(millis: delay, heartbeating: consumer)
                // Asked to stop while retrying (the run stops, or a reload or a restart replaces this
                // sink): the batch is left uncommitted, to be delivered again.
                if stop.isRequested || stopRequested.withLock({ $0 }) { throw RuntimeError.interrupted }
                attempt += 1
            } catch let error as ConnectorError {
                sink.abort()
                if stop.isRequested { throw RuntimeError.interrupted }
                throw RuntimeError("sink \"\(definition.name)\": \(error.message)")
            }
        }
    }

    /// Whether `failures` out of `count` more records take the task past `max_dead_letter_percent` (once
    /// it has seen 100 records); the error to stop with when they do.
    private func deadLetterLimitExceeded(by failures: [RecordFailure], of count: Int) -> String? {
        guard let first = failures.first, definition.maxDeadLetterPercent < 100 else { return nil }
        let (consumed, deadLettered) = counters.withLock { ($0.consumed + count, $0.deadLettered + failures.count) }
        guard consumed >= 100, deadLettered * 100 > consumed * definition.maxDeadLetterPercent else { return nil }
        return "sink \"\(definition.name)\" could not deliver \(Format.count(deadLettered)) of "
            + "\(Format.count(consumed)) records (\(deadLettered * 100 / consumed)%), more than max_dead_letter_percent "
            + "(\(definition.maxDeadLetterPercent)%); the first: \(first.error.message) (\(first.topicPartition) offset "
            + "\(first.offset)). Nothing of this batch was committed. Fix the cause, or raise "
            + "sinks.\(definition.name).max_dead_letter_percent if so many bad records are expected"
    }

    /// Sleeps, heartbeating every second so that a long backoff does not cost the task its partitions, and
    /// waking within 50 ms when the run stops.
    private func sleep(millis: Int, heartbeating consumer: any GroupReader) throws {
        var left = millis
        var sinceHeartbeat = 0
        while left > 0 && !stop.isRequested && !stopRequested.withLock({ $0 }) {
            let step = min(left, 50)
            Time.sleep(millis: step)
            left -= step
            sinceHeartbeat += step
            if sinceHeartbeat >= 1000 {
                try consumer.heartbeat()
                sinceHeartbeat = 0
            }
        }
    }

    /// Appends the failed records to the dead-letter topic, with the original key, value and headers
    /// and headers saying what failed, and makes them durable.
    func deadLetter(_ failures: [RecordFailure], _ batch: SinkBatch, _ producer: any RecordSender) throws {
        var block = RecordBlock()
        let now = Time.nowMillis()
        for failure in failures {
            guard
                let chunk = batch.partitions.first(where: {
                    $0.topicPartition == failure.topicPartition && $0.records.contains(failure.offset)
                }),
                let index = chunk.records.index(ofOffset: failure.offset)
            else {
                // Committing past a record that was neither written nor dead-lettered would lose it.
                throw RuntimeError(
                    "sink \"\(definition.name)\" reported a failed record at \(failure.topicPartition) offset "
                        + "\(failure.offset), which is not in the batch it was given; this is a bug in the sink. "
                        + "Nothing was committed for this batch.")
            }
            var original = chunk.records.record(index)
            original.timestamp = now
            original.offset = -1
            block.append(original)
            DeadLetter.addHeader(&block, SluiceHeader.errorClass, failure.error.errorClass)
            DeadLetter.addHeader(&block, SluiceHeader.errorMessage, failure.error.message)
            DeadLetter.addHeader(&block, SluiceHeader.errorStage, "sink")
            DeadLetter.addHeader(&block, SluiceHeader.connector, definition.name)
            DeadLetter.addHeader(&block, SluiceHeader.originalTopic, failure.topicPartition.topic)
            DeadLetter.addHeader(&block, SluiceHeader.originalPartition, String(failure.topicPartition.partition))
            DeadLetter.addHeader(&block, SluiceHeader.originalOffset, String(failure.offset))
            DeadLetter.addHeader(&block, SluiceHeader.failedAt, Timestamp.iso8601(millis: now))
        }
        for result in try producer.send(block, now: now) {
            try broker.flush(TopicPartition(definition.deadLetterTopic, result.partition))
        }
    }
}

/// Capped exponential backoff with jitter.
public enum Backoff {
    /// The wait before retry `attempt` (0-based): `initial × 2^attempt`, at most `max`, then a random
    /// value between half of it and all of it.
    public static func delay(attempt: Int, initial: Int, max limit: Int) -> Int {
        let exponent = min(attempt, 30)
        let base = min(
            limit, initial.multipliedReportingOverflow(by: 1 << exponent).overflow ? limit : initial << exponent)
        return Int.random(in: (base / 2)...Swift.max(base / 2, base))
    }
}

extension RecordBlock {
    /// Whether a record with `offset` is in the block (entries are in offset order).
    func contains(_ offset: Int64) -> Bool {
        index(ofOffset: offset) != nil
    }

    /// The index of the record with `offset`, by binary search.
    func index(ofOffset offset: Int64) -> Int? {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].offset < offset { low = mid + 1 } else { high = mid }
        }
        return low < entries.count && entries[low].offset == offset ? low : nil
    }
}
