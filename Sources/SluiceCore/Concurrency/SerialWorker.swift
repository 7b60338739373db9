/// One long-lived OS thread that runs the jobs given to it, one at a time, in order: for blocking work
/// repeated many times, such as a consumer's read-ahead. Starting a thread per job costs a thread start
/// each time and, with glibc, may give each new thread another malloc arena, which keeps what was freed
/// in it: a consumer that started one per poll held several batches' worth of memory it did not use.
public final class SerialWorker: @unchecked Sendable {
    private let jobs = Locked<[@Sendable () -> Void]>([])
    private let signal = ChangeSignal()
    private let stopping = Locked(false)
    private var thread: WorkerThread?

    public init(name: String) {
        let (jobs, signal, stopping) = (jobs, signal, stopping)
        thread = WorkerThread(name: name) {
            while true {
                let seen = signal.current
                let next = jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                if let next {
                    next()
                    continue
                }
                if stopping.withLock({ $0 }) { return }
                signal.wait(since: seen, timeoutMillis: 1000)
            }
        }
    }

    /// Runs `job` on the worker's thread after the jobs before it.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        jobs.withLock { $0.append(job) }
        signal.notify()
    }

    /// Runs what was submitted, then ends the thread and waits for it.
    public func stop() {
        stopping.withLock { $0 = true }
        signal.notify()
        thread?.join()
        thread = nil
    }
}
