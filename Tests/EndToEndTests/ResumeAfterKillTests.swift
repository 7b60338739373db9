import Foundation
import Glibc
import SluiceCore
import SluiceRuntime
import SluiceTestSupport
import Testing

/// The CSV issue's crash test: `sluice run` over a 1,000,000-row file, killed with SIGKILL at random
/// moments at least 20 times and then run to completion, must end with every row in its topic (or
/// dead-letter topic) exactly once, for a plain and a gzip file.
@Suite(.serialized) struct ResumeAfterKillTests {
    @Test(arguments: [false, true])
    func everyRowExactlyOnceAfterTwentyKills(gzip: Bool) throws {
        let dir = TemporaryDirectory()
        let rows = 1_000_000
        var generator = SampleOrders(rows: rows, seed: 7)
        generator.badEvery = 997
        let file = gzip ? "orders.csv.gz" : "orders.csv"
        try generator.write(to: dir.file(file), gzip: gzip)
        let columns = SampleOrders.columnTypes.map { "\"\($0.0)\": \"\($0.1)\"" }.joined(separator: ", ")
        try EndToEnd.write(
            """
            {"data_dir": "data", "topics": {"orders": {"partitions": 4}},
             "sources": {"orders": {"type": "csv", "path": "\(file)", "key": ["customer"], "max_batch_rows": 5000,
                                    "columns": {\(columns)}}}}
            """, to: "config.json", in: dir.path)

        let kills = try EndToEnd.killRepeatedly(
            ["run", "config.json"], in: dir.path, times: 20, seed: gzip ? 11 : 13, minMillis: 150, spreadMillis: 700)
        #expect(kills >= 20, "the run finished before it was killed 20 times")
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)

        let records = try EndToEnd.records("orders", dataDirectory: dir.file("data"))
        let dead = try EndToEnd.records("orders.dlq", dataDirectory: dir.file("data"))
        // One file: its rows are told apart by the line they start on.
        let lines = (records + dead).compactMap { $0.record.headerText("sluice.source.line") }
        #expect(lines.count == rows, "rows stored, counting duplicates")
        #expect(Set(lines).count == rows, "distinct rows stored")
        let badRows = (1...rows).filter { $0 % 997 == 0 }.count
        #expect(dead.count == badRows)
        #expect(records.count == rows - badRows)
    }
}
