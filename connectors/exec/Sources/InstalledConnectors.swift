import Logging
import SluiceCore
import SluiceKit

/// External connectors installed under a name, so that a config can say `"type": "sqlite"`: a manifest
/// `NAME.json` (`{"command": [...], "role": "sink", "summary": "…"}`) in the data directory's
/// `connectors` folder (`sluice connectors install` writes it there), or in a folder of the search path
/// `SLUICE_CONNECTOR_PATH` (folders separated by `:`), searched in that order.
public enum InstalledConnectors {
    public struct Manifest: Sendable {
        public var name: String
        public var command: [String]
        public var role: ConnectorSpec.Kind
        public var summary: String
        /// The file it was read from.
        public var file: String
    }

    /// The folders searched for `type`, in order.
    public static func folders(dataDirectory: String, environment: [String: String]) -> [String] {
        [dataDirectory + "/connectors"]
            + (environment["SLUICE_CONNECTOR_PATH"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }

    /// The manifest installed as `name`, nil when none is (or it cannot be read: `problem` says why).
    public static func find(_ name: String, in folders: [String]) -> Result<Manifest, ConfigProblem>? {
        guard isName(name) else { return nil }
        for folder in folders {
            let file = folder + "/" + name + ".json"
            guard FileSystem.isRegularFile(file) else { continue }
            return read(file, name: name)
        }
        return nil
    }

    /// Every manifest in `folders` (the first of each name).
    public static func all(in folders: [String]) -> [Manifest] {
        var seen: Set<String> = []
        var found: [Manifest] = []
        for folder in folders {
            for entry in ((try? FileSystem.contentsOfDirectory(folder)) ?? []).sorted() where entry.hasSuffix(".json") {
                let name = String(entry.dropLast(5))
                guard isName(name), seen.insert(name).inserted,
                    case .success(let manifest) = read(folder + "/" + entry, name: name)
                else { continue }
                found.append(manifest)
            }
        }
        return found
    }

    static func read(_ file: String, name: String) -> Result<Manifest, ConfigProblem> {
        guard let bytes = try? FileSystem.readFile(file), let json = try? JSONValue.parse(bytes),
            case .array(let words)? = json["command"], !words.isEmpty, words.allSatisfy({ $0.stringValue != nil }),
            let role = json["role"]?.stringValue.flatMap(ConnectorSpec.Kind.init(rawValue:))
        else {
            return .failure(
                ConfigProblem(
                    "", "the installed connector \(file) is damaged; install it again with sluice connectors install"))
        }
        return .success(
            Manifest(
                name: name, command: words.compactMap(\.stringValue), role: role,
                summary: json["summary"]?.stringValue ?? "", file: file))
    }

    /// Whether `name` can name an installed connector: lowercase letters, digits, - and _.
    public static func isName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first >= 97 && first <= 122, name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 || $0 == 95 }
    }

    /// The command that runs `path`: a Python script by `python3`, an executable as it is, a project
    /// folder by its `connector.py` or its built program (`.build/release/NAME`, then `.build/debug/NAME`).
    public static func command(for path: String) -> [String]? {
        let absolute = FileSystem.absolute(path)
        if FileSystem.isDirectory(absolute) {
            if FileSystem.isRegularFile(absolute + "/connector.py") { return ["python3", absolute + "/connector.py"] }
            let name = absolute.split(separator: "/").last.map(String.init) ?? ""
            for build in ["release", "debug"] where FileSystem.isRegularFile("\(absolute)/.build/\(build)/\(name)") {
                return ["\(absolute)/.build/\(build)/\(name)"]
            }
            return nil
        }
        guard FileSystem.isRegularFile(absolute) else { return nil }
        return absolute.hasSuffix(".py") ? ["python3", absolute] : [absolute]
    }

    /// Installs the connector `command` runs under `name` (default: the name it declares) in `folder`.
    public static func install(command: [String], name: String?, folder: String) throws -> Manifest {
        var logger = Logger(label: "sluice.exec.install")
        logger.logLevel = .critical
        let declaration = try ExternalConnectors.describe(command: command, name: name ?? "connector", logger: logger)
        let chosen = name ?? declaration.name
        guard isName(chosen) else {
            throw ConnectorError.fatal(
                "install.name",
                "\"\(chosen)\" cannot name a connector type: use lowercase letters, digits, - and _ (--name to choose one)"
            )
        }
        let manifest = JSONValue.object([
            ("command", .array(command.map { .string($0) })), ("role", .string(declaration.role.rawValue)),
            ("summary", .string(declaration.summary)),
        ])
        try FileSystem.createDirectory(folder)
        try FileSystem.writeAtomically(folder + "/" + chosen + ".json", Array(manifest.prettyPrinted().utf8))
        return Manifest(
            name: chosen, command: command, role: declaration.role, summary: declaration.summary,
            file: folder + "/" + chosen + ".json")
    }
}
