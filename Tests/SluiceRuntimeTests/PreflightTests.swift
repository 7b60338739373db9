import Logging
import SluiceBroker
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceRuntime

/// The checks `validate` and `run` both make: every problem of issue 10 that `run` used to find only
/// once it ran, reported together with the file's own, each by its path; the data directory is only
/// read; a connector whose own options have problems is not checked further.
@Suite struct PreflightTests {
    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    /// Writes `config` as `config.json` in `dir` and checks it.
    static func check(_ config: String, in dir: TemporaryDirectory) throws -> PipelinePlan {
        try FileSystem.writeAtomically(dir.file("config.json"), Array(config.utf8), sync: false)
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: [:])
        return try Preflight(loader: loader, logger: quiet).check(path: dir.file("config.json"))
    }

    static func problems(_ config: String, in dir: TemporaryDirectory) throws -> [ConfigProblem] {
        let error = try #require(throws: ConfigError.self) { try check(config, in: dir) }
        #expect(error.file == dir.file("config.json"))
        return error.problems
    }

    @Test func everyProblemThatStopsARunIsFoundAtOnce() throws {
        let dir = TemporaryDirectory()
        try FileSystem.writeAtomically(dir.file("orders.csv"), Array("id,name\n1,a\n".utf8), sync: false)
        let found = try Self.problems(
            #"""
            {"topics": {"orders": {"partitions": "4"}},
             "sources": {"orders": {"type": "csv", "path": "orders.csv", "key": ["order_id"],
                                    "columns": {"amount": "decimal"}},
                         "customers": {"type": "csv", "path": "in/customers-*.csv"}},
             "sinks": {"files": {"type": "file", "topics": ["orders", "refunds"], "path": "data/out",
                                 "dead_letter_topic": "__consumer_offsets"},
                       "pg": {"type": "postgres", "topics": ["customers"], "mode": "upsert"}}}
            """#, in: dir)
        let csv = dir.file("orders.csv")
        #expect(
            found.map(\.description) == [
                #"topics.orders.partitions: expected an integer, found the string "4"; write 4 without quotes"#,
                #"sinks.files.dead_letter_topic: topics starting with "__" belong to the broker"#,
                #"sinks.files.topics[1]: topic "refunds" does not exist in \#(dir.file("data")) and nothing in the "#
                    + #"config writes it; declare it under "topics" or fix the name"#,
                #"sources.orders.key: column "order_id" is not in the header of \#(csv) (id, name)"#,
                #"sources.orders.columns.amount: column "amount" is not in the header of \#(csv) (id, name)"#,
                #"sources.customers.path: "\#(dir.file("in/customers-*.csv"))" matches no file "#
                    + #"(the folder \#(dir.file("in")) does not exist)"#,
                "sinks.files.path: \(dir.file("data/out")) is inside the data directory \(dir.file("data")), which "
                    + "belongs to the broker; write the files somewhere else",
                #"sinks.pg.key_columns: mode upsert needs key columns, and topic "customers" carries none; "#
                    + "set key_columns, or key on the source that writes the topic",
            ])
        #expect(!FileSystem.exists(dir.file("data")), "the data directory is not created")
    }

    /// Topics that exist in the data directory count, with what is stored about them (their key), and
    /// the directory is read while another process holds it.
    @Test func theDataDirectoryIsReadWithoutItsLock() throws {
        let dir = TemporaryDirectory()
        let broker = try Broker(dataDirectory: dir.file("data"), logger: Self.quiet)
        defer { try? broker.close() }
        try broker.createTopic("customers", config: TopicConfig(partitions: 3))
        try broker.setTopicSchema("customers", TopicSchema(types: [:], key: ["id"]).json)
        let plan = try Self.check(
            #"""
            {"sinks": {"pg": {"type": "postgres", "topics": ["customers"], "mode": "upsert"},
                       "files": {"type": "file", "topics": ["customers"], "path": "out"}}}
            """#, in: dir)
        #expect(plan.existingTopics == ["customers": 3])
        let text = plan.render()
        #expect(text.contains("Topic customers: exists, 3 partitions"))
        #expect(text.contains("Topic pg.dlq: created with defaults (1 partition)"))
        #expect(text.contains("  sink files: creates \(dir.file("out"))"))
        #expect(!FileSystem.exists(dir.file("out")))
    }

    /// A connector whose own options have problems is not checked further (a typo may be why its file is
    /// not found); problems of the runtime's options (its dead-letter topic) do not stop its checks. A
    /// source left out of the config leaves unknown what is written, so unwritten topics are not named.
    @Test func whatTheFileGetsWrongLimitsWhatIsCheckedFurther() throws {
        let dir = TemporaryDirectory()
        let found = try Self.problems(
            #"""
            {"sources": {"typo": {"type": "csv", "path": "none.csv", "delimter": ";"},
                         "gone": {"type": "cvs", "path": "x.csv", "topic": "refunds"}},
             "sinks": {"files": {"type": "file", "topics": ["refunds"], "path": "data", "dead_letter_topic": "a b"}}}
            """#, in: dir)
        #expect(
            found.map(\.path) == [
                "sources.typo.delimter", "sources.gone.type", "sinks.files.dead_letter_topic", "sinks.files.path",
            ])
    }

    @Test func aDataDirectoryThatIsAFileIsAProblem() throws {
        let dir = TemporaryDirectory()
        try FileSystem.writeAtomically(dir.file("state"), [0x41], sync: false)
        let found = try Self.problems(#"{"data_dir": "state"}"#, in: dir)
        #expect(found == [ConfigProblem("data_dir", "\(dir.file("state")) is a regular file, not a folder")])
    }
}
