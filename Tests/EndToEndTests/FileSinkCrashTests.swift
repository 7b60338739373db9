import Foundation
import Glibc
import SluiceCore
import SluiceRuntime
import SluiceTestSupport
import Testing

/// The sink issue's crash test: `sluice run` from a 1,000,000-row CSV to the file sink, killed with
/// SIGKILL at random moments at least 20 times, then run to completion: the output files hold every
/// good row exactly once, the dead-letter topic exactly the bad rows, and the group's committed
/// offsets equal the end offsets.
@Suite(.serialized) struct FileSinkCrashTests {
    @Test func everyRowExactlyOnceInTheFilesAfterTwentyKills() throws {
        let dir = TemporaryDirectory()
        let rows = 1_000_000
        var generator = SampleOrders(rows: rows, seed: 21)
        generator.badEvery = 1009
        try generator.write(to: dir.file("orders.csv"))
        try EndToEnd.write(
            """
            {"topics": {"orders": {"partitions": 4}},
             "sources": {"orders": {"type": "csv", "path": "orders.csv", "key": ["customer"], "max_batch_rows": 5000,
                                    "columns": {"order_id": "int", "amount": "decimal"}}},
             "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out", "max_batch_records": 20000,
                                 "batch_wait_ms": 100}}}
            """, to: "config.json", in: dir.path)
        let kills = try EndToEnd.killRepeatedly(
            ["run"], in: dir.path, times: 20, seed: 99, minMillis: 150, spreadMillis: 700)
        #expect(kills >= 20, "the run finished before it was killed 20 times")
        try EndToEnd.sluice(["run"], in: dir.path)

        let badRows = (1...rows).filter { $0 % 1009 == 0 }.count
        let ids = try SinkPipelineTests.orderIds(in: dir.file("out"))
        #expect(ids.count == rows - badRows, "rows in the files, counting duplicates")
        #expect(Set(ids).count == rows - badRows, "distinct rows in the files")
        #expect(try EndToEnd.records("orders.dlq", dataDirectory: dir.file("data")).count == badRows)
        let hidden = try FileManager.default.contentsOfDirectory(atPath: dir.file("out")).filter { $0.hasPrefix(".") }
        #expect(hidden.isEmpty, "temporary files left behind: \(hidden)")
        let described = try EndToEnd.sluice(["groups", "describe", "files"], in: dir.path)
        #expect(described.stdout.contains("total lag 0"))
    }
}
