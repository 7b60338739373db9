import SluiceCore

/// A batch of records as the protocol carries it: groups of records, each for one topic partition
/// (sink side) or of one kind (source side: records, or dead letters), and the source's position after
/// them.
///
/// The binary body is columnar, little-endian, so that a script decodes a batch with a few array
/// reads and Swift without a copy:
///
///     u32 flags (0)  u64 batch  u32 position length, position (UTF-8)  u32 group count
///     per group: u16 topic length, topic  i32 partition  u8 kind (0 records, 1 dead letters)  u32 n
///                i64[n] offsets  i64[n] timestamps  i32[n] key lengths (-1 null)
///                i32[n] value lengths (-1 null)  u32[n] header block lengths
///                the keys, the values, the header blocks, each run end to end
///     header block: u16 count; per header u16 name length, name, i32 value length (-1 null), value
public struct RecordsFrame: Sendable {
    public struct Group: Sendable {
        /// The topic (sinks); empty from sources.
        public var topic: String
        /// The partition (sinks); -1 from sources.
        public var partition: Int32
        /// From sources: the records are dead letters (input the source could not turn into records).
        public var deadLetters: Bool
        public var records: RecordBlock

        public init(topic: String = "", partition: Int32 = -1, deadLetters: Bool = false, records: RecordBlock) {
            self.topic = topic
            self.partition = partition
            self.deadLetters = deadLetters
            self.records = records
        }
    }

    public var batch: UInt64
    /// The source's position after these records (sources); empty for sinks.
    public var position: [UInt8]
    public var groups: [Group]

    public init(batch: UInt64, position: [UInt8] = [], groups: [Group]) {
        self.batch = batch
        self.position = position
        self.groups = groups
    }

    /// Records and dead letters in all groups.
    public var count: Int { groups.reduce(0) { $0 + $1.records.count } }

    // MARK: Binary

    /// Appends the binary body of a frame holding `groups` to `out`.
    public static func encode(
        batch: UInt64, position: some Collection<UInt8>, groups: [Group], to out: inout [UInt8]
    ) {
        var bytes = 4 + 8 + 4 + position.count + 4
        for group in groups {
            bytes += 2 + group.topic.utf8.count + 4 + 1 + 4 + group.records.count * 28 + group.records.payloadBytes
        }
        out.reserveCapacity(out.count + bytes)
        append(UInt32(0), to: &out)
        append(batch, to: &out)
        append(UInt32(position.count), to: &out)
        out.append(contentsOf: position)
        append(UInt32(groups.count), to: &out)
        for group in groups {
            append(UInt16(clamping: group.topic.utf8.count), to: &out)  // topic names are short
            out.append(contentsOf: group.topic.utf8)
            append(UInt32(bitPattern: group.partition), to: &out)
            out.append(group.deadLetters ? 1 : 0)
            let block = group.records
            let entries = block.entries
            let n = entries.count
            append(UInt32(n), to: &out)
            // The five columns, stored in place: one pass, no append per value.
            let columns = out.count
            out.append(contentsOf: repeatElement(0, count: n * 28))
            out.withUnsafeMutableBytes { raw in
                for (i, entry) in entries.enumerated() {
                    raw.storeBytes(of: entry.offset.littleEndian, toByteOffset: columns + i * 8, as: Int64.self)
                    raw.storeBytes(
                        of: entry.timestamp.littleEndian, toByteOffset: columns + n * 8 + i * 8, as: Int64.self)
                    raw.storeBytes(
                        of: entry.keyLength.littleEndian, toByteOffset: columns + n * 16 + i * 4, as: Int32.self)
                    raw.storeBytes(
                        of: entry.valueLength.littleEndian, toByteOffset: columns + n * 20 + i * 4, as: Int32.self)
                    let headers = entry.headerCount > 0 ? UInt32(headerBlockBytes(block, i)) : 0
                    raw.storeBytes(of: headers.littleEndian, toByteOffset: columns + n * 24 + i * 4, as: UInt32.self)
                }
            }
            block.bytes.withUnsafeBufferPointer { arena in
                for entry in entries where entry.keyLength > 0 {
                    let start = Int(entry.keyStart)
                    out.append(contentsOf: arena[start..<(start + Int(entry.keyLength))])
                }
                for entry in entries where entry.valueLength > 0 {
                    let start = Int(entry.valueStart)
                    out.append(contentsOf: arena[start..<(start + Int(entry.valueLength))])
                }
            }
            for index in entries.indices where entries[index].headerCount > 0 {
                appendHeaderBlock(block, index, to: &out)
            }
        }
    }

