import SluiceCore

/// Builds one v2 record batch from records, in Kafka's byte layout.
///
/// Records are encoded as they are appended; `build` fills the header, compresses the records section
/// when asked, and computes the CRC. The base offset is left for the log to set on append. One owner
/// uses a builder; it is not thread-safe.
public struct RecordBatchBuilder {
    public let compression: BatchCompression
    public var producerId: Int64 = -1
    public var producerEpoch: Int16 = -1
    public var baseSequence: Int32 = -1
    public var partitionLeaderEpoch: Int32 = 0
    public var isTransactional = false
    @usableFromInline var recordCount = 0
    public var count: Int { recordCount }
    /// Header placeholder plus encoded records.
    @usableFromInline var buffer: [UInt8]
    @usableFromInline var baseTimestamp: Int64 = 0
    @usableFromInline var maxTimestamp: Int64 = 0

    public init(compression: BatchCompression = .none, capacity: Int = 0) {
        self.compression = compression
        buffer = []
        buffer.reserveCapacity(RecordBatchHeader.size + capacity)
        buffer.append(contentsOf: repeatElement(0, count: RecordBatchHeader.size))
    }

    /// The size of the batch so far, before compression.
    public var sizeInBytes: Int { buffer.count }
    public var isEmpty: Bool { count == 0 }

    /// Removes every record, keeping the storage.
    public mutating func reset() {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: repeatElement(0, count: RecordBatchHeader.size))
        recordCount = 0
    }

    @inlinable
    mutating func noteTimestamp(_ timestamp: Int64) -> Int64 {
        if count == 0 {
            baseTimestamp = timestamp
            maxTimestamp = timestamp
        } else if timestamp > maxTimestamp {
            maxTimestamp = timestamp
        }
        return timestamp &- baseTimestamp  // wrapping, as the decoder adds it back
    }

    /// Appends record `index` of `block`.
    @inlinable
    public mutating func append(from block: RecordBlock, index: Int) {
        let entry = block.entries[index]
        let timestampDelta = noteTimestamp(entry.timestamp)
        let offsetDelta = Int64(count)
        let keyRange = block.keyRange(index)
        let valueRange = block.valueRange(index)
        let headerCount = block.headerCount(index)
        let keyLength = Int64(keyRange?.count ?? -1)
        let valueLength = Int64(valueRange?.count ?? -1)
        var bodySize = 1 + Varint.size(timestampDelta) + Varint.size(offsetDelta)
        bodySize += Varint.size(keyLength) + max(Int(keyLength), 0)
        bodySize += Varint.size(valueLength) + max(Int(valueLength), 0)
        bodySize += Varint.size(Int64(headerCount))
        for h in 0..<headerCount {
            let (name, value) = block.headerRanges(index, h)
            let valueLength = Int64(value?.count ?? -1)
            bodySize +=
                Varint.size(Int64(name.count)) + name.count + Varint.size(valueLength) + max(Int(valueLength), 0)
        }
        Varint.append(Int64(bodySize), to: &buffer)
        buffer.append(0)
        Varint.append(timestampDelta, to: &buffer)
        Varint.append(offsetDelta, to: &buffer)
        block.bytes.withUnsafeBytes { arena in
            Varint.append(keyLength, to: &buffer)
            if let keyRange { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: arena[keyRange])) }
            Varint.append(valueLength, to: &buffer)
            if let valueRange { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: arena[valueRange])) }
            Varint.append(Int64(headerCount), to: &buffer)
            for h in 0..<headerCount {
                let (name, value) = block.headerRanges(index, h)
                Varint.append(Int64(name.count), to: &buffer)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: arena[name]))
                Varint.append(Int64(value?.count ?? -1), to: &buffer)
                if let value { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: arena[value])) }
            }
        }
        recordCount += 1
    }

    /// Appends one record.
    public mutating func append(_ record: Record) {
        var block = RecordBlock()
        block.append(record)
        append(from: block, index: 0)
    }

    /// Finishes the batch: header, compression, CRC. The builder is empty afterwards.
    /// `baseOffset` is usually left 0 for the log to set.
    public mutating func build(baseOffset: Int64 = 0) throws -> [UInt8] {
        precondition(count > 0, "a record batch holds at least one record")
        // Read before the gzip branch's `reset()` sets the count to 0.
        let lastOffsetDelta = Int32(count - 1)
        let storedCount = Int32(count)
        var out: [UInt8]
        if compression == .gzip {
            let compressed = try buffer.withUnsafeBytes { raw in
                try Deflater.gzip(UnsafeRawBufferPointer(rebasing: raw[RecordBatchHeader.size...]))
            }
            out = [UInt8](repeating: 0, count: RecordBatchHeader.size)
            out.append(contentsOf: compressed)
            reset()
        } else {
            out = buffer
            buffer = []
            buffer.reserveCapacity(out.count)
            buffer.append(contentsOf: repeatElement(0, count: RecordBatchHeader.size))
        }
        var attributes = compression.rawValue
        if isTransactional { attributes |= 0x10 }
        let (firstTimestamp, maxTimestamp) = (baseTimestamp, self.maxTimestamp)
        out.withUnsafeMutableBytes { raw in
            raw.storeBigEndian(baseOffset, at: 0)
            raw.storeBigEndian(Int32(raw.count - RecordBatchHeader.logOverhead), at: 8)
            raw.storeBigEndian(partitionLeaderEpoch, at: 12)
            raw.storeBigEndian(RecordBatchHeader.magic, at: 16)
            raw.storeBigEndian(attributes, at: 21)
            raw.storeBigEndian(lastOffsetDelta, at: 23)
            raw.storeBigEndian(firstTimestamp, at: 27)
            raw.storeBigEndian(maxTimestamp, at: 35)
            raw.storeBigEndian(producerId, at: 43)
            raw.storeBigEndian(producerEpoch, at: 51)
            raw.storeBigEndian(baseSequence, at: 53)
            raw.storeBigEndian(storedCount, at: 57)
            let crc = RecordBatch.computeCRC(UnsafeRawBufferPointer(raw), at: 0, totalSize: raw.count)
            raw.storeBigEndian(crc, at: 17)
        }
        recordCount = 0
        return out
    }
}
