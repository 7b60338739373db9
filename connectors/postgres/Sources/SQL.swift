import SluiceKit

/// Building SQL text: identifiers are always quoted, so any column name is a column and never SQL.
/// Values never go into SQL text; they travel as COPY data or as statement parameters.
enum SQL {
    /// `"name"`, with inner quotes doubled.
    static func identifier(_ name: String) -> String {
        "\"" + name.replacingAll("\"", with: "\"\"") + "\""
    }

    /// A table name as given (`orders` or `schema.orders`) split into its schema and name.
    static func tableParts(_ name: String) -> (schema: String?, table: String) {
        guard let dot = name.firstIndex(of: ".") else { return (nil, name) }
        return (String(name[..<dot]), String(name[name.index(after: dot)...]))
    }

    /// The quoted name of a table, qualified by its schema when it has one.
    static func qualified(schema: String?, table: String) -> String {
        (schema.map { identifier($0) + "." } ?? "") + identifier(table)
    }

    /// The column type for a declared type.
    static func columnType(_ type: ColumnType?) -> String {
        switch type {
        case .int: return "bigint"
        case .float: return "double precision"
        case .decimal: return "numeric"
        case .bool: return "boolean"
        case .timestamp: return "timestamptz"
        case .date: return "date"
        case .json: return "jsonb"
        case .string, nil: return "text"
        }
    }

    /// A text array literal for a parameter (`{"a","b\\"c"}`): each element quoted, `"` and `\` escaped.
    static func textArray(_ items: [String]) -> String {
        let quoted = items.map { item in
            "\"" + item.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
        }
        return "{" + quoted.joined(separator: ",") + "}"
    }

    /// The integers of an integer array as PostgreSQL writes it (`{1,2,3}`).
    static func integers(inArray text: String) -> [Int64] {
        text.split(whereSeparator: { "{}, ".contains($0) }).compactMap { Int64($0) }
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self { if character == target { out += replacement } else { out.append(character) } }
        return out
    }
}
