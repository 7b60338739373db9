import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceCSV

/// Declared column types: `FieldConverter` on single values, and typed rows through the whole source
/// (nulls, spaces, keys, dead letters for values that do not convert, latin1).
@Suite struct ConversionTests {
    /// The JSON `FieldConverter` writes for `text` as `type`, or `nil` with the reason it refuses.
    static func convert(_ text: String, _ type: ColumnType) -> (json: String?, reason: String?) {
        var out: [UInt8] = []
        let reason = Array(text.utf8).withUnsafeBytes { FieldConverter.append($0, as: type, to: &out) }
        return reason == nil ? (String(decoding: out, as: UTF8.self), nil) : (nil, reason)
    }

    static let integerCases: [(String, String?)] = [
        ("42", "42"), ("+42", "42"), ("-42", "-42"), ("007", "7"), ("-007", "-7"), ("0", "0"), ("-0", "0"),
        ("+0", "0"), ("000", "0"), (" 12 ", "12"), ("\t5\t", "5"),
        ("9223372036854775807", "9223372036854775807"), ("-9223372036854775808", "-9223372036854775808"),
        ("+09223372036854775807", "9223372036854775807"), ("-0009223372036854775808", "-9223372036854775808"),
        ("9223372036854775808", nil), ("-9223372036854775809", nil), ("18446744073709551616", nil),
        ("99999999999999999999", nil), ("1.0", nil), ("1e3", nil), ("abc", nil), ("+", nil), ("-", nil),
        ("1 2", nil), ("0x1F", nil), ("12a", nil), ("--1", nil), ("١٢", nil),
    ]

