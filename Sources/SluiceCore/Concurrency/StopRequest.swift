import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Whether the user asked the process to stop (SIGINT or SIGTERM). Long loops check it between batches
/// and finish cleanly; a second signal ends the process at once.
public enum StopRequest {
    private static let flag = Atomic<Int>(0)

    /// Installs the handlers for SIGINT and SIGTERM.
    public static func installHandlers() {
        let handler: @convention(c) (Int32) -> Void = { signal in
            if StopRequest.flag.add(1, ordering: .relaxed).newValue > 1 { _exit(128 + signal) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Whether a stop was requested.
    public static var isRequested: Bool { flag.load(ordering: .relaxed) > 0 }

    /// Asks for a stop from inside the process.
    public static func request() {
        flag.add(1, ordering: .relaxed)
    }
}
