import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Whether the user asked the process to stop (SIGINT, SIGTERM, or SIGHUP when its terminal went away).
/// Long loops check it between batches and finish cleanly; a second signal ends the process at once.
public enum StopRequest {
    private static let flag = Atomic<Int>(0)
    private static let firstSignal = Atomic<Int32>(0)

    /// Installs the handlers for SIGINT and SIGTERM.
    public static func installHandlers() {
        let handler: @convention(c) (Int32) -> Void = { signal in
            _ = StopRequest.firstSignal.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
            if StopRequest.flag.add(1, ordering: .relaxed).newValue > 1 { _exit(128 + signal) }
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        signal(SIGHUP, handler)
        signal(SIGPIPE, SIG_IGN)
        // A process may inherit these signals blocked (some launchers and supervisors start children
        // that way), which would make a stop request wait forever.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGHUP)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Whether a stop was requested.
    public static var isRequested: Bool { flag.load(ordering: .relaxed) > 0 }

    /// The signal that asked for the stop (SIGINT or SIGTERM), or nil: a command that stops for it exits
    /// with 128 plus its number, as shells expect.
    public static var signalNumber: Int32? {
        let value = firstSignal.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }

    /// Asks for a stop from inside the process.
    public static func request() {
        flag.add(1, ordering: .relaxed)
    }
}
