import Logging
import SluiceCore
import SluiceKit

/// Reads the rows of one file into batches: parses, checks, encodes, and turns bad rows into dead
/// letters. Keeps the bytes of the current, incomplete row between reads. Used by one thread.
final class FileReader {
    /// What one `fill` did.
    struct Stats {
        var rows = 0
        var deadLetters = 0
        var skipped = 0
        var bytes = 0
        var finished = false
        /// The file ended inside a row (a last line without its line break, or an open quoted field),
        /// which is held back until the rest arrives: `offset` stays at the row's start.
        var heldBack = false
    }

    let path: String
    /// The file's name in its records' `sluice.source.file` header: its path from the source's folder.
    let name: String
    let input: InputFile
    private let settings: CSVSource.Settings
    private let skip: StoredRows
    private let source: String
    private let logger: Logger
    /// Read buffer: `storage[0..<filled]` holds text from the file offset `bufferBase` on.
    private var storage: [UInt8]
    private var filled = 0
    /// The file offset of `storage[0]`.
    private var bufferBase: Int64 = 0
    /// Where the next row starts in `storage`.
    private var position = 0
    /// The line the next row starts on.
    private(set) var line: Int64 = 1
    private var eof = false
    /// Whether a row the file ends inside waits for the rest (a plain file a writer may still append
    /// to) instead of being read as it is.
    private let holdIncompleteRow: Bool
    private var parser: CSVParser
    private var encoder: RowEncoder?
    private var rowsToSkip: Int
    /// Where reading resumes after the header, when it resumes in the middle of the file.
    private var resumeAt: CSVCheckpoint.FileState?
    private var stats = Stats()
    private var now: Int64 = 0

    /// The offset after the last row handed out.
    var offset: Int64 { bufferBase + Int64(position) }

    init(
        path: String,
        name: String,
        resume: CSVCheckpoint.FileState?,
        settings: CSVSource.Settings,
        skip: StoredRows,
        source: String,
        logger: Logger
    ) throws {
        self.path = path
        self.name = name
        input = try InputFile(path: path)
        holdIncompleteRow = !settings.filesComplete && !input.isGzip
        self.settings = settings
        self.skip = skip
        self.source = source
        self.logger = logger
        parser = CSVParser(dialect: settings.dialect)
        rowsToSkip = settings.skipRows
        resumeAt = resume.flatMap { $0.offset > 0 ? $0 : nil }
        // A gzip file is inflated again from its start, which is this run's work; a plain one is read
        // on from where it stopped.
        if let resumeAt, !input.isGzip { input.countFrom = resumeAt.offset }
        storage = [UInt8](repeating: 0, count: InputFile.chunkSize * 2)
        if !settings.header, let names = settings.columnNames { try makeEncoder(names) }
        if resumeAt != nil && !settings.header && settings.skipRows == 0 { try jumpToResumePoint() }
    }

    private func makeEncoder(_ header: [String]) throws {
        var names: [String] = []
        var seen: [String: Int] = [:]
        for (i, raw) in header.enumerated() {
            var name = raw.isEmpty ? "column_\(i + 1)" : raw
            if let count = seen[name] {
                var suffix = count + 1
                while seen["\(name)_\(suffix)"] != nil { suffix += 1 }
                let renamed = "\(name)_\(suffix)"
                logger.warning(
                    "a column name appears twice in the header; renaming it",
                    metadata: ["file": "\(path)", "column": "\(name)", "renamed_to": "\(renamed)"])
                seen[name] = suffix
                name = renamed
            }
            seen[name] = seen[name] ?? 1
            names.append(name)
        }
        for key in settings.key where !names.contains(key) {
            throw ConnectorError.fatal(
                "csv.key_column",
                "\(path): key column \"\(key)\" is not in the header (\(names.joined(separator: ", ")))")
        }
        for column in settings.types.keys.sorted() where !names.contains(column) {
            throw ConnectorError.fatal(
                "csv.column",
                "\(path): column \"\(column)\" declared in columns is not in the header (\(names.joined(separator: ", ")))"
            )
        }
        encoder = RowEncoder(
            names: names, types: settings.types, key: settings.key, keySeparator: settings.keySeparator,
            nullValues: settings.nullValues, latin1: settings.latin1)
    }

    /// Moves to the stored position of a file being resumed, once the header is known.
    private func jumpToResumePoint() throws {
        guard let resume = resumeAt else { return }
        resumeAt = nil
        line = resume.line
        if resume.offset >= bufferBase && resume.offset <= bufferBase + Int64(filled) {
            position = Int(resume.offset - bufferBase)
            return
        }
        if !input.isGzip {
            try input.seek(to: resume.offset)
            bufferBase = resume.offset
            filled = 0
            position = 0
            return
        }
        while bufferBase + Int64(filled) < resume.offset {
            bufferBase += Int64(filled)
            filled = try input.read(into: &storage, at: 0)
            guard filled > 0 else {
                throw ConnectorError.fatal("csv.resume", "\(path) is shorter than its stored position \(resume.offset)")
            }
        }
        position = Int(resume.offset - bufferBase)
    }

