import Foundation
import Glibc
import SluiceCore
import SluiceRuntime
import SluiceTestSupport
import Testing

/// `sluice run` with `"broker": {"type": "kafka"}`, through librdkafka, against a separate `sluice
/// daemon` acting as the Kafka cluster (no Kafka broker can be installed here; the daemon speaks the
/// protocol and librdkafka is the real client).
@Suite(.serialized) struct KafkaBackendTests {
    typealias Cluster = KafkaProtocolTests.Daemon

    /// A config that runs on `cluster`: `body` holds the topics, sources and sinks.
    static func config(_ body: String, cluster: String, properties: String = "{}") -> String {
        """
        {"broker": {"type": "kafka", "bootstrap_servers": "\(cluster)", "properties": \(properties),
                    "request_timeout_ms": 5000},
         \(body)}
        """
    }

    /// Every file under `folder`, by relative path, with its bytes.
    static func files(_ folder: String) throws -> [String: Data] {
        var result: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return result }
        for case let path as String in walker {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &isFolder),
                !isFolder.boolValue
            else { continue }
            result[path] = FileManager.default.contents(atPath: folder + "/" + path)
        }
        return result
    }

    @Test func theSamplesGiveTheSameFilesOnKafkaAsOnTheEmbeddedBroker() throws {
        let cluster = try Cluster()
        defer { _ = cluster.stop() }
        let embedded = TemporaryDirectory()
        let kafka = TemporaryDirectory()
        let samples = EndToEnd.repositoryRoot + "/samples"
        let body = """
            "topics": {"orders": {"partitions": 4, "retention_ms": 86400000}},
            "sources": {"orders": {"type": "csv", "path": "\(samples)/orders-*.csv*", "topic": "orders",
                                   "key": ["order_id"], "columns": {"order_id": "int", "amount": "decimal"}}},
            "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out", "format": "jsonl"},
                      "letters": {"type": "file", "topics": ["orders.dlq"], "path": "letters", "envelope": true}}
            """
        try EndToEnd.write("{\(body)}", to: "config.json", in: embedded.path)
        try EndToEnd.write(Self.config(body, cluster: cluster.bootstrap), to: "config.json", in: kafka.path)
        func accounting(_ stdout: String) -> String? {
            stdout.split(separator: "\n").first { $0.hasPrefix("Rows read") }?.components(separatedBy: " in ").first
        }
        let reference = try EndToEnd.sluice(["run", "config.json"], in: embedded.path)
        let run = try EndToEnd.sluice(["run", "config.json"], in: kafka.path)
        #expect(accounting(reference.stdout) != nil)
        #expect(accounting(run.stdout) == accounting(reference.stdout), "\(run.stdout)")
        let expected = try Self.files(embedded.file("out"))
        #expect(expected.count == 4)
        #expect(try Self.files(kafka.file("out")) == expected, "the files differ between the two brokers")
        // The dead letters hold the same rows (their timestamps differ).
        func letters(_ folder: String) throws -> Int {
            try Self.files(folder).values.map { String(decoding: $0, as: UTF8.self) }.joined().split(separator: "\n")
                .count
        }
        #expect(try letters(kafka.file("letters")) == letters(embedded.file("letters")))
        #expect(try letters(kafka.file("letters")) > 0)
        // A second run finds everything stored and committed, and does nothing again.
        let again = try EndToEnd.sluice(["run", "config.json"], in: kafka.path)
        #expect(again.stdout.contains("0 rows read") && again.stdout.contains("(+0 this run)"), "\(again.stdout)")
        #expect(try Self.files(kafka.file("out")) == expected)
        let described = try cluster.sluice(["groups", "describe", "files"])
        #expect(described.stdout.contains("total lag 0"), "\(described.stdout)")
        // The topic was created on the cluster with the config's settings, under Kafka's names.
        let topic = try cluster.sluice(["topics", "describe", "orders"]).stdout
        #expect(topic.contains("retention_ms=86400000*"), "\(topic)")
    }

    @Test func everyRowExactlyOnceInTheFilesAfterTwentyKillsOnKafka() throws {
        let cluster = try Cluster()
        defer { _ = cluster.stop() }
        let dir = TemporaryDirectory()
        let rows = 200_000
        var generator = SampleOrders(rows: rows, seed: 15)
        generator.badEvery = 1009
        try generator.write(to: dir.file("orders.csv"))
        try EndToEnd.write(
            Self.config(
                """
                "topics": {"orders": {"partitions": 4}},
                "sources": {"orders": {"type": "csv", "path": "orders.csv", "key": ["customer"],
                                       "max_batch_rows": 5000, "columns": {"order_id": "int", "amount": "decimal"}}},
                "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out",
                                    "max_batch_records": 20000, "batch_wait_ms": 100, "session_timeout_ms": 6000}}
                """, cluster: cluster.bootstrap), to: "config.json", in: dir.path)
        let kills = try EndToEnd.killRepeatedly(
            ["run"], in: dir.path, times: 20, seed: 7, minMillis: 250, spreadMillis: 900)
        #expect(kills >= 20, "the run finished before it was killed 20 times")
        try EndToEnd.sluice(["run"], in: dir.path)

        let badRows = (1...rows).filter { $0 % 1009 == 0 }.count
        let ids = try SinkPipelineTests.orderIds(in: dir.file("out"))
        #expect(ids.count == rows - badRows, "rows in the files, counting duplicates")
        #expect(Set(ids).count == rows - badRows, "distinct rows in the files")
        let stored = try EndToEnd.records("orders", dataDirectory: cluster.dir.file("data"))
        #expect(stored.count == rows - badRows, "records in the cluster's topic, counting duplicates")
        #expect(try EndToEnd.records("orders.dlq", dataDirectory: cluster.dir.file("data")).count == badRows)
        let described = try cluster.sluice(["groups", "describe", "files"])
        #expect(described.stdout.contains("total lag 0"), "\(described.stdout)")
    }

    @Test(.enabled(if: PostgresServer.shouldRun))
    func aPostgresUpsertSinkKilledTwentyTimesOnKafkaEndsWithExactlyTheExpectedRows() throws {
        let cluster = try Cluster()
        defer { _ = cluster.stop() }
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("kafka_kills")
        let dir = TemporaryDirectory()
        let rows = 200_000
        var generator = SampleOrders(rows: rows, seed: 18)
        generator.badEvery = 1013
        try generator.write(to: dir.file("orders.csv"))
        try EndToEnd.write(
            Self.config(
                PostgresPipelineTests().config(
                    server, database: database, file: "orders.csv", mode: "upsert",
                    extra: #", "session_timeout_ms": 6000"#
                )
                .dropFirst().dropLast().trimmingCharacters(in: .whitespacesAndNewlines),
                cluster: cluster.bootstrap), to: "config.json", in: dir.path)
        let kills = try EndToEnd.killRepeatedly(
            ["run"], in: dir.path, times: 20, seed: 29, minMillis: 300, spreadMillis: 1200)
        #expect(kills >= 20, "the run finished before it was killed 20 times")
        try EndToEnd.sluice(["run"], in: dir.path)
        let good = (1...rows).filter { $0 % 1013 != 0 }
        #expect(
            try server.psql("SELECT count(*), count(DISTINCT order_id), sum(order_id) FROM orders", database: database)
                == "\(good.count)|\(good.count)|\(good.reduce(0, +))")
        let letters = try EndToEnd.records("orders.dlq", dataDirectory: cluster.dir.file("data"))
        #expect(letters.count == rows - good.count, "dead letters, counting duplicates")
    }

    @Test func aRunOutlastsTheClusterRestartingUnderIt() throws {
        let port = 20_000 + Int.random(in: 0..<10_000)
        let cluster = try Cluster(extra: #", "kafka": {"listen": "127.0.0.1:\#(port)"}"#)
        let dir = TemporaryDirectory()
        let rows = 300_000
        try SampleOrders(rows: rows, seed: 16).write(to: dir.file("orders.csv"))
        try EndToEnd.write(
            Self.config(
                """
                "topics": {"orders": {"partitions": 2}},
                "sources": {"orders": {"type": "csv", "path": "orders.csv", "key": ["customer"],
                                       "max_batch_rows": 2000, "columns": {"order_id": "int"}}},
                "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out"}}
                """, cluster: cluster.bootstrap), to: "config.json", in: dir.path)
        let (process, out, err) = try SluiceBinary.start(["run", "config.json"], in: dir.path)
        let collector = OutputCollector(out: out, err: err)
        Time.sleep(millis: 1500)
        kill(cluster.process.processIdentifier, SIGKILL)
        cluster.process.waitUntilExit()
        _ = cluster.collector.finish()
        Time.sleep(millis: 1000)
        let (restarted, _, restartedOutput) = try Cluster.start(in: cluster.dir)
        defer {
            kill(restarted.processIdentifier, SIGTERM)
            restarted.waitUntilExit()
            _ = restartedOutput.finish()
        }
        process.waitUntilExit()
        let (stdout, stderr) = collector.finish()
        #expect(process.terminationStatus == 0, "\(stdout)\n\(stderr)")
        let ids = try SinkPipelineTests.orderIds(in: dir.file("out"))
        let stored = try EndToEnd.records("orders", dataDirectory: cluster.dir.file("data"))
        #expect(stored.count == rows, "records in the cluster's topic\n\(stdout)\n\(stderr)")
        #expect(Set(ids).count == rows, "distinct rows in the files\n\(stdout)")
        #expect(ids.count == rows, "rows in the files, counting duplicates")
    }

    /// Rows appended to a CSV file of `SampleOrders`' columns, with order ids from `first`.
    static func append(_ count: Int, from first: Int, to path: String) throws {
        var out = ""
        for id in first..<(first + count) {
            out += "\(id),C\(id % 977),2026-01-02T03:04:05Z,12.50,1,new,appended,false\n"
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(out.utf8))
        try handle.close()
    }

    @Test func threeDaemonsShareASinksPartitionsAndTheSurvivorsTakeOverAfterKills() throws {
        let cluster = try Cluster()
        defer { _ = cluster.stop() }
        let shared = TemporaryDirectory()
        try SampleOrders(rows: 60_000, seed: 17).write(to: shared.file("orders.csv"))
        let config = Self.config(
            """
            "admin": {"listen": "off"}, "daemon": {"poll_interval_ms": 200},
            "topics": {"orders": {"partitions": 6}},
            "sources": {"orders": {"type": "csv", "path": "\(shared.file("orders.csv"))", "key": ["customer"],
                                   "columns": {"order_id": "int"}}},
            "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "\(shared.file("out"))",
                                "session_timeout_ms": 4000, "batch_wait_ms": 50}}
            """, cluster: cluster.bootstrap)
        var daemons: [(dir: TemporaryDirectory, process: Process, output: OutputCollector)] = []
        defer {
            for daemon in daemons where daemon.process.isRunning {
                kill(daemon.process.processIdentifier, SIGKILL)
                daemon.process.waitUntilExit()
                _ = daemon.output.finish()
            }
        }
        for _ in 0..<3 {
            let dir = TemporaryDirectory()
            try EndToEnd.write(config, to: "config.json", in: dir.path)
            let (process, out, err) = try SluiceBinary.start(["daemon", "config.json"], in: dir.path)
            daemons.append((dir, process, OutputCollector(out: out, err: err)))
        }
        /// Waits until the files hold `rows` rows and the group owns its partitions as `members` says.
        func settle(rows: Int, members: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
            var ids: [Int64] = []
            var described = ""
            for _ in 0..<400 {
                ids = (try? SinkPipelineTests.orderIds(in: shared.file("out"))) ?? []
                described = (try? cluster.sluice(["groups", "describe", "files"]))?.stdout ?? ""
                if ids.count >= rows && described.contains("\(members) member(s), total lag 0") { break }
                Time.sleep(millis: 250)
            }
            #expect(ids.count == rows, "rows in the files, counting duplicates", sourceLocation: sourceLocation)
            #expect(Set(ids).count == rows, "distinct rows in the files", sourceLocation: sourceLocation)
            #expect(
                described.contains("\(members) member(s), total lag 0"), "\(described)", sourceLocation: sourceLocation)
            // Each member owns the same number of partitions.
            var owned: [String: Int] = [:]
            for line in described.split(separator: "\n") where line.hasPrefix("orders ") {
                if let member = line.split(separator: " ").last { owned[String(member), default: 0] += 1 }
            }
            #expect(
                owned.count == members && Set(owned.values) == [6 / members], "\(owned)", sourceLocation: sourceLocation
            )
        }
        try settle(rows: 60_000, members: 3)
        // A daemon that does not run the source, then the one that does: the others take its partitions
        // within the session timeout, and the source passes to a survivor.
        kill(daemons[0].process.processIdentifier, SIGKILL)
        daemons[0].process.waitUntilExit()
        _ = daemons[0].output.finish()
        try Self.append(20_000, from: 1_000_001, to: shared.file("orders.csv"))
        try settle(rows: 80_000, members: 2)
        kill(daemons[1].process.processIdentifier, SIGKILL)
        daemons[1].process.waitUntilExit()
        _ = daemons[1].output.finish()
        try Self.append(10_000, from: 2_000_001, to: shared.file("orders.csv"))
        Time.sleep(millis: 1000)
        try settle(rows: 90_000, members: 1)
        kill(daemons[2].process.processIdentifier, SIGTERM)
        daemons[2].process.waitUntilExit()
        let (_, log) = daemons[2].output.finish()
        #expect(log.contains("this process runs the source now"), "the survivor never ran the source: \(log)")
    }

    @Test func theAdminCommandsWorkOnTheClusterWithBootstrapServer() throws {
        let cluster = try Cluster(topics: #"{"orders": {"partitions": 3}}"#)
        defer { _ = cluster.stop() }
        let dir = TemporaryDirectory()
        let server = ["--bootstrap-server", cluster.bootstrap]
        let produced = try EndToEnd.sluice(
            ["produce", "--topic", "orders", "--key-separator", ":"] + server, in: dir.path,
            stdin: (0..<300).map { "k\($0):v\($0)\n" }.joined())
        #expect(produced.stderr.contains("Produced 300 records to orders."))
        // Keys land where the embedded broker puts them.
        var placed: [String: Int32] = [:]
        for (partition, record) in try EndToEnd.records("orders", dataDirectory: cluster.dir.file("data")) {
            placed[String(decoding: record.key ?? [], as: UTF8.self)] = partition
        }
        try EndToEnd.sluice(
            ["produce", "--topic", "local", "--key-separator", ":"], in: dir.path, stdin: "k1:a\nk2:b\n")
        #expect(try EndToEnd.sluice(["topics", "list"] + server, in: dir.path).stdout.contains("orders\n"))
        let described = try EndToEnd.sluice(["topics", "describe", "orders"] + server, in: dir.path).stdout
        #expect(described.contains("Topic: orders\tPartitions: 3"))
        #expect(placed.count == 300)
        let all = try EndToEnd.sluice(
            ["consume", "--topic", "orders", "--from-beginning", "--format", "%k\n"] + server, in: dir.path)
        #expect(Set(all.stdout.split(separator: "\n").map(String.init)) == Set(placed.keys))
        let grouped = try EndToEnd.sluice(
            ["consume", "--topic", "orders", "--group", "readers", "--from-beginning", "--format", "value"] + server,
            in: dir.path)
        #expect(grouped.stdout.split(separator: "\n").count == 300)
        let group = try EndToEnd.sluice(["groups", "describe", "readers"] + server, in: dir.path)
        #expect(group.stdout.contains("Group readers: on the Kafka cluster, total lag 0"), "\(group.stdout)")
        #expect(try EndToEnd.sluice(["groups", "list"] + server, in: dir.path).stdout.contains("readers\n"))
        // Offsets reset by the cluster: a plan first, then applied; the group reads everything again.
        let plan = try EndToEnd.sluice(
            ["groups", "reset-offsets", "--group", "readers", "--topic", "orders", "--to-earliest"] + server,
            in: dir.path)
        #expect(plan.stdout.contains("This is the plan only"))
        try EndToEnd.sluice(
            ["groups", "reset-offsets", "--group", "readers", "--all-topics", "--to-earliest", "--execute"] + server,
            in: dir.path)
        let again = try EndToEnd.sluice(
            ["consume", "--topic", "orders", "--group", "readers", "--format", "value"] + server, in: dir.path)
        #expect(again.stdout.split(separator: "\n").count == 300)
        try EndToEnd.sluice(
            ["topics", "create", "more", "--partitions", "5", "--config", "retention_ms=3600000"] + server,
            in: dir.path)
        #expect(
            try EndToEnd.sluice(["topics", "describe", "more"] + server, in: dir.path).stdout.contains("Partitions: 5"))
        #expect(try cluster.sluice(["topics", "describe", "more"]).stdout.contains("retention_ms=3600000*"))
        let twice = try SluiceBinary.run(["topics", "create", "more", "--partitions", "9"] + server, in: dir.path)
        #expect(twice.status != 0 && twice.stderr.contains("exists already"), "\(twice.stdout)\(twice.stderr)")
        let local = try EndToEnd.sluice(
            ["topics", "create", "flushed", "--config", "flush=os"] + server, in: dir.path, expect: 2)
        #expect(local.stderr.contains("topic setting flush has no Kafka topic config"), "\(local.stderr)")
        let unreachable = try EndToEnd.sluice(
            ["topics", "list", "--bootstrap-server", "127.0.0.1:1"], in: dir.path, expect: 1)
        #expect(unreachable.stderr.contains("--bootstrap-server: cannot reach the Kafka cluster at 127.0.0.1:1"))
    }

    /// A daemon whose cluster cannot be reached retries, says "daemon running" once, and a SIGTERM stops
    /// it cleanly (exit 0): there is nothing in hand to drain.
    @Test func aDaemonWaitingForItsClusterStopsCleanly() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write("id,name\n1,a\n", to: "in.csv", in: dir.path)
        try EndToEnd.write(
            """
            {"broker": {"type": "kafka", "bootstrap_servers": "127.0.0.1:1", "request_timeout_ms": 1000},
             "topics": {"orders": {"partitions": 2}}, "admin": {"listen": "off"},
             "sources": {"orders": {"type": "csv", "path": "in.csv", "key": ["id"]}},
             "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out"}}}
            """, to: "config.json", in: dir.path)
        let daemon = try DaemonTests.Running(in: dir.path)
        Time.sleep(millis: 4000)
        let (status, stdout, stderr) = daemon.stop()
        #expect(status == 0, "stdout: \(stdout)\nstderr: \(stderr)")
        #expect(stdout.contains("Stopped while the pipeline was failing on a cause that may pass"), "\(stdout)")
        #expect(stderr.components(separatedBy: "daemon running").count == 2, "\(stderr)")
        #expect(stderr.contains("restarting it"), "\(stderr)")
    }

    @Test func dataDirectoryCommandsRefuseAConfigWhoseBrokerIsKafka() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(
            """
            {"broker": {"type": "kafka", "bootstrap_servers": "127.0.0.1:1"},
             "topics": {"orders": {"partitions": 2}},
             "sources": {"orders": {"type": "csv", "path": "in.csv", "key": ["id"]}},
             "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out"}}}
            """, to: "kafka.json", in: dir.path)
        for command in [["topics", "delete", "orders"], ["sources", "list"], ["groups", "delete", "files"]] {
            let refused = try EndToEnd.sluice(command + ["--config", "kafka.json"], in: dir.path, expect: 2)
            #expect(refused.stderr.contains("its broker is a Kafka cluster"), "\(command): \(refused.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("data")), "no local data directory was made")
    }

    @Test func badBrokerSettingsAreClearErrorsAtTheirPath() throws {
        let cluster = try Cluster(topics: #"{"orders": {"partitions": 2}}"#)
        defer { _ = cluster.stop() }
        let dir = TemporaryDirectory()
        try "id,name\n1,a\n".write(toFile: dir.file("in.csv"), atomically: true, encoding: .utf8)
        let body = """
            "topics": {"orders": {"partitions": 4}},
            "sources": {"orders": {"type": "csv", "path": "in.csv", "key": ["id"]}},
            "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out"}}
            """
        func run(
            _ config: String, expect fragments: [String], status: Int32 = 2,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            try EndToEnd.write(config, to: "config.json", in: dir.path)
            let started = Time.monotonicNanos()
            let result = try EndToEnd.sluice(["run", "config.json"], in: dir.path, expect: status)
            let seconds = Double(Time.monotonicNanos() - started) / 1e9
            #expect(seconds < 20, "took \(seconds) s", sourceLocation: sourceLocation)
            for fragment in fragments {
                #expect(result.stderr.contains(fragment), "\(result.stderr)", sourceLocation: sourceLocation)
            }
            #expect(!result.stderr.contains("s3cret"), "a password in an error", sourceLocation: sourceLocation)
        }
        try run(
            Self.config(body, cluster: "127.0.0.1:1"),
            expect: ["broker.bootstrap_servers: cannot reach the Kafka cluster at 127.0.0.1:1", "Connection refused"],
            status: 1)
        try run(
            Self.config(body, cluster: cluster.bootstrap, properties: #"{"security.protocol": "SSL"}"#),
            expect: ["cannot reach the Kafka cluster", "SSL"], status: 1)
        try run(
            Self.config(
                body, cluster: cluster.bootstrap,
                properties: #"{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "#
                    + #""sasl.username": "u", "sasl.password": "s3cret"}"#),
            expect: ["cannot reach the Kafka cluster", "SASL"], status: 1)
        try run(
            Self.config(body, cluster: cluster.bootstrap, properties: #"{"no.such.setting": "1"}"#),
            expect: ["broker.properties.no.such.setting: No such configuration property"])
        try run(
            Self.config(body, cluster: cluster.bootstrap, properties: #"{"acks": "1"}"#),
            expect: ["broker.properties.acks: set by Sluice"])
        try run(
            #"{"broker": {"type": "kafka"}, \#(body)}"#, expect: ["broker.bootstrap_servers: a Kafka broker needs"])
        try run(
            Self.config(body, cluster: cluster.bootstrap),
            expect: ["topics.orders.partitions", "has 2 partitions on the Kafka cluster, fewer than the 4"])
        #expect(!FileManager.default.fileExists(atPath: dir.file("out")), "a sink wrote before the run was refused")
    }
}
