import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluicePostgres

/// Tables that change under the sink: dropped mid-run, created for several topics in one batch, and
/// column names longer than PostgreSQL keeps.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct PostgresTableTests {
    @Test(arguments: ["insert", "upsert"])
    func aTableDroppedMidRunIsCreatedAgainWithAutoCreate(mode: String) throws {
        let pg = try PostgresFixture()
        let schema = TopicSchema(types: ["id": .int, "v": .int], key: ["id"])
        let sink = try pg.sink([("mode", .string(mode))], schemas: ["orders": schema])
        #expect(try sink.write(PostgresFixture.batch([#"{"id":1,"v":1}"#])).isEmpty)
        try sink.flush()
        try pg.query("DROP TABLE orders")
        #expect(try sink.write(PostgresFixture.batch([#"{"id":2,"v":2}"#, #"{"id":3,"v":3}"#], first: 1)).isEmpty)
        try sink.flush()
        #expect(try pg.query("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM orders") == "2=2,3=3")
        let type = "SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'v'"
        #expect(try pg.query(type) == "bigint")
        if mode == "upsert" {
            #expect(
                try pg.query("SELECT count(*) FROM pg_index WHERE indrelid = 'orders'::regclass AND indisprimary")
                    == "1")
        }
        sink.stop()
    }

    @Test func aTableDroppedMidRunWithoutAutoCreateIsFatalAndSaysSo() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint)")
        let sink = try pg.sink([("auto_create", .bool(false))])
        #expect(try sink.write(PostgresFixture.batch([#"{"id":1}"#])).isEmpty)
        try sink.flush()
        try pg.query("DROP TABLE orders")
        do {
            _ = try sink.write(PostgresFixture.batch([#"{"id":2}"#], first: 1))
            Issue.record("expected a fatal error")
        } catch let error as ConnectorError {
            #expect(error.kind == .fatal && error.message.contains("set auto_create"), "\(error.message)")
        }
        sink.stop()
    }

    /// Creating the second topic's table must not roll back what the first topic's rows did in the
    /// same transaction (it did: the first batch of a two-topic sink lost the first topic's rows).
    @Test func tablesCreatedOrEvolvedForSeveralTopicsInOneBatchKeepEveryTopicsRows() throws {
        let pg = try PostgresFixture()
        let sink = try pg.sink([("auto_evolve", .bool(true))], topics: ["a", "b"])
        let first =
            PostgresFixture.batch([#"{"id":1}"#, #"{"id":2}"#], topic: "a").partitions
            + PostgresFixture.batch([#"{"id":3}"#], topic: "b").partitions
        #expect(try sink.write(SinkBatch(partitions: first)).isEmpty)
        try sink.flush()
        #expect(try pg.query("SELECT (SELECT count(*) FROM a) || ',' || (SELECT count(*) FROM b)") == "2,1")
        let second =
            PostgresFixture.batch([#"{"id":4}"#], topic: "a", first: 2).partitions
            + PostgresFixture.batch([#"{"id":5,"extra":"x"}"#], topic: "b", first: 1).partitions
        #expect(try sink.write(SinkBatch(partitions: second)).isEmpty)
        try sink.flush()
        #expect(try pg.query("SELECT (SELECT count(*) FROM a) || ',' || (SELECT count(*) FROM b)") == "3,2")
        #expect(try pg.query("SELECT extra FROM b WHERE id = '5'") == "x")
        sink.stop()
    }

    /// Two tasks creating the same table at once, each inside its batch's transaction: the second waits
    /// for the first to commit, finds the table made, and loads.
    @Test func twoTasksCreatingTheSameTableAtOnceBothLoad() throws {
        let pg = try PostgresFixture()
        let schema = TopicSchema(types: ["id": .int], key: ["id"])
        let sinks = try (0..<2).map { _ in
            Unchecked(try pg.sink([("mode", .string("upsert"))], schemas: ["orders": schema]))
        }
        let calls = sinks.enumerated().map { task, sink in
            BackgroundCall {
                let values = (1...1000).map { #"{"id":\#($0 * 2 + task)}"# }
                _ = try sink.value.write(PostgresFixture.batch(values, partition: Int32(task)))
                try sink.value.flush()
            }
        }
        for call in calls {
            let outcome = call.wait(seconds: 60)
            #expect(outcome.finished && outcome.error == nil, "\(outcome)")
        }
        #expect(try pg.query("SELECT count(*) FROM orders") == "2000")
        for sink in sinks { sink.value.stop() }
    }

    static let longField = "average_monthly_recurring_revenue_per_customer_in_euros_before_tax"

    @Test func aColumnNameLongerThanPostgresKeepsIsRefusedWhenCreatingTheTable() throws {
        #expect(Self.longField.utf8.count == 66)
        let pg = try PostgresFixture()
        let sink = try pg.sink([])
        do {
            _ = try sink.write(PostgresFixture.batch([#"{"id":1,"\#(Self.longField)":2}"#]))
            Issue.record("expected a fatal error")
        } catch let error as ConnectorError {
            #expect(error.kind == .fatal && error.errorClass == "postgres.name_too_long")
            for part in ["\"\(Self.longField)\"", "66 bytes", "63", "columns"] {
                #expect(error.message.contains(part), "\(error.message)")
            }
        }
        sink.abort()
        #expect(try pg.query("SELECT to_regclass('orders') IS NULL") == "t")
        sink.stop()

        let renamed = try pg.sink([("columns", .object([(Self.longField, .string("mrr_eur"))]))])
        #expect(try renamed.write(PostgresFixture.batch([#"{"id":1,"\#(Self.longField)":2}"#])).isEmpty)
        try renamed.flush()
        #expect(try pg.query("SELECT mrr_eur FROM orders") == "2")
        renamed.stop()
    }

    @Test func autoEvolveRefusesALongColumnNameAndWithoutItTheRecordSaysWhy() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint)")
        let evolving = try pg.sink([("auto_evolve", .bool(true))])
        do {
            _ = try evolving.write(PostgresFixture.batch([#"{"id":1,"\#(Self.longField)":2}"#]))
            Issue.record("expected a fatal error")
        } catch let error as ConnectorError {
            #expect(error.kind == .fatal && error.message.contains("66 bytes"), "\(error.message)")
        }
        evolving.abort()
        evolving.stop()
        let strict = try pg.sink([])
        let failures = try strict.write(PostgresFixture.batch([#"{"id":1,"\#(Self.longField)":2}"#]))
        try strict.flush()
        #expect(failures.count == 1)
        #expect(failures.first?.error.message.contains("63 bytes") == true, "\(failures)")
        strict.stop()
    }
}
