#if canImport(Glibc)
    import Glibc
#endif

/// A value guarded by a pthread mutex: every access goes through `withLock`. Safe from any thread; the
/// lock is held only as long as the closure runs, so closures must not block on anything slow that
/// another holder would wait for.
public final class Locked<State>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var state: State

    public init(_ state: State) {
        self.state = state
        pthread_mutex_init(&mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `body` with exclusive access to the state.
    @inlinable
    public func withLock<R>(_ body: (inout State) throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body(&stateStorage)
    }

    @usableFromInline
    var stateStorage: State {
        get { state }
        _modify { yield &state }
    }

    @usableFromInline
    func lock() { pthread_mutex_lock(&mutex) }

    @usableFromInline
    func unlock() { pthread_mutex_unlock(&mutex) }
}
