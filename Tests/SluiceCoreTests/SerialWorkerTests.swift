import Glibc
import Testing

@testable import SluiceCore

@Suite struct SerialWorkerTests {
    /// Jobs run one at a time, in the order given, on one thread; `stop` runs what is left first.
    @Test func jobsRunInOrderAndStopFinishesThem() {
        let worker = SerialWorker(name: "test-worker")
        let seen = Locked<[Int]>([])
        let threads = Locked<Set<pthread_t>>([])
        for i in 0..<100 {
            worker.submit {
                seen.withLock { $0.append(i) }
                threads.withLock { _ = $0.insert(pthread_self()) }
            }
        }
        worker.stop()
        #expect(seen.withLock { $0 } == Array(0..<100))
        #expect(threads.withLock { $0.count } == 1)
    }
}
