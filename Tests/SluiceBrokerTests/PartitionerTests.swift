import SluiceBroker
import SluiceCore
import SluiceTestSupport
import Testing

@Suite struct PartitionerTests {
    /// The vectors of Kafka's `UtilsTest.testMurmur2`.
    static let kafkaVectors: [(String, Int32)] = [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
        ("abc", 479_470_107),
    ]

    /// Partitions of 1000 that Kafka's Java producer picks for these keys, as kafka-python's
    /// `test_murmur2_java_compatibility` records them; they cover every tail length and an empty key.
    static let javaPartitionsOf1000: [([UInt8], Int32)] = [
        ([], 681),
        ([0x61], 524),
        ([0x61, 0x62], 434),
        ([0x61, 0x62, 0x63], 107),
        (Array("123456789".utf8), 566),
        ([0x00, 0x20], 742),
    ]

    @Test(arguments: kafkaVectors)
    func murmur2MatchesKafka(key: String, expected: Int32) {
        #expect(Murmur2.hash(Array(key.utf8)) == expected)
        #expect(Murmur2.hash(key.utf8) == expected)
    }

    @Test(arguments: javaPartitionsOf1000)
    func keyedPartitionMatchesJavaProducer(key: [UInt8], expected: Int32) {
        let partitioner = Partitioner(partitions: 1_000)
        let partition = key.withUnsafeBytes { partitioner.partition(forKey: $0) }
        #expect(partition == expected)
        #expect(Murmur2.toPositive(Murmur2.hash(key)) % 1_000 == expected)
    }

    @Test func toPositiveClearsTheSignBit() {
        #expect(Murmur2.toPositive(0) == 0)
        #expect(Murmur2.toPositive(5) == 5)
        #expect(Murmur2.toPositive(Int32.max) == Int32.max)
        #expect(Murmur2.toPositive(-1) == Int32.max)
        #expect(Murmur2.toPositive(Int32.min) == 0)
        #expect(Murmur2.toPositive(-973_932_308) == 1_173_551_340)
    }

    @Test(arguments: [1, 3, 6, 7, 100] as [Int32])
    func keyedPartitionIsPositiveHashModuloCount(partitions: Int32) {
        let partitioner = Partitioner(partitions: partitions, start: 2)
        for (key, hash) in Self.kafkaVectors {
            let partition = Array(key.utf8).withUnsafeBytes { partitioner.partition(forKey: $0) }
            #expect(partition == Murmur2.toPositive(hash) % partitions)
        }
        for i in 0..<200 {
            let key = Array("key-\(i)".utf8)
            let partition = key.withUnsafeBytes { partitioner.partition(forKey: $0) }
            #expect(partition == Murmur2.toPositive(Murmur2.hash(key)) % partitions)
            #expect((0..<partitions).contains(partition))
        }
    }

    @Test func keylessRecordsStickUntilTheNextBatch() {
        var partitioner = Partitioner(partitions: 3, start: 1)
        #expect(partitioner.partition(forKey: nil) == 1)
        #expect(partitioner.partition(forKey: nil) == 1)
        var seen: [Int32] = []
        for _ in 0..<6 {
            seen.append(partitioner.stickyPartition)
            partitioner.nextBatch()
        }
        #expect(seen == [1, 2, 0, 1, 2, 0])
        #expect(Partitioner(partitions: 4, start: 9).stickyPartition == 1)
    }

    @Test func partitionCountChangeKeepsTheStickyPartitionInRange() {
        var partitioner = Partitioner(partitions: 8, start: 7)
        partitioner.update(partitions: 4)
        #expect(partitioner.partitions == 4)
        #expect(partitioner.stickyPartition == 3)
        let key = Array("foobar".utf8)
        #expect(key.withUnsafeBytes { partitioner.partition(forKey: $0) } == Murmur2.toPositive(-790_332_482) % 4)
    }

