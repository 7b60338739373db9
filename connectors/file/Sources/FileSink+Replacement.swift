import SluiceCore
import SluiceKit

/// Which of the folder's files a delivery replaces, and when it may remove them.
///
/// When a task takes a partition, files for offsets from its start on may already be there: left by
/// an attempt that was never committed (at or above the highest offset the group ever committed), or
/// committed before a reset moved the group back, or before the topic was deleted and created again
/// (the group then has no commit). The first kind is removed at once, as before. The others are
/// committed output: each stays until the records it holds have been delivered again and the new
/// files are durable, so a run that fails half-way, or that never gets that far, removes nothing it
/// has not replaced. A file that reaches below the start is replaced only when the files kept below
/// the start hold the rest of its records. Not thread-safe: the sink's one thread owns it.
struct Replacement {
    struct Existing: Equatable {
        var name: String
        var first: Int64
        var last: Int64
    }

    /// Per partition: the files to remove once their records are delivered again.
    private(set) var pending: [TopicPartition: [Existing]] = [:]
    /// Per partition: the highest offset delivered (written or dead-lettered) since the task took it,
    /// and made durable.
    private(set) var delivered: [TopicPartition: Int64] = [:]
    /// Names of the files written since the task took the partition: never removed by this.
    private var written: Set<String> = []

    /// Sorts the partition's existing files when a task takes it from `start`. Returns the files to
    /// remove at once (uncommitted leftovers).
    mutating func open(_ tp: TopicPartition, start: Int64, committedBefore: Int64?, files: [Existing]) -> [Existing] {
        pending[tp] = nil
        delivered[tp] = nil
        var leftovers: [Existing] = []
        var replaced: [Existing] = []
        let kept = files.filter { $0.last < start }
        for file in files where file.last >= start {
            if let committedBefore, file.first >= committedBefore {
                leftovers.append(file)
            } else if file.first >= start || Self.covers(kept, file.first, start - 1) {
                replaced.append(file)
            }
        }
        pending[tp] = replaced
        return leftovers
    }

    /// Whether `files` hold every offset from `first` to `last`.
    static func covers(_ files: [Existing], _ first: Int64, _ last: Int64) -> Bool {
        var next = first
        for file in files.sorted(by: { $0.first < $1.first }) where file.first <= next && file.last >= next {
            next = file.last + 1
            if next > last { return true }
        }
        return next > last
    }

    mutating func wrote(_ name: String) {
        written.insert(name)
    }

    mutating func forget(_ tp: TopicPartition) {
        pending[tp] = nil
        delivered[tp] = nil
    }

    /// After a flush: the partitions are durable through `through`. Returns the files whose records
    /// are all delivered again, which may now be removed.
    mutating func durable(through: [TopicPartition: Int64]) -> [Existing] {
        var done: [Existing] = []
        for (tp, last) in through {
            delivered[tp] = max(delivered[tp] ?? last, last)
            guard let files = pending[tp], let high = delivered[tp] else { continue }
            let (covered, rest) = (files.filter { $0.last <= high }, files.filter { $0.last > high })
            pending[tp] = rest
            done += covered.filter { !written.contains($0.name) }
        }
        return done
    }
}
