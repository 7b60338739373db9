import FuzzSupport
import SluiceCore
import SluiceLog

// Fuzzes `RecordBatchDecoder.decode` (and with it `RecordBatchHeader.problem`, the varint reader and
// gzip inflation of a batch's records) on untrusted bytes. A decode must throw or give a block whose
// every range lies inside its arena, with no record before the minimum offset; what decodes must
// survive being built again with `RecordBatchBuilder` (none and gzip) and decoded to the same records.
//
// Input: a flags byte (bit 0: check CRCs; bit 1: fix the CRCs first; bit 2: the rest is a records
// section the harness wraps in a valid header; bit 3: gzip that section), a byte picking the minimum
// offset, then the bytes. In wrapped mode, one byte gives the record count and one the attributes.

func minimumOffset(_ byte: UInt8) -> Int64 {
    [Int64.min, 0, 1, 2, 3, 7, 100, -1, Int64.max][Int(byte) % 9]
}

/// A batch header around `records`: `count` records, offsets from 0, attribute bits from `attributes`.
func wrap(_ records: [UInt8], count: UInt8, attributes: UInt8, gzip: Bool) -> [UInt8]? {
    var section = records
    if gzip {
        guard let compressed = try? records.withUnsafeBytes({ try Deflater.gzip($0) }) else { return nil }
        section = compressed
    }
    var out = [UInt8](repeating: 0, count: RecordBatchHeader.size)
    out += section
    let flags = Int16(attributes & 0x38) | (gzip ? 1 : 0)
    out.withUnsafeMutableBytes { raw in
        raw.storeBytes(of: Int64(0).bigEndian, toByteOffset: 0, as: Int64.self)
        raw.storeBytes(of: Int32(raw.count - 12).bigEndian, toByteOffset: 8, as: Int32.self)
        raw.storeBytes(of: Int8(2).bigEndian, toByteOffset: 16, as: Int8.self)
        raw.storeBytes(of: flags.bigEndian, toByteOffset: 21, as: Int16.self)
        raw.storeBytes(of: Int32(max(0, Int(count) - 1)).bigEndian, toByteOffset: 23, as: Int32.self)
        raw.storeBytes(of: Int64(1_000).bigEndian, toByteOffset: 27, as: Int64.self)
        raw.storeBytes(of: Int64(2_000).bigEndian, toByteOffset: 35, as: Int64.self)
        raw.storeBytes(of: Int64(-1).bigEndian, toByteOffset: 43, as: Int64.self)
        raw.storeBytes(of: Int32(count).bigEndian, toByteOffset: 57, as: Int32.self)
    }
    Batches.fixCRCs(&out)
    return out
}

/// Every range of `block` lies inside its arena, and every record is at or after `minOffset`.
func checkRanges(_ block: RecordBlock, _ minOffset: Int64) {
    let size = block.bytes.count
    func inside(_ range: Range<Int>?) -> Bool { range.map { $0.lowerBound >= 0 && $0.upperBound <= size } ?? true }
    for i in 0..<block.count {
        require(block.entries[i].offset >= minOffset, "record \(i) has offset \(block.entries[i].offset)")
        require(inside(block.keyRange(i)) && inside(block.valueRange(i)), "record \(i) points outside the arena")
        let first = Int(block.entries[i].firstHeader)
        require(first >= 0 && first + block.headerCount(i) <= block.headerEntries.count, "record \(i) headers")
        for h in 0..<block.headerCount(i) {
            let (name, value) = block.headerRanges(i, h)
            require(inside(name) && inside(value), "header \(h) of record \(i) points outside the arena")
        }
    }
}

/// Keys, values and headers of every record, as raw bytes.
func contents(_ block: RecordBlock) -> [[[UInt8]?]] {
    (0..<block.count).map { i in
        var fields: [[UInt8]?] = [block.key(i).map(Array.init), block.value(i).map(Array.init)]
        for h in 0..<block.headerCount(i) {
            let header = block.header(i, h)
            fields.append(Array(header.name))
            fields.append(header.value.map(Array.init))
        }
        return fields
    }
}

func test(_ input: inout FuzzInput) {
    let flags = input.byte()
    let minOffset = minimumOffset(input.byte())
    var bytes: [UInt8]
    if flags & 4 != 0 {
        let count = input.byte()
        let attributes = input.byte()
        guard let wrapped = wrap(input.rest(), count: count, attributes: attributes, gzip: flags & 8 != 0) else {
            return
        }
        bytes = wrapped
    } else {
        bytes = input.rest()
        if flags & 2 != 0 { Batches.fixCRCs(&bytes) }
    }
    guard let block = try? RecordBatchDecoder.decode(bytes, from: minOffset, verifyCRC: flags & 1 != 0) else { return }
    checkRanges(block, minOffset)
    _ = block.records
    guard !block.isEmpty else { return }
    for compression in BatchCompression.allCases {
        var builder = RecordBatchBuilder(compression: compression)
        for i in 0..<block.count { builder.append(from: block, index: i) }
        guard let rebuilt = try? builder.build() else {
            require(false, "a decoded block does not build again with \(compression)")
            return
        }
        let again: RecordBlock
        do {
            again = try RecordBatchDecoder.decode(rebuilt)
        } catch {
            require(false, "a rebuilt batch (\(compression)) does not decode: \(error)")
            return
        }
        checkRanges(again, .min)
        require(contents(again) == contents(block), "records change when built again with \(compression)")
        require(again.entries.map(\.offset) == Array(0..<Int64(block.count)), "rebuilt offsets")
        require(again.entries.map(\.timestamp) == block.entries.map(\.timestamp), "rebuilt timestamps")
    }
}

func seeds() throws -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    for (i, count) in [1, 3, 10].enumerated() {
        for compression in BatchCompression.allCases {
            let batch = try Batches.build(count: count, seed: UInt64(i), compression: compression)
            seeds.append(("batch-\(count)-\(compression)", [1, 0] + batch))
        }
    }
    let two = try Batches.build(count: 2, seed: 9) + Batches.build(count: 4, seed: 10, compression: .gzip)
    seeds.append(("two-batches", [1, 3] + two))
    let one = try Batches.build(count: 2, seed: 11)
    seeds.append(("wrapped", [4, 0, 2, 0] + one[RecordBatchHeader.size...]))
    seeds.append(("wrapped-gzip", [12, 0, 2, 0] + one[RecordBatchHeader.size...]))
    return seeds
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    test(&input)
    return 0
}

Fuzzer.main(seeds: seeds, testOneInput)
