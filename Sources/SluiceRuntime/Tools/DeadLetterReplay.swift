import SluiceBroker
import SluiceCore
import SluiceKit

/// `sluice dlq replay`: produces the records a sink dead-lettered back into the topics they came from
/// (their `sluice.original.topic` header), once the cause is fixed, without the headers that say what
/// failed and with `sluice.replayed_from` (`DLQ:PARTITION:OFFSET`). Every sink that reads the topic gets
/// them again.
///
/// Each letter is replayed once, however often the command runs and wherever it is killed: what was
/// replayed is stored as a checkpoint (`__replay:DLQ` among the sources' checkpoints) after the
/// records, and records stored after the last checkpoint are recognised by the replay's producer id
/// and their `sluice.replayed_from` header, as a source's records are after a crash. A source's dead
/// letters (rows that could not be read) are not replayable: the row must be fixed in its file.
public struct DeadLetterReplay: Sendable {
    public struct Filter: Sendable {
        /// Only letters with one of these `sluice.error.class` values; all when empty.
        public var errorClasses: Set<String> = []
        /// Only letters in this partition of the dead-letter topic.
        public var partition: Int32?
        /// Only letters at or after this offset.
        public var fromOffset: Int64?
        /// Only letters at or before this offset.
        public var toOffset: Int64?

        public init() {}
    }

    /// A group of letters to replay: where they go back to and why they failed.
    public struct Row: Sendable, Equatable {
        public var topic: String
        public var errorClass: String
        public var count: Int
    }

    public var deadLetterTopic: String
    public var rows: [Row]
    /// Letters the filter selects that were replayed before.
    public var alreadyReplayed: Int
    /// Letters the filter selects that cannot be replayed: a source's (no original topic), or whose
    /// topic no longer exists.
    public var notReplayable: Int
    private var letters: [(id: LetterID, record: Record, topic: String)]

    struct LetterID: Hashable {
        var partition: Int32
        var offset: Int64
    }

    /// The checkpoint name of the replays of `topic`.
    static func checkpointName(_ topic: String) -> String { "__replay:" + topic }

    /// Plans the replay of `topic`'s letters that `filter` selects.
    public static func plan(broker: Broker, topic: String, filter: Filter) throws -> DeadLetterReplay {
        guard broker.topicConfig(topic) != nil else {
            throw BrokerError(.topicNotFound, "topic \"\(topic)\" does not exist")
        }
        let replayed = try replayedLetters(broker, topic)
        var plan = DeadLetterReplay(deadLetterTopic: topic, rows: [], alreadyReplayed: 0, notReplayable: 0, letters: [])
        var counts: [String: [String: Int]] = [:]
        for partition in 0..<(try broker.partitionCount(topic))
        where filter.partition == nil || filter.partition == partition {
            let log = try broker.log(TopicPartition(topic, partition))
            try log.forEachBlock(from: max(filter.fromOffset ?? 0, log.startOffset)) { block in
                for index in 0..<block.count {
                    let offset = block.entries[index].offset
                    if let from = filter.fromOffset, offset < from { continue }
                    if let to = filter.toOffset, offset > to { return false }
                    let record = block.record(index)
                    let errorClass = Self.text(record, SluiceHeader.errorClass) ?? "unknown"
                    guard filter.errorClasses.isEmpty || filter.errorClasses.contains(errorClass) else { continue }
                    let id = LetterID(partition: partition, offset: offset)
                    if replayed.contains(id) {
                        plan.alreadyReplayed += 1
                        continue
                    }
                    guard let original = Self.text(record, SluiceHeader.originalTopic),
                        broker.topicConfig(original) != nil
                    else {
                        plan.notReplayable += 1
                        continue
                    }
                    plan.letters.append((id, record, original))
                    counts[original, default: [:]][errorClass, default: 0] += 1
                }
                return true
            }
        }
        for topic in counts.keys.sorted() {
            for (errorClass, count) in (counts[topic] ?? [:]).sorted(by: { $0.key < $1.key }) {
                plan.rows.append(Row(topic: topic, errorClass: errorClass, count: count))
            }
        }
        return plan
    }

    /// How many letters the plan replays.
    public var count: Int { letters.count }