    @Test func producerSendsKeyedRecordsToTheirHashPartition() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("keyed", config: TopicConfig(partitions: 6))
        let block = BrokerTestSupport.block(120, tag: "order")
        let producer = try Producer(broker: broker, topic: "keyed")
        for index in 0..<block.count {
            let key = try #require(block.key(index))
            #expect(producer.partition(of: block, at: index) == Murmur2.toPositive(Murmur2.hash(key)) % 6)
        }
        let results = try producer.send(block)
        #expect(results.reduce(0) { $0 + $1.records } == 120)
        var total = 0
        for partition in 0..<Int32(6) {
            let records = try BrokerTestSupport.readAll(broker, TopicPartition("keyed", partition))
            total += records.count
            for record in records {
                let key = try #require(record.key)
                #expect(Murmur2.toPositive(Murmur2.hash(key)) % 6 == partition)
            }
            let result = results.first { $0.partition == partition }
            #expect(result?.records ?? 0 == records.count)
        }
        #expect(total == 120)
        // The same keys go to the same partitions on the next send.
        let again = try producer.send(block)
        #expect(again.map(\.partition) == results.map(\.partition))
        #expect(again.map(\.records) == results.map(\.records))
    }

    @Test func producerRotatesKeylessBatchesRoundRobin() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("keyless", config: TopicConfig(partitions: 4))
        let producer = try Producer(broker: broker, topic: "keyless")
        var partitions: [Int32] = []
        for send in 0..<8 {
            let results = try producer.send(BrokerTestSupport.block(25, tag: "s\(send)", keyed: false))
            #expect(results.count == 1)
            #expect(results.first?.records == 25)
            #expect(results.first.map { $0.lastOffset - $0.baseOffset } == 24)
            partitions.append(try #require(results.first?.partition))
        }
        let first = try #require(partitions.first)
        #expect(partitions == (0..<8).map { (first + Int32($0)) % 4 })
        for partition in 0..<Int32(4) {
            let records = try BrokerTestSupport.readAll(broker, TopicPartition("keyless", partition))
            #expect(records.count == 50)
            // Each partition holds whole sends: two blocks of 25, in order.
            let tags = Set(
                records.map { BrokerTestSupport.text($0).split(separator: "-").first.map(String.init) ?? "" })
            #expect(tags.count == 2)
        }
    }

    @Test func mixedBlockSplitsKeyedRecordsAndKeepsKeylessOnesTogether() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("mixed", config: TopicConfig(partitions: 5))
        let producer = try Producer(broker: broker, topic: "mixed")
        var block = RecordBlock()
        for i in 0..<40 { block.append(Record(key: i.isMultiple(of: 2) ? "k\(i)" : nil, value: "v\(i)")) }
        let keylessPartitions = (0..<block.count).filter { block.key($0) == nil }.map {
            producer.partition(of: block, at: $0)
        }
        #expect(Set(keylessPartitions).count == 1)
        try producer.send(block)
        var keyless = 0
        for partition in 0..<Int32(5) {
            for record in try BrokerTestSupport.readAll(broker, TopicPartition("mixed", partition)) {
                if let key = record.key {
                    #expect(Murmur2.toPositive(Murmur2.hash(key)) % 5 == partition)
                } else {
                    #expect(partition == keylessPartitions.first)
                    keyless += 1
                }
            }
        }
        #expect(keyless == 20)
    }

    @Test func producerFollowsARaisedPartitionCount() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.path)
        try broker.createTopic("growing", config: TopicConfig(partitions: 2))
        let producer = try Producer(broker: broker, topic: "growing")
        try producer.send(BrokerTestSupport.block(20))
        try broker.setPartitionCount("growing", to: 7, allowKeyRemap: true)
        let results = try producer.send(BrokerTestSupport.block(200, tag: "later"))
        #expect(Set(results.map(\.partition)).isSubset(of: Set(0..<7)))
        #expect(results.contains { $0.partition >= 2 })
        for partition in 2..<Int32(7) {
            for record in try BrokerTestSupport.readAll(broker, TopicPartition("growing", partition)) {
                let key = try #require(record.key)
                #expect(Murmur2.toPositive(Murmur2.hash(key)) % 7 == partition)
            }
        }
    }
}
