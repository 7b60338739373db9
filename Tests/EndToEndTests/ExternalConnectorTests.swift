import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// External connectors (`"type": "exec"`) run by the `sluice` binary: the Python SDK's examples and test
/// connectors that misbehave on purpose.
@Suite(.serialized) struct ExternalConnectorTests {
    static var examples: String { EndToEnd.repositoryRoot + "/connectors/examples" }
    static var testConnectors: String { EndToEnd.repositoryRoot + "/connectors/exec/Tests/Connectors" }

    /// `count` NDJSON lines `{"id": N, "user": "uK", "n": N}` (ids from `first`), with a bad line every
    /// `badEvery`.
    static func ndjson(first: Int = 0, count: Int, badEvery: Int = 0) -> String {
        var text = ""
        for id in first..<(first + count) {
            if badEvery > 0 && id % badEvery == badEvery - 1 {
                text += "{\"id\": \(id), broken\n"
            } else {
                text += "{\"id\": \(id), \"user\": \"u\(id % 13)\", \"n\": \(id)}\n"
            }
        }
        return text
    }

    /// The rows of a SQLite table, by the sqlite3 module of Python (no other SQLite client is needed).
    static func sqlite(_ database: String, _ query: String) throws -> [String] {
        let result = try Subprocess.run(
            "/usr/bin/env",
            [
                "python3", "-c",
                "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
                    + "[print('|'.join(map(str, row))) for row in db.execute(sys.argv[2])]",
                database, query,
            ])
        #expect(result.status == 0, "sqlite: \(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    static func pipelineConfig(sinkOptions: String = "", sourceOptions: String = "") -> String {
        """
        {"topics": {"events": {"partitions": 3}},
         "sources": {"events": {"type": "exec", "command": ["python3", "\(examples)/ndjson_source.py"],
                                "path": "in", "key": "user"\(sourceOptions)}},
         "sinks": {"db": {"type": "exec", "command": ["python3", "\(examples)/sqlite_sink.py"], "topics": ["events"],
                          "database": "out/events.db", "table": "events", "key": ["id"]\(sinkOptions)}}}
        """
    }

