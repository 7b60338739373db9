import SluiceCore
import Testing

@Suite struct JSONWriterTests {
    static func written(_ text: String) -> String {
        var out: [UInt8] = []
        JSONWriter.appendString(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static let escapes: [(String, String)] = [
        ("", #""""#),
        ("plain", #""plain""#),
        ("a\"b", #""a\"b""#),
        ("back\\slash", #""back\\slash""#),
        ("\n\r\t", #""\n\r\t""#),
        ("\u{0}\u{1}\u{8}\u{C}\u{1F}", #""\u0000\u0001\u0008\u000c\u001f""#),
        ("\u{7F} /", "\"\u{7F} /\""),
        ("é€😀 unicode", "\"é€😀 unicode\""),
        ("x\"\"\\\\y\n", #""x\"\"\\\\y\n""#),
    ]

    @Test(arguments: escapes)
    func escapesOnlyWhatJSONRequires(text: String, expected: String) throws {
        #expect(Self.written(text) == expected)
        #expect(try JSONValue.parse(Self.written(text)) == .string(text))
    }

    @Test func escapedWithoutQuotesIsTheInsideOfTheString() {
        var out: [UInt8] = []
        Array("a\"\n".utf8).withUnsafeBytes { JSONWriter.appendEscaped($0, to: &out) }
        #expect(out == Array(#"a\"\n"#.utf8))
        JSONWriter.appendEscaped(UnsafeRawBufferPointer(start: nil, count: 0), to: &out)
        #expect(out == Array(#"a\"\n"#.utf8))
    }

    /// Random strings of control characters, quotes, backslashes and multi-byte characters come back
    /// from `JSONValue.parse` exactly as they went in.
    @Test func randomStringsRoundTrip() throws {
        var generator = SplitMix64(seed: 41)
        let palette: [Character] =
            (0..<32).compactMap { Unicode.Scalar($0).map(Character.init) }
            + ["\"", "\\", "/", "a", "Z", " ", "\u{7F}", "é", "ß", "€", "漢", "😀", "\u{FEFF}", "\r\n"]
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...40, using: &generator)
            let text = String((0..<length).compactMap { _ in palette.randomElement(using: &generator) })
            let json = Self.written(text)
            #expect(try JSONValue.parse(json) == .string(text), "\(Array(text.utf8))")
            #expect(Array(json.utf8).withUnsafeBytes { JSONValidator.isValid($0) })
        }
    }

    @Test(arguments: [Int64.min, Int64.min + 1, -1_000, -10, -9, -1, 0, 1, 9, 10, 99, 100, 123_456_789, Int64.max])
    func integersAreTheirDecimalDigits(value: Int64) {
        var out: [UInt8] = []
        JSONWriter.appendInteger(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(value))
    }

    @Test func unsignedIntegersUpToTheMaximum() {
        for value: UInt64 in [0, 7, 10, 1 << 63, UInt64.max] {
            var out: [UInt8] = [UInt8(ascii: "x")]
            JSONWriter.appendUnsigned(value, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == "x" + String(value))
        }
    }
}
