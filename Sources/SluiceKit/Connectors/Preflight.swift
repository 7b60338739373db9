import Logging

/// What a connector's preflight is given: its validated options and what the runtime knows of the
/// pipeline around it.
///
/// The runtime calls a connector's preflight once per source or sink, before `sluice run` starts and
/// for `sluice validate`, on the calling thread (never Swift's cooperative pool): it may block on
/// files and, when `connect` is true, on servers. A preflight only looks; it writes nothing anywhere.
public struct PreflightContext: Sendable {
    /// The connector's name in the config (`orders`).
    public let name: String
    public let options: ConnectorOptions
    /// For a source, the topic it writes; for a sink, the topics it reads.
    public let topics: [String]
    /// What is known of each topic's values: what a source of the config declares, or what is stored
    /// with the topic in the data directory.
    public let schemas: [String: TopicSchema]
    /// The broker's data directory, absolute; nothing but the broker may write inside it.
    public let dataDirectory: String
    /// Whether to reach servers (`validate --connect`, `run --dry-run`, and `run` itself); files are
    /// looked at always.
    public let connect: Bool
    /// Whether a server that cannot be reached now is only a note (`run`: its sink retries until it
    /// answers), not a problem; what it answers (a wrong password, a missing table) is a problem still.
    public let serverMayBeDown: Bool
    /// For a source, the checkpoint it stored in the data directory (nil: none), so that a preflight
    /// can leave alone the input a run would not read again.
    public let checkpoint: [UInt8]?
    /// Whether the pipeline runs without end (`sluice daemon`): sources keep watching, so input that
    /// does not exist yet is a note, not a problem.
    public let continuous: Bool
    public let logger: Logger

    public init(
        name: String,
        options: ConnectorOptions,
        topics: [String],
        schemas: [String: TopicSchema] = [:],
        dataDirectory: String,
        connect: Bool = false,
        serverMayBeDown: Bool = false,
        checkpoint: [UInt8]? = nil,
        continuous: Bool = false,
        logger: Logger
    ) {
        self.name = name
        self.options = options
        self.topics = topics
        self.schemas = schemas
        self.dataDirectory = dataDirectory
        self.connect = connect
        self.serverMayBeDown = serverMayBeDown
        self.checkpoint = checkpoint
        self.continuous = continuous
        self.logger = logger
    }
}

/// What a preflight found: the problems that would stop a run, each named by its path in the config
/// (and by the file or table it is about), and notes on what the run would do.
public struct PreflightResult: Sendable, Equatable {
    public var problems: [ConfigProblem]
    /// One line each, such as `table public.orders exists (5 columns); loader may insert and update`.
    public var notes: [String]

    public init(problems: [ConfigProblem] = [], notes: [String] = []) {
        self.problems = problems
        self.notes = notes
    }

    public mutating func problem(_ path: String, _ message: String) {
        problems.append(ConfigProblem(path, message))
    }

    public mutating func note(_ line: String) {
        notes.append(line)
    }

    public static func + (lhs: PreflightResult, rhs: PreflightResult) -> PreflightResult {
        PreflightResult(problems: lhs.problems + rhs.problems, notes: lhs.notes + rhs.notes)
    }
}
