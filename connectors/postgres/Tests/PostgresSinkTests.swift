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
