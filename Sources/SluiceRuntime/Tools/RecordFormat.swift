/// How `sluice consume` prints each record: `jsonl`, `value`, or a format string as kcat's `-f` takes
/// it, such as `%k\t%s\n`.
///
/// A format is a list of parts made once from the text; `RecordPrinter` walks it for every record.
///
/// Format strings follow kcat: `%t` topic, `%p` partition, `%o` offset, `%k` key, `%K` key length,
/// `%s` value, `%S` value length, `%R` value length as 4 bytes big-endian, `%T` timestamp, `%h`
/// headers as `name=value,…`, `%%` a percent sign; the escapes of `TextEscapes` (`\n`, `\t`, …) stand
/// for their bytes. Nothing is added after a record: end the string with `\n` for one line each.
public struct RecordFormat: Sendable, Equatable {
    enum Part: Sendable, Equatable {
        case text([UInt8])
        case topic, partition, offset, timestamp, key, keyLength, value, valueLength, valueLengthBinary, headers
        /// The parts of the JSON envelope: JSON strings, or a JSON object or array embedded as it is.
        case jsonTopic, jsonTimestamp, jsonKey, jsonValue, jsonHeaders
    }

    let parts: [Part]

    init(_ parts: [Part]) {
        self.parts = parts
    }

    /// `{"topic":…,"partition":…,"offset":…,"timestamp":…,"key":…,"value":…,"headers":{…}}` and a
    /// newline.
    public static let jsonl = RecordFormat([
        .text(Array(#"{"topic":"#.utf8)), .jsonTopic,
        .text(Array(#","partition":"#.utf8)), .partition,
        .text(Array(#","offset":"#.utf8)), .offset,
        .text(Array(#","timestamp":"#.utf8)), .jsonTimestamp,
        .text(Array(#","key":"#.utf8)), .jsonKey,
        .text(Array(#","value":"#.utf8)), .jsonValue,
        .text(Array(#","headers":"#.utf8)), .jsonHeaders,
        .text(Array("}\n".utf8)),
    ])

    /// The value's bytes and a newline (only the newline for a record without a value).
    public static let value = RecordFormat([.value, .text([0x0A])])

    /// The directives of a format string, for help texts and error messages.
    public static let directives = "%t %p %o %k %K %s %S %R %T %h %%"

    private static let directiveParts: [UInt8: Part] = [
        UInt8(ascii: "t"): .topic, UInt8(ascii: "p"): .partition, UInt8(ascii: "o"): .offset,
        UInt8(ascii: "k"): .key, UInt8(ascii: "K"): .keyLength, UInt8(ascii: "s"): .value,
        UInt8(ascii: "S"): .valueLength, UInt8(ascii: "R"): .valueLengthBinary, UInt8(ascii: "T"): .timestamp,
        UInt8(ascii: "h"): .headers,
    ]

    /// `jsonl`, `value`, or a format string; anything else (a text without a directive, an unknown
    /// directive or escape) throws, saying what is wrong.
    public init(parsing text: String) throws {
        switch text {
        case "jsonl":
            self = .jsonl
            return
        case "value":
            self = .value
            return
        default: break
        }
        guard text.contains("%") else {
            throw RuntimeError(
                "expected jsonl, value, or a format string with directives such as '%k\\t%s\\n' "
                    + "(\(Self.directives))")
        }
        let bytes = Array(text.utf8)
        var parts: [Part] = []
        var literal: [UInt8] = []
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\\"):
                let (byte, next) = try TextEscapes.decode(bytes, at: i)
                literal.append(byte)
                i = next
            case UInt8(ascii: "%"):
                guard i + 1 < bytes.count else {
                    throw RuntimeError("a lone % at the end; write %% for a percent sign")
                }
                let directive = bytes[i + 1]
                i += 2
                if directive == UInt8(ascii: "%") {
                    literal.append(directive)
                    continue
                }
                guard let part = Self.directiveParts[directive] else {
                    let shown = String(decoding: bytes[(i - 1)...], as: UTF8.self).prefix(1)
                    throw RuntimeError("unknown directive %\(shown); the directives are \(Self.directives)")
                }
                if !literal.isEmpty { parts.append(.text(literal)) }
                literal = []
                parts.append(part)
            default:
                literal.append(bytes[i])
                i += 1
            }
        }
        if !literal.isEmpty { parts.append(.text(literal)) }
        self.parts = parts
    }
}
