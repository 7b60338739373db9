/// A batch of records packed in one byte arena: the unit that sources emit, the broker stores and sinks
/// receive.
///
/// Keys, values and header names and values are ranges of `bytes`, so building or reading a block of
/// thousands of records costs a handful of allocations, not several per record. A block is a value:
/// copying it shares storage until one copy changes.
///
/// Build a record with `beginRecord`, then append its bytes to `bytes` and mark them with `setKey`,
/// `setValue` and `addHeader`, or use the `append…` conveniences.
public struct RecordBlock: Sendable {
    /// Where one record's parts lie in `bytes`.
    public struct Entry: Sendable {
        /// The record's offset in its partition, or -1 before it is stored.
        public var offset: Int64
        /// Milliseconds since the epoch.
        public var timestamp: Int64
        public var keyStart: Int32
        /// -1 for a null key.
        public var keyLength: Int32
        public var valueStart: Int32
        /// -1 for a null value.
        public var valueLength: Int32
        /// Index of the record's first header in the block's header table.
        public var firstHeader: Int32
        public var headerCount: Int32

        @inlinable
        public init(offset: Int64, timestamp: Int64, firstHeader: Int32) {
            self.offset = offset
            self.timestamp = timestamp
            keyStart = 0
            keyLength = -1
            valueStart = 0
            valueLength = -1
            self.firstHeader = firstHeader
            headerCount = 0
        }
    }

    /// Where one header's name and value lie in `bytes`.
    public struct HeaderEntry: Sendable {
        public var nameStart: Int32
        public var nameLength: Int32
        public var valueStart: Int32
        /// -1 for a null value.
        public var valueLength: Int32

        @inlinable
        public init(nameStart: Int32, nameLength: Int32, valueStart: Int32, valueLength: Int32) {
            self.nameStart = nameStart
            self.nameLength = nameLength
            self.valueStart = valueStart
            self.valueLength = valueLength
        }
    }

    /// The arena. Writers append to it and then mark what they appended.
    public var bytes: [UInt8]
    /// Where each record lies in `bytes`, in order.
    public var entries: [Entry]
    /// Where each header lies in `bytes`; each entry points at its first header.
    public var headerEntries: [HeaderEntry]
    /// For a block decoded from stored batches: the offset after the last batch, records or not (a
    /// control batch has none a reader sees). A reader that took every record of the block goes on
    /// from here, never from the last record alone. Nil for blocks built record by record.
    public var batchesEnd: Int64?

    public init(capacity: Int = 0, byteCapacity: Int = 0) {
        bytes = []
        entries = []
        headerEntries = []
        bytes.reserveCapacity(byteCapacity)
        entries.reserveCapacity(capacity)
    }

    /// A block over an existing arena (for example fetched record batches) and entries that point into
    /// it, as a decoder builds them. Nothing is copied.
    public init(arena: [UInt8], entries: [Entry], headers: [HeaderEntry]) {
        bytes = arena
        self.entries = entries
        headerEntries = headers
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// Removes every record, keeping the storage for reuse.
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        entries.removeAll(keepingCapacity: true)
        headerEntries.removeAll(keepingCapacity: true)
    }

    // MARK: Building

    /// Starts a new record with a null key, a null value and no headers.
    @inlinable
    public mutating func beginRecord(timestamp: Int64, offset: Int64 = -1) {
        entries.append(Entry(offset: offset, timestamp: timestamp, firstHeader: Int32(headerEntries.count)))
    }

    /// Marks `range` of `bytes` as the current record's key.
    @inlinable
    public mutating func setKey(_ range: Range<Int>) {
        entries[entries.count - 1].keyStart = Int32(range.lowerBound)
        entries[entries.count - 1].keyLength = Int32(range.count)
    }

    /// Marks `range` of `bytes` as the current record's value.
    @inlinable
    public mutating func setValue(_ range: Range<Int>) {
        entries[entries.count - 1].valueStart = Int32(range.lowerBound)
        entries[entries.count - 1].valueLength = Int32(range.count)
    }

    /// Adds a header to the current record whose name and value are ranges of `bytes`; a nil value is null.
    @inlinable
    public mutating func addHeader(name: Range<Int>, value: Range<Int>?) {
        headerEntries.append(
            HeaderEntry(
                nameStart: Int32(name.lowerBound),
                nameLength: Int32(name.count),
                valueStart: Int32(value?.lowerBound ?? 0),
                valueLength: Int32(value?.count ?? -1)
            )
        )
        entries[entries.count - 1].headerCount += 1
    }

    /// Appends `data` to the arena and returns where it lies.
    @inlinable
    @discardableResult
    public mutating func appendBytes(_ data: UnsafeRawBufferPointer) -> Range<Int> {
        let start = bytes.count
        bytes.append(contentsOf: data)
        return start..<bytes.count
    }

    /// Appends `data` to the arena and returns where it lies.
    @inlinable
    @discardableResult
    public mutating func appendBytes(_ data: some Collection<UInt8>) -> Range<Int> {
        let start = bytes.count
        bytes.append(contentsOf: data)
        return start..<bytes.count
    }

