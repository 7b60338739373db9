#if canImport(Glibc)
    import Glibc
#endif

/// Writes a line to standard error, unbuffered; for messages and progress, never for data.
public func printToStandardError(_ line: String, newline: Bool = true) {
    var text = line
    if newline && !text.hasSuffix("\n") { text += "\n" }
    var bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { raw in raw.baseAddress.map { write(2, $0 + done, raw.count - done) } ?? 0
        }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        done += n
    }
}

/// Whether standard error is a terminal (progress then redraws one line instead of printing lines).
public var standardErrorIsTerminal: Bool { isatty(2) == 1 }
