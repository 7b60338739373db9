import Foundation
import SluiceCore
import SluiceTestSupport
import Testing

/// What `sluice run` prints, and what it can be asked not to: the summary as text or JSON, --quiet,
/// --no-progress; the bytes a run reads; and `--version`.
@Suite struct RunOutputTests {
    static func pipeline(_ dir: TemporaryDirectory) throws {
        try FileSystem.createDirectory(dir.file("in"))
        let rows = (1...500).map { "\($0),name-\($0)\n" }.joined()
        try Data(("id,name\n" + rows).utf8).write(to: URL(fileURLWithPath: dir.file("in/a.csv")))
        try EndToEnd.write(
            """
            {"sources": {"s": {"type": "csv", "path": "in/*.csv", "topic": "t", "key": ["id"]}},
             "sinks": {"out": {"type": "file", "topics": ["t"], "path": "out"}}}
            """, to: "config.json", in: dir.path)
    }

    @Test func quietPrintsNothingAndNoProgressPrintsOnlyTheSummary() throws {
        let dir = TemporaryDirectory()
        try Self.pipeline(dir)
        let quiet = try EndToEnd.sluice(["run", "--quiet"], in: dir.path)
        #expect(quiet.stdout.isEmpty && quiet.stderr.isEmpty, "\(quiet.stdout)\(quiet.stderr)")
        try FileSystem.removeTree(dir.file("data"))
        try FileSystem.removeTree(dir.file("out"))
        let plain = try EndToEnd.sluice(["run", "--no-progress"], in: dir.path)
        #expect(plain.stderr.isEmpty, "\(plain.stderr)")
        #expect(plain.stdout.contains("out → folder out: 500 written"))
    }

    /// `--log-format json`: every log line is one JSON object with a time, a level, a stable event name
    /// and the message, and the metadata as members.
    @Test func jsonLogLinesAreObjectsWithStableEventNames() throws {
        let dir = TemporaryDirectory()
        try Self.pipeline(dir)
        let run = try EndToEnd.sluice(
            ["run", "--no-progress", "--log-level", "info", "--log-format", "json"], in: dir.path)
        let lines = run.stderr.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try JSONValue.parse(Array(line.utf8))
            #expect(object["time"]?.stringValue?.hasSuffix("Z") == true, "\(line)")
            #expect(object["level"]?.stringValue != nil && object["message"]?.stringValue != nil, "\(line)")
            let event = try #require(object["event"]?.stringValue)
            #expect(event.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(line)")
        }
        let created = lines.compactMap { try? JSONValue.parse(Array($0.utf8)) }.first {
            $0["event"]?.stringValue == "created_topic"
        }
        #expect(created?["topic"]?.stringValue == "t", "\(run.stderr)")
        try EndToEnd.sluice(["run", "--log-format", "xml"], in: dir.path, expect: 2)
        // The command's own failure too.
        try EndToEnd.write(#"{"sources": 5}"#, to: "bad.json", in: dir.path)
        let failed = try EndToEnd.sluice(["run", "bad.json", "--log-format", "json"], in: dir.path, expect: 2)
        let error = try JSONValue.parse(Array(failed.stderr.utf8))
        #expect(error["event"]?.stringValue == "command_failed" && error["level"]?.stringValue == "error")
        #expect(error["message"]?.stringValue?.contains("sources") == true, "\(failed.stderr)")
    }

    @Test func theJSONSummaryIsOneObject() throws {
        let dir = TemporaryDirectory()
        try Self.pipeline(dir)
        let result = try EndToEnd.sluice(["run", "--summary", "json", "--no-progress"], in: dir.path)
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(json?["rows_read"] as? Int == 500)
        let source = (json?["sources"] as? [[String: Any]])?.first
        #expect(source?["records"] as? Int == 500)
        let sink = (json?["sinks"] as? [[String: Any]])?.first
        #expect(sink?["destination"] as? String == "folder out")
        #expect(sink?["written"] as? Int == 500)
    }

    /// A second run that reads only a row appended since says it read that row's bytes, not the file's.
    @Test func bytesReadAreThoseOfThisRun() throws {
        let dir = TemporaryDirectory()
        try Self.pipeline(dir)
        try EndToEnd.sluice(["run"], in: dir.path)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.file("in/a.csv")))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("501,name-501\n".utf8))
        try handle.close()
        let result = try EndToEnd.sluice(["run", "--summary", "json"], in: dir.path)
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let source = (json?["sources"] as? [[String: Any]])?.first
        #expect(source?["rows_read"] as? Int == 1)
        #expect(source?["bytes_read"] as? Int == 13)
    }

    @Test func versionSaysTheCommitAndTheLibraries() throws {
        let dir = TemporaryDirectory()
        let result = try EndToEnd.sluice(["--version"], in: dir.path)
        #expect(result.stdout.contains("sluice 0.1.0 (commit "))
        #expect(result.stdout.contains(", built 20"))
        #expect(result.stdout.contains("zlib 1."))
        #expect(result.stdout.contains("libpq "))
        #expect(!result.stdout.contains("commit unknown"), "built from a git checkout")
    }
}