    /// Replays the planned letters and stores that they were; returns how many.
    @discardableResult
    public func execute(broker: Broker) throws -> Int {
        guard !letters.isEmpty else { return 0 }
        let name = Self.checkpointName(deadLetterTopic)
        let producerId = Broker.producerId(forSource: name)
        var replayed = try Self.replayedLetters(broker, deadLetterTopic)
        let targets = Set(letters.map(\.topic)).sorted()
        let stripped: Set<String> = [
            SluiceHeader.errorClass, SluiceHeader.errorMessage, SluiceHeader.errorStage, SluiceHeader.connector,
            SluiceHeader.failedAt, SluiceHeader.originalTopic, SluiceHeader.originalPartition,
            SluiceHeader.originalOffset, SluiceHeader.replayedFrom,
        ]
        let now = Time.nowMillis()
        for target in targets {
            let producer = try Producer(broker: broker, topic: target, producerId: producerId)
            var block = RecordBlock()
            for letter in letters where letter.topic == target {
                var record = letter.record
                record.headers.removeAll { stripped.contains($0.name) }
                record.headers.append(
                    Header(
                        SluiceHeader.replayedFrom,
                        Array("\(deadLetterTopic):\(letter.id.partition):\(letter.id.offset)".utf8)))
                record.offset = -1
                record.timestamp = now
                block.append(record)
                replayed.insert(letter.id)
            }
            for result in try producer.send(block, now: now) {
                try broker.flush(TopicPartition(target, result.partition))
            }
        }
        try Self.store(broker, deadLetterTopic, replayed, producerId: producerId, topics: targets)
        return letters.count
    }

    /// The letters of `topic` replayed so far: those the checkpoint lists, and those whose records were
    /// stored after it (a replay killed before it stored its checkpoint).
    static func replayedLetters(_ broker: Broker, _ topic: String) throws -> Set<LetterID> {
        let name = checkpointName(topic)
        var result = Set<LetterID>()
        var ends: [String: [Int64]] = [:]
        if let bytes = broker.sourceCheckpoint(name), let checkpoint = SourceCheckpoint(decoding: bytes) {
            ends = checkpoint.partitionEnds
            if let json = try? JSONValue.parse(checkpoint.connector), case .array(let ranges)? = json["replayed"] {
                for range in ranges {
                    guard case .array(let parts) = range, parts.count == 3,
                        let partition = parts[0].integerValue, let first = parts[1].integerValue,
                        let last = parts[2].integerValue, first <= last
                    else { continue }
                    for offset in first...last { result.insert(LetterID(partition: Int32(partition), offset: offset)) }
                }
            }
        }
        let topics = broker.topicNames().filter { !TopicName.isInternal($0) }.sorted()
        for headers in try broker.headers(storedBy: name, after: ends, in: topics) {
            guard let value = headers.last(where: { $0.name == SluiceHeader.replayedFrom })?.value else { continue }
            let parts = String(decoding: value, as: UTF8.self).split(separator: ":")
            guard parts.count >= 3, parts.dropLast(2).joined(separator: ":") == topic,
                let partition = Int32(parts[parts.count - 2]), let offset = Int64(parts[parts.count - 1])
            else { continue }
            result.insert(LetterID(partition: partition, offset: offset))
        }
        return result
    }

    /// Stores the replayed letters (as ranges) with the ends of every topic now.
    private static func store(
        _ broker: Broker, _ topic: String, _ replayed: Set<LetterID>, producerId: Int64, topics: [String]
    ) throws {
        var ranges: [JSONValue] = []
        var open: (partition: Int32, first: Int64, last: Int64)?
        for id in replayed.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            if let current = open, current.partition == id.partition, current.last + 1 == id.offset {
                open?.last = id.offset
                continue
            }
            if let current = open { ranges.append(range(current)) }
            open = (id.partition, id.offset, id.offset)
        }
        if let current = open { ranges.append(range(current)) }
        var ends: [String: [Int64]] = [:]
        for name in broker.topicNames() where !TopicName.isInternal(name) {
            ends[name] = try (0..<broker.partitionCount(name)).map { try broker.offsets(TopicPartition(name, $0)).end }
        }
        let connector = Array(JSONValue.object([("replayed", .array(ranges))]).serialized().utf8)
        let checkpoint = SourceCheckpoint(producerId: producerId, connector: connector, partitionEnds: ends)
        try broker.storeSourceCheckpoint(checkpointName(topic), checkpoint.encoded())
    }

    private static func text(_ record: Record, _ name: String) -> String? {
        record.header(name).map { String(decoding: $0, as: UTF8.self) }
    }

    private static func range(_ value: (partition: Int32, first: Int64, last: Int64)) -> JSONValue {
        .array([.number(String(value.partition)), .number(String(value.first)), .number(String(value.last))])
    }
}

