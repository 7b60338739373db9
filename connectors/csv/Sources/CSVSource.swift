import Logging
import SluiceCore
import SluiceKit

/// The CSV source connector: reads CSV files (plain or gzip) into one record per row.
///
/// Each row's value is a JSON object of its fields in header order, typed by `columns`; its key is
/// the `key` columns' text; its headers say where it came from (`sluice.source.file`, `.line`,
/// `.offset`). Bad rows (wrong field count, invalid UTF-8, an unconvertible value, an unterminated
/// quote, a row over `max_row_bytes`) become dead letters with their raw bytes and the reason. A plain
/// file that ends inside a row (a writer still appending) holds that row back until it is complete,
/// unless `files_complete` says the files are finished. The
/// checkpoint holds, per file, its identity and the offset and line after the last row handed out;
/// with the rows stored after it, a restarted source neither repeats nor skips a row.
/// Runs on the thread the runtime gives it.
public final class CSVSource: Source {
    struct Settings {
        var pattern: String
        var dialect: CSVDialect
        var header: Bool
        var columnNames: [String]?
        var types: [String: ColumnType]
        var key: [String]
        var keySeparator: String
        var nullValues: [String]
        var latin1: Bool
        var skipRows: Int
        var maxRowBytes: Int
        var maxBatchRows: Int
        var maxBatchBytes: Int
        var filesComplete: Bool
        var afterRead: AfterRead
        var minFileAgeMillis: Int64
        var doneMarker: String?

