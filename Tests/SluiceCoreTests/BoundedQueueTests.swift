import SluiceCore
import Testing

@Suite struct BoundedQueueTests {
    @Test func firstInFirstOut() {
        let queue = BoundedQueue<Int>(capacity: 3)
        for round in 0..<5 {
            for n in 0..<3 { #expect(queue.put(round * 10 + n)) }
            for n in 0..<3 { #expect(queue.take() == round * 10 + n) }
        }
        #expect(queue.capacity == 3)
    }

    /// A put into a full queue waits until a take makes room.
    @Test func aFullQueueMakesPutWait() throws {
        let queue = BoundedQueue<Int>(capacity: 2)
        #expect(queue.put(1))
        #expect(queue.put(2))
        let putDone = Locked(false)
        let producer = WorkerThread(name: "producer") {
            queue.put(3)
            putDone.withLock { $0 = true }
        }
        Time.sleep(millis: 100)
        #expect(putDone.withLock { $0 } == false)
        #expect(queue.take() == 1)
        #expect(producer.join() == nil)
        #expect(putDone.withLock { $0 })
        #expect(queue.take() == 2)
        #expect(queue.take() == 3)
    }

    @Test func closeDrainsThenEnds() {
        let queue = BoundedQueue<String>(capacity: 4)
        queue.put("a")
        queue.put("b")
        queue.close()
        #expect(queue.put("c") == false)
        #expect(queue.take() == "a")
        #expect(queue.take() == "b")
        #expect(queue.take() == nil)
        #expect(queue.take() == nil)
    }

    /// Closing wakes a consumer waiting on an empty queue and a producer waiting on a full one.
    @Test func closeWakesWaiters() {
        let empty = BoundedQueue<Int>(capacity: 1)
        let taken = Locked<Int?>(-1)
        let consumer = WorkerThread(name: "consumer") { taken.withLock { $0 = empty.take() } }
        let full = BoundedQueue<Int>(capacity: 1)
        full.put(1)
        let accepted = Locked<Bool?>(nil)
        let producer = WorkerThread(name: "producer") { accepted.withLock { $0 = full.put(2) } }
        Time.sleep(millis: 50)
        empty.close()
        full.close()
        consumer.join()
        producer.join()
        #expect(taken.withLock { $0 } == nil)
        #expect(accepted.withLock { $0 } == false)
        #expect(full.take() == 1)
        #expect(full.take() == nil)
    }

    @Test func producerAndConsumerThreadsPassEveryItemInOrder() {
        let queue = BoundedQueue<Int>(capacity: 16)
        let count = 10_000
        let producer = WorkerThread(name: "producer") {
            for n in 0..<count { queue.put(n) }
            queue.close()
        }
        let received = Locked<[Int]>([])
        let consumer = WorkerThread(name: "consumer") {
            var items: [Int] = []
            while let item = queue.take() { items.append(item) }
            received.withLock { $0 = items }
        }
        #expect(producer.join() == nil)
        #expect(consumer.join() == nil)
        #expect(received.withLock { $0 } == Array(0..<count))
    }
}
