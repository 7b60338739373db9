import SluiceCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads and writes protocol messages over two file descriptors (a pipe each way), with blocking
/// system calls: it runs on the connector's own threads, never on Swift's cooperative pool.
///
/// Reading and writing are independent: one thread may read while another writes. Writes are
/// serialized by a lock, so that acknowledgements sent from another thread never cut into a frame.
public final class FrameChannel: @unchecked Sendable {
    public let input: Int32
    public let output: Int32
    public private(set) var framing: ExternalProtocol.Framing = .binary
    private var buffer: [UInt8] = []
    private var start = 0
    private let writeLock = Locked(())
    /// Bytes read, for progress.
    public private(set) var bytesRead = 0

    var hasBuffered: Bool { start < buffer.count }

    public init(input: Int32, output: Int32) {
        self.input = input
        self.output = output
        buffer.reserveCapacity(1 << 16)
    }

    /// Switches both directions to `framing`, after the hello line.
    public func use(_ framing: ExternalProtocol.Framing) {
        self.framing = framing
    }

    // MARK: Reading

    /// The next line (without its line end), for the hello and the JSON-lines framing. `limit` bounds it.
    /// With `timeoutMillis`, a line not complete by then is an error (a hello cut short must not hang).
    public func readLine(limit: Int = ExternalProtocol.maxFrameBytes, timeoutMillis: Int? = nil)
        throws(ExternalProtocolError) -> [UInt8]
    {
        let deadline = timeoutMillis.map { Time.monotonicNanos() + UInt64(max(0, $0)) * 1_000_000 }
        var scanned = 0  // bytes after `start` known to hold no line end (`fill` may move `start`)
        while true {
            if let newline = buffer[(start + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[start..<newline])
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                start = newline + 1
                return line
            }
            scanned = buffer.count - start
            if buffer.count - start > limit {
                throw ExternalProtocolError("a line longer than \(limit) bytes")
            }
            if let deadline {
                let left = Int((Int64(deadline) - Int64(Time.monotonicNanos())) / 1_000_000)
                guard left > 0, waitReadable(timeoutMillis: left, countingBuffered: false) else {
                    throw ExternalProtocolError("the line was not finished within \((timeoutMillis ?? 0) / 1000) s")
                }
            }
            guard try fill() else {
                if buffer.count > start { throw ExternalProtocolError("the output ended inside a line", closed: true) }
                throw ExternalProtocolError("the connector closed its output", closed: true)
            }
        }
    }

    /// The next binary frame: its kind and body.
    public func readFrame() throws(ExternalProtocolError) -> (kind: UInt8, body: [UInt8]) {
        try need(4)
        let length = Int(
            UInt32(buffer[start]) | UInt32(buffer[start + 1]) << 8 | UInt32(buffer[start + 2]) << 16
                | UInt32(buffer[start + 3]) << 24)
        guard length >= 1 && length <= ExternalProtocol.maxFrameBytes else {
            throw ExternalProtocolError(
                length == 0
                    ? "a frame of length 0 (every frame has at least its kind byte)"
                    : "a frame of \(length) bytes, over the limit of \(ExternalProtocol.maxFrameBytes)")
        }
        try need(4 + length)
        let kind = buffer[start + 4]
        let body = Array(buffer[(start + 5)..<(start + 4 + length)])
        start += 4 + length
        return (kind, body)
    }

    /// The next message in the channel's framing.
    public func receive() throws(ExternalProtocolError) -> ExternalMessage {
        switch framing {
        case .binary:
            let (kind, body) = try readFrame()
            switch ExternalProtocol.FrameKind(rawValue: kind) {
            case .control: return .control(try Self.parseControl(body))
            case .records: return .records(try RecordsFrame.decode(body))
            case nil: throw ExternalProtocolError("a frame of unknown kind \(kind)")
            }
        case .jsonl:
            let line = try readLine()
            let value = try Self.parseControl(line)
            if value["type"]?.stringValue == "records" { return .records(try RecordsFrame(json: value)) }
            return .control(value)
        }
    }

