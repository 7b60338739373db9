import Foundation
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluicePostgres

/// Bad-row isolation is bounded: linear in the batch when half the rows are bad, responsive to an
/// interrupt, and a batch whose rows nearly all fail the same way stops with a fatal error.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct PostgresIsolationTests {
    static let table = "CREATE TABLE orders (id bigint PRIMARY KEY, n int CHECK (n > 0), amount numeric)"

    /// `count` rows, every other one bad: `n` breaks the CHECK constraint, or `amount` is not a number.
    static func halfBad(_ count: Int, _ kind: String, first: Int = 1) -> [String] {
        (first..<first + count).map { id in
            let bad = id % 2 == 0
            return kind == "check"
                ? #"{"id":\#(id),"n":\#(bad ? -1 : 1),"amount":1}"#
                : #"{"id":\#(id),"n":1,"amount":\#(bad ? "\"abc\"" : "1")}"#
        }
    }

    /// The batch sizes `PostgresIsolationMeasurements` times, from `SLUICE_MEASURE_ISOLATION`.
    static var measuredSizes: [Int]? {
        ProcessInfo.processInfo.environment["SLUICE_MEASURE_ISOLATION"].map {
            $0.split(separator: ",").compactMap { Int($0) }
        }
    }

    static func options(_ mode: String) -> [(key: String, value: JSONValue)] {
        [("mode", .string(mode)), ("key_columns", .array([.string("id")]))]
    }

    @Test(arguments: ["insert", "upsert"])
    func twoThousandRowsHalfFailingACheckConstraintAreIsolatedInWellUnderTenSeconds(mode: String) throws {
        let pg = try PostgresFixture()
        try pg.query(Self.table)
        let sink = try pg.sink(Self.options(mode))
        let started = Time.monotonicNanos()
        let failures = try sink.write(PostgresFixture.batch(Self.halfBad(2000, "check")))
        try sink.flush()
        let seconds = Double(Time.monotonicNanos() - started) / 1e9
        #expect(seconds < 10, "isolating 1,000 bad rows of 2,000 took \(seconds) s")
        #expect(failures.map(\.offset) == Array(stride(from: 1, to: 2000, by: 2)))
        #expect(failures.allSatisfy { $0.error.errorClass == "postgres.23514" && $0.error.kind == .record })
        #expect(try pg.query("SELECT count(*), sum(id), min(n) FROM orders") == "1000|1000000|1")
        sink.stop()
    }

    /// A bad JSON value's error names the JSON parser's line before the COPY line: only its row fails.
    @Test(arguments: ["insert", "upsert"])
    func aBadJSONValueFailsItsRowOnly(mode: String) throws {
        let pg = try PostgresFixture()
        try pg.query("CREATE TABLE orders (id bigint PRIMARY KEY, doc jsonb)")
        let sink = try pg.sink(Self.options(mode))
        let rows = (1...1000).map { id in
            #"{"id":\#(id),"doc":\#(id == 300 ? #""{bad json""# : #""{\"a\": \#(id)}""#)}"#
        }
        let failures = try sink.write(PostgresFixture.batch(rows))
        try sink.flush()
        #expect(failures.map(\.offset) == [299], "\(failures.map { ($0.offset, $0.error.message) })")
        #expect(try pg.query("SELECT count(*), sum((doc->>'a')::int) FROM orders") == "999|\(500500 - 300)")
        sink.stop()
    }

    /// The work (statements and COPY bytes) for 5,000 rows half bad is about twice that for 2,500: bad
    /// rows no longer send the rest of the batch again each (insert) or nest savepoints (upsert).
    /// An upsert says how many rows it inserted and how many it updated, on the fast path and when it
    /// isolates refused rows (where the statements that failed did work that must not count).
    @Test func upsertsCountInsertedAndUpdatedRowsOnBothPaths() throws {
        let pg = try PostgresFixture()
        try pg.query(Self.table)
        let sink = try pg.sink(Self.options("upsert"))
        _ = try sink.write(PostgresFixture.batch((1...100).map { #"{"id":\#($0),"n":\#($0),"amount":1}"# }))
        try sink.flush()
        #expect(sink.flushedCounts == SinkWriteCounts(inserted: 100, updated: 0))
        _ = try sink.write(PostgresFixture.batch((51...150).map { #"{"id":\#($0),"n":\#($0),"amount":2}"# }))
        try sink.flush()
        #expect(sink.flushedCounts == SinkWriteCounts(inserted: 50, updated: 50))
        let failures = try sink.write(PostgresFixture.batch(Self.halfBad(400, "check")))
        try sink.flush()
        #expect(failures.count == 200)
        let good = try Int(pg.query("SELECT count(*) FROM orders")) ?? 0
        #expect(good == 150 + 200 - 75, "ids 1…150 were there; 200 good ids, 75 of them among 1…150")
        #expect(sink.flushedCounts == SinkWriteCounts(inserted: 125, updated: 75))
    }

    @Test(arguments: ["insert", "upsert"], ["check", "type"])
    func isolationWorkGrowsLinearlyWithTheBatch(mode: String, kind: String) throws {
        let pg = try PostgresFixture()
        try pg.query(Self.table)
        var work: [(statements: Int, copyBytes: Int)] = []
        for (count, first) in [(2500, 10_001), (5000, 20_001)] {
            let sink = try pg.sink(Self.options(mode))
            let failures = try sink.write(PostgresFixture.batch(Self.halfBad(count, kind, first: first)))
            try sink.flush()
            #expect(failures.count == count / 2)
            work.append(sink.connection.work)
            sink.stop()
        }
        #expect(try pg.query("SELECT count(*) FROM orders") == "3750")
        let statements = Double(work[1].statements) / Double(work[0].statements)
        let bytes = Double(work[1].copyBytes) / Double(work[0].copyBytes)
        #expect(statements < 2.3 && bytes < 2.3, "2,500 rows: \(work[0]), 5,000 rows: \(work[1])")
        #expect(work[1].statements < 5000 * 6, "\(work[1].statements) statements for 5,000 rows")
    }

    @Test(arguments: ["insert", "upsert"])
    func rowsThatNearlyAllBreakOneConstraintStopTheRunNamingTableColumnAndConstraint(mode: String) throws {
        let pg = try PostgresFixture()
        try pg.query(Self.table)
        let sink = try pg.sink(Self.options(mode))
        var values = (1...300).map { #"{"id":\#($0),"n":-\#($0),"amount":1}"# }
        values[7] = #"{"id":8,"n":8,"amount":1}"#
        do {
            _ = try sink.write(PostgresFixture.batch(values))
            Issue.record("expected a fatal error")
        } catch let error as ConnectorError {
            #expect(error.kind == .fatal)
            #expect(error.errorClass == "postgres.batch_refused")
            for part in ["table orders", "column \"n\"", "constraint \"orders_n_check\"", "SQLSTATE 23514", "fix"] {
                #expect(error.message.contains(part), "\(error.message)")
            }
            #expect(!error.message.contains("sluice_"), "\(error.message)")
        }
        sink.abort()
        sink.stop()
        #expect(try pg.query("SELECT count(*) FROM orders") == "0")
    }

    @Test(arguments: ["insert", "upsert"])
    func aColumnOfTheWrongTypeStopsTheRunNamingTheColumn(mode: String) throws {
        let pg = try PostgresFixture()
        try pg.query(Self.table)
        let sink = try pg.sink(Self.options(mode))
        do {
            _ = try sink.write(PostgresFixture.batch((1...5000).map { #"{"id":\#($0),"n":1,"amount":"x\#($0)"}"# }))
            Issue.record("expected a fatal error")
        } catch let error as ConnectorError {
            #expect(error.kind == .fatal)
            #expect(error.message.contains("column \"amount\"") && error.message.contains("22P02"), "\(error.message)")
            #expect(error.message.contains("refused 100 of the 100 rows tried"), "\(error.message)")
        }
        sink.abort()
        sink.stop()
    }

    @Test func aSmallBatchOfBadRowsIsDeadLetteredNotStopped() throws {
        let pg = try PostgresFixture()
        try pg.query(Self.table)
        let sink = try pg.sink([])
        let failures = try sink.write(PostgresFixture.batch((1...50).map { #"{"id":\#($0),"n":-1}"# }))
        try sink.flush()
        #expect(failures.count == 50)
        sink.stop()
    }

    @Test func anInterruptEndsIsolationAtOnce() throws {
        let pg = try PostgresFixture()
        try pg.query(Self.table)
        let sink = Unchecked(try pg.sink(Self.options("upsert")))
        let call = BackgroundCall {
            _ = try sink.value.write(PostgresFixture.batch(Self.halfBad(40000, "check")))
            try sink.value.flush()
        }
        // Isolating 20,000 bad rows of 40,000 takes seconds; after 0.7 s it is under way.
        Time.sleep(millis: 700)
        #expect(!call.wait(seconds: 0).finished, "isolation should still be running")
        let started = Time.monotonicNanos()
        sink.value.interrupt()
        let outcome = call.wait(seconds: 5)
        let elapsed = Double(Time.monotonicNanos() - started) / 1e9
        _ = call.wait(seconds: 120)
        #expect(elapsed < 1, "isolation ended \(elapsed) s after the interrupt")
        #expect(outcome.finished && outcome.error is ConnectorError, "\(outcome)")
        #expect(try pg.query("SELECT count(*) FROM orders") == "0")
        sink.value.stop()
    }
}

/// Timings of isolation for the record, not a check: run with
/// `SLUICE_MEASURE_ISOLATION=2000,2500,5000 swift test --filter PostgresIsolationMeasurements`. Prints, for
/// each size, mode and kind of bad row (every other row bad), how long a write and flush took.
@Suite(.enabled(if: PostgresIsolationTests.measuredSizes != nil)) struct PostgresIsolationMeasurements {
    @Test func measure() throws {
        for kind in ["check", "type"] {
            for mode in ["insert", "upsert"] {
                for count in PostgresIsolationTests.measuredSizes ?? [] {
                    let pg = try PostgresFixture()
                    try pg.query(PostgresIsolationTests.table)
                    let sink = try pg.sink(PostgresIsolationTests.options(mode))
                    let started = Time.monotonicNanos()
                    let failures = try sink.write(PostgresFixture.batch(PostgresIsolationTests.halfBad(count, kind)))
                    try sink.flush()
                    let seconds = Double(Time.monotonicNanos() - started) / 1e9
                    print(
                        "isolation: \(kind) \(mode) \(count) rows, \(failures.count) bad: "
                            + "\(Int(seconds * 1000)) ms, \(sink.connection.work.statements) statements")
                    sink.stop()
                }
            }
        }
    }
}
