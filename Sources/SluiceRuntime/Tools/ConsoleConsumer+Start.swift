import SluiceBroker
import SluiceCore

extension ConsoleConsumer {
    /// Where reading starts, as kcat's `-o` says it.
    public enum StartOffset: Sendable, Equatable {
        /// The first stored record of each partition.
        case beginning
        /// The end of each partition: only records appended from now on.
        case end
        /// The group's committed offsets (with a group only; that is where a group starts anyway).
        case stored
        /// This offset of each partition (its start or end when the offset lies before or after).
        case absolute(Int64)
        /// This many records before the end of each partition (`-o -10`).
        case fromEnd(Int64)

        /// `beginning`, `end`, `stored`, an offset, or `-N` for N records before the end.
        public init(parsing text: String) throws {
            switch text {
            case "beginning": self = .beginning
            case "end": self = .end
            case "stored": self = .stored
            default:
                guard let number = Int64(text) else {
                    throw RuntimeError("expected beginning, end, stored, an offset, or -N for N records before the end")
                }
                self = text.hasPrefix("-") ? .fromEnd(number.magnitude > Int64.max ? .max : -number) : .absolute(number)
            }
        }
    }

    /// Refuses options that do not go together, saying which.
    public func checkOptions() throws {
        if offset != nil && fromBeginning {
            throw RuntimeError("--from-beginning and --offset cannot be used together; --offset beginning is the same")
        }
        if let group {
            if partition != nil {
                throw RuntimeError(
                    "--partition cannot be used with --group: the group assigns the partitions; "
                        + "leave out --group to read one partition")
            }
            switch offset {
            case .absolute, .fromEnd:
                throw RuntimeError(
                    "with --group, --offset takes beginning, end or stored (where group \"\(group)\" has no "
                        + "committed offset, it starts there); to move the group, use `sluice groups "
                        + "reset-offsets --group \(group) --topic \(topic) --to-offset N --execute`")
            default: break
            }
        } else if offset == .stored {
            throw RuntimeError("--offset stored starts at a group's committed offsets; it needs --group")
        }
        if let partition, partition < 0 { throw RuntimeError("--partition must be 0 or more") }
    }

    /// The partitions to read: the one chosen, which must exist, or all.
    func selectedPartitions(_ broker: any PipelineBroker) throws -> [Int32] {
        let count = try broker.partitionCount(topic)
        guard let partition else { return Array(0..<count) }
        guard (0..<count).contains(partition) else {
            throw BrokerError(
                .invalidPartitions,
                "topic \"\(topic)\" has no partition \(partition); its partitions are "
                    + (count == 1 ? "0 only" : "0 to \(count - 1)"))
        }
        return [partition]
    }

    /// Where each partition starts without a group, and a note for each offset that had to be moved into
    /// the partition's range.
    func startPositions(_ ranges: [(tp: TopicPartition, start: Int64, end: Int64)]) -> (
        positions: [Int64], notes: [String]
    ) {
        var notes: [String] = []
        let positions = ranges.map { range -> Int64 in
            switch offset ?? (fromBeginning ? .beginning : .end) {
            case .beginning, .stored: return range.start
            case .end: return range.end
            case .fromEnd(let count): return max(range.start, range.end - count)
            case .absolute(let wanted):
                if wanted < range.start {
                    notes.append(
                        "\(range.tp): offset \(wanted) is before the first stored offset; starting at \(range.start)")
                    return range.start
                }
                if wanted > range.end {
                    notes.append("\(range.tp): offset \(wanted) is past the end; starting at the end, \(range.end)")
                    return range.end
                }
                return wanted
            }
        }
        return (positions, notes)
    }

    /// What to say when the default start at the end found nothing although records are stored.
    func emptyEndHint(stored: Int64, groupWithoutCommits: String?) -> String? {
        guard offset == nil, !fromBeginning, !follow, stored > 0 else { return nil }
        let records = "\(Format.count(Int(stored))) record\(stored == 1 ? "" : "s")"
        let holder = partition.map { "partition \($0) of \(topic) has" } ?? "the topic has"
        let group = groupWithoutCommits.map { "group \"\($0)\" has no committed offsets, so it starts at the end; " }
        return "no new records; \(group ?? "")\(holder) \(records) — use --from-beginning or --offset beginning "
            + "to read them"
    }
}
