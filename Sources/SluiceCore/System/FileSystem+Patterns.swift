import Glibc

extension FileSystem {
    /// The files a path pattern names, in name order: a file is itself; a folder gives its regular files
    /// (not hidden ones, not recursively); anything else is a glob. Paths come out canonical (absolute,
    /// links resolved), so one file has one name however the pattern spells it.
    public static func files(matching pattern: String) throws -> [String] {
        try matches(pattern).map { canonicalPath($0) ?? $0 }
    }

    private static func matches(_ pattern: String) throws -> [String] {
        if isDirectory(pattern) {
            let directory = pattern.hasSuffix("/") ? String(pattern.dropLast()) : pattern
            return try contentsOfDirectory(directory)
                .filter { !$0.hasPrefix(".") }
                .map { directory + "/" + $0 }
                .filter { !isDirectory($0) }
        }
        if exists(pattern) { return [pattern] }
        var result = glob_t()
        defer { globfree(&result) }
        let status = glob(pattern, 0, nil, &result)
        if status == GLOB_NOMATCH { return [] }
        guard status == 0 else {
            throw CoreError(.io, "cannot expand the path pattern \(pattern) (glob error \(status))")
        }
        var paths: [String] = []
        for i in 0..<Int(result.gl_pathc) {
            if let entry = result.gl_pathv[i] { paths.append(String(cString: entry)) }
        }
        return paths.filter { !isDirectory($0) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