    /// Whether a header block can carry header `h` of record `index`: names of at most 65,535 bytes
    /// (Kafka allows longer; no connector needs them), and at most 65,535 headers, the first ones.
    private static func encodable(_ block: RecordBlock, _ index: Int, _ h: Int) -> Bool {
        h < 0xFFFF && block.headerRanges(index, h).name.count <= 0xFFFF
    }

    private static func headerBlockBytes(_ block: RecordBlock, _ index: Int) -> Int {
        var bytes = 2
        for h in 0..<block.headerCount(index) where encodable(block, index, h) {
            let (name, value) = block.headerRanges(index, h)
            bytes += 2 + name.count + 4 + (value?.count ?? 0)
        }
        return bytes
    }

    private static func appendHeaderBlock(_ block: RecordBlock, _ index: Int, to out: inout [UInt8]) {
        let count = (0..<block.headerCount(index)).reduce(0) { $0 + (encodable(block, index, $1) ? 1 : 0) }
        append(UInt16(count), to: &out)
        for h in 0..<block.headerCount(index) where encodable(block, index, h) {
            let (name, value) = block.headerRanges(index, h)
            append(UInt16(name.count), to: &out)
            out.append(contentsOf: block.bytes[name])
            append(UInt32(bitPattern: Int32(value?.count ?? -1)), to: &out)
            if let value { out.append(contentsOf: block.bytes[value]) }
        }
    }

    @inline(__always)
    static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    /// Decodes a binary body. The groups' record blocks share `body` as their arena: nothing is copied.
    public static func decode(_ body: [UInt8]) throws(ExternalProtocolError) -> RecordsFrame {
        var reader = ByteReader(body)
        _ = try reader.u32("flags")
        let batch = try reader.u64("batch number")
        let positionLength = Int(try reader.u32("position length"))
        let position = Array(try reader.bytes(positionLength, "position"))
        let groupCount = Int(try reader.u32("group count"))
        guard groupCount <= body.count else {
            throw ExternalProtocolError("a records frame claims \(groupCount) groups")
        }
        var groups: [Group] = []
        for g in 0..<groupCount {
            let topicLength = Int(try reader.u16("topic length"))
            let topic = String(decoding: try reader.bytes(topicLength, "topic"), as: UTF8.self)
            let partition = Int32(bitPattern: try reader.u32("partition"))
            let kind = try reader.u8("group kind")
            guard kind <= 1 else {
                throw ExternalProtocolError("group \(g) of a records frame has unknown kind \(kind)")
            }
            let n = Int(try reader.u32("record count"))
            guard n <= (body.count - reader.offset) / 28 else {
                throw ExternalProtocolError(
                    "group \(g) of a records frame claims \(n) records, more than its bytes hold")
            }
            var entries = [RecordBlock.Entry](
                repeating: RecordBlock.Entry(offset: 0, timestamp: 0, firstHeader: 0), count: n)
            let columns = reader.offset
            let problem: String? = body.withUnsafeBytes { raw -> String? in
                func load<T: FixedWidthInteger>(_ column: Int, _ i: Int, _: T.Type) -> T {
                    T(
                        littleEndian: raw.loadUnaligned(
                            fromByteOffset: columns + column + i * MemoryLayout<T>.size, as: T.self))
                }
                var keyBytes = 0
                var valueBytes = 0
                var headerBytes = 0
                for i in 0..<n {
                    entries[i].offset = load(0, i, Int64.self)
                    entries[i].timestamp = load(n * 8, i, Int64.self)
                    let keyLength = load(n * 16, i, Int32.self)
                    let valueLength = load(n * 20, i, Int32.self)
                    let headerLength = load(n * 24, i, UInt32.self)
                    guard keyLength >= -1, valueLength >= -1 else {
                        return "record \(i) of group \(g) has a negative length"
                    }
                    guard headerLength <= UInt32(body.count) else {
                        return "record \(i) of group \(g) has a header block longer than the frame"
                    }
                    entries[i].keyLength = keyLength
                    entries[i].valueLength = valueLength
                    // For now the header block's length; the header table's index once the blocks are read.
                    entries[i].firstHeader = Int32(truncatingIfNeeded: headerLength)
                    keyBytes += Int(max(0, keyLength))
                    valueBytes += Int(max(0, valueLength))
                    headerBytes += Int(headerLength)
                }
                guard keyBytes + valueBytes + headerBytes <= body.count - (columns + n * 28) else {
                    return "group \(g) of a records frame is shorter than its lengths say"
                }
                return nil
            }
            if let problem { throw ExternalProtocolError(problem) }
            reader.offset = columns + n * 28
            var keyAt = reader.offset
            var valueAt = keyAt + entries.reduce(0) { $0 + Int(max(0, $1.keyLength)) }
            var headerAt = valueAt + entries.reduce(0) { $0 + Int(max(0, $1.valueLength)) }
            var headers: [RecordBlock.HeaderEntry] = []
            for i in 0..<n {
                if entries[i].keyLength >= 0 {
                    entries[i].keyStart = Int32(keyAt)
                    keyAt += Int(entries[i].keyLength)
                }
                if entries[i].valueLength >= 0 {
                    entries[i].valueStart = Int32(valueAt)
                    valueAt += Int(entries[i].valueLength)
                }
                let blockLength = Int(entries[i].firstHeader)
                entries[i].firstHeader = Int32(headers.count)
                if blockLength > 0 {
                    var headerReader = ByteReader(body, from: headerAt, to: headerAt + blockLength)
                    let count = Int(try headerReader.u16("header count"))
                    for _ in 0..<count {
                        let nameLength = Int(try headerReader.u16("header name length"))
                        let nameStart = headerReader.offset
                        _ = try headerReader.bytes(nameLength, "header name")
                        let valueLength = Int32(bitPattern: try headerReader.u32("header value length"))
                        guard valueLength >= -1 else {
                            throw ExternalProtocolError("a header value has a negative length")
                        }
                        let valueStart = headerReader.offset
                        _ = try headerReader.bytes(Int(max(0, valueLength)), "header value")
                        headers.append(
                            RecordBlock.HeaderEntry(
                                nameStart: Int32(nameStart), nameLength: Int32(nameLength),
                                valueStart: Int32(valueStart),
                                valueLength: valueLength))
                    }
                    guard headerReader.offset == headerAt + blockLength else {
                        throw ExternalProtocolError(
                            "record \(i) of group \(g) has a header block longer than its headers")
                    }
                    entries[i].headerCount = Int32(count)
                    headerAt += blockLength
                }
            }
            reader.offset = headerAt
            groups.append(
                Group(
                    topic: topic, partition: partition, deadLetters: kind == 1,
                    records: RecordBlock(arena: body, entries: entries, headers: headers)))
        }
        guard reader.offset == body.count else {
            throw ExternalProtocolError("a records frame has \(body.count - reader.offset) bytes after its last group")
        }
        return RecordsFrame(batch: batch, position: position, groups: groups)
    }

