import SluiceCore
import SluiceKit

/// Turns the fields of one parsed row into a record's value (a JSON object in header order) and its
/// key; made once per file from its header. Keeps scratch space; used by the source's thread only.
final class RowEncoder {
    struct Column {
        var name: String
        var type: ColumnType
        /// `{"name":` for the first column, `,"name":` for the others.
        var prefix: [UInt8]
    }

    let columns: [Column]
    let keyIndices: [Int]
    let keySeparator: [UInt8]
    let nullValues: [[UInt8]]
    let latin1: Bool
    private var scratch: [UInt8] = []
    private var transcoded: [UInt8] = []

    init(
        names: [String], types: [String: ColumnType], key: [String], keySeparator: String, nullValues: [String],
        latin1: Bool
    ) {
        var columns: [Column] = []
        for (i, name) in names.enumerated() {
            var prefix: [UInt8] = [i == 0 ? UInt8(ascii: "{") : UInt8(ascii: ",")]
            JSONWriter.appendString(name, to: &prefix)
            prefix.append(UInt8(ascii: ":"))
            columns.append(Column(name: name, type: types[name] ?? .string, prefix: prefix))
        }
        self.columns = columns
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
    func appendValue(
        _ row: UnsafeRawBufferPointer,
        _ fields: [CSVField],
        _ parser: CSVParser,
        to out: inout [UInt8]
    ) -> Failure? {
        for (i, field) in fields.enumerated() {
            let column = columns[i]
            out.append(contentsOf: column.prefix)
            let failure = withFieldText(row, field, parser) { text -> Failure? in
                if !nullValues.isEmpty && nullValues.contains(where: { $0.elementsEqual(text) }) {
                    out.append(contentsOf: "null".utf8)
                    return nil
                }
                if column.type == .string {
                    JSONWriter.appendString(text, to: &out)
                    return nil
                }
                if text.isEmpty || FieldConverter.trim(text).isEmpty {
                    out.append(contentsOf: "null".utf8)
                    return nil
                }
                guard let reason = FieldConverter.append(text, as: column.type, to: &out) else { return nil }
                return Failure(
                    column: column.name, text: String(decoding: text.prefix(200), as: UTF8.self), reason: reason)
            }
            if let failure { return failure }
        }
        out.append(UInt8(ascii: "}"))
        return nil
    }

    /// Appends the key (the key columns' texts joined by the separator) to `out`; false without key columns.
    func appendKey(_ row: UnsafeRawBufferPointer, _ fields: [CSVField], _ parser: CSVParser, to out: inout [UInt8])
        -> Bool
    {
        guard !keyIndices.isEmpty else { return false }
        for (n, index) in keyIndices.enumerated() {
            if n > 0 { out.append(contentsOf: keySeparator) }
            withFieldText(row, fields[index], parser) { text in out.append(contentsOf: text) }
        }
        return true
    }

    /// The text of a field as UTF-8: its raw bytes when it needs nothing, else unescaped and transcoded
    /// into scratch space.
    func withFieldText<R>(
        _ row: UnsafeRawBufferPointer,
        _ field: CSVField,
        _ parser: CSVParser,
        _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        let text = UnsafeRawBufferPointer(rebasing: row[field.start..<field.end])
        if field.kind == .complex {
            scratch.removeAll(keepingCapacity: true)
            parser.unescape(row, field, into: &scratch)
            if !latin1 { return scratch.withUnsafeBytes(body) }
            return scratch.withUnsafeBytes { unescaped in
                transcoded.removeAll(keepingCapacity: true)
                Self.transcodeLatin1(unescaped, into: &transcoded)
                return transcoded.withUnsafeBytes(body)
            }
        }
        guard latin1 else { return body(text) }
        transcoded.removeAll(keepingCapacity: true)
        Self.transcodeLatin1(text, into: &transcoded)
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

    /// The field texts of a header row, as column names.
    static func names(_ row: UnsafeRawBufferPointer, _ fields: [CSVField], _ parser: CSVParser, latin1: Bool)
        -> [String]
    {
        fields.map { field in
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
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
