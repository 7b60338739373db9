import SluiceBroker
import SluiceCore
import SluiceLog

/// What the runtime stores for a source after each batch: the connector's own checkpoint and, per
/// partition of the topics the source writes, the end offset at that moment. After a crash, the
/// records this source (its producer id) stored beyond those offsets are the ones it must not write
/// again.
struct SourceCheckpoint: Equatable {
    var producerId: Int64
    var connector: [UInt8]
    var partitionEnds: [String: [Int64]]
    /// The id of each topic's incarnation the ends belong to (empty in checkpoints from before ids).
    var topicIDs: [String: String] = [:]

    func encoded() -> [UInt8] {
        let ends = partitionEnds.keys.sorted().map { topic in
            (topic, JSONValue.array((partitionEnds[topic] ?? []).map { .number(String($0)) }))
        }
        let json = JSONValue.object([
            ("version", .number("1")), ("producer_id", .number(String(producerId))),
            ("partitions", .object(ends)), ("connector", .string(String(decoding: connector, as: UTF8.self))),
            (
                "topic_ids",
                .object(topicIDs.keys.sorted().compactMap { key in topicIDs[key].map { (key, .string($0)) } })
            ),
        ])
        return Array(json.serialized().utf8)
    }

    init(producerId: Int64, connector: [UInt8], partitionEnds: [String: [Int64]], topicIDs: [String: String] = [:]) {
        self.producerId = producerId
        self.connector = connector
        self.partitionEnds = partitionEnds
        self.topicIDs = topicIDs
    }

    init?(decoding bytes: [UInt8]) {
        guard let json = try? JSONValue.parse(bytes), let producerId = json["producer_id"]?.integerValue,
            let connector = json["connector"]?.stringValue, case .object(let partitions)? = json["partitions"]
        else { return nil }
        self.producerId = producerId
        self.connector = Array(connector.utf8)
        var ends: [String: [Int64]] = [:]
        for (topic, list) in partitions {
            guard case .array(let items) = list else { return nil }
            ends[topic] = items.compactMap(\.integerValue)
        }
        partitionEnds = ends
        if case .object(let ids)? = json["topic_ids"] {
            for (topic, id) in ids {
                guard let text = id.stringValue else { return nil }
                topicIDs[topic] = text
            }
        }
    }
}
