import SluiceCore
import Testing

@testable import SluiceLog

/// Small helpers the SluiceLog suites share: building batches, reading a whole log back, and copying,
/// snapshotting and damaging segment folders.
enum LogTestSupport {
    /// A batch of `records` as `RecordBatchBuilder` builds it.
    static func batch(_ records: [Record], compression: BatchCompression = .none) throws -> [UInt8] {
        var builder = RecordBatchBuilder(compression: compression)
        for record in records { builder.append(record) }
        return try builder.build()
    }

    /// `count` small records whose keys, values and headers name `tag` and their index.
    static func records(_ count: Int, tag: String = "r", timestamp: Int64 = 1_000, valueSize: Int = 8) -> [Record] {
        (0..<count).map { i in
            Record(
                key: Array("\(tag)-k\(i)".utf8),
                value: Array(repeating: UInt8(truncatingIfNeeded: i &+ 65), count: valueSize),
                headers: [Header("n", "\(i)")],
                timestamp: timestamp + Int64(i)
            )
        }
    }

    /// `records` as they read back when their batch got `baseOffset`.
    static func stored(_ records: [Record], from baseOffset: Int64) -> [Record] {
        records.enumerated().map { i, record in
            var record = record
            record.offset = baseOffset + Int64(i)
            return record
        }
    }

    /// Every record of `log` from `offset` to its end, read in chunks of `maxBytes`.
    static func readAll(_ log: PartitionLog, from offset: Int64? = nil, maxBytes: Int = 1 << 16) throws -> [Record] {
        var result: [Record] = []
        try log.forEachBlock(from: offset ?? log.startOffset, maxBytes: maxBytes) { block in
            result += block.records
            return true
        }
        if let last = result.last, last.offset + 1 < log.endOffset {
            Issue.record("reading stopped at \(last.offset + 1), before the end offset \(log.endOffset)")
        }
        return result
    }

    /// The names of the files in `directory`, in byte order.
    static func fileNames(_ directory: String) throws -> [String] {
        try FileSystem.contentsOfDirectory(directory)
    }

    /// Every file in `directory` with its bytes.
    static func snapshot(_ directory: String) throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for name in try fileNames(directory) { result[name] = try FileSystem.readFile(directory + "/" + name) }
        return result
    }

    /// Copies the files of `source` (a flat folder) into a new folder `destination`.
    static func copyDirectory(_ source: String, to destination: String) throws {
        try FileSystem.removeTree(destination)
        try FileSystem.createDirectory(destination)
        for name in try fileNames(source) {
            try writeFile(destination + "/" + name, try FileSystem.readFile(source + "/" + name))
        }
    }

    /// Replaces the file at `path` with `bytes`.
    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let file = try SystemFile.open(path, .truncate)
        try file.append(bytes)
    }

    /// Writes `bytes` into the file at `path` from byte `position` on, as a torn or stray write would.
    static func writeFile(_ path: String, _ bytes: some Collection<UInt8>, at position: Int64) throws {
        let file = try SystemFile.open(path, .readWrite)
        try Array(bytes).withUnsafeBytes { try file.write($0, at: position) }
    }

    /// Cuts the file at `path` to `length` bytes.
    static func truncateFile(_ path: String, to length: Int64) throws {
        let file = try SystemFile.open(path, .readWrite)
        try file.truncate(to: length)
    }

    /// Flips every bit of the byte at `position` of the file at `path`.
    static func flipByte(_ path: String, at position: Int) throws {
        var bytes = try FileSystem.readFile(path)
        bytes[position] ^= 0xFF
        try writeFile(path, bytes)
    }

    /// The path of the segment file of `baseOffset` with extension `ext` in `directory`.
    static func segmentFile(_ directory: String, _ baseOffset: Int64, _ ext: String) -> String {
        directory + "/" + Segment.fileName(baseOffset, ext)
    }
}
