import SluiceCore
import SluiceKit
import Testing

@testable import SluicePostgres

/// The parts of the PostgreSQL sink that need no server: the connection's state machine, error
/// sorting by SQLSTATE, COPY text encoding and identifier quoting.
@Suite struct PostgresUnitTests {
    @Test func theConnectionStateMachineSaysWhatToDoFirst() {
        var state = ConnectionState()
        #expect(state.beforeTransactionalWork() == .connect)
        state.connected()
        #expect(state.beforeTransactionalWork() == .begin)
        #expect(state.beforeStandaloneWork() == .proceed)
        state.began()
        #expect(state.beforeTransactionalWork() == .proceed)
        #expect(state.beforeStandaloneWork() == .rollback)
        state.statementFailed()
        #expect(state.phase == .failedTransaction)
        #expect(state.beforeTransactionalWork() == .rollback)
        state.recoveredToSavepoint()
        #expect(state.phase == .inTransaction)
        state.finishedTransaction()
        #expect(state.phase == .ready)
        state.lost()
        #expect(state.beforeStandaloneWork() == .connect)
    }

    @Test(arguments: [
        ("08006", false, PostgresError.Kind.transient), ("57P01", false, .transient), ("57P03", false, .transient),
        ("40001", false, .transient), ("40P01", false, .transient), ("53100", false, .transient),
        ("22001", false, .record), ("23505", false, .record), ("22P02", false, .record), ("23502", false, .record),
        ("42501", false, .fatal), ("42P01", false, .fatal), ("42703", false, .fatal), ("28P01", false, .fatal),
        ("", true, .transient), ("22001", true, .transient),
    ])
    func errorsAreSortedBySQLState(_ state: String, _ lost: Bool, _ kind: PostgresError.Kind) {
        let error = PostgresError(sqlState: state, message: "m", detail: nil, context: nil, connectionLost: lost)
        #expect(error.kind == kind)
    }

