import Foundation
import Logging
import SluiceCore
import SluiceKit

/// Checks that a connector keeps the delivery contract, by driving it through SluiceKit's `Source` or
/// `Sink` protocol as the runtime would, and by crashing it. An external connector is driven through
/// the exec adapters, so the same checks serve connectors in any language (`sluice connectors test`)
/// and Swift connectors in their own tests.
///
/// Sources: read to the end; opened again at stored positions, they go on exactly where the position
/// says; crashed at random moments (at least 20 times) and opened again at the last position, they
/// neither lose nor repeat a record. Sinks: batches, redeliveries after `abort`, revocations and
/// crashes: every record accounted for, failures only for records of the batch, each once.
public struct ConformanceSuite {
    /// One check and how it went.
    public struct Check: Sendable {
        public var name: String
        public var passed: Bool
        public var detail: String
        /// The connector does not offer what the check needs; it counts as passed.
        public var skipped = false
    }

    /// Crashes a connector instance the way its kind can be crashed: SIGKILL for an external one
    /// (its adapter then starts it again), nothing for an in-process one (it is dropped unclosed).
    public typealias Crash = (AnyObject) -> Void

    public var checks: [Check] = []
    public var kills = 20
    public var seed: UInt64 = 1
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public var passed: Bool { checks.allSatisfy(\.passed) }

    mutating func record(_ name: String, _ passed: Bool, _ detail: String) {
        checks.append(Check(name: name, passed: passed, detail: detail))
    }

    /// Runs `body`; a thrown error fails the check named `name`.
    mutating func check(_ name: String, _ body: () throws -> String) {
        do {
            record(name, true, try body())
        } catch let failure as Failure {
            record(name, false, failure.message)
        } catch {
            record(name, false, "\(error)")
        }
    }

    struct Failure: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    // MARK: Sources

    /// A record as a source gave it: what must come again after a resume.
    struct Given: Equatable {
        var key: [UInt8]?
        var value: [UInt8]?
        var deadLetter: Bool
    }

    /// The next batch of `source` (its records, then its dead letters), and whether it was the last.
    static func next(_ source: any Source) throws -> (given: [Given], last: Bool) {
        var batch = SourceBatch()
        let more = try source.nextBatch(&batch)
        var given: [Given] = []
        for (block, deadLetter) in [(batch.records, false), (batch.deadLetters, true)] {
            for i in 0..<block.count {
                given.append(
                    Given(
                        key: deadLetter ? nil : block.key(i).map(Array.init), value: block.value(i).map(Array.init),
                        deadLetter: deadLetter))
            }
        }
        _ = source.takeActionsAfterDurable()
        return (given, !more)
    }

    /// Reads `source` to its end (at most `limit` batches); the records and the checkpoint after each batch.
    static func read(_ source: any Source, limit: Int = .max) throws -> [(records: [Given], checkpoint: [UInt8])] {
        var batches: [(records: [Given], checkpoint: [UInt8])] = []
        var more = true
        while more && batches.count < limit {
            let (given, last) = try next(source)
            more = !last
            if !given.isEmpty || !more { batches.append((given, source.checkpoint())) }
        }
        return batches
    }

