import SluiceCore
import Testing

@Suite struct JSONValueTests {
    func syntaxError(_ text: String) throws -> JSONSyntaxError {
        try #require(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
    }

    /// Errors at a byte the parser has not consumed name that byte's line and column.
    static let errors: [(String, Int, Int, String)] = [
        ("", 1, 1, "unexpected end of input"),
        ("{\n  \"a\": x}", 2, 8, "unexpected character 'x'"),
        ("[1,\n2,\n]", 3, 1, "unexpected character ']'"),
        ("{\"a\":1} x", 1, 9, "unexpected text after the JSON value"),
        ("{\"é\": 1 \"b\": 2}", 1, 9, "expected ',' or '}' after the value of \"é\""),
        ("{\r\n\"a\" 1}", 2, 5, "expected ':' after the key \"a\""),
        ("[true false]", 1, 7, "expected ',' or ']' in the array"),
        ("{1: 2}", 1, 2, "expected a quoted key"),
    ]

    @Test(arguments: errors)
    func errorsNameLineAndColumn(text: String, line: Int, column: Int, message: String) throws {
        let error = try syntaxError(text)
        #expect(error.line == line)
        #expect(error.column == column)
        #expect(error.message.hasPrefix(message), "\(error.message)")
        #expect(error.description == "line \(line), column \(column): \(error.message)")
    }

    @Test func errorsInsideStringsAndNumbersNameTheirLine() throws {
        for (text, line) in [("\n\n\"abc", 3), ("[\n01]", 2), ("\n\"a\u{1}\"", 2), ("[\"\\q\"]", 1), ("\n\n1.", 3)] {
            #expect(try syntaxError(text).line == line, "\(text.debugDescription)")
        }
        #expect(try syntaxError("\"abc").message == "unterminated string")
        #expect(try syntaxError("01").message == "numbers cannot start with 0")
        #expect(try syntaxError("\"\\ud800\"").message == "lone surrogate in \\u escape")
        #expect(try syntaxError("\"\\ud800\\u0041\"").message == "invalid surrogate pair")
        #expect(try syntaxError("tru").message == "expected true")
        #expect(try syntaxError(String(repeating: "[", count: 600)).message.hasPrefix("nesting deeper"))
    }

    @Test func valuesKeepTheirTextAndOrder() throws {
        let value = try JSONValue.parse(#" {"z": 10.0, "a": [1e5, -0, true, null], "s": "\u00e9\ud83d\ude00\/"} "#)
        guard case .object(let members) = value else {
            Issue.record("not an object")
            return
        }
        #expect(members.map(\.key) == ["z", "a", "s"])
        #expect(value["z"] == .number("10.0"))
        #expect(value["a"] == .array([.number("1e5"), .number("-0"), .bool(true), .null]))
        #expect(value["s"] == .string("é😀/"))
        #expect(value["z"]?.integerValue == nil)
        #expect(value["z"]?.doubleValue == 10)
        #expect(try JSONValue.parse("9223372036854775807").integerValue == Int64.max)
    }

    @Test func serializedAndPrettyPrintedParseBack() throws {
        let text = #"{"a":[1,{"b":"x\ny","c":[]},{}],"d":null,"e":"\"q\""}"#
        let value = try JSONValue.parse(text)
        #expect(value.serialized() == text)
        #expect(try JSONValue.parse(value.prettyPrinted()) == value)
        #expect(value.prettyPrinted().contains("\n  \"d\": null"))
    }
}
