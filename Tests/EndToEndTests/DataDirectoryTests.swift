import Foundation
import SluiceTestSupport
import Testing

/// Commands find the data directory that `sluice run` used, from any folder: --config FILE (its
/// data_dir, resolved as run resolves it), SLUICE_DATA_DIR, --data-dir; a directory held by a run is
/// named with its process and the command to run afterwards; deleting a topic a source wrote says how
/// to make the source read its files again.
@Suite struct DataDirectoryTests {
    /// A folder `pipeline/` holding a config whose relative data_dir is `state`, an input file, and the
    /// run's result; the tests work from the folder above it (or from elsewhere).
    static func ran() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.file("pipeline"), withIntermediateDirectories: true)
        try EndToEnd.write("id,name\n1,a\n2,b\n3,c\n", to: "in.csv", in: dir.file("pipeline"))
        try EndToEnd.write(
            """
            {"data_dir": "state", "topics": {"orders": {"partitions": 2}},
             "sources": {"orders": {"type": "csv", "path": "in.csv", "key": ["id"]}},
             "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out"}}}
            """, to: "pipeline.json", in: dir.file("pipeline"))
        try EndToEnd.sluice(["run", "pipeline/pipeline.json"], in: dir.path)
        #expect(FileManager.default.fileExists(atPath: dir.file("pipeline/state/__topics.json")))
        return dir
    }

    @Test func configFindsTheDataDirectoryOfTheRun() throws {
        let dir = try Self.ran()
        let elsewhere = TemporaryDirectory()
        let config = dir.file("pipeline/pipeline.json")
        for command in [["topics", "list"], ["groups", "list"], ["sources", "list"]] {
            let result = try EndToEnd.sluice(command + ["--config", config], in: elsewhere.path)
            #expect(!result.stdout.isEmpty, "\(command)")
        }
        #expect(
            try EndToEnd.sluice(["topics", "list", "--config", config], in: elsewhere.path).stdout.contains("orders"))
        let described = try EndToEnd.sluice(["groups", "describe", "files", "--config", config], in: elsewhere.path)
        #expect(described.stdout.contains("total lag 0"))
        // Nothing was made where the command ran.
        #expect(!FileManager.default.fileExists(atPath: elsewhere.file("data")))
    }

    @Test func topicCommandsTakeAConfigFileAmongTheirSettings() throws {
        let dir = try Self.ran()
        try EndToEnd.sluice(
            ["topics", "create", "audit", "--config", "retention_ms=3600000", "--config", "pipeline/pipeline.json"],
            in: dir.path)
        let described = try EndToEnd.sluice(
            ["topics", "describe", "audit", "--config", "pipeline/pipeline.json"], in: dir.path)
        #expect(described.stdout.contains("retention_ms=3600000*"))
        let twoFiles = try EndToEnd.sluice(
            ["topics", "alter", "audit", "--config", "a.json", "--config", "b.json"], in: dir.path, expect: 2)
        #expect(twoFiles.stderr.contains("more than one config file"))
        let setting = try EndToEnd.sluice(["topics", "list", "--config", "retention_ms=1"], in: dir.path, expect: 2)
        #expect(setting.stderr.contains("topic settings (NAME=VALUE) go with"))
    }

    @Test func theDirectoryIsChosenInOrder() throws {
        let dir = try Self.ran()
        let config = "pipeline/pipeline.json"
        try EndToEnd.sluice(["topics", "create", "here"], in: dir.path)
        let environment = ["SLUICE_DATA_DIR": dir.file("pipeline/state")]
        func topics(_ arguments: [String], env: [String: String] = [:]) throws -> String {
            try SluiceBinary.run(["topics", "list"] + arguments, in: dir.path, environment: env).stdout
        }
        // ./data by default; SLUICE_DATA_DIR over that; --config over both; --data-dir over all.
        #expect(try topics([]) == "here\n")
        #expect(try topics([], env: environment).contains("orders"))
        #expect(try topics(["--config", config], env: ["SLUICE_DATA_DIR": "data"]).contains("orders"))
        #expect(try topics(["--data-dir", "data"], env: environment) == "here\n")
        // --data-dir and --config naming the same directory agree; naming two is an error.
        #expect(try topics(["--data-dir", "pipeline/state", "--config", config]).contains("orders"))
        let conflict = try EndToEnd.sluice(
            ["topics", "list", "--data-dir", "data", "--config", config], in: dir.path, expect: 2)
        #expect(conflict.stderr.contains("name different data directories"))
        // A directory that is not there says how to name the right one.
        let missing = try EndToEnd.sluice(["groups", "list", "--data-dir", "nowhere"], in: dir.path, expect: 1)
        #expect(missing.stderr.contains("--config FILE"))
    }

    @Test func aHeldDirectoryNamesItsHolderAndTheCommandToRunAfter() throws {
        let dir = try Self.ran()
        let config = "pipeline/pipeline.json"
        let consumer = try LiveGroupConsumer(topic: "orders", group: "live", in: dir.path, extra: ["--config", config])
        defer { consumer.stop() }
        let produced = try EndToEnd.sluice(
            ["produce", "--topic", "orders", "--config", config], in: dir.path, expect: 1, stdin: "x\n")
        #expect(produced.stderr.contains("is in use by process \(consumer.pid) (`"))
        #expect(produced.stderr.contains("consume --topic orders --group live --follow --config \(config)`)"))
        #expect(produced.stderr.contains("`kill -INT \(consumer.pid)`"))
        #expect(produced.stderr.hasSuffix("try again:\n  sluice produce --topic orders --config \(config)\n"))
        // A group of its own is only refused for the held directory; the running group is named as such.
        let reset = try EndToEnd.sluice(
            [
                "groups", "reset-offsets", "--group", "files", "--topic", "orders", "--to-earliest", "--execute",
                "--config", config,
            ], in: dir.path, expect: 1)
        #expect(reset.stderr.contains("is in use by process \(consumer.pid)"))
        let running = try EndToEnd.sluice(
            [
                "groups", "reset-offsets", "--group", "live", "--topic", "orders", "--to-earliest", "--execute",
                "--config", config,
            ], in: dir.path, expect: 1)
        #expect(running.stderr.contains("group live is running"))
        consumer.stop()
        try EndToEnd.sluice(["produce", "--topic", "orders", "--config", config], in: dir.path, stdin: "x\n")
    }

    @Test func deletingASourcesTopicSaysHowToReadItsFilesAgain() throws {
        let dir = try Self.ran()
        let config = "pipeline/pipeline.json"
        let deleted = try EndToEnd.sluice(["topics", "delete", "orders", "--config", config], in: dir.path)
        #expect(deleted.stdout == "Deleted topic orders.\n")
        #expect(deleted.stderr.contains("source orders wrote to orders, and its stored position still skips"))
        #expect(deleted.stderr.contains("\n  sluice sources reset orders --execute --config \(config)\n"))
        // The printed command does what it says: the next run reads the file into the new topic.
        try EndToEnd.sluice(["sources", "reset", "orders", "--execute", "--config", config], in: dir.path)
        try EndToEnd.sluice(["run", config], in: dir.path)
        #expect(try EndToEnd.records("orders", dataDirectory: dir.file("pipeline/state")).count == 3)
        // A topic no source wrote says nothing of sources.
        try EndToEnd.sluice(["topics", "create", "other", "--config", config], in: dir.path)
        let other = try EndToEnd.sluice(["topics", "delete", "other", "--config", config], in: dir.path)
        #expect(other.stderr.isEmpty)
    }
}