        init(_ options: ConnectorOptions) {
            pattern = options.string("path") ?? ""
            dialect = CSVDialect(
                delimiter: options.byte("delimiter") ?? UInt8(ascii: ","),
                quote: options.byte("quote") ?? UInt8(ascii: "\""),
                escape: options.byte("escape")
            )
            header = options.bool("header") ?? true
            columnNames = options.stringList("column_names")
            var types: [String: ColumnType] = [:]
            for (name, type) in options.stringMap("columns") ?? [] { types[name] = ColumnType(rawValue: type) }
            self.types = types
            key = options.stringList("key") ?? []
            keySeparator = options.string("key_separator") ?? "|"
            nullValues = options.stringList("null_values") ?? []
            latin1 = options.string("encoding") == "latin1"
            skipRows = Int(options.integer("skip_rows") ?? 0)
            maxRowBytes = Int(options.integer("max_row_bytes") ?? Int64(16 << 20))
            maxBatchRows = Int(options.integer("max_batch_rows") ?? 20_000)
            maxBatchBytes = Int(options.integer("max_batch_bytes") ?? Int64(8 << 20))
            filesComplete = options.bool("files_complete") ?? false
            afterRead = AfterRead(options.string("after_read") ?? "keep") ?? .keep
            minFileAgeMillis = options.integer("min_file_age_ms") ?? 5000
            doneMarker = options.string("done_marker").flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    /// What becomes of a file once it is finished and its rows are durable in the broker (`after_read`).
    enum AfterRead: Equatable {
        case keep
        case delete
        case move(folder: String)

        /// Parses `keep`, `delete` or `move:FOLDER`; nil for anything else.
        init?(_ text: String) {
            switch text {
            case "keep": self = .keep
            case "delete": self = .delete
            default:
                guard text.hasPrefix("move:"), text.count > 5 else { return nil }
                self = .move(folder: String(text.dropFirst(5)))
            }
        }
    }

    let name: String
    let settings: Settings
    let logger: Logger
    /// In the daemon: a file that cannot be read is set aside (`setAside`) instead of stopping it.
    private let continuous: Bool
    private var pending: [(path: String, resume: CSVCheckpoint.FileState?)] = []
    private var state: CSVCheckpoint
    private let skip: [String: StoredRows]
    /// What records name their files relative to (`PathExpansion.folder`).
    private let folder: String?
    private let progressBox = Locked(SourceProgress())
    private var reader: FileReader?
    /// A file that could not be opened after earlier files' rows were already in the batch.
    private var openFailure: (any Error)?
    /// What `after_read` does to files finished so far, once the rows read are durable.
    private var actions: [ActionAfterDurable] = []

    /// Opens the source: lists its files and decides, from the checkpoint, which to read and from where.
    public init(context: SourceContext) throws {
        name = context.name
        settings = Settings(context.options)
        logger = context.logger
        continuous = context.continuous
        do {
            state = try context.checkpoint.map(CSVCheckpoint.init(decoding:)) ?? CSVCheckpoint()
        } catch {
            throw ConnectorError.fatal(
                "csv.checkpoint",
                "the stored position of source \"\(name)\" cannot be read (\(error)); "
                    + "forget it with `sluice sources reset \(name) --execute` to read the files again"
            )
        }
        // The records stored after the checkpoint name their files relative to the folder of the run
        // that wrote them, which the checkpoint records (records from before relative names hold
        // absolute paths, which stay as they are).
        folder = PathExpansion.folder(settings.pattern)
        let storedFolder = state.folder ?? folder
        var skip: [String: StoredRows] = [:]
        for headers in context.storedAfterCheckpoint {
            guard let file = headers.last(where: { $0.name == SluiceHeader.sourceFile })?.value else { continue }
            let path = PathExpansion.path(named: String(decoding: file, as: UTF8.self), in: storedFolder)
            if let offset = Self.number(headers, SluiceHeader.sourceOffset) {
                skip[path, default: StoredRows()].offsets.insert(offset)
            } else if let line = Self.number(headers, SluiceHeader.sourceLine) {
                skip[path, default: StoredRows()].lines.insert(line)
            }
        }
        state.folder = folder
        self.skip = skip
        var paths: [String]
        do {
            paths = try PathExpansion.files(settings.pattern)
        } catch {
            throw ConnectorError.fatal("csv.path", "\(context.options.path(of: "path")): \(error)")
        }
        if paths.isEmpty && !FileSystem.isDirectory(settings.pattern) && !context.continuous
            && !(settings.afterRead != .keep && context.checkpoint != nil)
        {
            throw ConnectorError.fatal(
                "csv.path", "\(context.options.path(of: "path")): \"\(settings.pattern)\" matches no file")
        }
        if let marker = settings.doneMarker { paths.removeAll { $0.hasSuffix(marker) } }
        followMovedFiles(paths)
        if settings.afterRead != .keep {
            // Files this source deleted or moved away are forgotten: their inode may come back as a new file.
            for (path, _) in state.files where !FileSystem.exists(path) { state.files[path] = nil }
        }
        var progress = SourceProgress()
        for path in paths {
            let kind = FileSystem.kind(path)
            guard kind == .regularFile else {
                throw ConnectorError.fatal(
                    "csv.path",
                    "\(context.options.path(of: "path")): \(path) is \(kind.phrase), not a regular file; "
                        + "the csv source reads files on disk")
            }
            let decision = try decide(path)
            guard let decision else {
                // Read to its end before: what after_read does to it may not have been done (a crash).
                if let stored = state.files[path] { actOnFinished(path, identity: stored.identity) }
                continue
            }
            pending.append((path, decision.resume))
            progress.files += 1
            // Progress counts this run's work: a file resumed part-way has only the rest to read (a gzip
            // file is inflated again from its start), so the summary's bytes are those read now.
            progress.bytesTotal += decision.size
        }
        progressBox.withLock { $0 = progress }
    }

    private static func number(_ headers: [Header], _ name: String) -> Int64? {
        headers.last(where: { $0.name == name })?.value.flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
    }

    /// A file moved or renamed since it was read is the same file, found by its identity: its stored
    /// position moves with it. This is also what log rotation does (`in.csv` becomes `in.csv.1` and a
    /// new `in.csv` starts), so a name that now holds another file does not keep the old one's position.
    /// Whether the contents are still the same is checked by `decide`, with the fingerprint.
    private func followMovedFiles(_ paths: [String]) {
        var byIdentity: [FileIdentity: String] = [:]
        for path in paths {
            if let identity = FileSystem.identity(path), byIdentity[identity] == nil { byIdentity[identity] = path }
        }
        var moved: [CSVCheckpoint.FileState] = []
        for stored in state.files.values where FileSystem.identity(stored.path) != stored.identity {
            guard let path = byIdentity[stored.identity], path != stored.path else { continue }
            moved.append(
                CSVCheckpoint.FileState(
                    path: path, identity: stored.identity, fingerprint: stored.fingerprint,
                    fingerprintBytes: stored.fingerprintBytes, offset: stored.offset, line: stored.line,
                    complete: stored.complete, failed: stored.failed))
            state.files[stored.path] = nil
        }
        for file in moved { state.files[file.path] = file }
    }

    /// Whether `input`, a new file under a read file's name with the same first bytes, is that file
    /// completed: a plain file has the same bytes before where reading stopped too; a gzip file (whose
    /// offsets are inflated bytes) qualifies only when its reading stopped part-way (a truncated file).
    private func isCompletedVersion(_ input: InputFile, of stored: CSVCheckpoint.FileState) throws -> Bool {
        if input.isGzip { return stored.gzipSize != nil && !stored.complete }
        guard let tailFingerprint = stored.tailFingerprint, input.size >= stored.offset else { return false }
        let tail = stored.tailRange
        return try input.fingerprint(at: tail.offset, count: tail.count) == tailFingerprint
    }

    /// Whether to read `path` and from where: nil when it was read to its end and has not changed.
    /// `size` is how many bytes of the file are left to read.
    private func decide(_ path: String) throws -> (resume: CSVCheckpoint.FileState?, size: Int64)? {
        let input = try InputFile(path: path)
        guard var stored = state.files[path] else { return (nil, input.size) }
        let samePrefix =
            try input.size >= Int64(stored.fingerprintBytes)
            && input.fingerprint(count: stored.fingerprintBytes) == stored.fingerprint
        if samePrefix && input.identity != stored.identity && stored.failed == nil,
            try isCompletedVersion(input, of: stored)
        {
            // A file read part-way was replaced by one with the same bytes up to where reading stopped:
            // the complete file of a download or copy moved into place. Reading it from the start would
            // store the rows read from the part again.
            logger.warning(
                "the file was replaced by one that starts with the same bytes; going on from where reading stopped",
                metadata: ["file": "\(path)", "line": "\(stored.line)"])
            stored.identity = input.identity
            state.files[path] = stored
        }
        guard samePrefix && input.identity == stored.identity else {
            if input.identity == stored.identity {
                // The same inode with other contents: truncated and written again in place (copytruncate
                // rotation), or a deleted file's inode taken by a new one.
                logger.warning(
                    "the file was truncated or rewritten in place since it was read; reading it again from the start",
                    metadata: ["file": "\(path)"])
            } else {
                logger.info(
                    "a different file now has this name; reading it from the start", metadata: ["file": "\(path)"])
            }
            state.files[path] = nil
            return (nil, input.size)
        }
        if stored.failed != nil {
            // Set aside: tried again once it changes.
            if input.size == stored.offset { return nil }
            state.files[path] = nil
            return (nil, input.size)
        }
        if stored.complete && input.isGzip {
            // Read to its end; members appended since (`gzip -c more.csv >> file.csv.gz`) are read after
            // the rows already stored, the file being inflated again from its start.
            guard let readSize = stored.gzipSize, input.size > readSize else { return nil }
            return (stored, input.size)
        }
        if stored.complete && input.size == stored.offset { return nil }
        if stored.complete && !input.isGzip && input.size > stored.offset && stored.offset > 0,
            let last = try input.file.read(at: stored.offset - 1, count: 1).first, last != 0x0A && last != 0x0D
        {
            // The file was taken as finished with a last row that lacked its line break, and that row
            // was read as it was; what was appended since may have been its end, which reads as a row
            // of its own. A writer that pauses longer than the file's age setting does this.
            logger.warning(
                """
                the file grew after it was taken as finished, and its last row had no line break: that row was \
                read without what followed; raise min_file_age_ms (or use done markers) for slow writers
                """,
                metadata: ["file": "\(path)", "offset": "\(stored.offset)"])
        }
        if !input.isGzip && input.size == stored.offset && isFinished(path) {
            // Only a row without its line break was left, and the file is finished: read it now.
            return (stored, 0)
        }
        if !input.isGzip && input.size < stored.offset {
            logger.warning(
                "the file is shorter than where reading stopped; reading it from the start",
                metadata: ["file": "\(path)"])
            state.files[path] = nil
            return (nil, input.size)
        }
        return (stored, input.isGzip ? input.size : input.size - stored.offset)
    }

    public var progress: SourceProgress { progressBox.withLock { $0 } }

    public func checkpoint() -> [UInt8] { state.encoded() }

    public func takeActionsAfterDurable() -> [ActionAfterDurable] {
        defer { actions = [] }
        return actions
    }

    /// Whether nothing more will be written to `path`: its `done_marker` exists, or without one, it has
    /// not changed for `min_file_age_ms`.
    func isFinished(_ path: String) -> Bool { Self.isFinished(path, settings) }

    static func isFinished(_ path: String, _ settings: Settings) -> Bool {
        if let marker = settings.doneMarker { return FileSystem.exists(path + marker) }
        guard let changed = FileSystem.modificationTimeMillis(path) else { return false }
        return Time.nowMillis() - changed >= settings.minFileAgeMillis
    }

    /// Queues what `after_read` does to `path`, read to its end, if it is finished. The action checks
    /// that the file is still the one read, unchanged, and leaves it otherwise (a later pass reads what
    /// was added).
    private func actOnFinished(_ path: String, identity: FileIdentity) {
        let afterRead = settings.afterRead
        guard afterRead != .keep, isFinished(path), let size = FileSystem.fileSize(path) else { return }
        let suffix = settings.doneMarker
        let marker = suffix.map { path + $0 }
        let name = PathExpansion.name(of: path, in: folder)
        switch afterRead {
        case .keep:
            return
        case .delete:
            actions.append(
                ActionAfterDurable("delete \(name), read to its end") {
                    guard FileSystem.identity(path) == identity, FileSystem.fileSize(path) == size else { return false }
                    try FileSystem.removeFile(path)
                    if let marker { try FileSystem.removeFile(marker) }
                    return true
                })
        case .move(let destination):
            actions.append(
                ActionAfterDurable("move \(name), read to its end, to \(destination)") {
                    guard FileSystem.identity(path) == identity, FileSystem.fileSize(path) == size else { return false }
                    try FileSystem.createDirectory(destination)
                    let target = FileSystem.unusedPath(for: path, in: destination)
                    try FileSystem.rename(path, to: target)
                    if let marker, let suffix, FileSystem.exists(marker) {
                        try FileSystem.rename(marker, to: target + suffix)
                    }
                    return true
                })
        }
    }

    public func close() {
        reader = nil
    }

    /// Records in the checkpoint that `path` cannot be read and why, so that the daemon goes on with
    /// the other files and the ledger shows it failed; it is tried again once it changes. Throws
    /// `error` when the file itself cannot be looked at.
    private func setAside(_ path: String, _ error: any Error) throws {
        guard let input = try? InputFile(path: path) else { throw error }
        let reason = (error as? ConnectorError)?.message ?? "\(error)"
        let bytes = Int(min(Int64(CSVCheckpoint.fingerprintLength), input.size))
        state.files[path] = CSVCheckpoint.FileState(
            path: path, identity: input.identity, fingerprint: try input.fingerprint(count: bytes),
            fingerprintBytes: bytes, offset: input.size, line: 1, complete: false, failed: reason)
        logger.warning(
            "the file cannot be read; it is set aside until it changes",
            metadata: ["source": "\(name)", "file": "\(path)", "error": "\(reason)"])
    }

    public func nextBatch(_ batch: inout SourceBatch) throws -> Bool {
        if let failure = openFailure { throw failure }
        while true {
            if reader == nil {
                guard !pending.isEmpty else { return false }
                let next = pending.removeFirst()
                // A finished file ends where it ends: a last row without its line break is read as it is.
                var settings = settings
                if isFinished(next.path) { settings.filesComplete = true }
                do {
                    reader = try FileReader(
                        path: next.path, name: PathExpansion.name(of: next.path, in: folder), resume: next.resume,
                        settings: settings, skip: skip[next.path] ?? StoredRows(),
                        source: name, logger: logger)
                } catch {
                    if continuous {
                        try setAside(next.path, error)
                        continue
                    }
                    guard !batch.isEmpty else { throw error }
                    // The rows of the files before it are stored first; the failure ends the next call.
                    openFailure = error
                    return true
                }
            }
            guard let reader else { return false }
            let before = reader.input.bytesReadThisRun
            let stats: FileReader.Stats
            let (records, letters) = (batch.records.count, batch.deadLetters.count)
            do {
                stats = try reader.fill(&batch, now: Time.nowMillis())
            } catch {
                // Only a file that gave nothing yet (its header does not fit, it cannot be inflated) is
                // set aside; one that failed part-way stops the source, as in a run.
                guard continuous, state.files[reader.path] == nil, batch.records.count == records,
                    batch.deadLetters.count == letters
                else { throw error }
                self.reader = nil
                try setAside(reader.path, error)
                continue
            }
            let fingerprintBytes = Int(min(Int64(CSVCheckpoint.fingerprintLength), reader.input.size))
            var fileState = CSVCheckpoint.FileState(
                path: reader.path,
                identity: reader.input.identity,
                fingerprint: try reader.input.fingerprint(count: fingerprintBytes),
                fingerprintBytes: fingerprintBytes,
                offset: reader.offset,
                line: reader.line,
                complete: stats.finished && !stats.heldBack,
                gzipSize: reader.input.isGzip ? reader.input.size : nil
            )
            if !reader.input.isGzip {
                let tail = fileState.tailRange
                fileState.tailFingerprint = try reader.input.fingerprint(at: tail.offset, count: tail.count)
            }
            state.files[reader.path] = fileState
            progressBox.withLock { progress in
                progress.rowsRead += stats.rows
                progress.rowsDeadLettered += stats.deadLetters
                progress.rowsSkipped += stats.skipped
                progress.bytesRead += reader.input.bytesReadThisRun - before
                if stats.finished { progress.filesDone += 1 }
                if stats.heldBack { progress.filesHeldBack += 1 }
            }
            batch.inputRows += stats.rows
            batch.inputBytes += stats.bytes
            if stats.finished && !stats.heldBack {
                actOnFinished(reader.path, identity: reader.input.identity)
            }
            if stats.finished {
                self.reader = nil
                // Small files share a batch, so that a folder of many small files is not one stored batch
                // and one checkpoint (which lists every file) per file: that made runs quadratic.
                let full =
                    batch.records.count + batch.deadLetters.count >= settings.maxBatchRows
                    || batch.inputBytes >= settings.maxBatchBytes
                if full || (pending.isEmpty && (!batch.isEmpty || stats.rows > 0)) { return true }
                continue
            }
            return true
        }
    }
}
