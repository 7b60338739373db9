#if canImport(Glibc)
    import Glibc
#endif

/// A first-in, first-out queue of at most `capacity` items between threads: `put` waits while it is
/// full, `take` waits while it is empty. `close` ends it: `take` then drains what is left and returns
/// nil, and `put` returns false. Blocking, for dedicated threads only.
public final class BoundedQueue<Element>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var notEmpty = pthread_cond_t()
    private var notFull = pthread_cond_t()
    /// A ring of `capacity` slots; taken slots are emptied at once so nothing is kept alive.
    private var slots: [Element?]
    private var head = 0
    private var count = 0
    private var closed = false
    public let capacity: Int

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        slots = Array(repeating: nil, count: capacity)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&notEmpty, nil)
        pthread_cond_init(&notFull, nil)
    }

    deinit {
        pthread_cond_destroy(&notFull)
        pthread_cond_destroy(&notEmpty)
        pthread_mutex_destroy(&mutex)
    }

    /// Adds `item`, waiting for room; false when the queue was closed.
    @discardableResult
    public func put(_ item: Element) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while count >= capacity && !closed { pthread_cond_wait(&notFull, &mutex) }
        guard !closed else { return false }
        slots[(head + count) % capacity] = item
        count += 1
        pthread_cond_signal(&notEmpty)
        return true
    }

    /// The oldest item, waiting for one; nil once the queue is closed and empty.
    public func take() -> Element? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while count == 0 && !closed { pthread_cond_wait(&notEmpty, &mutex) }
        guard count > 0 else { return nil }
        let item = slots[head]
        slots[head] = nil
        head = (head + 1) % capacity
        count -= 1
        pthread_cond_signal(&notFull)
        return item
    }

    /// Ends the queue; waiting callers wake up.
    public func close() {
        pthread_mutex_lock(&mutex)
        closed = true
        pthread_cond_broadcast(&notEmpty)
        pthread_cond_broadcast(&notFull)
        pthread_mutex_unlock(&mutex)
    }
}
