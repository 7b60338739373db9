import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// The reliability review's live test: a writer appends rows to a CSV file in pieces that cut lines
/// (and quoted fields) anywhere, while `sluice run` runs again and again. At the end every row is in
/// the sink exactly once with the value the writer wrote, and nothing was dead-lettered.
@Suite struct GrowingInputTests {
    @Test func rowsAppendedWhileRunsRepeatArriveWholeAndOnce() throws {
        let dir = TemporaryDirectory()
        let rows = 20_000
        var text = "id,name,amount\n"
        for id in 1...rows {
            // Every seventh name is quoted with a line break inside, so a cut can fall inside quotes.
            let name = id % 7 == 0 ? "\"name \(id)\nsecond line\"" : "name \(id)"
            text += "\(id),\(name),\(id).\(id % 100)\n"
        }
        let bytes = Array(text.utf8)
        let path = dir.file("live.csv")
        try FileSystem.writeAtomically(path, [])
        try EndToEnd.write(
            """
            {"sources": {"live": {"type": "csv", "path": "live.csv", "columns": {"id": "int", "amount": "decimal"}}},
             "sinks": {"files": {"type": "file", "topics": ["live"], "path": "out", "batch_wait_ms": 0}}}
            """, to: "config.json", in: dir.path)

        // The writer waits for a run to have started before each quarter after the first, so that at
        // least three runs overlap it however fast or slow the machine is.
        let started = Locked(0)
        let writer = WorkerThread(name: "appender") {
            let file = try SystemFile.open(path, .readWrite)
            var generator = SplitMix64(seed: 17)
            var position = 0
            var quarter = 0
            while position < bytes.count {
                while position >= (quarter + 1) * bytes.count / 4 {
                    quarter += 1
                    while started.withLock({ $0 }) < quarter { Time.sleep(millis: 5) }
                }
                let piece = min(bytes.count - position, 1 + Int(generator.next() % 2_000))
                try bytes[position..<(position + piece)].withUnsafeBytes { try file.write($0, at: Int64(position)) }
                position += piece
                Time.sleep(millis: Int(generator.next() % 10))
            }
        }
        var runs = 0
        var writerDone = false
        while !writerDone || runs < 2 {
            // Once the writer is done, one more run reads what it wrote last.
            if !writerDone { writerDone = FileSystem.fileSize(path) == Int64(bytes.count) }
            started.withLock { $0 += 1 }
            try EndToEnd.sluice(["run", "config.json"], in: dir.path)
            runs += 1
            if writerDone { break }
        }
        #expect(writer.join() == nil)
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)

        var seen: [Int64: String] = [:]
        var duplicates = 0
        for name in try FileSystem.contentsOfDirectory(dir.file("out")) where name.hasSuffix(".jsonl") {
            for line in try FileSystem.readFile(dir.file("out/" + name)).split(separator: 0x0A) {
                let value = try JSONValue.parse(Array(line))
                let id = try #require(value["id"]?.integerValue)
                if seen[id] != nil { duplicates += 1 }
                seen[id] = value.serialized()
            }
        }
        #expect(duplicates == 0)
        #expect(seen.count == rows, "rows delivered after \(runs) runs")
        var wrong = 0
        for id in 1...Int64(rows) {
            let name = id % 7 == 0 ? "name \(id)\\nsecond line" : "name \(id)"
            if seen[id] != #"{"id":\#(id),"name":"\#(name)","amount":\#(id).\#(id % 100)}"# { wrong += 1 }
        }
        #expect(wrong == 0, "rows with a value other than the writer's")
        #expect(try EndToEnd.records("live.dlq", dataDirectory: dir.file("data")).isEmpty)
        #expect(runs >= 3, "the runs overlapped the writer")
    }
}
