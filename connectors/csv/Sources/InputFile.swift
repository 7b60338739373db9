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
    /// The position on disk: bytes of the file consumed so far.
    private(set) var rawBytesRead: Int64 = 0 {
        didSet { furthest = max(furthest, rawBytesRead) }
    }
    /// The furthest position reached on disk.
    private var furthest: Int64 = 0
    /// Where the bytes this run reads start: a plain file resumed part-way was read before up to here
    /// (its header is read again, which is not new work).
    var countFrom: Int64 = 0
    /// Bytes of the file on disk read in this run, for progress: from `countFrom` to the furthest
    /// position reached, so that the header read again and the seek to the resume point count once.
    var bytesReadThisRun: Int64 { max(0, furthest - countFrom) }
    /// Read buffer for gzip files, made at the first read: a file opened only to be checked needs none.
    private lazy var chunk = [UInt8](repeating: 0, count: Self.chunkSize)
    /// Inflated text not handed out yet, from `pendingStart`.
    private var pendingInflated: [UInt8] = []
    private var pendingStart = 0
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
    }

    /// CRC-32C of the first `count` bytes on disk.
    func fingerprint(at offset: Int64 = 0, count: Int) throws -> UInt32 {
        CRC32C.checksum(try file.read(at: offset, count: count))
    }

    /// Reads the next bytes of text into `storage[start...]`; returns how many (0 at the end of the file).
    func read(into storage: inout [UInt8], at start: Int) throws -> Int {
        let room = storage.count - start
        guard room > 0 else { return 0 }
        guard let inflater else {
            let n = try storage.withUnsafeMutableBytes { raw in
                try file.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
            }
            rawBytesRead += Int64(n)
            return n
        }
        while pendingInflated.count - pendingStart == 0 && !atEnd {
            pendingInflated.removeAll(keepingCapacity: true)
            pendingStart = 0
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
                    try inflater.inflate(UnsafeRawBufferPointer(rebasing: $0[0..<n]), into: &pendingInflated)
                }
            } catch let error as CoreError {
                throw CoreError(.compression, "\(path): \(error.message)")
            }
        }
        let n = min(room, pendingInflated.count - pendingStart)
        guard n > 0 else { return 0 }
        storage.withUnsafeMutableBytes { target in
            pendingInflated.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(rebasing: target[start..<(start + n)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[pendingStart..<(pendingStart + n)]))
            }
        }
        pendingStart += n
        return n
    }

    /// Moves a plain file's read position to `offset`.
    func seek(to offset: Int64) throws {
        try file.seek(to: offset)
        rawBytesRead = offset
    }
}
