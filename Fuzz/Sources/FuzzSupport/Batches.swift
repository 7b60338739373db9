import SluiceCore
import SluiceLog

/// Helpers for harnesses that feed record batches: fixing CRCs so that damaged batches get past the
/// check, and building valid batches for seeds and appends.
public enum Batches {
    /// Recomputes the CRC of every batch found by walking the lengths from the start of `bytes`, so
    /// that a mutated batch reaches the code behind the CRC check. Stops at the first batch whose
    /// length does not fit.
    public static func fixCRCs(_ bytes: inout [UInt8], from start: Int = 0) {
        var position = start
        bytes.withUnsafeMutableBytes { raw in
            while raw.count - position >= RecordBatchHeader.size {
                let header = RecordBatchHeader(UnsafeRawBufferPointer(raw), at: position)
                let total = header.totalSize
                guard total >= RecordBatchHeader.size, total <= raw.count - position else { return }
                let crc = RecordBatch.computeCRC(UnsafeRawBufferPointer(raw), at: position, totalSize: total)
                raw.storeBytes(of: crc.bigEndian, toByteOffset: position + 17, as: UInt32.self)
                position += total
            }
        }
    }

    /// The timestamp of the first record of a built batch; the others are at most 2 ms apart each.
    public static let timestamp: Int64 = 1_700_000_000_000

    /// Sets the base offset of every batch found by walking the lengths from the start of `bytes` so
    /// that they follow on from `base`, as appends to a log starting there would have set them.
    public static func rebase(_ bytes: inout [UInt8], from base: Int64) {
        var position = 0
        var next = base
        bytes.withUnsafeMutableBytes { raw in
            while raw.count - position >= RecordBatchHeader.size {
                let header = RecordBatchHeader(UnsafeRawBufferPointer(raw), at: position)
                let total = header.totalSize
                guard total >= RecordBatchHeader.size, total <= raw.count - position else { return }
                raw.storeBytes(of: next.bigEndian, toByteOffset: position, as: Int64.self)
                next = next &+ Int64(header.lastOffsetDelta) &+ 1
                position += total
            }
        }
    }

    /// A valid batch of `count` records shaped by `seed`: keys, nulls, headers and sizes vary.
    public static func build(
        count: Int,
        seed: UInt64,
        compression: BatchCompression = .none,
        timestamp: Int64 = Batches.timestamp
    ) throws -> [UInt8] {
        var random = SplitMix64(seed: seed)
        var builder = RecordBatchBuilder(compression: compression)
        for i in 0..<max(1, count) {
            let size = Int(random.next() % 40)
            let key: [UInt8]? = random.next() % 4 == 0 ? nil : Array("k\(random.next() % 1000)".utf8)
            let value: [UInt8]? = random.next() % 8 == 0 ? nil : random.bytes(size)
            var headers: [Header] = []
            for h in 0..<Int(random.next() % 3) {
                headers.append(Header("h\(h)", random.next() % 5 == 0 ? nil : [1, 2]))
            }
            let record = Record(
                key: key, value: value, headers: headers, timestamp: timestamp + Int64(i) * Int64(random.next() % 3))
            builder.append(record)
        }
        return try builder.build()
    }
}
