import SluiceCore

/// Decodes whole v2 record batches into a `RecordBlock` whose arena is the batches' own bytes, so that
/// keys, values and headers are not copied. Gzip batches are inflated once and appended to the arena.
public enum RecordBatchDecoder {
    /// Decodes every batch in `bytes`, which holds whole batches back to back as `PartitionLog.read`
    /// returns them. Records before `minOffset` and control batches are skipped. With `verifyCRC`
    /// (the default, as Kafka's consumers do) a batch whose CRC does not match throws.
    public static func decode(
        _ bytes: [UInt8],
        from minOffset: Int64 = .min,
        verifyCRC: Bool = true
    ) throws -> RecordBlock {
        var arena = bytes
        var batches: [(header: RecordBatchHeader, records: Range<Int>)] = []
        var position = 0
        var lastNextOffset: Int64?
        let total = bytes.count
        while position < total {
            guard total - position >= RecordBatchHeader.size else {
                throw LogError(.corrupt, "a batch header at byte \(position) is cut short")
            }
            let header = bytes.withUnsafeBytes { RecordBatchHeader($0, at: position) }
            if let problem = header.problem(maxBatchBytes: Int(Int32.max)) {
                throw LogError(.corrupt, "batch at offset \(header.baseOffset): \(problem)")
            }
            let size = header.totalSize
            guard size <= total - position else {
                throw LogError(.corrupt, "batch at offset \(header.baseOffset) is cut short")
            }
            if verifyCRC {
                let crc = bytes.withUnsafeBytes { RecordBatch.computeCRC($0, at: position, totalSize: size) }
                guard crc == header.crc else {
                    throw LogError(
                        .corrupt,
                        "batch at offset \(header.baseOffset) fails its CRC check (stored \(hex(header.crc)), computed \(hex(crc)))"
                    )
                }
            }
            lastNextOffset = header.nextOffset
            let recordsStart = position + RecordBatchHeader.size
            let recordsEnd = position + size
            if !header.isControl && header.nextOffset > minOffset && header.recordCount > 0 {
                switch header.compressionCode {
                case BatchCompression.none.rawValue:
                    batches.append((header, recordsStart..<recordsEnd))
                case BatchCompression.gzip.rawValue...4:
                    let inflated: [UInt8]
                    do {
                        inflated = try bytes.withUnsafeBytes { raw in
                            try RecordBatch.decompress(
                                header.compressionCode, UnsafeRawBufferPointer(rebasing: raw[recordsStart..<recordsEnd])
                            )
                        }
                    } catch let error as CoreError {
                        throw LogError(
                            .corrupt,
                            "batch at offset \(header.baseOffset) holds bad \(RecordBatch.codecName(header.compressionCode)) "
                                + "data", cause: error)
                    }
                    let start = arena.count
                    arena.append(contentsOf: inflated)
                    batches.append((header, start..<arena.count))
                default:
                    throw LogError(
                        .corrupt,
                        "batch at offset \(header.baseOffset) uses compression codec \(header.compressionCode); "
                            + "Kafka's are none, gzip, snappy, lz4 and zstd (0 to 4)"
                    )
                }
            }
            position += size
        }
        var entries: [RecordBlock.Entry] = []
        var headers: [RecordBlock.HeaderEntry] = []
        try arena.withUnsafeBytes { raw in
            for batch in batches {
                try decodeRecords(raw, batch.header, batch.records, minOffset, &entries, &headers)
            }
        }
        var block = RecordBlock(arena: arena, entries: entries, headers: headers)
        block.batchesEnd = lastNextOffset
        return block
    }

    private static func decodeRecords(
        _ raw: UnsafeRawBufferPointer,
        _ header: RecordBatchHeader,
        _ range: Range<Int>,
        _ minOffset: Int64,
        _ entries: inout [RecordBlock.Entry],
        _ headers: inout [RecordBlock.HeaderEntry]
    ) throws {
        var reader = ByteReader(raw, from: range.lowerBound, to: range.upperBound)
        // A damaged count must not reserve more than the bytes can hold: every record takes a byte at least.
        entries.reserveCapacity(entries.count + min(Int(header.recordCount), range.count))
        for _ in 0..<header.recordCount {
            let length = try reader.varint()
            guard length >= 0, length <= reader.end - reader.position else {
                throw LogError(.corrupt, "a record in the batch at offset \(header.baseOffset) runs past its end")
            }
            let recordEnd = reader.position + Int(length)
            var record = ByteReader(raw, from: reader.position, to: recordEnd)
            _ = try record.byte()
            let timestampDelta = try record.varint()
            let offsetDelta = try record.varint()
            // A record outside its batch's offsets would be read out of order, or make a reader skip
            // past the end of the log.
            guard offsetDelta >= 0, offsetDelta <= Int64(header.lastOffsetDelta) else {
                throw LogError(
                    .corrupt,
                    "a record in the batch at offset \(header.baseOffset) has offset delta \(offsetDelta), "
                        + "outside the batch's 0...\(header.lastOffsetDelta)"
                )
            }
            let key = try record.lengthPrefixed()
            let value = try record.lengthPrefixed()
            let headerCount = try record.varint()
            guard headerCount >= 0, headerCount <= Int64(length) else {
                throw LogError(
                    .corrupt, "a record in the batch at offset \(header.baseOffset) has \(headerCount) headers")
            }
            var entry = RecordBlock.Entry(
                offset: header.baseOffset &+ offsetDelta,
                timestamp: header.usesLogAppendTime ? header.maxTimestamp : header.baseTimestamp &+ timestampDelta,
                firstHeader: Int32(headers.count)
            )
            if let key {
                entry.keyStart = Int32(key.lowerBound)
                entry.keyLength = Int32(key.count)
            }
            if let value {
                entry.valueStart = Int32(value.lowerBound)
                entry.valueLength = Int32(value.count)
            }
            for _ in 0..<headerCount {
                guard let name = try record.lengthPrefixed() else {
                    throw LogError(.corrupt, "a header in the batch at offset \(header.baseOffset) has a null name")
                }
                let value = try record.lengthPrefixed()
                headers.append(
                    RecordBlock.HeaderEntry(
                        nameStart: Int32(name.lowerBound),
                        nameLength: Int32(name.count),
                        valueStart: Int32(value?.lowerBound ?? 0),
                        valueLength: Int32(value?.count ?? -1)
                    )
                )
            }
            entry.headerCount = Int32(headerCount)
            reader.position = recordEnd
            if entry.offset >= minOffset {
                entries.append(entry)
            } else {
                headers.removeLast(Int(headerCount))
            }
        }
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