    // MARK: JSON lines

    /// The JSON-lines form of a batch for a sink: every record with its topic, partition and offset.
    /// Keys and values are strings when they are UTF-8 (`key_base64`, `value_base64` otherwise).
    public func json() -> JSONValue {
        var records: [JSONValue] = []
        for group in groups {
            let block = group.records
            for i in 0..<block.count {
                var members: [(key: String, value: JSONValue)] = []
                if !group.topic.isEmpty {
                    members += [("topic", .string(group.topic)), ("partition", .int(group.partition))]
                }
                members.append(("offset", .int(block.entries[i].offset)))
                members.append(("timestamp", .int(block.entries[i].timestamp)))
                members += Self.bytesMember("key", block.key(i))
                members += Self.bytesMember("value", block.value(i))
                let count = block.headerCount(i)
                if count > 0 {
                    members.append(
                        (
                            "headers",
                            .object(
                                (0..<count).map { h in
                                    let (name, value) = block.header(i, h)
                                    return (
                                        String(decoding: name, as: UTF8.self),
                                        value.map { .string(String(decoding: $0, as: UTF8.self)) } ?? .null
                                    )
                                })
                        ))
                }
                records.append(.object(members))
            }
        }
        return .message("records", [("batch", .int(batch)), ("records", .array(records))])
    }

    private static func bytesMember(_ name: String, _ bytes: ArraySlice<UInt8>?) -> [(key: String, value: JSONValue)] {
        guard let bytes else { return [(name, .null)] }
        if UTF8Validator.isValid(bytes) { return [(name, .string(String(decoding: bytes, as: UTF8.self)))] }
        return [(name + "_base64", .string(Base64.encode(bytes)))]
    }

