import Logging
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluicePostgres

/// The PostgreSQL sink's checks before a run: upsert needs key columns (no server needed), and, when
/// asked to connect, the server answers, each table exists with the rights the mode needs (or may be
/// created), upsert has a unique index on its key; no password is printed, and nothing is created.
@Suite struct PostgresPreflightTests {
    static func preflight(
        _ members: [(key: String, value: JSONValue)],
        topics: [String] = ["orders"],
        schemas: [String: TopicSchema] = [:],
        connect: Bool = true
    ) -> PreflightResult {
        let (options, problems) = PostgresSink.spec.validate(members, path: "sinks.pg")
        #expect(problems.isEmpty)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return PostgresSink.spec.preflight(
            PreflightContext(
                name: "pg", options: options, topics: topics, schemas: schemas, dataDirectory: "/nonexistent",
                connect: connect, logger: logger))
    }

    @Test func upsertWithoutKeyColumnsIsAProblem() {
        let upsert: [(key: String, value: JSONValue)] = [("mode", .string("upsert"))]
        let found = Self.preflight(upsert, topics: ["orders", "customers"], connect: false)
        #expect(found.problems.map(\.path) == ["sinks.pg.key_columns", "sinks.pg.key_columns"])
        #expect(found.problems.first?.message.hasPrefix(#"mode upsert needs key columns, and topic "orders""#) == true)
        let keyed = ["orders": TopicSchema(types: [:], key: ["id"])]
        #expect(Self.preflight(upsert, schemas: keyed, connect: false).problems.isEmpty)
        #expect(Self.preflight(upsert + [("key_columns", .array([.string("id")]))], connect: false).problems.isEmpty)
        #expect(Self.preflight([("mode", .string("insert"))], connect: false).problems.isEmpty)
    }
}

