import SluiceBroker
import SluiceCore
import Testing

/// Drives a `ConsumerGroupState` the way well-behaved members do (heartbeat, then release what they
/// are told to revoke) and checks after every step that no two members own a partition at once.
private struct GroupDriver {
    typealias View = ConsumerGroupState.MemberView

    var state: ConsumerGroupState
    var now: Int64 = 0
    var counts: [String: Int32]
    /// What each member believes it owns: its last view's `owned`, minus what it released since.
    var beliefs: [String: Set<TopicPartition>] = [:]
    /// Every view each member was given, in order.
    var views: [String: [View]] = [:]

    init(strategy: AssignmentStrategy = .range, counts: [String: Int32]) {
        state = ConsumerGroupState(group: "g", strategy: strategy)
        self.counts = counts
    }

    @discardableResult
    mutating func join(_ id: String, topics: [String], sessionTimeoutMs: Int64 = 10_000) -> View {
        let view = state.join(
            member: id, topics: topics, sessionTimeoutMs: sessionTimeoutMs, partitionCounts: counts, now: now)
        record(id, view)
        return view
    }

    @discardableResult
    mutating func heartbeat(_ id: String) -> View? {
        guard let view = state.heartbeat(member: id, now: now) else { return nil }
        record(id, view)
        return view
    }

    mutating func release(_ id: String, _ partitions: Set<TopicPartition>) {
        state.release(member: id, partitions: partitions)
        beliefs[id]?.subtract(partitions)
        checkNoDoubleOwners()
    }

    mutating func leave(_ id: String) {
        state.leave(member: id)
        beliefs[id] = nil
        checkNoDoubleOwners()
    }

    /// Rounds of heartbeats, each member releasing what it is told to revoke, until every member owns
    /// exactly its target. Returns the number of rounds it took.
    @discardableResult
    mutating func settle(maxRounds: Int = 10) -> Int {
        for round in 1...maxRounds {
            for id in state.members.keys.sorted() {
                guard let view = heartbeat(id) else { continue }
                if !view.revoke.isEmpty { release(id, view.revoke) }
            }
            if isStable { return round }
        }
        Issue.record("the group did not settle in \(maxRounds) rounds")
        return maxRounds
    }

    /// Every member owns exactly its target, and every targeted partition has its owner.
    var isStable: Bool {
        state.members.keys.allSatisfy { owned(by: $0) == (state.target[$0] ?? []) }
    }

    func owned(by id: String) -> Set<TopicPartition> {
        Set(state.owners.filter { $0.value == id }.keys)
    }

    private mutating func record(_ id: String, _ view: View) {
        views[id, default: []].append(view)
        beliefs[id] = view.owned
        #expect(view.owned == owned(by: id))
        #expect(view.revoke.isSubset(of: view.owned))
        #expect(view.gained.isSubset(of: view.owned))
        #expect(view.generation == state.generation)
        checkNoDoubleOwners()
    }

    /// No partition is believed owned by two current members, and each belief is what the group has.
    func checkNoDoubleOwners() {
        var seen: [TopicPartition: String] = [:]
        for id in state.members.keys.sorted() {
            let belief = beliefs[id] ?? []
            #expect(belief == owned(by: id), "member \(id) believes it owns \(belief.sorted())")
            for tp in belief {
                #expect(seen[tp] == nil, "\(tp) is owned by \(seen[tp] ?? "") and \(id)")
                seen[tp] = id
            }
        }
    }
}

/// A member view's fields, to compare whole views in expectations.
private struct Seen: Equatable {
    var generation: Int32
    var owned: Set<TopicPartition>
    var gained: Set<TopicPartition>
    var revoke: Set<TopicPartition>
}

extension ConsumerGroupState.MemberView {
    fileprivate var seen: Seen { Seen(generation: generation, owned: owned, gained: gained, revoke: revoke) }
}

private func tps(_ topic: String, _ partitions: Int32...) -> Set<TopicPartition> {
    Set(partitions.map { TopicPartition(topic, $0) })
}

