import SluiceCore

/// The compression of a batch's records section (attribute bits 0–2).
public enum BatchCompression: Int16, Sendable, CaseIterable, CustomStringConvertible {
    case none = 0
    case gzip = 1

    /// The name used in topic settings: `none` or `gzip`.
    public var description: String { self == .none ? "none" : "gzip" }

    public init?(name: String) {
        switch name {
        case "none": self = .none
        case "gzip": self = .gzip
        default: return nil
        }
    }
}

/// The fixed 61-byte header of a v2 record batch, parsed. See `SluiceLog.swift` for the layout.
public struct RecordBatchHeader: Sendable, Equatable {
    public static let size = 61
    /// Bytes before `batchLength` counts: baseOffset and batchLength themselves.
    public static let logOverhead = 12
    static let crcOffset = 17
    /// The CRC covers the batch from here to its end.
    static let attributesOffset = 21
    static let recordCountOffset = 57
    public static let magic: Int8 = 2

    public var baseOffset: Int64
    public var batchLength: Int32
    public var partitionLeaderEpoch: Int32
    public var magic: Int8
    public var crc: UInt32
    public var attributes: Int16
    public var lastOffsetDelta: Int32
    public var baseTimestamp: Int64
    public var maxTimestamp: Int64
    public var producerId: Int64
    public var producerEpoch: Int16
    public var baseSequence: Int32
    public var recordCount: Int32

    /// Parses the header at `offset` of `bytes`; the caller checks that 61 bytes are there.
    public init(_ bytes: UnsafeRawBufferPointer, at offset: Int = 0) {
        baseOffset = bytes.bigEndian(at: offset, as: Int64.self)
        batchLength = bytes.bigEndian(at: offset + 8, as: Int32.self)
        partitionLeaderEpoch = bytes.bigEndian(at: offset + 12, as: Int32.self)
        magic = bytes.bigEndian(at: offset + 16, as: Int8.self)
        crc = bytes.bigEndian(at: offset + 17, as: UInt32.self)
        attributes = bytes.bigEndian(at: offset + 21, as: Int16.self)
        lastOffsetDelta = bytes.bigEndian(at: offset + 23, as: Int32.self)
        baseTimestamp = bytes.bigEndian(at: offset + 27, as: Int64.self)
        maxTimestamp = bytes.bigEndian(at: offset + 35, as: Int64.self)
        producerId = bytes.bigEndian(at: offset + 43, as: Int64.self)
        producerEpoch = bytes.bigEndian(at: offset + 51, as: Int16.self)
        baseSequence = bytes.bigEndian(at: offset + 53, as: Int32.self)
        recordCount = bytes.bigEndian(at: offset + 57, as: Int32.self)
    }

    /// The whole batch's size in bytes, header included.
    public var totalSize: Int { Int(batchLength) + Self.logOverhead }
    /// Wrapping, like the offsets of records: a damaged base offset near `Int64.max` gives a wrong offset,
    /// never a crash.
    public var lastOffset: Int64 { baseOffset &+ Int64(lastOffsetDelta) }
    public var nextOffset: Int64 { lastOffset &+ 1 }
    public var isControl: Bool { attributes & 0x20 != 0 }
    /// With LogAppendTime (attribute bit 3) every record's timestamp is the batch's max timestamp.
    public var usesLogAppendTime: Bool { attributes & 0x08 != 0 }
    public var isTransactional: Bool { attributes & 0x10 != 0 }
    public var compressionCode: Int16 { attributes & 0x07 }

    /// Checks what can be checked without the CRC: magic, a sane length, record count and offset delta.
    /// Returns nil when the header is plausible, else the reason it is not.
    public func problem(maxBatchBytes: Int) -> String? {
        if magic != Self.magic { return "magic byte is \(magic), expected 2" }
        if Int(batchLength) < Self.size - Self.logOverhead { return "batch length \(batchLength) is too small" }
        if Int(batchLength) > maxBatchBytes { return "batch length \(batchLength) exceeds \(maxBatchBytes) bytes" }
        if recordCount < 0 { return "record count \(recordCount) is negative" }
        if lastOffsetDelta < 0 { return "last offset delta \(lastOffsetDelta) is negative" }
        if !isControl && recordCount > 0 && Int64(lastOffsetDelta) < Int64(recordCount) - 1 {
            return "last offset delta \(lastOffsetDelta) is too small for \(recordCount) records"
        }
        return nil
    }
}

/// Batch-level checks on whole batches held in memory.
public enum RecordBatch {
    /// Computes the CRC of the batch at `offset` (whose header says it spans `totalSize` bytes).
    /// The records section of a batch compressed with Kafka's codec `code` (1 gzip, 2 snappy, 3 lz4,
    /// 4 zstd), decompressed.
    public static func decompress(_ code: Int16, _ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        switch code {
        case 1: return try Inflater.inflate(input)
        case 2: return try BatchCodecs.snappy(input)
        case 3: return try BatchCodecs.lz4(input)
        case 4: return try BatchCodecs.zstd(input)
        default: throw CoreError(.compression, "unknown compression codec \(code)")
        }
    }

    /// The name of Kafka's compression codec `code`.
    public static func codecName(_ code: Int16) -> String {
        ["none", "gzip", "snappy", "lz4", "zstd"].indices.contains(Int(code))
            ? ["none", "gzip", "snappy", "lz4", "zstd"][Int(code)] : "codec \(code)"
    }

    public static func computeCRC(_ bytes: UnsafeRawBufferPointer, at offset: Int, totalSize: Int) -> UInt32 {
        let start = offset + RecordBatchHeader.attributesOffset
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[start..<(offset + totalSize)]))
    }

    /// Sets the base offset of the batch starting at `bytes[0]`; the CRC does not cover it.
    public static func setBaseOffset(_ offset: Int64, in bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { $0.storeBigEndian(offset, at: 0) }
    }
}
