import SluiceCore

/// Turns the `path` option into the list of files to read, in name order: a file is itself; a folder
/// gives its regular files (not hidden ones, not recursively); anything else is a glob. Paths come out
/// canonical (absolute, links resolved), so one file has one name however the config spells it.
enum PathExpansion {
    static func files(_ pattern: String) throws -> [String] {
        try FileSystem.files(matching: pattern)
    }

    /// The source's folder: the canonical path of the part of `pattern` before its first wildcard
    /// (the folder itself for a folder, the file's folder for a file). Records name their file relative
    /// to it. Nil when it does not exist.
    static func folder(_ pattern: String) -> String? {
        FileSystem.canonicalPath(FileSystem.patternFolder(pattern))
    }

    /// The name of `path` (canonical) in records: relative to `folder`, or itself outside it.
    static func name(of path: String, in folder: String?) -> String {
        guard let folder else { return path }
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        return path.hasPrefix(prefix) && path.count > prefix.count ? String(path.dropFirst(prefix.count)) : path
    }

    /// The canonical path a record's `sluice.source.file` header names.
    static func path(named name: String, in folder: String?) -> String {
        guard let folder, !name.hasPrefix("/") else { return name }
        return (folder.hasSuffix("/") ? folder : folder + "/") + name
    }
}
