import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// The daemon's admin API, through the real binary: health, readiness, status, metrics (parsed by
/// Prometheus's own Python client), reload, and the token rule.
@Suite struct AdminApiTests {
    /// The Python that has prometheus_client (`.ci/run` makes a virtual environment and names it in
    /// SLUICE_TEST_PYTHON); nil outside CI when there is none.
    static var python: String? {
        if let path = ProcessInfo.processInfo.environment["SLUICE_TEST_PYTHON"], !path.isEmpty { return path }
        let probe = try? Subprocess.run("/usr/bin/env", ["python3", "-c", "import prometheus_client"])
        return probe?.status == 0 ? "python3" : nil
    }

    /// Runs a Python script with `arguments`; returns its standard output.
    static func python(_ script: String, _ arguments: [String]) throws -> String {
        let python = try #require(
            python, "prometheus_client for Python is missing; .ci/run installs it into a virtual environment")
        let result = try Subprocess.run("/usr/bin/env", [python, "-c", script] + arguments)
        #expect(result.status == 0, "python: \(result.stderr)")
        return result.stdout
    }

    /// Fetches what the tests look at, with urllib, and parses `/metrics` with prometheus_client.
    static let probe = #"""
        import json, sys, urllib.request, urllib.error
        from prometheus_client.parser import text_string_to_metric_families
        base = sys.argv[1]
        def get(path, method="GET"):
            request = urllib.request.Request(base + path, method=method)
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, answer.read().decode()
            except urllib.error.HTTPError as error:
                return error.code, error.read().decode()
        result = {}
        result["livez"] = get("/livez")[0]
        result["readyz"], body = get("/readyz")
        result["ready"] = json.loads(body)["ready"]
        result["status"] = json.loads(get("/v1/status")[1])
        result["reload_get"] = get("/v1/reload")[0]
        result["files"] = json.loads(get("/v1/sources/live/files")[1])
        result["files_unknown"] = get("/v1/sources/nope/files")[0]
        samples = {}
        for family in text_string_to_metric_families(get("/metrics")[1]):
            for sample in family.samples:
                key = sample.name + "".join(f"|{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[key] = sample.value
        result["metrics"] = samples
        print(json.dumps(result))
        """#

    static func address(_ dir: TemporaryDirectory) throws -> String {
        let record = try JSONValue.parse(try FileSystem.readFile(dir.file("data/daemon.json")))
        return try #require(record["admin"]?.stringValue)
    }

    @Test func statusReadinessAndMetricsAgreeWithTheSinks() throws {
        let dir = try DaemonTests.prepare(DaemonTests.rows(1...50) + "bad,row,with,too,many\n")
        let daemon = try DaemonTests.Running(in: dir.path)
        #expect(try DaemonTests.waitUntil { try DaemonTests.delivered(dir.file("out")).count == 50 })
        Time.sleep(millis: 300)
        let base = try Self.address(dir)

        let answer = try JSONValue.parse(Array(try Self.python(Self.probe, [base]).utf8))
        #expect(answer["livez"]?.integerValue == 200)
        #expect(answer["readyz"]?.integerValue == 200 && answer["ready"]?.boolValue == true)
        #expect(answer["reload_get"]?.integerValue != 200, "nothing that changes state answers a GET")
        let file = try #require(answer["files"]?["files"]?.arrayValue?.first)
        #expect(file["path"]?.stringValue?.hasSuffix("/in/a.csv") == true && file["state"]?.stringValue == "done")
        #expect(file["unread_bytes"]?.integerValue == 0 && file["line"]?.integerValue == 53, "\(file.serialized())")
        #expect(answer["files_unknown"]?.integerValue == 404)
        let status = try #require(answer["status"])
        #expect(status["phase"]?.stringValue == "running" && status["generation"]?.integerValue == 1)
        let sink = try #require(status["sinks"]?.arrayValue?.first)
        #expect(sink["written"]?.integerValue == 50 && sink["lag_records"]?.integerValue == 0)
        let source = try #require(status["sources"]?.arrayValue?.first)
        #expect(source["rows_read"]?.integerValue == 51 && source["dead_lettered"]?.integerValue == 1)
        let metrics = try #require(answer["metrics"])
        #expect(metrics["sluice_sink_records_written_total|sink=out"]?.doubleValue == 50)
        #expect(metrics["sluice_source_rows_read_total|source=live"]?.doubleValue == 51)
        #expect(metrics["sluice_source_dead_letters_total|source=live"]?.doubleValue == 1)
        #expect(metrics["sluice_topic_appended_records_total|topic=live"]?.doubleValue == 50)
        #expect(metrics["sluice_sink_lag_records|sink=out"]?.doubleValue == 0)
        #expect(metrics["sluice_config_generation"]?.doubleValue == 1)
        #expect(metrics["sluice_ready"]?.doubleValue == 1)
        #expect((metrics["sluice_sink_commit_duration_seconds_count|sink=out"]?.doubleValue ?? 0) >= 1)
        #expect(metrics["sluice_sink_lag_seconds|sink=out"]?.doubleValue == 0)
        #expect(metrics["sluice_source_files|source=live|state=done"]?.doubleValue == 1)
        #expect(metrics["sluice_source_files|source=live|state=new"]?.doubleValue == 0)
        #expect(metrics["sluice_source_unread_bytes|source=live"]?.doubleValue == 0)
        #expect((metrics["sluice_log_fsync_duration_seconds_count"]?.doubleValue ?? 0) >= 1, "\(metrics)")
        #expect(sink["lag_seconds"]?.doubleValue == 0)
        // Counters that nothing raised yet are there at zero, for rate() and alerts.
        #expect(metrics["sluice_sink_restarts_total|sink=out"]?.doubleValue == 0, "\(metrics)")
        #expect(metrics["sluice_pipeline_restarts_total"]?.doubleValue == 0)
        #expect(metrics["sluice_config_reloads_total|result=refused"]?.doubleValue == 0)

        // A pass over the folder runs every poll_interval_ms; on a busy machine one may be under way.
        var shown = try EndToEnd.sluice(["status", "--config", "config.json"], in: dir.path)
        for _ in 0..<20 where !shown.stdout.contains("live → live: idle") {
            Time.sleep(millis: 250)
            shown = try EndToEnd.sluice(["status", "--config", "config.json"], in: dir.path)
        }
        #expect(shown.stdout.contains("out: running, 50 written, 0 dead-lettered"))
        #expect(shown.stdout.contains("live → live: idle, 51 rows read, 1 dead-lettered"))
        let unchanged = try EndToEnd.sluice(["reload"], in: dir.path)
        #expect(unchanged.stdout.contains("unchanged"))
        try EndToEnd.write(#"{"sources": {"live": {"type": "csv", "path": 7}}}"#, to: "config.json", in: dir.path)
        let refused = try EndToEnd.sluice(["reload"], in: dir.path, expect: 2)
        #expect(refused.stderr.contains("sources.live.path"))
        try EndToEnd.write(
            DaemonTests.config().replacingOccurrences(of: "50}", with: "60}"), to: "config.json", in: dir.path)
        let applied = try EndToEnd.sluice(["reload"], in: dir.path)
        #expect(applied.stdout.contains("generation 2"))
        let after = try JSONValue.parse(Array(try Self.python(Self.probe, [base]).utf8))
        #expect(after["metrics"]?["sluice_config_reloads_total|result=refused"]?.doubleValue == 1)
        #expect(after["metrics"]?["sluice_config_reloads_total|result=applied"]?.doubleValue == 1)
        #expect(after["metrics"]?["sluice_sink_records_written_total|sink=out"]?.doubleValue == 50)

        let (status2, stdout, stderr) = daemon.stop()
        #expect(status2 == 0, "stdout: \(stdout)\nstderr: \(stderr)")
        #expect(!FileSystem.exists(dir.file("data/daemon.json")), "the address file goes with the daemon")
        let gone = try EndToEnd.sluice(["status"], in: dir.path, expect: 1)
        #expect(gone.stderr.contains("no daemon is running"))
    }

    @Test func listeningBeyondThisMachineNeedsAToken() throws {
        let dir = try DaemonTests.prepare(
            DaemonTests.rows(1...3),
            config: DaemonTests.config().replacingOccurrences(of: "127.0.0.1:0", with: "0.0.0.0:0"))
        let refused = try EndToEnd.sluice(["daemon", "config.json"], in: dir.path, expect: 2)
        #expect(refused.stderr.contains("admin.listen"))
        #expect(refused.stderr.contains("SLUICE_ADMIN_TOKEN"))

        // The admin token from a file, the read-only one from the environment.
        try EndToEnd.write("s3cret\n", to: "admin.token", in: dir.path)
        try EndToEnd.write(
            DaemonTests.config().replacingOccurrences(
                of: #"{"listen": "127.0.0.1:0"}"#, with: #"{"listen": "0.0.0.0:0", "token_file": "admin.token"}"#),
            to: "config.json", in: dir.path)
        let (process, out, err) = try SluiceBinary.start(
            ["daemon", "config.json"], in: dir.path, environment: ["SLUICE_ADMIN_READ_TOKEN": "look"])
        let collector = OutputCollector(out: out, err: err)
        #expect(DaemonTests.waitUntil { FileSystem.exists(dir.file("data/daemon.json")) })
        let base = try Self.address(dir)
        let check = #"""
            import sys, urllib.request, urllib.error
            def call(path, token=None, method="GET"):
                request = urllib.request.Request(sys.argv[1] + path, method=method)
                if token:
                    request.add_header("Authorization", "Bearer " + token)
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        return answer.status
                except urllib.error.HTTPError as error:
                    return error.code
            print(call("/livez"), call("/v1/status"), call("/v1/status", "wrong"), call("/v1/status", "s3cret"),
                  call("/v1/status", "look"), call("/v1/reload", "look", "POST"), call("/v1/reload", "s3cret", "POST"))
            """#
        #expect(
            try Self.python(check, [base]).trimmingCharacters(in: .whitespacesAndNewlines)
                == "200 401 401 200 200 403 200")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let (_, stderr) = collector.finish()
        #expect(process.terminationStatus == 0, "\(stderr)")
        #expect(!stderr.contains("s3cret") && !stderr.contains("look"), "a token is never logged")
    }
}

extension JSONValue {
    var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }
}
