import SluiceCore
import SluiceKit

extension ConfigLoader {
    /// A configuration after `${NAME}` references were replaced.
    struct Substitution {
        var value: JSONValue
        /// Paths of the strings a reference went into: only these may stand for a number or a boolean.
        var fromEnvironment: Set<String> = []
        /// Unset variables and references that are not ones (`${UNCLOSED`).
        var problems: [ConfigProblem] = []
    }

    /// Replaces `${NAME}` and `${NAME:-default}` in every string of `value`; `$$` is a literal `$`, and a
    /// `$` before anything but `{` stays as it is.
    func substitute(_ value: JSONValue) -> Substitution {
        var result = Substitution(value: value)
        result.value = substitute(value, path: "", into: &result)
        return result
    }

    private func substitute(_ value: JSONValue, path: String, into result: inout Substitution) -> JSONValue {
        switch value {
        case .string(let text):
            guard text.contains("$") else { return value }
            let (replaced, referenced) = substitute(text, path: path, problems: &result.problems)
            if referenced { result.fromEnvironment.insert(path) }
            return .string(replaced)
        case .array(let items):
            return .array(items.enumerated().map { substitute($1, path: "\(path)[\($0)]", into: &result) })
        case .object(let members):
            return .object(
                members.map { member in
                    let itemPath = path.isEmpty ? member.key : path + "." + member.key
                    return (member.key, substitute(member.value, path: itemPath, into: &result))
                }
            )
        default:
            return value
        }
    }

    /// `text` with its references replaced, and whether it held any.
    func substitute(_ text: String, path: String, problems: inout [ConfigProblem]) -> (String, Bool) {
        var result = ""
        var referenced = false
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            result += rest[..<dollar]
            let after = rest.index(after: dollar)
            if after < rest.endIndex && rest[after] == "$" {
                result += "$"
                rest = rest[rest.index(after: after)...]
                continue
            }
            guard after < rest.endIndex, rest[after] == "{" else {
                result += "$"
                rest = rest[after...]
                continue
            }
            guard let close = rest[after...].firstIndex(of: "}") else {
                problems.append(
                    ConfigProblem(
                        path,
                        "\"\(rest[dollar...])\" opens an environment reference that is never closed with \"}\" "
                            + "(write $$ for a literal $)"))
                return (result, true)
            }
            referenced = true
            let inside = rest[rest.index(after: after)..<close]
            var name = String(inside)
            var fallback: String?
            if let colon = inside.firstIndex(of: ":"), inside[inside.index(after: colon)...].first == "-" {
                name = String(inside[..<colon])
                fallback = String(inside[inside.index(colon, offsetBy: 2)...])
            }
            if !Self.isVariableName(name) {
                problems.append(
                    ConfigProblem(
                        path,
                        "\"${\(inside)}\" is not an environment reference: write ${NAME} or ${NAME:-default}, NAME "
                            + "made of letters, digits and _ (and $$ for a literal $)"))
            } else if let value = environment[name], !(value.isEmpty && fallback != nil) {
                result += value
            } else if let fallback {
                result += fallback
            } else {
                problems.append(
                    ConfigProblem(
                        path, "environment variable \(name) is not set (write ${\(name):-default} to give a default)"))
            }
            rest = rest[rest.index(after: close)...]
        }
        return (result + rest, referenced)
    }

    /// Whether `name` can name an environment variable: letters, digits and `_`, not starting with a digit.
    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(0x30...0x39).contains(first) else { return false }
        return name.utf8.allSatisfy { byte in
            (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x5F
        }
    }
}
