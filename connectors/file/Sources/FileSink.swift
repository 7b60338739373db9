import Glibc
import Logging
import SluiceCore
import SluiceKit

/// The file sink: writes each partition's records to files in one folder, in JSON lines or CSV,
/// optionally gzip-compressed.
///
/// A file is written under a hidden name, then flushed, fsynced, renamed to a name holding its
/// topic, partition and first and last offsets, and the folder fsynced, before the runtime commits
/// the offsets it holds. A batch delivered again after a crash therefore rewrites the same files, and
/// files an earlier, uncommitted attempt left behind are removed when a task takes the partition:
/// the output is exactly-once although delivery is at-least-once. File names come only from topic
/// names (letters, digits, `.`, `_`, `-`) and offsets, so nothing is written outside the folder.
public final class FileSink: Sink {
    let folder: String
    /// The folder as the config names it, for people.
    public let destination: String?
    let csv: Bool
    let gzip: Bool
    let envelope: Bool
    let maxFileRecords: Int
    let maxFileBytes: Int
    let extensionName: String
    let logger: Logger
    private var files: [TopicPartition: OutputFile] = [:]
    private var replacement = Replacement()
    /// The offsets of each partition written or refused since the last flush.
    private var seen: [TopicPartition: ClosedRange<Int64>] = [:]
    private var line: [UInt8] = []
    private var scratch: [UInt8] = []

    public init(context: SinkContext) throws {
        let options = context.options
        folder = FileSystem.absolute(options.string("path") ?? "out")
        destination = "folder " + (options.string("path") ?? "out")
        csv = options.string("format") == "csv"
        gzip = options.string("compression") == "gzip"
        envelope = options.bool("envelope") ?? false
        maxFileRecords = Int(options.integer("max_file_records") ?? 1_000_000)
        maxFileBytes = Int(options.integer("max_file_bytes") ?? Int64(256 << 20))
        extensionName = (csv ? "csv" : "jsonl") + (gzip ? ".gz" : "")
        logger = context.logger
        do {
            try FileSystem.createDirectory(folder)
        } catch {
            throw Self.classify(error, "cannot create the output folder \(folder)")
        }
        guard FileSystem.isDirectory(folder) else {
            throw ConnectorError.fatal(
                "file.folder", "\(options.path(of: "path")): \(folder) exists and is not a folder")
        }
    }

    public func open(partitions: [TopicPartition: Int64]) throws {
        _ = try open(partitions: partitions, committedBefore: [:])
    }

    /// Removes this sink's temporary files of `partitions`, and the files of attempts that were never
    /// committed; files committed before (a reset, a topic created again) stay until they are written
    /// anew, from further back when a reset cut through one (see `Replacement`).
    public func open(partitions: [TopicPartition: Int64], committedBefore: [TopicPartition: Int64]) throws
        -> [TopicPartition: Int64]
    {
        var rewinds: [TopicPartition: Int64] = [:]
        do {
            var existing: [TopicPartition: [Replacement.Existing]] = [:]
            for name in try FileSystem.contentsOfDirectory(folder) {
                if name.hasPrefix(OutputFile.temporaryPrefix),
                    partitions.keys.contains(where: {
                        name.hasPrefix(OutputFile.temporaryPrefix + $0.description + ".")
                    })
                {
                    try FileSystem.removeFile(folder + "/" + name)
                    continue
                }
                guard let (tp, first, last) = OutputFile.parseFinalName(name, extensionName: extensionName),
                    partitions[tp] != nil
                else { continue }
                existing[tp, default: []].append(Replacement.Existing(name: name, first: first, last: last))
            }
            var removed = false
            for (tp, start) in partitions.sorted(by: { $0.key < $1.key }) {
                let opening = replacement.open(
                    tp, start: start, committedBefore: committedBefore[tp], files: existing[tp] ?? [])
                for file in opening.leftovers {
                    logger.info(
                        "removing a file from an attempt that was never committed",
                        metadata: ["file": "\(file.name)", "committed_offset": "\(start)"])
                    try FileSystem.removeFile(folder + "/" + file.name)
                    removed = true
                }
                if let rewind = opening.rewind { rewinds[tp] = rewind }
                if !opening.foreign.isEmpty {
                    logger.warning(
                        """
                        the output folder holds files for offsets of this partition that its group never \
                        committed (a topic deleted and created again, or another group's output); each stays \
                        until the same offsets are written again
                        """,
                        metadata: [
                            "folder": "\(folder)", "partition": "\(tp)", "files": "\(opening.foreign.count)",
                            "first": "\(opening.foreign[0].name)",
                        ])
                }
            }
            if removed { try FileSystem.syncDirectory(folder) }
        } catch {
            throw Self.classify(error, "cannot tidy the output folder \(folder)")
        }
        return rewinds
    }

