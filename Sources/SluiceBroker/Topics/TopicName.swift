/// Rules for topic names, as Kafka has them: 1 to 249 characters of `a-z A-Z 0-9 . _ -`, not `.` or
/// `..`. Names starting with `__` belong to the broker's internal topics.
public enum TopicName {
    public static let maxLength = 249

    /// Why `name` is not a valid topic name, or nil when it is.
    public static func problem(_ name: String) -> String? {
        if name.isEmpty { return "a topic name cannot be empty" }
        if name.utf8.count > maxLength { return "topic name \"\(name)\" is longer than \(maxLength) characters" }
        if name == "." || name == ".." { return "\"\(name)\" is not a valid topic name" }
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2E || byte == 0x5F || byte == 0x2D
        }
        if !allowed {
            return "topic name \"\(name)\" may only contain ASCII letters, digits, '.', '_' and '-'"
        }
        return nil
    }

    /// Whether `name` is one of the broker's internal topics.
    public static func isInternal(_ name: String) -> Bool {
        name.hasPrefix("__")
    }

    /// Why a pipeline's config may not name `name`: the broker's internal topics, and those Sluice keeps
    /// its own state in on a Kafka cluster (`_sluice_checkpoints`); nil for any other name.
    public static func reservation(_ name: String) -> String? {
        if isInternal(name) { return "topics starting with \"__\" belong to the broker" }
        if name.hasPrefix("_sluice") {
            return
                "topics starting with \"_sluice\" hold Sluice's own state (its sources' checkpoints on a Kafka cluster)"
        }
        return nil
    }
}
