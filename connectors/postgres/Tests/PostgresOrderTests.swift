import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluicePostgres

/// The order a batch's rows go to their table in (`RowOrder`) and the COPY text they become, without a
/// server: every record exactly once, in key order whatever the chunks' order, ties and records
/// without a key in batch order.
@Suite struct RowOrderTests {
    /// A chunk of one partition whose records have the JSON values `values` (nil: a tombstone).
    static func chunk(_ values: [String?], topic: String = "t", partition: Int32 = 0, first: Int64 = 0)
        -> PartitionRecords
    {
        var block = RecordBlock()
        for (i, value) in values.enumerated() {
            block.append(Record(key: nil, value: value.map { Array($0.utf8) }, timestamp: 0, offset: first + Int64(i)))
        }
        return PartitionRecords(topicPartition: TopicPartition(topic, partition), records: block)
    }

    /// The values of `order`'s records, in its order.
    static func values(_ order: RowOrder, _ chunks: [PartitionRecords]) -> [String?] {
        order.records.map { record in
            chunks[Int(record.chunk)].records.value(Int(record.index)).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    @Test func chunksInKeyOrderAreMergedAndTiesKeepBatchOrder() {
        let chunks = [
            Self.chunk([#"{"id":1,"v":"a"}"#, #"{"id":4,"v":"a"}"#, #"{"id":9,"v":"a"}"#]),
            Self.chunk([#"{"v":"b","id":2}"#, #"{"id":4,"v":"b"}"#, #"{"id":10,"v":"b"}"#], partition: 1),
            Self.chunk([#"{"id":-3,"v":"c"}"#, #"{"id":4,"v":"c"}"#], partition: 2),
        ]
        let order = RowOrder(chunks, keys: ["id"], comparisons: [.integer])
        #expect(
            Self.values(order, chunks) == [
                #"{"id":-3,"v":"c"}"#, #"{"id":1,"v":"a"}"#, #"{"v":"b","id":2}"#, #"{"id":4,"v":"a"}"#,
                #"{"id":4,"v":"b"}"#, #"{"id":4,"v":"c"}"#, #"{"id":9,"v":"a"}"#, #"{"id":10,"v":"b"}"#,
            ])
        #expect(order.keyCount == 1)
        #expect(order.hasEqualNeighbours)
    }

    @Test func integersCompareAsNumbersAndTextByteByByte() {
        let numbers = [Self.chunk([#"{"id":"10"}"#, #"{"id":9}"#, #"{"id":"-11"}"#, #"{"id":100}"#])]
        #expect(
            Self.values(RowOrder(numbers, keys: ["id"], comparisons: [.integer]), numbers) == [
                #"{"id":"-11"}"#, #"{"id":9}"#, #"{"id":"10"}"#, #"{"id":100}"#,
            ])
        #expect(
            Self.values(RowOrder(numbers, keys: ["id"], comparisons: [.text]), numbers) == [
                #"{"id":"-11"}"#, #"{"id":"10"}"#, #"{"id":100}"#, #"{"id":9}"#,
            ])
        let decimals = [Self.chunk([#"{"x":2.5}"#, #"{"x":-0.25}"#, #"{"x":"1e1"}"#, #"{"x":2.25}"#])]
        #expect(
            Self.values(RowOrder(decimals, keys: ["x"], comparisons: [.number]), decimals) == [
                #"{"x":-0.25}"#, #"{"x":2.25}"#, #"{"x":2.5}"#, #"{"x":"1e1"}"#,
            ])
    }

    @Test func longTextsThatShareTheirFirstBytesAndEscapesCompareWhole() {
        let chunks = [
            Self.chunk([
                #"{"k":"2026-08-17T02:31:31Z"}"#, #"{"k":"2026-08-17T02:31:30Z"}"#, #"{"k":"2026-08-1"}"#,
                #"{"k":"2026-08-17T02:31:30"}"#, #"{"k":"2026-08-17T02:31:3\u0030Z"}"#,
            ])
        ]
        let order = RowOrder(chunks, keys: ["k"], comparisons: [.text])
        #expect(
            Self.values(order, chunks) == [
                #"{"k":"2026-08-1"}"#, #"{"k":"2026-08-17T02:31:30"}"#, #"{"k":"2026-08-17T02:31:30Z"}"#,
                #"{"k":"2026-08-17T02:31:3\u0030Z"}"#, #"{"k":"2026-08-17T02:31:31Z"}"#,
            ])
        // An escape spelled differently is the same key.
        #expect(order.hasEqualNeighbours)
    }

    @Test func aCompositeKeyComparesColumnByColumn() {
        let chunks = [
            Self.chunk([#"{"a":2,"b":"x"}"#, #"{"a":1,"b":"y"}"#]),
            Self.chunk([#"{"b":"x","a":1}"#, #"{"a":2,"b":"w"}"#], partition: 1),
        ]
        let order = RowOrder(chunks, keys: ["a", "b"], comparisons: [.integer, .text])
        #expect(
            Self.values(order, chunks) == [
                #"{"b":"x","a":1}"#, #"{"a":1,"b":"y"}"#, #"{"a":2,"b":"w"}"#, #"{"a":2,"b":"x"}"#,
            ])
        #expect(!order.hasEqualNeighbours)
    }

    @Test func recordsWithoutTheKeyComeFirstInBatchOrder() {
        let chunks = [
            Self.chunk([#"{"id":3}"#, nil, #"{"other":1}"#, "not json", #"{"id":null}"#, #"{"id":1}"#])
        ]
        let order = RowOrder(chunks, keys: ["id"], comparisons: [.integer])
        #expect(
            Self.values(order, chunks) == [
                nil, #"{"other":1}"#, "not json", #"{"id":null}"#, #"{"id":1}"#, #"{"id":3}"#,
            ])
    }

    /// Random batches of several chunks, sorted or not, with repeated keys: the order holds every record
    /// once, is in key order, and keeps batch order among equal keys.
    @Test func everyRecordOnceInKeyOrderForRandomBatches() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let chunkCount = Int.random(in: 1...6, using: &random)
            let sorted = Bool.random(using: &random)
            var chunks: [PartitionRecords] = []
            var expected: [(key: Int, position: Int, value: String)] = []
            for c in 0..<chunkCount {
                var keys = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                    Int.random(in: -50...50, using: &random)
                }
                if sorted { keys.sort() }
                let values = keys.enumerated().map { #"{"n":\#($0.offset),"id":\#($0.element),"c":\#(c)}"# }
                for (i, value) in values.enumerated() { expected.append((keys[i], expected.count, value)) }
                chunks.append(Self.chunk(values, partition: Int32(c % 3)))
            }
            let order = RowOrder(chunks, keys: ["id"], comparisons: [.integer])
            let want = expected.sorted { ($0.key, $0.position) < ($1.key, $1.position) }
            #expect(Self.values(order, chunks) == want.map(\.value))
            #expect(order.hasEqualNeighbours == (Set(expected.map(\.key)).count < expected.count))
        }
    }
}

/// COPY text as the encoder writes it: the same bytes as undoing the JSON escapes and then escaping for
/// COPY, done in one pass.
@Suite struct CopyEncoderTests {
    /// What `write` writes into room for `capacity` bytes.
    static func written(_ capacity: Int, _ write: (UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8>)
        -> [UInt8]
    {
        var out = [UInt8](repeating: 0, count: capacity)
        let count = out.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { $0.distance(to: write($0)) } ?? 0
        }
        return Array(out[..<count])
    }

    /// The COPY text of a JSON string's inside, the slow way.
    static func slow(_ json: [UInt8]) -> [UInt8] {
        var text: [UInt8] = []
        json.withUnsafeBytes { JSONObjectScanner.appendUnescaped($0, 0..<json.count, to: &text) }
        return text.withUnsafeBytes { text in written(2 * text.count) { CopyEncoder.escape(text, to: $0) } }
    }

    static func fast(_ json: [UInt8]) -> [UInt8] {
        json.withUnsafeBytes { json in written(2 * json.count) { CopyEncoder.transcode(json, to: $0) } }
    }

    @Test(arguments: [
        #"plain"#, #"tab\there"#, #"new\nline\r\n"#, #"back\\slash"#, #"quote\"s and \/ slash"#, #"\b\f"#,
        #"\u0041\u00e9\u20ac"#, #"\ud83d\ude00 pair"#, #"\ud83d lone"#, #"\u005c\u0009\u000a\u000d"#, #"\u0000"#,
        #"bad \uZZZZ"#, #"short \u12"#, #"trailing \"#, "ünïcödé raw",
    ])
    func escapedStringsBecomeTheSameCopyTextInOnePass(_ json: String) {
        #expect(Self.fast(Array(json.utf8)) == Self.slow(Array(json.utf8)))
    }

    @Test func randomEscapedStringsBecomeTheSameCopyText() {
        let pieces = [
            "a", "é", #"\n"#, #"\t"#, #"\r"#, #"\\"#, #"\""#, #"\/"#, #"\b"#, #"\f"#, #"\u0009"#, #"\u005C"#,
            #"\u00e9"#, #"\ud83d\ude00"#, #"\ud800"#, #"\x"#, " ", ",",
        ]
        for _ in 0..<500 {
            let json = (0..<Int.random(in: 0...12)).map { _ in pieces.randomElement() ?? "" }.joined()
            #expect(Self.fast(Array(json.utf8)) == Self.slow(Array(json.utf8)), "\(json)")
        }
    }

    @Test func rowsKeepColumnsNullsAndEscapesAcrossManyRows() throws {
        var encoder = CopyEncoder(fields: ["id", "name", "n", "doc"])
        var text = CopyText(capacity: 8)
        var expected = ""
        for i in 0..<2000 {
            let value = #"{"doc":{"a":[1,"x\\y"]},"id":\#(i),"name":"r\#(i)\tq\"","n":null}"#
            try Array(value.utf8).withUnsafeBytes { try encoder.append($0, ignoreUnknown: false, to: &text) }
            expected += "\(i)\tr\(i)\\tq\"\t\\N\t{\"a\":[1,\"x\\\\\\\\y\"]}\n"
        }
        #expect(text.withRows { String(decoding: $0, as: UTF8.self) } == expected)
        let before = text.count
        #expect(throws: CopyEncoder.Failure.self) {
            try Array(#"{"id":1,"zzz":2}"#.utf8).withUnsafeBytes {
                try encoder.append($0, ignoreUnknown: false, to: &text)
            }
        }
        #expect(text.count == before)
    }
}

/// Rows go to the table in its primary key's order, whatever the topic is keyed by, and everything the
/// sink promised still holds: every row once, the latest per key in upserts, refused rows reported in
/// batch order.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct PostgresOrderTests {
    /// A batch of chunks of topic `orders`, one per element of `partitions` (partition, first offset,
    /// values).
    static func batch(_ partitions: [(Int32, Int64, [String?])]) -> SinkBatch {
        SinkBatch(
            partitions: partitions.map { RowOrderTests.chunk($0.2, topic: "orders", partition: $0.0, first: $0.1) })
    }

    /// How many rows of the table lie before a row with a smaller `id` (in the order they were written).
    static let outOfOrder =
        "SELECT count(*) FROM (SELECT id, lag(id) OVER (ORDER BY ctid) AS prev FROM orders) x WHERE id < prev"

    /// Rows of `ids`, keyed (in the topic) by customer.
    static func rows(_ ids: [Int]) -> [String?] {
        ids.map { #"{"id":\#($0),"customer":"C\#(($0 * 7919) % 97)","n":\#($0 % 5)}"# }
    }

    @Test(arguments: [true, false])
    func insertLoadsRowsInPrimaryKeyOrderWhateverTheTopicIsKeyedBy(chunksSorted: Bool) throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, n int)")
        let schema = TopicSchema(types: ["id": .int, "n": .int], key: ["customer"])
        let sink = try pg.sink([], schemas: ["orders": schema])
        // Three partitions of one stretch of ids, as a topic keyed by customer spreads a file.
        var parts: [[Int]] = [[], [], []]
        for id in 1...3000 { parts[(id * 7919) % 97 % 3].append(id) }
        if !chunksSorted { parts = parts.map { $0.shuffled() } }
        let failures = try sink.write(
            Self.batch(parts.enumerated().map { (Int32($0.offset), 0, Self.rows($0.element)) }))
        try sink.flush()
        #expect(failures.isEmpty)
        #expect(try pg.query("SELECT count(*), sum(id) FROM orders") == "3000|4501500")
        #expect(try pg.query(Self.outOfOrder) == "0")
        sink.stop()
    }

    @Test func aTextOrCompositeKeyOrdersTheRowsToo() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (region varchar(8), id bigint, v text, PRIMARY KEY (region, id))")
        let sink = try pg.sink([])
        let values = (1...500).shuffled().map { #"{"v":"x","id":\#($0),"region":"r\#($0 % 3)"}"# }
        let failures = try sink.write(Self.batch([(0, 0, Array(values[..<250])), (1, 0, Array(values[250...]))]))
        try sink.flush()
        #expect(failures.isEmpty)
        #expect(
            try pg.query(
                "SELECT count(*) FROM (SELECT region, id, lag(region) OVER w AS r, lag(id) OVER w AS i FROM orders "
                    + "WINDOW w AS (ORDER BY ctid)) x WHERE (region, id) < (r, i)") == "0")
        #expect(try pg.query("SELECT count(*) FROM orders") == "500")
        sink.stop()
    }

    @Test func aTableWithoutAKeyTakesTheBatchAsItIs() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint, customer text, n int)")
        let sink = try pg.sink([])
        let failures = try sink.write(Self.batch([(0, 0, Self.rows([5, 3, 9])), (1, 0, Self.rows([1, 2]))]))
        try sink.flush()
        #expect(failures.isEmpty)
        #expect(try pg.query("SELECT string_agg(id::text, ',' ORDER BY ctid) FROM orders") == "5,3,9,1,2")
        sink.stop()
    }

    /// A key twice in a batch: within a partition the later offset wins, across partitions the later
    /// chunk, as before the rows were put in key order; the table's key is not the topic's.
    @Test func upsertKeepsTheLatestRecordPerKeyInKeyOrder() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint PRIMARY KEY, customer text, n int)")
        try pg.query("INSERT INTO orders VALUES (2, 'old', 0), (7, 'old', 0)")
        let schema = TopicSchema(types: ["id": .int, "n": .int], key: ["customer"])
        let sink = try pg.sink(
            [("mode", .string("upsert")), ("key_columns", .array([.string("id")]))], schemas: ["orders": schema])
        let batch = Self.batch([
            (
                0, 10,
                [
                    #"{"id":5,"customer":"a","n":1}"#, #"{"id":2,"customer":"a","n":1}"#,
                    #"{"id":5,"customer":"a","n":2}"#,
                ]
            ),
            (
                1, 20,
                [
                    #"{"id":9,"customer":"b","n":1}"#, #"{"id":5,"customer":"b","n":3}"#,
                    #"{"id":1,"customer":"b","n":1}"#,
                ]
            ),
        ])
        #expect(try sink.write(batch).isEmpty)
        try sink.flush()
        #expect(
            try pg.query("SELECT string_agg(id || '=' || customer || n, ',' ORDER BY id) FROM orders")
                == "1=b1,2=a1,5=b3,7=old0,9=b1")
        // Without repeated keys the fast path loads them, in key order.
        #expect(try sink.write(Self.batch([(0, 13, Self.rows([40, 30])), (1, 23, Self.rows([35, 20]))])).isEmpty)
        try sink.flush()
        #expect(
            try pg.query("SELECT string_agg(id || '=' || n, ',' ORDER BY id) FROM orders WHERE id >= 20")
                == "20=0,30=0,35=0,40=0")
        #expect(sink.flushedCounts?.inserted == 4 && sink.flushedCounts?.updated == 0)
        sink.stop()
    }

    @Test(arguments: ["insert", "upsert"])
    func refusedRowsAreReportedInBatchOrderAndTheRestLoads(mode: String) throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint PRIMARY KEY, customer text, n int NOT NULL CHECK (n < 4))")
        let sink = try pg.sink([("mode", .string(mode)), ("key_columns", .array([.string("id")]))])
        let ids = Array((1...400).shuffled())
        let failures = try sink.write(
            Self.batch([(0, 0, Self.rows(Array(ids[..<200]))), (1, 0, Self.rows(Array(ids[200...])))]))
        try sink.flush()
        let bad = ids.enumerated().filter { $0.element % 5 == 4 }
        #expect(
            failures.map { "\($0.topicPartition.partition)@\($0.offset)" }
                == bad.map { "\($0.offset / 200)@\($0.offset % 200)" })
        #expect(try pg.query("SELECT count(*) FROM orders") == "\(400 - bad.count)")
        #expect(try pg.query(Self.outOfOrder) == "0")
        sink.stop()
    }
}
