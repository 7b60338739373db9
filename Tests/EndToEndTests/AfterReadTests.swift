import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// When a file is finished (`min_file_age_ms`, `done_marker`) and what becomes of it then
/// (`after_read`), through the binary: a file is deleted or moved only once it is finished and all its
/// rows are in the topic, never one still being written.
@Suite struct AfterReadTests {
    /// Sets the file's modification time `seconds` into the past.
    static func age(_ path: String, seconds: Int) throws {
        let then = Date().addingTimeInterval(-Double(seconds))
        try FileManager.default.setAttributes([.modificationDate: then], ofItemAtPath: path)
    }

    static func config(_ csv: String, sinkPath: String = "out") -> String {
        """
        {"sources": {"s": {"type": "csv", "path": "in", "columns": {"id": "int"}, \(csv)}},
         "sinks": {"f": {"type": "file", "topics": ["s"], "path": "\(sinkPath)"}}}
        """
    }

    static func names(_ folder: String) throws -> [String] {
        FileSystem.isDirectory(folder) ? try FileSystem.contentsOfDirectory(folder) : []
    }

    @Test func finishedFilesAreMovedAndAYoungOneIsKeptUntilItIsFinished() throws {
        let dir = try DaemonTests.prepare(
            DaemonTests.rows(1...3), config: Self.config(#""after_read": "move:done", "min_file_age_ms": 2000"#))
        // b.csv's last row has no line break; the file is old, so it is finished and the row is read.
        try EndToEnd.write("id,name,amount\n4,name 4,4.5\n5,name 5,5.5", to: "in/b.csv", in: dir.path)
        try EndToEnd.write(DaemonTests.rows(6...7), to: "in/c.csv", in: dir.path)
        try Self.age(dir.file("in/a.csv"), seconds: 60)
        try Self.age(dir.file("in/b.csv"), seconds: 60)
        let first = try EndToEnd.sluice(["run", "--log-level", "info"], in: dir.path)
        #expect(try Self.names(dir.file("done")) == ["a.csv", "b.csv"])
        #expect(try Self.names(dir.file("in")) == ["c.csv"], "c.csv changed less than 2 s ago")
        #expect(try DaemonTests.delivered(dir.file("out")) == Dictionary(uniqueKeysWithValues: (1...7).map { ($0, 1) }))
        #expect(first.stderr.contains("move a.csv, read to its end, to done"), "\(first.stderr)")
        // A name already taken in the folder is not overwritten.
        try EndToEnd.write("not ours", to: "done/c.csv", in: dir.path)
        try Self.age(dir.file("in/c.csv"), seconds: 60)
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try Self.names(dir.file("done")) == ["a.csv", "b.csv", "c.csv", "c.csv.1"])
        #expect(try String(contentsOfFile: dir.file("done/c.csv"), encoding: .utf8) == "not ours")
        #expect(try DaemonTests.delivered(dir.file("out")).count == 7)
    }

    /// Once after_read took every file a glob matched, the next run finds nothing, and that is no error.
    @Test func aGlobEmptiedByAfterReadIsNoErrorNextTime() throws {
        let dir = try DaemonTests.prepare(
            DaemonTests.rows(1...2),
            config: Self.config(#""after_read": "delete", "min_file_age_ms": 0"#).replacingOccurrences(
                of: #""path": "in""#, with: #""path": "in/*.csv""#))
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try Self.names(dir.file("in")).isEmpty)
        try EndToEnd.sluice(["run"], in: dir.path)
        try EndToEnd.sluice(["validate", "config.json"], in: dir.path)
        #expect(try DaemonTests.delivered(dir.file("out")).count == 2)
    }

    @Test func aDoneMarkerFinishesAFileAndGoesWithIt() throws {
        let dir = try DaemonTests.prepare(
            "id,name,amount\n1,name 1,1.5\n2,name 2,2.5",
            config: Self.config(#""after_read": "delete", "done_marker": ".ok""#))
        try Self.age(dir.file("in/a.csv"), seconds: 60)
        // Old, but without its marker: not finished, so the row without a line break waits.
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try Self.names(dir.file("in")) == ["a.csv"])
        #expect(try DaemonTests.delivered(dir.file("out")) == [1: 1])
        try EndToEnd.write("", to: "in/a.csv.ok", in: dir.path)
        let ledger = try EndToEnd.sluice(["sources", "files", "s", "--config", "config.json"], in: dir.path)
        #expect(!ledger.stdout.contains("a.csv.ok"), "a marker is no input file: \(ledger.stdout)")
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try Self.names(dir.file("in")) == [], "the file and its marker are deleted")
        #expect(try DaemonTests.delivered(dir.file("out")) == [1: 1, 2: 1])
    }

    /// The daemon reads a file as it grows and deletes it only once it stopped changing.
    @Test func theDaemonDeletesAFileOnceItStoppedChanging() throws {
        let dir = try DaemonTests.prepare(
            DaemonTests.rows(1...2),
            config: """
                {"daemon": {"poll_interval_ms": 50}, "admin": {"listen": "127.0.0.1:0"},
                 "sources": {"s": {"type": "csv", "path": "in", "columns": {"id": "int"}, "after_read": "delete",
                                   "min_file_age_ms": 1500}},
                 "sinks": {"f": {"type": "file", "topics": ["s"], "path": "out"}}}
                """)
        let daemon = try DaemonTests.Running(in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")).count == 2 })
        for id in 3...6 {
            Time.sleep(millis: 300)
            try DaemonTests.append(DaemonTests.rows(id...id, header: false), to: dir.file("in/a.csv"))
        }
        #expect(FileSystem.exists(dir.file("in/a.csv")), "deleted while it was still written")
        #expect(DaemonTests.waitUntil { !FileSystem.exists(dir.file("in/a.csv")) })
        let (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
        #expect(try DaemonTests.delivered(dir.file("out")) == Dictionary(uniqueKeysWithValues: (1...6).map { ($0, 1) }))
    }

    /// `sluice sources files`: the ledger, from the stored position and the files on disk.
    @Test func theLedgerSaysWhereEachFileStands() throws {
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...2), config: Self.config(#""after_read": "keep""#))
        try EndToEnd.write("id,name,amount\n3,name 3,3.5\n4,name", to: "in/b.csv", in: dir.path)
        try EndToEnd.write(DaemonTests.rows(5...5), to: "in/c.csv", in: dir.path)
        try EndToEnd.sluice(["run"], in: dir.path)
        try DaemonTests.append(DaemonTests.rows(6...6, header: false), to: dir.file("in/a.csv"))
        try FileManager.default.removeItem(atPath: dir.file("in/c.csv"))
        try EndToEnd.write(DaemonTests.rows(7...7), to: "in/d.csv", in: dir.path)
        let listed = try EndToEnd.sluice(["sources", "files", "s", "--config", "config.json", "--json"], in: dir.path)
        let files = try #require(try JSONValue.parse(Array(listed.stdout.utf8))["files"]?.arrayValue)
        let states = files.map { file in
            "\(file["path"]?.stringValue?.split(separator: "/").last ?? "?")=\(file["state"]?.stringValue ?? "?")"
        }
        #expect(states == ["a.csv=reading", "b.csv=waiting", "c.csv=gone", "d.csv=new"], "\(listed.stdout)")
        #expect(files.first?["unread_bytes"]?.integerValue == Int64(DaemonTests.rows(6...6, header: false).utf8.count))
        let table = try EndToEnd.sluice(["sources", "files", "s"], in: dir.path)
        #expect(table.stdout.hasPrefix("PATH") && table.stdout.contains("waiting"), "\(table.stdout)")
        try EndToEnd.sluice(["sources", "files", "nope"], in: dir.path, expect: 1)
    }

    @Test func badSettingsAreNamedByTheirConfigPath() throws {
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...1), config: Self.config(#""after_read": "remove""#))
        let unknown = try EndToEnd.sluice(["validate", "config.json"], in: dir.path, expect: 2)
        #expect(unknown.stderr.contains("sources.s.after_read"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("keep, delete or move:FOLDER"), "\(unknown.stderr)")
        try EndToEnd.write(Self.config(#""after_read": "move:./in/""#), to: "config.json", in: dir.path)
        let into = try EndToEnd.sluice(["validate", "config.json"], in: dir.path, expect: 2)
        #expect(into.stderr.contains("read again"), "\(into.stderr)")
        try EndToEnd.write("", to: "afile", in: dir.path)
        try EndToEnd.write(Self.config(#""after_read": "move:afile""#), to: "config.json", in: dir.path)
        let file = try EndToEnd.sluice(["validate", "config.json"], in: dir.path, expect: 2)
        #expect(file.stderr.contains("afile is a file"), "\(file.stderr)")
        try EndToEnd.write(
            Self.config(#""done_marker": ".csv""#).replacingOccurrences(
                of: #""path": "in""#, with: #""path": "in/*.csv""#),
            to: "config.json", in: dir.path)
        let everyFile = try EndToEnd.sluice(["validate", "config.json"], in: dir.path, expect: 2)
        #expect(everyFile.stderr.contains("none would be read"), "\(everyFile.stderr)")
        try EndToEnd.write(Self.config(#""done_marker": "x/y""#), to: "config.json", in: dir.path)
        let marker = try EndToEnd.sluice(["validate", "config.json"], in: dir.path, expect: 2)
        #expect(marker.stderr.contains("sources.s.done_marker"), "\(marker.stderr)")
        #expect(FileSystem.exists(dir.file("in/a.csv")))
    }
}
