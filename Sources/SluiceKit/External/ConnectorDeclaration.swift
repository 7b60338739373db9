import SluiceCore

/// What an external connector says of itself in its hello: the first line it writes.
///
///     {"type": "hello", "protocol_versions": [1], "role": "sink", "name": "sqlite",
///      "summary": "Writes records to a SQLite table", "framing": "binary",
///      "options": [{"name": "database", "type": "string", "required": true, "meaning": "…"}, …]}
public struct ConnectorDeclaration: Sendable {
    public var protocolVersions: [Int]
    public var role: ConnectorSpec.Kind
    public var name: String
    public var summary: String
    public var framing: ExternalProtocol.Framing
    public var options: [OptionSpec]

    public init(
        protocolVersions: [Int] = ExternalProtocol.versions, role: ConnectorSpec.Kind, name: String, summary: String,
        framing: ExternalProtocol.Framing = .binary, options: [OptionSpec]
    ) {
        self.protocolVersions = protocolVersions
        self.role = role
        self.name = name
        self.summary = summary
        self.framing = framing
        self.options = options
    }

    /// The newest version both sides speak, nil when there is none.
    public var agreedVersion: Int? { protocolVersions.filter(ExternalProtocol.versions.contains).max() }

    /// Reads a hello; every problem names the member at fault.
    public init(hello: JSONValue) throws(ExternalProtocolError) {
        guard hello["type"]?.stringValue == "hello" else {
            throw ExternalProtocolError(
                "the first line is not a hello (a JSON object with \"type\": \"hello\"): \(hello.serialized().prefix(200))"
            )
        }
        guard case .array(let versions)? = hello["protocol_versions"], !versions.isEmpty,
            versions.allSatisfy({ $0.integerValue != nil })
        else {
            throw ExternalProtocolError("hello.protocol_versions: expected a list of integers, such as [1]")
        }
        protocolVersions = versions.compactMap { $0.integerValue.map(Int.init) }
        guard let roleText = hello["role"]?.stringValue, let role = ConnectorSpec.Kind(rawValue: roleText) else {
            throw ExternalProtocolError("hello.role: expected \"source\" or \"sink\"")
        }
        self.role = role
        guard let name = hello["name"]?.stringValue, !name.isEmpty else {
            throw ExternalProtocolError("hello.name: expected the connector's name, a non-empty string")
        }
        self.name = name
        summary = hello["summary"]?.stringValue ?? ""
        let framingText = hello["framing"]?.stringValue ?? "binary"
        guard let framing = ExternalProtocol.Framing(rawValue: framingText) else {
            throw ExternalProtocolError("hello.framing: expected \"binary\" or \"jsonl\", found \"\(framingText)\"")
        }
        self.framing = framing
        var options: [OptionSpec] = []
        if let declared = hello["options"] {
            guard case .array(let items) = declared else {
                throw ExternalProtocolError("hello.options: expected a list of option declarations")
            }
            for (i, item) in items.enumerated() {
                options.append(try Self.option(item, path: "hello.options[\(i)]"))
            }
        }
        var seen: Set<String> = []
        for option in options where !seen.insert(option.name).inserted {
            throw ExternalProtocolError("hello.options: \"\(option.name)\" is declared twice")
        }
        self.options = options
    }

    /// The hello line that declares this connector.
    public var hello: JSONValue {
        .message(
            "hello",
            [
                ("protocol_versions", .array(protocolVersions.map { .int($0) })),
                ("role", .string(role.rawValue)),
                ("name", .string(name)),
                ("summary", .string(summary)),
                ("framing", .string(framing.rawValue)),
                ("options", .array(options.map(Self.json))),
            ])
    }

    static func json(_ option: OptionSpec) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [("name", .string(option.name))]
        switch option.type {
        case .string: members.append(("type", .string("string")))
        case .character: members.append(("type", .string("character")))
        case .integer(let min, let max):
            members += [("type", .string("integer")), ("min", .int(min)), ("max", .int(max))]
        case .boolean: members.append(("type", .string("boolean")))
        case .choice(let words):
            members += [("type", .string("choice")), ("values", .array(words.map { .string($0) }))]
        case .stringList: members.append(("type", .string("string_list")))
        case .stringMap: members.append(("type", .string("string_map")))
        }
        if option.required { members.append(("required", .bool(true))) }
        if let value = option.defaultValue { members.append(("default", value)) }
        members.append(("meaning", .string(option.meaning)))
        if let example = option.example { members.append(("example", .string(example))) }
        return .object(members)
    }

    static func option(_ item: JSONValue, path: String) throws(ExternalProtocolError) -> OptionSpec {
        guard case .object = item else { throw ExternalProtocolError("\(path): expected an object") }
        guard let name = item["name"]?.stringValue, Self.isOptionName(name) else {
            throw ExternalProtocolError(
                "\(path).name: expected an option name in snake_case (letters, digits and _), such as \"batch_size\"")
        }
        let typeName = item["type"]?.stringValue ?? ""
        let type: OptionSpec.ValueType
        switch typeName {
        case "string": type = .string
        case "character": type = .character
        case "boolean": type = .boolean
        case "string_list": type = .stringList
        case "string_map": type = .stringMap(allowed: nil)
        case "integer":
            let min = item["min"]?.integerValue ?? Int64.min
            let max = item["max"]?.integerValue ?? Int64.max
            guard min <= max else { throw ExternalProtocolError("\(path): min is above max") }
            type = .integer(min: min, max: max)
        case "choice":
            guard case .array(let values)? = item["values"], !values.isEmpty,
                values.allSatisfy({ $0.stringValue != nil })
            else {
                throw ExternalProtocolError("\(path).values: a choice needs a list of the words it allows")
            }
            type = .choice(values.compactMap(\.stringValue))
        default:
            throw ExternalProtocolError(
                "\(path).type: expected one of \"string\", \"character\", \"integer\", \"boolean\", \"choice\", "
                    + "\"string_list\", \"string_map\"; found \(item["type"]?.serialized() ?? "nothing")")
        }
        let required = item["required"]?.boolValue ?? false
        let meaning = item["meaning"]?.stringValue ?? ""
        var defaultValue = item["default"]
        if defaultValue == .null { defaultValue = nil }
        let spec = OptionSpec(
            name, type, default: defaultValue, required: required, meaning, example: item["example"]?.stringValue)
        if let defaultValue, case .failure(let problem) = spec.validate(defaultValue, path: "\(path).default") {
            throw ExternalProtocolError("\(path).default does not fit its own type: \(problem.message)")
        }
        return spec
    }

    static func isOptionName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64
            && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 }
            && !(name.utf8.first.map { $0 >= 48 && $0 <= 57 } ?? true)
    }
}
