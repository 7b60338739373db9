import Logging
import SluiceCore
import SluiceLog

/// A member of a consumer group: joins, polls batches of records from the partitions it owns, and
/// commits offsets, as a Kafka consumer does.
///
/// Used by one thread; `poll` blocks up to its timeout. Each poll heartbeats: the member learns which
/// partitions it gained (it starts them at the committed offset, or at `earliest`/`latest` without
/// one) and which it must give up (`onPartitionsRevoked` runs, then they are released). Between
/// polls a member still owns what it was asked to revoke, so it can commit the batch it is working
/// on; a commit refused for an old generation is retried once in the new generation.
public final class GroupConsumer {
    /// Where a member starts a partition that has no committed offset.
    public enum OffsetReset: String, Sendable, CaseIterable {
        case earliest
        case latest
    }

    public struct Options: Sendable {
        public var group: String
        public var topics: [String]
        public var strategy: AssignmentStrategy = .range
        public var autoOffsetReset: OffsetReset = .earliest
        public var sessionTimeoutMs: Int64 = 45_000
        /// Stable member id; a random one when nil.
        public var memberId: String?

        public init(group: String, topics: [String]) {
            self.group = group
            self.topics = topics
        }
    }

    public let broker: Broker
    public let options: Options
    public let memberId: String
    public private(set) var generation: Int32 = 0
    /// The partitions this member owns now.
    public private(set) var assignment: Set<TopicPartition> = []
    /// Called with partitions the member has gained and the offsets it will read them from, before
    /// records are read from them. An error it throws comes out of `poll`.
    public var onPartitionsAssigned: (([TopicPartition: Int64]) throws -> Void)?
    /// Called with partitions the member must give up, before they are released. An error it throws
    /// comes out of `poll` (the partitions are released all the same).
    public var onPartitionsRevoked: ((Set<TopicPartition>) throws -> Void)?
    private var positions: [TopicPartition: Int64] = [:]
    private var pendingRevoke: Set<TopicPartition> = []
    private var pendingGain: Set<TopicPartition> = []
    private var cursor = 0
    private var closed = false

    /// Joins the group.
    public init(broker: Broker, options: Options) throws {
        self.broker = broker
        self.options = options
        memberId = options.memberId ?? "\(options.group)-\(UInt32.random(in: 0...UInt32.max))"
        try join()
    }

    deinit {
        close()
    }

    private func join() throws {
        var counts: [String: Int32] = [:]
        for topic in options.topics { counts[topic] = try broker.partitionCount(topic) }
        let view = broker.coordinator.join(
            group: options.group,
            member: memberId,
            topics: options.topics,
            strategy: options.strategy,
            sessionTimeoutMs: options.sessionTimeoutMs,
            partitionCounts: counts
        )
        apply(view)
    }

    private func apply(_ view: ConsumerGroupState.MemberView) {
        generation = view.generation
        assignment = view.owned
        pendingGain.formUnion(view.gained)
        pendingRevoke = view.revoke
    }

    /// Heartbeats and learns the current generation and ownership, without giving anything up.
    public func heartbeat() throws {
        guard let view = broker.coordinator.heartbeat(group: options.group, member: memberId) else {
            broker.logger.warning(
                "consumer was evicted from its group; joining again", metadata: ["group": "\(options.group)"])
            positions.removeAll()
            pendingGain.removeAll()
            let lost = assignment
            assignment = []
            try join()
            if !lost.isEmpty { try onPartitionsRevoked?(lost) }
            return
        }
        apply(view)
    }

    /// Heartbeats, gives up revoked partitions and starts gained ones.
    private func rebalanceIfNeeded() throws {
        try heartbeat()
        if !pendingRevoke.isEmpty {
            let revoked = pendingRevoke
            pendingRevoke = []
            defer {
                broker.coordinator.release(group: options.group, member: memberId, partitions: revoked)
                for tp in revoked { positions[tp] = nil }
                assignment.subtract(revoked)
                pendingGain.subtract(revoked)
            }
            broker.logger.debug(
                "giving up partitions", metadata: ["member": "\(memberId)", "partitions": "\(revoked.sorted())"])
            try onPartitionsRevoked?(revoked)
        }
        if !pendingGain.isEmpty {
            let gained = pendingGain
            pendingGain = []
            let committed = broker.committedOffsets(options.group)
            var starts: [TopicPartition: Int64] = [:]
            for tp in gained {
                let start = try committed[tp] ?? resetOffset(tp)
                positions[tp] = start
                starts[tp] = start
            }
            broker.logger.debug("taking partitions", metadata: ["member": "\(memberId)", "starts": "\(starts)"])
            try onPartitionsAssigned?(starts)
        }
    }

