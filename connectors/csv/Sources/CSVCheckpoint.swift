import SluiceCore

/// Where the CSV source stands in each file it has read: the file's identity (device, inode and a
/// fingerprint of its first bytes) and the byte offset and line just after the last row stored.
/// Stored by the runtime as JSON after every batch.
struct CSVCheckpoint: Equatable {
    struct FileState: Equatable {
        var path: String
        var identity: FileIdentity
        /// CRC-32C of the first `fingerprintBytes` bytes of the file as stored on disk.
        var fingerprint: UInt32
        var fingerprintBytes: Int
        /// The offset (in the decompressed stream for gzip files) after the last row stored.
        var offset: Int64
        /// The line number the next row starts on.
        var line: Int64
        /// Whether the file was read to its end.
        var complete: Bool
        /// Why the daemon set the file aside unread (its header does not fit, it cannot be read); nil
        /// for a file read as usual. Such a file is tried again once it changes.
        var failed: String? = nil
        /// For a gzip file, its size on disk when it was read (offsets count inflated bytes): a gzip file
        /// that grew had members appended, whose rows are read after those already stored. Nil for plain
        /// files, and in checkpoints from before it was kept.
        var gzipSize: Int64? = nil
        /// For a plain file, CRC-32C of the (up to) `fingerprintLength` bytes before `offset`: with the
        /// first bytes' fingerprint, what tells a part-read file's complete version moved over it.
        var tailFingerprint: UInt32? = nil

        /// Where the tail fingerprint's bytes start, and how many.
        var tailRange: (offset: Int64, count: Int) {
            let count = Int(min(Int64(CSVCheckpoint.fingerprintLength), offset))
            return (offset - Int64(count), count)
        }
    }

    var files: [String: FileState] = [:]
    /// The source's folder when the checkpoint was written: what the `sluice.source.file` headers of
    /// the records stored with it are relative to. Nil in checkpoints from before relative names.
    var folder: String?

    static let fingerprintLength = 1024

    func encoded() -> [UInt8] {
        let list = files.keys.sorted().compactMap { files[$0] }.map { state -> JSONValue in
            var members: [(String, JSONValue)] = [
                ("path", .string(state.path)), ("device", .number(String(state.identity.device))),
                ("inode", .number(String(state.identity.inode))),
                ("fingerprint", .number(String(state.fingerprint))),
                ("fingerprint_bytes", .number(String(state.fingerprintBytes))),
                ("offset", .number(String(state.offset))),
                ("line", .number(String(state.line))), ("complete", .bool(state.complete)),
            ]
            if let failed = state.failed { members.append(("failed", .string(failed))) }
            if let size = state.gzipSize { members.append(("gzip_size", .number(String(size)))) }
            if let tail = state.tailFingerprint { members.append(("tail_fingerprint", .number(String(tail)))) }
            return .object(members)
        }
        var members: [(String, JSONValue)] = [("version", .number("1"))]
        if let folder { members.append(("folder", .string(folder))) }
        members.append(("files", .array(list)))
        return Array(JSONValue.object(members).serialized().utf8)
    }

    init() {}

    /// Reads a stored checkpoint; throws when it is not one this source wrote.
    init(decoding bytes: [UInt8]) throws {
        let json = try JSONValue.parse(bytes)
        guard case .array(let list)? = json["files"] else {
            throw CoreError(.invalidData, "the stored CSV checkpoint has no file list")
        }
        if let folder = json["folder"] {
            guard let text = folder.stringValue else {
                throw CoreError(.invalidData, "the stored CSV checkpoint's folder is not a string")
            }
            self.folder = text
        }
        for item in list {
            guard let path = item["path"]?.stringValue,
                let device = item["device"]?.stringOrNumber.flatMap(UInt64.init),
                let inode = item["inode"]?.stringOrNumber.flatMap(UInt64.init),
                let fingerprint = item["fingerprint"]?.integerValue,
                let fingerprintBytes = item["fingerprint_bytes"]?.integerValue,
                let offset = item["offset"]?.integerValue, let line = item["line"]?.integerValue,
                let complete = item["complete"]?.boolValue
            else {
                throw CoreError(.invalidData, "the stored CSV checkpoint has a malformed entry: \(item.serialized())")
            }
            files[path] = FileState(
                path: path,
                identity: FileIdentity(device: device, inode: inode),
                fingerprint: UInt32(truncatingIfNeeded: fingerprint),
                fingerprintBytes: Int(fingerprintBytes),
                offset: offset,
                line: line,
                complete: complete,
                failed: item["failed"]?.stringValue,
                gzipSize: item["gzip_size"]?.integerValue,
                tailFingerprint: item["tail_fingerprint"]?.integerValue.map { UInt32(truncatingIfNeeded: $0) }
            )
        }
    }
}

extension JSONValue {
    /// The literal text of a number (or a string's text), for values wider than `Int64`.
    var stringOrNumber: String? {
        switch self {
        case .number(let text), .string(let text): return text
        default: return nil
        }
    }
}
