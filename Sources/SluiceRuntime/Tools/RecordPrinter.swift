import SluiceCore

/// Prints records of one topic in a `RecordFormat`, byte by byte into an output buffer: no `String`,
/// no Foundation and no allocation per record. Used by one thread (it keeps the last ISO 8601 second).
public struct RecordPrinter {
    /// How timestamps are printed, in `%T` and in the `timestamp` of `jsonl`.
    public enum TimestampStyle: String, CaseIterable, Sendable {
        /// Milliseconds since the epoch, as Kafka stores them and kcat prints them.
        case ms
        /// `2026-11-21T10:30:00.123Z`: UTC, with milliseconds (a JSON string in `jsonl`).
        case iso8601
    }

    public let format: RecordFormat
    public let timestampStyle: TimestampStyle
    private let topic: [UInt8]
    private let jsonTopic: [UInt8]
    /// The last second printed in ISO 8601 and its text up to the milliseconds (`2026-11-21T10:30:00.`).
    private var isoSecond: Int64?
    private var isoPrefix: [UInt8] = []

    public init(format: RecordFormat, topic: String, timestampStyle: TimestampStyle = .ms) {
        self.format = format
        self.timestampStyle = timestampStyle
        self.topic = Array(topic.utf8)
        var json: [UInt8] = []
        JSONWriter.appendString(topic, to: &json)
        jsonTopic = json
    }

    /// Appends record `index` of `block`, read from `partition`, to `out`.
    public mutating func append(_ block: RecordBlock, index: Int, partition: Int32, to out: inout [UInt8]) {
        let entry = block.entries[index]
        block.bytes.withUnsafeBytes { arena in
            func bytes(_ range: Range<Int>?) -> UnsafeRawBufferPointer? {
                range.map { UnsafeRawBufferPointer(rebasing: arena[$0]) }
            }
            for part in format.parts {
                switch part {
                case .text(let text): out.append(contentsOf: text)
                case .topic: out.append(contentsOf: topic)
                case .jsonTopic: out.append(contentsOf: jsonTopic)
                case .partition: JSONWriter.appendInteger(Int64(partition), to: &out)
                case .offset: JSONWriter.appendInteger(entry.offset, to: &out)
                case .timestamp: appendTimestamp(entry.timestamp, quoted: false, to: &out)
                case .jsonTimestamp: appendTimestamp(entry.timestamp, quoted: true, to: &out)
                case .key: bytes(block.keyRange(index)).map { out.append(contentsOf: $0) }
                case .jsonKey: RecordJSON.appendBytes(bytes(block.keyRange(index)), to: &out)
                case .keyLength: JSONWriter.appendInteger(Int64(entry.keyLength), to: &out)
                case .value: bytes(block.valueRange(index)).map { out.append(contentsOf: $0) }
                case .jsonValue: Self.appendJSONValue(bytes(block.valueRange(index)), to: &out)
                case .valueLength: JSONWriter.appendInteger(Int64(entry.valueLength), to: &out)
                case .valueLengthBinary:
                    let length = UInt32(bitPattern: entry.valueLength)
                    out.append(UInt8(truncatingIfNeeded: length >> 24))
                    out.append(UInt8(truncatingIfNeeded: length >> 16))
                    out.append(UInt8(truncatingIfNeeded: length >> 8))
                    out.append(UInt8(truncatingIfNeeded: length))
                case .headers:
                    for h in 0..<block.headerCount(index) {
                        if h > 0 { out.append(UInt8(ascii: ",")) }
                        let (name, value) = block.headerRanges(index, h)
                        out.append(contentsOf: arena[name])
                        out.append(UInt8(ascii: "="))
                        if let value {
                            out.append(contentsOf: arena[value])
                        } else {
                            out.append(contentsOf: "NULL".utf8)
                        }
                    }
                case .jsonHeaders:
                    out.append(UInt8(ascii: "{"))
                    for h in 0..<block.headerCount(index) {
                        if h > 0 { out.append(UInt8(ascii: ",")) }
                        let (name, value) = block.headerRanges(index, h)
                        JSONWriter.appendString(UnsafeRawBufferPointer(rebasing: arena[name]), to: &out)
                        out.append(UInt8(ascii: ":"))
                        RecordJSON.appendBytes(bytes(value), to: &out)
                    }
                    out.append(UInt8(ascii: "}"))
                }
            }
        }
    }

    /// Appends a value for a JSON document: a JSON object or array as it is (on one line), anything
    /// else as `RecordJSON.appendBytes` writes it (a string, `{"base64":…}` or `null`).
    ///
    /// Only objects and arrays are embedded, so that what is printed still tells every value apart: a
    /// value holding the text `null` or `"x"` stays a string, apart from a missing value and from `x`.
    static func appendJSONValue(_ bytes: UnsafeRawBufferPointer?, to out: inout [UInt8]) {
        guard let bytes, let first = bytes.first(where: { !isJSONSpace($0) }),
            first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
            UTF8Validator.isValid(bytes), JSONValidator.isValid(bytes)
        else {
            RecordJSON.appendBytes(bytes, to: &out)
            return
        }
        guard bytes.contains(0x0A) || bytes.contains(0x0D) else {
            out.append(contentsOf: bytes)
            return
        }
        // Line breaks can only stand between tokens (a JSON string holds none): leave out all white space
        // outside strings, so that the record stays on one line.
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
            } else if isJSONSpace(byte) {
                continue
            } else if byte == UInt8(ascii: "\"") {
                inString = true
            }
            out.append(byte)
        }
    }

    private static func isJSONSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }

    private mutating func appendTimestamp(_ millis: Int64, quoted: Bool, to out: inout [UInt8]) {
        guard timestampStyle == .iso8601 else {
            JSONWriter.appendInteger(millis, to: &out)
            return
        }
        // Records come in time order, mostly many a second: the date and time are formatted once a second.
        let second = millis / 1000 - (millis % 1000 < 0 ? 1 : 0)
        if second != isoSecond {
            isoSecond = second
            isoPrefix = Array(Timestamp.iso8601(millis: millis).utf8.dropLast(4))
        }
        let ms = Int(((millis % 1000) + 1000) % 1000)
        if quoted { out.append(UInt8(ascii: "\"")) }
        out.append(contentsOf: isoPrefix)
        out.append(UInt8(ascii: "0") + UInt8(ms / 100))
        out.append(UInt8(ascii: "0") + UInt8(ms / 10 % 10))
        out.append(UInt8(ascii: "0") + UInt8(ms % 10))
        out.append(UInt8(ascii: "Z"))
        if quoted { out.append(UInt8(ascii: "\"")) }
    }
}