    @Test(arguments: integerCases)
    func integers(text: String, json: String?) {
        let result = Self.convert(text, .int)
        #expect(result.json == json)
        if json == nil {
            #expect(
                result.reason == "is not an integer" || result.reason == "is out of range for a 64-bit integer")
        }
    }

    static let numberCases: [(String, String?)] = [
        (".5", "0.5"), ("5.", "5"), ("+1.50", "1.50"), ("1E+3", "1e3"), ("1e-3", "1e-3"), ("-.5", "-0.5"),
        ("-0", "-0"), ("007.250", "7.250"), ("0.0", "0.0"), ("00", "0"), ("12", "12"), ("1.5E10", "1.5e10"),
        (" 2.5 ", "2.5"), ("1e05", "1e05"), ("-0.0e-0", "-0.0e-0"),
        ("123456789012345678901234567890", "123456789012345678901234567890"),
        ("abc", nil), ("NaN", nil), ("nan", nil), ("inf", nil), ("Infinity", nil), ("-", nil), ("+", nil), (".", nil),
        ("e5", nil), (".e5", nil), ("1e", nil), ("1e+", nil), ("1.2.3", nil), ("1,5", nil), ("0x10", nil),
        ("1_000", nil), ("--1", nil), ("1e5.5", nil), ("5.e", nil), ("1 000", nil),
    ]

    @Test func aFloatBeyondADoublesRangeIsRefusedButADecimalIsNot() {
        for text in ["1e309", "1e400", "-1e400", "1e-400", "0.00001e-330"] {
            #expect(
                Self.convert(text, .float).reason?.hasPrefix("is out of range for a 64-bit float") == true, "\(text)")
            #expect(Self.convert(text, .decimal).json != nil, "\(text)")
        }
        for text in ["1.7976931348623157e308", "2.3e-308", "0e-999", "-0.000e500"] {
            #expect(Self.convert(text, .float).json != nil, "\(text)")
        }
    }

    @Test(arguments: numberCases)
    func floatsAndDecimalsAreNormalizedJSONNumbers(text: String, json: String?) throws {
        for type in [ColumnType.float, .decimal] {
            let result = Self.convert(text, type)
            #expect(result.json == json, "\(type)")
            if let written = result.json {
                #expect(Array(written.utf8).withUnsafeBytes { JSONValidator.isValid($0) })
            } else {
                #expect(result.reason == "is not a number")
            }
        }
    }

    static let booleanCases: [(String, String?)] = [
        ("true", "true"), ("TRUE", "true"), ("True", "true"), ("t", "true"), ("T", "true"), ("yes", "true"),
        ("YES", "true"), ("y", "true"), ("Y", "true"), ("on", "true"), ("ON", "true"), ("1", "true"),
        (" yes ", "true"), ("false", "false"), ("FALSE", "false"), ("f", "false"), ("no", "false"), ("N", "false"),
        ("off", "false"), ("Off", "false"), ("0", "false"), ("2", nil), ("truee", nil), ("yess", nil),
        ("nope", nil), ("ja", nil), ("tru", nil), ("10", nil), ("01", nil), ("\u{0}1", nil), ("\u{0}\u{0}t", nil),
        ("\u{0}true", nil), ("true!", nil), ("-1", nil),
    ]

    @Test(arguments: booleanCases)
    func booleanSpellings(text: String, json: String?) {
        #expect(Self.convert(text, .bool).json == json)
    }

    static let dateCases: [(String, Bool)] = [
        ("2024-02-29", true), ("2000-02-29", true), ("2026-02-28", true), ("2026-12-31", true), ("0001-01-01", true),
        ("2026-02-29", false), ("1900-02-29", false), ("2026-04-31", false), ("2026-13-01", false),
        ("2026-00-10", false), ("2026-01-00", false), ("2026-01-32", false), ("2026-1-01", false),
        ("26-01-01", false), ("2026/01/01", false), ("2026-01-01T00:00", false), ("0000-01-01", false),
        ("abcd-01-01", false), ("2026-01-0a", false),
    ]

    @Test(arguments: dateCases)
    func datesAreRealCalendarDays(text: String, valid: Bool) {
        let result = Self.convert(text, .date)
        #expect(result.json == (valid ? "\"\(text)\"" : nil))
        #expect(result.reason == (valid ? nil : "is not a date (YYYY-MM-DD)"))
    }

    static let timestampCases: [(String, Bool)] = [
        ("2026-11-21T10:30:00Z", true), ("2026-11-21 10:30:00", true), ("2026-11-21T10:30", true),
        ("2026-11-21t10:30:00z", true), ("2026-11-21T10:30:00.5+02:00", true),
        ("2026-11-21T10:30:00.123456789-0530", true), ("2026-11-21T10:30:00+02", true),
        ("2026-11-21T10:30:00,25Z", true), ("2026-11-21 10:30:00 +02:00", true), ("2026-11-21", true),
        ("2024-02-29T23:59:60Z", true), ("2026-11-21T10:30-01:00", true), ("2026-11-21T00:00:00.000000Z", true),
        ("2026-11-21T24:00:00", false), ("2026-11-21T10:60", false), ("2026-11-21T10:30:61", false),
        ("2026-11-21T1:30", false), ("2026-11-21T10:30:00.Z", false), ("2026-11-21T10:30:00.1234567890Z", false),
        ("2026-11-21T10:30:00+2400", false), ("2026-11-21T10:30:00+02:60", false), ("2026-11-21T10:30:00+02:0", false),
        ("2026-11-21T10:30:00ZZ", false), ("2026-11-21X10:30", false), ("2026-02-30T10:00", false),
        ("2026-11-21T", false), ("2026-11-21T10", false), ("2026-11-21T10:30:00 Z", false),
        ("2026-11-21T10:30:00+02:00x", false), ("2026-11-21T10:30:", false), ("yesterday", false),
    ]

    @Test(arguments: timestampCases)
    func timestampForms(text: String, valid: Bool) {
        let result = Self.convert(text, .timestamp)
        #expect(result.json == (valid ? "\"\(text)\"" : nil))
        #expect(result.reason == (valid ? nil : "is not an ISO 8601 timestamp"))
    }

    @Test func jsonIsEmbeddedWhenValid() {
        for text in [#"{"a":[1,2]}"#, #"[1, "x"]"#, #""s""#, "12", "null", "true", "{}"] {
            #expect(Self.convert(text, .json).json == text)
        }
        #expect(Self.convert(#"  {"a": 1}  "#, .json).json == #"{"a": 1}"#)
        for text in ["{a:1}", "[1,]", #"{"a":1} x"#, "'x'", "01", "[", "NaN"] {
            #expect(Self.convert(text, .json).reason == "is not valid JSON", "\(text)")
        }
    }

    // MARK: Through the source

    /// Runs the source over `text` with `extra` options.
    static func run(_ text: [UInt8], _ extra: [(key: String, value: JSONValue)]) throws -> SourceRun {
        let directory = TemporaryDirectory()
        let path = directory.file("typed.csv")
        try CSVTestSupport.write(text, to: path)
        return try CSVTestSupport.run(try CSVTestSupport.options(path: path, extra))
    }

    static func types(_ pairs: [(String, String)]) -> (key: String, value: JSONValue) {
        ("columns", .object(pairs.map { ($0.0, JSONValue.string($0.1)) }))
    }

    @Test func integerLimitsAndDeadLettersNamingTheColumn() throws {
        let text = """
            id,n
            1,9223372036854775807
            2,-9223372036854775808
            3,9223372036854775808
            4,-9223372036854775809
            5,+0042
            6,-0
            7,
            8,  17\u{20}\u{20}

            """
        let run = try Self.run(Array(text.utf8), [Self.types([("id", "int"), ("n", "int")])])
        #expect(
            CSVTestSupport.values(run.records) == [
                #"{"id":1,"n":9223372036854775807}"#, #"{"id":2,"n":-9223372036854775808}"#, #"{"id":5,"n":42}"#,
                #"{"id":6,"n":0}"#, #"{"id":7,"n":null}"#, #"{"id":8,"n":17}"#,
            ])
        #expect(run.deadLetters.count == 2)
        #expect(run.deadLetters.map { $0.headerText("sluice.error.class") } == ["csv.conversion", "csv.conversion"])
        #expect(run.deadLetters.map { $0.headerText("sluice.source.line") } == ["4", "5"])
        #expect(
            run.deadLetters.map { String(decoding: $0.value ?? [], as: UTF8.self) } == [
                "3,9223372036854775808", "4,-9223372036854775809",
            ])
        #expect(
            run.deadLetters.first?.headerText("sluice.error.message")
                == #"column "n": "9223372036854775808" is out of range for a 64-bit integer"#)
        #expect(run.progress.rowsRead == 8)
        #expect(run.progress.rowsDeadLettered == 2)
    }

    @Test func everyTypeThroughTheSource() throws {
        let text = """
            i,f,d,b,dt,ts,j,s
            +1,.5,+1.50,YES,2024-02-29,2026-11-21 10:30:00.5+0200,"{""a"": [1, 2]}",text
            -0,5.,1E+3,off,2000-02-29,2026-11-21T10:30Z,[],
            ,,,,,,,
             7 , 2.5 ,\t3\t, y , 2026-01-01 , 2026-01-01T00:00:00Z ," {} ", padded\u{20}
            1,abc,1,t,2026-01-01,2026-01-01,1,bad float
            1,1,NaN,t,2026-01-01,2026-01-01,1,bad decimal
            1,1,1,maybe,2026-01-01,2026-01-01,1,bad bool
            1,1,1,t,2026-02-29,2026-01-01,1,bad date
            1,1,1,t,2026-01-01,2026-01-01T25:00,1,bad timestamp
            1,1,1,t,2026-01-01,2026-01-01,{x},bad json

            """
        let columns = Self.types([
            ("i", "int"), ("f", "float"), ("d", "decimal"), ("b", "bool"), ("dt", "date"), ("ts", "timestamp"),
            ("j", "json"),
        ])
        let run = try Self.run(Array(text.utf8), [columns])
        #expect(
            CSVTestSupport.values(run.records) == [
                #"{"i":1,"f":0.5,"d":1.50,"b":true,"dt":"2024-02-29","ts":"2026-11-21 10:30:00.5+0200","#
                    + #""j":{"a": [1, 2]},"s":"text"}"#,
                #"{"i":0,"f":5,"d":1e3,"b":false,"dt":"2000-02-29","ts":"2026-11-21T10:30Z","j":[],"s":""}"#,
                #"{"i":null,"f":null,"d":null,"b":null,"dt":null,"ts":null,"j":null,"s":""}"#,
                #"{"i":7,"f":2.5,"d":3,"b":true,"dt":"2026-01-01","ts":"2026-01-01T00:00:00Z","j":{},"#
                    + #""s":" padded "}"#,
            ])
        #expect(
            run.deadLetters.map { $0.headerText("sluice.error.class") } == Array(repeating: "csv.conversion", count: 6))
        #expect(
            run.deadLetters.compactMap { $0.headerText("sluice.error.message") } == [
                #"column "f": "abc" is not a number"#, #"column "d": "NaN" is not a number"#,
                #"column "b": "maybe" is not a boolean (true/false, t/f, yes/no, y/n, on/off, 1/0)"#,
                #"column "dt": "2026-02-29" is not a date (YYYY-MM-DD)"#,
                #"column "ts": "2026-01-01T25:00" is not an ISO 8601 timestamp"#,
                #"column "j": "{x}" is not valid JSON"#,
            ])
        #expect(run.deadLetters.map { $0.headerText("sluice.source.line") } == ["6", "7", "8", "9", "10", "11"])
        for record in run.records {
            #expect(try JSONValue.parse(record.value ?? []) != .null)
        }
    }

    @Test func nullValuesMakeAnyColumnNull() throws {
        let text = "n,s,b\nNULL,NULL,\\N\n1,\\N,\n2,,true\n3,null,NULL\n"
        let run = try Self.run(
            Array(text.utf8),
            [Self.types([("n", "int"), ("b", "bool")]), ("null_values", .array([.string("NULL"), .string("\\N")]))])
        #expect(
            CSVTestSupport.values(run.records) == [
                #"{"n":null,"s":null,"b":null}"#, #"{"n":1,"s":null,"b":null}"#, #"{"n":2,"s":"","b":true}"#,
                #"{"n":3,"s":"null","b":null}"#,
            ])
        #expect(run.deadLetters.isEmpty)
    }

    @Test func keysJoinSeveralColumnsWithTheSeparator() throws {
        let text = "region,id,name\neu,7,\"a \"\"b\"\"\"\nus,0042,x\n,,\n"
        let slash = try Self.run(
            Array(text.utf8),
            [("key", .array([.string("region"), .string("id"), .string("name")])), ("key_separator", .string("/"))])
        #expect(
            slash.records.map { $0.key.map { String(decoding: $0, as: UTF8.self) } } == [
                "eu/7/a \"b\"", "us/0042/x", "//",
            ])
        let pipe = try Self.run(Array(text.utf8), [("key", .array([.string("id"), .string("region")]))])
        #expect(pipe.records.map { $0.key.map { String(decoding: $0, as: UTF8.self) } } == ["7|eu", "0042|us", "|"])
        let single = try Self.run(Array(text.utf8), [("key", .string("id")), Self.types([("id", "int")])])
        #expect(single.records.map { $0.key.map { String(decoding: $0, as: UTF8.self) } } == ["7", "0042", ""])
        #expect(CSVTestSupport.values(single.records).first == #"{"region":"eu","id":7,"name":"a \"b\""}"#)
        let none = try Self.run(Array(text.utf8), [])
        #expect(none.records.allSatisfy { $0.key == nil })
    }

    @Test func latin1IsTranscoded() throws {
        var bytes = Array("id,na".utf8) + [0xEF] + Array("ve\n1,caf".utf8) + [0xE9] + Array("\n2,\"".utf8)
        bytes += [0xE9] + Array("\"\"x\"\n3,".utf8) + [0xFF, 0x80] + Array("\n".utf8)
        let run = try Self.run(bytes, [("encoding", .string("latin1")), ("key", .string("naïve"))])
        #expect(
            CSVTestSupport.values(run.records) == [
                #"{"id":"1","naïve":"café"}"#, #"{"id":"2","naïve":"é\"x"}"#, #"{"id":"3","naïve":"ÿ\#u{80}"}"#,
            ])
        #expect(run.records.map { $0.key.map { String(decoding: $0, as: UTF8.self) } } == ["café", "é\"x", "ÿ\u{80}"])
        #expect(run.deadLetters.isEmpty)
        // Read as UTF-8, the header is not: the file stops with what to set, rather than giving columns
        // named with U+FFFD and rows that all fail.
        let utf8 = try #require(throws: ConnectorError.self) { try Self.run(bytes, [("key", .string("id"))]) }
        #expect(utf8.errorClass == "csv.header_encoding")
        // Its rows alone are dead letters, each.
        let rows = Array("id,name\n1,caf".utf8) + [0xE9] + Array("\n2,ok\n".utf8)
        let mixed = try Self.run(rows, [])
        #expect(CSVTestSupport.values(mixed.records) == [#"{"id":"2","name":"ok"}"#])
        #expect(mixed.deadLetters.map { $0.headerText("sluice.error.class") } == ["csv.invalid_utf8"])
    }
}
