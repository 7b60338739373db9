#if canImport(Glibc)
    import Glibc
#endif

/// A buffered writer to a file descriptor (standard output by default), for printing many lines fast.
/// Not thread-safe; flushes when its buffer fills and on `flush()`.
public final class BufferedOutput {
    public let descriptor: Int32
    public var buffer: [UInt8] = []
    public let capacity: Int

    public init(descriptor: Int32 = 1, capacity: Int = 1 << 20) {
        self.descriptor = descriptor
        self.capacity = capacity
        buffer.reserveCapacity(capacity)
    }

    deinit {
        try? flush()
    }

    /// Writes the buffer out when it is full.
    @inlinable
    public func flushIfFull() throws {
        if buffer.count >= capacity { try flush() }
    }

    public func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        try flushIfFull()
    }

    /// Writes everything buffered.
    public func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { raw in
                raw.baseAddress.map { Glibc.write(descriptor, $0 + done, raw.count - done) } ?? 0
            }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                buffer.removeAll(keepingCapacity: true)
                throw CoreError.system(
                    "cannot write", path: descriptor == 1 ? "standard output" : "fd \(descriptor)", errno: code)
            }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