    /// The source checks. `open` opens the connector at a checkpoint (nil: the start); `crash` crashes an
    /// open instance.
    public mutating func checkSource(
        open: (_ checkpoint: [UInt8]?) throws -> any Source, crash: Crash
    ) {
        let (kills, seed) = (self.kills, self.seed)
        var reference: [(records: [Given], checkpoint: [UInt8])] = []
        check("source: reads its input to the end") {
            let source = try open(nil)
            defer { source.close() }
            reference = try Self.read(source)
            let count = reference.reduce(0) { $0 + $1.records.count }
            guard count > 0 else {
                throw Failure("it gave no records: give it input (--config) for the checks to mean something")
            }
            return "\(count) records in \(reference.count) batches"
        }
        guard !reference.isEmpty else { return }
        let all = reference.flatMap(\.records)
        var random = SplitMix64(seed: seed)

        check("source: resumes exactly at stored positions") {
            var points = Set((0..<min(8, reference.count)).map { _ in Int(random.next() % UInt64(reference.count)) })
            points.insert(0)
            for point in points.sorted() {
                let source = try open(reference[point].checkpoint)
                defer { source.close() }
                let rest = try Self.read(source).flatMap(\.records)
                let expected = reference[(point + 1)...].flatMap(\.records)
                guard Self.same(rest, expected) else {
                    throw Failure(
                        "opened at the position after batch \(point + 1), it gave \(rest.count) records where "
                            + "\(expected.count) followed it the first time\(Self.firstDifference(rest, expected))")
                }
            }
            return "opened at \(points.count) position\(points.count == 1 ? "" : "s"), each went on where it said"
        }

        check("source: killed at random moments, loses and repeats nothing") {
            var got: [Given] = []
            var checkpoint: [UInt8]? = nil
            var crashes = 0
            var ended = false
            /// Reads one batch into `got`; false at the end of the input.
            func take(_ source: any Source) throws -> Bool {
                let (given, last) = try Self.next(source)
                got += given
                checkpoint = source.checkpoint()
                return !last
            }
            // Each round opens the connector at the last position stored, reads a share of the batches (the
            // connector meanwhile reads ahead of them) and kills it; the reads are spread over the rounds
            // so that every kill comes before the end, and the last round reads to the end.
            // A connector may cut its batches otherwise than in the reference read (by time, say) and reach
            // the end sooner: the rounds after that open it at the end and kill it there, so that it is
            // always killed `kills` times, and the last open must then give nothing more.
            var read = 0
            while crashes < kills {
                let source = try open(checkpoint)
                let due = (crashes + 1) * (reference.count - 1) / kills + Int(random.next() % 2)
                while read < min(due, reference.count - 1) && !ended {
                    ended = !(try take(source))
                    read += 1
                }
                crash(source)
                crashes += 1
            }
            let source = try open(checkpoint)
            while try take(source) {}
            source.close()
            guard Self.same(got, all) else {
                throw Failure(
                    "after \(crashes) kills it gave \(got.count) records where a clean read gave \(all.count)"
                        + Self.firstDifference(got, all))
            }
            return "killed \(crashes) times; every record came once, in order"
        }
    }

    /// Whether two reads gave the same records in the same order, and the same dead letters in the same
    /// order. A batch holds its records before its dead letters, so where a connector cuts its batches
    /// (by time, say) moves dead letters among the records of a flattened read; each kind's order does not.
    static func same(_ a: [Given], _ b: [Given]) -> Bool {
        a.filter { !$0.deadLetter } == b.filter { !$0.deadLetter } && a.filter(\.deadLetter) == b.filter(\.deadLetter)
    }

    static func firstDifference(_ a: [Given], _ b: [Given]) -> String {
        let records = (a.filter { !$0.deadLetter }, b.filter { !$0.deadLetter })
        let (left, right) = records.0 != records.1 ? records : (a.filter(\.deadLetter), b.filter(\.deadLetter))
        let kind = records.0 != records.1 ? "record" : "dead letter"
        for (i, (x, y)) in zip(left, right).enumerated() where x != y {
            let show = { (g: Given) in String(decoding: (g.value ?? []).prefix(80), as: UTF8.self) }
            return "; the first difference is \(kind) \(i): \(show(x)) where \(show(y)) was expected"
        }
        return ""
    }

    // MARK: Sinks

    /// The id of the suite's record at `offset` of `partition`: unique across partitions.
    public static func recordID(partition: Int32, offset: Int) -> Int64 {
        Int64(partition) * 1_000_000_000 + Int64(offset)
    }

