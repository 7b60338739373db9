import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// `sluice daemon` as a user runs it: the real binary on real files, stopped by signals.
@Suite struct DaemonTests {
    /// A CSV file's text: a header, then rows `ids` with a name and an amount.
    static func rows(_ ids: ClosedRange<Int>, header: Bool = true) -> String {
        (header ? "id,name,amount\n" : "") + ids.map { "\($0),name \($0),\($0).5\n" }.joined()
    }

    static func config(sinks: String = #""out": {"type": "file", "topics": ["live"], "path": "out"}"#) -> String {
        """
        {"daemon": {"poll_interval_ms": 50}, "admin": {"listen": "127.0.0.1:0"},
         "sources": {"live": {"type": "csv", "path": "in", "columns": {"id": "int", "amount": "decimal"}}},
         "sinks": {\(sinks)}}
        """
    }

    /// A folder with `in/a.csv` holding `text` and `config.json`.
    static func prepare(_ text: String, config: String = config()) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try EndToEnd.write(text, to: "in/a.csv", in: dir.path)
        try EndToEnd.write(config, to: "config.json", in: dir.path)
        return dir
    }

    /// Every `id` the file sink wrote under `folder`, with how many times each.
    static func delivered(_ folder: String) throws -> [Int64: Int] {
        var seen: [Int64: Int] = [:]
        guard FileSystem.isDirectory(folder) else { return seen }
        for name in try FileSystem.contentsOfDirectory(folder) where name.hasSuffix(".jsonl") && !name.hasPrefix(".") {
            for line in try FileSystem.readFile(folder + "/" + name).split(separator: 0x0A) {
                let value = try JSONValue.parse(Array(line))
                if let id = value["id"]?.integerValue { seen[id, default: 0] += 1 }
            }
        }
        return seen
    }

    static func waitUntil(seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            Time.sleep(millis: 25)
        }
        return try condition()
    }

    static func append(_ text: String, to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    /// A daemon started in `dir`; `stop` sends a signal and waits for its exit.
    final class Running {
        let process: Process
        let collector: OutputCollector

        init(_ arguments: [String] = [], in dir: String) throws {
            let (process, out, err) = try SluiceBinary.start(["daemon", "config.json"] + arguments, in: dir)
            self.process = process
            collector = OutputCollector(out: out, err: err)
        }

        func signal(_ number: Int32) { kill(process.processIdentifier, number) }

        func stop(_ number: Int32 = SIGTERM) -> (status: Int32, stdout: String, stderr: String) {
            signal(number)
            process.waitUntilExit()
            let (stdout, stderr) = collector.finish()
            return (process.terminationStatus, stdout, stderr)
        }
    }

    @Test func newRowsAndFilesArriveWholeAndSigtermDrains() throws {
        let dir = try Self.prepare(Self.rows(1...100))
        let daemon = try Running(in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 100 })

        // Rows appended to a file already read, a new file, and a last line without its line end.
        try Self.append(Self.rows(101...150, header: false) + "151,name 151,15", to: dir.file("in/a.csv"))
        try EndToEnd.write(Self.rows(1001...1030), to: "in/b.csv", in: dir.path)
        let started = Date()
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 180 })
        #expect(Date().timeIntervalSince(started) < 5, "new rows took \(Date().timeIntervalSince(started)) s")
        Time.sleep(millis: 300)
        #expect(try Self.delivered(dir.file("out"))[151] == nil, "a row without its line end waits")
        try Self.append("1.5\n", to: dir.file("in/a.csv"))
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out"))[151] == 1 })

        let (status, stdout, stderr) = daemon.stop()
        #expect(status == 0, "stdout: \(stdout)\nstderr: \(stderr)")
        #expect(stdout.contains("Drained and stopped"))
        #expect(stdout.contains("Every sink committed everything"))
        let output = try Self.delivered(dir.file("out"))
        #expect(output.count == 181 && output.values.allSatisfy { $0 == 1 })

        // The next start delivers nothing again, and a row written while it was down arrives.
        try Self.append(Self.rows(152...152, header: false), to: dir.file("in/a.csv"))
        let again = try Running(in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out"))[152] == 1 })
        #expect(again.stop(SIGINT).status == 0)
        let final = try Self.delivered(dir.file("out"))
        #expect(final.count == 182 && final.values.allSatisfy { $0 == 1 })
    }

    @Test func aDrainPastItsTimeoutStopsAtOnceAndLosesNothing() throws {
        let dir = try Self.prepare(Self.rows(1...20_000))
        let daemon = try Running(["--shutdown-timeout-ms", "0"], in: dir.path)
        Time.sleep(millis: 150)
        let (status, stdout, stderr) = daemon.stop()
        #expect(status == 4, "stdout: \(stdout)\nstderr: \(stderr)")
        #expect(stdout.contains("Stopped at once"))

        let again = try Running(in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 20_000 })
        #expect(again.stop().status == 0)
        let output = try Self.delivered(dir.file("out"))
        #expect(output.count == 20_000 && output.values.allSatisfy { $0 == 1 })
    }

    @Test func sighupAppliesAValidConfigAndRefusesABrokenOne() throws {
        let dir = try Self.prepare(Self.rows(1...10))
        let daemon = try Running(in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 10 })

        try EndToEnd.write(
            #"{"sources": {"live": {"type": "csv", "path": "in", "batch": 1}}}"#, to: "config.json", in: dir.path)
        daemon.signal(SIGHUP)
        Time.sleep(millis: 500)
        try EndToEnd.write(Self.rows(11...20), to: "in/b.csv", in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 20 }, "the old config goes on")

        try EndToEnd.write(
            Self.config(
                sinks: #""out": {"type": "file", "topics": ["live"], "path": "out"}, "#
                    + #""copy": {"type": "file", "topics": ["live"], "path": "copy"}"#),
            to: "config.json", in: dir.path)
        daemon.signal(SIGHUP)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("copy")).count == 20 }, "the new sink starts")
        let (status, stdout, stderr) = daemon.stop()
        #expect(status == 0, "stdout: \(stdout)\nstderr: \(stderr)")
        #expect(stderr.contains("reload refused"))
        #expect(stderr.contains("sources.live.batch"))
        #expect(stderr.contains("config reloaded"))
        let output = try Self.delivered(dir.file("out"))
        #expect(output.count == 20 && output.values.allSatisfy { $0 == 1 })
    }

    /// The daemon's status (`sluice status --json`), nil while it does not answer.
    static func status(in dir: String) -> JSONValue? {
        guard let result = try? SluiceBinary.run(["status", "--json"], in: dir), result.status == 0 else { return nil }
        return try? JSONValue.parse(Array(result.stdout.utf8))
    }

    static func sourceRecords(_ status: JSONValue?, _ name: String) -> Int64? {
        guard case .array(let sources)? = status?["sources"] else { return nil }
        return sources.first { $0["name"]?.stringValue == name }?["records"]?.integerValue
    }

    @Test func aReloadRestartsTheChangedSinkWhileTheUnchangedSourceKeepsItsPlace() throws {
        let dir = try Self.prepare(Self.rows(1...100))
        let daemon = try Running(in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 100 })
        #expect(Self.waitUntil { Self.sourceRecords(Self.status(in: dir.path), "live") == 100 })

        // "out" changes, "copy" is new; the source and its topic are as they were.
        try EndToEnd.write(
            Self.config(
                sinks: #""out": {"type": "file", "topics": ["live"], "path": "out", "max_batch_records": 7}, "#
                    + #""copy": {"type": "file", "topics": ["live"], "path": "copy"}"#),
            to: "config.json", in: dir.path)
        let reload = try SluiceBinary.run(["reload"], in: dir.path)
        #expect(reload.status == 0, "\(reload.stdout)\(reload.stderr)")
        #expect(try Self.waitUntil { try Self.delivered(dir.file("copy")).count == 100 }, "the new sink starts")
        let status = Self.status(in: dir.path)
        #expect(status?["generation"]?.integerValue == 2, "\(String(describing: status))")
        #expect(Self.sourceRecords(status, "live") == 100, "the source went on, not started again")

        try Self.append(Self.rows(101...120, header: false), to: dir.file("in/a.csv"))
        #expect(
            try Self.waitUntil {
                try Self.delivered(dir.file("out")).count == 120 && Self.delivered(dir.file("copy")).count == 120
            })
        let sinks =
            #""out": {"type": "file", "topics": ["live"], "path": "out"}, "#
            + #""copy": {"type": "file", "topics": ["live"], "path": "copy"}"#

        // A changed source stops at a batch boundary and starts again from where it was.
        try EndToEnd.write(
            Self.config(sinks: sinks).replacingOccurrences(
                of: #""path": "in","#, with: #""path": "in", "quote": "'","#),
            to: "config.json", in: dir.path)
        #expect(try SluiceBinary.run(["reload"], in: dir.path).status == 0)
        try Self.append(Self.rows(121...130, header: false), to: dir.file("in/a.csv"))
        #expect(
            try Self.waitUntil {
                try Self.delivered(dir.file("out")).count == 130 && Self.delivered(dir.file("copy")).count == 130
            })

        // A change to the topics drains the whole pipeline and starts it again.
        try EndToEnd.write(
            Self.config(sinks: sinks).replacingOccurrences(
                of: #""sources":"#, with: #""topics": {"live": {"partitions": 2}}, "sources":"#),
            to: "config.json", in: dir.path)
        #expect(try SluiceBinary.run(["reload"], in: dir.path).status == 0)
        try Self.append(Self.rows(131...140, header: false), to: dir.file("in/a.csv"))
        #expect(
            try Self.waitUntil {
                try Self.delivered(dir.file("out")).count == 140 && Self.delivered(dir.file("copy")).count == 140
            })
        let (code, stdout, stderr) = daemon.stop()
        #expect(code == 0, "stdout: \(stdout)\nstderr: \(stderr)")
        #expect(stderr.contains("changing the running pipeline"), "\(stderr)")
        #expect(stderr.contains("stopping_sources=live"), "\(stderr)")
        // The report covers the daemon's whole run, across the pipeline started again.
        #expect(stdout.contains("Rows read 140 = 140 delivered"), "\(stdout)")
        #expect(stdout.components(separatedBy: " rows read, ").count == 2, "one line per source: \(stdout)")
        // Only the change to the topics started the whole pipeline again.
        #expect(stderr.components(separatedBy: "daemon running").count == 3, "\(stderr)")
        for sink in ["out", "copy"] {
            let output = try Self.delivered(dir.file(sink))
            #expect(output.count == 140 && output.values.allSatisfy { $0 == 1 }, "\(sink): every row once")
        }
    }

    @Test func aSecondDaemonOnTheDataDirectoryIsRefusedAndTouchesNothing() throws {
        let dir = try Self.prepare(Self.rows(1...5))
        let daemon = try Running(in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 5 })
        let address = try FileSystem.readFile(dir.file("data/daemon.json"))
        let second = try EndToEnd.sluice(["daemon", "config.json"], in: dir.path, expect: 1)
        #expect(second.stderr.contains("is in use by process"), "\(second.stderr)")
        #expect(!second.stderr.contains("daemon running"), "\(second.stderr)")
        #expect(try FileSystem.readFile(dir.file("data/daemon.json")) == address, "the first daemon's address is kept")
        #expect(Self.status(in: dir.path) != nil, "sluice status still finds the first daemon")
        #expect(daemon.stop().status == 0)
    }

    @Test func aReloadWhoseKeyIsNotInTheHeaderOfAFileBeingReadIsRefused() throws {
        let dir = try Self.prepare(Self.rows(1...5))
        let daemon = try Running(in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 5 })
        try EndToEnd.write(
            Self.config().replacingOccurrences(of: #""path": "in","#, with: #""path": "in", "key": ["nope"],"#),
            to: "config.json", in: dir.path)
        let refused = try EndToEnd.sluice(["reload"], in: dir.path, expect: 2)
        #expect(refused.stderr.contains("sources.live.key"), "\(refused.stderr)")
        // The running config goes on reading the file as it grows.
        try Self.append(Self.rows(6...8, header: false), to: dir.file("in/a.csv"))
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 8 })
        let (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
    }

    @Test func aReloadThatWouldRemapKeysIsRefusedBeforeTheDrain() throws {
        let keyed = Self.config().replacingOccurrences(of: #""path": "in","#, with: #""path": "in", "key": ["id"],"#)
        let dir = try Self.prepare(Self.rows(1...5), config: keyed)
        let daemon = try Running(in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 5 })
        try EndToEnd.write(
            keyed.replacingOccurrences(of: #""sources":"#, with: #""topics": {"live": {"partitions": 3}}, "sources":"#),
            to: "config.json", in: dir.path)
        let refused = try EndToEnd.sluice(["reload"], in: dir.path, expect: 2)
        #expect(refused.stderr.contains("topics.live.partitions"), "\(refused.stderr)")
        try Self.append(Self.rows(6...7, header: false), to: dir.file("in/a.csv"))
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 7 }, "the running config goes on")
        let (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
    }

    @Test func aReloadAndADrainUnderLoadLoseAndRepeatNothing() throws {
        let rows = 100_000
        let dir = try Self.prepare(Self.rows(1...rows))
        let daemon = try Running(in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count > 0 })
        // A reload while the file is being read: the new config adds a sink.
        try EndToEnd.write(
            Self.config(
                sinks: #""out": {"type": "file", "topics": ["live"], "path": "out"}, "#
                    + #""copy": {"type": "file", "topics": ["live"], "path": "copy"}"#),
            to: "config.json", in: dir.path)
        daemon.signal(SIGHUP)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("copy")).count > 0 })
        // A drain while both sinks are still loading, then a start that finishes.
        let (status, stdout, stderr) = daemon.stop()
        #expect(status == 0, "stdout: \(stdout)\nstderr: \(stderr)")
        let again = try Running(in: dir.path)
        #expect(
            try Self.waitUntil(seconds: 120) {
                try Self.delivered(dir.file("out")).count == rows && Self.delivered(dir.file("copy")).count == rows
            })
        #expect(again.stop().status == 0)
        for sink in ["out", "copy"] {
            let output = try Self.delivered(dir.file(sink))
            #expect(output.count == rows && output.values.allSatisfy { $0 == 1 }, "\(sink): every row once")
        }
    }

    @Test func aPatternThatMatchesNoFileYetIsWaitedFor() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try EndToEnd.write(
            Self.config().replacingOccurrences(of: #""path": "in""#, with: #""path": "in/*.csv""#), to: "config.json",
            in: dir.path)
        let refused = try EndToEnd.sluice(["run", "config.json"], in: dir.path, expect: 2)
        #expect(refused.stderr.contains("matches no file"), "a run has nothing to read")
        let daemon = try Running(in: dir.path)
        Time.sleep(millis: 300)
        try EndToEnd.write(Self.rows(1...5), to: "in/a.csv", in: dir.path)
        #expect(try Self.waitUntil { try Self.delivered(dir.file("out")).count == 5 })
        let (status, stdout, stderr) = daemon.stop()
        #expect(status == 0, "stdout: \(stdout)\nstderr: \(stderr)")
    }

    @Test func badDaemonSettingsAreNamedByTheirPath() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try EndToEnd.write(
            """
            {"daemon": {"poll_interval_ms": 5, "shutdown_timeout": 10},
             "sources": {"live": {"type": "csv", "path": "in"}},
             "sinks": {"out": {"type": "file", "topics": ["live"], "path": "out"}}}
            """, to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["daemon", "config.json"], in: dir.path, expect: 2)
        #expect(result.stderr.contains("daemon.poll_interval_ms: expected an integer from 10"))
        #expect(
            result.stderr.contains(
                #"daemon.shutdown_timeout: unknown daemon setting; did you mean "shutdown_timeout_ms"?"#))
    }
}

