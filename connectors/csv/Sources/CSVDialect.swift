/// The bytes that shape a CSV file.
public struct CSVDialect: Sendable, Equatable {
    public var delimiter: UInt8 = UInt8(ascii: ",")
    public var quote: UInt8 = UInt8(ascii: "\"")
    /// The byte that makes the next byte literal, inside or outside quotes; nil when a quote inside a
    /// quoted field is written twice, as RFC 4180 has it.
    public var escape: UInt8?

    public init(delimiter: UInt8 = UInt8(ascii: ","), quote: UInt8 = UInt8(ascii: "\""), escape: UInt8? = nil) {
        self.delimiter = delimiter
        self.quote = quote
        self.escape = escape == quote ? nil : escape
    }
}

/// One field of a parsed row: where it lies in the buffer and how to read it.
public struct CSVField: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        /// Unquoted, no escapes: the value is the raw bytes.
        case plain
        /// Quoted, no escapes or text after the closing quote: the value is the bytes inside the quotes.
        case quoted
        /// Doubled quotes, escape characters or text after a closing quote: the value needs unescaping
        /// of the raw bytes.
        case complex
    }

    /// For `plain` and `complex`, the raw field; for `quoted`, the bytes between the quotes.
    public var start: Int
    public var end: Int
    public var kind: Kind
}
