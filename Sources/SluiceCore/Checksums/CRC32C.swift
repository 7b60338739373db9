#if arch(x86_64)
    import _Builtin_intrinsics.intel
#endif

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka's record batches.
///
/// On x86-64 CPUs with SSE 4.2 it uses the `crc32` instruction, eight bytes at a time; elsewhere it
/// computes by slicing-by-8 (eight table lookups per eight input bytes). Both give the same values;
/// `CRC32C.checksum("123456789")` is 0xE3069283, the standard check value.
public enum CRC32C {
    /// Whether the CPU has the SSE 4.2 `crc32` instruction.
    static let hasHardwareSupport: Bool = {
        #if arch(x86_64)
            guard let info = try? FileSystem.readProcFile("/proc/cpuinfo") else { return false }
            return info.contains(" sse4_2")
        #else
            return false
        #endif
    }()

    @usableFromInline
    static let tables: [UInt32] = {
        var tables = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var crc = UInt32(n)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            tables[n] = crc
        }
        for n in 0..<256 {
            var crc = tables[n]
            for slice in 1..<8 {
                crc = tables[Int(crc & 0xFF)] ^ (crc >> 8)
                tables[slice * 256 + n] = crc
            }
        }
        return tables
    }()

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, bytes)
    }

    /// The checksum of `bytes`.
    public static func checksum(_ bytes: some Collection<UInt8>) -> UInt32 {
        if let result = bytes.withContiguousStorageIfAvailable({ update(0, UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { update(0, $0) }
    }

    /// Extends the checksum `crc` of earlier bytes with `bytes`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        #if arch(x86_64)
            if hasHardwareSupport { return hardwareUpdate(crc, bytes) }
        #endif
        return softwareUpdate(crc, bytes)
    }

    #if arch(x86_64)
        /// The `crc32` instruction over eight bytes at a time, then the rest byte by byte.
        static func hardwareUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
            guard var p = bytes.baseAddress, bytes.count > 0 else { return crc }
            var count = bytes.count
            var c = UInt64(~crc)
            while count >= 8 {
                c = _mm_crc32_u64(c, p.loadUnaligned(as: UInt64.self))
                p += 8
                count -= 8
            }
            var c32 = UInt32(truncatingIfNeeded: c)
            while count > 0 {
                c32 = _mm_crc32_u8(c32, p.load(as: UInt8.self))
                p += 1
                count -= 1
            }
            return ~c32
        }
    #endif

    /// Slicing-by-8 in software.
    static func softwareUpdate(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return crc }
        var count = bytes.count
        var c = ~crc
        return tables.withUnsafeBufferPointer { t in
            while count >= 8 {
                let word = p.loadUnaligned(as: UInt64.self).littleEndian
                let low = UInt32(truncatingIfNeeded: word) ^ c
                let high = UInt32(truncatingIfNeeded: word >> 32)
                c =
                    t[7 * 256 + Int(low & 0xFF)] ^ t[6 * 256 + Int((low >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((low >> 16) & 0xFF)] ^ t[4 * 256 + Int(low >> 24)]
                    ^ t[3 * 256 + Int(high & 0xFF)] ^ t[2 * 256 + Int((high >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((high >> 16) & 0xFF)] ^ t[Int(high >> 24)]
                p += 8
                count -= 8
            }
            while count > 0 {
                c = t[Int((c ^ UInt32(p.load(as: UInt8.self))) & 0xFF)] ^ (c >> 8)
                p += 1
                count -= 1
            }
            return ~c
        }
    }
}