/// The issue's kill test: a writer appends rows (cut anywhere, also inside a line) and adds a file
/// while the daemon, with a file sink and an exactly-once PostgreSQL upsert sink, is killed with SIGKILL
/// at random moments 30 times; at the end every row is in each sink exactly once.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct DaemonKillTests {
    /// A sink that gives up after its retry timeout (the database is down) fails the pipeline; the daemon
    /// runs it again after a backoff, counts the restart, and delivers once the database is back.
    @Test func aSinkThatFailedOnADatabaseDownIsRestartedAloneWithBackoff() throws {
        let server = try PostgresServer.dedicated()
        defer { server.stop() }
        let database = try server.createDatabase("restarts")
        try server.psql("CREATE TABLE live (id bigint PRIMARY KEY, name text, amount numeric)", database: database)
        try server.halt()
        let sinks = """
            "pg": {"type": "postgres", "topics": ["live"], "table": "live", "mode": "upsert", "key_columns": ["id"],
                   "connection": "\(server.connectionString(database: database))", "retry_initial_ms": 50,
                   "retry_timeout_ms": 300},
            "out": {"type": "file", "topics": ["live"], "path": "out"}
            """
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...20), config: DaemonTests.config(sinks: sinks))
        let daemon = try DaemonTests.Running(in: dir.path)
        func sink(_ name: String) -> JSONValue? {
            guard case .array(let sinks)? = DaemonTests.status(in: dir.path)?["sinks"] else { return nil }
            return sinks.first { $0["name"]?.stringValue == name }
        }
        #expect(DaemonTests.waitUntil { (sink("pg")?["restarts"]?.integerValue ?? 0) >= 1 }, "no restart counted")
        #expect((DaemonTests.status(in: dir.path)?["restarts"]?.integerValue ?? 0) >= 1)
        // The other sink went on meanwhile, and goes on: it is not started again with the failed one.
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")).count == 20 })
        try DaemonTests.append(DaemonTests.rows(21...25, header: false), to: dir.file("in/a.csv"))
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")).count == 25 })
        #expect(sink("out")?["state"]?.stringValue == "running")
        try server.start()
        #expect(
            DaemonTests.waitUntil(seconds: 60) {
                (try? server.psql("SELECT count(*) FROM live", database: database)) == "25"
            })
        let (code, _, stderr) = daemon.stop()
        #expect(code == 0, "\(stderr)")
        #expect(stderr.contains("the sink failed on a cause that may pass; restarting it"), "\(stderr)")
        #expect(!stderr.contains("the pipeline failed"), "\(stderr)")
        let output = try DaemonTests.delivered(dir.file("out"))
        #expect(output.count == 25 && output.values.allSatisfy { $0 == 1 })
    }

    @Test func killedThirtyTimesWhileAWriterAppendsDeliversEveryRowOnceToFilesAndPostgres() throws {
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("daemon_kills")
        try server.psql("CREATE TABLE live (id bigint PRIMARY KEY, name text, amount numeric)", database: database)
        let postgres = """
            "out": {"type": "file", "topics": ["live"], "path": "out"},
            "pg": {"type": "postgres", "topics": ["live"], "table": "live", "mode": "upsert", "key_columns": ["id"],
                   "delivery": "exactly_once", "connection": "\(server.connectionString(database: database))",
                   "retry_initial_ms": 100}
            """
        let dir = try DaemonTests.prepare("id,name,amount\n", config: DaemonTests.config(sinks: postgres))
        let total = 30_000
        let extra = 100_001...100_500
        let path = dir.file("in/a.csv")
        let writer = WorkerThread(name: "writer") {
            var next = 1
            var random = SplitMix64(seed: 5)
            while next <= total {
                let count = min(total - next + 1, 1 + Int(random.next() % 300))
                let text = Array(DaemonTests.rows(next...(next + count - 1), header: false).utf8)
                let cut = Int(random.next() % UInt64(text.count))
                try DaemonTests.append(String(decoding: text[..<cut], as: UTF8.self), to: path)
                Time.sleep(millis: 3)
                try DaemonTests.append(String(decoding: text[cut...], as: UTF8.self), to: path)
                next += count
                Time.sleep(millis: Int(random.next() % 100))
                if next > total / 3 && next - count <= total / 3 {
                    try EndToEnd.write(DaemonTests.rows(extra), to: "in/b.csv", in: dir.path)
                }
            }
        }
        var random = SplitMix64(seed: 11)
        for _ in 0..<30 {
            let daemon = try DaemonTests.Running(in: dir.path)
            Time.sleep(millis: 200 + Int(random.next() % 500))
            _ = daemon.stop(SIGKILL)
        }
        #expect(writer.join() == nil)
        let last = try DaemonTests.Running(in: dir.path)
        let rows = total + extra.count
        #expect(try DaemonTests.waitUntil(seconds: 90) { try DaemonTests.delivered(dir.file("out")).count == rows })
        #expect(
            try DaemonTests.waitUntil(seconds: 90) {
                try server.psql("SELECT count(*) FROM live", database: database) == String(rows)
            })
        let (status, stdout, stderr) = last.stop()
        #expect(status == 0, "stdout: \(stdout)\nstderr: \(stderr)")
        let output = try DaemonTests.delivered(dir.file("out"))
        #expect(output.count == rows)
        #expect(output.values.allSatisfy { $0 == 1 }, "rows written twice to the file sink")
        let idSum = (1...total).reduce(0, +) + extra.reduce(0, +)
        let amounts = try server.psql(
            "SELECT count(*), count(DISTINCT id), sum(id), count(*) FILTER (WHERE amount <> id + 0.5) FROM live",
            database: database)
        #expect(amounts == "\(rows)|\(rows)|\(idSum)|0")
        #expect(try EndToEnd.records("live.dlq", dataDirectory: dir.file("data")).isEmpty)
        #expect(try EndToEnd.records("pg.dlq", dataDirectory: dir.file("data")).isEmpty)
    }
}
