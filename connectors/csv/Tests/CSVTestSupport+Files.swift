import SluiceCore

@testable import SluiceCSV

extension CSVTestSupport {
    /// Writes `bytes` as the whole content of `path`.
    static func write(_ bytes: [UInt8], to path: String) throws {
        try FileSystem.writeAtomically(path, bytes, sync: false)
    }

    /// Writes `text` as the whole content of `path`.
    static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Appends `bytes` to the end of the file at `path`, in place (the file keeps its inode).
    static func append(_ bytes: [UInt8], to path: String) throws {
        let file = try SystemFile.open(path, .readWrite)
        try bytes.withUnsafeBytes { try file.write($0, at: try file.size()) }
    }

    /// `bytes` as one gzip member.
    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try Deflater.gzip($0) }
    }

    /// The record values as text, in order.
    static func values(_ records: [Record]) -> [String] {
        records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
    }
}
