import SluiceCore
import SluiceKit

/// Which of the folder's files a delivery replaces, and when it may remove them.
///
/// When a task takes a partition, files for offsets from its start on may already be there: left by
/// an attempt that was never committed (at or above the highest offset the group ever committed), or
/// committed before a reset moved the group back, or before the topic was deleted and created again
/// (the group then has no commit). The first kind is removed at once. The others are committed output:
/// each stays until the records it holds have been delivered again and the new files are durable, so
/// a run that fails half-way removes nothing it has not replaced. A file that holds records from before
/// the start as well (a reset into the middle of a file) cannot be replaced by records from the start
/// on: the task asks for delivery from the file's first offset instead, and writes it whole again.
/// Not thread-safe: the sink's one thread owns it.
struct Replacement {
    struct Existing: Equatable {
        var name: String
        var first: Int64
        var last: Int64
    }

    /// What taking a partition found.
    struct Opening: Equatable {
        /// Files of attempts that were never committed: remove them now.
        var leftovers: [Existing] = []
        /// Where delivery must start so that every kept file from there on is written again; nil
        /// when the start given will do.
        var rewind: Int64?
        /// Files kept until they are replaced that the group never committed at all (no commit on the
        /// partition: a topic created again, another group's folder): worth a word to the user.
        var foreign: [Existing] = []
    }

    /// Per partition: the files to remove once their records are delivered again.
    private(set) var pending: [TopicPartition: [Existing]] = [:]
    /// Per partition: the offsets delivered (written or dead-lettered) since the task took it, and made
    /// durable: from the first to the highest.
    private(set) var delivered: [TopicPartition: ClosedRange<Int64>] = [:]
    /// Names of the files written since the task took the partition: never removed by this.
    private var written: Set<String> = []

    /// Sorts the partition's existing files when a task takes it from `start`, with the highest offset
    /// its group ever committed (nil when unknown or never).
    mutating func open(_ tp: TopicPartition, start: Int64, committedBefore: Int64?, files: [Existing]) -> Opening {
        delivered[tp] = nil
        var opening = Opening()
        var kept: [Existing] = []
        for file in files {
            if let committedBefore, file.first >= committedBefore {
                opening.leftovers.append(file)
            } else {
                kept.append(file)
            }
        }
        // Start early enough that no kept file holds records on both sides of the start.
        var from = start
        while let straddling = kept.filter({ $0.first < from && $0.last >= from }).map(\.first).min() {
            from = straddling
        }
        if from < start { opening.rewind = from }
        pending[tp] = kept.filter { $0.last >= from }
        if committedBefore == nil { opening.foreign = pending[tp] ?? [] }
        return opening
    }

    mutating func wrote(_ name: String) {
        written.insert(name)
    }

    mutating func forget(_ tp: TopicPartition) {
        pending[tp] = nil
        delivered[tp] = nil
    }

    /// After a flush: the offsets `through` of each partition are durable. Returns the files whose
    /// records are all delivered again (a delivery that did not start as far back as asked replaces
    /// only what it covers); they stay pending until `removed` says they are gone.
    mutating func replaceable(through: [TopicPartition: ClosedRange<Int64>]) -> [Existing] {
        var done: [Existing] = []
        for (tp, range) in through {
            let known = delivered[tp]
            delivered[tp] =
                min(
                    known?.lowerBound ?? range.lowerBound, range.lowerBound)...max(
                    known?.upperBound ?? range.upperBound, range.upperBound)
            guard let files = pending[tp], let covered = delivered[tp] else { continue }
            done += files.filter {
                covered.contains($0.first) && $0.last <= covered.upperBound && !written.contains($0.name)
            }
        }
        return done
    }

    /// The files `replaceable` returned that were removed.
    mutating func removed(_ files: [Existing]) {
        let names = Set(files.map(\.name))
        for tp in Array(pending.keys) { pending[tp]?.removeAll { names.contains($0.name) } }
    }
}
