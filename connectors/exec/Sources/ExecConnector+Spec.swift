import Logging
import SluiceCore
import SluiceKit

/// The `exec` connector type: an external program, named by its command, that speaks the protocol.
/// Its options are those the program declares in its hello, plus `command`; the config loader asks the
/// program for them (`resolve`) before it validates the connector's object.
public enum ExecConnector {
    static let command = OptionSpec(
        "command", .stringList, required: true,
        "The program and its arguments; the first is looked up on PATH when it has no slash. Relative paths "
            + "in the arguments are taken from the config file's folder.",
        example: #"["python3", "connectors/examples/ndjson_source.py"]"#)

    /// Where the program runs, so that the relative paths in its own options (a database file, an output
    /// folder) mean what they mean in the config file. The config loader fills it in.
    public static let workingDirectory = OptionSpec(
        "working_directory", .string,
        "The folder the program runs in; relative to the config file's folder, which is the default.",
        example: #""connectors""#)

    public static var sourceSpec: ConnectorSpec { spec(.source) }
    public static var sinkSpec: ConnectorSpec { spec(.sink) }

    static func spec(_ kind: ConnectorSpec.Kind) -> ConnectorSpec {
        ConnectorSpec(
            type: "exec", kind: kind,
            summary: "An external \(kind.rawValue) connector: any program that speaks connectors/PROTOCOL.md",
            options: [command, workingDirectory],
            resolve: { members, path in resolve(kind, members: members, path: path) })
    }

    /// The spec of the program a connector's `command` names: its declared options and summary.
    static func resolve(_ kind: ConnectorSpec.Kind, members: [(key: String, value: JSONValue)], path: String)
        -> Result<ConnectorSpec, ConfigProblem>
    {
        guard let value = members.last(where: { $0.key == "command" })?.value else {
            return .failure(ConfigProblem(path + ".command", "required option is missing"))
        }
        if case .string(let text) = value, text.contains(" ") {
            let words = text.split(separator: " ").map { "\"\($0)\"" }.joined(separator: ", ")
            return .failure(
                ConfigProblem(path + ".command", "a command is a list of the program and its arguments: [\(words)]"))
        }
        guard case .success(let normalized) = command.validate(value, path: path + ".command"),
            case .array(let items) = normalized, !items.isEmpty
        else {
            return .failure(
                ConfigProblem(path + ".command", "expected the program and its arguments, a non-empty list of strings"))
        }
        let words = items.compactMap(\.stringValue)
        return spec(kind, command: words, path: path)
    }

    /// Asks the program for its declaration; a problem at `PATH.command` when it cannot be had.
    public static func spec(_ kind: ConnectorSpec.Kind, command words: [String], path: String) -> Result<
        ConnectorSpec, ConfigProblem
    > {
        let declaration: ConnectorDeclaration
        do {
            declaration = try ExternalConnectors.describe(
                command: words, name: String(path.split(separator: ".").last ?? ""),
                logger: Logger(label: "sluice.exec"))
        } catch let error as ConnectorError {
            return .failure(ConfigProblem(path + ".command", error.message))
        } catch {
            return .failure(ConfigProblem(path + ".command", "\(error)"))
        }
        guard declaration.role == kind else {
            return .failure(
                ConfigProblem(
                    path + ".command",
                    "\(words.joined(separator: " ")) is a \(declaration.role.rawValue) connector, not a \(kind.rawValue)"
                ))
        }
        if let clash = declaration.options.first(where: {
            [command.name, workingDirectory.name, "type"].contains($0.name)
        }) {
            return .failure(
                ConfigProblem(
                    path + ".command",
                    "the connector declares an option \"\(clash.name)\", which is Sluice's own; the connector must "
                        + "name it otherwise"))
        }
        return .success(
            ConnectorSpec(
                type: "exec", kind: kind,
                summary: declaration.summary.isEmpty ? "External connector \(declaration.name)" : declaration.summary,
                options: [command, workingDirectory] + declaration.options))
    }
}
