import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluicePostgres

/// The PostgreSQL sink against a real server (started by the test support; with CI=true a missing
/// PostgreSQL fails these tests).
@Suite(.enabled(if: PostgresServer.shouldRun)) struct PostgresSinkTests {
    @Test func insertCreatesTheTableWithDeclaredTypesAndLoads() throws {
        let pg = try PostgresFixture()
        let schema = TopicSchema(
            types: [
                "id": .int, "price": .decimal, "ratio": .float, "ok": .bool, "at": .timestamp, "day": .date,
                "doc": .json,
            ],
            key: ["id"])
        let sink = try pg.sink([], schemas: ["orders": schema])
        let failures = try sink.write(
            PostgresFixture.batch([
                #"{"id":1,"name":"a\tb","price":12.50,"ratio":0.5,"ok":true,"at":"2026-11-21T10:00:00Z","day":"2026-11-21","doc":{"x":[1,2]}}"#,
                #"{"id":2,"name":"back\\slash\nline","price":null,"ratio":1e3,"ok":false,"at":null,"day":null,"doc":null}"#,
            ]))
        try sink.flush()
        #expect(failures.isEmpty)
        let types = try pg.query(
            "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns "
                + "WHERE table_name = 'orders'")
        #expect(
            types
                == "id:bigint,name:text,price:numeric,ratio:double precision,ok:boolean,at:timestamp with time zone,"
                + "day:date,doc:jsonb")
        #expect(try pg.query("SELECT id, name, price, ok, doc->'x'->>1 FROM orders WHERE id = 1") == "1|a\tb|12.50|t|2")
        #expect(
            try pg.query("SELECT name, price IS NULL, ratio FROM orders WHERE id = 2") == "back\\slash\nline|t|1000")
        sink.stop()
    }
}

extension PostgresSinkTests {
    @Test func awkwardColumnNamesAreColumnsNotSQL() throws {
        let pg = try PostgresFixture()
        let sink = try pg.sink([])
        let value = #"{"Culmen Length (mm)":"39.1","a\"; DROP TABLE orders; --":"x","select":"y","Ünïcödé":"z"}"#
        let failures = try sink.write(PostgresFixture.batch([value]))
        try sink.flush()
        #expect(failures.isEmpty)
        let columns = try pg.query(
            "SELECT string_agg(column_name, '|' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'orders'"
        )
        #expect(columns == "Culmen Length (mm)|a\"; DROP TABLE orders; --|select|Ünïcödé")
        #expect(try pg.query("SELECT count(*) FROM orders") == "1")
        #expect(try pg.query(#"SELECT "a""; DROP TABLE orders; --" FROM orders"#) == "x")
        sink.stop()
    }

