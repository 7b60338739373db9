#if canImport(Glibc)
    import Glibc
#endif

/// An open file descriptor, closed when the object goes away.
///
/// Positional reads and writes (`pread`, `pwrite`) may run from several threads at once, as POSIX
/// allows; the sequential `append` is for one writer at a time. Every call blocks, so callers run it
/// on their own threads, never on Swift's cooperative pool.
public final class SystemFile: @unchecked Sendable {
    /// How to open a file.
    public enum Mode: Sendable {
        case readOnly
        case readWrite
        /// Read and write, creating the file if it is missing.
        case readWriteCreate
        /// Write only, creating or truncating the file.
        case truncate
        /// Write only, creating a new file; fails when the name exists, and never follows a symbolic link.
        case createNew
    }

    public let path: String
    public let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Opens `path`. The corresponding C function is `open`.
    public static func open(_ path: String, _ mode: Mode) throws -> SystemFile {
        let flags: Int32
        switch mode {
        case .readOnly: flags = O_RDONLY
        case .readWrite: flags = O_RDWR
        case .readWriteCreate: flags = O_RDWR | O_CREAT
        case .truncate: flags = O_WRONLY | O_CREAT | O_TRUNC
        case .createNew: flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
        }
        let fd = Glibc.open(path, flags | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CoreError.system("cannot open", path: path) }
        return SystemFile(path: path, descriptor: fd)
    }

    /// The file's size in bytes. The corresponding C function is `fstat`.
    public func size() throws -> Int64 {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw CoreError.system("cannot stat", path: path) }
        return Int64(info.st_size)
    }

    /// The device and inode that identify the file while it exists.
    public func identity() throws -> FileIdentity {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw CoreError.system("cannot stat", path: path) }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at the end of the file.
    /// The corresponding C function is `pread`.
    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = pread(descriptor, base + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CoreError.system("cannot read", path: path)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Reads `count` bytes at `offset` into a new array, shorter only at the end of the file.
    public func read(at offset: Int64, count: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = try read(at: offset, into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Reads from the current position. The corresponding C function is `read`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno != EINTR { throw CoreError.system("cannot read", path: path) }
        }
    }

    /// Waits up to `timeoutMillis` for something to read (or the end of input); false when the time
    /// passed first or a signal came. The corresponding C function is `poll`.
    public func waitReadable(timeoutMillis: Int32) -> Bool {
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&request, 1, timeoutMillis) > 0
    }

    /// Writes all of `bytes` at `offset`. The corresponding C function is `pwrite`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = pwrite(descriptor, base + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CoreError.system("cannot write", path: path)
            }
            done += n
        }
    }

    /// Writes all of `bytes` at the current position. The corresponding C function is `write`.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress else { return }
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(descriptor, base + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw CoreError.system("cannot write", path: path)
            }
            done += n
        }
    }

    /// Writes all of `bytes` at the current position.
    public func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try append($0) }
    }

    /// Moves the position for `read(into:)` and `append`. The corresponding C function is `lseek`.
    public func seek(to offset: Int64) throws {
        guard lseek(descriptor, off_t(offset), SEEK_SET) >= 0 else { throw CoreError.system("cannot seek", path: path) }
    }

    /// Flushes data and metadata to the disk. The corresponding C function is `fsync`.
    public func sync() throws {
        guard fsync(descriptor) == 0 else { throw CoreError.system("cannot fsync", path: path) }
    }

    /// Flushes data, and only the metadata needed to read it back. The corresponding C function is `fdatasync`.
    public func syncData() throws {
        guard fdatasync(descriptor) == 0 else { throw CoreError.system("cannot fdatasync", path: path) }
    }

    /// Cuts or extends the file to `size` bytes. The corresponding C function is `ftruncate`.
    public func truncate(to size: Int64) throws {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw CoreError.system("cannot truncate", path: path) }
    }
}

/// The device and inode of a file: who it is, whatever it is called.
public struct FileIdentity: Hashable, Sendable, Codable {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }
}
