import SluiceCore

/// Fetches waiting for records, held without a thread each: one thread wakes on appends (or every few
/// milliseconds while any waits) and asks each parked fetch again, finally at its deadline.
final class FetchWaiters: Sendable {
    private struct Parked {
        var deadline: UInt64
        var attempt: @Sendable (Bool) -> [UInt8]?
        var complete: @Sendable ([UInt8]) -> Void
        /// Not yet asked since it was parked: an append may have come between its own look and now.
        var fresh = true
    }

    /// How long the thread sleeps with nothing parked, and waits at most with something parked.
    static let idleSleepMillis = 10
    static let longestWaitMillis = 50

    private let brokers: any BrokerProvider
    private let parked = Locked<[Parked]>([])
    private let stopping = Locked(false)
    private let thread = Locked<WorkerThread?>(nil)

    init(brokers: any BrokerProvider) {
        self.brokers = brokers
    }

    func start() {
        let worker = WorkerThread(name: "kafka-fetch-waiters") { [self] in run() }
        thread.withLock { $0 = worker }
    }

    func stop() {
        stopping.withLock { $0 = true }
        _ = thread.withLock { $0 }?.join()
        // The listener closed the connections first: nobody waits for these answers any more (making
        // them would wait for a pipeline that has stopped).
        parked.withLock { $0 = [] }
    }

    func park(
        deadline: UInt64, attempt: @escaping @Sendable (Bool) -> [UInt8]?,
        complete: @escaping @Sendable ([UInt8]) -> Void
    ) {
        parked.withLock { $0.append(Parked(deadline: deadline, attempt: attempt, complete: complete)) }
    }

    private func run() {
        var seen: UInt64 = 0
        while !stopping.withLock({ $0 }) {
            let waiting = parked.withLock { $0 }
            if waiting.isEmpty {
                Time.sleep(millis: Self.idleSleepMillis)
                continue
            }
            let now = Time.monotonicNanos()
            let nearest = waiting.map(\.deadline).min() ?? now
            // Appends wake the wait at once; otherwise it lasts until the nearest deadline, at most
            // `longestWait`: a fetch parked meanwhile is first asked when it ends (it looked itself just
            // before), so an append that slipped between its look and its parking waits that long.
            let wait = nearest > now ? Int(min(UInt64(Self.longestWaitMillis), (nearest - now) / 1_000_000 + 1)) : 0
            let signal = brokers.withBroker { $0.appended }
            var counter = signal?.current ?? seen
            if counter == seen && wait > 0 && !waiting.contains(where: \.fresh) {
                if let signal {
                    counter = signal.wait(since: seen, timeoutMillis: wait)
                } else {
                    Time.sleep(millis: wait)
                }
            }
            let changed = counter != seen
            seen = counter
            let after = Time.monotonicNanos()
            let items = parked.withLock { state in
                defer { state = [] }
                return state
            }
            var still: [Parked] = []
            for var item in items {
                let final = after >= item.deadline
                guard changed || final || item.fresh else {
                    still.append(item)
                    continue
                }
                item.fresh = false
                if let body = item.attempt(final) { item.complete(body) } else { still.append(item) }
            }
            parked.withLock { $0.append(contentsOf: still) }
        }
    }
}
