import SluiceCore
import SluiceKit

/// Reads the column names of one CSV file from its header row alone, for the checks before a run:
/// only as many bytes as the rows up to the header take, in small chunks, a gzip file inflated only
/// that far. Names come out as the source gives them (an empty name is `column_N`, a name given twice
/// gets a suffix). Blocking; used by one thread.
struct HeaderReader {
    /// What one file's header gave.
    struct Header {
        /// The column names; nil when the file has no header row (it is empty, holds only skipped rows,
        /// or its header row is longer than max_row_bytes, which the source sets apart as a bad row).
        var names: [String]?
        /// Bytes read from the file on disk.
        var bytesRead: Int64
    }

    static let chunkSize = 8 * 1024

    let settings: CSVSource.Settings

    func read(_ path: String) throws -> Header {
        let file = try SystemFile.open(path, .readOnly)
        var chunk = [UInt8](repeating: 0, count: Self.chunkSize)
        var text: [UInt8] = []
        var inflater: Inflater?
        var parser = CSVParser(dialect: settings.dialect)
        var rowsToSkip = settings.skipRows
        var bytesRead: Int64 = 0
        var position = 0
        var atEnd = false
        while true {
            let n = try chunk.withUnsafeMutableBytes { try file.read(into: $0) }
            if bytesRead == 0 && n >= 2 && chunk[0] == 0x1F && chunk[1] == 0x8B { inflater = try Inflater() }
            let before = text.count
            if n == 0 {
                atEnd = true
            } else if let inflater {
                try chunk.withUnsafeBytes {
                    try inflater.inflate(UnsafeRawBufferPointer(rebasing: $0[0..<n]), into: &text)
                }
            } else {
                text.append(contentsOf: chunk[0..<n])
            }
            if before == 0 && bytesRead == 0 && text.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
            if before == 0 && bytesRead == 0, let problem = RowEncoder.encodingProblem(startingWith: text) {
                throw ConnectorError.fatal("csv.encoding", problem)
            }
            bytesRead += Int64(n)
            while true {
                let outcome = text.withUnsafeBytes { parser.parseRow($0, from: position, final: atEnd) }
                switch outcome {
                case .row(_, let next, _) where rowsToSkip > 0:
                    rowsToSkip -= 1
                    position = next
                case .row(_, let next, _)
                where next == text.count && inflater == nil && !settings.filesComplete && !Self.endsALine(text):
                    // A plain file that ends inside its header row: the source waits for the rest too.
                    return Header(names: nil, bytesRead: bytesRead)
                case .row:
                    let names = try text.withUnsafeBytes {
                        try RowEncoder.names($0, parser.fields, parser, latin1: settings.latin1, where: "the header")
                    }
                    return Header(names: Self.columnNames(names), bytesRead: bytesRead)
                case .blank(let next, _):
                    position = next
                case .endOfInput, .unterminatedQuote:
                    return Header(names: nil, bytesRead: bytesRead)
                case .needMore:
                    break
                }
                if outcome == .needMore { break }
            }
            if atEnd || text.count - position > settings.maxRowBytes { return Header(names: nil, bytesRead: bytesRead) }
            text.removeSubrange(0..<position)
            position = 0
        }
    }

    /// Whether `text` ends with a line break.
    static func endsALine(_ text: [UInt8]) -> Bool {
        text.last == 0x0A || text.last == 0x0D
    }

    /// The names a header row's texts give: `column_N` for an empty one, `name_2` (or the next free
    /// suffix) for a name seen before, as the source names them.
    static func columnNames(_ texts: [String]) -> [String] {
        var names: [String] = []
        var taken: [String: Int] = [:]
        for (index, text) in texts.enumerated() {
            let base = text.isEmpty ? "column_\(index + 1)" : text
            var name = base
            if let last = taken[base] {
                var suffix = last + 1
                while taken["\(base)_\(suffix)"] != nil { suffix += 1 }
                taken[base] = suffix
                name = "\(base)_\(suffix)"
            }
            taken[name] = taken[name] ?? 1
            names.append(name)
        }
        return names
    }
}
