import SluiceCore

/// One per-topic setting: its name (snake_case, with its unit), kind, default and meaning. The list in
/// `TopicConfig.settings` is the one place that declares them; `--config k=v`, the config file's
/// `topics` section and `topics describe` all read it.
public struct TopicSetting: Sendable {
    public enum Kind: Sendable, Equatable {
        /// An integer in a range.
        case integer(min: Int64, max: Int64)
        case boolean
        /// One of a few words.
        case choice([String])
    }

    public let name: String
    public let kind: Kind
    public let defaultValue: String
    public let meaning: String

    /// Checks and normalizes `value`, or throws an error that says what is allowed.
    public func validate(_ value: JSONValue, topic: String) throws -> JSONValue {
        func fail(_ expected: String) -> BrokerError {
            BrokerError(.invalidConfig, "\(name): \(expected), not \(value.serialized())")
        }
        switch kind {
        case .integer(let min, let max):
            var number = value.integerValue
            if number == nil, case .string(let text) = value { number = Int64(text) }
            guard let number else { throw fail("expected an integer") }
            guard number >= min && number <= max else {
                throw fail(
                    min == -1
                        ? "expected -1 (no limit) or an integer up to \(max)"
                        : "expected an integer from \(min) to \(max)")
            }
            return .number(String(number))
        case .boolean:
            if let flag = value.boolValue { return .bool(flag) }
            if case .string(let text) = value, text == "true" || text == "false" { return .bool(text == "true") }
            throw fail("expected true or false")
        case .choice(let words):
            guard case .string(let text) = value, words.contains(text) else {
                throw fail("expected one of " + words.map { "\"\($0)\"" }.joined(separator: ", "))
            }
            return value
        }
    }

    /// A value typed on the command line (`--config k=v`), as JSON: a number, a boolean or a string.
    public static func parseCommandLineValue(_ text: String) -> JSONValue {
        if Int64(text) != nil { return .number(text) }
        if text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }
}