    /// Reads the JSON-lines form of a batch from a source: `{"type": "records", "position": "…",
    /// "records": [{"key": …, "value": …, "headers": {…}}, …]}`. A value that is not a string is stored
    /// as its JSON text; null is no value. A record with an `"error"` is a dead letter: its `value` is the
    /// input the source could not use, and the error says why.
    public init(json: JSONValue) throws(ExternalProtocolError) {
        batch = UInt64(json["batch"]?.integerValue ?? 0)
        switch json["position"] {
        case nil, .null?: position = []
        case .string(let text)?: position = Array(text.utf8)
        case let other?: position = Array(other.serialized().utf8)
        }
        guard case .array(let items)? = json["records"] else {
            throw ExternalProtocolError("a records message without a \"records\" list")
        }
        groups = []
        for (i, item) in items.enumerated() {
            guard case .object = item else { throw ExternalProtocolError("records[\(i)] is not an object") }
            let deadLetter = item["error"] != nil
            if groups.last?.deadLetters != deadLetter {
                groups.append(
                    Group(
                        topic: item["topic"]?.stringValue ?? "",
                        partition: Int32(item["partition"]?.integerValue ?? -1),
                        deadLetters: deadLetter, records: RecordBlock()))
            }
            var block = groups[groups.count - 1].records
            groups[groups.count - 1].records = RecordBlock()
            block.beginRecord(
                timestamp: item["timestamp"]?.integerValue ?? -1, offset: item["offset"]?.integerValue ?? -1)
            if let key = try Self.bytes(item, "key", i) { block.setKey(block.appendBytes(key)) }
            if let value = try Self.bytes(item, "value", i) { block.setValue(block.appendBytes(value)) }
            if case .object(let headers)? = item["headers"] {
                for (name, value) in headers {
                    let nameRange = block.appendBytes(name.utf8)
                    switch value {
                    case .null: block.addHeader(name: nameRange, value: nil)
                    case .string(let text): block.addHeader(name: nameRange, value: block.appendBytes(text.utf8))
                    default: block.addHeader(name: nameRange, value: block.appendBytes(value.serialized().utf8))
                    }
                }
            } else if item["headers"] != nil {
                throw ExternalProtocolError("records[\(i)].headers is not an object")
            }
            if let error = item["error"] {
                let message = error.stringValue ?? error.serialized()
                DeadLetter.addHeader(&block, SluiceHeader.errorMessage, message)
            }
            groups[groups.count - 1].records = block
        }
    }

    private static func bytes(_ item: JSONValue, _ name: String, _ i: Int) throws(ExternalProtocolError) -> [UInt8]? {
        if let encoded = item[name + "_base64"] {
            guard let text = encoded.stringValue, let bytes = Base64.decode(text) else {
                throw ExternalProtocolError("records[\(i)].\(name)_base64 is not base64")
            }
            return bytes
        }
        switch item[name] {
        case nil, .null?: return nil
        case .string(let text)?: return Array(text.utf8)
        case let other?: return Array(other.serialized().utf8)
        }
    }
}

/// Reads little-endian integers and byte runs from a body, with bounds checks that name what was cut.
struct ByteReader {
    let body: [UInt8]
    var offset: Int
    let end: Int

    init(_ body: [UInt8], from: Int = 0, to end: Int? = nil) {
        self.body = body
        offset = from
        self.end = end ?? body.count
    }

    private mutating func take(_ count: Int, _ what: String) throws(ExternalProtocolError) -> Int {
        guard count >= 0, end - offset >= count else {
            throw ExternalProtocolError("a records frame ends inside its \(what)")
        }
        defer { offset += count }
        return offset
    }

    mutating func u8(_ what: String) throws(ExternalProtocolError) -> UInt8 { body[try take(1, what)] }

    mutating func u16(_ what: String) throws(ExternalProtocolError) -> UInt16 {
        let at = try take(2, what)
        return UInt16(body[at]) | UInt16(body[at + 1]) << 8
    }

    mutating func u32(_ what: String) throws(ExternalProtocolError) -> UInt32 {
        let at = try take(4, what)
        return body.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    }

    mutating func u64(_ what: String) throws(ExternalProtocolError) -> UInt64 {
        let at = try take(8, what)
        return body.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
    }

    mutating func bytes(_ count: Int, _ what: String) throws(ExternalProtocolError) -> ArraySlice<UInt8> {
        let at = try take(count, what)
        return body[at..<(at + count)]
    }
}
