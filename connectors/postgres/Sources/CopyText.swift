/// COPY text being built: `bytes[..<count]` holds whole rows, the rest of `bytes` is room to write the
/// next ones into. An encoder asks for room for a row's worst case once (`write(atMost:_:)`) and
/// writes through a pointer, instead of growing an array a field at a time. The streaming load hands
/// the rows to libpq every `PostgresSink.streamStep` bytes and starts over (`removeAll()`), so the room
/// stays near that size whatever the batch. A value type, used by one thread.
struct CopyText {
    private(set) var bytes: [UInt8]
    /// How many bytes of `bytes` hold rows.
    private(set) var count = 0

    init(capacity: Int = 0) {
        bytes = [UInt8](repeating: 0, count: capacity)
    }

    var isEmpty: Bool { count == 0 }

    /// Lets `body` write at most `bound` bytes after the rows; it returns how many it wrote.
    mutating func write(atMost bound: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        if bytes.count - count < bound { bytes += repeatElement(0, count: max(bound, bytes.count)) }
        let start = count
        let written = bytes.withUnsafeMutableBufferPointer { buffer in
            // The room was made above, so the buffer has a base address.
            guard let base = buffer.baseAddress else { return 0 }
            return body(base + start)
        }
        precondition(written <= bound, "a COPY row outgrew the room it asked for")
        count += written
    }

    /// Appends bytes as they are.
    mutating func append(_ data: UnsafeRawBufferPointer) {
        write(atMost: data.count) { out in
            guard let source = data.baseAddress else { return 0 }
            out.update(from: source.assumingMemoryBound(to: UInt8.self), count: data.count)
            return data.count
        }
    }

    /// Forgets the rows from `position` on (a row that turned out not to be one).
    mutating func removeSuffix(from position: Int) {
        precondition(position >= 0 && position <= count)
        count = position
    }

    /// Forgets every row, keeping the room.
    mutating func removeAll() { count = 0 }

    /// Calls `body` with the rows from `start` on.
    func withRows<Result>(from start: Int = 0, _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<count])) }
    }

    /// The rows as an array of their own.
    var array: [UInt8] { Array(bytes[..<count]) }
}
