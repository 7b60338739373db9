import SluiceCore

/// The sparse offset index and the time index of one segment, in memory and in their files.
///
/// Owned by its `Segment` and used under the partition log's lock. The files are hints: they are written
/// as entries are added, never fsynced, checked on open and rebuilt from the log when they disagree.
final class SegmentIndex {
    /// One offset-index entry: a batch's base offset (relative to the segment) and byte position.
    struct OffsetEntry: Equatable {
        var relativeOffset: UInt32
        var position: UInt32
    }

    /// One time-index entry: the largest timestamp so far and the relative offset of its batch.
    struct TimeEntry: Equatable {
        var timestamp: Int64
        var relativeOffset: UInt32
    }

    let baseOffset: Int64
    let offsetPath: String
    let timePath: String
    private(set) var offsets: [OffsetEntry] = []
    private(set) var times: [TimeEntry] = []
    private var offsetFile: SystemFile?
    private var timeFile: SystemFile?

    init(directory: String, baseOffset: Int64) {
        self.baseOffset = baseOffset
        offsetPath = directory + "/" + Segment.fileName(baseOffset, "index")
        timePath = directory + "/" + Segment.fileName(baseOffset, "timeindex")
    }

    /// Reads both files; returns false when either is missing or malformed for a log of `logSize` bytes.
    func load(logSize: Int64) -> Bool {
        guard let offsetBytes = try? FileSystem.readFile(offsetPath), offsetBytes.count % 8 == 0,
            let timeBytes = try? FileSystem.readFile(timePath), timeBytes.count % 12 == 0
        else { return false }
        var offsets: [OffsetEntry] = []
        offsetBytes.withUnsafeBytes { raw in
            for i in stride(from: 0, to: raw.count, by: 8) {
                offsets.append(
                    OffsetEntry(
                        relativeOffset: raw.bigEndian(at: i, as: UInt32.self),
                        position: raw.bigEndian(at: i + 4, as: UInt32.self)
                    )
                )
            }
        }
        var times: [TimeEntry] = []
        timeBytes.withUnsafeBytes { raw in
            for i in stride(from: 0, to: raw.count, by: 12) {
                times.append(
                    TimeEntry(
                        timestamp: raw.bigEndian(at: i, as: Int64.self),
                        relativeOffset: raw.bigEndian(at: i + 8, as: UInt32.self)
                    )
                )
            }
        }
        for (a, b) in zip(offsets, offsets.dropFirst())
        where b.relativeOffset <= a.relativeOffset || b.position <= a.position {
            return false
        }
        if let last = offsets.last, Int64(last.position) >= logSize { return false }
        for (a, b) in zip(times, times.dropFirst())
        where b.timestamp < a.timestamp || b.relativeOffset < a.relativeOffset {
            return false
        }
        self.offsets = offsets
        self.times = times
        return true
    }

    /// Replaces the entries and rewrites both files (unless `persist` is false, for read-only logs).
    func replace(offsets: [OffsetEntry], times: [TimeEntry], persist: Bool) throws {
        self.offsets = offsets
        self.times = times
        guard persist else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(offsets.count * 8)
        for entry in offsets {
            bytes.appendBigEndian(entry.relativeOffset)
            bytes.appendBigEndian(entry.position)
        }
        let offsetFile = try SystemFile.open(offsetPath, .truncate)
        try offsetFile.append(bytes)
        bytes.removeAll(keepingCapacity: true)
        for entry in times {
            bytes.appendBigEndian(entry.timestamp)
            bytes.appendBigEndian(entry.relativeOffset)
        }
        let timeFile = try SystemFile.open(timePath, .truncate)
        try timeFile.append(bytes)
        self.offsetFile = offsetFile
        self.timeFile = timeFile
    }

    /// Opens the files for appending new entries.
    func openForAppend() throws {
        if offsetFile == nil {
            offsetFile = try SystemFile.open(offsetPath, .readWriteCreate)
            try offsetFile?.seek(to: Int64(offsets.count * 8))
        }
        if timeFile == nil {
            timeFile = try SystemFile.open(timePath, .readWriteCreate)
            try timeFile?.seek(to: Int64(times.count * 12))
        }
    }

    /// Adds an offset entry for the batch at `position`, and a time entry when `maxTimestamp` (the
    /// segment's largest timestamp up to and including this batch, as Kafka keeps it) grew since the last.
    func add(batchBaseOffset: Int64, position: Int64, maxTimestamp: Int64) throws {
        let relative = UInt32(truncatingIfNeeded: batchBaseOffset - baseOffset)
        let entry = OffsetEntry(relativeOffset: relative, position: UInt32(truncatingIfNeeded: position))
        offsets.append(entry)
        var bytes: [UInt8] = []
        bytes.appendBigEndian(entry.relativeOffset)
        bytes.appendBigEndian(entry.position)
        try offsetFile?.append(bytes)
        if maxTimestamp > (times.last?.timestamp ?? Int64.min) {
            let time = TimeEntry(timestamp: maxTimestamp, relativeOffset: relative)
            times.append(time)
            bytes.removeAll(keepingCapacity: true)
            bytes.appendBigEndian(time.timestamp)
            bytes.appendBigEndian(time.relativeOffset)
            try timeFile?.append(bytes)
        }
    }

    /// The byte position of the last indexed batch whose base offset is at most `offset` (0 when none).
    func position(atOrBefore offset: Int64) -> Int64 {
        let relative = offset - baseOffset
        var low = 0
        var high = offsets.count
        while low < high {
            let mid = (low + high) / 2
            if Int64(offsets[mid].relativeOffset) <= relative { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? 0 : Int64(offsets[low - 1].position)
    }

    /// The absolute offset of the last time entry with a timestamp below `timestamp`, from where a scan
    /// for the first record at or after `timestamp` can start (the base offset when none).
    func offset(before timestamp: Int64) -> Int64 {
        var result = baseOffset
        for entry in times {
            if entry.timestamp >= timestamp { break }
            result = baseOffset + Int64(entry.relativeOffset)
        }
        return result
    }

    func closeFiles() {
        offsetFile = nil
        timeFile = nil
    }

    func deleteFiles() throws {
        closeFiles()
        try FileSystem.removeFile(offsetPath)
        try FileSystem.removeFile(timePath)
    }
}
