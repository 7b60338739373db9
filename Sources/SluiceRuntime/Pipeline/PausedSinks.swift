import SluiceCore

/// The sinks paused by `sluice pause` (the daemon's `POST /v1/sinks/NAME/pause`), kept in the data
/// directory so that a paused sink stays paused after a restart: `DATA/paused-sinks.json`,
/// `{"paused": ["pg"]}`. A paused sink's tasks do not run: its records wait in its topics, and its
/// group's offsets stay where its last commit left them, so that they can be changed meanwhile.
public enum PausedSinks {
    public static let fileName = "paused-sinks.json"

    /// Throws when the file is there but not one this code wrote: read as "nothing paused", a damaged
    /// file would start a sink that was paused.
    public static func check(_ dataDirectory: String) throws {
        let path = dataDirectory + "/" + fileName
        guard FileSystem.exists(path) else { return }
        guard let bytes = try? FileSystem.readFile(path),
            case .array(let names)? = (try? JSONValue.parse(bytes))?["paused"],
            names.allSatisfy({ $0.stringValue != nil })
        else {
            throw RuntimeError(
                "\(path) cannot be read as the list of paused sinks ({\"paused\": [\"NAME\", …]}); fix it, or delete "
                    + "it to resume every sink")
        }
    }

    /// The paused sinks' names; none when the file is missing (`check` refuses a damaged one).
    public static func load(_ dataDirectory: String) -> Set<String> {
        guard let bytes = try? FileSystem.readFile(dataDirectory + "/" + fileName),
            case .array(let names)? = (try? JSONValue.parse(bytes))?["paused"]
        else { return [] }
        return Set(names.compactMap(\.stringValue))
    }

    /// Pauses (or resumes) `sink`; returns whether that changed anything. The file is replaced
    /// atomically and synced.
    @discardableResult
    public static func set(_ sink: String, paused: Bool, in dataDirectory: String) throws -> Bool {
        try check(dataDirectory)
        var names = load(dataDirectory)
        let changed = paused ? names.insert(sink).inserted : names.remove(sink) != nil
        guard changed else { return false }
        try FileSystem.createDirectory(dataDirectory)
        let json = JSONValue.object([("paused", .array(names.sorted().map(JSONValue.string)))])
        try FileSystem.writeAtomically(dataDirectory + "/" + fileName, Array((json.serialized() + "\n").utf8))
        return true
    }
}
