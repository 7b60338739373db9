/// The bytes of one fuzz input, consumed from the front: small choices first, data after.
/// Reading past the end gives zeros, so every input is usable.
public struct FuzzInput {
    public let bytes: [UInt8]
    public private(set) var position = 0

    public init(_ data: UnsafePointer<UInt8>?, _ size: Int) {
        bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    }

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var remaining: Int { bytes.count - position }

    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func bool() -> Bool { byte() & 1 == 1 }

    /// A little-endian integer of `T`'s size.
    public mutating func integer<T: FixedWidthInteger>(_ type: T.Type = T.self) -> T {
        var value: T = 0
        for k in 0..<(T.bitWidth / 8) { value |= T(truncatingIfNeeded: byte()) << (8 * k) }
        return value
    }

    /// One of `choices`, picked by one byte.
    public mutating func pick<T>(_ choices: [T]) -> T {
        choices[Int(byte()) % choices.count]
    }

    /// Up to `count` bytes.
    public mutating func take(_ count: Int) -> [UInt8] {
        let n = max(0, min(count, remaining))
        defer { position += n }
        return Array(bytes[position..<(position + n)])
    }

    /// Bytes up to the next `separator` (or the end), and the separator is skipped.
    public mutating func take(until separator: [UInt8]) -> [UInt8] {
        guard !separator.isEmpty else { return rest() }
        var i = position
        while i + separator.count <= bytes.count {
            if bytes[i..<(i + separator.count)].elementsEqual(separator) {
                defer { position = i + separator.count }
                return Array(bytes[position..<i])
            }
            i += 1
        }
        return rest()
    }

    /// Everything that is left.
    public mutating func rest() -> [UInt8] {
        take(remaining)
    }
}
