import SluiceCore
import SluiceKit
import Testing

@testable import SluiceRuntime

/// The run summary as people and scripts read it: destinations, upserts split into inserted and
/// updated, bytes read, and words that agree with their numbers.
@Suite struct RunSummaryTests {
    static func summary(files: Int, commits: Int, retries: Int, counts: SinkWriteCounts?) -> RunSummary {
        var progress = SourceProgress()
        progress.files = files
        progress.filesDone = files
        progress.rowsRead = 1
        progress.bytesRead = 79
        let source = SourceTask.Report(name: "orders", progress: progress, records: 1, deadLetters: 0, seconds: 0.5)
        let sink = RunSummary.SinkReport(
            name: "pg", tasks: 1, consumed: 1, written: 1, deadLettered: 0, retries: retries, commits: commits,
            committedAdvance: 1, seconds: 0.5, destination: "table public.customers", writeCounts: counts)
        let topic = RunSummary.TopicCounts(name: "orders", records: [1], added: [1])
        return RunSummary(sources: [source], sinks: [sink], topics: [topic], seconds: 0.5)
    }

    @Test func oneOfEachIsSingular() {
        let text = Self.summary(files: 1, commits: 1, retries: 1, counts: nil).render()
        #expect(text.contains("orders: 1 file, 1 row read, 1 record, 0 dead-lettered, 79 B read"))
        #expect(text.contains("pg → table public.customers: 1 written, 0 dead-lettered, 1 retry, 1 commit,"))
        #expect(text.contains("  orders: 1 record (+1 this run)"))
        #expect(text.contains("Rows read 1 = 1 delivered"), "a label, not a count of rows")
        #expect(text.contains("Sink pg: 1 record committed"))
    }

    @Test func manyArePlural() {
        let text = Self.summary(files: 2, commits: 3, retries: 0, counts: nil).render()
        #expect(text.contains("orders: 2 files,"))
        #expect(text.contains("0 retries, 3 commits,"))
    }

    @Test func upsertsSayWhatTheyInsertedAndUpdated() throws {
        let summary = Self.summary(files: 1, commits: 1, retries: 0, counts: SinkWriteCounts(inserted: 1, updated: 0))
        #expect(summary.render().contains("1 written (1 inserted, 0 updated)"))
        let json = try JSONValue.parse(Array(summary.json().serialized().utf8))
        func first(_ list: JSONValue?) -> JSONValue? {
            guard case .array(let items)? = list else { return nil }
            return items.first
        }
        let sink = first(json["sinks"])
        #expect(sink?["destination"]?.stringValue == "table public.customers")
        #expect(sink?["inserted"]?.integerValue == 1)
        #expect(sink?["updated"]?.integerValue == 0)
        #expect(first(json["sources"])?["bytes_read"]?.integerValue == 79)
        #expect(json["rows_read"]?.integerValue == 1)
    }
}
