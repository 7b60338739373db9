/// Command lines printed for people to copy into a shell.
enum ShellWords {
    /// `words` joined by spaces, each quoted for a POSIX shell when it needs it.
    static func join(_ words: [String]) -> String {
        words.map(quote).joined(separator: " ")
    }

    /// `word` as is when a shell would read it back unchanged, else in single quotes.
    static func quote(_ word: String) -> String {
        let plain =
            !word.isEmpty
            && word.unicodeScalars.allSatisfy { scalar in
                ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || "-_./:,=@%+".unicodeScalars.contains(scalar)
            }
        return plain
            ? word : "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }
}
