#if canImport(Glibc)
    import Glibc
#endif

/// A counter that threads can wait on until it moves: producers call `notify()` after they change
/// something, and a waiter sleeps until the counter differs from the value it last saw, or until a
/// timeout. Built on a pthread mutex and condition variable; safe to use from any thread. Waiting
/// blocks a thread, so it is for dedicated threads only.
public final class ChangeSignal: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var counter: UInt64 = 0

    public init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    /// The current value of the counter.
    public var current: UInt64 {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return counter
    }

    /// Moves the counter and wakes every waiter.
    public func notify() {
        pthread_mutex_lock(&mutex)
        counter &+= 1
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Waits until the counter differs from `seen` or `timeoutMillis` pass; returns the counter.
    @discardableResult
    public func wait(since seen: UInt64, timeoutMillis: Int) -> UInt64 {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanos = Int(deadline.tv_nsec) + (timeoutMillis % 1000) * 1_000_000
        deadline.tv_sec += timeoutMillis / 1000 + nanos / 1_000_000_000
        deadline.tv_nsec = nanos % 1_000_000_000
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while counter == seen {
            if pthread_cond_timedwait(&condition, &mutex, &deadline) == ETIMEDOUT { break }
        }
        return counter
    }
}
