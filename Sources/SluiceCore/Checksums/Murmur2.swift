/// Kafka's murmur2 hash (seed 0x9747b28c), as `org.apache.kafka.common.utils.Utils.murmur2` computes it,
/// so that a key lands on the same partition here and in Kafka.
public enum Murmur2 {
    /// The 32-bit murmur2 hash of `bytes`, as a signed value the way Java returns it.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        let length = bytes.count
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        guard let base = bytes.baseAddress else { return finish(h) }
        let blocks = length / 4
        for i in 0..<blocks {
            var k = base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self).littleEndian
            k &*= m
            k ^= k >> r
            k &*= m
            h &*= m
            h ^= k
        }
        let tail = blocks * 4
        let rest = length & 3
        if rest == 3 { h ^= UInt32(base.load(fromByteOffset: tail + 2, as: UInt8.self)) << 16 }
        if rest >= 2 { h ^= UInt32(base.load(fromByteOffset: tail + 1, as: UInt8.self)) << 8 }
        if rest >= 1 {
            h ^= UInt32(base.load(fromByteOffset: tail, as: UInt8.self))
            h &*= m
        }
        return finish(h)
    }

    /// The hash of `bytes`.
    public static func hash(_ bytes: some Collection<UInt8>) -> Int32 {
        if let result = bytes.withContiguousStorageIfAvailable({ hash(UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { hash($0) }
    }

    private static func finish(_ value: UInt32) -> Int32 {
        var h = value
        h ^= h >> 13
        h &*= 0x5bd1_e995
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// Kafka's `Utils.toPositive`: the hash with its sign bit cleared.
    public static func toPositive(_ value: Int32) -> Int32 {
        value & 0x7fff_ffff
    }
}
