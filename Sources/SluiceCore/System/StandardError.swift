#if canImport(Glibc)
    import Glibc
#endif

/// Writes a line to standard error, unbuffered; for messages and progress, never for data. When a
/// status line is drawn on a terminal (`StatusLine`), it is cleared first and drawn again after, so
/// a warning never runs into the progress line.
public func printToStandardError(_ line: String, newline: Bool = true) {
    var text = line
    if newline && !text.hasSuffix("\n") { text += "\n" }
    StatusLine.shown.withLock { shown in
        guard let status = shown else {
            writeToStandardError(text)
            return
        }
        writeToStandardError(StatusLine.erase + text + status)
    }
}

/// One line of status (progress) kept at the bottom of a terminal: drawn in place, erased before any
/// other message and drawn again after it. Thread-safe.
public enum StatusLine {
    static let erase = "\r\u{1B}[K"
    static let shown = Locked<String?>(nil)

    /// Draws `line` in place of the current status line.
    public static func show(_ line: String) {
        shown.withLock { shown in
            shown = line
            writeToStandardError(erase + line)
        }
    }

    /// Erases the status line and stops drawing it.
    public static func clear() {
        shown.withLock { shown in
            guard shown != nil else { return }
            shown = nil
            writeToStandardError(erase)
        }
    }
}

private func writeToStandardError(_ text: String) {
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
