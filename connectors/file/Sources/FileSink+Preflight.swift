import SluiceCore
import SluiceKit

extension FileSink {
    /// The file sink's checks before a run (see `ConnectorSpec.preflight`): its folder is not inside the
    /// broker's data directory (the broker owns every name there, and the sink removes files it takes
    /// for its own), and the path is a folder or can become one. Looks only; creates nothing.
    static func preflight(_ context: PreflightContext) -> PreflightResult {
        var result = PreflightResult()
        let option = context.options.path(of: "path")
        guard let path = context.options.string("path") else { return result }
        let folder = resolved(FileSystem.absolute(path))
        let data = resolved(FileSystem.absolute(context.dataDirectory))
        if folder == data || folder.hasPrefix(data == "/" ? "/" : data + "/") {
            result.problem(
                option,
                "\(folder) is inside the data directory \(data), which belongs to the broker; "
                    + "write the files somewhere else")
        }
        switch FileSystem.kind(folder) {
        case .directory:
            result.note("sink \(context.name): writes into \(folder)")
        case .missing, .inaccessible:
            // The nearest ancestor that exists decides: a folder lets the sink create the rest.
            var ancestor = FileSystem.parentDirectory(of: folder)
            while ancestor != "/", Self.isAbsent(FileSystem.kind(ancestor)) {
                ancestor = FileSystem.parentDirectory(of: ancestor)
            }
            let kind = FileSystem.kind(ancestor)
            if kind != .directory {
                result.problem(option, "\(folder) cannot be created: \(ancestor) is \(kind.phrase)")
            } else if case .inaccessible(let reason) = FileSystem.kind(folder) {
                result.problem(option, "\(folder) is not accessible (\(reason))")
            } else {
                result.note("sink \(context.name): creates \(folder)")
            }
        case let kind:
            result.problem(option, "\(folder) is \(kind.phrase), not a folder")
        }
        return result
    }

    /// Whether a path of this kind is not there (missing, or below something that is not a folder).
    private static func isAbsent(_ kind: FileSystem.Kind) -> Bool {
        if case .inaccessible = kind { return true }
        return kind == .missing
    }

    /// `path` (absolute) with symbolic links resolved in the part of it that exists, so that a folder
    /// reached through a link is recognised.
    static func resolved(_ path: String) -> String {
        var existing = path
        var rest: [String] = []
        while FileSystem.canonicalPath(existing) == nil, existing != "/", let slash = existing.lastIndex(of: "/") {
            rest.insert(String(existing[existing.index(after: slash)...]), at: 0)
            existing = FileSystem.parentDirectory(of: existing)
        }
        let base = FileSystem.canonicalPath(existing) ?? existing
        return FileSystem.normalized(([base] + rest).joined(separator: "/"))
    }
}
