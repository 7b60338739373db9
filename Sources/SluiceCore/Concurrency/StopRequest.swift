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
            if count >= StopRequest.exitAfter.load(ordering: .relaxed) {
                StopRequest.killChildren()
                _exit(128 + signal)
            }
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

    /// Process groups of programs the process started (external connectors, in groups of their own so that
    /// a Ctrl-C reaches Sluice alone), which an exit from the signal handler kills first: they would
    /// otherwise run on without anyone reading their output. Fixed slots, read by the handler without
    /// locks or allocation; a group beyond them is stopped only in order.
    private static let childSlotCount = 256
    private nonisolated(unsafe) static let childGroups: UnsafeMutablePointer<Atomic<Int32>> = {
        let slots = UnsafeMutablePointer<Atomic<Int32>>.allocate(capacity: childSlotCount)
        for index in 0..<childSlotCount { (slots + index).initialize(to: Atomic(0)) }
        return slots
    }()

    /// Notes a child's process group, to be killed if the process ends from a signal.
    public static func addChildGroup(_ group: Int32) {
        for index in 0..<childSlotCount
        where childGroups[index].compareExchange(expected: 0, desired: group, ordering: .relaxed).exchanged {
            return
        }
    }

    /// Forgets a child's process group once it has been reaped.
    public static func removeChildGroup(_ group: Int32) {
        for index in 0..<childSlotCount
        where childGroups[index].compareExchange(expected: group, desired: 0, ordering: .relaxed).exchanged {
            return
        }
    }

    /// Kills every noted child's process group; only async-signal-safe calls.
    private static func killChildren() {
        for index in 0..<childSlotCount {
            let group = childGroups[index].load(ordering: .relaxed)
            if group > 0 { _ = kill(-group, SIGKILL) }
        }
    }

    /// Asks for a stop from inside the process.
    public static func request() {
        flag.add(1, ordering: .relaxed)
    }
}
