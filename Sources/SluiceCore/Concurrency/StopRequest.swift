import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Whether the user asked the process to stop (SIGINT, SIGTERM, or SIGHUP when its terminal went away).
/// Long loops check it between batches and finish cleanly; a second signal ends the process at once.
///
/// A daemon installs them with `daemon: true`: the first signal asks it to drain, the second to stop
/// at once (both read through `count`), only a third ends the process from the handler; SIGHUP asks
/// for a reload (`hangups`) instead of a stop.
public enum StopRequest {
    private static let flag = Atomic<Int>(0)
    private static let firstSignal = Atomic<Int32>(0)
    private static let exitAfter = Atomic<Int>(2)
    private static let hangupCount = Atomic<Int>(0)

    /// Installs the handlers for SIGINT and SIGTERM, and for SIGHUP: a stop, or with `daemon` a reload.
    public static func installHandlers(daemon: Bool = false) {
        exitAfter.store(daemon ? 3 : 2, ordering: .relaxed)
        let handler: @convention(c) (Int32) -> Void = { signal in
            _ = StopRequest.firstSignal.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
            let count = StopRequest.flag.add(1, ordering: .relaxed).newValue
            if count >= StopRequest.exitAfter.load(ordering: .relaxed) { _exit(128 + signal) }
        }
        let hangup: @convention(c) (Int32) -> Void = { _ in
            StopRequest.hangupCount.add(1, ordering: .relaxed)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        signal(SIGHUP, daemon ? hangup : handler)
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

    /// How many times a stop was requested.
    public static var count: Int { flag.load(ordering: .relaxed) }

    /// How many SIGHUPs a daemon received (reload requests).
    public static var hangups: Int { hangupCount.load(ordering: .relaxed) }

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
