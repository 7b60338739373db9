import SluiceCore
import Testing

@testable import SluiceLog

/// The record batch format alone: CRC-32C, zigzag varints, the builder and the decoder, and the
/// decoder's behaviour on cut, damaged and random bytes.
@Suite struct RecordBatchTests {
    // MARK: CRC-32C

    @Test func crc32cCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// The sliced implementation agrees with a bit-by-bit one at every length around its 8-byte step,
    /// and `update` over pieces gives the checksum of the whole.
    @Test func crc32cMatchesBitwiseReferenceAndUpdates() {
        var generator = SplitMix64(seed: 7)
        for length in 0..<80 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = Self.bitwiseCRC32C(bytes)
            #expect(CRC32C.checksum(bytes) == expected, "length \(length)")
            let cut = length / 3
            let pieces = bytes.withUnsafeBytes { raw in
                CRC32C.update(
                    CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[..<cut])),
                    UnsafeRawBufferPointer(rebasing: raw[cut...])
                )
            }
            #expect(pieces == expected, "length \(length) cut at \(cut)")
        }
    }

    static func bitwiseCRC32C(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    // MARK: Varints

    static let varintCases: [(value: Int64, size: Int)] = [
        (0, 1), (-1, 1), (1, 1), (63, 1), (-64, 1), (64, 2), (-65, 2), (8191, 2), (8192, 3),
        (Int64(Int32.max), 5), (Int64(Int32.min), 5), (Int64.max, 10), (Int64.min, 10),
    ]

    @Test func varintSizesAtBoundaries() {
        for (value, size) in Self.varintCases {
            #expect(Varint.size(value) == size, "size of \(value)")
            var out: [UInt8] = []
            Varint.append(value, to: &out)
            #expect(out.count == size, "encoded length of \(value)")
        }
    }

    @Test func varintKnownEncodings() {
        let cases: [(Int64, [UInt8])] = [
            (0, [0x00]), (-1, [0x01]), (1, [0x02]), (63, [0x7E]), (-64, [0x7F]), (64, [0x80, 0x01]),
            (-65, [0x81, 0x01]), (Int64(Int32.max), [0xFE, 0xFF, 0xFF, 0xFF, 0x0F]),
            (Int64.min, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        ]
        for (value, expected) in cases {
            var out: [UInt8] = []
            Varint.append(value, to: &out)
            #expect(out == expected, "encoding of \(value)")
        }
    }

    @Test func varintRoundTrips() throws {
        var values = Self.varintCases.map(\.value)
        var generator = SplitMix64(seed: 11)
        for _ in 0..<2_000 {
            let bits = Int.random(in: 0...63, using: &generator)
            let magnitude = Int64.random(in: 0...Int64.max, using: &generator) >> bits
            values.append(Bool.random(using: &generator) ? magnitude : ~magnitude)
        }
        var bytes: [UInt8] = []
        for value in values { Varint.append(value, to: &bytes) }
        let (decoded, sizes, end) = try bytes.withUnsafeBytes { raw -> ([Int64], [Int], Int) in
            var reader = ByteReader(raw)
            var decoded: [Int64] = []
            var sizes: [Int] = []
            for _ in values {
                let start = reader.position
                decoded.append(try reader.varint())
                sizes.append(reader.position - start)
            }
            return (decoded, sizes, reader.position)
        }
        #expect(decoded == values)
        #expect(sizes == values.map { Varint.size($0) })
        #expect(end == bytes.count)
    }

    @Test func varintReaderRejectsOverlongAndCutVarints() {
        let overlong = [UInt8](repeating: 0xFF, count: 11) + [0x01]
        let cut: [UInt8] = [0x80, 0x80]
        for bytes in [overlong, cut] {
            bytes.withUnsafeBytes { raw in
                var reader = ByteReader(raw)
                #expect(throws: LogError.self) { try reader.varint() }
            }
        }
    }

    // MARK: Builder and decoder

    /// Records that use every corner of the record format.
    static func awkwardRecords() -> [Record] {
        let manyHeaders = (0..<40).map { i in Header("h\(i)", i % 5 == 0 ? nil : Array("value \(i)".utf8)) }
        return [
            Record(key: nil, value: Array("null key".utf8), timestamp: 5_000),
            Record(key: Array("null value".utf8), value: nil, timestamp: 4_000),
            Record(key: [], value: [], timestamp: 6_000),
            Record(key: "k", value: "null header value", headers: [Header("gone", nil)], timestamp: 3_999),
            Record(key: "k", value: "empty header", headers: [Header("", []), Header("e", [])], timestamp: -20),
            Record(key: Array("many".utf8), value: Array("headers".utf8), headers: manyHeaders, timestamp: 5_001),
            Record(key: [0, 255, 128], value: Array(repeating: 0xAB, count: 3_000), timestamp: 1 << 40),
            Record(key: "ünïcödé", value: "名前 ✓", headers: [Header("dup", "1"), Header("dup", "2")], timestamp: 0),
        ]
    }

    @Test(arguments: BatchCompression.allCases)
    func builderDecoderRoundTrip(compression: BatchCompression) throws {
        let records = Self.awkwardRecords()
        var builder = RecordBatchBuilder(compression: compression)
        builder.producerId = 42
        builder.producerEpoch = 3
        builder.baseSequence = 7
        for record in records { builder.append(record) }
        #expect(builder.count == records.count)
        let batch = try builder.build(baseOffset: 100)
        #expect(builder.isEmpty)

        let header = batch.withUnsafeBytes { RecordBatchHeader($0) }
        #expect(header.problem(maxBatchBytes: Int(Int32.max)) == nil)
        #expect(header.baseOffset == 100)
        #expect(header.totalSize == batch.count)
        #expect(header.magic == 2)
        #expect(header.compressionCode == compression.rawValue)
        #expect(header.recordCount == Int32(records.count))
        #expect(header.lastOffsetDelta == Int32(records.count - 1))
        #expect(header.baseTimestamp == 5_000)
        #expect(header.maxTimestamp == 1 << 40)
        #expect(header.producerId == 42)
        #expect(header.producerEpoch == 3)
        #expect(header.baseSequence == 7)
        let crc = batch.withUnsafeBytes { RecordBatch.computeCRC($0, at: 0, totalSize: batch.count) }
        #expect(header.crc == crc)
        if compression == .gzip {
            #expect(batch.count < RecordBatchHeader.size + 3_000)
        }

        let block = try RecordBatchDecoder.decode(batch)
        #expect(block.records == LogTestSupport.stored(records, from: 100))
    }

    /// A builder is empty after `build` and makes the next batch from scratch, its counts and
    /// timestamps included.
    @Test(arguments: BatchCompression.allCases)
    func builderIsReusableAfterBuild(compression: BatchCompression) throws {
        var builder = RecordBatchBuilder(compression: compression)
        let first = LogTestSupport.records(5, tag: "a", timestamp: 9_000)
        let second = LogTestSupport.records(3, tag: "b", timestamp: 100)
        for record in first { builder.append(record) }
        let batchA = try builder.build()
        for record in second { builder.append(record) }
        var batchB = try builder.build()
        RecordBatch.setBaseOffset(5, in: &batchB)
        let headerB = batchB.withUnsafeBytes { RecordBatchHeader($0) }
        #expect(headerB.recordCount == 3)
        #expect(headerB.baseTimestamp == 100)
        #expect(headerB.maxTimestamp == 102)
        let block = try RecordBatchDecoder.decode(batchA + batchB)
        #expect(block.records == LogTestSupport.stored(first + second, from: 0))
    }

    @Test func builderAppendsFromRecordBlock() throws {
        var block = RecordBlock()
        for record in Self.awkwardRecords() { block.append(record) }
        var builder = RecordBatchBuilder()
        for i in 0..<block.count { builder.append(from: block, index: i) }
        let decoded = try RecordBatchDecoder.decode(try builder.build())
        #expect(decoded.records == LogTestSupport.stored(Self.awkwardRecords(), from: 0))
    }

    @Test(arguments: BatchCompression.allCases)
    func decodeFromMiddleOfBatch(compression: BatchCompression) throws {
        let records = LogTestSupport.records(10)
        var first = try LogTestSupport.batch(records, compression: compression)
        var second = try LogTestSupport.batch(records, compression: compression)
        RecordBatch.setBaseOffset(100, in: &first)
        RecordBatch.setBaseOffset(110, in: &second)
        let both = first + second
        let stored = LogTestSupport.stored(records + records, from: 100)

        #expect(try RecordBatchDecoder.decode(both, from: 105).records == Array(stored[5...]))
        #expect(try RecordBatchDecoder.decode(both, from: 110).records == Array(stored[10...]))
        #expect(try RecordBatchDecoder.decode(both, from: 119).records == [stored[19]])
        #expect(try RecordBatchDecoder.decode(both, from: 120).records.isEmpty)
        #expect(try RecordBatchDecoder.decode(both, from: 0).records == stored)
        #expect(try RecordBatchDecoder.decode([]).records.isEmpty)
    }

    @Test func controlBatchesAreSkipped() throws {
        var control = try LogTestSupport.batch(LogTestSupport.records(2, tag: "control"))
        control.withUnsafeMutableBytes { raw in
            raw.storeBigEndian(Int16(0x20 | 0x10), at: RecordBatchHeader.attributesOffset)
            let crc = RecordBatch.computeCRC(UnsafeRawBufferPointer(raw), at: 0, totalSize: raw.count)
            raw.storeBigEndian(crc, at: RecordBatchHeader.crcOffset)
        }
        var data = try LogTestSupport.batch(LogTestSupport.records(3))
        RecordBatch.setBaseOffset(2, in: &data)
        let block = try RecordBatchDecoder.decode(control + data)
        #expect(block.records == LogTestSupport.stored(LogTestSupport.records(3), from: 2))
    }

    @Test func unknownCompressionIsRefused() throws {
        var batch = try LogTestSupport.batch(LogTestSupport.records(2))
        batch.withUnsafeMutableBytes { raw in
            raw.storeBigEndian(Int16(5), at: RecordBatchHeader.attributesOffset)
            let crc = RecordBatch.computeCRC(UnsafeRawBufferPointer(raw), at: 0, totalSize: raw.count)
            raw.storeBigEndian(crc, at: RecordBatchHeader.crcOffset)
        }
        let error = try #require(throws: LogError.self) { try RecordBatchDecoder.decode(batch) }
        #expect(error.code == .corrupt)
        #expect(error.message.contains("compression codec 5"))
    }

    // MARK: Damaged bytes

    /// Every byte the CRC covers (attributes to the end) makes the check fail when flipped.
    @Test(arguments: BatchCompression.allCases)
    func flippedByteFailsCRC(compression: BatchCompression) throws {
        let batch = try LogTestSupport.batch(Self.awkwardRecords(), compression: compression)
        #expect(try RecordBatchDecoder.decode(batch).count == Self.awkwardRecords().count)
        for position in RecordBatchHeader.attributesOffset..<batch.count {
            var damaged = batch
            damaged[position] ^= 0xFF
            let error = try #require(throws: LogError.self) { try RecordBatchDecoder.decode(damaged) }
            #expect(error.code == .corrupt)
            // A damaged count or offset delta fails the header's own checks before the CRC is computed.
            let header = damaged.withUnsafeBytes { RecordBatchHeader($0) }
            if header.problem(maxBatchBytes: Int(Int32.max)) == nil {
                #expect(error.message.contains("CRC"), "byte \(position): \(error)")
            }
        }
        for position in RecordBatchHeader.crcOffset..<RecordBatchHeader.attributesOffset {
            var damaged = batch
            damaged[position] ^= 0x01
            #expect(throws: LogError.self, "CRC byte \(position)") { try RecordBatchDecoder.decode(damaged) }
        }
    }

    @Test(arguments: BatchCompression.allCases)
    func truncatedBatchThrows(compression: BatchCompression) throws {
        let batch = try LogTestSupport.batch(Self.awkwardRecords(), compression: compression)
        for length in 1..<batch.count {
            for verifyCRC in [true, false] {
                let error = try #require(throws: LogError.self, "length \(length)") {
                    try RecordBatchDecoder.decode(Array(batch[..<length]), verifyCRC: verifyCRC)
                }
                #expect(error.code == .corrupt)
            }
        }
        let trailing = batch + batch[..<30]
        #expect(throws: LogError.self) { try RecordBatchDecoder.decode(trailing) }
    }

    /// A header that announces billions of records in a small batch throws; it does not make the
    /// decoder reserve memory for them all.
    @Test func hugeRecordCountThrows() throws {
        var batch = try LogTestSupport.batch(LogTestSupport.records(3))
        batch.withUnsafeMutableBytes { raw in
            raw.storeBigEndian(Int32.max - 1, at: 23)
            raw.storeBigEndian(Int32.max, at: RecordBatchHeader.recordCountOffset)
        }
        let error = try #require(throws: LogError.self) { try RecordBatchDecoder.decode(batch, verifyCRC: false) }
        #expect(error.code == .corrupt)
    }

    /// A damaged base offset (which the CRC does not cover) near `Int64.max` does not crash.
    @Test func extremeBaseOffsetDoesNotCrash() throws {
        for baseOffset in [Int64.max, Int64.max - 1, Int64.min, -1] {
            var batch = try LogTestSupport.batch(LogTestSupport.records(3))
            RecordBatch.setBaseOffset(baseOffset, in: &batch)
            let block = try RecordBatchDecoder.decode(batch, from: 0)
            #expect(block.count <= 3)
            _ = try RecordBatchDecoder.decode(batch)
        }
    }

    /// Random damage to valid batches never crashes the decoder: it throws or returns records whose
    /// parts all lie inside the block's arena.
    @Test(arguments: [1, 2, 3])
    func randomMutationsNeverCrash(seed: UInt64) throws {
        var generator = SplitMix64(seed: seed)
        var originals: [[UInt8]] = []
        for compression in BatchCompression.allCases {
            for records in [Self.awkwardRecords(), LogTestSupport.records(6, valueSize: 3)] {
                originals.append(try LogTestSupport.batch(records, compression: compression))
            }
        }
        var decoded = 0
        var thrown = 0
        for iteration in 0..<2_000 {
            let original = originals[iteration % originals.count]
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                Self.mutate(&bytes, using: &generator)
            }
            do {
                let block = try RecordBatchDecoder.decode(bytes, verifyCRC: iteration % 10 == 0)
                for i in 0..<block.count { _ = block.record(i) }
                decoded += 1
            } catch let error as LogError {
                #expect(error.code == .corrupt, "\(error)")
                thrown += 1
            } catch {
                Issue.record("iteration \(iteration) threw \(type(of: error)), not LogError: \(error)")
                thrown += 1
            }
        }
        #expect(decoded + thrown == 2_000)
        #expect(thrown > 0)
    }

    /// Header fields that a mutation likes to hit with extreme values.
    static let fieldOffsets = [0, 8, 12, 17, 21, 23, 27, 35, 43, 51, 53, 57, RecordBatchHeader.size]
    static let extremes: [Int64] = [0, 1, -1, 0x7F, 0x80, 0xFF, Int64(Int32.max), Int64(Int32.min), .max, .min]

    static func mutate(_ bytes: inout [UInt8], using generator: inout SplitMix64) {
        guard !bytes.isEmpty else {
            bytes = [UInt8.random(in: 0...255, using: &generator)]
            return
        }
        let position = Int.random(in: 0..<bytes.count, using: &generator)
        switch Int.random(in: 0..<8, using: &generator) {
        case 0:
            bytes[position] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &generator)
        case 1:
            bytes[position] = UInt8.random(in: 0...255, using: &generator)
        case 2:
            bytes[position] = [0x00, 0x01, 0x7F, 0x80, 0xFF].randomElement(using: &generator) ?? 0
        case 3:
            let field = fieldOffsets.randomElement(using: &generator) ?? 0
            let value = extremes.randomElement(using: &generator) ?? 0
            let width = Bool.random(using: &generator) ? 4 : 8
            for i in 0..<width where field + i < bytes.count {
                bytes[field + i] = UInt8(truncatingIfNeeded: value >> Int64(8 * (width - 1 - i)))
            }
        case 4:
            bytes.removeLast(Int.random(in: 0...min(bytes.count, 64), using: &generator))
        case 5:
            let count = Int.random(in: 1...min(16, bytes.count - position), using: &generator)
            bytes.removeSubrange(position..<(position + count))
        case 6:
            let inserted = (0..<Int.random(in: 1...8, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            bytes.insert(contentsOf: inserted, at: position)
        default:
            let end = min(bytes.count, position + Int.random(in: 1...16, using: &generator))
            for i in position..<end { bytes[i] = UInt8.random(in: 0...255, using: &generator) }
        }
    }
}
