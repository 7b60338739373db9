#if canImport(Glibc)
    import Glibc
#endif

/// A dedicated OS thread that runs one closure, for blocking work that must stay off Swift's
/// cooperative thread pool (file reads, fsync, database calls). `join` waits for it and returns
/// what it threw, if anything.
public final class WorkerThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: () -> Void
    private let failure = Locked<(any Error)?>(nil)
    private let finished = Locked(false)
    public let name: String

    /// Starts `body` on a new thread.
    public init(name: String, _ body: @escaping @Sendable () throws -> Void) {
        self.name = name
        let (failure, finished) = (self.failure, self.finished)
        self.body = {
            do {
                try body()
            } catch {
                failure.withLock { $0 = error }
            }
            finished.withLock { $0 = true }
        }
        let box = Unmanaged.passRetained(self)
        let status = pthread_create(
            &thread, nil,
            { raw in
                guard let raw else { return nil }
                let worker = Unmanaged<WorkerThread>.fromOpaque(raw).takeRetainedValue()
                worker.body()
                return nil
            }, box.toOpaque())
        precondition(status == 0, "cannot start a thread (pthread_create returned \(status))")
    }

    /// Whether the body has returned (or thrown); `join` then returns at once.
    public var isFinished: Bool { finished.withLock { $0 } }

    /// The error the body threw, once it has (nil while it runs).
    public var error: (any Error)? { failure.withLock { $0 } }

    /// Lets the thread end on its own: nobody will join it, and the process does not wait for it.
    public func detach() {
        pthread_detach(thread)
    }

    /// Waits for the thread to end; returns the error its body threw, if it threw one.
    @discardableResult
    public func join() -> (any Error)? {
        pthread_join(thread, nil)
        return failure.withLock { $0 }
    }
}
