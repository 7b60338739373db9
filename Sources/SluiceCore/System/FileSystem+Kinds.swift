#if canImport(Glibc)
    import Glibc
#endif

extension FileSystem {
    /// What is at a path, for messages about paths that are not the regular file a command wanted.
    public enum Kind: Equatable, Sendable {
        case regularFile
        case directory
        case fifo
        case socket
        case device
        /// A symbolic link whose target does not exist.
        case danglingLink
        /// A chain of symbolic links that leads back to itself.
        case linkLoop
        case missing
        /// `stat` failed for another reason (permissions), with its message.
        case inaccessible(String)

        /// The kind as a phrase: "a FIFO (named pipe)", "a symbolic link loop".
        public var phrase: String {
            switch self {
            case .regularFile: return "a regular file"
            case .directory: return "a folder"
            case .fifo: return "a FIFO (named pipe)"
            case .socket: return "a socket"
            case .device: return "a device"
            case .danglingLink: return "a symbolic link to a file that does not exist"
            case .linkLoop: return "a symbolic link loop"
            case .missing: return "missing"
            case .inaccessible(let reason): return "not accessible (\(reason))"
            }
        }
    }

    /// What `path` is, following symbolic links, and telling a broken link from a missing path.
    public static func kind(_ path: String) -> Kind {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ELOOP { return .linkLoop }
            if code == ENOENT {
                var link = stat()
                return lstat(path, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK ? .danglingLink : .missing
            }
            return .inaccessible(String(cString: strerror(code)))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regularFile
        case S_IFDIR: return .directory
        case S_IFIFO: return .fifo
        case S_IFSOCK: return .socket
        default: return .device
        }
    }

    /// Reads a whole input that a user named: a regular file, or a pipe or FIFO (`<(cat config.json)`,
    /// `/dev/stdin`) read to its end. A FIFO that nothing writes to within `waitMillis` is an error, not
    /// a hang; a folder, socket, device or broken link is an error that says what the path is.
    public static func readInput(_ path: String, waitMillis: Int = 10_000) throws -> [UInt8] {
        let kind = kind(path)
        switch kind {
        case .regularFile:
            // To its end, not to its size: files under /proc report none.
            return try readToEnd(path)
        case .fifo:
            break
        default:
            throw CoreError(.invalidData, "\(path) is \(kind.phrase), not a file")
        }
        // Opening a FIFO without a writer would block: open without waiting, then wait for data with poll.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw CoreError.system("cannot open", path: path) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let deadline = Time.monotonicNanos() + UInt64(waitMillis) * 1_000_000
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                result.append(contentsOf: chunk[0..<n])
                continue
            }
            if n == 0 && !result.isEmpty { return result }
            if n < 0 && errno != EAGAIN && errno != EINTR { throw CoreError.system("cannot read", path: path) }
            // Nothing yet: no writer has opened the FIFO (n == 0) or it has not written (EAGAIN).
            let now = Time.monotonicNanos()
            guard now < deadline else {
                throw CoreError(
                    .invalidData,
                    "\(path) is a FIFO (named pipe) and nothing wrote to it within \(waitMillis / 1000) s")
            }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, Int32(min(100, (deadline - now) / 1_000_000 + 1)))
            if n == 0 && descriptor.revents & Int16(POLLHUP) != 0 && !result.isEmpty { return result }
        }
    }
}
