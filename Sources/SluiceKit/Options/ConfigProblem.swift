/// One problem in a configuration file, named by its path (`sources.orders.delimiter`).
public struct ConfigProblem: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Every problem found in a configuration, reported together.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    /// The file the problems are in, when there is one.
    public var file: String?
    public var problems: [ConfigProblem]

    public init(file: String? = nil, _ problems: [ConfigProblem]) {
        self.file = file
        self.problems = problems
    }

    public var description: String {
        let prefix = file.map { "\($0): " } ?? ""
        return problems.map { prefix + $0.description }.joined(separator: "\n")
    }
}
