import Testing

@testable import SluiceCore

@Suite struct CRC32CTests {
    /// The standard check value and the vectors of RFC 3720 (iSCSI), appendix B.4.
    static let vectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
        ([], 0),
    ]

    @Test(arguments: vectors)
    func knownValues(bytes: [UInt8], expected: UInt32) {
        #expect(CRC32C.checksum(bytes) == expected)
        #expect(bytes.withUnsafeBytes { CRC32C.softwareUpdate(0, $0) } == expected)
        #if arch(x86_64)
            if CRC32C.hasHardwareSupport {
                #expect(bytes.withUnsafeBytes { CRC32C.hardwareUpdate(0, $0) } == expected)
            }
        #endif
    }

    @Test func aNonContiguousCollectionGivesTheSameValue() {
        let bytes = Array("123456789".utf8)
        #expect(CRC32C.checksum(bytes.lazy.map { $0 }) == 0xE306_9283)
        #expect(CRC32C.checksum(bytes[2...]) == CRC32C.checksum(Array(bytes[2...])))
    }

    /// The hardware path and slicing-by-8 agree on every length up to 200, at every alignment, and on
    /// large inputs; where the CPU lacks SSE 4.2 both calls take the software path and still agree.
    @Test func hardwareAndSoftwareAgree() {
        var generator = SplitMix64(seed: 32)
        var lengths = Array(0...200)
        lengths += [1_000, 4_095, 4_096, 65_537, 1 << 20]
        for length in lengths {
            let bytes = generator.bytes(length + 7)
            for shift in [0, 1, 3, 7] where shift == 0 || length <= 200 {
                bytes.withUnsafeBytes { raw in
                    let slice = UnsafeRawBufferPointer(rebasing: raw[shift..<(shift + length)])
                    let seed = UInt32.random(in: 0...UInt32.max, using: &generator)
                    let software = CRC32C.softwareUpdate(seed, slice)
                    #expect(CRC32C.update(seed, slice) == software, "length \(length), shift \(shift)")
                    #if arch(x86_64)
                        if CRC32C.hasHardwareSupport {
                            let hardware = CRC32C.hardwareUpdate(seed, slice)
                            #expect(hardware == software, "length \(length), shift \(shift)")
                        }
                    #endif
                }
            }
        }
    }

    @Test func incrementalUpdatesEqualOneShot() {
        var generator = SplitMix64(seed: 33)
        let bytes = generator.bytes(10_000)
        let whole = CRC32C.checksum(bytes)
        for _ in 0..<200 {
            var cuts = (0..<Int.random(in: 1...6, using: &generator)).map { _ in
                Int.random(in: 0...bytes.count, using: &generator)
            }
            cuts = [0] + cuts.sorted() + [bytes.count]
            var crc: UInt32 = 0
            bytes.withUnsafeBytes { raw in
                for (from, to) in zip(cuts, cuts.dropFirst()) {
                    crc = CRC32C.update(crc, UnsafeRawBufferPointer(rebasing: raw[from..<to]))
                }
            }
            #expect(crc == whole, "cuts \(cuts)")
        }
    }
}
