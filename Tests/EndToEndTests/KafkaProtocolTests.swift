import Foundation
import Glibc
import SluiceCore
import SluiceTestSupport
import Testing

/// `sluice daemon` speaking the Kafka protocol to the clients people use: kcat, confluent-kafka
/// (librdkafka) and kafka-python, from Debian and from PyPI (`.ci/run` installs both).
@Suite(.serialized) struct KafkaProtocolTests {
    static var clients: String { EndToEnd.repositoryRoot + "/Tests/EndToEndTests/KafkaClients/clients.py" }

    /// Debian's Python with python3-confluent-kafka and python3-kafka, and the test venv's with the
    /// PyPI releases (SLUICE_TEST_PYTHON).
    static var pythons: [(name: String, path: String)] {
        var found = [("debian", "/usr/bin/python3")]
        if let venv = ProcessInfo.processInfo.environment["SLUICE_TEST_PYTHON"], !venv.isEmpty {
            found.append(("pypi", venv))
        }
        return found
    }

    /// A daemon with a Kafka listener on a free port, in a fresh folder.
    final class Daemon {
        let dir = TemporaryDirectory()
        let process: Process
        let collector: OutputCollector
        let bootstrap: String

        init(topics: String = "{}", extra: String = "") throws {
            let sections =
                (extra.contains("\"sources\"") ? "" : #""sources": {}, "#)
                + (extra.contains("\"sinks\"") ? "" : #""sinks": {}, "#)
            try EndToEnd.write(
                """
                {"topics": \(topics), \(sections)"admin": {"listen": "off"},
                 "daemon": {"poll_interval_ms": 100}\(extra.contains("\"kafka\"") ? "" : #", "kafka": {"listen": "127.0.0.1:0"}"#)\(extra)}
                """, to: "config.json", in: dir.path)
            (process, bootstrap, collector) = try Self.start(in: dir)
        }

        static func start(in dir: TemporaryDirectory) throws -> (Process, String, OutputCollector) {
            try? FileManager.default.removeItem(atPath: dir.file("data/daemon.json"))
            let (process, out, err) = try SluiceBinary.start(["daemon", "config.json"], in: dir.path)
            let collector = OutputCollector(out: out, err: err)
            for _ in 0..<300 {
                if let bytes = try? FileSystem.readFile(dir.file("data/daemon.json")),
                    let address = (try? JSONValue.parse(bytes))?["kafka"]?.stringValue
                {
                    return (process, address, collector)
                }
                Time.sleep(millis: 50)
            }
            process.terminate()
            throw TestSupportError("the daemon did not start its Kafka listener: \(collector.finish().1)")
        }

        /// Runs a shell command with $BOOTSTRAP set; its result.
        func shell(_ command: String) throws -> Subprocess.Result {
            try Subprocess.run("/bin/sh", ["-c", "BOOTSTRAP=\(bootstrap); cd '\(dir.path)'; " + command])
        }

        func sluice(_ arguments: [String]) throws -> SluiceBinary.Result {
            try SluiceBinary.run(arguments + ["--data-dir", dir.file("data")], in: dir.path)
        }

        func stop() -> String {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            return collector.finish().1
        }

        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    static func lines(_ count: Int, value: (Int) -> String = { "value-\($0)" }) -> String {
        (0..<count).map { "key-\($0):\(value($0))\n" }.joined()
    }

    @Test func kcatListsProducesAndConsumesAndKeysLandWhereSluiceProducePutsThem() throws {
        let daemon = try Daemon(topics: #"{"events": {"partitions": 4}}"#)
        defer { _ = daemon.stop() }
        let listed = try daemon.shell("kcat -b $BOOTSTRAP -L")
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("topic \"events\" with 4 partitions"), "\(listed.stdout)")
        #expect(listed.stdout.contains("broker 0 at \(daemon.bootstrap)"), "\(listed.stdout)")

        let count = 1_000_000
        try EndToEnd.write(Self.lines(count), to: "in.txt", in: daemon.dir.path)
        let produced = try daemon.shell("kcat -b $BOOTSTRAP -t events -P -K: -X partitioner=murmur2_random -l in.txt")
        #expect(produced.status == 0, "\(produced.stderr)")

        // The same lines through `sluice produce` into a data directory of their own.
        let other = TemporaryDirectory()
        let made = try SluiceBinary.run(
            ["topics", "create", "events", "--partitions", "4", "--data-dir", other.file("data")], in: other.path)
        #expect(made.status == 0, "\(made.stderr)")
        let local = try SluiceBinary.run(
            ["produce", "-t", "events", "--key-separator", ":", "--data-dir", other.file("data")], in: other.path,
            stdin: Data(Self.lines(count).utf8))
        #expect(local.status == 0, "\(local.stderr)")
        let placedByKafka = try EndToEnd.records("events", dataDirectory: daemon.dir.file("data"))
        let placedBySluice = try EndToEnd.records("events", dataDirectory: other.file("data"))
        #expect(placedByKafka.count == count)
        func placement(_ records: [(partition: Int32, record: Record)]) -> [String: Int32] {
            Dictionary(
                records.map { (String(decoding: $0.record.key ?? [], as: UTF8.self), $0.partition) },
                uniquingKeysWith: { first, _ in first })
        }
        #expect(placement(placedByKafka) == placement(placedBySluice), "keys placed differently")

        let consumed = try daemon.shell(
            "kcat -b $BOOTSTRAP -t events -C -o beginning -e -q -f '%k:%s\\n' | sort | md5sum")
        let expected = try daemon.shell("sort in.txt | md5sum")
        #expect(consumed.stdout == expected.stdout, "kcat -C did not return every record once")
    }

    @Test func gzipAndOtherCodecsAreStoredCompressedAndReadEverywhere() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        try EndToEnd.write(
            Self.lines(20_000) { _ in String(repeating: "a", count: 100) }, to: "same.txt", in: daemon.dir.path)
        for codec in ["gzip", "snappy", "lz4", "zstd"] {
            let produced = try daemon.shell("kcat -b $BOOTSTRAP -t z-\(codec) -P -K: -z \(codec) -l same.txt")
            #expect(produced.status == 0, "\(codec): \(produced.stderr)")
            let read = try daemon.sluice(["consume", "--topic", "z-\(codec)", "--from-beginning", "--format", "value"])
            #expect(read.stdout.split(separator: "\n").count == 20_000, "\(codec): \(read.stderr)")
            // 20,000 values of 100 bytes are far smaller on disk than the 2 MB they hold.
            let size = try daemon.shell("du -sk data/z-\(codec)-0 | cut -f1")
            #expect((Int(size.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .max) < 1000, "\(codec)")
        }
    }

    @Test func twoKcatMembersShareFourPartitionsAndOneTakesAllWhenTheOtherLeaves() throws {
        let daemon = try Daemon(topics: #"{"shared": {"partitions": 4}}"#)
        defer { _ = daemon.stop() }
        try EndToEnd.write(Self.lines(1000), to: "in.txt", in: daemon.dir.path)
        #expect(try daemon.shell("kcat -b $BOOTSTRAP -t shared -P -K: -l in.txt").status == 0)
        // Default signal dispositions: the test runner may ignore SIGTERM, and children inherit that.
        let member =
            "env --default-signal kcat -b $BOOTSTRAP -G pair shared -q -X session.timeout.ms=6000 -X auto.offset.reset=earliest"
            + " -X auto.commit.interval.ms=200"
        let first = try daemon.shell("(\(member) > first.out 2>&1 & echo $!)")
        let second = try daemon.shell("(\(member) > second.out 2>&1 & echo $!)")
        let pids = [first, second].compactMap { pid_t($0.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(pids.count == 2)
        defer { for pid in pids { kill(pid, SIGKILL) } }
        func owners() throws -> [String: Int] {
            let described = try daemon.sluice(["groups", "describe", "pair"]).stdout
            var count: [String: Int] = [:]
            for line in described.split(separator: "\n") where line.hasPrefix("shared ") {
                if let member = line.split(separator: " ").last, member != "-" {
                    count[String(member), default: 0] += 1
                }
            }
            return count
        }
        var shared = false
        for _ in 0..<200 where !shared {
            shared = (try owners()).values.sorted() == [2, 2]
            if !shared { Time.sleep(millis: 100) }
        }
        let sharing = try owners()
        #expect(shared, "two members with two partitions each: \(sharing)")
        kill(pids[0], SIGTERM)
        let left = Date()
        var took = false
        while !took && Date().timeIntervalSince(left) < 9 {
            took = (try owners()).values.sorted() == [4]
            if !took { Time.sleep(millis: 100) }
        }
        let remaining = try owners()
        #expect(took, "the other member owns all four within the session timeout and 3 s: \(remaining)")
        // The group's commits: everything was read.
        var committed = false
        for _ in 0..<100 where !committed {
            let described = try daemon.sluice(["groups", "describe", "pair"]).stdout
            committed = described.contains("total lag 0")
            if !committed { Time.sleep(millis: 100) }
        }
        let final = try daemon.sluice(["groups", "describe", "pair"]).stdout
        #expect(committed, "\(final)")
        // While the group has members, a commit from outside it is refused, as Kafka refuses it.
        let live = try SluiceBinary.run(
            [
                "groups", "reset-offsets", "--group", "pair", "--topic", "shared", "--to-earliest", "--execute",
                "--bootstrap-server", daemon.bootstrap,
            ], in: daemon.dir.path)
        #expect(live.status != 0 && live.stderr.contains("pair"), "\(live.stdout)\(live.stderr)")
        #expect(try daemon.sluice(["groups", "describe", "pair"]).stdout.contains("total lag 0"))
        // A Kafka client's group is reset like any group's, once the daemon is stopped.
        for pid in pids { kill(pid, SIGKILL) }
        _ = daemon.stop()
        let reset = try daemon.sluice([
            "groups", "reset-offsets", "--group", "pair", "--topic", "shared", "--to-earliest", "--execute",
        ])
        #expect(reset.status == 0, "\(reset.stderr)")
        #expect(try daemon.sluice(["groups", "describe", "pair"]).stdout.contains("total lag 1000"))
    }

    /// Runs clients.py with one of the Pythons; its JSON line.
    static func client(_ python: String, _ arguments: [String]) throws -> JSONValue {
        let result = try Subprocess.run(python, [clients] + arguments)
        #expect(result.status == 0, "\(python) clients.py \(arguments.joined(separator: " ")): \(result.stderr)")
        let line = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
        return (try? JSONValue.parse(Array(line.utf8))) ?? .null
    }

    @Test(arguments: pythons.map(\.path))
    func confluentKafkaProducesContiguouslyResumesAtItsCommitAndSeeks(_ python: String) throws {
        let versions = try Self.client(python, ["versions"])
        #expect(versions["confluent"] != nil, "confluent-kafka is missing for \(python)")
        let daemon = try Daemon(topics: #"{"orders": {"partitions": 3}}"#)
        defer { _ = daemon.stop() }
        for (topic, mode) in [("orders", "plain"), ("orders", "idempotent")] {
            let produced = try Self.client(python, ["produce", daemon.bootstrap, topic, "100000", mode])
            #expect(produced["delivered"]?.integerValue == 100_000, "\(mode): \(produced)")
            #expect(produced["contiguous"] == .bool(true), "\(mode): \(produced)")
        }
        let first = try Self.client(python, ["consume", daemon.bootstrap, "orders", "readers", "60000", "commit"])
        let rest = try Self.client(python, ["consume", daemon.bootstrap, "orders", "readers", "1000000", "commit"])
        let keys = (first["keys"]?.arrayValue ?? []) + (rest["keys"]?.arrayValue ?? [])
        #expect(keys.count == 200_000, "read \(keys.count) of 200,000 across a restart")
        var counts: [Int64: Int] = [:]
        for key in keys { counts[key.integerValue ?? -1, default: 0] += 1 }
        #expect(counts.count == 100_000 && counts.values.allSatisfy { $0 == 2 }, "nothing lost or repeated")
        let seek = try Self.client(python, ["seek", daemon.bootstrap, "orders"])
        #expect(seek["first"]?.integerValue == 10 && seek["after_seek"]?.integerValue == 3, "\(seek)")
        #expect(seek["by_time"]?.arrayValue?.compactMap(\.integerValue) == [0, -1], "\(seek)")
        for codec in ["lz4", "zstd"] {
            let produced = try Self.client(python, ["produce", daemon.bootstrap, "c-\(codec)", "5000", "plain", codec])
            #expect(produced["delivered"]?.integerValue == 5000, "\(codec): \(produced)")
            let read = try daemon.sluice(["consume", "--topic", "c-\(codec)", "--from-beginning", "--format", "value"])
            #expect(Set(read.stdout.split(separator: "\n")).count == 5000, "\(codec)")
        }
    }

    /// CreateTopics with configs: those Sluice topics have are applied under their Sluice names, those
    /// without effect here (replicas) are accepted, a config Kafka does not have is refused by name.
    @Test(arguments: pythons.map(\.path))
    func topicConfigsOfCreateTopicsBecomeTheTopicsSettings(_ python: String) throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let result = try Self.client(python, ["create-with-configs", daemon.bootstrap, "configured"])
        #expect(result["configured"] == .string("created"), "\(result)")
        let bad = result["configured-bad"]?.stringValue ?? ""
        #expect(bad.contains("retention.mss: not a Kafka topic config this broker knows"), "\(result)")
        let described = try daemon.sluice(["topics", "describe", "configured"]).stdout
        #expect(described.contains("Partitions: 2"), "\(described)")
        #expect(
            described.contains("retention_ms=3600000*") && described.contains("segment_bytes=1048576*"), "\(described)")
        #expect(!(try daemon.sluice(["topics", "list"]).stdout.contains("configured-bad")))
    }

    @Test(arguments: pythons.map(\.path))
    func kafkaPythonGroupsOfThreeShareSixPartitions(_ python: String) throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let result = try Self.client(python, ["group", daemon.bootstrap, "six", "6"])
        let three = result["three"]?.arrayValue?.map { $0.arrayValue?.count ?? 0 } ?? []
        let two = result["two"]?.arrayValue?.map { $0.arrayValue?.count ?? 0 } ?? []
        #expect(three == [2, 2, 2], "\(result)")
        #expect(two == [3, 3], "\(result)")
    }

    @Test func badClientsAreClosedAloneAndEveryOtherConnectionGoesOn() throws {
        let daemon = try Daemon()
        defer { _ = daemon.stop() }
        let result = try Self.client("/usr/bin/python3", ["abuse", daemon.bootstrap])
        for check in [
            "good_first", "garbage", "two_gigabytes", "negative_length", "unknown_api", "unknown_version", "cut_header",
            "bad_body", "good_last",
        ] {
            #expect(result[check] == .bool(true), "\(check): \(result)")
        }
        #expect(result["many_answered"]?.integerValue == 200, "\(result)")
        // Old minimum versions are advertised (librdkafka 2.0 turns features off otherwise).
        for (api, range) in [("0", [0, 8]), ("1", [0, 11]), ("3", [0, 8]), ("11", [0, 5]), ("18", [0, 4])] {
            #expect(result["ranges"]?[api]?.arrayValue?.compactMap(\.integerValue) == range.map(Int64.init), "\(api)")
        }
        #expect(daemon.process.isRunning)
        #expect(try daemon.shell("kcat -b $BOOTSTRAP -L").status == 0)
    }

    @Test func producedBatchesAreCheckedAndIdempotentProducersAreNotStoredTwice() throws {
        let daemon = try Daemon(topics: #"{"raw": {"partitions": 1}}"#)
        defer { _ = daemon.stop() }
        let result = try Self.client("/usr/bin/python3", ["produce-checks", daemon.bootstrap])
        func ints(_ key: String) -> [Int64] { result[key]?.arrayValue?.compactMap(\.integerValue) ?? [] }
        #expect(ints("good") == [0, 0], "\(result)")
        #expect(result["bad_crc"]?.integerValue == 2, "CORRUPT_MESSAGE: \(result)")
        #expect(result["bad_length"]?.integerValue == 2, "CORRUPT_MESSAGE: \(result)")
        #expect(result["transactional"]?.integerValue == 53, "refused: \(result)")
        for key in ["not_gzip", "fewer_records", "record_overrun"] {
            #expect(result[key]?.integerValue == 2, "\(key): CORRUPT_MESSAGE: \(result)")
        }
        #expect(result["internal_topic"]?.integerValue == 29, "TOPIC_AUTHORIZATION_FAILED: \(result)")
        #expect(ints("init_producer_id") == [0, 1], "\(result)")
        // The repeat gets the first one's offsets back; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER.
        let idempotent = result["idempotent"]?.arrayValue?.map { $0.arrayValue?.compactMap(\.integerValue) ?? [] }
        #expect(idempotent == [[0, 2], [0, 2]], "\(result)")
        #expect(result["gap"]?.integerValue == 45, "\(result)")
        // acks=0 got no answer (the next answer was the next request's) and was stored: offset 4 is "i".
        #expect(ints("after_acks0") == [0, 5], "\(result)")
        let values = try daemon.sluice(["consume", "--topic", "raw", "--from-beginning", "--format", "value"]).stdout
        #expect(values.split(separator: "\n") == ["a", "b", "f", "g", "i", "j"], "\(values)")
    }

    /// Produce requests a client sent before it closed its connection are stored though nobody waits for
    /// their answers (acks=0 producers exit right after sending), and a client's strings cannot forge
    /// lines in the daemon's log.
    @Test func acksZeroRequestsOutliveTheirConnectionAndLogLinesCannotBeForged() throws {
        let daemon = try Daemon(topics: #"{"fire": {"partitions": 1}}"#)
        let sent = try Self.client("/usr/bin/python3", ["acks0-close", daemon.bootstrap, "fire", "300", "100"])
        #expect(sent["sent"]?.integerValue == 30_000)
        var stored = ""
        for _ in 0..<100 where stored != "30000" {
            let described = try daemon.sluice(["topics", "describe", "fire"]).stdout
            stored =
                described.split(separator: "\n").last?.split(separator: " ", omittingEmptySubsequences: true)
                .dropFirst(3).first.map(String.init) ?? ""
            if stored != "30000" { Time.sleep(millis: 100) }
        }
        #expect(stored == "30000", "records stored of 30000 sent with acks=0")
        let forged = try Self.client("/usr/bin/python3", ["forged-log-line", daemon.bootstrap])
        #expect(forged["refused"] == .bool(true), "\(forged)")
        let log = daemon.stop()
        #expect(log.contains("transactional_id="), "\(log)")
        #expect(
            !log.split(separator: "\n").contains { $0.hasPrefix("2026-12-03T16:00:00.000Z notice forged") }, "\(log)")
    }

    @Test func sigkillDuringProduceLosesNoAcknowledgedRecord() throws {
        let daemon = try Daemon(topics: #"{"durable": {"partitions": 2}}"#)
        let log = daemon.dir.file("acked.txt")
        let producer = Process()
        producer.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        producer.arguments = [Self.clients, "acked", daemon.bootstrap, "durable", "2000000", log]
        producer.standardOutput = FileHandle.nullDevice
        producer.standardError = FileHandle.nullDevice
        try producer.run()
        var acknowledged = 0
        for _ in 0..<400 where acknowledged < 20_000 {
            Time.sleep(millis: 50)
            acknowledged = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        // A group commits what it read (synchronously), then the daemon is killed.
        let read = try Self.client(
            "/usr/bin/python3", ["consume", daemon.bootstrap, "durable", "readers", "5000", "commit"])
        #expect(read["keys"]?.arrayValue?.count == 5000)
        kill(daemon.process.processIdentifier, SIGKILL)
        daemon.process.waitUntilExit()
        _ = daemon.collector.finish()
        producer.waitUntilExit()
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 20_000, "the producer was acknowledged \(lines.count) records before the kill")
        let stored = try EndToEnd.records("durable", dataDirectory: daemon.dir.file("data"))
        var byPosition: [String: String] = [:]
        for (partition, record) in stored {
            byPosition["\(partition) \(record.offset)"] = String(decoding: record.key ?? [], as: UTF8.self)
        }
        var missing = 0
        for line in lines {
            let parts = line.split(separator: " ")
            guard parts.count == 3 else { continue }
            if byPosition["\(parts[1]) \(parts[2])"] != String(parts[0]) { missing += 1 }
        }
        #expect(missing == 0, "\(missing) acknowledged records are not where their acknowledgement said")
        let committed = try daemon.sluice(["groups", "describe", "readers"]).stdout
        let offsets = committed.split(separator: "\n").filter { $0.hasPrefix("durable ") }.compactMap {
            Int($0.split(separator: " ", omittingEmptySubsequences: true)[2])
        }
        #expect(offsets.reduce(0, +) == 5000, "the group's commits survive the kill: \(committed)")
    }

    @Test func aKafkaConsumerReadsACSVPipelineAsItIsWritten() throws {
        let daemon = try Daemon(
            extra: """
                , "sources": {"rows": {"type": "csv", "path": "in/*.csv", "key": ["id"]}}
                """.replacingOccurrences(of: "\n", with: ""))
        defer { _ = daemon.stop() }
        try FileManager.default.createDirectory(atPath: daemon.dir.file("in"), withIntermediateDirectories: true)
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/sh")
        reader.arguments = [
            "-c",
            "kcat -b \(daemon.bootstrap) -t rows -C -o beginning -c 2000 -q -f '%k\\n' > '\(daemon.dir.file("read.txt"))'",
        ]
        try reader.run()
        for file in 0..<2 {
            let rows = (0..<1000).map { "\(file * 1000 + $0),row \(file * 1000 + $0)\n" }.joined()
            try EndToEnd.write("id,name\n" + rows, to: "in/part-\(file).csv", in: daemon.dir.path)
            Time.sleep(millis: 500)
        }
        var finished = false
        for _ in 0..<300 where !finished {
            finished = !reader.isRunning
            if !finished { Time.sleep(millis: 50) }
        }
        if !finished { reader.terminate() }
        #expect(finished, "kcat did not read 2,000 rows")
        let keys = try String(contentsOfFile: daemon.dir.file("read.txt"), encoding: .utf8).split(separator: "\n")
        #expect(Set(keys).count == 2000 && keys.count == 2000)
    }

    @Test(.enabled(if: PostgresServer.shouldRun))
    func aKafkaProducerFeedsASluiceSinkIntoPostgres() throws {
        let server = try PostgresServer.shared()
        let database = try server.createDatabase("kafka")
        _ = try server.psql(
            "CREATE TABLE events (id bigint PRIMARY KEY, name text, amount numeric)", database: database)
        let daemon = try Daemon(
            topics: #"{"events": {"partitions": 3}}"#,
            extra: """
                , "sinks": {"pg": {"type": "postgres", "topics": ["events"], "mode": "upsert", "key_columns": ["id"],
                                  "connection": "\(server.connectionString(database: database))", "batch_wait_ms": 50}}
                """.replacingOccurrences(of: "\n", with: ""))
        defer { _ = daemon.stop() }
        let script = """
            import sys
            from confluent_kafka import Producer
            p = Producer({"bootstrap.servers": sys.argv[1], "compression.type": "zstd", "linger.ms": 5})
            for i in range(10000):
                p.produce("events", key=str(i), value='{"id": %d, "name": "n%d", "amount": %d.25}' % (i, i, i))
                if i % 1000 == 0: p.poll(0)
            assert p.flush(30) == 0
            """
        let produced = try Subprocess.run("/usr/bin/python3", ["-c", script, daemon.bootstrap])
        #expect(produced.status == 0, "\(produced.stderr)")
        var loaded = ""
        for _ in 0..<300 where loaded != "10000|49995000" {
            loaded = try server.psql("SELECT count(*), sum(id) FROM events", database: database)
            if loaded != "10000|49995000" { Time.sleep(millis: 100) }
        }
        #expect(loaded == "10000|49995000")
        #expect(try server.psql("SELECT name, amount FROM events WHERE id = 77", database: database) == "n77|77.25")
    }

    @Test func kafkaSettingsAreCheckedAndAutoCreationCanBeTurnedOff() throws {
        let dir = TemporaryDirectory()
        try EndToEnd.write(
            #"{"sources": {}, "sinks": {}, "kafka": {"listen": "nowhere", "auto_create_topic": true, "default_partitions": 0}}"#,
            to: "config.json", in: dir.path)
        let refused = try EndToEnd.sluice(["validate", "config.json"], in: dir.path, expect: 2)
        for expected in [
            "kafka.listen: expected \"HOST:PORT\"",
            "kafka.auto_create_topic: unknown kafka setting; did you mean "
                + "\"auto_create_topics\"?", "kafka.default_partitions: expected an integer from 1 to 10000",
        ] {
            #expect(refused.stderr.contains(expected), "\(refused.stderr)")
        }
        try EndToEnd.write(#"{"sources": {}, "sinks": {}}"#, to: "config.json", in: dir.path)
        let badFlag = try EndToEnd.sluice(["daemon", "config.json", "--kafka-listen", "9092"], in: dir.path, expect: 2)
        #expect(badFlag.stderr.contains("--kafka-listen: expected HOST:PORT"), "\(badFlag.stderr)")

        let daemon = try Daemon(
            topics: #"{"known": {"partitions": 1}}"#,
            extra: #", "kafka": {"listen": "127.0.0.1:0", "auto_create_topics": false}"#)
        defer { _ = daemon.stop() }
        let produced = try daemon.shell("echo x | kcat -b $BOOTSTRAP -t unknown -P -X topic.message.timeout.ms=3000")
        #expect(produced.stderr.contains("Delivery failed"), "\(produced.stderr)")
        #expect(try daemon.sluice(["topics", "list"]).stdout.contains("unknown") == false)
    }
}