extension DeadLetterReplay.Filter {
    /// The filter a request to the admin API gives (`error_classes`, `partition`, `from_offset`,
    /// `to_offset`); throws a message that names the member at fault.
    public init(json: JSONValue) throws(DeadLetterReplay.RequestError) {
        self.init()
        let allowed = ["topic", "execute", "error_classes", "partition", "from_offset", "to_offset"]
        guard case .object(let members) = json else { throw .init("the body must be a JSON object") }
        if let unknown = members.first(where: { !allowed.contains($0.key) }) {
            throw .init("unknown member \"\(unknown.key)\" (allowed: \(allowed.joined(separator: ", ")))")
        }
        if let execute = json["execute"], execute.boolValue == nil {
            throw .init("execute must be true or false")
        }
        if let value = json["error_classes"] {
            guard case .array(let items) = value, let classes = Optional(items.compactMap(\.stringValue)),
                classes.count == items.count
            else { throw .init("error_classes must be a list of strings") }
            errorClasses = Set(classes)
        }
        func integer(_ name: String, min: Int64) throws(DeadLetterReplay.RequestError) -> Int64? {
            guard let value = json[name] else { return nil }
            guard let number = value.integerValue, number >= min else {
                throw .init("\(name) must be an integer of at least \(min)")
            }
            return number
        }
        partition = try integer("partition", min: 0).map { Int32(clamping: $0) }
        fromOffset = try integer("from_offset", min: 0)
        toOffset = try integer("to_offset", min: 0)
        if let fromOffset, let toOffset, fromOffset > toOffset {
            throw .init("from_offset \(fromOffset) is after to_offset \(toOffset)")
        }
    }
}

extension DeadLetterReplay {
    /// A request to the admin API that cannot be served as it is.
    public struct RequestError: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// What a replay planned and did, as `sluice dlq replay` prints it and the admin API answers it.
    public struct Report: Sendable, Equatable {
        public var deadLetterTopic: String
        public var rows: [Row]
        public var alreadyReplayed: Int
        public var notReplayable: Int
        /// How many letters were replayed; nil for a plan only.
        public var replayed: Int?

        public init(_ plan: DeadLetterReplay, replayed: Int?) {
            deadLetterTopic = plan.deadLetterTopic
            rows = plan.rows
            alreadyReplayed = plan.alreadyReplayed
            notReplayable = plan.notReplayable
            self.replayed = replayed
        }

        /// The report the admin API answered with; nil when `json` is not one.
        public init?(json: JSONValue) {
            guard let topic = json["dead_letter_topic"]?.stringValue, case .array(let items)? = json["rows"] else {
                return nil
            }
            deadLetterTopic = topic
            rows = items.compactMap { item in
                guard let topic = item["topic"]?.stringValue, let errorClass = item["error_class"]?.stringValue,
                    let count = item["records"]?.integerValue
                else { return nil }
                return Row(topic: topic, errorClass: errorClass, count: Int(count))
            }
            alreadyReplayed = Int(json["already_replayed"]?.integerValue ?? 0)
            notReplayable = Int(json["not_replayable"]?.integerValue ?? 0)
            replayed = json["replayed"]?.integerValue.map { Int($0) }
        }

        public var planned: Int { rows.reduce(0) { $0 + $1.count } }

        public var json: JSONValue {
            .object([
                ("dead_letter_topic", .string(deadLetterTopic)),
                (
                    "rows",
                    .array(
                        rows.map {
                            .object([
                                ("topic", .string($0.topic)), ("error_class", .string($0.errorClass)),
                                ("records", .number(String($0.count))),
                            ])
                        })
                ),
                ("already_replayed", .number(String(alreadyReplayed))),
                ("not_replayable", .number(String(notReplayable))),
                ("replayed", replayed.map { .number(String($0)) } ?? .null),
            ])
        }
    }
}
