/// Writes the Kafka protocol's primitive types, big-endian, into a response body.
public struct WireWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    private mutating func integer<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func int8(_ value: Int8) { integer(value) }
    public mutating func int16(_ value: Int16) { integer(value) }
    public mutating func int32(_ value: Int32) { integer(value) }
    public mutating func int64(_ value: Int64) { integer(value) }
    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func uvarint(_ value: UInt32) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// STRING, or NULLABLE_STRING's -1 for nil.
    public mutating func string(_ text: String?) {
        guard let text else { return int16(-1) }
        let utf8 = Array(text.utf8.prefix(Int(Int16.max)))
        int16(Int16(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// COMPACT_STRING, or null for nil.
    public mutating func compactString(_ text: String?) {
        guard let text else { return uvarint(0) }
        let utf8 = Array(text.utf8)
        uvarint(UInt32(utf8.count + 1))
        bytes.append(contentsOf: utf8)
    }

    /// BYTES, or NULLABLE_BYTES' -1 for nil.
    public mutating func bytesValue(_ value: some Collection<UInt8>) {
        int32(Int32(value.count))
        bytes.append(contentsOf: value)
    }

    public mutating func nullBytes() { int32(-1) }

    /// An ARRAY: its count, then each item written by `item`.
    public mutating func array<C: Collection>(_ items: C, _ item: (inout WireWriter, C.Element) -> Void) {
        int32(Int32(items.count))
        for element in items { item(&self, element) }
    }

    /// An empty set of tagged fields (flexible versions).
    public mutating func noTaggedFields() { bytes.append(0) }

    public mutating func append(_ raw: some Collection<UInt8>) { bytes.append(contentsOf: raw) }
}
