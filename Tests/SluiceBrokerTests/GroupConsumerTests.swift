import SluiceBroker
import SluiceCore
import SluiceTestSupport
import Testing

@Suite struct GroupConsumerTests {
    private typealias Support = BrokerTestSupport

    private func options(
        _ group: String,
        _ topics: [String],
        reset: GroupConsumer.OffsetReset = .earliest,
        strategy: AssignmentStrategy = .range,
        sessionTimeoutMs: Int64 = 45_000,
        maxPollIntervalMs: Int64 = 300_000,
        memberId: String? = nil
    ) -> GroupConsumer.Options {
        var options = GroupConsumer.Options(group: group, topics: topics)
        options.autoOffsetReset = reset
        options.strategy = strategy
        options.sessionTimeoutMs = sessionTimeoutMs
        options.maxPollIntervalMs = maxPollIntervalMs
        options.memberId = memberId
        return options
    }

    /// A broker in `dir` with `topic` of `partitions` partitions holding `count` keyed records.
    private func broker(_ dir: TemporaryDirectory, topic: String = "t", partitions: Int32, count: Int) throws -> Broker
    {
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic(topic, config: TopicConfig(partitions: partitions))
        if count > 0 { try Support.produce(broker, topic, count: count) }
        return broker
    }

    private func endOffsets(_ broker: Broker, _ topic: String) throws -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for partition in 0..<(try broker.partitionCount(topic)) {
            let tp = TopicPartition(topic, partition)
            result[tp] = try broker.offsets(tp).end
        }
        return result
    }

    @Test func consumesCommitsAndANewMemberResumes() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 3, count: 30)
        var assigned: Set<TopicPartition> = []
        do {
            let consumer = try GroupConsumer(broker: broker, options: options("g", ["t"]))
            consumer.onPartitionsAssigned = { assigned.formUnion($0.keys) }
            let polled = try Support.poll(consumer, count: 30)
            #expect(polled.count == 30)
            #expect(Set(polled.map(\.value)) == Set((0..<30).map { "r-v\($0)" }))
            #expect(Set(polled).count == 30)
            #expect(consumer.assignment == Set((0..<3).map { TopicPartition("t", $0) }))
            #expect(broker.committedOffsets("g") == (try endOffsets(broker, "t")))
            // Records come in offset order within each partition.
            for partition in 0..<Int32(3) {
                let offsets = polled.filter { $0.tp.partition == partition }.map(\.offset)
                #expect(offsets == Array(0..<Int64(offsets.count)))
            }
            consumer.close()
        }
        #expect(assigned == Set((0..<3).map { TopicPartition("t", $0) }))

        let next = try GroupConsumer(broker: broker, options: options("g", ["t"]))
        #expect(try next.poll(maxRecords: 100, maxBytes: 1 << 20, timeoutMillis: 20).isEmpty)
        for partition in 0..<Int32(3) {
            let tp = TopicPartition("t", partition)
            #expect(next.position(tp) == broker.committedOffsets("g")[tp])
        }
        try Support.produce(broker, "t", count: 6, tag: "more")
        let more = try Support.poll(next, count: 6)
        #expect(Set(more.map(\.value)) == Set((0..<6).map { "more-v\($0)" }))
        // Another group starts from the beginning.
        let other = try GroupConsumer(broker: broker, options: options("other", ["t"]))
        #expect(try Support.poll(other, count: 36, commit: false).count == 36)
    }

    @Test func committedOffsetsSurviveReopeningTheBroker() throws {
        let dir = TemporaryDirectory()
        var committed: [TopicPartition: Int64] = [:]
        do {
            let broker = try broker(dir, partitions: 2, count: 20)
            let consumer = try GroupConsumer(broker: broker, options: options("durable", ["t"]))
            let batches = try consumer.poll(maxRecords: 7, maxBytes: 1 << 20, timeoutMillis: 100)
            #expect(batches.reduce(0) { $0 + $1.records.count } == 7)
            committed = Support.nextOffsets(batches)
            try consumer.commit(committed)
            consumer.close()
            try broker.close()
        }
        let reopened = try Broker(dataDirectory: dir.path)
        #expect(reopened.committedOffsets("durable") == committed)
        #expect(reopened.groupNames() == ["durable"])
        let consumer = try GroupConsumer(broker: reopened, options: options("durable", ["t"]))
        let rest = try Support.poll(consumer, count: 13)
        #expect(rest.count == 13)
        for record in rest {
            #expect(record.offset >= committed[record.tp] ?? 0)
        }
        #expect(reopened.committedOffsets("durable") == (try endOffsets(reopened, "t")))
    }

    @Test func latestStartsAtTheEnd() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 2, count: 10)
        let consumer = try GroupConsumer(broker: broker, options: options("late", ["t"], reset: .latest))
        #expect(try consumer.poll(maxRecords: 100, maxBytes: 1 << 20, timeoutMillis: 20).isEmpty)
        let ends = try endOffsets(broker, "t")
        for (tp, end) in ends { #expect(consumer.position(tp) == end) }
        try Support.produce(broker, "t", count: 3, tag: "new")
        let polled = try Support.poll(consumer, count: 3)
        #expect(Set(polled.map(\.value)) == ["new-v0", "new-v1", "new-v2"])
        // A committed offset wins over the reset policy.
        consumer.close()
        try Support.produce(broker, "t", count: 4, tag: "after")
        let again = try GroupConsumer(broker: broker, options: options("late", ["t"], reset: .latest))
        #expect(Set(try Support.poll(again, count: 4).map(\.value)) == Set((0..<4).map { "after-v\($0)" }))
    }

    @Test func aGroupNeedsANameAndInternalTopicsTakeNoRecordsFromProducers() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 1, count: 0)
        #expect(throws: BrokerError.self) { try GroupConsumer(broker: broker, options: options("", ["t"])) }
        let offsets = try #require(broker.topicNames().first { TopicName.isInternal($0) })
        let error = try #require(throws: BrokerError.self) { try Producer(broker: broker, topic: offsets) }
        #expect(error.message.contains("written by the broker only"))
    }

    @Test func anInterruptedPollReturnsBeforeItsTimeout() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 1, count: 0)
        let consumer = try GroupConsumer(broker: broker, options: options("wake", ["t"]))
        let stop = Locked(false)
        let waker = WorkerThread(name: "waker") {
            Time.sleep(millis: 50)
            stop.withLock { $0 = true }
            broker.appended.notify()
        }
        let started = Time.monotonicNanos()
        let polled = try consumer.poll(
            maxRecords: 10, maxBytes: 1 << 20, timeoutMillis: 60_000, interrupted: { stop.withLock { $0 } })
        waker.join()
        #expect(polled.isEmpty)
        #expect(Time.monotonicNanos() - started < 30_000_000_000)
    }

    @Test func pollsSmallerThanTheReadAheadStillReadEveryRecordInOrder() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 2, count: 200)
        var options = options("small", ["t"])
        options.fetchMaxRecords = 150
        options.fetchMaxBytes = 1 << 20
        let consumer = try GroupConsumer(broker: broker, options: options)
        var seen: [TopicPartition: [Int64]] = [:]
        var total = 0
        while total < 200 {
            let polled = try consumer.poll(maxRecords: 7, maxBytes: 1 << 20, timeoutMillis: 1000)
            #expect(!polled.isEmpty)
            for chunk in polled {
                seen[chunk.topicPartition, default: []] += chunk.records.entries.map(\.offset)
                total += chunk.records.count
            }
            #expect(polled.reduce(0) { $0 + $1.records.count } <= 7)
        }
        #expect(total == 200)
        for (tp, offsets) in seen {
            #expect(offsets == Array(0..<(try broker.offsets(tp).end)))
        }
    }

    @Test func seekMovesTheReadPosition() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 1, count: 10)
        let consumer = try GroupConsumer(broker: broker, options: options("seek", ["t"]))
        #expect(try Support.poll(consumer, count: 10, commit: false).count == 10)
        let tp = TopicPartition("t", 0)
        consumer.seek(tp, to: 4)
        consumer.seek(TopicPartition("t", 7), to: 0)
        #expect(consumer.position(TopicPartition("t", 7)) == nil)
        let polled = try Support.poll(consumer, count: 6, commit: false)
        #expect(polled.map(\.offset) == [4, 5, 6, 7, 8, 9])
    }

    @Test func twoMembersSplitPartitionsAndReadEveryRecordOnce() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 4, count: 0)
        let producer = try Producer(broker: broker, topic: "t")
        try producer.send(Support.block(80, tag: "first"))
        let a = try GroupConsumer(broker: broker, options: options("split", ["t"], memberId: "a"))
        var revokedFromA: Set<TopicPartition> = []
        a.onPartitionsRevoked = { revokedFromA.formUnion($0) }
        // "a" reads part of the topic alone, then "b" joins.
        let first = try a.poll(maxRecords: 15, maxBytes: 1 << 20, timeoutMillis: 100)
        var seen = Support.flatten(first)
        #expect(seen.count == 15)
        try a.commit(Support.nextOffsets(first))
        let b = try GroupConsumer(broker: broker, options: options("split", ["t"], memberId: "b"))
        try producer.send(Support.block(80, tag: "second"))

        var emptyRounds = 0
        while seen.count < 160 && emptyRounds < 20 {
            var progress = false
            for consumer in [a, b] {
                let batches = try consumer.poll(maxRecords: 10, maxBytes: 1 << 20, timeoutMillis: 10)
                progress = progress || !batches.isEmpty
                seen += Support.flatten(batches)
                try consumer.commit(Support.nextOffsets(batches))
                #expect(a.assignment.isDisjoint(with: b.assignment))
            }
            emptyRounds = progress ? 0 : emptyRounds + 1
        }
        #expect(seen.count == 160)
        #expect(Set(seen).count == 160)
        #expect(Set(seen.map(\.value)).count == 160)
        #expect(a.assignment == [TopicPartition("t", 0), TopicPartition("t", 1)])
        #expect(b.assignment == [TopicPartition("t", 2), TopicPartition("t", 3)])
        #expect(revokedFromA == [TopicPartition("t", 2), TopicPartition("t", 3)])
        #expect(a.generation == b.generation)
        #expect(broker.committedOffsets("split") == (try endOffsets(broker, "t")))
        // Each read only its own partitions after "b" joined.
        let description = try broker.describeGroup("split")
        #expect(description.members == ["a", "b"])
        #expect(description.partitions.map(\.member) == ["a", "a", "b", "b"])
    }

    @Test func lagIsEndMinusCommitted() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 3, count: 60)
        let consumer = try GroupConsumer(broker: broker, options: options("lagging", ["t"], memberId: "m1"))
        _ = try consumer.poll(maxRecords: 1, maxBytes: 1 << 20, timeoutMillis: 100)
        let ends = try endOffsets(broker, "t")
        let t0 = TopicPartition("t", 0)
        let t1 = TopicPartition("t", 1)
        try consumer.commit([t0: 2, t1: ends[t1] ?? 0])

        let description = try broker.describeGroup("lagging")
        #expect(description.group == "lagging")
        #expect(description.state == "Stable")
        #expect(description.members == ["m1"])
        #expect(description.generation == consumer.generation)
        #expect(description.partitions.map(\.topicPartition) == [t0, t1, TopicPartition("t", 2)])
        let byPartition = Dictionary(uniqueKeysWithValues: description.partitions.map { ($0.topicPartition, $0) })
        #expect(byPartition[t0]?.committed == 2)
        #expect(byPartition[t0]?.endOffset == ends[t0])
        #expect(byPartition[t0]?.lag == (ends[t0] ?? 0) - 2)
        #expect(byPartition[t1]?.lag == 0)
        #expect(byPartition[TopicPartition("t", 2)]?.committed == nil)
        // Without a commit the group has the whole partition still to read, from its log start.
        let t2 = TopicPartition("t", 2)
        #expect(byPartition[t2]?.lag == ends[t2])
        #expect(description.partitions.allSatisfy { $0.member == "m1" })
        #expect(description.totalLag == (ends[t0] ?? 0) - 2 + (ends[t2] ?? 0))

        let lag = try broker.lag(group: "lagging", topics: ["t"])
        #expect(lag.map(\.topicPartition) == [t0, t1, TopicPartition("t", 2)])
        #expect(lag.map(\.lag) == [(ends[t0] ?? 0) - 2, 0, ends[t2]])

        // New records raise the lag; the group's members leave and it is empty but keeps its offsets.
        try Support.produce(broker, "t", count: 30, tag: "more")
        let grown = try broker.lag(group: "lagging", topics: ["t"])
        let newEnds = try endOffsets(broker, "t")
        #expect(grown.map(\.lag) == [(newEnds[t0] ?? 0) - 2, (newEnds[t1] ?? 0) - (ends[t1] ?? 0), newEnds[t2]])
        consumer.close()
        let empty = try broker.describeGroup("lagging")
        #expect(empty.state == "Empty")
        #expect(empty.members == [])
        #expect(empty.partitions.map(\.topicPartition) == [t0, t1, t2])
        #expect(empty.partitions.allSatisfy { $0.member == nil })
        #expect(broker.groupNames() == ["lagging"])
    }

    @Test func setCommittedOffsetsResetsAnIdleGroup() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 1, count: 10)
        let tp = TopicPartition("t", 0)
        try broker.setCommittedOffsets("reset", [tp: 7])
        let consumer = try GroupConsumer(broker: broker, options: options("reset", ["t"]))
        #expect(throws: BrokerError.self) { try broker.setCommittedOffsets("reset", [tp: 0]) }
        #expect(try Support.poll(consumer, count: 3).map(\.offset) == [7, 8, 9])
        consumer.close()
        try broker.setCommittedOffsets("reset", [tp: 0])
        #expect(broker.committedOffsets("reset") == [tp: 0])
    }

    @Test func aCommitFromAnOldGenerationIsRetriedForPartitionsStillOwned() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 4, count: 40)
        let a = try GroupConsumer(broker: broker, options: options("fenced", ["t"], memberId: "a"))
        let batches = try a.poll(maxRecords: 1_000, maxBytes: 1 << 20, timeoutMillis: 100)
        let offsets = Support.nextOffsets(batches)
        #expect(offsets.count == 4)
        let oldGeneration = a.generation

        let b = try GroupConsumer(broker: broker, options: options("fenced", ["t"], memberId: "b"))
        #expect(b.generation == oldGeneration + 1)
        #expect(a.generation == oldGeneration)
        // Partition 0 stays with "a"; partition 2 it must give up but has not released yet.
        let t0 = TopicPartition("t", 0)
        let t2 = TopicPartition("t", 2)
        try a.commit([t0: offsets[t0] ?? 0, t2: offsets[t2] ?? 0])
        #expect(a.generation == oldGeneration + 1)
        #expect(broker.committedOffsets("fenced")[t0] == offsets[t0])
        #expect(broker.committedOffsets("fenced")[t2] == offsets[t2])

        // Once "a" has released partition 2 (on its next poll), a commit for it is refused.
        _ = try a.poll(maxRecords: 1, maxBytes: 1 << 20, timeoutMillis: 0)
        #expect(!a.assignment.contains(t2))
        var error: BrokerError?
        do { try a.commit([t2: 1]) } catch let caught as BrokerError { error = caught }
        #expect(error?.code == .notOwner)
        #expect(broker.committedOffsets("fenced")[t2] == offsets[t2])
        // "b" starts partition 2 where "a" committed.
        _ = try b.poll(maxRecords: 1, maxBytes: 1 << 20, timeoutMillis: 0)
        #expect(b.assignment.contains(t2))
        #expect(b.position(t2) ?? 0 >= offsets[t2] ?? 0)
    }

    /// A member that stops polling for longer than its poll interval is evicted (its background heartbeat
    /// does not keep it), and its commit is refused.
    @Test func anEvictedMembersCommitIsRefused() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 2, count: 20)
        let stale = try GroupConsumer(
            broker: broker, options: options("evict", ["t"], maxPollIntervalMs: 50, memberId: "s"))
        let batches = try stale.poll(maxRecords: 5, maxBytes: 1 << 20, timeoutMillis: 100)
        let offsets = Support.nextOffsets(batches)
        #expect(!offsets.isEmpty)
        let live = try GroupConsumer(broker: broker, options: options("evict", ["t"], memberId: "l"))
        Time.sleep(millis: 120)
        try live.heartbeat()
        #expect(try broker.describeGroup("evict").members == ["l"])

        var error: BrokerError?
        do { try stale.commit(offsets) } catch let caught as BrokerError { error = caught }
        #expect(error?.code == .unknownMember)
        #expect(broker.committedOffsets("evict").isEmpty)

        // The survivor takes every partition; the evicted member joins again on its next poll.
        _ = try live.poll(maxRecords: 1, maxBytes: 1 << 20, timeoutMillis: 0)
        #expect(live.assignment == [TopicPartition("t", 0), TopicPartition("t", 1)])
        var lost: Set<TopicPartition> = []
        stale.onPartitionsRevoked = { lost.formUnion($0) }
        _ = try stale.poll(maxRecords: 1, maxBytes: 1 << 20, timeoutMillis: 0)
        #expect(!lost.isEmpty)
        #expect(try broker.describeGroup("evict").members == ["l", "s"])
    }

    @Test func aReadOnlyBrokerSeesTheOwnersOfARunningGroup() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 4, count: 8)
        let a = try GroupConsumer(broker: broker, options: options("watched", ["t"], memberId: "a"))
        let b = try GroupConsumer(broker: broker, options: options("watched", ["t"], memberId: "b"))
        for _ in 0..<3 {
            for consumer in [a, b] {
                let batches = try consumer.poll(maxRecords: 100, maxBytes: 1 << 20, timeoutMillis: 0)
                try consumer.commit(Support.nextOffsets(batches))
            }
        }
        #expect(a.assignment.count == 2)
        #expect(b.assignment.count == 2)

        let reader = try Broker(dataDirectory: dir.path, readOnly: true)
        let description = try reader.describeGroup("watched")
        #expect(description.members == ["a", "b"])
        #expect(description.generation == a.generation)
        #expect(description.partitions.map(\.member) == ["a", "a", "b", "b"])
        #expect(reader.groupNames() == ["watched"])
        a.close()
        b.close()
        #expect(try reader.describeGroup("watched").members == [])
    }

    @Test func raisingThePartitionCountReachesTheGroup() throws {
        let dir = TemporaryDirectory()
        let broker = try broker(dir, partitions: 2, count: 10)
        let a = try GroupConsumer(broker: broker, options: options("grow", ["t"], memberId: "a"))
        let b = try GroupConsumer(broker: broker, options: options("grow", ["t"], memberId: "b"))
        var seen: [BrokerTestSupport.Polled] = []
        for _ in 0..<3 {
            for consumer in [a, b] { seen += try Support.poll(consumer, count: 1, maxEmptyPolls: 1) }
        }
        let generation = a.generation
        try broker.setPartitionCount("t", to: 4, allowKeyRemap: true)
        try Support.produce(broker, "t", count: 40, tag: "wide")
        var rounds = 0
        while seen.count < 50 && rounds < 40 {
            for consumer in [a, b] { seen += try Support.poll(consumer, count: 1, maxEmptyPolls: 1) }
            rounds += 1
        }
        #expect(seen.count == 50)
        #expect(Set(seen).count == 50)
        #expect(a.generation == generation + 1)
        #expect(a.assignment == [TopicPartition("t", 0), TopicPartition("t", 1)])
        #expect(b.assignment == [TopicPartition("t", 2), TopicPartition("t", 3)])
        #expect(seen.contains { $0.tp.partition >= 2 })
    }
}
