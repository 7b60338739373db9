import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// Inputs from the reliability review that crashed, hung or misled: a partition named twice, a config
/// read from a pipe or a FIFO, symbolic links that lead nowhere, and a stop while a sink retries.
@Suite struct BadInputTests {
    static let config = """
        {"topics": {"orders": {"partitions": 2}},
         "sources": {"orders": {"type": "csv", "path": "in.csv", "key": ["id"]}},
         "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out"}}}
        """

    static func populated() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,name\n1,a\n2,b\n3,c\n", to: "in.csv", in: dir.path)
        try EndToEnd.write(config, to: "config.json", in: dir.path)
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        return dir
    }

    @Test func resetOffsetsTakesAPartitionNamedTwiceOnce() throws {
        let dir = try Self.populated()
        for arguments in [
            ["--topic", "orders:0,0", "--to-earliest"], ["--topic", "orders:1,0,1", "--to-latest"],
            ["--topic", "orders", "--shift-by", "9223372036854775807"],
            ["--topic", "orders", "--shift-by", "-9223372036854775808"],
        ] {
            let result = try EndToEnd.sluice(
                ["groups", "reset-offsets", "--group", "files"] + arguments + ["--execute"], in: dir.path)
            #expect(!result.stderr.contains("Fatal error"), "\(arguments)")
        }
        let listed = try EndToEnd.sluice(
            ["groups", "reset-offsets", "--group", "files", "--topic", "orders:0,0", "--to-earliest"], in: dir.path)
        #expect(listed.stdout.split(separator: "\n").filter { $0.hasPrefix("files") }.count == 1)
        let bad = try EndToEnd.sluice(
            ["groups", "reset-offsets", "--group", "files", "--topic", "orders:7", "--to-earliest"], in: dir.path,
            expect: 2)
        #expect(bad.stderr.contains("partitions 0 to 1"))
    }

    /// `sluice validate <(cat config.json)` reads a pipe; here the pipe is the command's standard input.
    @Test func aConfigFromAPipeIsReadToItsEnd() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("id\n1\n", to: "in.csv", in: dir.path)
        let result = try EndToEnd.sluice(["validate", "/dev/stdin"], in: dir.path, stdin: Self.config)
        #expect(result.stdout.contains("is valid"))
    }

    @Test func aConfigFromAFIFOIsReadOnceWritten() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("id\n1\n", to: "in.csv", in: dir.path)
        let fifo = dir.file("config.fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let writer = WorkerThread(name: "fifo-writer") {
            Time.sleep(millis: 300)
            let handle = try #require(FileHandle(forWritingAtPath: fifo))
            handle.write(Data(Self.config.utf8))
            try handle.close()
        }
        let result = try EndToEnd.sluice(["validate", "config.fifo"], in: dir.path)
        #expect(writer.join() == nil)
        #expect(result.stdout.contains("is valid"))
    }

    @Test func aFIFOThatNobodyWritesIsAnErrorNotAHang() throws {
        let dir = TemporaryDirectory()
        let fifo = dir.file("nobody")
        #expect(mkfifo(fifo, 0o600) == 0)
        let error = try #require(throws: CoreError.self) { try FileSystem.readInput(fifo, waitMillis: 300) }
        #expect(error.message.contains("nothing wrote to it"))
    }

    @Test func brokenSymbolicLinksAreNamedForWhatTheyAre() throws {
        let dir = TemporaryDirectory()
        #expect(symlink(dir.file("nowhere.csv"), dir.file("dangling.csv")) == 0)
        #expect(symlink(dir.file("loop-b.csv"), dir.file("loop-a.csv")) == 0)
        #expect(symlink(dir.file("loop-a.csv"), dir.file("loop-b.csv")) == 0)
        for (name, phrase) in [
            ("dangling.csv", "a symbolic link to a file that does not exist"), ("loop-a.csv", "a symbolic link loop"),
        ] {
            try EndToEnd.write(
                #"{"sources": {"in": {"type": "csv", "path": "\#(name)"}}}"#, to: "config.json", in: dir.path)
            let run = try EndToEnd.sluice(["run", "config.json"], in: dir.path, expect: 2)
            #expect(run.stderr.contains(phrase), "\(name): \(run.stderr)")
            #expect(!run.stderr.contains("FIFO"), "\(name)")
            let validate = try EndToEnd.sluice(["validate", name], in: dir.path, expect: 2)
            #expect(validate.stderr.contains(phrase), "\(name): \(validate.stderr)")
        }
    }

    /// A stop while a sink retries a transient failure ends the run at once, with "interrupted" and
    /// 128 + the signal, instead of a tight loop of retries.
    @Test(arguments: [SIGTERM, SIGINT])
    func aStopWhileASinkRetriesEndsTheRunAtOnce(signal: Int32) throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,name\n1,a\n2,b\n", to: "in.csv", in: dir.path)
        try EndToEnd.write(
            """
            {"sources": {"orders": {"type": "csv", "path": "in.csv"}},
             "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "table": "orders",
                              "connection": "host=127.0.0.1 port=1 dbname=none user=none connect_timeout=2",
                              "retry_initial_ms": 200, "retry_max_ms": 400}}}
            """, to: "config.json", in: dir.path)
        let (process, out, err) = try SluiceBinary.start(["run", "config.json"], in: dir.path)
        let collector = OutputCollector(out: out, err: err)
        Time.sleep(millis: 2_500)
        #expect(process.isRunning, "the sink keeps retrying a refused connection")
        let sent = Time.monotonicNanos()
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        let seconds = Double(Time.monotonicNanos() - sent) / 1e9
        let (stdout, stderr) = collector.finish()
        #expect(seconds < 1.0, "exited \(seconds) s after the signal")
        #expect(process.terminationStatus == 128 + signal)
        #expect(stderr.contains("interrupted"))
        // What the run did before it stopped is still said.
        #expect(stdout.hasPrefix("Interrupted; before it stopped, this run did:\nSources:"), "\(stdout)")
        #expect(stdout.contains("Rows read 2 = 2 delivered"), "\(stdout)")
        let retries = stderr.components(separatedBy: "retrying").count - 1
        #expect(retries < 20, "\(retries) retry messages: \(stderr.suffix(2_000))")
    }

    /// The config raises the partitions of a topic written by key: refused with exit 2 and the config
    /// path, until the topic says `allow_key_remap`.
    @Test func raisingAKeyedTopicsPartitionsInTheConfigNeedsPermission() throws {
        let dir = try Self.populated()
        let raised = Self.config.replacingOccurrences(of: #""partitions": 2"#, with: #""partitions": 4"#)
        try EndToEnd.write(raised, to: "config.json", in: dir.path)
        let refused = try EndToEnd.sluice(["run", "config.json"], in: dir.path, expect: 2)
        #expect(refused.stderr.contains("topics.orders.partitions"))
        #expect(refused.stderr.contains("written by key"))
        let allowed = raised.replacingOccurrences(
            of: #""partitions": 4"#, with: #""partitions": 4, "allow_key_remap": true"#)
        try EndToEnd.write(allowed, to: "config.json", in: dir.path)
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        let altered = try EndToEnd.sluice(["topics", "alter", "orders", "--partitions", "5"], in: dir.path, expect: 2)
        #expect(altered.stderr.contains("--allow-key-remap"))
        try EndToEnd.sluice(["topics", "alter", "orders", "--partitions", "5", "--allow-key-remap"], in: dir.path)
    }

    /// On a terminal, a warning clears the progress line first and the line is drawn again after it, and
    /// a sink waiting to retry shows its countdown there. Runs the binary under `script`, which gives it
    /// a terminal.
    @Test func warningsNeverRunIntoTheProgressLine() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,name\n1,a\n2,b\n", to: "in.csv", in: dir.path)
        try EndToEnd.write(
            """
            {"sources": {"orders": {"type": "csv", "path": "in.csv"}},
             "sinks": {"pg": {"type": "postgres", "topics": ["orders"], "table": "orders",
                              "connection": "host=127.0.0.1 port=1 dbname=none user=none connect_timeout=2",
                              "retry_initial_ms": 700, "retry_max_ms": 1400}}}
            """, to: "config.json", in: dir.path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", "timeout -s INT 4 \(SluiceBinary.path) run config.json", dir.file("tty.txt")]
        process.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let transcript = String(decoding: try FileSystem.readFile(dir.file("tty.txt")), as: UTF8.self)
        let erase = "\r\u{1B}[K"
        #expect(transcript.contains(erase + "orders:"), "a progress line was drawn: \(transcript.debugDescription)")
        #expect(transcript.contains("retrying in"), "the countdown: \(transcript.debugDescription)")
        var warnings = 0
        var range = transcript.startIndex..<transcript.endIndex
        while let found = transcript.range(of: " warning ", range: range) {
            // What comes between the last line break or erase and " warning " is the timestamp alone.
            let head = transcript[..<found.lowerBound]
            // On a terminal a line break is "\r\n", which Swift holds as one Character.
            let start = head.lastIndex(where: { $0 == "\n" || $0 == "\r\n" || $0 == "\u{1B}" }).map {
                head.index(after: $0)
            }
            let prefix = start.map { head[$0...] } ?? head
            let stamp = prefix.hasPrefix("[K") ? prefix.dropFirst(2) : prefix
            #expect(
                stamp.count == 24 && stamp.hasSuffix("Z"), "a warning starts its own line: \(prefix.debugDescription)")
            warnings += 1
            range = found.upperBound..<transcript.endIndex
        }
        #expect(warnings >= 2)
    }
}