    @Test func theCopyLineComesFromTheErrorContext() {
        let error = PostgresError(
            sqlState: "22P02", message: "m", detail: nil, context: "COPY orders, line 17, column amount: \"x\"",
            connectionLost: false)
        #expect(error.copyLine == 17)
        #expect(
            PostgresError(sqlState: "23514", message: "m", detail: nil, context: nil, connectionLost: false).copyLine
                == nil)
        // A JSON value's error puts the JSON parser's own line above the COPY line.
        let json = PostgresError(
            sqlState: "22P02", message: "invalid input syntax for type json", detail: nil,
            context: "JSON data, line 1: {bad...\nCOPY jt, line 300, column j: \"{bad json\"", connectionLost: false)
        #expect(json.copyLine == 300)
        #expect(json.failedColumn == "j")
    }

    @Test func copyRowsEscapeAndPlaceFieldsByColumn() throws {
        var encoder = CopyEncoder(fields: ["a", "b", "c"])
        var out: [UInt8] = []
        let value = Array(#"{"c":"x\ty","a":"back\\slash\nz","b":null}"#.utf8)
        try value.withUnsafeBytes { try encoder.append($0, ignoreUnknown: false, to: &out) }
        #expect(String(decoding: out, as: UTF8.self) == "back\\\\slash\\nz\t\\N\tx\\ty\n")
        let extra = Array(#"{"a":1,"d":2}"#.utf8)
        #expect(throws: CopyEncoder.Failure.self) {
            try extra.withUnsafeBytes { try encoder.append($0, ignoreUnknown: false, to: &out) }
        }
    }

    @Test func identifiersAreQuoted() {
        #expect(SQL.identifier(#"a"; DROP TABLE x; --"#) == #""a""; DROP TABLE x; --""#)
        let (schema, table) = SQL.tableParts("shop.orders")
        #expect(SQL.qualified(schema: schema, table: table) == #""shop"."orders""#)
        #expect(SQL.qualified(schema: nil, table: "orders.dlq") == #""orders.dlq""#)
        #expect(SQL.columnType(.timestamp) == "timestamptz")
    }

    @Test func passwordsNeverAppearInErrors() throws {
        let (options, _) = PostgresSink.spec.validate(
            [("connection", .string("host=/nonexistent port=5999 user=loader password=hunter2-secret dbname=shop"))],
            path: "sinks.pg")
        let sink = try PostgresSink(
            context: SinkContext(
                name: "pg", task: 0, options: options, topics: ["orders"], logger: .init(label: "test")))
        var block = RecordBlock()
        block.append(Record(key: nil, value: Array(#"{"id":1}"#.utf8), offset: 0))
        let batch = SinkBatch(partitions: [
            PartitionRecords(topicPartition: TopicPartition("orders", 0), records: block)
        ])
        do {
            _ = try sink.write(batch)
            Issue.record("expected the connection to fail")
        } catch let error as ConnectorError {
            #expect(error.kind == .transient)
            #expect(!error.message.contains("hunter2"))
            #expect(!"\(error)".contains("hunter2"))
        }
    }

    @Test(arguments: [
        "postgresql://loader:Wr%zzong-hunter2@localhost/shop", "host=/tmp password=Wrong hunter2 dbname=shop",
        "host=/tmp password='hunter2",
    ])
    func aConnectionStringLibpqCannotReadIsAConfigErrorThatDoesNotQuoteIt(connection: String) {
        let (_, problems) = PostgresSink.spec.validate([("connection", .string(connection))], path: "sinks.pg")
        #expect(problems.map(\.path) == ["sinks.pg.connection"])
        #expect(problems.first?.message.contains("not a connection string libpq can read") == true)
        #expect(problems.allSatisfy { !$0.message.contains("hunter2") })
    }

    @Test func aRefusedConnectionsMessageLeavesThePasswordOut() {
        let connection = PostgresConnection(connectionString: "host=/tmp user=loader password=hunter2 dbname=shop")
        let error = connection.connectionError("FATAL:  role \"loader\" (hunter2) is not permitted to log in")
        #expect(!error.message.contains("hunter2") && error.message.contains("***"))
        #expect(error.sqlState.isEmpty && error.connectFailure == .rejected && error.kind == .fatal)
        let missing = connection.connectionError(#"FATAL:  database "shop" does not exist"#)
        #expect(missing.sqlState.isEmpty && missing.connectFailure == .unknownDatabase && missing.kind == .fatal)
        let starting = connection.connectionError("FATAL:  the database system is starting up")
        #expect(starting.kind == .transient)
        let url = PostgresConnection(connectionString: "postgresql://loader:hunter%32@localhost/shop")
        #expect(url.redacted("hunter2 or hunter%32") == "*** or ***")
    }

    @Test(arguments: [
        (socketFailed + #"FATAL:  password authentication failed for user "bob""#, ConnectFailure.authentication),
        (socketFailed + "fe_sendauth: no password supplied", .noPassword),
        (tcpFailed + #"FATAL:  role "bob" does not exist"#, .unknownRole),
        (tcpFailed + #"FATAL:  database "shop" does not exist"#, .unknownDatabase),
        (
            tcpFailed + #"FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "bob", database "shop", SSL off"#,
            .rejected
        ),
        (#"FATAL:  pg_hba.conf rejects connection for host "[local]", user "bob", database "shop""#, .rejected),
        (#"FATAL:  role "bob" is not permitted to log in"#, .rejected),
        (#"invalid sslmode value: "sometimes""#, .badOption),
        (#"invalid integer value "ten" for connection option "connect_timeout""#, .badOption),
        (tcpFailed + "server does not support SSL, but SSL was required", .ssl),
        (#"could not translate host name "nonexistent.invalid" to address: Name or service not known"#, .unreachable),
        (#"could not translate host name "role-does-not-exist.invalid" to address: Unknown host"#, .unreachable),
        (
            tcpFailed + "Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?",
            .unreachable
        ),
        (socketFailed + "No such file or directory", .unreachable),
        (tcpFailed + "FATAL:  the database system is starting up", .unreachable),
        (tcpFailed + "FATAL:  sorry, too many clients already", .unreachable),
        (tcpFailed + "server closed the connection unexpectedly", .unreachable),
        ("timeout expired", .unreachable),
        // A message in a language the rules do not know is retried, never guessed fatal.
        ("FATAL:  Passwort-Authentifizierung für Benutzer »bob« fehlgeschlagen", .unreachable),
    ])
    func connectionFailuresAreSortedByTheirMessageWithoutAnInventedSQLState(message: String, expected: ConnectFailure) {
        #expect(ConnectFailure.classify(message, needsPassword: false) == expected)
        let error = PostgresConnection(connectionString: "").connectionError(message)
        #expect(error.sqlState.isEmpty && !error.description.contains("SQLSTATE"))
        #expect(error.kind == (expected.isFatal ? .fatal : .transient))
    }
}

private let socketFailed = #"connection to server on socket "/tmp/s/.s.PGSQL.5432" failed: "#
private let tcpFailed = #"connection to server at "db" (10.0.0.5), port 5432 failed: "#
