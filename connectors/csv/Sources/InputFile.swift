import SluiceCore

/// One input file opened for reading, plain or gzip: gzip is recognised by its magic bytes, whatever
/// the name, and inflated as a stream. Offsets are those of the (decompressed) text. Blocking reads;
/// used by the source's thread only.
final class InputFile {
    let path: String
    let file: SystemFile
    let identity: FileIdentity
    let size: Int64
    let isGzip: Bool
    private var inflater: Inflater?
    /// Bytes of the file on disk consumed so far (for progress).
    private(set) var rawBytesRead: Int64 = 0
    private var chunk: [UInt8]
    private var pendingInflated: [UInt8] = []
    private var atEnd = false

    static let chunkSize = 1 << 20

    init(path: String) throws {
        self.path = path
        file = try SystemFile.open(path, .readOnly)
        identity = try file.identity()
        size = try file.size()
        let magic = try file.read(at: 0, count: 2)
        isGzip = magic == [0x1F, 0x8B]
        if isGzip { inflater = try Inflater() }
        chunk = [UInt8](repeating: 0, count: Self.chunkSize)
    }

    /// CRC-32C of the first `count` bytes on disk.
    func fingerprint(count: Int) throws -> UInt32 {
        CRC32C.checksum(try file.read(at: 0, count: count))
    }

    /// Appends the next bytes of text to `buffer`; returns how many (0 at the end of the file).
    func read(into buffer: inout [UInt8]) throws -> Int {
        guard let inflater else {
            let n = try chunk.withUnsafeMutableBytes { try file.read(into: $0) }
            buffer.append(contentsOf: chunk[0..<n])
            rawBytesRead += Int64(n)
            return n
        }
        let before = buffer.count
        while buffer.count == before && !atEnd {
            let n = try chunk.withUnsafeMutableBytes { try file.read(into: $0) }
            rawBytesRead += Int64(n)
            if n == 0 {
                atEnd = true
                guard inflater.atMemberEnd || rawBytesRead == 0 else {
                    throw CoreError(
                        .compression, "\(path): the gzip stream ends before its end marker (a truncated file?)")
                }
                break
            }
            do {
                try chunk.withUnsafeBytes {
                    try inflater.inflate(UnsafeRawBufferPointer(rebasing: $0[0..<n]), into: &buffer)
                }
            } catch let error as CoreError {
                throw CoreError(.compression, "\(path): \(error.message)")
            }
        }
        return buffer.count - before
    }

    /// Reads and drops text up to `offset` (for gzip, which cannot seek); plain files seek.
    func skip(to offset: Int64) throws {
        guard isGzip else {
            try file.seek(to: offset)
            rawBytesRead = offset
            return
        }
        var skipped: Int64 = 0
        var scratch: [UInt8] = []
        while skipped < offset {
            scratch.removeAll(keepingCapacity: true)
            let n = try read(into: &scratch)
            if n == 0 { throw CoreError(.invalidData, "\(path) is shorter than its stored position \(offset)") }
            let keep = Int64(n) - min(Int64(n), offset - skipped)
            skipped += Int64(n) - keep
            if keep > 0 { pendingInflated = Array(scratch.suffix(Int(keep))) }
        }
    }

    /// Text left over from `skip` that `read` hands out first.
    func takePending(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: pendingInflated)
        pendingInflated = []
    }
}
