import Foundation
import Glibc
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluicePostgres

/// Failed connections against the real server, sorted as DESIGN.md asks: what the user must fix
/// (a password, a role, a database, pg_hba.conf) is fatal at once, a host that does not resolve or a
/// server that is down is transient, no SQLSTATE is made up, and no password is ever printed.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct PostgresConnectionFailureTests {
    /// The error of a sink's first write over `connection`.
    static func writeError(_ connection: String) throws -> ConnectorError? {
        let (options, problems) = PostgresSink.spec.validate([("connection", .string(connection))], path: "sinks.pg")
        #expect(problems.isEmpty)
        let sink = try PostgresSink(
            context: SinkContext(name: "pg", task: 0, options: options, topics: ["orders"], logger: .init(label: "t")))
        defer { sink.stop() }
        do {
            _ = try sink.write(PostgresFixture.batch([#"{"id":1}"#]))
            return nil
        } catch let error as ConnectorError {
            return error
        }
    }

    /// `connection` of the fixture as `user`, with `extra` options; `passfile` keeps ~/.pgpass out.
    static func connection(_ pg: PostgresFixture, user: String, _ extra: String = "") -> String {
        pg.connection.replacingUser(user) + " passfile=/nonexistent " + extra
    }

    @Test(arguments: [PasswordRoles.scram, PasswordRoles.md5])
    func aWrongPasswordIsFatalAtOnceAndNeverPrinted(role: String) throws {
        let pg = try PostgresFixture()
        try PasswordRoles.install()
        let error = try Self.writeError(Self.connection(pg, user: role, "password=wrong-hunter2"))
        #expect(error?.kind == .fatal)
        #expect(error?.errorClass == "postgres.authentication")
        #expect(error?.message.contains("password authentication failed") == true, "\(String(describing: error))")
        #expect(error?.message.contains("hunter2") == false)
        #expect(error?.message.contains("SQLSTATE") == false)
    }

    @Test func noPasswordSuppliedIsFatalAtOnce() throws {
        let pg = try PostgresFixture()
        try PasswordRoles.install()
        let error = try Self.writeError(Self.connection(pg, user: PasswordRoles.scram))
        #expect(error?.kind == .fatal)
        #expect(error?.errorClass == "postgres.no_password")
        #expect(error?.message.contains("PGPASSWORD") == true, "\(String(describing: error))")
    }

    @Test(arguments: [PasswordRoles.scram, PasswordRoles.md5])
    func theRightPasswordConnects(role: String) throws {
        let pg = try PostgresFixture()
        try PasswordRoles.install()
        let connection = PostgresConnection(
            connectionString: Self.connection(pg, user: role, "password=\(PasswordRoles.password)"))
        try connection.ensureIdle()
        #expect(try connection.execute("SELECT current_user") == [[role]])
        connection.close()
    }

    @Test func anUnknownRoleOrDatabaseIsFatal() throws {
        let pg = try PostgresFixture()
        let role = try Self.writeError(Self.connection(pg, user: "nobody_here"))
        #expect(role?.kind == .fatal && role?.errorClass == "postgres.unknown_role", "\(String(describing: role))")
        let database = try Self.writeError(pg.connection.replacing("dbname=", with: "dbname=no_such_"))
        #expect(
            database?.kind == .fatal && database?.errorClass == "postgres.unknown_database",
            "\(String(describing: database))")
    }

    @Test func aConnectionPgHbaRejectsIsFatal() throws {
        let pg = try PostgresFixture()
        try PasswordRoles.install()
        let error = try Self.writeError(Self.connection(pg, user: PasswordRoles.rejected))
        #expect(error?.kind == .fatal && error?.errorClass == "postgres.connection_rejected")
        #expect(error?.message.contains("pg_hba.conf") == true, "\(String(describing: error))")
    }

    @Test func aHostNameThatDoesNotResolveIsTransientWithoutAnSQLState() throws {
        let error = try Self.writeError("host=nonexistent.invalid port=5432 user=loader dbname=shop connect_timeout=5")
        #expect(error?.kind == .transient)
        #expect(error?.errorClass == "postgres.connection")
        #expect(error?.message.contains("could not translate host name") == true, "\(String(describing: error))")
        #expect(error?.message.contains("SQLSTATE") == false && error?.message.contains("42601") == false)
    }

    @Test func aServerThatIsDownIsTransient() throws {
        // A port nothing listens on: bound, so nothing else takes it, and never listened on.
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        #expect(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let error = try Self.writeError("host=127.0.0.1 port=\(port) user=loader dbname=shop sslmode=disable")
        #expect(error?.kind == .transient && error?.errorClass == "postgres.connection")
        #expect(error?.message.contains("refused") == true, "\(String(describing: error))")
    }
}

/// Roles of the shared test server that must give a password (SCRAM and MD5) or are refused by
/// pg_hba.conf, with the lines for them put first in pg_hba.conf, once per test process. Other users
/// keep the server's `trust`.
enum PasswordRoles {
    static let scram = "sluice_scram"
    static let md5 = "sluice_md5"
    static let rejected = "sluice_rejected"
    static let password = "right-horse-battery"

    static func install() throws {
        try installed.get()
    }

    private static let installed: Result<Void, any Error> = Result {
        let server = try PostgresServer.shared()
        try server.psql(
            "SET password_encryption = 'scram-sha-256'; CREATE ROLE \(scram) LOGIN PASSWORD '\(password)'; "
                + "SET password_encryption = 'md5'; CREATE ROLE \(md5) LOGIN PASSWORD '\(password)'; "
                + "CREATE ROLE \(rejected) LOGIN",
            database: "postgres")
        let file = server.directory + "/data/pg_hba.conf"
        let lines =
            "local all \(scram) scram-sha-256\nlocal all \(md5) md5\nlocal all \(rejected) reject\n"
        let existing = try String(contentsOfFile: file, encoding: .utf8)
        guard let handle = FileHandle(forWritingAtPath: file) else {
            throw TestSupportError("cannot write \(file)")
        }
        try handle.write(contentsOf: Data((lines + existing).utf8))
        try handle.close()
        try server.psql("SELECT pg_reload_conf()", database: "postgres")
        // The postmaster reads the file when it gets the signal: wait until the rejection shows.
        let probe = PostgresConnection(
            connectionString: server.connectionString(database: "postgres").replacingUser(rejected))
        for _ in 0..<250 {
            do {
                try probe.ensureIdle()
                probe.close()
                Time.sleep(millis: 20)
            } catch {
                return
            }
        }
        throw TestSupportError("pg_hba.conf was not reloaded")
    }
}
