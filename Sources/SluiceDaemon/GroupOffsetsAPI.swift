import Hummingbird
import SluiceBroker
import SluiceCore
import SluiceRuntime

/// `GET /v1/groups/GROUP/offsets` and `POST` to change them, as Kafka Connect's offsets API (KIP-875)
/// rules: a change only while no sink of the running pipeline reads in the group (its sink is paused,
/// or the group is not one of this config's) and no consumer is a member of it; with `dry_run`, the
/// plan only. The change goes through `OffsetResetPlan`, as `sluice groups reset-offsets` does, so an
/// exactly-once sink follows it.
enum GroupOffsetsAPI {
    static func describe(_ group: String, _ observer: PipelineObserver) -> Response {
        let answer = observer.withBroker(group: group) { broker, use -> Response in
            do {
                guard use.sink != nil || broker.groupNames().contains(group) else { return unknown(group) }
                let description = try broker.describeGroup(group, topics: use.topics)
                let partitions = description.partitions.map { partition -> JSONValue in
                    .object([
                        ("topic", .string(partition.topicPartition.topic)),
                        ("partition", .number(String(partition.topicPartition.partition))),
                        ("offset", partition.committed.map { .number(String($0)) } ?? .null),
                        ("start", .number(String(partition.startOffset))),
                        ("end", .number(String(partition.endOffset))),
                        ("lag", partition.lag.map { .number(String($0)) } ?? .null),
                    ])
                }
                return AdminServer.json(
                    .object([
                        ("group", .string(group)), ("sink", use.sink.map(JSONValue.string) ?? .null),
                        ("paused", .bool(use.paused)), ("members", .array(description.members.map(JSONValue.string))),
                        ("partitions", .array(partitions)),
                    ]))
            } catch {
                return AdminServer.error("cannot read group \(group): \(error)", status: .internalServerError)
            }
        }
        return answer ?? notRunning
    }

    static func change(_ group: String, _ body: [UInt8], _ observer: PipelineObserver) -> Response {
        let request: (spec: OffsetResetSpec, topics: [String]?, dryRun: Bool)
        do {
            request = try parse(body)
        } catch let problem as Problem {
            return AdminServer.error(problem.message, status: .badRequest)
        } catch {
            return AdminServer.error("the body is not JSON: \(error)", status: .badRequest)
        }
        let answer = observer.withBroker(group: group) { broker, use -> Response in
            do {
                guard use.sink != nil || broker.groupNames().contains(group) else { return unknown(group) }
                let members = try broker.describeGroup(group).members
                if let sink = use.sink, !use.paused {
                    return AdminServer.error(
                        "group \(group) is sink \(sink)'s, which is running: pause it first (sluice pause \(sink)), "
                            + "change the offsets, then resume it", status: .conflict)
                }
                guard members.isEmpty else {
                    return AdminServer.error(
                        "group \(group) has live members (\(members.joined(separator: ", "))); stop them first",
                        status: .conflict)
                }
                let own =
                    use.topics.isEmpty ? Set(broker.committedOffsets(group).keys.map(\.topic)).sorted() : use.topics
                let topics = request.topics ?? own
                for topic in topics where broker.topicConfig(topic) == nil || !own.contains(topic) {
                    return AdminServer.error(
                        "group \(group) does not read topic \"\(topic)\" (it reads \(own.joined(separator: ", ")))",
                        status: .notFound)
                }
                let plan = try OffsetResetPlan.make(
                    broker: broker, group: group, targets: topics.map { OffsetResetTarget(topic: $0) },
                    spec: request.spec)
                if !request.dryRun { try plan.execute(broker: broker) }
                let rows = plan.rows.map { row -> JSONValue in
                    .object([
                        ("topic", .string(row.topicPartition.topic)),
                        ("partition", .number(String(row.topicPartition.partition))),
                        ("current", row.current.map { .number(String($0)) } ?? .null),
                        ("new", .number(String(row.new))),
                    ])
                }
                return AdminServer.json(
                    .object([
                        ("group", .string(group)), ("dry_run", .bool(request.dryRun)),
                        ("applied", .bool(!request.dryRun)), ("partitions", .array(rows)),
                    ]))
            } catch {
                return AdminServer.error("cannot change group \(group)'s offsets: \(error)", status: .badRequest)
            }
        }
        return answer ?? notRunning
    }

    private static func unknown(_ group: String) -> Response {
        AdminServer.error(
            "no group \"\(group)\": no sink of the running config reads in it and it has committed nothing",
            status: .notFound)
    }

    static let notRunning = AdminServer.error(
        "the pipeline is not running (it is starting, draining or waiting to restart); try again",
        status: .serviceUnavailable)

    private struct Problem: Error {
        var message: String
    }

    /// `{"to": "earliest"}`, `"latest"`, `{"offset": N}`, `{"shift_by": N}`, `{"datetime": "…"}`, with
    /// `"topics": [...]` to limit the change and `"dry_run": true` for the plan only.
    private static func parse(_ body: [UInt8]) throws -> (spec: OffsetResetSpec, topics: [String]?, dryRun: Bool) {
        let json = try JSONValue.parse(body)
        guard case .object(let members) = json else { throw Problem(message: "the body must be a JSON object") }
        let known = ["to", "offset", "shift_by", "datetime", "topics", "dry_run"]
        for (key, _) in members where !known.contains(key) {
            let hint = Suggestion.closest(to: key, in: known).map { "; did you mean \"\($0)\"?" } ?? ""
            throw Problem(message: "unknown member \"\(key)\"\(hint) (allowed: \(known.joined(separator: ", ")))")
        }
        var specs: [OffsetResetSpec] = []
        if let to = json["to"] {
            switch to.stringValue {
            case "earliest": specs.append(.toEarliest)
            case "latest": specs.append(.toLatest)
            default: throw Problem(message: "\"to\" is \"earliest\" or \"latest\"")
            }
        }
        if let offset = json["offset"] {
            guard let value = offset.integerValue, value >= 0 else {
                throw Problem(message: "\"offset\" must be an offset: an integer, 0 or more")
            }
            specs.append(.toOffset(value))
        }
        if let shift = json["shift_by"] {
            guard let value = shift.integerValue else { throw Problem(message: "\"shift_by\" must be an integer") }
            specs.append(.shiftBy(value))
        }
        if let datetime = json["datetime"] {
            guard let text = datetime.stringValue, let millis = ISO8601.parseMillis(text) else {
                throw Problem(message: "\"datetime\" must be an ISO 8601 date-time such as 2026-11-21T10:30:00Z")
            }
            specs.append(.toDatetime(millis))
        }
        guard specs.count == 1 else {
            throw Problem(
                message: "give exactly one of \"to\" (earliest or latest), \"offset\", \"shift_by\", \"datetime\"")
        }
        var topics: [String]?
        if let list = json["topics"] {
            guard case .array(let items) = list, !items.isEmpty, items.allSatisfy({ $0.stringValue != nil }) else {
                throw Problem(message: "\"topics\" must be a list of topic names")
            }
            topics = items.compactMap(\.stringValue)
        }
        if let dryRun = json["dry_run"], dryRun.boolValue == nil {
            throw Problem(message: "\"dry_run\" must be true or false")
        }
        return (specs[0], topics, json["dry_run"]?.boolValue ?? false)
    }
}