    private func resetOffset(_ tp: TopicPartition) throws -> Int64 {
        let (start, end) = try broker.offsets(tp)
        return options.autoOffsetReset == .earliest ? start : end
    }

    /// The next offset this member will read from `tp`.
    public func position(_ tp: TopicPartition) -> Int64? {
        positions[tp]
    }

    /// Moves the read position of an owned partition.
    public func seek(_ tp: TopicPartition, to offset: Int64) {
        guard assignment.contains(tp) else { return }
        positions[tp] = offset
    }

    /// Returns up to `maxRecords` records and about `maxBytes` bytes from owned partitions, waiting up to
    /// `timeoutMillis` for some to arrive. Partitions take turns being read first.
    public func poll(maxRecords: Int, maxBytes: Int, timeoutMillis: Int) throws -> [PartitionRecords] {
        let deadline = Time.monotonicNanos() + UInt64(max(0, timeoutMillis)) * 1_000_000
        while true {
            let seen = broker.appended.current
            try rebalanceIfNeeded()
            let fetched = try fetch(maxRecords: maxRecords, maxBytes: maxBytes)
            if !fetched.isEmpty { return fetched }
            let now = Time.monotonicNanos()
            guard now < deadline else { return [] }
            let wait = min(Int((deadline - now) / 1_000_000) + 1, 1000)
            broker.appended.wait(since: seen, timeoutMillis: wait)
        }
    }

    private func fetch(maxRecords: Int, maxBytes: Int) throws -> [PartitionRecords] {
        let owned = assignment.sorted()
        guard !owned.isEmpty else { return [] }
        var result: [PartitionRecords] = []
        var bytesLeft = maxBytes
        var recordsLeft = maxRecords
        cursor = (cursor + 1) % owned.count
        for step in 0..<owned.count {
            guard bytesLeft > 0 && recordsLeft > 0 else { break }
            let tp = owned[(cursor + step) % owned.count]
            guard var position = positions[tp] else { continue }
            let bytes: [UInt8]
            do {
                bytes = try broker.read(tp, from: position, maxBytes: bytesLeft)
            } catch let error as BrokerError where error.code == .offsetOutOfRange {
                let reset = try resetOffset(tp)
                broker.logger.warning(
                    "committed offset is no longer stored; starting over",
                    metadata: ["partition": "\(tp)", "offset": "\(position)", "reset_to": "\(reset)"]
                )
                position = reset
                positions[tp] = reset
                bytes = try broker.read(tp, from: position, maxBytes: bytesLeft)
            }
            guard !bytes.isEmpty else { continue }
            var block = try RecordBatchDecoder.decode(bytes, from: position)
            if block.count > recordsLeft { block.entries.removeLast(block.count - recordsLeft) }
            guard let last = block.entries.last else { continue }
            positions[tp] = last.offset + 1
            bytesLeft -= bytes.count
            recordsLeft -= block.count
            result.append(PartitionRecords(topicPartition: tp, records: block))
        }
        return result
    }

    /// Commits `offsets` (the next offset to read, per partition) for this member. A commit refused
    /// because the group moved to a new generation is retried once in that generation for the
    /// partitions the member still owns; partitions it no longer owns throw `notOwner`.
    public func commit(_ offsets: [TopicPartition: Int64]) throws {
        guard !offsets.isEmpty else { return }
        do {
            try broker.coordinator.commit(
                group: options.group, member: memberId, generation: generation, offsets: offsets)
        } catch let error as BrokerError where error.code == .staleGeneration {
            try heartbeat()
            try broker.coordinator.commit(
                group: options.group, member: memberId, generation: generation, offsets: offsets)
        }
    }

    /// Leaves the group; its partitions go to the other members at once.
    public func close() {
        guard !closed else { return }
        closed = true
        broker.coordinator.leave(group: options.group, member: memberId)
    }
}
