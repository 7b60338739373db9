#if canImport(Glibc)
    import Glibc
#endif

/// Directory and path operations on the local file system. Every call blocks.
public enum FileSystem {
    /// Whether something exists at `path`.
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Whether `path` is a directory.
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether `path` is a regular file (following symbolic links): not a folder, FIFO, socket or device.
    public static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// The size of the file at `path`, or nil when there is none.
    public static func fileSize(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_size)
    }

    /// The identity of the file at `path`, or nil when there is none.
    public static func identity(_ path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Last modification time of `path` in milliseconds since the epoch.
    public static func modificationTimeMillis(_ path: String) -> Int64? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
    }

    /// Creates `path` and any missing parents.
    public static func createDirectory(_ path: String) throws {
        if isDirectory(path) { return }
        var prefix = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            prefix += prefix.isEmpty && path.hasPrefix("/") ? "/" : (prefix.isEmpty ? "" : "/")
            prefix += component
            if component.isEmpty || isDirectory(prefix) { continue }
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw CoreError.system("cannot create directory", path: prefix)
            }
        }
    }

    /// The names in the directory at `path`, without `.` and `..`, in byte order.
    public static func contentsOfDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw CoreError.system("cannot list directory", path: path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Renames `source` to `destination`, replacing it atomically. The corresponding C function is `rename`.
    public static func rename(_ source: String, to destination: String) throws {
        guard Glibc.rename(source, destination) == 0 else {
            throw CoreError.system("cannot rename to \(destination):", path: source)
        }
    }

    /// Removes the file at `path`; a missing file is not an error.
    public static func removeFile(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw CoreError.system("cannot remove", path: path) }
    }

    /// Removes `path` and everything below it; a missing path is not an error.
    public static func removeTree(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in try contentsOfDirectory(path) { try removeTree(path + "/" + name) }
            if rmdir(path) != 0 && errno != ENOENT { throw CoreError.system("cannot remove directory", path: path) }
        } else {
            try removeFile(path)
        }
    }

    /// Flushes the directory entry list of `path` to the disk, so that renames and creations in it
    /// survive a power loss.
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw CoreError.system("cannot open directory", path: path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw CoreError.system("cannot fsync directory", path: path) }
    }

    /// Reads a whole file.
    public static func readFile(_ path: String) throws -> [UInt8] {
        let file = try SystemFile.open(path, .readOnly)
        return try file.read(at: 0, count: Int(try file.size()))
    }

    /// Reads a file whose size `stat` does not tell, such as those under `/proc`, to its end.
    public static func readProcFile(_ path: String) throws -> String {
        String(decoding: try readToEnd(path), as: UTF8.self)
    }

    /// Reads a file to its end, whatever size `stat` reports for it.
    public static func readToEnd(_ path: String) throws -> [UInt8] {
        let file = try SystemFile.open(path, .readOnly)
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try file.read(into: $0) }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Replaces `path` with `bytes` so that a crash leaves either the old or the new content: the bytes
    /// go to a hidden temporary file that is fsynced, renamed over `path`, and the directory fsynced.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], sync: Bool = true) throws {
        let directory = parentDirectory(of: path)
        let name = String(path.split(separator: "/").last ?? Substring(path))
        let temporary = directory + "/." + name + ".tmp"
        let file = try SystemFile.open(temporary, .truncate)
        try file.append(bytes)
        if sync { try file.sync() }
        try rename(temporary, to: path)
        if sync { try syncDirectory(directory) }
    }

    /// The folder a path pattern reads from: the folder itself, or the one before the first component
    /// with a wildcard (`*`, `?`, `[`), or a file's folder.
    public static func patternFolder(_ pattern: String) -> String {
        if isDirectory(pattern) { return pattern }
        var components = pattern.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if let wild = components.firstIndex(where: { $0.contains(where: { "*?[{".contains($0) }) }) {
            components.removeSubrange(wild...)
        } else {
            components.removeLast()
        }
        let joined = components.joined(separator: "/")
        return joined.isEmpty ? (pattern.hasPrefix("/") ? "/" : ".") : joined
    }

    /// The directory part of `path` (`.` when there is none).
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// A path in `folder` for the file at `path` that nothing has yet: the folder and the file's name,
    /// with `.1`, `.2`, … added while that name is taken.
    public static func unusedPath(for path: String, in folder: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let base = (folder.hasSuffix("/") ? folder : folder + "/") + name
        var candidate = base
        var number = 0
        while exists(candidate) {
            number += 1
            candidate = base + ".\(number)"
        }
        return candidate
    }

    /// The absolute path of `path` with `.`, `..` and symbolic links resolved, or nil when it does not exist.
    /// The corresponding C function is `realpath`.
    public static func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `path` made absolute against the current directory.
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return normalized(path) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return normalized(path) }
        let cwd = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return normalized(cwd + "/" + path)
    }

    /// `path` without empty and `.` components and with each `..` taking away the component before it,
    /// by text alone (symbolic links are not followed): `/data//out/./x/../` is `/data/out`.
    public static func normalized(_ path: String) -> String {
        let rooted = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." {
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else if part != ".." || !rooted {
                parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return rooted ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}
