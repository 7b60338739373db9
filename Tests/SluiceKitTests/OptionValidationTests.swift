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
        ]
    )

    func validate(_ json: String) throws -> (ConnectorOptions, [ConfigProblem]) {
        guard case .object(let members) = try JSONValue.parse(json) else {
            throw CoreError(.invalidData, "not an object")
        }
        return Self.spec.validate(members, path: "sources.demo")
    }

    @Test func defaultsApplyAndValuesNormalize() throws {
        let (options, problems) = try validate(#"{"path": "a.csv", "limit": "7"}"#)
        #expect(problems.isEmpty)
        #expect(options.string("path") == "a.csv")
        #expect(options.byte("delimiter") == UInt8(ascii: ","))
        #expect(options.integer("limit") == 7)
    }

    @Test func unknownOptionSuggestsTheClosestName() throws {
        let (_, problems) = try validate(#"{"path": "a.csv", "delimter": ";"}"#)
        #expect(problems == [ConfigProblem("sources.demo.delimter", "unknown option; did you mean \"delimiter\"?")])
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