@Suite struct ConsumerGroupStateTests {
    /// Three members join a six-partition topic one after another and settle.
    private func threeOnSix() -> GroupDriver {
        var group = GroupDriver(counts: ["t": 6])
        group.join("a", topics: ["t"])
        group.join("b", topics: ["t"])
        group.join("c", topics: ["t"])
        group.settle()
        return group
    }

    @Test func threeConsumersOnSixPartitionsEndWithTwoEach() {
        let group = threeOnSix()
        #expect(group.state.generation == 3)
        #expect(group.owned(by: "a") == tps("t", 0, 1))
        #expect(group.owned(by: "b") == tps("t", 2, 3))
        #expect(group.owned(by: "c") == tps("t", 4, 5))
        #expect(group.state.owners.count == 6)
        // The first member got everything at once; the later ones nothing until "a" let go.
        #expect(group.views["a"]?.first?.owned == tps("t", 0, 1, 2, 3, 4, 5))
        #expect(group.views["b"]?.first?.owned == [])
        #expect(group.views["c"]?.first?.owned == [])
    }

    @Test func membersLearnWhatTheyGainedAndMustRevoke() {
        var group = GroupDriver(counts: ["t": 6])
        let first = group.join("a", topics: ["t"])
        #expect(first.gained == tps("t", 0, 1, 2, 3, 4, 5))
        #expect(first.revoke == [])
        let second = group.join("b", topics: ["t"])
        #expect(second.seen == Seen(generation: 2, owned: [], gained: [], revoke: []))

        let all = tps("t", 0, 1, 2, 3, 4, 5)
        #expect(group.heartbeat("a")?.seen == Seen(generation: 2, owned: all, gained: [], revoke: tps("t", 3, 4, 5)))
        // Until "a" releases them, "b" gets nothing and is told nothing new.
        #expect(group.heartbeat("b")?.seen == Seen(generation: 2, owned: [], gained: [], revoke: []))
        // "a" is told again what to revoke until it does.
        #expect(group.heartbeat("a")?.revoke == tps("t", 3, 4, 5))
        group.release("a", tps("t", 3, 4))
        #expect(group.heartbeat("b")?.gained == tps("t", 3, 4))
        #expect(
            group.heartbeat("a")?.seen
                == Seen(generation: 2, owned: tps("t", 0, 1, 2, 5), gained: [], revoke: tps("t", 5))
        )
        group.release("a", tps("t", 5))
        #expect(
            group.heartbeat("b")?.seen == Seen(generation: 2, owned: tps("t", 3, 4, 5), gained: tps("t", 5), revoke: [])
        )
        // Once told, a gain is not repeated.
        #expect(group.heartbeat("b")?.gained == [])
        #expect(group.heartbeat("a")?.seen == Seen(generation: 2, owned: tps("t", 0, 1, 2), gained: [], revoke: []))
        #expect(group.isStable)
    }

    @Test func oneLeavesAndTheOtherTwoEndWithThreeEach() {
        var group = threeOnSix()
        group.leave("c")
        #expect(group.state.generation == 4)
        // What "c" owned is free at once.
        #expect(group.state.owners.count == 4)
        group.settle()
        #expect(group.owned(by: "a") == tps("t", 0, 1, 2))
        #expect(group.owned(by: "b") == tps("t", 3, 4, 5))
        #expect(group.state.members.keys.sorted() == ["a", "b"])
        #expect(group.views["b"]?.contains { $0.gained == tps("t", 4, 5) && $0.revoke == tps("t", 2) } == true)
    }

    @Test func aSilentMemberIsEvictedAfterItsSessionTimeout() throws {
        var group = threeOnSix()
        let generation = group.state.generation
        let cView = try #require(group.views["c"]?.last)
        for time in stride(from: Int64(2_000), through: 10_000, by: 2_000) {
            group.now = time
            group.heartbeat("a")
            group.heartbeat("b")
            #expect(group.state.expireMembers(now: time) == [])
        }
        // Exactly at the timeout "c" is still in; one millisecond later it is out.
        group.now = 10_001
        #expect(group.state.expireMembers(now: 10_001) == ["c"])
        #expect(group.state.generation == generation + 1)
        #expect(group.state.heartbeat(member: "c", now: 10_001) == nil)
        #expect(!group.state.owners.values.contains("c"))
        group.beliefs["c"] = nil
        group.settle()
        #expect(group.owned(by: "a") == tps("t", 0, 1, 2))
        #expect(group.owned(by: "b") == tps("t", 3, 4, 5))
        // The evicted member's commit is refused, whatever generation it carries.
        #expect(
            group.state.checkCommit(member: "c", generation: cView.generation, partitions: tps("t", 4))
                == .unknownMember)
        #expect(
            group.state.checkCommit(member: "c", generation: group.state.generation, partitions: tps("t", 4))
                == .unknownMember
        )
    }

    @Test func expiryEvictsEveryTimedOutMemberInOneGeneration() {
        var group = GroupDriver(counts: ["t": 4])
        group.join("a", topics: ["t"], sessionTimeoutMs: 100)
        group.join("b", topics: ["t"], sessionTimeoutMs: 100)
        group.join("c", topics: ["t"], sessionTimeoutMs: 1_000)
        group.settle()
        let generation = group.state.generation
        #expect(group.state.expireMembers(now: 500) == ["a", "b"])
        #expect(group.state.generation == generation + 1)
        group.now = 500
        group.beliefs = group.beliefs.filter { $0.key == "c" }
        group.settle()
        #expect(group.owned(by: "c") == tps("t", 0, 1, 2, 3))
        #expect(group.state.expireMembers(now: 1_500) == [])
        #expect(group.state.expireMembers(now: 1_501) == ["c"])
        #expect(group.state.isEmpty)
        #expect(group.state.owners.isEmpty)
    }

    @Test func commitFromAnOldGenerationIsRefused() {
        var group = threeOnSix()
        let old = group.state.generation
        #expect(group.state.checkCommit(member: "a", generation: old, partitions: tps("t", 0, 1)) == .accepted)
        group.join("d", topics: ["t"])
        #expect(
            group.state.checkCommit(member: "a", generation: old, partitions: tps("t", 0))
                == .staleGeneration(current: old + 1))
        #expect(group.state.checkCommit(member: "a", generation: old + 1, partitions: tps("t", 0)) == .accepted)
        #expect(
            group.state.checkCommit(member: "a", generation: old + 2, partitions: tps("t", 0))
                == .staleGeneration(current: old + 1))
    }

    @Test func commitForAPartitionNotOwnedIsRefused() throws {
        var group = threeOnSix()
        let generation = group.state.generation
        #expect(
            group.state.checkCommit(member: "a", generation: generation, partitions: tps("t", 0, 2))
                == .notOwner(TopicPartition("t", 2)))
        #expect(
            group.state.checkCommit(member: "a", generation: generation, partitions: tps("other", 0))
                == .notOwner(TopicPartition("other", 0)))
        #expect(group.state.checkCommit(member: "a", generation: generation, partitions: []) == .accepted)
        // A member may commit what it was asked to revoke until it releases it, and not after.
        group.join("d", topics: ["t"])
        let heartbeat = group.heartbeat("c")
        let view = try #require(heartbeat)
        #expect(view.revoke == tps("t", 5))
        #expect(
            group.state.checkCommit(member: "c", generation: view.generation, partitions: tps("t", 4, 5)) == .accepted)
        #expect(
            group.state.checkCommit(member: "d", generation: view.generation, partitions: tps("t", 5))
                == .notOwner(TopicPartition("t", 5))
        )
        group.release("c", view.revoke)
        #expect(
            group.state.checkCommit(member: "c", generation: view.generation, partitions: tps("t", 5))
                == .notOwner(TopicPartition("t", 5))
        )
        group.settle()
        #expect(group.state.checkCommit(member: "d", generation: view.generation, partitions: tps("t", 5)) == .accepted)
    }

    @Test func releaseOnlyFreesTheMembersOwnPartitions() {
        var group = threeOnSix()
        group.state.release(member: "a", partitions: tps("t", 2, 3, 4))
        #expect(group.owned(by: "b") == tps("t", 2, 3))
        #expect(group.owned(by: "c") == tps("t", 4, 5))
        group.checkNoDoubleOwners()
    }

    @Test func generationMovesOnEveryMembershipChange() {
        var group = GroupDriver(counts: ["t": 4, "u": 2])
        #expect(group.state.generation == 0)
        group.join("a", topics: ["t"])
        #expect(group.state.generation == 1)
        group.join("b", topics: ["t"])
        #expect(group.state.generation == 2)
        // A rejoin with the same subscription and timeout changes nothing.
        group.join("a", topics: ["t"])
        #expect(group.state.generation == 2)
        // A rejoin with other topics, or another session timeout, is a change.
        group.join("a", topics: ["t", "u"])
        #expect(group.state.generation == 3)
        group.join("a", topics: ["u", "t"])
        #expect(group.state.generation == 3)
        group.join("a", topics: ["t", "u"], sessionTimeoutMs: 20_000)
        #expect(group.state.generation == 4)
        group.leave("b")
        #expect(group.state.generation == 5)
        group.leave("b")
        #expect(group.state.generation == 5)
        #expect(group.state.expireMembers(now: 10_000) == [])
        #expect(group.state.generation == 5)
        #expect(group.state.expireMembers(now: 20_001) == ["a"])
        #expect(group.state.generation == 6)
        #expect(group.state.isEmpty)
        // Heartbeats and releases do not move it.
        group.join("c", topics: ["t"])
        group.settle()
        group.heartbeat("c")
        #expect(group.state.generation == 7)
    }

    @Test func raisingASubscribedTopicsPartitionCountRebalances() throws {
        var group = GroupDriver(counts: ["t": 4, "other": 3])
        group.join("a", topics: ["t"])
        group.join("b", topics: ["t"])
        group.settle()
        #expect(group.owned(by: "a") == tps("t", 0, 1))
        #expect(group.owned(by: "b") == tps("t", 2, 3))
        let generation = group.state.generation

        // Topics nobody subscribes to, and counts that did not change, leave the group alone.
        group.state.updatePartitionCounts(["t": 4, "unknown": 9])
        #expect(group.state.generation == generation)

        group.state.updatePartitionCounts(["t": 6])
        #expect(group.state.generation == generation + 1)
        #expect(group.state.partitionCounts["t"] == 6)
        let heartbeat = group.heartbeat("b")
        let b = try #require(heartbeat)
        #expect(b.gained == tps("t", 4, 5))
        #expect(b.revoke == tps("t", 2))
        group.settle()
        #expect(group.owned(by: "a") == tps("t", 0, 1, 2))
        #expect(group.owned(by: "b") == tps("t", 3, 4, 5))

        // A member that joins with a larger count brings the change with it.
        group.counts["t"] = 8
        group.join("c", topics: ["t"])
        #expect(group.state.partitionCounts["t"] == 8)
        group.settle()
        #expect(group.owned(by: "a") == tps("t", 0, 1, 2))
        #expect(group.owned(by: "b") == tps("t", 3, 4, 5))
        #expect(group.owned(by: "c") == tps("t", 6, 7))
    }

    @Test(arguments: AssignmentStrategy.allCases)
    func membersSubscribedToDifferentTopics(strategy: AssignmentStrategy) {
        var group = GroupDriver(strategy: strategy, counts: ["orders": 4, "payments": 2])
        group.join("a", topics: ["orders"])
        group.join("b", topics: ["payments"])
        group.join("c", topics: ["orders", "payments"])
        group.settle()
        let a = group.owned(by: "a")
        let b = group.owned(by: "b")
        let c = group.owned(by: "c")
        #expect(a.allSatisfy { $0.topic == "orders" })
        #expect(b.allSatisfy { $0.topic == "payments" })
        #expect(a.count + b.count + c.count == 6)
        #expect(a.union(b).union(c) == tps("orders", 0, 1, 2, 3).union(tps("payments", 0, 1)))
        switch strategy {
        case .range:
            #expect(a == tps("orders", 0, 1))
            #expect(b == tps("payments", 0))
            #expect(c == tps("orders", 2, 3).union(tps("payments", 1)))
        case .roundRobin:
            // orders-0 a, orders-1 (b skipped) c, orders-2 a, orders-3 (b skipped) c,
            // payments-0 (a skipped) b, payments-1 c.
            #expect(a == tps("orders", 0, 2))
            #expect(b == tps("payments", 0))
            #expect(c == tps("orders", 1, 3).union(tps("payments", 1)))
        }
        // When "c" leaves, the others take only what they subscribe to.
        group.leave("c")
        group.settle()
        #expect(group.owned(by: "a") == tps("orders", 0, 1, 2, 3))
        #expect(group.owned(by: "b") == tps("payments", 0, 1))
    }

    @Test func aMemberChangingItsTopicsGivesUpTheOldOnes() throws {
        var group = GroupDriver(counts: ["t": 2, "u": 2])
        group.join("a", topics: ["t"])
        group.join("b", topics: ["t"])
        group.settle()
        let view = group.join("a", topics: ["u"])
        #expect(view.revoke == tps("t", 0))
        #expect(view.gained == tps("u", 0, 1))
        group.settle()
        #expect(group.owned(by: "a") == tps("u", 0, 1))
        #expect(group.owned(by: "b") == tps("t", 0, 1))
    }

    // MARK: Assignment strategies

    /// Kafka's `RangeAssignor` documentation: two consumers, two topics of three partitions.
    @Test func rangeMatchesKafkasDocumentedExample() {
        let assignment = AssignmentStrategy.range.assign(
            subscriptions: ["C0": ["t0", "t1"], "C1": ["t0", "t1"]], partitionCounts: ["t0": 3, "t1": 3])
        #expect(assignment["C0"] == tps("t0", 0, 1).union(tps("t1", 0, 1)))
        #expect(assignment["C1"] == tps("t0", 2).union(tps("t1", 2)))
    }

    /// Kafka's `RoundRobinAssignor` documentation: the same two consumers and topics.
    @Test func roundRobinMatchesKafkasDocumentedExample() {
        let assignment = AssignmentStrategy.roundRobin.assign(
            subscriptions: ["C0": ["t0", "t1"], "C1": ["t0", "t1"]], partitionCounts: ["t0": 3, "t1": 3])
        #expect(assignment["C0"] == tps("t0", 0, 2).union(tps("t1", 1)))
        #expect(assignment["C1"] == tps("t0", 1).union(tps("t1", 0, 2)))
    }

    /// Kafka's `RoundRobinAssignor` documentation for unequal subscriptions: C0 reads t0, C1 t0 and t1,
    /// C2 t0, t1 and t2, with 1, 2 and 3 partitions.
    @Test func roundRobinWithUnequalSubscriptionsMatchesKafka() {
        let assignment = AssignmentStrategy.roundRobin.assign(
            subscriptions: ["C0": ["t0"], "C1": ["t0", "t1"], "C2": ["t0", "t1", "t2"]],
            partitionCounts: ["t0": 1, "t1": 2, "t2": 3]
        )
        #expect(assignment["C0"] == tps("t0", 0))
        #expect(assignment["C1"] == tps("t1", 0))
        #expect(assignment["C2"] == tps("t1", 1).union(tps("t2", 0, 1, 2)))
    }

    @Test func rangeAndRoundRobinOnTopicsOfDifferentSizes() {
        let subscriptions = ["C0": ["t0", "t1"], "C1": ["t0", "t1"], "C2": ["t0", "t1"]]
        let counts: [String: Int32] = ["t0": 2, "t1": 4]
        // Range works per topic and gives the extra partitions to the first members each time.
        let range = AssignmentStrategy.range.assign(subscriptions: subscriptions, partitionCounts: counts)
        #expect(range["C0"] == tps("t0", 0).union(tps("t1", 0, 1)))
        #expect(range["C1"] == tps("t0", 1).union(tps("t1", 2)))
        #expect(range["C2"] == tps("t1", 3))
        // Round-robin sorts all partitions and deals them in turn.
        let roundRobin = AssignmentStrategy.roundRobin.assign(subscriptions: subscriptions, partitionCounts: counts)
        #expect(roundRobin["C0"] == tps("t0", 0).union(tps("t1", 1)))
        #expect(roundRobin["C1"] == tps("t0", 1).union(tps("t1", 2)))
        #expect(roundRobin["C2"] == tps("t1", 0, 3))

        let two = ["C0": ["t0", "t1"], "C1": ["t0", "t1"]]
        let sizes: [String: Int32] = ["t0": 3, "t1": 5]
        let range2 = AssignmentStrategy.range.assign(subscriptions: two, partitionCounts: sizes)
        #expect(range2["C0"] == tps("t0", 0, 1).union(tps("t1", 0, 1, 2)))
        #expect(range2["C1"] == tps("t0", 2).union(tps("t1", 3, 4)))
        let roundRobin2 = AssignmentStrategy.roundRobin.assign(subscriptions: two, partitionCounts: sizes)
        #expect(roundRobin2["C0"] == tps("t0", 0, 2).union(tps("t1", 1, 3)))
        #expect(roundRobin2["C1"] == tps("t0", 1).union(tps("t1", 0, 2, 4)))
    }

    @Test func rangeOnlyCountsATopicsSubscribers() {
        let assignment = AssignmentStrategy.range.assign(
            subscriptions: ["C0": ["t0"], "C1": ["t0", "t1"], "C2": ["t1"]], partitionCounts: ["t0": 3, "t1": 3])
        #expect(assignment["C0"] == tps("t0", 0, 1))
        #expect(assignment["C1"] == tps("t0", 2).union(tps("t1", 0, 1)))
        #expect(assignment["C2"] == tps("t1", 2))
    }

    @Test(arguments: AssignmentStrategy.allCases)
    func moreMembersThanPartitionsLeavesSomeIdle(strategy: AssignmentStrategy) {
        let subscriptions = Dictionary(uniqueKeysWithValues: (0..<5).map { ("m\($0)", ["t"]) })
        let assignment = strategy.assign(subscriptions: subscriptions, partitionCounts: ["t": 3])
        #expect(assignment.count == 5)
        #expect(assignment["m0"] == tps("t", 0))
        #expect(assignment["m1"] == tps("t", 1))
        #expect(assignment["m2"] == tps("t", 2))
        #expect(assignment["m3"] == [])
        #expect(assignment["m4"] == [])
    }

    @Test(arguments: AssignmentStrategy.allCases)
    func everySubscribedPartitionGoesToExactlyOneSubscriber(strategy: AssignmentStrategy) {
        var generator = SystemRandomNumberGenerator()
        let topics = ["a", "b", "c", "d"]
        for _ in 0..<200 {
            let counts = Dictionary(
                uniqueKeysWithValues: topics.map { ($0, Int32.random(in: 1...9, using: &generator)) })
            var subscriptions: [String: [String]] = [:]
            for member in 0..<Int.random(in: 1...6, using: &generator) {
                let chosen = topics.filter { _ in Bool.random(using: &generator) }
                subscriptions["m\(member)"] = chosen.isEmpty ? ["a"] : chosen
            }
            let assignment = strategy.assign(subscriptions: subscriptions, partitionCounts: counts)
            var owners: [TopicPartition: String] = [:]
            for (member, partitions) in assignment {
                for tp in partitions {
                    #expect(owners[tp] == nil)
                    #expect(subscriptions[member]?.contains(tp.topic) == true)
                    owners[tp] = member
                }
            }
            let subscribed = Set(subscriptions.values.flatMap { $0 })
            let expected = subscribed.reduce(0) { $0 + Int(counts[$1] ?? 0) }
            #expect(owners.count == expected)
        }
    }
}