    /// Records for a sink: `count` JSON objects `{"id": N, "name": "…", "amount": N.5}`, keyed by id, the
    /// id unique across partitions (`recordID`).
    public static func sinkRecords(topic: String, partition: Int32, from: Int, count: Int) -> PartitionRecords {
        var block = RecordBlock()
        for n in from..<(from + count) {
            let id = recordID(partition: partition, offset: n)
            block.beginRecord(timestamp: 1_700_000_000_000 + Int64(n), offset: Int64(n))
            block.setKey(block.appendBytes("\(id)".utf8))
            block.setValue(block.appendBytes(#"{"id": \#(id), "name": "record \#(id)", "amount": \#(n).5}"#.utf8))
        }
        return PartitionRecords(topicPartition: TopicPartition(topic, partition), records: block)
    }

    /// The sink checks: batches on two partitions, an abort and the batch again, a revocation and the
    /// partition given back from an earlier offset, and crashes in the middle of batches.
    public mutating func checkSink(topic: String, open: () throws -> any Sink, crash: Crash) {
        let (kills, seed) = (self.kills, self.seed)
        let partitions = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        var sink: (any Sink)?
        var next: [TopicPartition: Int] = [partitions[0]: 0, partitions[1]: 0]
        /// Ids the sink reported durable, and ids it reported failed (and never durable since).
        var durable: Set<Int64> = []
        var failedIDs: Set<Int64> = []
        func batch(_ size: Int) -> SinkBatch {
            let chunks = partitions.map { tp in
                Self.sinkRecords(topic: topic, partition: tp.partition, from: next[tp] ?? 0, count: size)
            }
            return SinkBatch(partitions: chunks)
        }
        func deliver(_ sink: any Sink, _ batch: SinkBatch) throws -> Int {
            let failures = try sink.write(batch)
            var named = Set<String>()
            for failure in failures {
                let inBatch = batch.partitions.contains { chunk in
                    chunk.topicPartition == failure.topicPartition
                        && chunk.records.entries.contains { $0.offset == failure.offset }
                }
                guard inBatch else {
                    throw Failure(
                        "it reported a failure for \(failure.topicPartition)@\(failure.offset), not in the batch")
                }
                guard named.insert("\(failure.topicPartition)@\(failure.offset)").inserted else {
                    throw Failure("it reported \(failure.topicPartition)@\(failure.offset) failed twice")
                }
            }
            try sink.flush()
            let failedHere = Set(
                failures.map { Self.recordID(partition: $0.topicPartition.partition, offset: Int($0.offset)) })
            for chunk in batch.partitions {
                next[chunk.topicPartition] = Int(chunk.nextOffset ?? 0)
                for entry in chunk.records.entries {
                    let id = Self.recordID(partition: chunk.topicPartition.partition, offset: Int(entry.offset))
                    if failedHere.contains(id) {
                        if !durable.contains(id) { failedIDs.insert(id) }
                    } else {
                        durable.insert(id)
                        failedIDs.remove(id)
                    }
                }
            }
            return failures.count
        }

        check("sink: writes and flushes batches on two partitions") {
            let opened = try open()
            sink = opened
            try opened.open(partitions: Dictionary(uniqueKeysWithValues: partitions.map { ($0, 0) }))
            var failed = 0
            for size in [1, 100, 2000] { failed += try deliver(opened, batch(size)) }
            return "3 batches, \(2 * 2101) records, \(failed) reported failed"
        }
        guard let opened = sink else { return }

        check("sink: takes a batch again after abort") {
            let again = batch(500)
            _ = try opened.write(again)
            opened.abort()
            _ = try deliver(opened, again)
            return "a batch written, aborted and written again, then flushed"
        }

        check("sink: gives a partition up and takes it back") {
            try opened.close(partitions: [partitions[1]])
            let earlier = max(0, (next[partitions[1]] ?? 0) - 50)
            next[partitions[1]] = earlier
            try opened.open(partitions: [partitions[1]: Int64(earlier)])
            _ = try deliver(opened, batch(200))
            return "revoked partition 1 and assigned it again 50 records back; the redelivery was taken"
        }

        check("sink: crashed \(kills) times in the middle of batches, takes every batch again") {
            var random = SplitMix64(seed: seed &+ 7)
            var crashes = 0
            var retries = 0
            while crashes < kills {
                let pending = batch(100 + Int(random.next() % 400))
                crash(opened)
                crashes += 1
                var done = false
                var attempts = 0
                while !done {
                    do {
                        _ = try deliver(opened, pending)
                        done = true
                    } catch let error as ConnectorError where error.kind == .transient {
                        attempts += 1
                        retries += 1
                        guard attempts < 5 else { throw Failure("still failing after 5 attempts: \(error.message)") }
                        opened.abort()
                    }
                }
            }
            return "\(crashes) crashes, \(retries) batches written again, all flushed"
        }

        do {
            if let held = try (opened as? any InspectableSink)?.heldRecordIDs() {
                check("sink: holds every record it reported durable, none it reported failed") {
                    let missing = durable.subtracting(held)
                    guard missing.isEmpty else {
                        throw Failure(
                            "\(missing.count) of the \(durable.count) records reported durable are not there "
                                + "(ids \(missing.sorted().prefix(5).map(String.init).joined(separator: ", "))…)")
                    }
                    let claimed = failedIDs.intersection(held)
                    guard claimed.isEmpty else {
                        throw Failure("\(claimed.count) records reported failed are there all the same")
                    }
                    return "all \(durable.count) records reported durable are there"
                }
            } else {
                checks.append(
                    Check(
                        name: "sink: holds every record it reported durable, none it reported failed", passed: true,
                        detail: "skipped: the sink does not offer read_back (see PROTOCOL.md)", skipped: true))
            }
        } catch {
            record(
                "sink: holds every record it reported durable, none it reported failed", false, "read_back: \(error)")
        }

        check("sink: stops") {
            opened.stop()
            return "stopped"
        }
    }
}

extension ConformanceSuite {
    /// The declaration: every option has a meaning, and a config missing a required option, giving one
    /// a value of the wrong type, or naming one that does not exist is refused with the option's path.
    public mutating func checkDeclaration(_ spec: ConnectorSpec, given: [(key: String, value: JSONValue)]) {
        check("declaration: every option says what it means") {
            let silent = spec.options.filter { $0.meaning.trimmingCharacters(in: .whitespaces).isEmpty }.map(\.name)
            guard silent.isEmpty else { throw Failure("no meaning for \(silent.joined(separator: ", "))") }
            return "\(spec.options.count) options: \(spec.options.map(\.name).joined(separator: ", "))"
        }
        check("declaration: option errors are named by option") {
            var tried: [String] = []
            func expectProblem(_ members: [(key: String, value: JSONValue)], at path: String) throws {
                let (_, problems) = spec.validate(members, path: "config")
                guard problems.contains(where: { $0.path == path }) else {
                    throw Failure("no problem named \(path) (found: \(problems.map(\.description)))")
                }
                tried.append(path)
            }
            for option in spec.options where option.required {
                try expectProblem(given.filter { $0.key != option.name }, at: "config.\(option.name)")
            }
            for option in spec.options {
                let wrong: JSONValue?
                switch option.type {
                case .integer, .boolean, .choice: wrong = .array([])
                case .string, .character: wrong = .number("12")
                default: wrong = nil
                }
                if let wrong {
                    try expectProblem(
                        given.filter { $0.key != option.name } + [(option.name, wrong)], at: "config.\(option.name)")
                }
            }
            try expectProblem(given + [("no_such_option", .bool(true))], at: "config.no_such_option")
            return "\(tried.count) bad configs, each refused at its option"
        }
    }

    /// For an external connector: `probe` sends it malformed messages and returns, for each, what went
    /// wrong (nil when the connector refused the message or exited, as it should).
    public mutating func checkProtocol(
        command: [String], role: ConnectorSpec.Kind,
        probe: ([String], ConnectorSpec.Kind) -> [(name: String, problem: String?)]
    ) {
        for (name, problem) in probe(command, role) {
            record("protocol: \(name)", problem == nil, problem ?? "refused (an error or an exit), no hang")
        }
    }
}
