import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// The file cases that lose or repeat rows in other tools, with the daemon running: an inode reused by
/// a new file with the same header, copytruncate rotation, a file moved in by rename, and
/// `after_read: move` killed at random moments.
@Suite struct FileCasesTests {
    static func ids(_ range: ClosedRange<Int>) -> [Int64: Int] {
        Dictionary(uniqueKeysWithValues: range.map { (Int64($0), 1) })
    }

    @Test func aNewFileOnAReusedInodeWithTheSameHeaderIsReadWhole() throws {
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...3))
        let daemon = try DaemonTests.Running(in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")) == Self.ids(1...3) })
        let path = dir.file("in/a.csv")
        let before = try #require(FileSystem.identity(path))
        try FileManager.default.removeItem(atPath: path)
        // Created at once after the delete, the new file usually gets the same inode.
        try EndToEnd.write(DaemonTests.rows(4...5), to: "in/a.csv", in: dir.path)
        let reused = FileSystem.identity(path) == before
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")) == Self.ids(1...5) })
        Time.sleep(millis: 300)
        let (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
        #expect(try DaemonTests.delivered(dir.file("out")) == Self.ids(1...5), "inode reused: \(reused)")
    }

    @Test func aFileTruncatedInPlaceIsReadAgainFromItsStartWithAWarning() throws {
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...20))
        let daemon = try DaemonTests.Running(in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")).count == 20 })
        // copytruncate: the writer's file is copied away and cut to nothing, then written on.
        let file = try SystemFile.open(dir.file("in/a.csv"), .readWrite)
        try file.truncate(to: 0)
        let text = Array(DaemonTests.rows(21...22).utf8)
        try text.withUnsafeBytes { try file.write($0, at: 0) }
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")) == Self.ids(1...22) })
        Time.sleep(millis: 300)
        let (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
        #expect(try DaemonTests.delivered(dir.file("out")) == Self.ids(1...22))
        #expect(stderr.contains("reading it again from the start") || stderr.contains("shorter than"), "\(stderr)")
    }

    /// A file whose header does not fit the source (no key column) is set aside as failed, with the
    /// reason in the ledger; the daemon goes on, starts again with it there, and reads it once it is fixed.
    @Test func aFileThatCannotBeReadIsSetAsideAndTheDaemonGoesOn() throws {
        let dir = try DaemonTests.prepare(
            DaemonTests.rows(1...2),
            config: DaemonTests.config().replacingOccurrences(
                of: #""path": "in","#, with: #""path": "in", "key": ["id"],"#))
        var daemon = try DaemonTests.Running(in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")).count == 2 })
        try EndToEnd.write("foo,bar\n1,2\n", to: "in/bad.csv", in: dir.path)
        try EndToEnd.write(DaemonTests.rows(3...4), to: "in/c.csv", in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")) == Self.ids(1...4) })
        let listed = try EndToEnd.sluice(["sources", "files", "live", "--json"], in: dir.path)
        let files = try #require(try JSONValue.parse(Array(listed.stdout.utf8))["files"]?.arrayValue)
        let bad = try #require(files.first { $0["path"]?.stringValue?.hasSuffix("/bad.csv") == true })
        #expect(bad["state"]?.stringValue == "failed", "\(listed.stdout)")
        #expect(bad["reason"]?.stringValue?.contains("key column \"id\"") == true, "\(listed.stdout)")
        var (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
        #expect(stderr.contains("set aside"), "\(stderr)")
        daemon = try DaemonTests.Running(in: dir.path)
        try EndToEnd.write(DaemonTests.rows(5...5), to: "in/bad.csv", in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")) == Self.ids(1...5) })
        (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
    }

    @Test func aFileMovedInByRenameIsReadOnce() throws {
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...2))
        let daemon = try DaemonTests.Running(in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")).count == 2 })
        try EndToEnd.write(DaemonTests.rows(3...400), to: "b.csv.part", in: dir.path)
        try FileSystem.rename(dir.file("b.csv.part"), to: dir.file("in/b.csv"))
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")) == Self.ids(1...400) })
        Time.sleep(millis: 300)
        let (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
        #expect(try DaemonTests.delivered(dir.file("out")) == Self.ids(1...400))
    }

    /// Files arrive (written in place in pieces, or renamed in whole) while the daemon, moving each
    /// finished file away, is killed with SIGKILL again and again: every row once, every file moved.
    @Test func afterReadMoveKilledAtRandomMomentsLosesAndRepeatsNothing() throws {
        let dir = try DaemonTests.prepare(
            "",
            config: """
                {"daemon": {"poll_interval_ms": 50}, "admin": {"listen": "127.0.0.1:0"},
                 "sources": {"live": {"type": "csv", "path": "in/*.csv", "columns": {"id": "int"},
                                      "after_read": "move:done", "min_file_age_ms": 300}},
                 "sinks": {"out": {"type": "file", "topics": ["live"], "path": "out"}}}
                """)
        try FileManager.default.removeItem(atPath: dir.file("in/a.csv"))
        let files = 40
        let perFile = 200
        let writer = WorkerThread(name: "writer") {
            var random = SplitMix64(seed: 23)
            for index in 0..<files {
                let first = index * perFile + 1
                let text = DaemonTests.rows(first...(first + perFile - 1))
                let name = "f-\(index).csv"
                if index % 2 == 0 {
                    try EndToEnd.write(text, to: name + ".part", in: dir.path)
                    try FileSystem.rename(dir.file(name + ".part"), to: dir.file("in/" + name))
                } else {
                    let bytes = Array(text.utf8)
                    let cut = Int(random.next() % UInt64(bytes.count))
                    try EndToEnd.write(String(decoding: bytes[..<cut], as: UTF8.self), to: "in/" + name, in: dir.path)
                    Time.sleep(millis: Int(random.next() % 100))
                    try DaemonTests.append(String(decoding: bytes[cut...], as: UTF8.self), to: dir.file("in/" + name))
                }
                Time.sleep(millis: Int(random.next() % 150))
            }
        }
        var random = SplitMix64(seed: 29)
        for _ in 0..<15 {
            let daemon = try DaemonTests.Running(in: dir.path)
            Time.sleep(millis: 250 + Int(random.next() % 500))
            _ = daemon.stop(SIGKILL)
        }
        #expect(writer.join() == nil)
        let last = try DaemonTests.Running(in: dir.path)
        let rows = files * perFile
        #expect(try DaemonTests.waitUntil(seconds: 60) { try DaemonTests.delivered(dir.file("out")).count == rows })
        #expect(
            try DaemonTests.waitUntil(seconds: 60) {
                try FileSystem.contentsOfDirectory(dir.file("in")).allSatisfy { !$0.hasSuffix(".csv") }
            }, "files left in the input folder")
        let (status, _, stderr) = last.stop()
        #expect(status == 0, "\(stderr)")
        #expect(try DaemonTests.delivered(dir.file("out")) == Self.ids(1...rows))
        let moved = try FileSystem.contentsOfDirectory(dir.file("done")).filter { $0.hasSuffix(".csv") }
        #expect(moved.count == files, "\(moved)")
    }
}
