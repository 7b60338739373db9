/// Reads the Kafka protocol's primitive types, big-endian, from a request body. Every read checks the
/// bytes left: a short or malformed request throws `WireError`, never reads past its end.
public struct WireReader {
    private let bytes: [UInt8]
    public private(set) var position: Int

    public init(_ bytes: [UInt8], at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var remaining: Int { bytes.count - position }

    private mutating func take(_ count: Int) throws(WireError) -> Int {
        guard count >= 0, count <= remaining else {
            throw WireError("the request ends early: \(count) bytes wanted at byte \(position), \(remaining) left")
        }
        defer { position += count }
        return position
    }

    private mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(WireError) -> T {
        let at = try take(MemoryLayout<T>.size)
        var value: T = 0
        for index in 0..<MemoryLayout<T>.size { value = value << 8 | T(truncatingIfNeeded: bytes[at + index]) }
        return value
    }

    public mutating func int8() throws(WireError) -> Int8 { try integer(Int8.self) }
    public mutating func int16() throws(WireError) -> Int16 { try integer(Int16.self) }
    public mutating func int32() throws(WireError) -> Int32 { try integer(Int32.self) }
    public mutating func int64() throws(WireError) -> Int64 { try integer(Int64.self) }
    public mutating func bool() throws(WireError) -> Bool { try int8() != 0 }

    /// An unsigned varint, as flexible versions count lengths.
    public mutating func uvarint() throws(WireError) -> UInt32 {
        var value: UInt32 = 0
        var shift: UInt32 = 0
        while true {
            let byte = bytes[try take(1)]
            value |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            if shift > 28 { throw WireError("a varint longer than 5 bytes at byte \(position)") }
        }
    }

    /// A STRING (int16 length), nil for NULLABLE_STRING's -1.
    public mutating func nullableString() throws(WireError) -> String? {
        let length = Int(try int16())
        if length < 0 { return nil }
        let at = try take(length)
        return String(decoding: bytes[at..<at + length], as: UTF8.self)
    }

    public mutating func string() throws(WireError) -> String {
        guard let text = try nullableString() else { throw WireError("a null string where one is required") }
        return text
    }

    /// A COMPACT_STRING (uvarint length + 1), nil for null.
    public mutating func compactNullableString() throws(WireError) -> String? {
        let length = Int(try uvarint()) - 1
        if length < 0 { return nil }
        let at = try take(length)
        return String(decoding: bytes[at..<at + length], as: UTF8.self)
    }

    /// BYTES (int32 length), nil for NULLABLE_BYTES' -1.
    public mutating func nullableBytes() throws(WireError) -> ArraySlice<UInt8>? {
        let length = Int(try int32())
        if length < 0 { return nil }
        let at = try take(length)
        return bytes[at..<at + length]
    }

    public mutating func bytesValue() throws(WireError) -> ArraySlice<UInt8> {
        try nullableBytes() ?? []
    }

    /// An ARRAY's count (int32), nil for a null array; a count larger than the bytes left could hold is
    /// refused before anything is allocated for it.
    public mutating func arrayCount(minimumItemSize: Int = 1) throws(WireError) -> Int? {
        let count = Int(try int32())
        if count < 0 { return nil }
        guard count <= remaining / max(1, minimumItemSize) else {
            throw WireError("an array of \(count) items in \(remaining) bytes")
        }
        return count
    }

    /// Reads `count` items of an array with `item`; an empty list for a null array.
    public mutating func array<T>(minimumItemSize: Int = 1, _ item: (inout WireReader) throws(WireError) -> T)
        throws(WireError) -> [T]
    {
        let count = try arrayCount(minimumItemSize: minimumItemSize) ?? 0
        var items: [T] = []
        items.reserveCapacity(count)
        for _ in 0..<count { items.append(try item(&self)) }
        return items
    }

    /// Skips a flexible version's tagged fields.
    public mutating func skipTaggedFields() throws(WireError) {
        let count = try uvarint()
        for _ in 0..<count {
            _ = try uvarint()
            let size = Int(try uvarint())
            _ = try take(size)
        }
    }
}

/// A request the codec cannot read.
public struct WireError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