    @Test func eachBadRowIsDeadLetteredWithItsSQLStateAndTheRestLoads() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint PRIMARY KEY, code varchar(5), amount numeric NOT NULL)")
        let sink = try pg.sink([])
        var values = (1...20).map { #"{"id":\#($0),"code":"c\#($0)","amount":\#($0).5}"# }
        values[3] = #"{"id":4,"code":"toolong","amount":1}"#
        values[8] = #"{"id":9,"code":"ok","amount":null}"#
        values[12] = #"{"id":13,"code":"ok","amount":"twelve"}"#
        values[17] = #"{"id":2,"code":"dup","amount":1}"#
        let failures = try sink.write(PostgresFixture.batch(values))
        try sink.flush()
        let states = Dictionary(uniqueKeysWithValues: failures.map { ($0.offset, $0.error.errorClass) })
        #expect(states == [3: "postgres.22001", 8: "postgres.23502", 12: "postgres.22P02", 17: "postgres.23505"])
        #expect(failures.allSatisfy { $0.error.kind == .record })
        #expect(try pg.query("SELECT count(*), sum(id) FROM orders") == "16|166")
        sink.stop()
    }

    @Test func upsertKeepsTheLatestVersionPerKeyWithinAndAcrossBatches() throws {
        let pg = try PostgresFixture()
        let schema = TopicSchema(types: ["id": .int, "v": .int], key: ["id"])
        let sink = try pg.sink([("mode", .string("upsert"))], schemas: ["orders": schema])
        _ = try sink.write(
            PostgresFixture.batch([#"{"id":1,"v":1}"#, #"{"id":2,"v":1}"#, #"{"id":1,"v":2}"#, #"{"id":1,"v":3}"#]))
        try sink.flush()
        #expect(try pg.query("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM orders") == "1=3,2=1")
        _ = try sink.write(
            PostgresFixture.batch([#"{"id":2,"v":5}"#, #"{"id":3,"v":1}"#, #"{"id":2,"v":6}"#], first: 4))
        try sink.flush()
        #expect(try pg.query("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM orders") == "1=3,2=6,3=1")
        let before = try pg.query("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM orders")
        _ = try sink.write(
            PostgresFixture.batch([#"{"id":1,"v":3}"#, #"{"id":2,"v":6}"#, #"{"id":3,"v":1}"#], first: 7))
        try sink.flush()
        #expect(try pg.query("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM orders") == before)
        #expect(
            try pg.query("SELECT count(*) FROM pg_index WHERE indrelid = 'orders'::regclass AND indisprimary") == "1")
        sink.stop()
    }

    @Test func anUpsertsErrorNamesTheTableNotTheStagingTable() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint PRIMARY KEY, amount numeric NOT NULL)")
        let sink = try pg.sink([("mode", .string("upsert")), ("key_columns", .array([.string("id")]))])
        let failures = try sink.write(PostgresFixture.batch([#"{"id":1,"amount":1}"#, #"{"id":2,"amount":null}"#]))
        try sink.flush()
        #expect(failures.map(\.offset) == [1])
        let message = failures.first?.error.message ?? ""
        #expect(message.contains("orders") && !message.contains("sluice_stage"), "\(message)")
        sink.stop()
    }

    @Test func upsertDeadLettersBadRowsToo() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint PRIMARY KEY, code varchar(3), n int CHECK (n > 0))")
        let sink = try pg.sink([("mode", .string("upsert")), ("key_columns", .array([.string("id")]))])
        let failures = try sink.write(
            PostgresFixture.batch([
                #"{"id":1,"code":"a","n":1}"#, #"{"id":2,"code":"toolong","n":1}"#, #"{"id":3,"code":"c","n":-1}"#,
                #"{"id":4,"code":"d","n":4}"#,
            ]))
        try sink.flush()
        #expect(Set(failures.map(\.offset)) == [1, 2])
        #expect(failures.map(\.error.errorClass).sorted() == ["postgres.22001", "postgres.23514"])
        #expect(failures.allSatisfy { !$0.error.message.contains("sluice_stage") }, "\(failures)")
        #expect(try pg.query("SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "1,4")
        sink.stop()
    }

    @Test func unknownFieldsAreRecordErrorsUnlessIgnoredOrAdded() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint, name text)")
        let strict = try pg.sink([])
        let failures = try strict.write(
            PostgresFixture.batch([#"{"id":1,"name":"a"}"#, #"{"id":2,"name":"b","extra":1}"#]))
        try strict.flush()
        #expect(failures.map(\.offset) == [1])
        #expect(failures.first?.error.message.contains("has no column \"extra\"") == true)
        // The same record first in its batch is the same record error, not a reason to stop.
        let first = try strict.write(
            PostgresFixture.batch([#"{"id":5,"name":"e","extra":1}"#, #"{"id":6,"name":"f"}"#, "not json"]))
        try strict.flush()
        #expect(first.map(\.offset) == [0, 2])
        #expect(first.map(\.error.errorClass) == ["postgres.unknown_field", "postgres.not_an_object"])
        try pg.query("DELETE FROM orders WHERE id = 6")
        strict.stop()

        let ignoring = try pg.sink([("ignore_unknown_fields", .bool(true))])
        #expect(try ignoring.write(PostgresFixture.batch([#"{"id":3,"extra":1,"name":"c"}"#])).isEmpty)
        try ignoring.flush()
        ignoring.stop()

        let evolving = try pg.sink(
            [("auto_evolve", .bool(true))], schemas: ["orders": TopicSchema(types: ["extra": .int], key: [])])
        #expect(try evolving.write(PostgresFixture.batch([#"{"id":4,"name":"d","extra":7}"#])).isEmpty)
        try evolving.flush()
        evolving.stop()
        #expect(
            try pg.query(
                "SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'extra'"
            ) == "bigint")
        #expect(
            try pg.query("SELECT string_agg(id || ':' || coalesce(extra::text, '-'), ',' ORDER BY id) FROM orders")
                == "1:-,3:-,4:7")
    }

    @Test func aMissingTableWithoutAutoCreateAndMissingRightsAreFatal() throws {
        let pg = try PostgresFixture()
        let sink = try pg.sink([("auto_create", .bool(false)), ("table", .string("nowhere"))])
        do {
            _ = try sink.write(PostgresFixture.batch([#"{"id":1}"#]))
            Issue.record("expected a fatal error")
        } catch let error as ConnectorError {
            #expect(error.kind == .fatal)
            #expect(error.message.contains("table nowhere does not exist; create it or set auto_create"))
        }
        try pg.query("CREATE TABLE locked (id bigint); CREATE ROLE reader LOGIN")
        let members: [(key: String, value: JSONValue)] = [("table", .string("locked"))]
        let (options, _) = PostgresSink.spec.validate(
            [("connection", .string(pg.server.connectionString(database: pg.database).replacingUser("reader")))]
                + members,
            path: "sinks.pg")
        let denied = try PostgresSink(
            context: SinkContext(
                name: "pg", task: 0, options: options, topics: ["orders"], logger: .init(label: "test")))
        do {
            _ = try denied.write(PostgresFixture.batch([#"{"id":1}"#]))
            Issue.record("expected a fatal error")
        } catch let error as ConnectorError {
            #expect(error.kind == .fatal)
            #expect(error.errorClass == "postgres.42501")
            #expect(error.message.contains("grant"))
        }
    }

    @Test func aLostConnectionIsTransientAndTheBatchLoadsOnRetry() throws {
        let pg = try PostgresFixture()
        let sink = try pg.sink([])
        _ = try sink.write(PostgresFixture.batch([#"{"id":1}"#]))
        try sink.flush()
        try pg.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        let batch = PostgresFixture.batch([#"{"id":2}"#, #"{"id":3}"#], first: 1)
        do {
            _ = try sink.write(batch)
            try sink.flush()
            Issue.record("expected the lost connection to show")
        } catch let error as ConnectorError {
            #expect(error.kind == .transient)
        }
        sink.abort()
        #expect(try sink.write(batch).isEmpty)
        try sink.flush()
        #expect(try pg.query("SELECT string_agg(id::text, ',' ORDER BY id) FROM orders") == "1,2,3")
        sink.stop()
    }
}

extension String {
    func replacingUser(_ user: String) -> String {
        split(separator: " ").map { $0.hasPrefix("user=") ? "user=\(user)" : String($0) }.joined(separator: " ")
    }
}
