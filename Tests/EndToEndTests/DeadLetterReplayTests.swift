import Foundation
import SluiceCore
import SluiceTestSupport
import Testing

/// `sluice dlq replay`, through the binary: a plan first, then the letters go back into their topic
/// once, whatever the filters and however often it runs; the sink then loads them.
@Suite(.enabled(if: PostgresServer.shouldRun)) struct DeadLetterReplayTests {
    @Test func lettersAreReplayedOnceIntoTheTopicTheyCameFrom() throws {
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("replay")
        try server.psql("CREATE TABLE t (id int PRIMARY KEY, v text, CHECK (id % 3 <> 0))", database: database)
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,v\n" + (1...30).map { "\($0),v\($0)\n" }.joined(), to: "in.csv", in: dir.path)
        try EndToEnd.write(
            """
            {"sources": {"s": {"type": "csv", "path": "in.csv", "key": ["id"], "columns": {"id": "int"}}},
             "sinks": {"pg": {"type": "postgres", "topics": ["s"], "table": "t", "mode": "upsert", "key_columns": ["id"],
                              "connection": "\(server.connectionString(database: database))"}}}
            """, to: "config.json", in: dir.path)
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try server.psql("SELECT count(*) FROM t", database: database) == "20")

        let plan = try EndToEnd.sluice(["dlq", "replay", "--topic", "pg.dlq"], in: dir.path)
        #expect(plan.stdout.contains("postgres.23514  10"), "\(plan.stdout)")
        #expect(plan.stdout.contains("plan only"))
        let none = try EndToEnd.sluice(
            ["dlq", "replay", "--topic", "pg.dlq", "--error-class", "nothing", "--execute"], in: dir.path)
        #expect(none.stdout.contains("Nothing to replay"), "\(none.stdout)")

        try server.psql("ALTER TABLE t DROP CONSTRAINT t_id_check", database: database)
        // The first four letters, then the rest: each once.
        let first = try EndToEnd.sluice(
            ["dlq", "replay", "--topic", "pg.dlq", "--to-offset", "3", "--execute"], in: dir.path)
        #expect(first.stdout.contains("Replayed 4 records into s"), "\(first.stdout)")
        let rest = try EndToEnd.sluice(["dlq", "replay", "--topic", "pg.dlq", "--execute"], in: dir.path)
        #expect(rest.stdout.contains("Replayed 6 records into s"), "\(rest.stdout)")
        #expect(rest.stdout.contains("4 already replayed"), "\(rest.stdout)")
        let again = try EndToEnd.sluice(["dlq", "replay", "--topic", "pg.dlq", "--execute"], in: dir.path)
        #expect(again.stdout.contains("Nothing to replay") && again.stdout.contains("10 already replayed"))

        let replayed = try EndToEnd.records("s", dataDirectory: dir.file("data")).filter {
            $0.record.headerText("sluice.replayed_from") != nil
        }
        #expect(replayed.count == 10)
        #expect(replayed.allSatisfy { $0.record.headerText("sluice.error.class") == nil })
        try EndToEnd.sluice(["run"], in: dir.path)
        #expect(try server.psql("SELECT count(*) FROM t", database: database) == "30")
        let sources = try EndToEnd.sluice(["sources", "list"], in: dir.path)
        #expect(!sources.stdout.contains("__replay"), "\(sources.stdout)")
        try EndToEnd.sluice(["dlq", "replay", "--topic", "nope.dlq"], in: dir.path, expect: 2)
    }

    @Test func aRunningDaemonReplaysThroughItsAPI() throws {
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("replay_daemon")
        try server.psql("CREATE TABLE t (id int PRIMARY KEY, v text, CHECK (id % 3 <> 0))", database: database)
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("in"), withIntermediateDirectories: true)
        try EndToEnd.write("id,v\n" + (1...30).map { "\($0),v\($0)\n" }.joined(), to: "in/a.csv", in: dir.path)
        try EndToEnd.write(
            """
            {"daemon": {"poll_interval_ms": 50}, "admin": {"listen": "127.0.0.1:0"},
             "sources": {"s": {"type": "csv", "path": "in", "key": ["id"], "columns": {"id": "int"}}},
             "sinks": {"pg": {"type": "postgres", "topics": ["s"], "table": "t", "mode": "upsert", "key_columns": ["id"],
                              "connection": "\(server.connectionString(database: database))"}}}
            """, to: "config.json", in: dir.path)
        let daemon = try DaemonTests.Running(in: dir.path)
        let count = { (try? server.psql("SELECT count(*) FROM t", database: database)) ?? "" }
        #expect(DaemonTests.waitUntil { count() == "20" })
        // Dead letters are counted by their reason, the error class.
        let script = """
            import sys, urllib.request
            from prometheus_client.parser import text_string_to_metric_families
            text = urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=30).read().decode()
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "sluice_sink_dead_letters_total":
                        print(sample.labels["sink"], sample.labels["reason"], int(sample.value))
            """
        let base = try AdminApiTests.address(dir)
        var metrics = ""
        #expect(
            try DaemonTests.waitUntil {
                metrics = try AdminApiTests.python(script, [base])
                return metrics.contains("pg postgres.23514 10")
            }, "\(metrics)")
        #expect(
            DaemonTests.waitUntil {
                (try? EndToEnd.sluice(["dlq", "replay", "--topic", "pg.dlq"], in: dir.path))?.stdout.contains(
                    "postgres.23514  10") == true
            }, "the plan, from the daemon")
        try server.psql("ALTER TABLE t DROP CONSTRAINT t_id_check", database: database)
        let done = try EndToEnd.sluice(["dlq", "replay", "--topic", "pg.dlq", "--execute"], in: dir.path)
        #expect(done.stdout.contains("Replayed 10 records into s"), "\(done.stdout)")
        #expect(DaemonTests.waitUntil { count() == "30" }, "the running sink loads what was replayed")
        let again = try EndToEnd.sluice(["dlq", "replay", "--topic", "pg.dlq", "--execute"], in: dir.path)
        #expect(again.stdout.contains("10 already replayed"), "\(again.stdout)")
        let misspelt = try AdminApiTests.python(
            """
            import sys, urllib.request, urllib.error
            request = urllib.request.Request(sys.argv[1] + "/v1/dlq/replay", method="POST",
                data=b'{"topic": "pg.dlq", "error_class": "record", "execute": true}')
            try:
                urllib.request.urlopen(request, timeout=30)
                print(200)
            except urllib.error.HTTPError as error:
                print(error.code, error.read().decode())
            """, [base])
        #expect(misspelt.hasPrefix("400") && misspelt.contains("error_class"), "a typo replays nothing: \(misspelt)")
        let unknown = try EndToEnd.sluice(["dlq", "replay", "--topic", "nope.dlq"], in: dir.path, expect: 1)
        #expect(unknown.stderr.contains("nope.dlq"), "\(unknown.stderr)")
        let (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
    }
}