    /// Drops the current record and whatever it appended to the arena since `arenaMark`.
    @inlinable
    public mutating func abandonRecord(arenaMark: Int) {
        guard let last = entries.popLast() else { return }
        headerEntries.removeLast(headerEntries.count - Int(last.firstHeader))
        bytes.removeLast(bytes.count - arenaMark)
    }

    /// Appends a whole record.
    public mutating func append(_ record: Record) {
        beginRecord(timestamp: record.timestamp, offset: record.offset)
        if let key = record.key { setKey(appendBytes(key)) }
        if let value = record.value { setValue(appendBytes(value)) }
        for header in record.headers {
            let name = appendBytes(header.name.utf8)
            addHeader(name: name, value: header.value.map { appendBytes($0) })
        }
    }

    /// Appends record `index` of `other`, with its offset and timestamp.
    public mutating func append(from other: RecordBlock, at index: Int) {
        let entry = other.entries[index]
        beginRecord(timestamp: entry.timestamp, offset: entry.offset)
        if let key = other.key(index) { setKey(appendBytes(key)) }
        if let value = other.value(index) { setValue(appendBytes(value)) }
        for h in 0..<other.headerCount(index) {
            let (name, value) = other.header(index, h)
            let nameRange = appendBytes(name)
            addHeader(name: nameRange, value: value.map { appendBytes($0) })
        }
    }

    /// Records `range` of this block, sharing its arena and header table: nothing is copied.
    public func slice(_ range: Range<Int>) -> RecordBlock {
        RecordBlock(arena: bytes, entries: Array(entries[range]), headers: headerEntries)
    }

    /// Sets the stored offset of record `index`.
    public mutating func setOffset(_ offset: Int64, at index: Int) {
        entries[index].offset = offset
    }

    // MARK: Reading

    @inlinable
    public func key(_ index: Int) -> ArraySlice<UInt8>? {
        let e = entries[index]
        return e.keyLength < 0 ? nil : bytes[Int(e.keyStart)..<Int(e.keyStart + e.keyLength)]
    }

    @inlinable
    public func value(_ index: Int) -> ArraySlice<UInt8>? {
        let e = entries[index]
        return e.valueLength < 0 ? nil : bytes[Int(e.valueStart)..<Int(e.valueStart + e.valueLength)]
    }

    /// Where the key of record `index` lies in `bytes`, or nil when it is null.
    @inlinable
    public func keyRange(_ index: Int) -> Range<Int>? {
        let e = entries[index]
        return e.keyLength < 0 ? nil : Int(e.keyStart)..<Int(e.keyStart + e.keyLength)
    }

    /// Where the value of record `index` lies in `bytes`, or nil when it is null.
    @inlinable
    public func valueRange(_ index: Int) -> Range<Int>? {
        let e = entries[index]
        return e.valueLength < 0 ? nil : Int(e.valueStart)..<Int(e.valueStart + e.valueLength)
    }

    @inlinable
    public func headerCount(_ index: Int) -> Int {
        Int(entries[index].headerCount)
    }

    /// Header `h` of record `index`: its name's bytes and its value (nil when null).
    @inlinable
    public func header(_ index: Int, _ h: Int) -> (name: ArraySlice<UInt8>, value: ArraySlice<UInt8>?) {
        let (name, value) = headerRanges(index, h)
        return (bytes[name], value.map { bytes[$0] })
    }

    /// Where header `h` of record `index` lies in `bytes`.
    @inlinable
    public func headerRanges(_ index: Int, _ h: Int) -> (name: Range<Int>, value: Range<Int>?) {
        let entry = headerEntries[Int(entries[index].firstHeader) + h]
        let name = Int(entry.nameStart)..<Int(entry.nameStart + entry.nameLength)
        let value = entry.valueLength < 0 ? nil : Int(entry.valueStart)..<Int(entry.valueStart + entry.valueLength)
        return (name, value)
    }

    /// The value of the last header of record `index` named `name`.
    public func headerValue(_ index: Int, named name: String) -> ArraySlice<UInt8>? {
        let target = Array(name.utf8)
        var found: ArraySlice<UInt8>?
        for h in 0..<headerCount(index) {
            let header = header(index, h)
            if header.name.elementsEqual(target) { found = header.value }
        }
        return found
    }

    /// Record `index` copied out as a `Record`.
    public func record(_ index: Int) -> Record {
        Record(
            key: key(index).map(Array.init),
            value: value(index).map(Array.init),
            headers: (0..<headerCount(index)).map { h in
                let header = header(index, h)
                return Header(String(decoding: header.name, as: UTF8.self), header.value.map(Array.init))
            },
            timestamp: entries[index].timestamp,
            offset: entries[index].offset
        )
    }

    /// Every record copied out.
    public var records: [Record] { (0..<count).map(record) }

    /// The number of bytes the records' keys, values and headers occupy.
    public var payloadBytes: Int {
        var total = 0
        for e in entries { total += Int(max(e.keyLength, 0) + max(e.valueLength, 0)) }
        for h in headerEntries { total += Int(h.nameLength + max(h.valueLength, 0)) }
        return total
    }
}
