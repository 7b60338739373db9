/// Zigzag varints, as Kafka's record format uses them (the protobuf encoding).
public enum Varint {
    /// The number of bytes the zigzag varint of `value` takes.
    @inlinable
    public static func size(_ value: Int64) -> Int {
        var v = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        var n = 1
        while v >= 0x80 {
            v >>= 7
            n += 1
        }
        return n
    }

    /// Appends the zigzag varint of `value`.
    @inlinable
    public static func append(_ value: Int64, to out: inout [UInt8]) {
        var v = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(truncatingIfNeeded: v))
    }
}

/// A bounds-checked reader over untrusted bytes: every read that would pass the end throws.
@usableFromInline
struct ByteReader {
    @usableFromInline let base: UnsafeRawPointer
    @usableFromInline let end: Int
    @usableFromInline var position: Int

    @usableFromInline
    init(_ bytes: UnsafeRawBufferPointer, from start: Int = 0, to end: Int? = nil) {
        base = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1).unsafelyUnwrapped
        self.end = end ?? bytes.count
        position = start
    }

    @usableFromInline
    mutating func varint() throws -> Int64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw LogError(.corrupt, "a varint runs past the end of its record") }
            let byte = base.load(fromByteOffset: position, as: UInt8.self)
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
            guard shift < 64 else { throw LogError(.corrupt, "a varint is longer than 10 bytes") }
        }
        return Int64(bitPattern: result >> 1) ^ -Int64(bitPattern: result & 1)
    }

    @usableFromInline
    mutating func byte() throws -> UInt8 {
        guard position < end else { throw LogError(.corrupt, "a record ends early") }
        defer { position += 1 }
        return base.load(fromByteOffset: position, as: UInt8.self)
    }

    /// Skips `length` bytes and returns where they lie; a length of -1 is null.
    @usableFromInline
    mutating func lengthPrefixed() throws -> Range<Int>? {
        let length = try varint()
        if length == -1 { return nil }
        guard length >= 0, length <= end - position else {
            throw LogError(.corrupt, "a length of \(length) bytes runs past the end of its record")
        }
        let start = position
        position += Int(length)
        return start..<position
    }
}

extension UnsafeRawBufferPointer {
    @inlinable
    func bigEndian<T: FixedWidthInteger>(at offset: Int, as type: T.Type) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inlinable
    func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }
}

extension Array where Element == UInt8 {
    @inlinable
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
