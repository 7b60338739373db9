import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluicePostgres

/// The sink's commits are durable whatever the server's default: with synchronous_commit off, a server
/// crash would lose committed rows whose offsets had moved on.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct PostgresDurabilityTests {
    @Test func theSinksSessionCommitsSynchronouslyWhenTheDefaultIsOff() throws {
        let pg = try PostgresFixture()
        try pg.query("ALTER DATABASE \(pg.database) SET synchronous_commit = off")
        let sink = try pg.sink([])
        _ = try sink.write(PostgresFixture.batch([#"{"id":1}"#]))
        try sink.flush()
        #expect(try sink.connection.execute("SHOW synchronous_commit").first?.first == "local")
        // A stronger setting stays as it is.
        try pg.query("ALTER DATABASE \(pg.database) SET synchronous_commit = remote_write")
        let other = try pg.sink([])
        _ = try other.write(PostgresFixture.batch([#"{"id":2}"#]))
        try other.flush()
        #expect(try other.connection.execute("SHOW synchronous_commit").first?.first == "remote_write")
    }
}
