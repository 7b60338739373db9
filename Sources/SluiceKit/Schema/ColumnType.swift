/// The column types a source can declare. They decide how a value is written in a record's JSON and
/// how a sink creates a column for it.
public enum ColumnType: String, Sendable, CaseIterable, Codable {
    /// A JSON string holding the field's text exactly.
    case string
    /// A 64-bit integer, written as a JSON number.
    case int
    /// A floating-point number, written as a JSON number with the digits given.
    case float
    /// An exact decimal number, written as a JSON number with the digits given.
    case decimal
    /// `true`/`false`, `t`/`f`, `yes`/`no`, `y`/`n`, `on`/`off`, `1`/`0`, in any case.
    case bool
    /// An ISO 8601 date and time (`2026-11-21T10:30:00Z`, `2026-11-21 10:30:00.5+02:00`), a JSON string.
    case timestamp
    /// An ISO 8601 date (`2026-11-21`), a JSON string.
    case date
    /// Any JSON value, embedded as it is.
    case json

    public static var names: [String] { allCases.map(\.rawValue) }
}
