import SluiceCore

/// What a connector is and which options it takes: the single declaration behind validation,
/// `sluice connectors list` and `describe`, and the table in the connector's README.
public struct ConnectorSpec: Sendable {
    public enum Kind: String, Sendable {
        case source
        case sink
    }

    /// The `type` in the config file (`csv`).
    public let type: String
    public let kind: Kind
    public let summary: String
    public let options: [OptionSpec]
    /// Checks that involve several options at once, after each has been validated alone.
    public let check: @Sendable (ConnectorOptions) -> [ConfigProblem]
    /// For sources: what the options declare about the records' values (column types and key).
    public let schema: @Sendable (ConnectorOptions) -> TopicSchema?
    /// Defaults of the runtime's common options that suit this connector better (a database sink wants
    /// larger batches than the runtime's default, say).
    public let commonDefaults: [String: JSONValue]
    /// What the connector writes that no other connector in the same config may write as well, each
    /// with the option that names it: the file sink's folder. Two claims of the same are a config error.
    public let claims: @Sendable (ConnectorOptions) -> [(option: String, resource: String)]
    /// Checks against the world outside the config file, for `sluice validate` and before `sluice run`:
    /// that input files are there and fit the options, that a server answers, that a table can be
    /// written. Called only with options that passed `validate`; it looks and writes nothing.
    public let preflight: @Sendable (PreflightContext) -> PreflightResult
    /// For connectors whose options depend on the config itself (an external program declares its own):
    /// makes the spec to validate a connector's object with, or the problem that prevents it.
    public let resolve:
        (
            @Sendable (_ members: [(key: String, value: JSONValue)], _ path: String) -> Result<
                ConnectorSpec, ConfigProblem
            >
        )?

    public init(
        type: String,
        kind: Kind,
        summary: String,
        options: [OptionSpec],
        check: @escaping @Sendable (ConnectorOptions) -> [ConfigProblem] = { _ in [] },
        schema: @escaping @Sendable (ConnectorOptions) -> TopicSchema? = { _ in nil },
        commonDefaults: [String: JSONValue] = [:],
        claims: @escaping @Sendable (ConnectorOptions) -> [(option: String, resource: String)] = { _ in [] },
        preflight: @escaping @Sendable (PreflightContext) -> PreflightResult = { _ in PreflightResult() },
        resolve: (
            @Sendable (_ members: [(key: String, value: JSONValue)], _ path: String) -> Result<
                ConnectorSpec, ConfigProblem
            >
        )? = nil
    ) {
        self.preflight = preflight
        self.resolve = resolve
        self.commonDefaults = commonDefaults
        self.claims = claims
        self.type = type
        self.kind = kind
        self.summary = summary
        self.options = options
        self.check = check
        self.schema = schema
    }

    /// Validates the members of one connector's object in the config file against `options` plus
    /// `common` (the options the runtime itself reads, such as `topic`). Unknown keys are problems,
    /// with a suggestion when one is a likely typo. `fromEnvironment` holds the paths of the strings
    /// that `${NAME}` references made: only those may stand for an integer or a boolean.
    public func validate(
        _ members: [(key: String, value: JSONValue)],
        path: String,
        common: [OptionSpec] = [],
        ignoring: Set<String> = [],
        fromEnvironment: Set<String> = []
    ) -> (ConnectorOptions, [ConfigProblem]) {
        let all = common.map { $0.withDefault(commonDefaults[$0.name]) } + options
        var values: [String: JSONValue] = [:]
        var problems: [ConfigProblem] = []
        var seen: Set<String> = []
        for (key, value) in members where !ignoring.contains(key) {
            guard let option = all.first(where: { $0.name == key }) else {
                let hint = Suggestion.closest(to: key, in: all.map(\.name)).map { "; did you mean \"\($0)\"?" } ?? ""
                problems.append(ConfigProblem(path + "." + key, "unknown option\(hint)"))
                continue
            }
            if seen.contains(key) { problems.append(ConfigProblem(path + "." + key, "given twice")) }
            seen.insert(key)
            let optionPath = path + "." + key
            switch option.validate(value, path: optionPath, fromEnvironment: fromEnvironment.contains(optionPath)) {
            case .success(let normalized): values[key] = normalized
            case .failure(let problem): problems.append(problem)
            }
        }
        for option in all where values[option.name] == nil {
            if option.required && !seen.contains(option.name) {
                problems.append(ConfigProblem(path + "." + option.name, "required option is missing"))
            } else if let value = option.defaultValue, !seen.contains(option.name) {
                values[option.name] = value
            }
        }
        let validated = ConnectorOptions(path: path, values: values)
        if problems.isEmpty { problems = check(validated) }
        return (validated, problems)
    }

    /// The options as a Markdown table, as the connector's README shows them.
    public func markdownTable(common: [OptionSpec] = []) -> String {
        var lines = ["| option | type | default | meaning |", "| --- | --- | --- | --- |"]
        for option in common.map({ $0.withDefault(commonDefaults[$0.name]) }) + options {
            let meaning = option.meaning + (option.example.map { " Example: `\($0)`." } ?? "")
            let cells = [option.type.name, option.defaultText, meaning].map {
                String($0.flatMap { $0 == "|" ? ["\\", "|"] : [$0] })
            }
            lines.append("| `\(option.name)` | \(cells[0]) | \(cells[1]) | \(cells[2]) |")
        }
        return lines.joined(separator: "\n")
    }
}
