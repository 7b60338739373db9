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
    }

    let path: String
    let input: InputFile
    private let settings: CSVSource.Settings
    private let skip: Set<Int64>
    private let source: String
    private let logger: Logger
    private var buffer: [UInt8] = []
    /// The file offset of `buffer[0]`.
    private var bufferBase: Int64 = 0
    /// Where the next row starts in `buffer`.
    private var position = 0
    /// The line the next row starts on.
    private(set) var line: Int64 = 1
    private var eof = false
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
        resume: CSVCheckpoint.FileState?,
        settings: CSVSource.Settings,
        skip: Set<Int64>,
        source: String,
        logger: Logger
    ) throws {
        self.path = path
        input = try InputFile(path: path)
        self.settings = settings
        self.skip = skip
        self.source = source
        self.logger = logger
        parser = CSVParser(dialect: settings.dialect)
        rowsToSkip = settings.skipRows
        resumeAt = resume.flatMap { $0.offset > 0 ? $0 : nil }
        buffer.reserveCapacity(InputFile.chunkSize * 2)
        if !settings.header, let names = settings.columnNames { try makeEncoder(names) }
        if resumeAt != nil && !settings.header && settings.skipRows == 0 { try jumpToResumePoint() }
    }

    private func makeEncoder(_ header: [String]) throws {
        var names: [String] = []
        var seen: [String: Int] = [:]
        for (i, raw) in header.enumerated() {
            var name = raw.isEmpty ? "column_\(i + 1)" : raw
            if let count = seen[name] {
                let renamed = "\(name)_\(count + 1)"
                logger.warning(
                    "a column name appears twice in the header; renaming it",
                    metadata: ["file": "\(path)", "column": "\(name)", "renamed_to": "\(renamed)"])
                seen[name] = count + 1
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
        let buffered = bufferBase + Int64(buffer.count)
        if resume.offset <= buffered && resume.offset >= bufferBase {
            position = Int(resume.offset - bufferBase)
        } else if input.isGzip {
            var scratch: [UInt8] = []
            var skipped = buffered
            while skipped < resume.offset {
                scratch.removeAll(keepingCapacity: true)
                let n = try input.read(into: &scratch)
                guard n > 0 else {
                    throw ConnectorError.fatal("csv.resume", "\(path) is shorter than its stored position")
                }
                let take = Int(min(Int64(n), resume.offset - skipped))
                skipped += Int64(take)
                if take < n {
                    buffer = Array(scratch[take...])
                    bufferBase = resume.offset
                    position = 0
                }
            }
            if skipped == resume.offset && bufferBase != resume.offset {
                buffer.removeAll(keepingCapacity: true)
                bufferBase = resume.offset
                position = 0
            }
        } else {
            try input.skip(to: resume.offset)
            buffer.removeAll(keepingCapacity: true)
            bufferBase = resume.offset
            position = 0
        }
        line = resume.line
    }

    /// Reads rows into `batch` until it is full or the file ends.
    func fill(_ batch: inout SourceBatch, now: Int64) throws -> Stats {
        stats = Stats()
        self.now = now
        let names = ProvenanceHeaders(&batch.records, file: path)
        while !stats.finished {
            if batch.records.count + batch.deadLetters.count >= settings.maxBatchRows
                || stats.bytes >= settings.maxBatchBytes
            {
                break
            }
            let outcome = try buffer.withUnsafeBytes { raw in try parseRows(raw, &batch, names) }
            switch outcome {
            case .full: return stats
            case .endOfFile: stats.finished = true
            case .needMore: try readMore(&batch)
            case .resume: try jumpToResumePoint()
            }
        }
        return stats
    }

    private enum Outcome {
        case full
        case needMore
        case endOfFile
        /// The header is known; move to where a resumed file stopped.
        case resume
    }

    private func readMore(_ batch: inout SourceBatch) throws {
        if buffer.count - position > settings.maxRowBytes {
            try skipOversizedRow(&batch)
            return
        }
        if position > 0 {
            buffer.removeFirst(position)
            bufferBase += Int64(position)
            position = 0
        }
        if try input.read(into: &buffer) == 0 { eof = true }
        if bufferBase == 0 && position == 0 && buffer.count >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB
            && buffer[2] == 0xBF
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
            switch parser.parseRow(raw, from: position, final: eof) {
            case .needMore: return .needMore
            case .endOfInput: return .endOfFile
            case .blank(let next, let lineBreaks):
                stats.bytes += next - position
                position = next
                line += Int64(lineBreaks)
            case .unterminatedQuote(let lineBreaks):
                if rowsToSkip > 0 {
                    rowsToSkip -= 1
                } else if !skip.contains(offset) {
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
                    try handleRow(raw, end, &batch, names)
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
        _ raw: UnsafeRawBufferPointer, _ end: Int, _ batch: inout SourceBatch, _ names: ProvenanceHeaders
    ) throws {
        let row = UnsafeRawBufferPointer(rebasing: raw[position..<end])
        guard let encoder else {
            try makeEncoder(RowEncoder.names(raw, parser.fields, parser, latin1: settings.latin1))
            return
        }
        let rowOffset = offset
        if !skip.isEmpty && skip.contains(rowOffset) {
            stats.skipped += 1
            return
        }
        stats.rows += 1
        let fields = parser.fields
        guard fields.count == encoder.columns.count else {
            let expected = encoder.columns.count
            deadLetter(
                &batch, row, "csv.field_count",
                "expected \(expected) field\(expected == 1 ? "" : "s"), found \(fields.count)")
            return
        }
        if !settings.latin1, let bad = UTF8Validator.firstInvalidIndex(row) {
            deadLetter(&batch, row, "csv.invalid_utf8", "invalid UTF-8 at byte \(bad) of the row")
            return
        }
        let mark = batch.records.bytes.count
        batch.records.beginRecord(timestamp: now)
        let valueStart = batch.records.bytes.count
        if let failure = encoder.appendValue(raw, fields, parser, to: &batch.records.bytes) {
            batch.records.abandonRecord(arenaMark: mark)
            deadLetter(&batch, row, "csv.conversion", failure.message)
            return
        }
        batch.records.setValue(valueStart..<batch.records.bytes.count)
        let keyStart = batch.records.bytes.count
        if encoder.appendKey(raw, fields, parser, to: &batch.records.bytes) {
            batch.records.setKey(keyStart..<batch.records.bytes.count)
        }
        names.addProvenance(&batch.records, line: line, offset: rowOffset)
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

    /// A row longer than `max_row_bytes`: keeps its first bytes for the dead letter and reads on, without
    /// keeping the rest, until the row ends.
    private func skipOversizedRow(_ batch: inout SourceBatch) throws {
        let kept = Array(buffer[position..<(position + settings.maxRowBytes)])
        let rowLine = line
        let rowOffset = offset
        var skipper = RowSkipper(dialect: settings.dialect)
        var total = buffer.count - position
        var end = buffer.withUnsafeBytes { skipper.feed($0, from: position) }
        while end == nil {
            bufferBase += Int64(buffer.count)
            buffer.removeAll(keepingCapacity: true)
            position = 0
            if try input.read(into: &buffer) == 0 {
                eof = true
                end = 0
                break
            }
            end = buffer.withUnsafeBytes { skipper.feed($0, from: 0) }
            total += end ?? buffer.count
        }
        let next = end ?? buffer.count
        if rowsToSkip > 0 {
            rowsToSkip -= 1
        } else if !skip.contains(rowOffset) {
            stats.rows += 1
            stats.deadLetters += 1
            kept.withUnsafeBytes { value in
                DeadLetter.appendSourceFailure(
                    to: &batch.deadLetters, raw: value, errorClass: "csv.row_too_long",
                    message: "the row is longer than max_row_bytes (\(settings.maxRowBytes) bytes); "
                        + "its first \(settings.maxRowBytes) bytes are kept here",
                    file: path, line: rowLine, offset: rowOffset, connector: source, now: now)
            }
        }
        stats.bytes += total
        position = next
        line = rowLine + Int64(skipper.lineBreaks)
    }
}
