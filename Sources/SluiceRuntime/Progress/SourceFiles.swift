import Glibc
import SluiceCore

/// One file of a file source's ledger, and where reading it stands.
public struct SourceFile: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        /// Its path matches the source's and it was not read yet.
        case new
        /// Read in part: more of it is there to read.
        case reading
        /// Read to its end but for a row without its line break, which waits for the rest.
        case waiting
        /// Read to its end.
        case done
        /// No longer on disk (deleted or moved by `after_read`, or by someone else) since it was read.
        case gone
        /// Another file has its name now: it is read from its start.
        case replaced
        /// Set aside unread by the daemon (`reason` says why); tried again once it changes.
        case failed
    }

    /// Its canonical path.
    public var path: String
    public var state: State
    /// Bytes read and stored (of the inflated stream, for a gzip file).
    public var offset: Int64
    /// The line the next row starts on.
    public var line: Int64
    /// Its size on disk now; nil when it is gone.
    public var size: Int64?
    /// Why it failed, for a failed file.
    public var reason: String?

    /// Bytes on disk not read yet, where that can be told (not inside a gzip file).
    public var unreadBytes: Int64? {
        guard let size else { return nil }
        switch state {
        case .new, .replaced: return size
        case .reading, .waiting: return offset <= size ? size - offset : nil
        case .done, .gone, .failed: return 0
        }
    }

    public var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("path", .string(path)), ("state", .string(state.rawValue)), ("offset", .number(String(offset))),
            ("line", .number(String(line))),
        ]
        members.append(("size", size.map { .number(String($0)) } ?? .null))
        members.append(("unread_bytes", unreadBytes.map { .number(String($0)) } ?? .null))
        if let reason { members.append(("reason", .string(reason))) }
        return .object(members)
    }
}

/// What a source's stored checkpoint (`SourceCheckpoint`, its connector's part as the CSV source writes
/// it) says, read without the connector: the topics it stored to, and the files it read. Unreadable
/// parts read as nothing.
public struct StoredSourcePosition: Sendable {
    public struct File: Sendable {
        var path: String
        var identity: FileIdentity?
        var offset: Int64
        var line: Int64
        var complete: Bool
        var failed: String?
    }

    public var topics: [String] = []
    public var files: [File] = []

    public init(_ checkpoint: [UInt8]?) {
        guard let checkpoint, let json = try? JSONValue.parse(checkpoint) else { return }
        if case .object(let partitions)? = json["partitions"] { topics = partitions.map(\.0).sorted() }
        guard let connector = json["connector"]?.stringValue, let inner = try? JSONValue.parse(connector),
            case .array(let list)? = inner["files"]
        else { return }
        for item in list {
            guard let path = item["path"]?.stringValue else { continue }
            var identity: FileIdentity?
            if let device = item["device"].flatMap(Self.unsigned), let inode = item["inode"].flatMap(Self.unsigned) {
                identity = FileIdentity(device: device, inode: inode)
            }
            files.append(
                File(
                    path: path, identity: identity, offset: item["offset"]?.integerValue ?? 0,
                    line: item["line"]?.integerValue ?? 1, complete: item["complete"]?.boolValue ?? false,
                    failed: item["failed"]?.stringValue))
        }
    }

    private static func unsigned(_ value: JSONValue) -> UInt64? {
        switch value {
        case .number(let text), .string(let text): return UInt64(text)
        default: return nil
        }
    }

    /// How many of its files were read to their end.
    public var complete: Int { files.filter(\.complete).count }

    /// The ledger: every file the position names, with its state on disk now, then the files `pattern`
    /// matches that it does not name (new), in path order.
    public func ledger(pattern: String?, doneMarker: String? = nil) -> [SourceFile] {
        var result: [SourceFile] = []
        var known = Set<String>()
        for file in files {
            known.insert(file.path)
            let size = FileSystem.fileSize(file.path)
            let state: SourceFile.State
            if size == nil {
                state = .gone
            } else if let identity = file.identity, FileSystem.identity(file.path) != identity {
                state = .replaced
            } else if file.failed != nil, size == file.offset {
                state = .failed
            } else if let size, size < file.offset, !Self.isGzip(file.path) {
                // Shorter than what was read: cut and written again in place; read again from the start.
                state = .replaced
            } else if let size, !Self.isGzip(file.path), size > file.offset {
                // What is left without a line break is a row still being written.
                state = Self.hasLineBreak(file.path, from: file.offset) ? .reading : .waiting
            } else {
                state = file.complete ? .done : .waiting
            }
            result.append(
                SourceFile(
                    path: file.path, state: state, offset: state == .failed ? 0 : file.offset, line: file.line,
                    size: size, reason: state == .failed ? file.failed : nil))
        }
        if let pattern, let matching = try? FileSystem.files(matching: pattern) {
            // A completion marker (`done_marker`) is no input of its own.
            for path in matching where !known.contains(path) && !(doneMarker.map { path.hasSuffix($0) } ?? false) {
                result.append(SourceFile(path: path, state: .new, offset: 0, line: 1, size: FileSystem.fileSize(path)))
            }
        }
        return result.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    }

    /// Whether the file starts as a gzip stream does (its offsets count inflated bytes).
    private static func isGzip(_ path: String) -> Bool {
        read(path, from: 0, count: 2) == [0x1F, 0x8B]
    }

    /// Whether a line break follows `offset` in the file (within 1 MB: a longer row reads as read on).
    private static func hasLineBreak(_ path: String, from offset: Int64) -> Bool {
        guard let bytes = read(path, from: offset, count: 1 << 20) else { return true }
        return bytes.contains(0x0A) || bytes.count == 1 << 20
    }

    /// Up to `count` bytes of the file from `offset`; nil when it cannot be read.
    private static func read(_ path: String, from offset: Int64, count: Int) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
        guard got >= 0 else { return nil }
        return Array(bytes.prefix(got))
    }
}
