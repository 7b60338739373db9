import SluiceBroker
import SluiceCore
import SluiceKafkaClient
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceRuntime

/// The config file: environment substitution, unknown keys with suggestions, wrong types, the topics
/// section, default topics, relative paths and syntax errors, each problem named by its path.
@Suite struct ConfigLoaderTests {
    static let file = "/etc/sluice/config.json"

    func load(_ text: String, file: String? = Self.file, environment: [String: String] = [:]) throws
        -> PipelineConfig
    {
        try ConfigLoader(registry: BuiltInConnectors.registry, environment: environment)
            .load(bytes: Array(text.utf8), file: file)
    }

    func problems(_ text: String, file: String? = Self.file, environment: [String: String] = [:]) throws
        -> [ConfigProblem]
    {
        let error = try #require(throws: ConfigError.self) { try load(text, file: file, environment: environment) }
        #expect(error.file == file)
        return error.problems
    }

    func source(_ config: PipelineConfig, _ name: String) throws -> SourceDefinition {
        try #require(config.sources.first { $0.name == name })
    }

    // MARK: Environment

    @Test func environmentVariablesAreSubstituted() throws {
        let config = try load(
            #"""
            {
              "data_dir": "${DATA:-/var/sluice}",
              "topics": {"orders": {"partitions": "${PARTITIONS}"}},
              "sources": {
                "orders": {
                  "type": "csv", "path": "/in/${NAME}.csv", "delimiter": "${DELIM:-;}",
                  "max_batch_rows": "${ROWS}", "key_separator": "$$x$${NAME}",
                  "null_values": ["${NULLTEXT:-}", "a$b", "${EMPTY:-none}", "${EMPTY}"]
                }
              }
            }
            """#,
            environment: ["NAME": "orders", "ROWS": "500", "PARTITIONS": "3", "DATA": "", "EMPTY": ""])
        #expect(config.dataDirectory == "/var/sluice")
        #expect(config.topics.map(\.config.partitions) == [3])
        let orders = try source(config, "orders")
        #expect(orders.options.string("path") == "/in/orders.csv")
        #expect(orders.options.byte("delimiter") == UInt8(ascii: ";"))
        #expect(orders.options.integer("max_batch_rows") == 500)
        #expect(orders.options.string("key_separator") == "$x${NAME}")
        #expect(orders.options.stringList("null_values") == ["", "a$b", "none", ""])
    }

    @Test func anUnsetVariableWithoutDefaultIsAProblemNamingItsPath() throws {
        let found = try problems(
            #"""
            {"sources": {"orders": {"type": "csv", "path": "${MISSING}/x.csv", "key": ["id", "${KEY}"]}}}
            """#)
        #expect(found.map(\.path) == ["sources.orders.path", "sources.orders.key[1]"])
        #expect(found.first?.message.contains("MISSING") == true)
        #expect(found.first?.message.contains("${MISSING:-default}") == true)
        #expect(found.last?.message.contains("KEY") == true)
    }

    /// `${` without its `}` is not taken literally: it is a problem naming its path, as is a reference
    /// whose name no variable can have. `$${` is a literal `${`.
    @Test func anUnclosedOrMalformedReferenceIsAProblem() throws {
        let found = try problems(
            #"""
            {"sources": {"orders": {"type": "csv", "path": "in/${UNCLOSED.csv", "topic": "${NOT A NAME}"}}}
            """#)
        #expect(found.map(\.path) == ["sources.orders.path", "sources.orders.topic"])
        #expect(
            found.first?.message
                == #""${UNCLOSED.csv" opens an environment reference that is never closed with "}" (write $$ for a literal $)"#
        )
        #expect(found.last?.message.hasPrefix(#""${NOT A NAME}" is not an environment reference"#) == true)
        let literal = try load(#"{"sources": {"orders": {"type": "csv", "path": "/in/$${NAME.csv"}}}"#)
        #expect(try source(literal, "orders").options.string("path") == "/in/${NAME.csv")
    }

    /// A number or boolean in quotes is a mistake, in the topics section as in a connector's options;
    /// one that a `${NAME}` reference made is not.
    @Test func quotedNumbersAreProblemsUnlessAReferenceMadeThem() throws {
        let found = try problems(
            #"""
            {"topics": {"orders": {"partitions": "4", "retention_ms": "1000", "allow_key_remap": "true"}},
             "sinks": {"out": {"type": "file", "topics": ["orders"], "path": "out", "tasks": "2"}}}
            """#)
        let byPath = Dictionary(found.map { ($0.path, $0.message) }, uniquingKeysWith: { $1 })
        #expect(
            byPath["topics.orders.partitions"] == #"expected an integer, found the string "4"; write 4 without quotes"#)
        #expect(byPath["topics.orders.retention_ms"]?.hasSuffix("write 1000 without quotes") == true)
        #expect(byPath["topics.orders.allow_key_remap"]?.hasSuffix("write true without quotes") == true)
        #expect(
            byPath["sinks.out.tasks"]
                == #"expected an integer from 1 to 256, found the string "2"; write 2 without quotes"#)
        #expect(found.count == 4)
        let config = try load(
            #"""
            {"topics": {"orders": {"partitions": "${P}", "retention_ms": "${MS:-1000}"}},
             "sinks": {"out": {"type": "file", "topics": ["orders"], "path": "out", "tasks": "${TASKS}"}}}
            """#, environment: ["P": "4", "TASKS": "2"])
        #expect(config.topics.first?.config.partitions == 4)
        #expect(config.sinks.first?.tasks == 2)
    }

    @Test func aSinksDeadLetterTopicCannotBeAnInternalTopic() throws {
        let found = try problems(
            #"""
            {"sinks": {"out": {"type": "file", "topics": ["orders"], "path": "out",
                               "dead_letter_topic": "__consumer_offsets"}}}
            """#)
        #expect(
            found == [
                ConfigProblem("sinks.out.dead_letter_topic", #"topics starting with "__" belong to the broker"#)
            ])
    }

    // MARK: Unknown keys and wrong types

    @Test func unknownKeysGetSuggestions() throws {
        let found = try problems(
            #"""
            {"sorces": {}, "sources": {"orders": {"type": "csv", "path": "a.csv", "delimter": ";"}}}
            """#)
        #expect(found.count == 2)
        #expect(found.first?.path == "sorces")
        #expect(found.first?.message.hasPrefix("unknown key; did you mean \"sources\"?") == true)
        #expect(found.last == ConfigProblem("sources.orders.delimter", "unknown option; did you mean \"delimiter\"?"))
        let unrelated = try problems(#"{"zzz": 1}"#)
        #expect(
            unrelated.first?.message
                == "unknown key (allowed: data_dir, broker, topics, sources, sinks, daemon, admin, kafka)")
    }

    // MARK: The broker section

    @Test func theBrokerSectionTakesAKafkaClusterWithSecretsFromTheEnvironment() throws {
        let config = try load(
            #"""
            {"broker": {"type": "kafka", "bootstrap_servers": "k1:9092,k2:9092", "replication_factor": 3,
                        "properties": {"sasl.password": "${KAFKA_PASSWORD}", "linger.ms": 10, "socket.nagle.disable": true}},
             "sources": {}}
            """#, environment: ["KAFKA_PASSWORD": "s3cret"])
        #expect(
            config.broker
                == .kafka(
                    KafkaClusterSettings(
                        bootstrapServers: "k1:9092,k2:9092",
                        properties: ["sasl.password": "s3cret", "linger.ms": "10", "socket.nagle.disable": "true"],
                        replicationFactor: 3)))
        #expect(try load(#"{"sources": {}}"#).broker == .embedded)
        #expect(try load(#"{"broker": {"type": "embedded"}, "sources": {}}"#).broker == .embedded)
    }

    @Test func badBrokerSettingsAreNamedByPath() throws {
        #expect(
            try problems(#"{"broker": {"type": "kafk"}, "sources": {}}"#)
                == [ConfigProblem("broker.type", #"expected "embedded" or "kafka", found "kafk""#)])
        let found = try problems(
            #"""
            {"broker": {"type": "kafka", "bootstrap_server": "x", "replication_factor": 0,
                        "properties": {"acks": "1", "linger.ms": [1], "request.required.acks": "0",
                                       "bootstrap.servers": "elsewhere:9092", "transactional.id": "t"}},
             "sources": {}}
            """#)
        #expect(
            found.map(\.path).sorted() == [
                "broker.bootstrap_server", "broker.bootstrap_servers", "broker.properties.acks",
                "broker.properties.bootstrap.servers", "broker.properties.linger.ms",
                "broker.properties.request.required.acks", "broker.properties.transactional.id",
                "broker.replication_factor",
            ])
        #expect(
            found.first { $0.path == "broker.properties.bootstrap.servers" }?.message
                == "the cluster's addresses go in broker.bootstrap_servers")
        #expect(
            found.first { $0.path == "broker.bootstrap_server" }?.message.contains("did you mean \"bootstrap_servers\"")
                == true)
        #expect(
            try problems(#"{"broker": {"bootstrap_servers": "x"}, "sources": {}}"#)
                == [
                    ConfigProblem(
                        "broker.bootstrap_servers", #"only a broker of "type": "kafka" takes "bootstrap_servers""#)
                ])
    }

    @Test func wrongTypesNameTheirPath() throws {
        let found = try problems(
            #"""
            {
              "data_dir": 5,
              "sources": {
                "a": {"type": "csv", "path": "a.csv", "header": "yes", "max_row_bytes": 10, "topic": 5,
                      "columns": {"x": "integer"}, "delimiter": ";;"},
                "b": 1,
                "c": {"path": "c.csv"},
                "d": {"type": "cvs", "path": "d.csv"},
                "e": {"type": "csv"}
              }
            }
            """#)
        let byPath = Dictionary(found.map { ($0.path, $0.message) }, uniquingKeysWith: { $1 })
        #expect(byPath["data_dir"] == "expected a folder path as a string")
        #expect(byPath["sources.a.header"] == "expected true or false, found the string \"yes\"")
        #expect(byPath["sources.a.max_row_bytes"] == "expected an integer from 1024 to 1073741824, found 10")
        #expect(byPath["sources.a.topic"] == "expected a string, found the number 5")
        #expect(byPath["sources.a.columns.x"]?.hasSuffix("did you mean \"int\"?") == true)
        #expect(byPath["sources.a.delimiter"] == "expected exactly one ASCII character, found \";;\"")
        #expect(byPath["sources.b"] == "expected an object with a \"type\"")
        #expect(byPath["sources.c.type"] == "required: the connector type, such as \"csv\"")
        #expect(byPath["sources.d.type"] == "unknown source type \"cvs\"; did you mean \"csv\"? known: csv, exec")
        #expect(byPath["sources.e.path"] == "required option is missing")
        #expect(found.count == byPath.count)

        #expect(
            try problems(#"{"sources": []}"#) == [ConfigProblem("sources", "expected an object of sources by name")])
        #expect(try problems(#"{"topics": 3}"#) == [ConfigProblem("topics", "expected an object of topics by name")])
        #expect(try problems("[]") == [ConfigProblem("", "the configuration must be a JSON object")])
    }

    @Test func crossOptionChecksOfTheConnectorRun() throws {
        let found = try problems(
            #"""
            {"sources": {"a": {"type": "csv", "path": "a.csv", "header": false, "quote": ","}}}
            """#)
        #expect(found.map(\.path).sorted() == ["sources.a.column_names", "sources.a.quote"])
    }

    // MARK: Topics

    @Test func topicsSection() throws {
        let config = try load(
            #"""
            {"topics": {
              "a": {"partitions": 4, "retention_ms": -1, "compression": "gzip"},
              "b": {"partitions": 10000},
              "c": {}
            }}
            """#)
        #expect(config.topics.map(\.name) == ["a", "b", "c"])
        #expect(config.topics.map(\.config.partitions) == [4, 10_000, 1])
        #expect(config.topics.first?.config.value(of: "retention_ms") == "-1")
        #expect(config.topics.first?.config.compression == .gzip)

        let found = try problems(
            #"""
            {"topics": {
              "zero": {"partitions": 0},
              "many": {"partitions": 10001},
              "word": {"partitions": "four"},
              "fraction": {"partitions": 1.5},
              "bad name!": {},
              "..": {},
              "__consumer_offsets": {"partitions": 2},
              "_sluice_checkpoints": {"partitions": 1},
              "settings": {"retention_ms": "soon", "retenton_ms": 5, "flush": "always"},
              "notobject": 3
            }}
            """#)
        let byPath = Dictionary(found.map { ($0.path, $0.message) }, uniquingKeysWith: { $1 })
        for name in ["zero", "many", "word", "fraction"] {
            #expect(byPath["topics.\(name).partitions"] == "expected an integer from 1 to 10000", "\(name)")
        }
        #expect(
            byPath["topics.bad name!"]
                == "topic name \"bad name!\" may only contain ASCII letters, digits, '.', '_' and '-'")
        #expect(byPath["topics..."] == "\"..\" is not a valid topic name")
        #expect(byPath["topics.__consumer_offsets"] == "topics starting with \"__\" belong to the broker")
        #expect(
            byPath["topics._sluice_checkpoints"]?.hasPrefix("topics starting with \"_sluice\" hold Sluice's own")
                == true)
        #expect(byPath["topics.settings.retention_ms"] == "expected an integer, not \"soon\"")
        #expect(byPath["topics.settings.retenton_ms"] == "unknown topic setting; did you mean \"retention_ms\"?")
        #expect(byPath["topics.settings.flush"]?.hasPrefix("expected one of \"batch\", \"interval\", \"os\"") == true)
        #expect(byPath["topics.notobject"] == "expected an object of topic settings")
        #expect(found.count == 12)

        let long = String(repeating: "t", count: 250)
        #expect(try problems(#"{"topics": {"\#(long)": {}}}"#).first?.message.contains("longer than 249") == true)
    }

    @Test func defaultTopicAndDeadLetterTopic() throws {
        let config = try load(
            #"""
            {"topics": {"declared": {"partitions": 2}},
             "sources": {
              "orders": {"type": "csv", "path": "o.csv"},
              "named": {"type": "csv", "path": "n.csv", "topic": "t"},
              "both": {"type": "csv", "path": "b.csv", "topic": "declared", "dead_letter_topic": "errors"}
            }}
            """#)
        let orders = try source(config, "orders")
        #expect(orders.topic == "orders")
        #expect(orders.deadLetterTopic == "orders.dlq")
        #expect(orders.type == "csv")
        let named = try source(config, "named")
        #expect(named.topic == "t")
        #expect(named.deadLetterTopic == "t.dlq")
        let both = try source(config, "both")
        #expect(both.topic == "declared")
        #expect(both.deadLetterTopic == "errors")
        #expect(config.allTopics == ["declared", "orders", "orders.dlq", "t", "t.dlq", "errors"])

        let found = try problems(
            #"""
            {"sources": {
              "same": {"type": "csv", "path": "s.csv", "topic": "x", "dead_letter_topic": "x"},
              "bad": {"type": "csv", "path": "b.csv", "topic": "no spaces"},
              "internal": {"type": "csv", "path": "i.csv", "dead_letter_topic": "__offsets"}
            }}
            """#)
        #expect(
            found.map(\.path).sorted() == [
                "sources.bad.dead_letter_topic", "sources.bad.topic", "sources.internal.dead_letter_topic",
                "sources.same.dead_letter_topic",
            ])
        #expect(found.contains(ConfigProblem("sources.same.dead_letter_topic", "must differ from the source's topic")))
    }

    // MARK: Paths

    @Test func relativePathsAreTakenFromTheConfigFilesFolder() throws {
        let text = #"""
            {"sources": {
              "rel": {"type": "csv", "path": "in/*.csv"},
              "abs": {"type": "csv", "path": "/data/x.csv"}
            }}
            """#
        let config = try load(text)
        #expect(config.dataDirectory == "/etc/sluice/data")
        #expect(try source(config, "rel").options.string("path") == "/etc/sluice/in/*.csv")
        #expect(try source(config, "abs").options.string("path") == "/data/x.csv")

        let nested = try load(text, file: "conf/sluice.json")
        #expect(nested.dataDirectory == "conf/data")
        #expect(try source(nested, "rel").options.string("path") == "conf/in/*.csv")
        for file in [nil, "config.json"] {
            let here = try load(text, file: file)
            #expect(here.dataDirectory == "data")
            #expect(try source(here, "rel").options.string("path") == "in/*.csv")
        }

        let state = try load(#"{"data_dir": "state/${ENV}"}"#, environment: ["ENV": "prod"])
        #expect(state.dataDirectory == "/etc/sluice/state/prod")
        #expect(try load(#"{"data_dir": "/var/lib/sluice"}"#).dataDirectory == "/var/lib/sluice")
    }

    @Test func pathsAreNormalizedAndTwoFileSinksCannotShareAFolder() throws {
        let config = try load(#"{"sources": {"s": {"type": "csv", "path": "./in//x/../../*.csv"}}}"#)
        #expect(try source(config, "s").options.string("path") == "/etc/sluice/*.csv")
        #expect(FileSystem.normalized("a/../../b/") == "../b" && FileSystem.normalized("/../x") == "/x")
        #expect(FileSystem.normalized("./") == "." && FileSystem.normalized("//") == "/")
        let problems = try problems(
            #"""
            {"sinks": {
              "a": {"type": "file", "topics": ["orders"], "path": "out"},
              "b": {"type": "file", "topics": ["orders"], "path": "./out/"},
              "c": {"type": "file", "topics": ["orders"], "path": "out/c"}
            }}
            """#)
        #expect(problems.map(\.path) == ["sinks.b.path"])
        #expect(problems.first?.message == "sink \"a\" writes the folder /etc/sluice/out too; give each sink its own")
    }

    @Test func repeatedKeysEmptyNamesAndMisplacedOptionsAreProblems() throws {
        let found = try problems(
            #"""
            {"topics": {"t": {"partiton": 2}},
             "sources": {
               "a": {"type": "csv", "path": "", "topic": "t", "key": ["id", "id"],
                     "columns": {"id": "int", "id": "float"}},
               "b": {"type": "csv", "path": "b.csv", "topic": "t", "column_names": ["x"]},
               "c": {"type": "csv", "path": "c.csv", "topic": "t", "header": false, "column_names": []}},
             "sinks": {
               "f": {"type": "file", "topics": ["t"], "path": ""},
               "p": {"type": "postgres", "topics": ["t"], "table": "", "key_columns": []}}}
            """#)
        let byPath = Dictionary(found.map { ($0.path, $0.message) }) { first, _ in first }
        #expect(byPath["topics.t.partiton"] == #"unknown topic setting; did you mean "partitions"?"#)
        #expect(byPath["sources.a.columns.id"] == "given twice")
        #expect(byPath["sources.a.path"] == "cannot be empty")
        #expect(byPath["sources.a.key"]?.contains("twice") == true)
        #expect(byPath["sources.b.column_names"]?.hasPrefix("only with header: false") == true)
        #expect(byPath["sources.c.column_names"] == "required when header is false")
        #expect(byPath["sinks.f.path"] == "cannot be empty")
        #expect(byPath["sinks.p.table"] == "expected a table name or schema.table")
        #expect(byPath["sinks.p.key_columns"]?.hasPrefix("name at least one column") == true)
    }

    @Test func aByteOrderMarkBeforeTheConfigIsSkipped() throws {
        let config = try ConfigLoader(registry: BuiltInConnectors.registry, environment: [:])
            .load(bytes: [0xEF, 0xBB, 0xBF] + Array(#"{"data_dir": "/d"}"#.utf8), file: nil)
        #expect(config.dataDirectory == "/d")
    }

    @Test func loadingAFileAnchorsItsPaths() throws {
        let directory = TemporaryDirectory()
        let path = directory.file("pipeline.json")
        try FileSystem.writeAtomically(
            path, Array(#"{"sources": {"s": {"type": "csv", "path": "input.csv"}}}"#.utf8), sync: false)
        let loader = ConfigLoader(registry: BuiltInConnectors.registry, environment: [:])
        let config = try loader.load(path: path)
        #expect(config.file == path)
        #expect(config.dataDirectory == directory.path + "/data")
        #expect(try source(config, "s").options.string("path") == directory.path + "/input.csv")

        let missing = try #require(throws: ConfigError.self) { try loader.load(path: directory.file("none.json")) }
        #expect(missing.problems.first?.message.contains("does not exist") == true)
    }

    // MARK: Syntax

    @Test func aSyntaxErrorNamesLineAndColumn() throws {
        let text = "{\n  \"sources\": {\n    \"a\": [1,]\n  }\n}"
        let error = try #require(throws: ConfigError.self) { try load(text) }
        #expect(error.problems.count == 1)
        #expect(error.problems.first?.path == "")
        #expect(
            error.problems.first?.message
                == "not valid JSON: line 3, column 13: unexpected character ']', expected a value")
        #expect(error.description.hasPrefix("/etc/sluice/config.json: not valid JSON: line 3, column 13"))
        #expect(try problems("{\"a\": 1,\n}").first?.message.hasPrefix("not valid JSON: line 2, column 1") == true)
    }
}