    public func close(partitions: Set<TopicPartition>) throws {
        for tp in partitions {
            files.removeValue(forKey: tp)?.discard()
            seen[tp] = nil
            replacement.forget(tp)
        }
    }

    public func write(_ batch: SinkBatch) throws -> [RecordFailure] {
        var failures: [RecordFailure] = []
        do {
            for partition in batch.partitions {
                let tp = partition.topicPartition
                let block = partition.records
                if let first = block.entries.first?.offset, let last = block.entries.last?.offset {
                    seen[tp] = min(seen[tp]?.lowerBound ?? first, first)...max(seen[tp]?.upperBound ?? last, last)
                }
                try block.bytes.withUnsafeBytes { arena in
                    for index in 0..<block.count {
                        let offset = block.entries[index].offset
                        line.removeAll(keepingCapacity: true)
                        if let problem = render(block, index, arena, tp) {
                            failures.append(RecordFailure(topicPartition: tp, offset: offset, error: problem))
                            continue
                        }
                        let file = try fileFor(tp)
                        if csv && file.header == nil { try writeHeader(file, block, index, arena) }
                        if csv, let problem = renderCSV(block, index, arena, header: file.header ?? JSONFieldNames([]))
                        {
                            failures.append(RecordFailure(topicPartition: tp, offset: offset, error: problem))
                            continue
                        }
                        try line.withUnsafeBytes { try file.append(line: $0, offset: offset) }
                        if file.records >= maxFileRecords || file.bytes >= maxFileBytes {
                            if let name = try file.finish() { replacement.wrote(name) }
                            files[tp] = nil
                            try FileSystem.syncDirectory(folder)
                        }
                    }
                }
            }
        } catch let error as ConnectorError {
            throw error
        } catch {
            throw Self.classify(error, "cannot write to \(folder)")
        }
        return failures
    }

    public func flush() throws {
        do {
            let open = files.values.sorted { $0.topicPartition < $1.topicPartition }
            files.removeAll()
            var renamed = false
            for file in open {
                guard let name = try file.finish() else { continue }
                replacement.wrote(name)
                renamed = true
            }
            if renamed { try FileSystem.syncDirectory(folder) }
            // What the new files replace goes only now that they are durable.
            let replaced = replacement.replaceable(through: seen)
            seen.removeAll()
            for file in replaced { try FileSystem.removeFile(folder + "/" + file.name) }
            if !replaced.isEmpty {
                try FileSystem.syncDirectory(folder)
                replacement.removed(replaced)
            }
        } catch {
            throw Self.classify(error, "cannot finish a file in \(folder)")
        }
    }

    public func abort() {
        for file in files.values { file.discard() }
        files.removeAll()
        seen.removeAll()
    }

    public func stop() {
        abort()
    }

    private func fileFor(_ tp: TopicPartition) throws -> OutputFile {
        if let file = files[tp] { return file }
        guard FileSystem.isDirectory(folder) else {
            throw ConnectorError.transient("file.folder", "the output folder \(folder) is missing")
        }
        let file = try OutputFile(folder: folder, topicPartition: tp, extensionName: extensionName, gzip: gzip)
        files[tp] = file
        return file
    }

    // MARK: Rendering

    /// Renders a jsonl line into `line`, or returns why the record cannot be written. For csv it only
    /// checks that there is a value.
    private func render(_ block: RecordBlock, _ index: Int, _ arena: UnsafeRawBufferPointer, _ tp: TopicPartition)
        -> ConnectorError?
    {
        if envelope {
            RecordJSON.appendEnvelope(topic: tp.topic, partition: tp.partition, block: block, index: index, to: &line)
            line.append(0x0A)
            return nil
        }
        guard let range = block.valueRange(index) else {
            if csv {
                return .record("file.null_value", "the record has no value (a tombstone), which a CSV row cannot hold")
            }
            line.append(contentsOf: "null\n".utf8)
            return nil
        }
        if csv { return nil }
        let value = UnsafeRawBufferPointer(rebasing: arena[range])
        if Self.containsLineBreak(value) {
            return .record(
                "file.line_break",
                "the value holds a line break, which one-value-per-line output cannot keep; use envelope: true")
        }
        line.append(contentsOf: value)
        line.append(0x0A)
        return nil
    }

