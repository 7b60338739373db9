import Logging
import SluiceCore

extension PartitionLog {
    /// Opens the log in `directory`. With `create` (and not `readOnly`), a missing folder, or one
    /// without segments, becomes a new, empty log; without it, either is an error (`missing`), since a
    /// log that existed never loses its last segment.
    ///
    /// Recovery: leftovers of interrupted deletions are removed; every closed segment's index is
    /// checked against its log and rebuilt when it does not match; the active segment is read batch by
    /// batch (length, magic, offset continuity, CRC) and a torn tail, what an interrupted append
    /// leaves, is cut off with a warning that says where and why. Corruption, in any segment, throws
    /// `corrupt` naming the file and changes nothing (see `SegmentScanner`). A read-only open mends
    /// nothing on disk and reads only up to a torn tail.
    public static func open(
        directory: String,
        name: String? = nil,
        config: LogConfig = LogConfig(),
        readOnly: Bool = false,
        create: Bool = true,
        logger: Logger = Logger(label: "sluice.log")
    ) throws -> PartitionLog {
        let name = name ?? String(directory.split(separator: "/").last ?? Substring(directory))
        if !FileSystem.isDirectory(directory) {
            guard create && !readOnly else {
                throw LogError(.missing, "the partition folder \(directory) does not exist")
            }
            try FileSystem.createDirectory(directory)
        }
        var bases: [Int64] = []
        for file in try FileSystem.contentsOfDirectory(directory) {
            if file.hasSuffix(".deleted") || (file.hasPrefix(".") && file.hasSuffix(".tmp")) {
                if !readOnly { try FileSystem.removeFile(directory + "/" + file) }
            } else if let base = Segment.baseOffset(fromFileName: file, ext: "log") {
                bases.append(base)
            }
        }
        bases.sort()
        var segments: [Segment] = []
        if bases.isEmpty {
            guard create && !readOnly else {
                throw LogError(.missing, "the partition folder \(directory) holds no segment (.log) files")
            }
            segments.append(try Segment.create(directory: directory, baseOffset: 0))
            try FileSystem.syncDirectory(directory)
        }
        for (i, base) in bases.enumerated() {
            let isActive = i == bases.count - 1
            let (segment, repair) = try Segment.open(
                directory: directory,
                baseOffset: base,
                verify: isActive,
                readOnly: readOnly,
                indexIntervalBytes: config.indexIntervalBytes
            )
            if let cut = repair.truncation {
                // A read-only process leaves the file as it is and reads only up to the damage.
                var metadata: Logger.Metadata = [
                    "log": "\(name)", "segment": "\(Segment.fileName(base, "log"))", "position": "\(cut.position)",
                    "bytes": "\(cut.bytes)", "reason": "\(cut.reason)", "next_offset": "\(segment.nextOffset)",
                ]
                if !readOnly { metadata["cut_bytes_kept_in"] = "\(segment.logPath).torn" }
                logger.warning(
                    readOnly
                        ? "ignoring a torn tail (the writing process cuts it off)"
                        : "cut off a torn tail left by an interrupted write",
                    metadata: metadata)
            }
            if repair.indexRebuilt && !isActive {
                logger.warning("rebuilt a missing or wrong index", metadata: ["log": "\(name)", "segment": "\(base)"])
            }
            if let previous = segments.last, previous.nextOffset != base {
                throw LogError(
                    .corrupt,
                    "\(directory): segment \(Segment.fileName(base, "log")) starts at offset \(base) but the segment "
                        + "before it ends at \(previous.nextOffset)"
                )
            }
            if !isActive { segment.close() }
            segments.append(segment)
        }
        return PartitionLog(
            directory: directory,
            name: name,
            readOnly: readOnly,
            logger: logger,
            segments: segments,
            config: config
        )
    }

    /// For a read-only log: picks up batches and segments that the writing process added since the log
    /// was opened or last refreshed, reading only what is new. Does nothing on a writable log.
    public func refresh() throws {
        guard isReadOnly else { return }
        let (active, config) = state.withLock { ($0.segments[$0.segments.count - 1], $0.config) }
        _ = try state.withLock { _ in
            try active.catchUp(indexIntervalBytes: config.indexIntervalBytes)
        }
        let newBases = try FileSystem.contentsOfDirectory(directory)
            .compactMap { Segment.baseOffset(fromFileName: $0, ext: "log") }
            .filter { $0 > active.baseOffset }
            .sorted()
        guard !newBases.isEmpty else { return }
        var opened: [Segment] = []
        for base in newBases {
            guard FileSystem.exists(directory + "/" + Segment.fileName(base, "log")) else { continue }
            let (segment, _) = try Segment.open(
                directory: directory,
                baseOffset: base,
                verify: true,
                readOnly: true,
                indexIntervalBytes: config.indexIntervalBytes
            )
            opened.append(segment)
        }
        state.withLock { state in
            guard state.segments.last === active else { return }
            for segment in opened where segment.baseOffset == state.segments[state.segments.count - 1].nextOffset {
                state.segments.append(segment)
            }
        }
    }
}
