#if canImport(Glibc)
    import Glibc
#endif

/// Tells when something changes in a set of folders (a file created, written, renamed in or out, or
/// deleted), through Linux's inotify: a daemon's sources read again as soon as their input changes
/// instead of at the next poll. Used by one thread.
public final class DirectoryWatcher {
    private let descriptor: Int32

    /// Watches `directories` (those that exist); nil when inotify is not available or none could be
    /// watched, and the caller polls instead.
    public init?(directories: [String]) {
        let descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { return nil }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB)
        var watched = 0
        for directory in Set(directories) where inotify_add_watch(descriptor, directory, mask) >= 0 { watched += 1 }
        guard watched > 0 else {
            close(descriptor)
            return nil
        }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Waits up to `timeoutMillis` for a change; returns whether there was one. Reads away every event
    /// that came, so one burst of writes wakes the caller once.
    public func wait(timeoutMillis: Int) -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = poll(&entry, 1, Int32(max(0, timeoutMillis)))
        guard ready > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while buffer.withUnsafeMutableBytes({ read(descriptor, $0.baseAddress, $0.count) }) > 0 {}
        return true
    }
}