    static func parseControl(_ bytes: [UInt8]) throws(ExternalProtocolError) -> JSONValue {
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes)
        } catch {
            let text = String(decoding: bytes.prefix(200), as: UTF8.self)
            throw ExternalProtocolError("a control message that is not JSON (\(error)): \(text)")
        }
        guard case .object = value, value["type"]?.stringValue != nil else {
            throw ExternalProtocolError("a control message without a \"type\": \(value.serialized().prefix(200))")
        }
        return value
    }

    /// Makes sure `count` bytes from `start` are buffered.
    private func need(_ count: Int) throws(ExternalProtocolError) {
        while buffer.count - start < count {
            if start > 0 && buffer.count - start < count && start >= buffer.count / 2 {
                buffer.removeSubrange(0..<start)
                start = 0
            }
            guard try fill(wanting: count - (buffer.count - start)) else {
                if buffer.count > start { throw ExternalProtocolError("the output ended inside a frame", closed: true) }
                throw ExternalProtocolError("the connector closed its output", closed: true)
            }
        }
    }

    /// Reads what is there (at least one byte); false at the end of the input.
    private func fill(wanting: Int = 0) throws(ExternalProtocolError) -> Bool {
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        let chunk = max(1 << 16, min(wanting, 8 << 20))
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunk))
        var got = 0
        while true {
            got = buffer.withUnsafeMutableBytes { raw in
                read(input, UnsafeMutableRawBufferPointer(rebasing: raw[old...]).baseAddress, chunk)
            }
            if got >= 0 || errno != EINTR { break }
        }
        if got < 0 {
            let reason = String(cString: strerror(errno))
            buffer.removeSubrange(old...)
            throw ExternalProtocolError("cannot read from the connector: \(reason)", closed: true)
        }
        buffer.removeSubrange((old + got)...)
        bytesRead += got
        return got > 0
    }

    // MARK: Writing

    /// Sends a control message.
    public func send(_ message: JSONValue) throws(ExternalProtocolError) {
        var out: [UInt8] = []
        message.write(to: &out)
        switch framing {
        case .binary: try sendFrame(kind: .control, body: out)
        case .jsonl:
            out.append(UInt8(ascii: "\n"))
            try write(out)
        }
    }

    /// Sends a records frame whose body `encode` appends (in the JSON-lines framing, `json` makes the
    /// line instead).
    public func sendRecords(
        _ encode: (inout [UInt8]) -> Void, json: () -> JSONValue
    ) throws(ExternalProtocolError) {
        switch framing {
        case .binary:
            var out = [UInt8](repeating: 0, count: 5)
            encode(&out)
            try finishFrame(&out, kind: .records)
        case .jsonl:
            var out: [UInt8] = []
            json().write(to: &out)
            out.append(UInt8(ascii: "\n"))
            try write(out)
        }
    }

    /// Sends one line as it is (the hello), with its line end.
    public func sendLine(_ message: JSONValue) throws(ExternalProtocolError) {
        var out: [UInt8] = []
        message.write(to: &out)
        out.append(UInt8(ascii: "\n"))
        try write(out)
    }

    /// Sends bytes as they are: for tests that send malformed frames on purpose.
    public func sendRaw(_ bytes: [UInt8]) throws(ExternalProtocolError) {
        try write(bytes)
    }

    private func sendFrame(kind: ExternalProtocol.FrameKind, body: [UInt8]) throws(ExternalProtocolError) {
        var out = [UInt8](repeating: 0, count: 5)
        out.append(contentsOf: body)
        try finishFrame(&out, kind: kind)
    }

    /// Fills in the length and kind of a frame whose body follows five reserved bytes, and sends it.
    private func finishFrame(_ out: inout [UInt8], kind: ExternalProtocol.FrameKind) throws(ExternalProtocolError) {
        let length = UInt32(out.count - 4)
        out[0] = UInt8(truncatingIfNeeded: length)
        out[1] = UInt8(truncatingIfNeeded: length >> 8)
        out[2] = UInt8(truncatingIfNeeded: length >> 16)
        out[3] = UInt8(truncatingIfNeeded: length >> 24)
        out[4] = kind.rawValue
        try write(out)
    }

    private func write(_ bytes: [UInt8]) throws(ExternalProtocolError) {
        let failure: String? = writeLock.withLock { _ in
            bytes.withUnsafeBytes { raw -> String? in
                var done = 0
                while done < raw.count {
                    let rest = UnsafeRawBufferPointer(rebasing: raw[done...])
                    let wrote = Glibc.write(output, rest.baseAddress, rest.count)
                    if wrote < 0 {
                        if errno == EINTR { continue }
                        return errno == EPIPE ? "" : String(cString: strerror(errno))
                    }
                    done += wrote
                }
                return nil
            }
        }
        if let failure {
            throw ExternalProtocolError(
                failure.isEmpty ? "the connector closed its input" : "cannot write to the connector: \(failure)",
                closed: true)
        }
    }
}

extension FrameChannel {
    /// Whether something can be read within `timeoutMillis` (buffered already, unless `countingBuffered`
    /// is false, or on the descriptor).
    public func waitReadable(timeoutMillis: Int, countingBuffered: Bool = true) -> Bool {
        if countingBuffered && hasBuffered { return true }
        var descriptor = pollfd(fd: input, events: Int16(POLLIN), revents: 0)
        let deadline = Time.monotonicNanos() + UInt64(max(0, timeoutMillis)) * 1_000_000
        while true {
            let left = Int32(max(0, Int64(deadline) - Int64(Time.monotonicNanos())) / 1_000_000)
            let ready = poll(&descriptor, 1, left)
            if ready > 0 { return true }
            if ready == 0 || errno != EINTR { return false }
        }
    }
}
