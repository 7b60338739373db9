import SluiceCore
import SluiceExec
import SluiceKit
import SluiceRuntime

/// The connector a command names by type, for `describe` and `test`: a built-in type, `exec` with
/// `--command`, or a connector installed under that name in the data directory or the search path.
struct ConnectorLookup {
    var spec: ConnectorSpec
    /// The program of an external connector (exec or installed); nil for a built-in one.
    var command: [String]?
    /// The type the runtime's registry makes it with: `exec` for an installed connector.
    var registryType: String

    static func find(type: String, command: String?, dataDirectory: String) throws -> ConnectorLookup {
        let registry = BuiltInConnectors.registry
        if command != nil && type != "exec" {
            throw CommandFailure.usage("--command is for external connectors: the type is exec")
        }
        if type == "exec", let command {
            let words = command.split(separator: " ").map(String.init)
            guard !words.isEmpty else { throw CommandFailure.usage("--command: name the program to start") }
            return try external(words, shown: command)
        }
        if let builtIn = registry.spec(type: type) {
            return ConnectorLookup(spec: builtIn, command: nil, registryType: type)
        }
        let folders = InstalledConnectors.folders(
            dataDirectory: dataDirectory, environment: ProcessEnvironment.current())
        switch InstalledConnectors.find(type, in: folders) {
        case .success(let manifest)?:
            return try external(manifest.command, shown: type, role: manifest.role)
        case .failure(let problem)?:
            throw CommandFailure.runtime(problem.message)
        case nil:
            var known: [String] = []
            for name in registry.specs.map(\.type) + InstalledConnectors.all(in: folders).map(\.name)
            where !known.contains(name) {
                known.append(name)
            }
            let hint = Suggestion.closest(to: type, in: known).map { "did you mean \"\($0)\"? " } ?? ""
            throw CommandFailure.usage(
                "unknown connector type \"\(type)\"; \(hint)known: \(known.joined(separator: ", "))")
        }
    }

    /// Starts `words` to learn its declaration, as the role it says (or `role`).
    private static func external(_ words: [String], shown: String, role: ConnectorSpec.Kind? = nil) throws
        -> ConnectorLookup
    {
        var problems: [String] = []
        for kind in role.map({ [$0] }) ?? [.source, .sink] {
            switch ExecConnector.spec(kind, command: words, path: shown) {
            case .success(let resolved): return ConnectorLookup(spec: resolved, command: words, registryType: "exec")
            case .failure(let problem): problems.append(problem.message)
            }
        }
        throw CommandFailure.runtime(problems.last ?? "cannot describe \(shown)")
    }
}
