import SluiceCore
import SluiceKit

/// Turns the fields of one parsed row into a record's value (a JSON object in header order) and its
/// key; made once per file from its header. Keeps scratch space; used by the source's thread only.
/// The per-column prefixes (`{"name":`, `,"name":`) are laid out once in one array, so a row costs no
/// allocation and no reference counting.
final class RowEncoder {
    let names: [String]
    private let types: [ColumnType]
    private let prefixes: [UInt8]
    /// Column `i`'s prefix is `prefixes[prefixStarts[i]..<prefixStarts[i + 1]]`.
    private let prefixStarts: [Int]
    private let keyIndices: [Int]
    private let keySeparator: [UInt8]
    private let nullValues: [[UInt8]]
    private let latin1: Bool
    private var scratch: [UInt8] = []
    private var transcoded: [UInt8] = []

    var columnCount: Int { types.count }

    init(
        names: [String], types: [String: ColumnType], key: [String], keySeparator: String, nullValues: [String],
        latin1: Bool
    ) {
        self.names = names
        self.types = names.map { types[$0] ?? .string }
        var prefixes: [UInt8] = []
        var starts: [Int] = []
        for (i, name) in names.enumerated() {
            starts.append(prefixes.count)
            prefixes.append(i == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
            JSONWriter.appendString(name, to: &prefixes)
            prefixes.append(UInt8(ascii: ":"))
        }
        starts.append(prefixes.count)
        self.prefixes = prefixes
        prefixStarts = starts
        keyIndices = key.compactMap { names.firstIndex(of: $0) }
        self.keySeparator = Array(keySeparator.utf8)
        self.nullValues = nullValues.map { Array($0.utf8) }
        self.latin1 = latin1
    }

    /// Why a row did not convert: the column and the reason.
    struct Failure: Error {
        var column: String
        var text: String
        var reason: String

        var message: String { "column \"\(column)\": \"\(text)\" \(reason)" }
    }

    /// Appends the row's value JSON to `out`. The caller checked the field count.
    func appendValue(_ row: UnsafeRawBufferPointer, _ parser: CSVParser, to out: inout [UInt8]) -> Failure? {
        parser.fields.withUnsafeBufferPointer { fields in
            prefixes.withUnsafeBufferPointer { prefixes in
                prefixStarts.withUnsafeBufferPointer { starts in
                    types.withUnsafeBufferPointer { types in
                        for i in 0..<fields.count {
                            out.append(contentsOf: UnsafeBufferPointer(rebasing: prefixes[starts[i]..<starts[i + 1]]))
                            let field = fields[i]
                            let failure: Failure?
                            if field.kind == .complex || latin1 {
                                failure = withSlowText(row, field, parser) { appendField($0, types[i], i, to: &out) }
                            } else {
                                failure = appendField(
                                    UnsafeRawBufferPointer(rebasing: row[field.start..<field.end]), types[i], i,
                                    to: &out)
                            }
                            if let failure { return failure }
                        }
                        out.append(UInt8(ascii: "}"))
                        return nil
                    }
                }
            }
        }
    }

    @inline(__always)
    private func appendField(_ text: UnsafeRawBufferPointer, _ type: ColumnType, _ column: Int, to out: inout [UInt8])
        -> Failure?
    {
        if !nullValues.isEmpty {
            let candidate = type == .string ? text : FieldConverter.trim(text)
            if nullValues.contains(where: { $0.elementsEqual(candidate) }) {
                out.append(contentsOf: "null".utf8)
                return nil
            }
        }
        if type == .string {
            JSONWriter.appendString(text, to: &out)
            return nil
        }
        if text.isEmpty || FieldConverter.trim(text).isEmpty {
            out.append(contentsOf: "null".utf8)
            return nil
        }
        guard let reason = FieldConverter.append(text, as: type, to: &out) else { return nil }
        return Failure(column: names[column], text: String(decoding: text.prefix(200), as: UTF8.self), reason: reason)
    }

    /// Appends the key (the key columns' texts joined by the separator) to `out`; false without key columns.
    func appendKey(_ row: UnsafeRawBufferPointer, _ parser: CSVParser, to out: inout [UInt8]) -> Bool {
        guard !keyIndices.isEmpty else { return false }
        for (n, index) in keyIndices.enumerated() {
            if n > 0 { out.append(contentsOf: keySeparator) }
            let field = parser.fields[index]
            if field.kind == .complex || latin1 {
                withSlowText(row, field, parser) { out.append(contentsOf: $0) }
            } else {
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: row[field.start..<field.end]))
            }
        }
        return true
    }

    /// The text of a field that needs unescaping or transcoding, in scratch space.
    private func withSlowText<R>(
        _ row: UnsafeRawBufferPointer,
        _ field: CSVField,
        _ parser: CSVParser,
        _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        scratch.removeAll(keepingCapacity: true)
        if field.kind == .complex {
            parser.unescape(row, field, into: &scratch)
        } else {
            scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: row[field.start..<field.end]))
        }
        guard latin1 else { return scratch.withUnsafeBytes(body) }
        transcoded.removeAll(keepingCapacity: true)
        scratch.withUnsafeBytes { Self.transcodeLatin1($0, into: &transcoded) }
        return transcoded.withUnsafeBytes(body)
    }

    /// ISO 8859-1 to UTF-8: bytes from 0x80 become two bytes.
    static func transcodeLatin1(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        for byte in bytes {
            if byte < 0x80 {
                out.append(byte)
            } else {
                out.append(0xC0 | (byte >> 6))
                out.append(0x80 | (byte & 0x3F))
            }
        }
    }

    /// The field texts of a header row, as column names. A name that is not UTF-8 (unless the file is
    /// Latin-1) is an error: made into text anyway, it would stand for a column no config could name.
    static func names(
        _ row: UnsafeRawBufferPointer, _ fields: [CSVField], _ parser: CSVParser, latin1: Bool, where place: String
    ) throws -> [String] {
        try fields.enumerated().map { index, field in
            var bytes: [UInt8] = []
            if field.kind == .complex {
                parser.unescape(row, field, into: &bytes)
            } else {
                bytes.append(contentsOf: row[field.start..<field.end])
            }
            if latin1 {
                var utf8: [UInt8] = []
                bytes.withUnsafeBytes { transcodeLatin1($0, into: &utf8) }
                bytes = utf8
            } else if bytes.withUnsafeBytes({ UTF8Validator.firstInvalidIndex($0) }) != nil {
                throw ConnectorError.fatal(
                    "csv.header_encoding",
                    "\(place): the header's column \(index + 1) is not valid UTF-8; if the file is Latin-1 "
                        + "(ISO-8859-1, Windows-1252), set \"encoding\": \"latin1\"")
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Why a file that starts with `bytes` cannot be read as CSV text, or nil: a UTF-16 byte order mark
    /// (Excel's "Unicode text") makes every other byte a NUL.
    static func encodingProblem(startingWith bytes: some Collection<UInt8>) -> String? {
        let start = Array(bytes.prefix(2))
        guard start == [0xFF, 0xFE] || start == [0xFE, 0xFF] else { return nil }
        return "the file is UTF-16 (it starts with a UTF-16 byte order mark); Sluice reads UTF-8 and Latin-1: "
            + "convert it, e.g. iconv -f UTF-16 -t UTF-8"
    }
}
