import Glibc
import Logging
import SluiceCore

/// Log lines on standard error: for people, `2026-11-21T10:30:00.123Z warning message key=value …`;
/// with `--log-format json`, one object per line for log collectors:
/// `{"time":"…","level":"warning","event":"sink_write_failed","message":"…","sink":"pg",…}`. The event
/// is the message's leading words as a name (up to its first `;`, `:` or `(`), so it stays the same
/// while the details that follow vary.
struct ConsoleLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let json: Bool

    init(label: String, level: Logger.Level, json: Bool = false) {
        self.label = label
        logLevel = level
        self.json = json
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if json {
            printToStandardError(
                Self.jsonLine(
                    level: event.level.rawValue, message: event.message.description,
                    metadata: merged.mapValues { "\($0)" }))
            return
        }
        var text =
            Self.timestamp(Time.nowMillis()) + " " + event.level.rawValue + " "
            + Self.escaped(event.message.description)
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            text += " \(key)=" + Self.rendered("\(value)")
        }
        printToStandardError(text)
    }

    /// A metadata value of a text line: quoted when it has a space, and control characters escaped
    /// (`\n`, `\x1b`), so that a value (a client's id, a file name) can never break the line or forge
    /// another.
    static func rendered(_ value: String) -> String {
        let text = escaped(value)
        return text.contains(" ") ? "\"" + text + "\"" : text
    }

    /// `text` with its control characters escaped.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" : "") + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// One log line as a JSON object: time, level, event (named from the message unless given),
    /// message, then the metadata.
    static func jsonLine(level: String, message: String, event: String? = nil, metadata: [String: String]) -> String {
        var members: [(String, JSONValue)] = [
            ("time", .string(timestamp(Time.nowMillis()))), ("level", .string(level)),
            ("event", .string(event ?? eventName(message))), ("message", .string(message)),
        ]
        let reserved: Set<String> = ["time", "level", "event", "message"]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            members.append((reserved.contains(key) ? "meta_" + key : key, .string(value)))
        }
        return JSONValue.object(members).serialized()
    }

    /// A message's stable name: its words up to the first `;`, `:` or `(`, at most eight, lowercased and
    /// joined by underscores (`sink write failed; retrying` is `sink_write_failed`).
    static func eventName(_ message: String) -> String {
        let head = message.prefix { !";:(\n".contains($0) }
        let words = head.lowercased().split { !$0.isLetter && !$0.isNumber }.prefix(8)
        return words.isEmpty ? "log" : words.joined(separator: "_")
    }

    /// Epoch milliseconds as an ISO 8601 UTC time with milliseconds.
    static func timestamp(_ millis: Int64) -> String {
        var seconds = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let ms = Int(millis % 1000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(msText)Z"
    }
}