    @Test func ndjsonFilesIntoSQLiteWithDeadLettersAndResume() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("out"), withIntermediateDirectories: true)
        try Self.ndjson(count: 3000, badEvery: 500).write(
            toFile: dir.file("in/a.ndjson"), atomically: true, encoding: .utf8)
        try Self.ndjson(first: 3000, count: 2000).write(
            toFile: dir.file("in/b.ndjson"), atomically: true, encoding: .utf8)
        try EndToEnd.write(Self.pipelineConfig(), to: "config.json", in: dir.path)

        let first = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(first.stdout.contains("4,994 delivered + 6 dead-lettered"), "\(first.stdout)")
        #expect(
            try Self.sqlite(dir.file("out/events.db"), "SELECT count(*), count(DISTINCT id) FROM events") == [
                "4994|4994"
            ])
        let letters = try EndToEnd.records("events.dlq", dataDirectory: dir.file("data"))
        #expect(letters.count == 6)
        #expect(letters.first?.record.headerText("sluice.error.message")?.contains("a.ndjson: not JSON") == true)
        #expect(letters.first?.record.headerText("sluice.error.stage") == "source")

        // Nothing new: nothing read. A new file and a line appended: only those.
        let again = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(again.stdout.contains("0 rows read") || again.stdout.contains("Rows read 0"), "\(again.stdout)")
        try Self.ndjson(first: 5000, count: 10).write(
            toFile: dir.file("in/c.ndjson"), atomically: true, encoding: .utf8)
        let third = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(third.stdout.contains("10 delivered"), "\(third.stdout)")
        #expect(try Self.sqlite(dir.file("out/events.db"), "SELECT count(*) FROM events") == ["5004"])
        let stored = try EndToEnd.records("events", dataDirectory: dir.file("data"))
        #expect(stored.count == 5004, "each line stored once")
    }

    @Test func theDaemonRunsExternalConnectorsOnNewInput() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("out"), withIntermediateDirectories: true)
        try EndToEnd.write(Self.pipelineConfig(), to: "config.json", in: dir.path)
        let daemon = try DaemonTests.Running(in: dir.path)
        let count = { try Self.sqlite(dir.file("out/events.db"), "SELECT count(*) FROM events").first ?? "" }
        try Self.ndjson(count: 300).write(toFile: dir.file("in/a.ndjson"), atomically: true, encoding: .utf8)
        #expect(
            DaemonTests.waitUntil {
                FileManager.default.fileExists(atPath: dir.file("out/events.db")) && (try? count()) == "300"
            })
        // Lines appended to the file, and a line still being written: only whole lines go.
        try DaemonTests.append(Self.ndjson(first: 300, count: 200) + "{\"id\": 999, \"us", to: dir.file("in/a.ndjson"))
        #expect(DaemonTests.waitUntil { (try? count()) == "500" })
        try DaemonTests.append("er\": \"u1\"}\n", to: dir.file("in/a.ndjson"))
        #expect(DaemonTests.waitUntil { (try? count()) == "501" })
        let stopped = daemon.stop()
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stdout.contains("Sink db: 501 records committed"), "\(stopped.stdout)")
    }

    @Test func validateChecksTheOptionsAConnectorDeclares() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(
            """
            {"sources": {"events": {"type": "exec", "command": ["python3", "\(Self.examples)/ndjson_source.py"],
                                    "paht": "in", "delete_after_read": "yes"}},
             "sinks": {"db": {"type": "exec", "command": ["python3", "\(Self.examples)/sqlite_sink.py"], "topics": ["events"],
                              "database": "x.db", "key": "id"},
                       "nope": {"type": "exec", "command": ["no-such-program-here"], "topics": ["events"]},
                       "wrong": {"type": "exec", "command": ["python3", "\(Self.examples)/ndjson_source.py"], "topics": ["events"]},
                       "mute": {"type": "exec", "command": ["sh", "-c", "echo hello there"], "topics": ["events"]},
                       "string": {"type": "exec", "command": "python3 sink.py", "topics": ["events"]},
                       "partial": {"type": "exec", "command": ["python3", "-c", "import sys, time; sys.stdout.write('{\\"type\\": \\"hel'); sys.stdout.flush(); time.sleep(60)"],
                                   "topics": ["events"]}}}
            """, to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["validate", "config.json"], in: dir.path, expect: 2)
        let text = result.stdout + result.stderr
        for expected in [
            "sources.events.paht: unknown option; did you mean \"path\"?",
            "sources.events.path: required option is missing",
            "sources.events.delete_after_read: expected true or false",
            "sinks.db.table: required option is missing",
            "sinks.nope.command: cannot start no-such-program-here",
            "sinks.wrong.command:",
            "is a source connector, not a sink",
            "sinks.mute.command:",
            "which is not a hello",
            #"sinks.string.command: a command is a list of the program and its arguments: ["python3", "sink.py"]"#,
            "sinks.partial.command:", "the line was not finished within 10 s",
        ] {
            #expect(text.contains(expected), "missing \(expected) in:\n\(text)")
        }
    }

    @Test func anInstalledConnectorIsNamedByItsType() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("out"), withIntermediateDirectories: true)
        try Self.ndjson(count: 100).write(toFile: dir.file("in/a.ndjson"), atomically: true, encoding: .utf8)
        let installed = try EndToEnd.sluice(["connectors", "install", "\(Self.examples)/sqlite_sink.py"], in: dir.path)
        #expect(installed.stdout.contains("Installed sqlite (sink)"), "\(installed.stdout)")
        try EndToEnd.sluice(
            ["connectors", "install", "\(Self.examples)/ndjson_source.py", "--name", "events"], in: dir.path)
        let listed = try EndToEnd.sluice(["connectors", "list"], in: dir.path)
        #expect(listed.stdout.contains("sqlite") && listed.stdout.contains("events"), "\(listed.stdout)")
        try EndToEnd.write(
            """
            {"topics": {"events": {"partitions": 2}},
             "sources": {"events": {"type": "events", "path": "in"}},
             "sinks": {"db": {"type": "sqlite", "topics": ["events"], "database": "out/e.db", "table": "e", "key": ["id"]},
                       "wrong": {"type": "events", "topics": ["events"]},
                       "own": {"type": "sqlite", "command": ["true"], "topics": ["events"]}}}
            """, to: "config.json", in: dir.path)
        let refused = try EndToEnd.sluice(["validate", "config.json"], in: dir.path, expect: 2)
        #expect(refused.stderr.contains("sinks.wrong.type: the installed connector \"events\" is a source, not a sink"))
        #expect(refused.stderr.contains("sinks.own.command: an installed connector"))
        try EndToEnd.write(
            """
            {"topics": {"events": {"partitions": 2}},
             "sources": {"events": {"type": "events", "path": "in"}},
             "sinks": {"db": {"type": "sqlite", "topics": ["events"], "database": "out/e.db", "table": "e", "key": ["id"]}}}
            """, to: "config.json", in: dir.path)
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try Self.sqlite(dir.file("out/e.db"), "SELECT count(*) FROM e") == ["100"])
        // An installed connector is described and tested by its name.
        let described = try EndToEnd.sluice(["connectors", "describe", "sqlite"], in: dir.path)
        #expect(described.stdout.contains("database"), "\(described.stdout)")
        let misspelled = try EndToEnd.sluice(["connectors", "describe", "sqlit"], in: dir.path, expect: 2)
        #expect(misspelled.stderr.contains("did you mean \"sqlite\"?"), "\(misspelled.stderr)")
        #expect(misspelled.stderr.components(separatedBy: "exec").count == 2, "exec once: \(misspelled.stderr)")
        try EndToEnd.write(#"{"path": "in"}"#, to: "source-options.json", in: dir.path)
        let tested = try EndToEnd.sluice(
            ["connectors", "test", "events", "--config", "source-options.json", "--kills", "3"], in: dir.path)
        #expect(tested.stdout.contains("checks passed"), "\(tested.stdout)")
        let notAConnector = try EndToEnd.sluice(["connectors", "install", "nowhere.py"], in: dir.path, expect: 2)
        #expect(notAConnector.stderr.contains("is not a connector program"))
    }

    @Test func aSourceThatSendsNothingStopsAtOnceOnCtrlC() throws {
        let dir = TemporaryDirectory()
        try """
        import sys, time
        sys.path.insert(0, "\(EndToEnd.repositoryRoot)/connectors/sdk/python")
        import sluice_connector as sluice
        class Quiet(sluice.Source):
            name = "quiet"
            def records(self):
                time.sleep(3600)
                yield None, b"never"
        sluice.run(Quiet())
        """.write(toFile: dir.file("quiet.py"), atomically: true, encoding: .utf8)
        try EndToEnd.write(
            #"{"sources": {"q": {"type": "exec", "command": ["python3", "quiet.py"]}}, "sinks": {}}"#,
            to: "config.json",
            in: dir.path)
        let (process, out, err) = try SluiceBinary.start(["run", "config.json"], in: dir.path)
        let collector = OutputCollector(out: out, err: err)
        Time.sleep(millis: 1500)
        let signalled = Date()
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let (_, stderr) = collector.finish()
        #expect(Date().timeIntervalSince(signalled) < 5, "the run took too long to stop")
        #expect(process.terminationStatus == 130, "\(stderr)")
        #expect(stderr.contains("interrupted"), "\(stderr)")
    }

    /// A Python sink whose `open` never returns (and which ignores SIGTERM and its closed input), writing
    /// its pid to `pid.txt` first.
    static func stuckSink(in dir: TemporaryDirectory) throws {
        try """
        import os, signal, sys, time
        sys.path.insert(0, "\(EndToEnd.repositoryRoot)/connectors/sdk/python")
        import sluice_connector as sluice
        class Stuck(sluice.Sink):
            name = "stuck"
            def open(self, options, context):
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                with open("pid.txt", "w") as f:
                    f.write(str(os.getpid()))
                time.sleep(3600)
        sluice.run(Stuck())
        """.write(toFile: dir.file("stuck.py"), atomically: true, encoding: .utf8)
        try EndToEnd.write(
            """
            {"sources": {"s": {"type": "csv", "path": "in.csv", "topic": "t"}},
             "sinks": {"stuck": {"type": "exec", "command": ["python3", "stuck.py"], "topics": ["t"]}}}
            """, to: "config.json", in: dir.path)
        try EndToEnd.write("a,b\n1,2\n", to: "in.csv", in: dir.path)
    }

    /// Waits for the stuck sink's pid file; its pid.
    static func stuckPid(_ dir: TemporaryDirectory) -> pid_t? {
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: dir.file("pid.txt"), encoding: .utf8), let pid = pid_t(text) {
                return pid
            }
            Time.sleep(millis: 50)
        }
        return nil
    }

    @Test func aSinkThatNeverAnswersOpenDoesNotHoldCtrlC() throws {
        let dir = TemporaryDirectory()
        try Self.stuckSink(in: dir)
        let (process, out, err) = try SluiceBinary.start(["run", "config.json"], in: dir.path)
        let collector = OutputCollector(out: out, err: err)
        let pid = try #require(Self.stuckPid(dir))
        let signalled = Date()
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let (_, stderr) = collector.finish()
        #expect(Date().timeIntervalSince(signalled) < 10, "the run took too long to stop: \(stderr)")
        #expect(process.terminationStatus == 130, "\(stderr)")
        Time.sleep(millis: 200)
        #expect(kill(pid, 0) != 0, "the connector outlived the run")
    }

    @Test func aSecondCtrlCEndsTheRunAndItsConnectorsAtOnce() throws {
        let dir = TemporaryDirectory()
        try Self.stuckSink(in: dir)
        let (process, out, err) = try SluiceBinary.start(["run", "config.json"], in: dir.path)
        let collector = OutputCollector(out: out, err: err)
        let pid = try #require(Self.stuckPid(dir))
        kill(process.processIdentifier, SIGINT)
        Time.sleep(millis: 100)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        _ = collector.finish()
        #expect(process.terminationStatus == 130)
        // Killed is what counts: a killed connector waits as a zombie until init reaps it, which a busy
        // machine may not do at once.
        var gone = false
        for _ in 0..<100 where !gone {
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?
                .split(separator: ")").last?.split(separator: " ").first
            gone = kill(pid, 0) != 0 || state == "Z"
            if !gone { Time.sleep(millis: 50) }
        }
        #expect(gone, "the connector (pid \(pid)) still runs after the run ended")
        if !gone { kill(pid, SIGKILL) }
    }

    @Test func aConnectorRunsInItsConfigFilesFolder() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("pipeline"), withIntermediateDirectories: true)
        try EndToEnd.write(Self.testConfig(count: 300, sink: ""), to: "pipeline/config.json", in: dir.path)
        try EndToEnd.sluice(["run", "pipeline/config.json"], in: dir.path)
        let text = try String(contentsOfFile: dir.file("pipeline/ids.txt"), encoding: .utf8)
        #expect(text.split(separator: "\n").count == 300)
        #expect(!FileManager.default.fileExists(atPath: dir.file("ids.txt")))
        try EndToEnd.write(
            Self.testConfig(count: 1, sink: #", "working_directory": "missing""#), to: "pipeline/bad.json",
            in: dir.path)
        let bad = try EndToEnd.sluice(["validate", "pipeline/bad.json"], in: dir.path, expect: 2)
        #expect(bad.stderr.contains("sinks.test.working_directory:"), "\(bad.stderr)")
        #expect(bad.stderr.contains("pipeline/missing is not a folder"), "\(bad.stderr)")
    }

    @Test func aBannerPrintedBeforeTheHelloIsSkipped() throws {
        let dir = TemporaryDirectory()
        try """
        print("Welcome to some library 1.0")
        import sys
        sys.path.insert(0, "\(EndToEnd.repositoryRoot)/connectors/sdk/python")
        import sluice_connector as sluice
        class Two(sluice.Source):
            name = "two"
            def records(self):
                yield "1", "one"
                yield "2", "two"
        sluice.run(Two())
        """.write(toFile: dir.file("banner.py"), atomically: true, encoding: .utf8)
        try EndToEnd.write(
            #"{"sources": {"b": {"type": "exec", "command": ["python3", "banner.py"]}}, "sinks": {}}"#,
            to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(result.stderr.contains("Welcome to some library"), "\(result.stderr)")
        #expect(try EndToEnd.records("b", dataDirectory: dir.file("data")).count == 2)
    }

    @Test func aSlowPerRecordSourceSendsWhatItHasWithinATenthOfASecond() throws {
        let script = """
            import sys, time
            sys.path.insert(0, "\(EndToEnd.repositoryRoot)/connectors/sdk/python")
            import sluice_connector as sluice
            class Slow(sluice.Source):
                def records(self):
                    for n in range(6):
                        time.sleep(0.07)
                        yield str(n), "v"
            print([len(b.records) for b in Slow().batches(10000, 1 << 20)])
            """
        let result = try Subprocess.run("/usr/bin/env", ["python3", "-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        // Each batch is cut once it has waited 0.1 s: three records at most, never all six in one.
        let sizes = result.stdout.trimmingCharacters(in: CharacterSet(charactersIn: "[] \n")).split(separator: ",")
            .compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        #expect(sizes.reduce(0, +) == 6 && sizes.count >= 2 && sizes.allSatisfy { $0 <= 3 }, "\(result.stdout)")
    }

    @Test func aSourceThatFailsAfterSomeBatchesStopsTheRunWithItsError() throws {
        let dir = TemporaryDirectory()
        try """
        import sys
        sys.path.insert(0, "\(EndToEnd.repositoryRoot)/connectors/sdk/python")
        import sluice_connector as sluice
        class Boom(sluice.Source):
            name = "boom"
            def open(self, options, position):
                self.n = int(position or 0)
            def records(self):
                while True:
                    if self.n == 5:
                        raise ValueError(f"kaboom at {self.n}")
                    self.n += 1
                    yield str(self.n), '{"id": %d}' % self.n
                    yield None
            def position(self):
                return str(self.n)
        sluice.run(Boom())
        """.write(toFile: dir.file("boom.py"), atomically: true, encoding: .utf8)
        try EndToEnd.write(
            #"{"sources": {"b": {"type": "exec", "command": ["python3", "boom.py"]}}, "sinks": {}}"#, to: "config.json",
            in: dir.path)
        let result = try EndToEnd.sluice(["run"], in: dir.path, expect: 1)
        #expect(result.stderr.contains("kaboom at 5"), "\(result.stderr)")
        #expect(try EndToEnd.records("b", dataDirectory: dir.file("data")).count == 5, "the batches before the failure")
    }

    @Test func describeListsAnExternalConnectorsOptions() throws {
        let dir = TemporaryDirectory()
        let result = try EndToEnd.sluice(
            ["connectors", "describe", "exec", "--command", "python3 \(Self.examples)/sqlite_sink.py"], in: dir.path)
        #expect(result.stdout.contains("database"), "\(result.stdout)")
        #expect(result.stdout.contains("upsert by key"), "\(result.stdout)")
    }

    /// The test connectors, with options for the test sink.
    static func testConfig(count: Int, sink: String, source: String = "", sinkCommon: String = "") -> String {
        """
        {"topics": {"numbers": {"partitions": 2}},
         "sources": {"numbers": {"type": "exec", "command": ["python3", "\(testConnectors)/test_source.py"],
                                 "count": \(count)\(source)}},
         "sinks": {"test": {"type": "exec", "command": ["python3", "\(testConnectors)/test_sink.py"], "topics": ["numbers"],
                            "out": "ids.txt"\(sink)\(sinkCommon)}}}
        """
    }

    static func ids(_ dir: TemporaryDirectory) throws -> [Int] {
        let text = (try? String(contentsOfFile: dir.file("ids.txt"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { Int($0) }
    }

    @Test func recordFailuresGoToTheDeadLetterTopicWithTheConnectorsMessage() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(
            Self.testConfig(
                count: 5000, sink: #", "fail_ids": ["7", "4242"], "noise": true"#, source: #", "noise": true"#),
            to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["run"], in: dir.path)
        // What the connectors print goes to the log with their names, never into the protocol.
        #expect(result.stderr.contains("noise 0") && result.stderr.contains("connector=numbers"), "\(result.stderr)")
        #expect(result.stderr.contains("more noise") && result.stderr.contains("connector=test"), "\(result.stderr)")
        let ids = try Self.ids(dir)
        #expect(ids.count == 4998 && Set(ids).count == 4998)
        let letters = try EndToEnd.records("test.dlq", dataDirectory: dir.file("data"))
        #expect(letters.count == 2)
        #expect(
            letters.map { $0.record.headerText("sluice.error.message") ?? "" }.sorted() == [
                "id 4242 is refused", "id 7 is refused",
            ])
        #expect(letters.first?.record.headerText("sluice.error.class") == "test.refused")
    }

    @Test func aTransientFailureIsRetriedAndACrashedConnectorRestarted() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(
            Self.testConfig(
                count: 20000, sink: #", "transient_once": "t.marker", "crash_once": "sink.marker""#,
                source: #", "crash_once": "source.marker", "bad_every": 1000"#),
            to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["run"], in: dir.path)
        #expect(FileManager.default.fileExists(atPath: dir.file("t.marker")))
        #expect(FileManager.default.fileExists(atPath: dir.file("sink.marker")))
        #expect(FileManager.default.fileExists(atPath: dir.file("source.marker")))
        #expect(result.stderr.contains("starting it again"), "\(result.stderr)")
        let ids = try Self.ids(dir)
        #expect(Set(ids).count == 19980, "every good record written")
        #expect(ids.count == 19980, "none written twice")
        #expect(try EndToEnd.records("numbers", dataDirectory: dir.file("data")).count == 19980, "none stored twice")
        #expect(try EndToEnd.records("numbers.dlq", dataDirectory: dir.file("data")).count == 20)
    }

    @Test func theJSONLinesFramingCarriesTheSameRecords() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(
            Self.testConfig(count: 30000, sink: #", "fail_ids": ["5"]"#, source: #", "bad_every": 1000"#),
            to: "config.json", in: dir.path)
        let result = try SluiceBinary.run(["run"], in: dir.path, environment: ["SLUICE_CONNECTOR_FRAMING": "jsonl"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let ids = try Self.ids(dir)
        #expect(ids.count == 29969 && Set(ids).count == 29969)
        #expect(try EndToEnd.records("numbers.dlq", dataDirectory: dir.file("data")).count == 30)
        #expect(try EndToEnd.records("test.dlq", dataDirectory: dir.file("data")).count == 1)
    }

    @Test func aSinkThatSaysEachBatchIsDurableIsNotAskedToFlush() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(
            Self.testConfig(count: 20000, sink: #", "durable_each_batch": true"#), to: "config.json", in: dir.path)
        try EndToEnd.sluice(["run"], in: dir.path)
        let ids = try Self.ids(dir)
        #expect(ids.count == 20000 && Set(ids).count == 20000)
        #expect(!FileManager.default.fileExists(atPath: dir.file("ids.txt.flushes")), "flush was sent")
    }

    @Test func aFatalFailureStopsTheRunWithTheMessage() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(Self.testConfig(count: 3000, sink: #", "fatal_id": 1234"#), to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["run"], in: dir.path, expect: 1)
        #expect((result.stdout + result.stderr).contains("id 1234 is fatal"), "\(result.stdout)\(result.stderr)")
    }

    @Test func aReplyThatNamesARecordNotInItsBatchIsAProtocolError() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(
            Self.testConfig(count: 100, sink: #", "bad_reply": true"#, sinkCommon: #", "retry_timeout_ms": 1500"#),
            to: "config.json", in: dir.path)
        let result = try EndToEnd.sluice(["run"], in: dir.path, expect: 1)
        let text = result.stdout + result.stderr
        #expect(text.contains("broke the protocol"), "\(text)")
        #expect(text.contains("not in the batch"), "\(text)")
        #expect(try Self.ids(dir).isEmpty, "nothing of a refused batch is made durable")
    }

    /// The Swift example sink (an executable built with the package, beside `sluice`).
    static var swiftSink: String {
        (SluiceBinary.path as NSString).deletingLastPathComponent + "/sluice-jsonl-sink"
    }

    @Test func theSwiftExampleSinkIsExactlyOnceAcrossKills() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        for file in 0..<2 {
            try Self.ndjson(first: file * 100000, count: 100000)
                .write(toFile: dir.file("in/part-\(file).ndjson"), atomically: true, encoding: .utf8)
        }
        try EndToEnd.write(
            """
            {"topics": {"events": {"partitions": 3}},
             "sources": {"events": {"type": "exec", "command": ["python3", "\(Self.examples)/ndjson_source.py"],
                                    "path": "in", "key": "user"}},
             "sinks": {"lines": {"type": "exec", "command": ["\(Self.swiftSink)"], "topics": ["events"],
                                 "folder": "out", "max_batch_records": 4000}}}
            """, to: "config.json", in: dir.path)
        let kills = try EndToEnd.killRepeatedly(
            ["run"], in: dir.path, times: 20, seed: 31, minMillis: 150, spreadMillis: 500)
        // How far a run gets before its kill varies tenfold between machines; at least ten kills in
        // the middle of the work is what the test needs.
        #expect(kills >= 10, "the run finished before it was killed 10 times")
        Time.sleep(millis: 300)
        try EndToEnd.sluice(["run"], in: dir.path)
        var ids: [Int] = []
        for partition in 0..<3 {
            let text = try String(contentsOfFile: dir.file("out/events-\(partition).jsonl"), encoding: .utf8)
            for line in text.split(separator: "\n") {
                let object = try JSONValue.parse(String(line))
                if let id = object["value"]?["id"]?.integerValue { ids.append(Int(id)) }
            }
        }
        #expect(ids.count == 200000, "lines in the files, counting repeats")
        #expect(Set(ids).count == 200000, "distinct records in the files")
    }

    @Test func killedWithSIGKILLTwentyTimesNothingIsLostOrRepeated() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.file("out"), withIntermediateDirectories: true)
        for file in 0..<4 {
            try Self.ndjson(first: file * 50000, count: 50000, badEvery: 9973)
                .write(toFile: dir.file("in/part-\(file).ndjson"), atomically: true, encoding: .utf8)
        }
        try EndToEnd.write(
            Self.pipelineConfig(sinkOptions: #", "max_batch_records": 5000"#), to: "config.json", in: dir.path)
        let kills = try EndToEnd.killRepeatedly(
            ["run"], in: dir.path, times: 20, seed: 13, minMillis: 200, spreadMillis: 600)
        // A CI machine once finished the work after 16 kills at the former 300–1,200 ms: how far a run
        // gets varies tenfold between machines, and ten kills in the middle of the work is what counts.
        #expect(kills >= 10, "the run finished before it was killed 10 times")
        Time.sleep(millis: 300)  // the connectors of the last killed run see their input close
        try EndToEnd.sluice(["run"], in: dir.path)
        let bad = (0..<200000).filter { $0 % 9973 == 9972 }.count
        let stored = try EndToEnd.records("events", dataDirectory: dir.file("data"))
        #expect(stored.count == 200000 - bad, "each good line stored exactly once")
        #expect(try EndToEnd.records("events.dlq", dataDirectory: dir.file("data")).count == bad)
        #expect(try Self.sqlite(dir.file("out/events.db"), "SELECT count(*) FROM events") == ["\(200000 - bad)"])
        let offsets = try Self.sqlite(dir.file("out/events.db"), "SELECT sum(next_offset) FROM _sluice_offsets")
        #expect(offsets == ["\(200000 - bad)"], "the offsets stored with the rows are the topic's ends")
    }
}
