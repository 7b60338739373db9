import SluiceCore
import Testing

@Suite struct JSONValidatorTests {
    static func isValid(_ text: String) -> Bool {
        Array(text.utf8).withUnsafeBytes { JSONValidator.isValid($0) }
    }

    static let valid = [
        "0", "-0", "7", "-12", "0.5", "-0.0", "1e5", "1E+5", "1e-5", "-1.25e-3", "1e05",
        "123456789012345678901234567890",
        #""""#, #""a\u00e9\n\"\\\/\b\f\r\t""#, "\"é😀\"", "[]", "{}", " \t\r\n[1, 2] \n", "[[[]], {}]",
        #"{"a":[true,false,null],"b":{"c":"d"}}"#, #"{"":0}"#, "true", "false", "null", "\"\u{7F}\"",
    ]

    static let invalid = [
        "", "   ", "01", "-01", "00", "1.", ".5", "-", "+1", "--1", "1e", "1e+", "1.e5", "0x10", "NaN", "Infinity",
        "-Infinity", "1 2", "tru", "nul", "falsey", "True", "[1,]", "[,1]", "{\"a\":1,}", "{a:1}", "{\"a\"}",
        "{\"a\" 1}", "[1 2]", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"a\u{1}b\"", "\"tab\there\"",
        "[] x", "{\"a\":1}}", "'a'", "[", "]", "{", "}", "[1}", "{\"a\":1]", "\"\\\"", "nulll",
    ]

    @Test(arguments: valid)
    func accepts(_ text: String) throws {
        #expect(Self.isValid(text))
        _ = try JSONValue.parse(text)
    }

    @Test(arguments: invalid)
    func rejects(_ text: String) {
        #expect(!Self.isValid(text))
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
    }

    @Test func nestingIsLimitedWithoutCrashing() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(Self.isValid(deep))
        let nested = String(repeating: #"{"a":"#, count: 100) + "1" + String(repeating: "}", count: 100)
        #expect(Self.isValid(nested))
        let tooDeep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(!Self.isValid(tooDeep))
        #expect(!Self.isValid(String(repeating: "[", count: 100) + String(repeating: "]", count: 99)))
    }

    /// Every prefix of random documents: the validator and the tree parser agree on what is one JSON value.
    @Test func agreesWithTheParserOnPrefixesOfRandomDocuments() {
        var generator = SplitMix64(seed: 43)
        for _ in 0..<300 {
            let text = Self.randomValue(&generator, depth: 0).serialized()
            #expect(Self.isValid(text))
            let bytes = Array(text.utf8)
            for end in 0..<bytes.count {
                let prefix = Array(bytes[..<end])
                let validated = prefix.withUnsafeBytes { JSONValidator.isValid($0) }
                let parsed = (try? JSONValue.parse(prefix)) != nil
                #expect(validated == parsed, "\(String(decoding: prefix, as: UTF8.self))")
            }
        }
    }

    static func randomValue(_ generator: inout SplitMix64, depth: Int) -> JSONValue {
        let numbers = ["0", "-0", "12", "3.25", "-1e5", "6E-2", "1234567"]
        let strings = ["", "a", "q\"uote", "back\\", "line\nbreak", "é😀", "\u{1}"]
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .number(numbers.randomElement(using: &generator) ?? "0")
        case 3: return .string(strings.randomElement(using: &generator) ?? "")
        case 4:
            return .array(
                (0..<Int.random(in: 0...3, using: &generator)).map { _ in randomValue(&generator, depth: depth + 1) })
        default:
            return .object(
                (0..<Int.random(in: 0...3, using: &generator)).map { n in
                    ("k\(n)", randomValue(&generator, depth: depth + 1))
                })
        }
    }
}
