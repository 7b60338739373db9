import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// `sluice pause` and `resume` (the daemon's `POST /v1/sinks/NAME/pause` and `/resume`), through the
/// binary: a paused sink commits what it has and stops while the others go on, stays paused through
/// a restart of the daemon and in `sluice run`, and once resumed delivers what waited, once.
@Suite struct PauseTests {
    static let config = DaemonTests.config(
        sinks: #""out": {"type": "file", "topics": ["live"], "path": "out"}, "#
            + #""other": {"type": "file", "topics": ["live"], "path": "other"}"#)

    static func sinkState(_ dir: TemporaryDirectory, _ name: String) -> String? {
        sink(dir, name)?["state"]?.stringValue
    }

    /// The sink as `GET /v1/status` shows it.
    static func sink(_ dir: TemporaryDirectory, _ name: String) -> JSONValue? {
        guard let result = try? SluiceBinary.run(["status", "--json"], in: dir.path), result.status == 0,
            let status = try? JSONValue.parse(Array(result.stdout.utf8))
        else { return nil }
        return status["sinks"]?.arrayValue?.first { $0["name"]?.stringValue == name }
    }

    @Test func aPausedSinkStaysPausedThroughARestartAndResumesWithoutLoss() throws {
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...10), config: Self.config)
        var daemon = try DaemonTests.Running(in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")).count == 10 })
        let paused = try EndToEnd.sluice(["pause", "out"], in: dir.path)
        #expect(paused.stdout.contains("Pausing sink out"), "\(paused.stdout)")
        #expect(DaemonTests.waitUntil { Self.sinkState(dir, "out") == "paused" })
        try DaemonTests.append(DaemonTests.rows(11...20, header: false), to: dir.file("in/a.csv"))
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("other")).count == 20 })
        Time.sleep(millis: 300)
        #expect(try DaemonTests.delivered(dir.file("out")).count == 10, "a paused sink wrote")
        let waiting = Self.sink(dir, "out")
        #expect(waiting?["lag_records"]?.integerValue == 10)
        #expect((waiting?["lag_seconds"]?.doubleValue ?? 0) > 0, "\(waiting?.serialized() ?? "")")
        // The pause stopped the sink's tasks alone: the source kept its place and its counts.
        #expect(DaemonTests.sourceRecords(DaemonTests.status(in: dir.path), "live") == 20)
        var (status, stdout, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
        #expect(!stderr.contains("the pipeline starts again"), "\(stderr)")
        #expect(stdout.contains("Paused: out has 10 records waiting"), "\(stdout)")
        #expect(!stdout.contains("delivered again on the next start"), "a paused sink's records wait: \(stdout)")

        // Paused through a restart of the daemon, and in `sluice run`.
        daemon = try DaemonTests.Running(in: dir.path)
        #expect(DaemonTests.waitUntil { Self.sinkState(dir, "out") == "paused" })
        (status, stdout, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
        let run = try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        #expect(run.stdout.contains("out: paused, 10 records waiting"), "\(run.stdout)")
        #expect(try DaemonTests.delivered(dir.file("out")).count == 10)

        // Resumed while the daemon runs: what waited is delivered, once.
        daemon = try DaemonTests.Running(in: dir.path)
        #expect(DaemonTests.waitUntil { Self.sinkState(dir, "out") == "paused" })
        try EndToEnd.sluice(["resume", "out"], in: dir.path)
        #expect(
            try DaemonTests.waitUntil {
                try DaemonTests.delivered(dir.file("out")) == Dictionary(uniqueKeysWithValues: (1...20).map { ($0, 1) })
            })
        (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
    }

    @Test func withoutADaemonThePauseIsKeptForTheNextRun() throws {
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...5), config: Self.config)
        let paused = try EndToEnd.sluice(["pause", "out"], in: dir.path)
        #expect(paused.stdout.contains("Paused sink out. No daemon runs"), "\(paused.stdout)")
        let run = try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        #expect(run.stdout.contains("out: paused, 5 records waiting"), "\(run.stdout)")
        #expect(try DaemonTests.delivered(dir.file("out")).isEmpty)
        #expect(try DaemonTests.delivered(dir.file("other")).count == 5)
        try EndToEnd.sluice(["resume", "out"], in: dir.path)
        try EndToEnd.sluice(["run", "config.json"], in: dir.path)
        #expect(try DaemonTests.delivered(dir.file("out")).count == 5)
        let unknown = try EndToEnd.sluice(["pause", "nope"], in: dir.path, expect: 2)
        #expect(unknown.stderr.contains("no sink \"nope\""), "\(unknown.stderr)")
        // A damaged list of paused sinks stops a run rather than start a sink that was paused.
        try EndToEnd.write("{bad", to: "data/paused-sinks.json", in: dir.path)
        let damaged = try EndToEnd.sluice(["run", "config.json"], in: dir.path, expect: 1)
        #expect(damaged.stderr.contains("paused-sinks.json cannot be read"), "\(damaged.stderr)")
    }

    /// `GET /v1/groups/GROUP/offsets`, and changing them: refused while the group's sink runs, a plan
    /// only with `dry_run`, applied while it is paused, and followed once it is resumed.
    @Test func groupOffsetsChangeOnlyWhileTheSinkIsPaused() throws {
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...6), config: Self.config)
        let daemon = try DaemonTests.Running(in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")).count == 6 })
        let base = try AdminApiTests.address(dir)
        let script = #"""
            import json, sys, urllib.request, urllib.error
            def call(method, body=None):
                data = None if body is None else json.dumps(body).encode()
                request = urllib.request.Request(sys.argv[1] + "/v1/groups/out/offsets", data=data, method=method)
                try:
                    with urllib.request.urlopen(request, timeout=30) as a:
                        return [a.status, json.loads(a.read())]
                except urllib.error.HTTPError as e:
                    return [e.code, json.loads(e.read())]
            if sys.argv[2] == "get":
                print(json.dumps(call("GET")))
            else:
                print(json.dumps(call("POST", json.loads(sys.argv[2]))))
            """#
        func call(_ argument: String) throws -> (status: Int64, body: JSONValue) {
            let answer = try JSONValue.parse(Array(try AdminApiTests.python(script, [base, argument]).utf8))
            let pair = answer.arrayValue ?? []
            return (pair.first?.integerValue ?? 0, pair.count > 1 ? pair[1] : .null)
        }
        func first(_ body: JSONValue) -> JSONValue? { body["partitions"]?.arrayValue?.first }
        let before = try call("get")
        #expect(before.status == 200 && before.body["sink"]?.stringValue == "out")
        #expect(first(before.body)?["offset"]?.integerValue == 6, "\(before.body.serialized())")
        let refused = try call(#"{"to": "earliest"}"#)
        #expect(refused.status == 409, "\(refused.body.serialized())")
        #expect(refused.body["error"]?.stringValue?.contains("sluice pause out") == true)
        try EndToEnd.sluice(["pause", "out"], in: dir.path)
        #expect(DaemonTests.waitUntil { Self.sinkState(dir, "out") == "paused" })
        let plan = try call(#"{"to": "earliest", "dry_run": true}"#)
        #expect(plan.status == 200 && plan.body["applied"]?.boolValue == false, "\(plan.body.serialized())")
        #expect(first(try call("get").body)?["offset"]?.integerValue == 6, "a dry run changed them")
        #expect(try call(#"{"to": "sideways"}"#).status == 400)
        let typo = try call(#"{"to": "latest", "dryrun": true}"#)
        #expect(typo.status == 400 && typo.body["error"]?.stringValue?.contains("dry_run") == true)
        #expect(try call(#"{"to": "earliest", "topics": ["out.dlq"]}"#).status == 404)
        #expect(try call(#"{"offset": -5}"#).status == 400)
        let applied = try call(#"{"offset": 2}"#)
        #expect(applied.status == 200 && first(applied.body)?["new"]?.integerValue == 2)
        #expect(first(try call("get").body)?["offset"]?.integerValue == 2)
        try EndToEnd.sluice(["resume", "out"], in: dir.path)
        #expect(
            DaemonTests.waitUntil {
                (try? call("get")).flatMap { first($0.body)?["offset"]?.integerValue } == 6
                    && Self.sinkState(dir, "out") == "running"
            })
        let (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
        #expect(try DaemonTests.delivered(dir.file("out")).count == 6)
    }

    @Test func theAPIRefusesWhatItCannotDo() throws {
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...2), config: Self.config)
        let daemon = try DaemonTests.Running(in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")).count == 2 })
        let unknown = try EndToEnd.sluice(["pause", "nope"], in: dir.path, expect: 1)
        #expect(unknown.stderr.contains("no sink \"nope\" runs here"), "\(unknown.stderr)")
        let base = try AdminApiTests.address(dir)
        let script = #"""
            import sys, urllib.request, urllib.error
            def status(path, method):
                try:
                    with urllib.request.urlopen(urllib.request.Request(sys.argv[1] + path, method=method), timeout=30) as a:
                        return a.status
                except urllib.error.HTTPError as e:
                    return e.code
            print(status("/v1/sinks/out/pause", "GET"), status("/v1/sinks/out/explode", "POST"),
                  status("/v1/reload", "GET"), status("/v1/status", "POST"), status("/v1/nothing", "GET"))
            """#
        let answer = try AdminApiTests.python(script, [base])
        // A GET changes nothing: a path that takes POST answers 405; an unknown action or path 404.
        #expect(answer.trimmingCharacters(in: .whitespacesAndNewlines) == "405 404 405 405 404", "\(answer)")
        #expect(Self.sinkState(dir, "out") == "running")
        let (status, _, stderr) = daemon.stop()
        #expect(status == 0, "\(stderr)")
    }
}
