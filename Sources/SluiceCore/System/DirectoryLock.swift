#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive, advisory lock on a directory, held by one process: a `.lock` file locked with `flock`
/// and holding the owner's pid. The kernel drops the lock when the process ends, however it ends, so a
/// crash never leaves a stale lock behind.
public final class DirectoryLock: @unchecked Sendable {
    public let path: String
    private let descriptor: Int32

    /// Takes the lock on `directory`, or throws an error naming the process that holds it.
    public init(directory: String) throws {
        path = directory + "/.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CoreError.system("cannot open lock file", path: path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK {
                let owner = DirectoryLock.owner(ofDirectory: directory).map { "process \($0)" } ?? "another process"
                throw CoreError(
                    .io,
                    "data directory \(directory) is in use by \(owner) (lock file \(path)); "
                        + "stop it, or use another data directory",
                    errno: code
                )
            }
            throw CoreError.system("cannot lock", path: path, errno: code)
        }
        descriptor = fd
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// The pid written in the lock file of `directory` when a process holds it, else nil.
    public static func owner(ofDirectory directory: String) -> Int32? {
        let path = directory + "/.lock"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer.prefix(n), as: UTF8.self).trimmingSpaces()
        return Int32(text)
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and line breaks.
    public func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
