import SluiceBroker
import SluiceCore

/// `sluice groups reset-offsets`: where to move a group's committed offsets, named as
/// `kafka-consumer-groups` names them. New offsets are clamped to what the partition stores.
public enum OffsetResetSpec: Sendable, Equatable {
    case toEarliest
    case toLatest
    case toOffset(Int64)
    case shiftBy(Int64)
    /// The first offset whose record timestamp is at or after this time (epoch milliseconds).
    case toDatetime(Int64)
}

public struct OffsetResetPlan: Sendable {
    public struct Row: Sendable, Equatable {
        public var topicPartition: TopicPartition
        public var current: Int64?
        public var new: Int64
    }

    public var group: String
    public var rows: [Row]

    /// Plans the reset of `group` on `topic` (all partitions, or `partitions`).
    public static func make(
        broker: Broker,
        group: String,
        topic: String,
        partitions: [Int32]?,
        spec: OffsetResetSpec
    ) throws -> OffsetResetPlan {
        let count = try broker.partitionCount(topic)
        let chosen = partitions ?? Array(0..<count)
        let committed = broker.committedOffsets(group)
        var rows: [Row] = []
        for partition in chosen {
            guard partition >= 0 && partition < count else {
                throw BrokerError(
                    .invalidPartitions, "topic \"\(topic)\" has partitions 0 to \(count - 1), not \(partition)")
            }
            let tp = TopicPartition(topic, partition)
            let (start, end) = try broker.offsets(tp)
            let current = committed[tp]
            var target: Int64
            switch spec {
            case .toEarliest: target = start
            case .toLatest: target = end
            case .toOffset(let offset): target = offset
            case .shiftBy(let delta): target = (current ?? end) + delta
            case .toDatetime(let millis): target = try broker.log(tp).offset(forTimestamp: millis)
            }
            target = min(max(target, start), end)
            rows.append(Row(topicPartition: tp, current: current, new: target))
        }
        return OffsetResetPlan(group: group, rows: rows)
    }

    /// Commits the planned offsets.
    public func execute(broker: Broker) throws {
        try broker.setCommittedOffsets(
            group, Dictionary(uniqueKeysWithValues: rows.map { ($0.topicPartition, $0.new) }))
    }
}

/// Parses ISO 8601 date-times such as `2026-11-21T10:30:00Z`, `2026-11-21T10:30:00.250+02:00` or
/// `2026-11-21` (midnight UTC) into epoch milliseconds. Without a zone, the time is taken as UTC.
public enum ISO8601 {
    public static func parseMillis(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        var i = 0
        func number(_ digits: Int) -> Int64? {
            guard i + digits <= bytes.count else { return nil }
            var value: Int64 = 0
            for k in 0..<digits {
                let b = bytes[i + k]
                guard b >= 0x30 && b <= 0x39 else { return nil }
                value = value * 10 + Int64(b - 0x30)
            }
            i += digits
            return value
        }
        func expect(_ c: Character) -> Bool {
            guard i < bytes.count, bytes[i] == c.asciiValue else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var hour: Int64 = 0
        var minute: Int64 = 0
        var second: Int64 = 0
        var millis: Int64 = 0
        var zone: Int64 = 0
        if i < bytes.count {
            guard expect("T") || expect(" "), let h = number(2), expect(":"), let m = number(2), h < 24, m < 60 else {
                return nil
            }
            hour = h
            minute = m
            if expect(":") {
                guard let s = number(2), s < 61 else { return nil }
                second = s
                if expect(".") || expect(",") {
                    var scale: Int64 = 100
                    while i < bytes.count, bytes[i] >= 0x30, bytes[i] <= 0x39 {
                        millis += Int64(bytes[i] - 0x30) * scale
                        scale /= 10
                        i += 1
                    }
                }
            }
            if expect("Z") {
            } else if i < bytes.count {
                let sign: Int64 = bytes[i] == UInt8(ascii: "-") ? -1 : 1
                guard expect("+") || expect("-"), let zh = number(2) else { return nil }
                _ = expect(":")
                guard let zm = number(2) else { return nil }
                zone = sign * (zh * 60 + zm)
            }
        }
        guard i == bytes.count else { return nil }
        return (daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - zone * 60) * 1000
            + millis
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
