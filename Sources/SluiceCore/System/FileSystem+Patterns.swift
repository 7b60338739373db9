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
        let components = pattern.split(separator: "/", omittingEmptySubsequences: false)
        if let deep = components.firstIndex(of: "**") {
            // `**` is any depth of folders, none included (hidden ones left out, as a folder's files are).
            let base = components[..<deep].joined(separator: "/")
            let rest = components[(deep + 1)...].joined(separator: "/")
            var found: Set<String> = []
            for folder in try foldersBelow(base.isEmpty ? (pattern.hasPrefix("/") ? "/" : ".") : base) {
                for path in try matches(rest.isEmpty ? folder + "/*" : folder + "/" + rest) { found.insert(path) }
            }
            return found.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
        var result = glob_t()
        defer { globfree(&result) }
        // {a,b} as shells expand it.
        let status = glob(pattern, GLOB_BRACE, nil, &result)
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

    /// `folder` and every folder below it, but hidden ones; a linked folder is not followed (a link to an
    /// ancestor would never end).
    private static func foldersBelow(_ folder: String) throws -> [String] {
        guard isDirectory(folder) else { return [] }
        var folders = [folder]
        var index = 0
        while index < folders.count {
            let current = folders[index]
            index += 1
            for name in try contentsOfDirectory(current) where !name.hasPrefix(".") {
                let path = current == "/" ? "/" + name : current + "/" + name
                var info = stat()
                if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { folders.append(path) }
            }
        }
        return folders
    }
}