    /// Reads rows into `batch` until it is full (it may hold rows of earlier files) or the file ends.
    func fill(_ batch: inout SourceBatch, now: Int64) throws -> Stats {
        stats = Stats()
        self.now = now
        let names = ProvenanceHeaders(&batch.records, file: name)
        while !stats.finished {
            if batch.records.count + batch.deadLetters.count >= settings.maxBatchRows
                || batch.inputBytes + stats.bytes >= settings.maxBatchBytes
            {
                break
            }
            let outcome = try storage.withUnsafeBytes { raw in
                try parseRows(UnsafeRawBufferPointer(rebasing: raw[0..<filled]), &batch, names)
            }
            switch outcome {
            case .full: return stats
            case .endOfFile: stats.finished = true
            case .incompleteRow:
                stats.finished = true
                stats.heldBack = true
            case .needMore:
                try readMore(&batch)
                if stats.heldBack { stats.finished = true }
            case .resume: try jumpToResumePoint()
            }
        }
        return stats
    }

    private enum Outcome {
        case full
        case needMore
        case endOfFile
        /// The file ends inside a row, which waits for the rest.
        case incompleteRow
        /// The header is known; move to where a resumed file stopped.
        case resume
    }

    private func readMore(_ batch: inout SourceBatch) throws {
        if filled - position > settings.maxRowBytes {
            try skipOversizedRow(&batch)
            return
        }
        if position > 0 {
            let keep = filled - position
            storage.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return }
                base.copyMemory(from: base + position, byteCount: keep)
            }
            bufferBase += Int64(position)
            filled = keep
            position = 0
        }
        if filled == storage.count { storage.append(contentsOf: repeatElement(0, count: storage.count)) }
        let n = try input.read(into: &storage, at: filled)
        filled += n
        if n == 0 { eof = true }
        if bufferBase == 0 && position == 0, let problem = RowEncoder.encodingProblem(startingWith: storage[..<filled])
        {
            throw ConnectorError.fatal("csv.encoding", "\(path): \(problem)")
        }
        if bufferBase == 0 && position == 0 && filled >= 3 && storage[0] == 0xEF && storage[1] == 0xBB
            && storage[2] == 0xBF
        {
            position = 3
        }
    }

    private func parseRows(_ raw: UnsafeRawBufferPointer, _ batch: inout SourceBatch, _ names: ProvenanceHeaders) throws
        -> Outcome
    {
        while batch.records.count + batch.deadLetters.count < settings.maxBatchRows
            && stats.bytes < settings.maxBatchBytes
        {
            if bufferBase == 0 && position == 0 && !eof && raw.count < 3 { return .needMore }
            switch parser.parseRow(raw, from: position, final: eof && !holdIncompleteRow) {
            case .needMore:
                guard eof else { return .needMore }
                guard position < raw.count else { return .endOfFile }
                // A row that ends with a lone CR at the end of the file is complete (its LF, if one
                // follows, would make a blank line); anything else waits for the rest.
                guard raw[raw.count - 1] == 0x0D else { return .incompleteRow }
                switch parser.parseRow(raw, from: position, final: true) {
                case .row(let end, let next, let lineBreaks) where next == raw.count:
                    if rowsToSkip > 0 {
                        rowsToSkip -= 1
                    } else {
                        try handleRow(raw, end, &batch, names, parser)
                    }
                    stats.bytes += next - position
                    position = next
                    line += Int64(lineBreaks)
                case .blank(let next, let lineBreaks) where next == raw.count:
                    stats.bytes += next - position
                    position = next
                    line += Int64(lineBreaks)
                default:
                    return .incompleteRow
                }
            case .endOfInput: return .endOfFile
            case .blank(let next, let lineBreaks):
                stats.bytes += next - position
                position = next
                line += Int64(lineBreaks)
            case .unterminatedQuote(let lineBreaks):
                if rowsToSkip > 0 {
                    rowsToSkip -= 1
                } else if !skip.contains(offset: offset, line: line) {
                    stats.rows += 1
                    deadLetter(
                        &batch, UnsafeRawBufferPointer(rebasing: raw[position...]), "csv.unterminated_quote",
                        "a quoted field on line \(line) is never closed before the end of the file")
                }
                stats.bytes += raw.count - position
                position = raw.count
                line += Int64(lineBreaks)
            case .row(let end, let next, let lineBreaks):
                if rowsToSkip > 0 {
                    rowsToSkip -= 1
                } else {
                    try handleRow(raw, end, &batch, names, parser)
                }
                stats.bytes += next - position
                position = next
                line += Int64(lineBreaks)
                if resumeAt != nil && encoder != nil && rowsToSkip == 0 { return .resume }
            }
        }
        return .full
    }

    private func handleRow(
        _ raw: UnsafeRawBufferPointer,
        _ end: Int,
        _ batch: inout SourceBatch,
        _ names: ProvenanceHeaders,
        _ parser: CSVParser
    ) throws {
        let row = UnsafeRawBufferPointer(rebasing: raw[position..<end])
        guard let encoder else {
            try makeEncoder(
                RowEncoder.names(raw, parser.fields, parser, latin1: settings.latin1, where: "\(path), line \(line)"))
            return
        }
        let rowOffset = offset
        if !skip.isEmpty && skip.contains(offset: rowOffset, line: line) {
            stats.skipped += 1
            return
        }
        stats.rows += 1
        guard end - position <= settings.maxRowBytes else {
            deadLetter(&batch, row, "csv.row_too_long", rowTooLongMessage)
            return
        }
        let fieldCount = parser.fields.count
        guard fieldCount == encoder.columnCount else {
            let expected = encoder.columnCount
            deadLetter(
                &batch, row, "csv.field_count",
                "expected \(expected) field\(expected == 1 ? "" : "s"), found \(fieldCount)")
            return
        }
        if !settings.latin1, let bad = UTF8Validator.firstInvalidIndex(row) {
            deadLetter(&batch, row, "csv.invalid_utf8", "invalid UTF-8 at byte \(bad) of the row")
            return
        }
        let mark = batch.records.bytes.count
        batch.records.beginRecord(timestamp: now)
        let valueStart = batch.records.bytes.count
        if let failure = encoder.appendValue(raw, parser, to: &batch.records.bytes) {
            batch.records.abandonRecord(arenaMark: mark)
            deadLetter(&batch, row, "csv.conversion", failure.message)
            return
        }
        batch.records.setValue(valueStart..<batch.records.bytes.count)
        let keyStart = batch.records.bytes.count
        if encoder.appendKey(raw, parser, to: &batch.records.bytes) {
            batch.records.setKey(keyStart..<batch.records.bytes.count)
        }
        names.addProvenance(&batch.records, line: line)
    }

    private func deadLetter(
        _ batch: inout SourceBatch, _ row: UnsafeRawBufferPointer, _ errorClass: String, _ message: String
    ) {
        stats.deadLetters += 1
        DeadLetter.appendSourceFailure(
            to: &batch.deadLetters, raw: UnsafeRawBufferPointer(rebasing: row.prefix(settings.maxRowBytes)),
            errorClass: errorClass, message: message, file: path, line: line, offset: offset, connector: source,
            now: now)
    }

    private var rowTooLongMessage: String {
        "the row is longer than max_row_bytes (\(settings.maxRowBytes) bytes); "
            + "its first \(settings.maxRowBytes) bytes are kept here"
    }

    /// A row longer than `max_row_bytes`: keeps its first bytes for the dead letter and reads on, without
    /// keeping the rest, until the row ends.
    private func skipOversizedRow(_ batch: inout SourceBatch) throws {
        let kept = Array(storage[position..<(position + settings.maxRowBytes)])
        let rowLine = line
        let rowOffset = offset
        var skipper = RowSkipper(dialect: settings.dialect)
        var total = filled - position
        var end = storage.withUnsafeBytes {
            skipper.feed(UnsafeRawBufferPointer(rebasing: $0[0..<filled]), from: position)
        }
        while end == nil {
            bufferBase += Int64(filled)
            position = 0
            filled = try input.read(into: &storage, at: 0)
            if filled == 0 {
                eof = true
                if holdIncompleteRow {
                    // The long row is not complete yet: it waits, from its start, for the rest.
                    try input.seek(to: rowOffset)
                    bufferBase = rowOffset
                    line = rowLine
                    stats.heldBack = true
                    return
                }
                end = 0
                break
            }
            end = storage.withUnsafeBytes { skipper.feed(UnsafeRawBufferPointer(rebasing: $0[0..<filled]), from: 0) }
            total += end ?? filled
        }
        let next = end ?? filled
        if rowsToSkip > 0 {
            rowsToSkip -= 1
        } else if !skip.contains(offset: rowOffset, line: rowLine) {
            stats.rows += 1
            stats.deadLetters += 1
            kept.withUnsafeBytes { value in
                DeadLetter.appendSourceFailure(
                    to: &batch.deadLetters, raw: value, errorClass: "csv.row_too_long",
                    message: rowTooLongMessage,
                    file: path, line: rowLine, offset: rowOffset, connector: source, now: now)
            }
        }
        stats.bytes += total
        position = next
        line = rowLine + Int64(skipper.lineBreaks)
        // Shrink a buffer that grew for the long row back to its usual size.
        if storage.count > InputFile.chunkSize * 2 && filled - position <= InputFile.chunkSize {
            let rest = Array(storage[position..<filled])
            storage = [UInt8](repeating: 0, count: InputFile.chunkSize * 2)
            storage.replaceSubrange(0..<rest.count, with: rest)
            bufferBase += Int64(position)
            filled = rest.count
            position = 0
        }
    }
}
