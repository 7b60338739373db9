import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluicePostgres

/// Tombstones in upsert mode delete the row with their key; the last record of a key in a batch wins.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct PostgresDeleteTests {
    /// A batch of one partition: (key, value) pairs, a nil value being a tombstone.
    static func batch(_ records: [(String?, String?)], first: Int64 = 0) -> SinkBatch {
        var block = RecordBlock()
        for (i, (key, value)) in records.enumerated() {
            block.append(
                Record(
                    key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) }, timestamp: 0,
                    offset: first + Int64(i)))
        }
        return SinkBatch(partitions: [PartitionRecords(topicPartition: TopicPartition("orders", 0), records: block)])
    }

    static func row(_ id: Int, _ v: Int) -> (String?, String?) { ("\(id)", #"{"id":\#(id),"v":\#(v)}"#) }

    @Test func aTombstoneDeletesItsRowAndTheLastRecordOfAKeyWins() throws {
        let pg = try PostgresFixture()
        let sink = try pg.sink([("mode", .string("upsert")), ("key_columns", .array([.string("id")]))])
        _ = try sink.write(Self.batch((1...5).map { Self.row($0, 1) }))
        try sink.flush()
        let failures = try sink.write(
            Self.batch(
                [("2", nil), Self.row(3, 2), ("4", nil), Self.row(4, 2), Self.row(6, 2), ("6", nil)], first: 5))
        try sink.flush()
        #expect(failures.isEmpty)
        #expect(try pg.query("SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM orders") == "1:1,3:2,4:2,5:1")
        // Key 4's tombstone is followed by a row: it deletes nothing, and the row updates.
        #expect(sink.flushedCounts == SinkWriteCounts(inserted: 0, updated: 2, deleted: 1))
        // A batch of tombstones alone.
        _ = try sink.write(Self.batch([("1", nil), ("5", nil)], first: 11))
        try sink.flush()
        #expect(try pg.query("SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "3,4")
    }

    /// A tombstone whose key PostgreSQL cannot take for the key column (a text for a bigint) is a record
    /// error; the other deletes and rows of the batch go on.
    @Test func aTombstoneWhoseKeyTheColumnRefusesIsARecordError() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint PRIMARY KEY, v int)")
        let sink = try pg.sink([("mode", .string("upsert")), ("key_columns", .array([.string("id")]))])
        _ = try sink.write(Self.batch((1...3).map { Self.row($0, 1) }))
        try sink.flush()
        let failures = try sink.write(Self.batch([("abc", nil), ("1", nil), Self.row(4, 1), ("", nil)], first: 3))
        try sink.flush()
        #expect(failures.map(\.offset) == [3, 6])
        #expect(failures.allSatisfy { $0.error.errorClass == "postgres.22P02" && $0.error.kind == .record })
        #expect(try pg.query("SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "2,3,4")
    }

    @Test func aTombstoneWithoutAUsableKeyIsARecordError() throws {
        let pg = try PostgresFixture()
        let sink = try pg.sink([("mode", .string("upsert")), ("key_columns", .array([.string("id")]))])
        let failures = try sink.write(Self.batch([Self.row(1, 1), (nil, nil)]))
        try sink.flush()
        #expect(failures.map(\.offset) == [1])
        #expect(failures.first?.error.errorClass == "postgres.tombstone_key")
        #expect(try pg.query("SELECT count(*) FROM orders") == "1")
    }

    /// Several key columns: from a JSON object key by name, or from the key's texts between separators.
    @Test func severalKeyColumnsComeFromAJSONKeyOrTheSeparator() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (region text, id bigint, v int, PRIMARY KEY (region, id))")
        let sink = try pg.sink([
            ("mode", .string("upsert")), ("key_columns", .array([.string("region"), .string("id")])),
        ])
        let rows = (1...3).map { id in ("x", #"{"region":"north","id":\#(id),"v":1}"#) as (String?, String?) }
        _ = try sink.write(Self.batch(rows))
        try sink.flush()
        _ = try sink.write(Self.batch([("north|1", nil), (#"{"region":"north","id":2}"#, nil)], first: 3))
        try sink.flush()
        #expect(try pg.query("SELECT string_agg(region || id, ',') FROM orders") == "north3")
    }

    @Test func insertModeStillDeadLettersTombstones() throws {
        let pg = try PostgresFixture()
        let sink = try pg.sink([("mode", .string("insert"))])
        let failures = try sink.write(Self.batch([Self.row(1, 1), ("1", nil)]))
        try sink.flush()
        #expect(failures.map(\.error.errorClass) == ["postgres.null_value"])
    }
}
