#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive, advisory lock on a directory, held by one process: a `.lock` file locked with `flock`
/// and holding the owner's pid and command line (`1234\nsluice run config.json\n`), so that whoever
/// finds the directory taken can be told by whom. The kernel drops the lock when the process ends,
/// however it ends, so a crash never leaves a stale lock behind.
public final class DirectoryLock: @unchecked Sendable {
    public let path: String
    private let descriptor: Int32

    /// The process that holds a directory's lock, as its lock file records it.
    public struct Holder: Sendable, Equatable {
        public var pid: Int32
        /// The holder's command line, its words joined by spaces; nil in a lock file that does not say.
        public var command: String?

        public init(pid: Int32, command: String?) {
            self.pid = pid
            self.command = command
        }

        /// "process 1234 (`sluice run config.json`)".
        public var description: String {
            "process \(pid)" + (command.map { " (`\($0)`)" } ?? "")
        }
    }

    /// Takes the lock on `directory`, or throws an error naming the process that holds it.
    public init(directory: String) throws {
        path = directory + "/.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CoreError.system("cannot open lock file", path: path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK {
                let holder = DirectoryLock.holder(ofDirectory: directory)
                throw CoreError(
                    .io,
                    "data directory \(directory) is in use by \(holder?.description ?? "another process"), "
                        + "and one process at a time may write to it (lock file \(path)). Wait until that "
                        + "process ends, or stop it (\(holder.map { "`kill -INT \($0.pid)`" } ?? "Ctrl-C") stops "
                        + "Sluice cleanly), then try again",
                    errno: code
                )
            }
            throw CoreError.system("cannot lock", path: path, errno: code)
        }
        descriptor = fd
        let command = CommandLine.arguments.map { $0.contains("\n") ? "?" : $0 }.joined(separator: " ")
        let content = Array("\(getpid())\n\(command)\n".utf8.prefix(4096))
        _ = ftruncate(fd, 0)
        _ = content.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// The pid written in the lock file of `directory` when a process holds it, else nil.
    public static func owner(ofDirectory directory: String) -> Int32? {
        holder(ofDirectory: directory)?.pid
    }

    /// The process that holds the lock of `directory`, else nil.
    public static func holder(ofDirectory directory: String) -> Holder? {
        let path = directory + "/.lock"
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let lines = String(decoding: buffer.prefix(n), as: UTF8.self).split(separator: "\n")
        guard let first = lines.first, let pid = Int32(String(first).trimmingSpaces()) else { return nil }
        let command = lines.dropFirst().first.map { String($0).trimmingSpaces() }
        return Holder(pid: pid, command: command?.isEmpty == false ? command : nil)
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
