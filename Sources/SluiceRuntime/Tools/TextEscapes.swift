/// Backslash escapes in command-line text, as kcat reads them in its format strings: `\t`, `\n`, `\r`,
/// `\\`, `\0` (a NUL byte) and `\xHH` (one byte in two hex digits, such as `\x1f`).
///
/// Used by `sluice produce --key-separator` and `sluice consume --format`, so a shell need not type a
/// tab or a control byte. Any other character after a backslash is an error, so a typo never passes
/// for text.
public enum TextEscapes {
    /// What the escapes are, for help texts and error messages.
    public static let summary = #"\t \n \r \\ \0 \xHH"#

    /// `text` with its escapes replaced by the bytes they stand for.
    public static func decode(_ text: String) throws -> [UInt8] {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\") {
                let (byte, next) = try decode(bytes, at: i)
                out.append(byte)
                i = next
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    /// The byte that the escape at `text[start]` (a backslash) stands for, and the index after it.
    static func decode(_ text: [UInt8], at start: Int) throws -> (byte: UInt8, next: Int) {
        guard start + 1 < text.count else {
            throw RuntimeError(#"a lone \ at the end; write \\ for a backslash"#)
        }
        switch text[start + 1] {
        case UInt8(ascii: "t"): return (0x09, start + 2)
        case UInt8(ascii: "n"): return (0x0A, start + 2)
        case UInt8(ascii: "r"): return (0x0D, start + 2)
        case UInt8(ascii: "\\"): return (UInt8(ascii: "\\"), start + 2)
        case UInt8(ascii: "0"): return (0, start + 2)
        case UInt8(ascii: "x"):
            guard start + 3 < text.count, let high = hexDigit(text[start + 2]), let low = hexDigit(text[start + 3])
            else {
                throw RuntimeError(#"\x needs two hex digits, as in \x1f"#)
            }
            return (high << 4 | low, start + 4)
        default:
            let shown = String(decoding: text[(start + 1)...], as: UTF8.self).prefix(1)
            throw RuntimeError(#"unknown escape \\#(shown); the escapes are "# + summary + #" (\\ for a backslash)"#)
        }
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