    static func containsLineBreak(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        var i = 0
        let count = bytes.count
        while i + 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let lf = word ^ 0x0A0A_0A0A_0A0A_0A0A
            let cr = word ^ 0x0D0D_0D0D_0D0D_0D0D
            let zeroLF = (lf &- 0x0101_0101_0101_0101) & ~lf & 0x8080_8080_8080_8080
            let zeroCR = (cr &- 0x0101_0101_0101_0101) & ~cr & 0x8080_8080_8080_8080
            if zeroLF | zeroCR != 0 { return true }
            i += 8
        }
        while i < count {
            let byte = base.load(fromByteOffset: i, as: UInt8.self)
            if byte == 0x0A || byte == 0x0D { return true }
            i += 1
        }
        return false
    }

    private func writeHeader(_ file: OutputFile, _ block: RecordBlock, _ index: Int, _ arena: UnsafeRawBufferPointer)
        throws
    {
        guard let range = block.valueRange(index) else { return }
        var names: [[UInt8]] = []
        try? JSONObjectScanner.forEachMember(UnsafeRawBufferPointer(rebasing: arena[range])) { member in
            var name: [UInt8] = []
            JSONObjectScanner.appendUnescaped(UnsafeRawBufferPointer(rebasing: arena[range]), member.key, to: &name)
            names.append(name)
            return true
        }
        guard !names.isEmpty else { return }
        file.header = JSONFieldNames(names)
        var row: [UInt8] = []
        for (i, name) in names.enumerated() {
            if i > 0 { row.append(UInt8(ascii: ",")) }
            name.withUnsafeBytes { Self.appendCSVField($0, to: &row) }
        }
        row.append(0x0A)
        try row.withUnsafeBytes { try file.write($0) }
    }

    /// Renders the record's value (a JSON object) as a CSV row of the header's columns into `line`.
    private func renderCSV(_ block: RecordBlock, _ index: Int, _ arena: UnsafeRawBufferPointer, header: JSONFieldNames)
        -> ConnectorError?
    {
        guard let range = block.valueRange(index) else { return nil }
        let value = UnsafeRawBufferPointer(rebasing: arena[range])
        var cells = [Range<Int>?](repeating: nil, count: header.count)
        var kinds = [JSONObjectScanner.Kind](repeating: .null, count: header.count)
        var escaped = [Bool](repeating: false, count: header.count)
        var next = 0
        var unknown: String?
        do {
            try JSONObjectScanner.forEachMember(value) { member in
                let column = header.index(of: member, in: value, hint: next)
                guard column >= 0 else {
                    var text: [UInt8] = []
                    JSONObjectScanner.appendUnescaped(value, member.key, to: &text)
                    unknown = String(decoding: text, as: UTF8.self)
                    return false
                }
                next = column + 1
                cells[column] = member.value
                kinds[column] = member.kind
                escaped[column] = member.valueEscaped
                return true
            }
        } catch {
            return .record("file.not_an_object", "the value is not a JSON object, which a CSV row needs")
        }
        if let unknown {
            return .record(
                "file.csv_columns",
                "the value has a field \"\(unknown)\" that this file's header (from its first record) lacks")
        }
        for column in 0..<header.count {
            if column > 0 { line.append(UInt8(ascii: ",")) }
            guard let cell = cells[column], kinds[column] != .null else { continue }
            if kinds[column] == .string && escaped[column] {
                scratch.removeAll(keepingCapacity: true)
                JSONObjectScanner.appendUnescaped(value, cell, to: &scratch)
                scratch.withUnsafeBytes { Self.appendCSVField($0, to: &line) }
            } else {
                Self.appendCSVField(UnsafeRawBufferPointer(rebasing: value[cell]), to: &line)
            }
        }
        line.append(0x0A)
        return nil
    }

    /// Appends a field, quoted when it holds a comma, a quote or a line break, with quotes doubled.
    static func appendCSVField(_ text: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let needsQuotes = text.contains {
            $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D
        }
        guard needsQuotes else {
            out.append(contentsOf: text)
            return
        }
        out.append(UInt8(ascii: "\""))
        for byte in text {
            if byte == UInt8(ascii: "\"") { out.append(byte) }
            out.append(byte)
        }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: Errors

    /// Sorts a file-system failure: permission problems and a path that is not a folder are fatal; a full
    /// disk, a missing folder and I/O errors are transient, worth retrying.
    static func classify(_ error: any Error, _ what: String) -> ConnectorError {
        if let error = error as? ConnectorError { return error }
        let code = (error as? CoreError)?.errno
        switch code {
        case EACCES, EPERM, ENOTDIR, EISDIR, ELOOP, ENAMETOOLONG:
            return .fatal("file.io", "\(what): \(error); check the sink's path and its permissions")
        default:
            return .transient("file.io", "\(what): \(error)")
        }
    }
}
