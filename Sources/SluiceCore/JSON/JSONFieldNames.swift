#if canImport(Glibc)
    import Glibc
#endif

/// A fixed list of field names, laid out in one array, that JSON object members are matched against by
/// their key (escapes undone): the columns of a CSV file being written, the columns of a COPY. Matching
/// costs no allocation for keys without escapes and no reference counting.
public struct JSONFieldNames: Sendable {
    private let storage: [UInt8]
    private let ranges: [Range<Int>]

    public init(_ names: [[UInt8]]) {
        var storage: [UInt8] = []
        var ranges: [Range<Int>] = []
        for name in names {
            let start = storage.count
            storage.append(contentsOf: name)
            ranges.append(start..<storage.count)
        }
        self.storage = storage
        self.ranges = ranges
    }

    public var count: Int { ranges.count }

    /// The index of the name `member`'s key spells, or -1. `hint` (usually one past the previous match,
    /// as records list their fields in one order) is tried first.
    public func index(of member: JSONObjectScanner.Member, in value: UnsafeRawBufferPointer, hint: Int) -> Int {
        guard member.keyEscaped else {
            return index(of: UnsafeRawBufferPointer(rebasing: value[member.key]), hint: hint)
        }
        var unescaped: [UInt8] = []
        JSONObjectScanner.appendUnescaped(value, member.key, to: &unescaped)
        return unescaped.withUnsafeBytes { index(of: $0, hint: hint) }
    }

    /// The index of `key`, or -1.
    public func index(of key: UnsafeRawBufferPointer, hint: Int) -> Int {
        storage.withUnsafeBytes { names in
            ranges.withUnsafeBufferPointer { ranges in
                func matches(_ index: Int) -> Bool {
                    let range = ranges[index]
                    guard range.count == key.count else { return false }
                    guard let a = names.baseAddress, let b = key.baseAddress else { return range.isEmpty }
                    return memcmp(a + range.lowerBound, b, range.count) == 0
                }
                if hint >= 0 && hint < ranges.count && matches(hint) { return hint }
                for index in 0..<ranges.count where matches(index) { return index }
                return -1
            }
        }
    }
}