/// The checks that connect, against the private test server.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct PostgresConnectedPreflightTests {
    /// A role of its own for each test (roles belong to the whole server), with no rights yet.
    static func role(_ pg: PostgresFixture) throws -> String {
        let name = pg.database + "_loader"
        try pg.query("CREATE ROLE \(name) LOGIN")
        return name
    }

    static func preflight(
        _ pg: PostgresFixture, user: String? = nil, _ members: [(key: String, value: JSONValue)],
        schemas: [String: TopicSchema] = [:]
    ) -> PreflightResult {
        let connection = user.map { pg.connection.replacingUser($0) } ?? pg.connection
        return PostgresPreflightTests.preflight([("connection", .string(connection))] + members, schemas: schemas)
    }

    @Test func aServerThatCannotBeReachedIsAProblemWithoutThePassword() throws {
        let pg = try PostgresFixture()
        try PasswordRoles.install()
        let wrong = pg.connection.replacingUser(PasswordRoles.scram) + " passfile=/nonexistent password=wrong-hunter2"
        let refused = "host=127.0.0.1 port=1 user=loader password=hunter2-secret dbname=shop connect_timeout=2"
        for connection in [wrong, refused] {
            let found = PostgresPreflightTests.preflight([("connection", .string(connection))])
            #expect(found.problems.map(\.path) == ["sinks.pg.connection"])
            let message = found.problems.first?.message ?? ""
            #expect(message.hasPrefix("cannot connect to "), "\(message)")
            #expect(!message.contains("hunter2"), "\(message)")
        }
    }

    @Test func aMissingTableIsAProblemUnlessItMayBeCreated() throws {
        let pg = try PostgresFixture()
        let off = Self.preflight(pg, [("auto_create", .bool(false))])
        #expect(off.problems.map(\.path) == ["sinks.pg.topics"])
        #expect(off.problems.first?.message.contains("table orders does not exist") == true)
        let named = Self.preflight(pg, [("auto_create", .bool(false)), ("table", .string("sales.orders"))])
        #expect(named.problems.map(\.path) == ["sinks.pg.table"])

        let user = try Self.role(pg)
        let denied = Self.preflight(pg, user: user, [])
        #expect(denied.problems.first?.message.contains("may not create it in schema public") == true)
        #expect(denied.problems.first?.message.contains(#"GRANT CREATE ON SCHEMA "public" TO "\#(user)""#) == true)
        let noSchema = Self.preflight(pg, user: user, [("table", .string("sales.orders"))])
        #expect(noSchema.problems.first?.message.contains("(nor the schema sales)") == true)
        try pg.query("GRANT CREATE ON SCHEMA public TO \(user)")
        let allowed = Self.preflight(pg, user: user, [])
        #expect(allowed.problems.isEmpty)
        #expect(allowed.notes.first?.hasSuffix("; the run creates it") == true)
        #expect(try pg.query("SELECT to_regclass('orders') IS NULL") == "t", "the preflight creates nothing")
    }

    @Test func anExistingTableNeedsTheRightsOfTheMode() throws {
        let pg = try PostgresFixture()
        let user = try Self.role(pg)
        try pg.query("CREATE TABLE orders (id bigint, name text)")
        let insert = Self.preflight(pg, user: user, [])
        #expect(insert.problems.first?.message.contains("lacks INSERT on table orders") == true)
        #expect(insert.problems.first?.message.hasSuffix(#"GRANT INSERT ON "orders" TO "\#(user)""#) == true)
        try pg.query("GRANT INSERT ON orders TO \(user)")
        #expect(Self.preflight(pg, user: user, []).problems.isEmpty)

        let upsert: [(key: String, value: JSONValue)] = [
            ("mode", .string("upsert")), ("key_columns", .array([.string("id")])),
        ]
        let rights = Self.preflight(pg, user: user, upsert)
        #expect(rights.problems.first?.message.contains("lacks UPDATE, SELECT on table orders") == true)
        try pg.query("GRANT UPDATE, SELECT ON orders TO \(user)")
        let index = Self.preflight(pg, user: user, upsert)
        #expect(index.problems.map(\.path) == ["sinks.pg.key_columns"])
        #expect(index.problems.first?.message.contains("no primary key or unique index on exactly (id)") == true)
        let absent = Self.preflight(
            pg, user: user, [("mode", .string("upsert")), ("key_columns", .array([.string("sku")]))])
        #expect(absent.problems.first?.message == #"table orders has no column "sku" (a key column of upsert)"#)
        try pg.query("CREATE UNIQUE INDEX orders_id ON orders (id)")
        try pg.query("REVOKE TEMPORARY ON DATABASE \(pg.database) FROM PUBLIC")
        let temporary = Self.preflight(pg, user: user, upsert)
        #expect(temporary.problems.first?.message.contains("may not create temporary tables") == true)
        try pg.query("GRANT TEMPORARY ON DATABASE \(pg.database) TO \(user)")
        let ready = Self.preflight(pg, user: user, upsert)
        #expect(ready.problems.isEmpty)
        #expect(ready.notes.first?.hasSuffix("(2 columns); \(user) may insert and update") == true)

        // What the preflight passed is what the sink needs: an upsert by that user loads.
        let (options, _) = PostgresSink.spec.validate(
            [("connection", .string(pg.connection.replacingUser(user)))] + upsert, path: "sinks.pg")
        let sink = try PostgresSink(
            context: SinkContext(name: "pg", task: 0, options: options, topics: ["orders"], logger: .init(label: "t")))
        defer { sink.stop() }
        #expect(try sink.write(PostgresFixture.batch([#"{"id":1,"name":"a"}"#, #"{"id":1,"name":"b"}"#])).isEmpty)
        try sink.flush()
        #expect(try pg.query("SELECT name FROM orders") == "b")
    }

    @Test func theKeyOfTheTopicAndMappedColumnsCount() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (order_no bigint PRIMARY KEY, name text)")
        let mapped = Self.preflight(
            pg, [("mode", .string("upsert")), ("columns", .object([("id", .string("order_no"))]))],
            schemas: ["orders": TopicSchema(types: [:], key: ["id"])])
        #expect(mapped.problems.isEmpty)
        let view = Self.preflight(pg, [("table", .string("v"))])
        #expect(view.problems.isEmpty, "a missing table v may be created")
        try pg.query("CREATE VIEW v AS SELECT * FROM orders")
        #expect(
            Self.preflight(pg, [("table", .string("v"))]).problems.first?.message.contains("is not a table") == true)
    }
}
