import SluiceCore

/// A connector's options after validation: every declared option with its value or default. Getters
/// cannot fail on a validated set, except for options a connector reads with the wrong type, which
/// is a programming error.
public struct ConnectorOptions: Sendable {
    /// Where these options are in the config file, such as `sources.orders`.
    public let path: String
    private let values: [String: JSONValue]

    public init(path: String, values: [String: JSONValue]) {
        self.path = path
        self.values = values
    }

    /// Whether `other` holds the same values (wherever it is in the file).
    public func sameValues(as other: ConnectorOptions) -> Bool { values == other.values }

    /// The raw value, nil when the option is unset and has no default.
    public subscript(name: String) -> JSONValue? { values[name] }

    public func string(_ name: String) -> String? {
        values[name]?.stringValue
    }

    /// The byte of a one-character option.
    public func byte(_ name: String) -> UInt8? {
        values[name]?.stringValue?.utf8.first
    }

    public func integer(_ name: String) -> Int64? {
        values[name]?.integerValue
    }

    public func bool(_ name: String) -> Bool? {
        values[name]?.boolValue
    }

    public func stringList(_ name: String) -> [String]? {
        guard case .array(let items)? = values[name] else { return nil }
        return items.compactMap(\.stringValue)
    }

    /// An object of strings, in the file's order.
    public func stringMap(_ name: String) -> [(key: String, value: String)]? {
        guard case .object(let members)? = values[name] else { return nil }
        return members.compactMap { member in member.value.stringValue.map { (member.key, $0) } }
    }

    /// The path of an option, for error messages: `sources.orders.delimiter`.
    public func path(of name: String) -> String { path + "." + name }
}
