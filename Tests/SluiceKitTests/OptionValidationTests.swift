import SluiceCore
import Testing

@testable import SluiceKit

@Suite struct OptionValidationTests {
    static let spec = ConnectorSpec(
        type: "demo",
        kind: .source,
        summary: "A connector for tests.",
        options: [
            OptionSpec("path", .string, required: true, "Where."),
            OptionSpec("delimiter", .character, default: .string(","), "The separator."),
            OptionSpec("limit", .integer(min: 1, max: 10), default: .number("5"), "How many."),
            OptionSpec("columns", .stringMap(allowed: ColumnType.names), default: .object([]), "Types."),
            OptionSpec(
                "delivery", .choice(["at_least_once", "exactly_once"]), default: .string("at_least_once"), "How."),
        ]
    )

    func validate(_ json: String, fromEnvironment: Set<String> = []) throws -> (ConnectorOptions, [ConfigProblem]) {
        guard case .object(let members) = try JSONValue.parse(json) else {
            throw CoreError(.invalidData, "not an object")
        }
        return Self.spec.validate(members, path: "sources.demo", fromEnvironment: fromEnvironment)
    }

    @Test func defaultsApplyAndValuesNormalize() throws {
        let (options, problems) = try validate(#"{"path": "a.csv", "limit": 7}"#)
        #expect(problems.isEmpty)
        #expect(options.string("path") == "a.csv")
        #expect(options.byte("delimiter") == UInt8(ascii: ","))
        #expect(options.integer("limit") == 7)
    }

    /// A number or boolean in quotes is a mistake in the file, named as one; a `${NAME}` reference makes
    /// a string, so a value it made may stand for a number.
    @Test func quotedNumbersAreProblemsUnlessTheEnvironmentMadeThem() throws {
        let (_, problems) = try validate(#"{"path": "a.csv", "limit": "7"}"#)
        #expect(
            problems == [
                ConfigProblem(
                    "sources.demo.limit",
                    "expected an integer from 1 to 10, found the string \"7\"; write 7 without quotes")
            ])
        let (options, none) = try validate(#"{"path": "a.csv", "limit": "7"}"#, fromEnvironment: ["sources.demo.limit"])
        #expect(none.isEmpty)
        #expect(options.integer("limit") == 7)
        let flag = OptionSpec("flag", .boolean, "A flag.")
        #expect(
            flag.validate(.string("true"), path: "x.flag")
                == .failure(
                    ConfigProblem(
                        "x.flag", "expected true or false, found the string \"true\"; write true without quotes")))
        #expect(flag.validate(.string("true"), path: "x.flag", fromEnvironment: true) == .success(.bool(true)))
    }

    @Test func aListOfStringsNamesTheItemThatIsNotOne() throws {
        let list = OptionSpec("keys", .stringList, "Keys.")
        #expect(
            list.validate(.array([.string("a"), .number("7")]), path: "x.keys")
                == .failure(ConfigProblem("x.keys[1]", "expected a string, found the number 7")))
        #expect(list.validate(.string("a"), path: "x.keys") == .success(.array([.string("a")])))
    }

    @Test func unknownOptionSuggestsTheClosestName() throws {
        let (_, problems) = try validate(#"{"path": "a.csv", "delimter": ";"}"#)
        #expect(problems == [ConfigProblem("sources.demo.delimter", "unknown option; did you mean \"delimiter\"?")])
    }

    @Test func aChoiceMisspelledSuggestsTheClosest() throws {
        let (_, problems) = try validate(#"{"path": "a.csv", "delivery": "exactly-once"}"#)
        #expect(problems.first?.path == "sources.demo.delivery")
        #expect(problems.first?.message.hasSuffix(#""exactly-once"; did you mean "exactly_once"?"#) == true)
        let (_, unrelated) = try validate(#"{"path": "a.csv", "delivery": "whenever"}"#)
        #expect(unrelated.first?.message.contains("did you mean") == false)
    }

    @Test func wrongTypesNameTheirPath() throws {
        let (_, problems) = try validate(#"{"limit": 50, "delimiter": ";;", "columns": {"a": "integer"}}"#)
        #expect(
            problems.map(\.path) == [
                "sources.demo.limit", "sources.demo.delimiter", "sources.demo.columns.a", "sources.demo.path",
            ])
        #expect(problems[2].message.contains("did you mean \"int\"?"))
        #expect(problems[3].message == "required option is missing")
    }

    @Test func markdownTableListsEveryOption() {
        let table = Self.spec.markdownTable()
        #expect(table.contains("| `path` | string | (required) | Where. |"))
        #expect(table.contains("| `delimiter` | character | \",\" | The separator. |"))
    }
}
