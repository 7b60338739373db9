import SluiceCore

/// One option of a connector: name, type, default and meaning, declared once. Validation,
/// `sluice connectors describe` and the connector's README table all come from these declarations.
public struct OptionSpec: Sendable {
    public enum ValueType: Sendable, Equatable {
        case string
        /// Exactly one byte, such as a delimiter; `"\t"` is a tab.
        case character
        case integer(min: Int64, max: Int64)
        case boolean
        /// One of a few words.
        case choice([String])
        /// A list of strings; a single string is taken as a list of one.
        case stringList
        /// An object whose values are strings, in the file's order; with `allowed`, each value must be
        /// one of those words.
        case stringMap(allowed: [String]?)

        /// What a value of the type is, for messages: "an integer from 1 to 10".
        public var expected: String {
            switch self {
            case .integer(let min, let max): return "an integer from \(min) to \(max)"
            case .boolean: return "true or false"
            default: return "a value of type \(name)"
            }
        }

        /// How the type reads in help and READMEs.
        public var name: String {
            switch self {
            case .string: return "string"
            case .character: return "character"
            case .integer: return "integer"
            case .boolean: return "boolean"
            case .choice(let words): return words.joined(separator: " | ")
            case .stringList: return "list of strings"
            case .stringMap(let allowed): return allowed == nil ? "object of strings" : "object of types"
            }
        }
    }

    public let name: String
    public let type: ValueType
    /// Nil for options without a default (required or optional ones).
    public let defaultValue: JSONValue?
    public let required: Bool
    public let meaning: String
    public let example: String?

    public init(
        _ name: String,
        _ type: ValueType,
        default defaultValue: JSONValue? = nil,
        required: Bool = false,
        _ meaning: String,
        example: String? = nil
    ) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.required = required
        self.meaning = meaning
        self.example = example
    }

    /// The same option with another default, when one is given.
    public func withDefault(_ value: JSONValue?) -> OptionSpec {
        guard let value else { return self }
        return OptionSpec(name, type, default: value, required: required, meaning, example: example)
    }

    /// The default as it reads in help.
    public var defaultText: String {
        if required { return "(required)" }
        guard let defaultValue else { return "-" }
        if case .string("\t") = defaultValue { return "tab" }
        return defaultValue.serialized()
    }

    /// Checks `value` and returns it normalized, or the problem with it. An integer or a boolean may
    /// come as a string only when `${VAR}` substitution made it (`fromEnvironment`), since that yields
    /// strings; a quoted number written in the file is a mistake, named as one.
    public func validate(_ value: JSONValue, path: String, fromEnvironment: Bool = false) -> Result<
        JSONValue, ConfigProblem
    > {
        func problem(_ expected: String) -> Result<JSONValue, ConfigProblem> {
            .failure(ConfigProblem(path, "expected \(expected), found \(describe(value))"))
        }
        if !fromEnvironment, case .string(let text) = value, let unquoted = Self.unquoted(text, for: type) {
            return .failure(
                ConfigProblem(
                    path, "expected \(type.expected), found the string \"\(text)\"; write \(unquoted) without quotes"))
        }
        switch type {
        case .string:
            guard case .string = value else { return problem("a string") }
            return .success(value)
        case .character:
            guard case .string(let text) = value else { return problem("a one-character string") }
            guard text.utf8.count == 1 else {
                return .failure(ConfigProblem(path, "expected exactly one ASCII character, found \"\(text)\""))
            }
            return .success(value)
        case .integer(let min, let max):
            var number = value.integerValue
            if number == nil, case .string(let text) = value { number = Int64(text) }
            guard let number else { return problem("an integer") }
            guard number >= min && number <= max else {
                return .failure(ConfigProblem(path, "expected an integer from \(min) to \(max), found \(number)"))
            }
            return .success(.number(String(number)))
        case .boolean:
            if case .bool = value { return .success(value) }
            if case .string(let text) = value, text == "true" || text == "false" {
                return .success(.bool(text == "true"))
            }
            return problem("true or false")
        case .choice(let words):
            guard case .string(let text) = value, words.contains(text) else {
                let expected = "one of " + words.map { "\"\($0)\"" }.joined(separator: ", ")
                // `exactly-once` for `exactly_once`, `Upsert` for `upsert`.
                if case .string(let text) = value, let near = Suggestion.closest(to: text, in: words) {
                    return .failure(
                        ConfigProblem(
                            path, "expected \(expected), found \(describe(value)); did you mean \"\(near)\"?"))
                }
                return problem(expected)
            }
            return .success(value)
        case .stringList:
            if case .string = value { return .success(.array([value])) }
            guard case .array(let items) = value else { return problem("a list of strings") }
            if let index = items.firstIndex(where: { $0.stringValue == nil }) {
                return .failure(
                    ConfigProblem("\(path)[\(index)]", "expected a string, found \(describe(items[index]))"))
            }
            return .success(value)
        case .stringMap(let allowed):
            guard case .object(let members) = value else { return problem("an object") }
            for (key, item) in members {
                guard case .string(let text) = item else {
                    return .failure(ConfigProblem(path + "." + key, "expected a string, found \(describe(item))"))
                }
                if let allowed, !allowed.contains(text) {
                    let hint = Suggestion.closest(to: text, in: allowed).map { "; did you mean \"\($0)\"?" } ?? ""
                    return .failure(
                        ConfigProblem(
                            path + "." + key,
                            "\"\(text)\" is not one of " + allowed.map { "\"\($0)\"" }.joined(separator: ", ") + hint
                        )
                    )
                }
            }
            return .success(value)
        }
    }

    /// How a quoted integer or boolean would be written without its quotes, when `text` is one and
    /// `type` wants one; nil otherwise.
    public static func unquoted(_ text: String, for type: ValueType) -> String? {
        switch type {
        case .integer: return Int64(text).map { String($0) }
        case .boolean: return text == "true" || text == "false" ? text : nil
        default: return nil
        }
    }

    private func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return "the string \"\(text)\""
        case .number(let text): return "the number \(text)"
        case .bool(let flag): return flag ? "true" : "false"
        default: return value.typeName
        }
    }
}
