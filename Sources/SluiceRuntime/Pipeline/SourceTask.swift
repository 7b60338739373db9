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
    let broker: any PipelineBroker
    /// Set when the run stops (a signal, or another task failed).
    let stop: RunStop
    let logger: Logger
    let factory: SourceFactory
    let producerId: Int64
    let metrics: SourceMetrics
    /// The sink groups that read the source's topic in this pipeline (a reload may change them).
    let sinkGroups = Locked<[String]>([])
    /// The connector instance of the pass under way, and what the passes before it did.
    private let source = Locked<(current: (any Source)?, earlier: SourceProgress)>((nil, SourceProgress()))
    private let counts = Locked((records: 0, deadLetters: 0))
    private var started: UInt64 = 0
    /// The stored checkpoint, once `prepare` checked it against the logs.
    private var checked: SourceCheckpoint??
    /// The connector's checkpoint this task last stored, which the next pass of a continuous run opens
    /// the source with.
    private var lastStored: [UInt8]?
    /// Actions after durable that failed, by description, so that each failure is logged once.
    private var failedActions: Set<String> = []
    /// In a continuous run: whether the run is draining (sources stop at a batch boundary).
    private var draining: @Sendable () -> Bool = { false }
    /// Whether the source runs pass after pass (`runContinuously`).
    private var continuous = false
    /// Where several processes share the source: this process's claim on it, and the epoch of the claim
    /// its position was read in.
    private var claim: (any SourceClaim)?
    private var claimedEpoch = 0
    /// Told when a pass starts (true) and ends (false), so that sinks stop waiting for a batch to fill
    /// while no source reads.
    var onReading: (@Sendable (Bool) -> Void)?
    /// Set when this source alone is to stop (a reload changed it): it ends as at a drain.
    let stopping = Locked(false)
    /// Whether a pass is under way, for the status.
    let reading = Locked(false)

    init(
        definition: SourceDefinition, broker: any PipelineBroker, factory: @escaping SourceFactory, stop: RunStop,
        logger: Logger
    ) {
        self.definition = definition
        self.broker = broker
        self.stop = stop
        self.factory = factory
        self.logger = logger
        producerId = Broker.producerId(forSource: definition.name)
        metrics = SourceMetrics(source: definition.name, topic: definition.topic)
    }

    /// The source's progress so far (zero before it opens).
    var progress: SourceProgress {
        source.withLock { state in
            var total = state.earlier
            if let current = state.current { total.add(current.progress) }
            return total
        }
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
        claim = try broker.claim(source: definition.name)
        defer { claim?.release() }
        // Joining the source's group takes a moment; a longer wait is worth a word.
        let waitStarted = Time.monotonicNanos()
        var told = false
        while true {
            while let claim, !claim.isOwner {
                if stop.isRequested { return }
                if !told && Time.monotonicNanos() - waitStarted > 3_000_000_000 {
                    logger.notice(
                        """
                        waiting for the source: another process runs it, or one that was stopped has not yet timed \
                        out of the source's group (10 s)
                        """, metadata: ["source": "\(definition.name)"])
                    told = true
                }
                Time.sleep(millis: 50)
            }
            _ = ownsSource()
            // A pass that lost the source (the cluster restarted, the group moved it) ended at a batch
            // boundary, not at the end of the input: it goes on once the source is this process's again
            // (it may be already: whether the input ended is what counts, not the claim as it is now).
            if try runPass() || stop.isRequested || claim == nil { return }
            logger.notice(
                "the source's claim was lost during a pass; going on when it is back",
                metadata: ["source": "\(definition.name)"])
        }
    }

    /// Where several processes share the source (a Kafka cluster): runs a pass only while it is this
    /// process's; each time it is gained, the position is read again from what the last owner stored.
    /// Returns whether a pass may run.
    private func ownsSource() -> Bool {
        guard let claim else { return true }
        guard claim.isOwner else { return false }
        if claim.epoch != claimedEpoch {
            if continuous || claimedEpoch != 0 {
                logger.notice("this process runs the source now", metadata: ["source": "\(definition.name)"])
            }
            claimedEpoch = claim.epoch
            lastStored = nil
            checked = nil
        }
        return true
    }

    /// Runs the source again and again, each pass from where the last one stopped, so that new files
    /// and rows appended to files already read are stored as they come; a row still being written (no
    /// line end yet, or a quote still open) waits for the next pass. A pass starts as soon as something
    /// changes in the folders of the source's `path` (inotify), and every `pollIntervalMillis` anyway
    /// (for file systems that do not report changes). Ends at a batch boundary once `draining` holds or
    /// the run stops. Blocks.
    func runContinuously(pollIntervalMillis: Int, draining: @escaping @Sendable () -> Bool) throws {
        started = Time.monotonicNanos()
        self.draining = draining
        continuous = true
        ThreadPriority.lowerCurrentThread(by: Self.niceness)
        let watcher = definition.options.string("path").flatMap {
            DirectoryWatcher(directories: [FileSystem.patternFolder($0)])
        }
        claim = try broker.claim(source: definition.name)
        defer { claim?.release() }
        while !stop.isRequested && !draining() {
            if ownsSource() { try runPass() }
            var waited = 0
            while waited < pollIntervalMillis && !stop.isRequested && !draining() {
                // Slices short enough for a drain to end the wait soon, long enough to cost nothing idle.
                let step = min(watcher == nil ? 50 : 500, pollIntervalMillis - waited)
                if let watcher {
                    if watcher.wait(timeoutMillis: step) { break }
                } else {
                    Time.sleep(millis: step)
                }
                waited += step
            }
        }
    }

    /// Opens the source and reads its input to the end once: the first pass from the stored checkpoint
    /// (with the records stored after it, after a crash), later ones from the checkpoint the last pass
    /// stored.
    @discardableResult
    private func runPass() throws -> Bool {
        let topics = [definition.topic, definition.deadLetterTopic]
        reading.withLock { $0 = true }
        onReading?(true)
        defer {
            reading.withLock { $0 = false }
            onReading?(false)
        }
        let context: SourceContext
        let (stop, draining, stopping) = (stop, draining, stopping)
        let claim = claim
        let isStopping: @Sendable () -> Bool = {
            stop.isRequested || draining() || stopping.withLock { $0 } || claim.map { !$0.isOwner } == true
        }
        if let lastStored {
            context = SourceContext(
                name: definition.name, options: definition.options, logger: logger, checkpoint: lastStored,
                continuous: continuous, stopping: isStopping)
        } else {
            let stored = try prepare()
            let inFlight = try storedAfter(stored, topics: topics)
            if !inFlight.isEmpty {
                logger.info(
                    "resuming after an interrupted run",
                    metadata: ["source": "\(definition.name)", "records_already_stored": "\(inFlight.count)"])
            }
            context = SourceContext(
                name: definition.name,
                options: definition.options,
                logger: logger,
                checkpoint: stored?.connector,
                storedAfterCheckpoint: inFlight,
                continuous: continuous,
                stopping: isStopping
            )
        }
        let opened = try factory(context)
        source.withLock { $0.current = opened }
        defer {
            opened.close()
            source.withLock { state in
                state.earlier.add(opened.progress)
                state.current = nil
            }
        }
        let queue = BoundedQueue<Read>(capacity: 2)
        let transfer = Transfer(opened)
        let inputEnded = Locked(false)
        let reader = WorkerThread(name: "source-\(definition.name)") {
            ThreadPriority.lowerCurrentThread(by: Self.niceness)
            let opened = transfer.value
            defer { queue.close() }
            // A pass ends at a batch boundary when the source passes to another process.
            while !stop.isRequested && !draining() && claim?.isOwner != false {
                var batch = SourceBatch(capacity: 4096, byteCapacity: 1 << 20)
                let more = try opened.nextBatch(&batch)
                let actions = opened.takeActionsAfterDurable()
                if !batch.isEmpty || !more || !actions.isEmpty {
                    guard queue.put(Read(batch: batch, checkpoint: opened.checkpoint(), actions: actions)) else {
                        return
                    }
                }
                if !more {
                    inputEnded.withLock { $0 = true }
                    return
                }
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
        return inputEnded.withLock { $0 }
    }

    /// What the reader hands the writer: a batch, the checkpoint after it, and what the source does once
    /// both are durable.
    private struct Read: Sendable {
        var batch: SourceBatch
        var checkpoint: [UInt8]
        var actions: [ActionAfterDurable]
    }

    private func write(_ queue: BoundedQueue<Read>, topics: [String]) throws {
        let producer = try broker.makeProducer(topic: definition.topic, source: definition.name)
        let deadLetters = try broker.makeProducer(topic: definition.deadLetterTopic, source: definition.name)
        while let read = queue.take() {
            let (batch, connectorCheckpoint) = (read.batch, read.checkpoint)
            try waitForSinks()
            // An idle pass of a continuous run changes nothing: it stores nothing (no fsync each pass).
            if batch.isEmpty && connectorCheckpoint == lastStored {
                try runAfterDurable(read.actions, topics: topics)
                continue
            }
            let now = Time.nowMillis()
            try producer.send(batch.records, now: now)
            try deadLetters.send(batch.deadLetters, now: now)
            var ends: [String: [Int64]] = [:]
            for topic in topics { ends[topic] = try broker.sourceEnds(topic) }
            var ids: [String: String] = [:]
            for topic in topics { ids[topic] = broker.topicID(topic) }
            let checkpoint = SourceCheckpoint(
                producerId: producerId, connector: connectorCheckpoint, partitionEnds: ends, topicIDs: ids)
            try broker.storeSourceCheckpoint(definition.name, checkpoint.encoded())
            lastStored = connectorCheckpoint
            counts.withLock {
                $0.records += batch.records.count
                $0.deadLetters += batch.deadLetters.count
            }
            metrics.rows.increment(by: Int64(batch.inputRows))
            metrics.bytes.increment(by: Int64(batch.inputBytes))
            metrics.deadLetters.increment(by: Int64(batch.deadLetters.count))
            metrics.appended.increment(by: Int64(batch.records.count))
            try runAfterDurable(read.actions, topics: topics)
        }
    }

    /// Makes what was stored durable whatever the topics' flush policies (the records and the dead
    /// letters; the checkpoint is synced when stored), then runs `actions`. One that fails is logged once and left: the source asks
    /// for it again on its next pass or run.
    private func runAfterDurable(_ actions: [ActionAfterDurable], topics: [String]) throws {
        guard !actions.isEmpty else { return }
        for topic in topics {
            for partition in 0..<(try broker.partitionCount(topic)) {
                try broker.flush(TopicPartition(topic, partition))
            }
        }
        for action in actions {
            do {
                guard try action.run() else { continue }
                failedActions.remove(action.description)
                logger.info(
                    "after_read", metadata: ["source": "\(definition.name)", "action": "\(action.description)"])
            } catch {
                guard failedActions.insert(action.description).inserted else { continue }
                logger.warning(
                    "after_read failed; it is tried again on the next pass",
                    metadata: [
                        "source": "\(definition.name)", "action": "\(action.description)", "error": "\(error)",
                    ])
            }
        }
    }

    /// Backpressure, only where it is needed: when the topic's retention could delete records a sink has
    /// not consumed, waits while the slowest sink group lags by more than the threshold. Otherwise the
    /// broker keeps everything on disk and the source never waits for a sink.
    private func waitForSinks() throws {
        let sinkGroups = sinkGroups.withLock { $0 }
        guard !sinkGroups.isEmpty, let config = broker.topicConfig(definition.topic),
            let threshold = definition.pauseThreshold(config)
        else { return }
        var logged = false
        while !stop.isRequested && !draining(),
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
        try broker.headers(storedBy: definition.name, after: checkpoint?.partitionEnds ?? [:], in: topics)
    }
}

extension SourceProgress {
    /// Adds what a later pass of the same source did; files held back are the later pass's, and files
    /// count only in passes that read rows (a file that grew counts in each pass that read some of it).
    mutating func add(_ later: SourceProgress) {
        if later.rowsRead + later.rowsSkipped > 0 {
            files += later.files
            filesDone += later.filesDone
        }
        rowsRead += later.rowsRead
        rowsDeadLettered += later.rowsDeadLettered
        rowsSkipped += later.rowsSkipped
        filesHeldBack = later.filesHeldBack
        bytesRead += later.bytesRead
        bytesTotal += later.bytesTotal
    }
}
