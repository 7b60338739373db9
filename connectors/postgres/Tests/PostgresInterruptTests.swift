import Foundation
import Glibc
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluicePostgres

/// `interrupt()` from another thread ends a write that waits on the server (a lock, a row lock, a
/// connection attempt nobody answers) within a second, and nothing of the batch is committed.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct PostgresInterruptTests {
    static func rows(_ count: Int, value: Int = 1, first: Int = 1) -> SinkBatch {
        PostgresFixture.batch((first..<first + count).map { #"{"id":\#($0),"v":\#(value)}"# })
    }

    @Test func aCopyWaitingForATableLockEndsAtOnceAndCommitsNothing() throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint, v int)")
        let locker = PostgresConnection(connectionString: pg.connection)
        try locker.ensureTransaction()
        try locker.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        let sink = Unchecked(try pg.sink([]))
        let call = BackgroundCall {
            _ = try sink.value.write(Self.rows(1000))
            try sink.value.flush()
        }
        try pg.waitUntilASessionWaitsForALock()
        let started = Time.monotonicNanos()
        sink.value.interrupt()
        let outcome = call.wait(seconds: 5)
        let elapsed = Double(Time.monotonicNanos() - started) / 1e9
        let cancelled = try pg.waitUntilNoSessionWaitsForALock()
        try locker.rollback()
        _ = call.wait(seconds: 30)
        #expect(elapsed < 1, "the write returned \(elapsed) s after the interrupt")
        #expect(outcome.finished && outcome.error is ConnectorError, "\(outcome)")
        #expect(cancelled, "the sink's statement was cancelled, not left waiting for the lock")
        #expect(try pg.query("SELECT count(*) FROM orders") == "0")
        sink.value.abort()
        sink.value.stop()
    }

    @Test func anUpsertWaitingForARowLockEndsAtOnceAndCommitsNothing() throws {
        let pg = try PostgresFixture()
        try pg.query(
            "CREATE TABLE orders (id bigint PRIMARY KEY, v int); INSERT INTO orders SELECT g, 0 FROM generate_series(1, 10) g"
        )
        let locker = PostgresConnection(connectionString: pg.connection)
        try locker.ensureTransaction()
        try locker.execute("UPDATE orders SET v = -1 WHERE id = 5")
        let sink = Unchecked(try pg.sink([("mode", .string("upsert")), ("key_columns", .array([.string("id")]))]))
        let call = BackgroundCall {
            _ = try sink.value.write(Self.rows(10))
            try sink.value.flush()
        }
        try pg.waitUntilASessionWaitsForALock()
        let started = Time.monotonicNanos()
        sink.value.interrupt()
        let outcome = call.wait(seconds: 5)
        let elapsed = Double(Time.monotonicNanos() - started) / 1e9
        try locker.commit()
        _ = call.wait(seconds: 30)
        #expect(elapsed < 1, "the write returned \(elapsed) s after the interrupt")
        #expect(outcome.finished && outcome.error is ConnectorError, "\(outcome)")
        #expect(try pg.query("SELECT string_agg(v::text, ',' ORDER BY id) FROM orders") == "0,0,0,0,-1,0,0,0,0,0")
        sink.value.abort()
        sink.value.stop()
    }

    @Test func aConnectionAttemptNobodyAnswersEndsAtOnce() throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let (options, _) = PostgresSink.spec.validate(
            [("connection", .string("host=127.0.0.1 port=\(listener.port) user=loader dbname=shop sslmode=disable"))],
            path: "sinks.pg")
        let sink = Unchecked(
            try PostgresSink(
                context: SinkContext(
                    name: "pg", task: 0, options: options, topics: ["orders"], logger: .init(label: "test"))))
        let call = BackgroundCall { _ = try sink.value.write(Self.rows(1)) }
        Time.sleep(millis: 300)
        #expect(!call.wait(seconds: 0).finished, "the connection attempt should still be waiting")
        let started = Time.monotonicNanos()
        sink.value.interrupt()
        let outcome = call.wait(seconds: 5)
        let elapsed = Double(Time.monotonicNanos() - started) / 1e9
        listener.close()
        _ = call.wait(seconds: 30)
        #expect(elapsed < 1, "the connection attempt ended \(elapsed) s after the interrupt")
        #expect(outcome.finished && outcome.error is ConnectorError, "\(outcome)")
        sink.value.stop()
    }

    @Test func aWriteInterruptedBeforeItsFlushIsNeverCommitted() throws {
        let pg = try PostgresFixture()
        let sink = try pg.sink([])
        #expect(try sink.write(Self.rows(5)).isEmpty)
        try sink.flush()
        #expect(try sink.write(Self.rows(5, first: 6)).isEmpty)
        sink.interrupt()
        #expect(throws: ConnectorError.self) { try sink.flush() }
        #expect(throws: ConnectorError.self) { _ = try sink.write(Self.rows(5, first: 11)) }
        sink.abort()
        sink.stop()
        #expect(try pg.query("SELECT count(*), max(id) FROM orders") == "5|5")
    }
}

/// A value handed to another thread by a test that knows only one thread uses it at a time.
struct Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Runs a call on its own thread, as the runtime runs a sink task, and tells how it ended.
final class BackgroundCall: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var ended = false
    private var thrown: (any Error)?

    init(_ body: @escaping @Sendable () throws -> Void) {
        Thread {
            var error: (any Error)?
            do { try body() } catch let caught { error = caught }
            self.lock.withLock {
                self.ended = true
                self.thrown = error
            }
            self.done.signal()
        }.start()
    }

    /// Waits up to `seconds` for the call to end.
    func wait(seconds: Double) -> (finished: Bool, error: (any Error)?) {
        if done.wait(timeout: .now() + seconds) == .success { done.signal() }
        return lock.withLock { (ended, thrown) }
    }
}

/// A TCP port that accepts connections (the kernel completes them) and never says a word, as a server
/// that hangs would.
final class SilentListener {
    private var socket: Int32
    let port: Int

    init() throws {
        let descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        socket = descriptor
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && listen(descriptor, 16) == 0
                    && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard descriptor >= 0, bound else { throw TestSupportError("cannot listen on 127.0.0.1: errno \(errno)") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() {
        if socket >= 0 { Glibc.close(socket) }
        socket = -1
    }
}

extension PostgresFixture {
    /// Sessions of this database waiting for a lock.
    func waitingSessions() throws -> Int {
        Int(
            try query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )) ?? -1
    }

    /// Waits (up to 2 s) until no session of this database waits for a lock; false if one still does.
    func waitUntilNoSessionWaitsForALock() throws -> Bool {
        for _ in 0..<100 {
            if try waitingSessions() == 0 { return true }
            Time.sleep(millis: 20)
        }
        return false
    }

    /// Waits (up to 10 s) until a session of this database waits for a lock.
    func waitUntilASessionWaitsForALock() throws {
        for _ in 0..<500 {
            if try waitingSessions() > 0 { return }
            Time.sleep(millis: 20)
        }
        throw TestSupportError("no session came to wait for the lock")
    }
}
