/// Facts about JSON text that explain where the project's two JSON readers may disagree.
public enum JSONChecks {
    /// Whether `bytes` holds a `\u` escape of a UTF-16 surrogate (`\uD800` to `\uDFFF`). RFC 8259's
    /// grammar allows one alone; `JSONValidator` accepts it, `JSONValue.parse` (which must make a
    /// Swift string) refuses a surrogate that is not part of a pair.
    public static func hasSurrogateEscape(_ bytes: [UInt8]) -> Bool {
        bytes.indices.contains { i in
            i + 2 < bytes.count && bytes[i] == UInt8(ascii: "\\") && bytes[i + 1] == UInt8(ascii: "u")
                && (bytes[i + 2] | 0x20) == UInt8(ascii: "d")
        }
    }
}
