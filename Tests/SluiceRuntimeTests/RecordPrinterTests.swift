import SluiceCore
import Testing

@testable import SluiceRuntime

/// `sluice consume`'s formats: kcat's format-string directives and escapes, the JSON envelope with the
/// value embedded when it is a JSON object or array, and ISO 8601 timestamps.
@Suite struct RecordPrinterTests {
    /// Record `index` of `block` printed in `format`, as text.
    func printed(
        _ format: String, _ block: RecordBlock, index: Int = 0, timestamps: RecordPrinter.TimestampStyle = .ms
    ) throws -> String {
        String(decoding: try printedBytes(format, block, index: index, timestamps: timestamps), as: UTF8.self)
    }

    func printedBytes(
        _ format: String, _ block: RecordBlock, index: Int = 0, timestamps: RecordPrinter.TimestampStyle = .ms
    ) throws -> [UInt8] {
        var printer = RecordPrinter(
            format: try RecordFormat(parsing: format), topic: "orders", timestampStyle: timestamps)
        var out: [UInt8] = []
        printer.append(block, index: index, partition: 2, to: &out)
        return out
    }

    func block(_ records: [Record]) -> RecordBlock {
        var block = RecordBlock()
        for record in records { block.append(record) }
        return block
    }

    var sample: RecordBlock {
        block([
            Record(
                key: Array("k1".utf8), value: Array("hello".utf8), headers: [Header("a", "1"), Header("b", nil)],
                timestamp: 1_700_000_000_123, offset: 41),
            Record(key: nil, value: nil, timestamp: 5, offset: 42),
        ])
    }

    @Test func everyDirectiveOfKcat() throws {
        #expect(
            try printed("%t|%p|%o|%k|%K|%s|%S|%T|%h|%%\n", sample)
                == "orders|2|41|k1|2|hello|5|1700000000123|a=1,b=NULL|%\n")
        #expect(try printed("%t|%p|%o|%k|%K|%s|%S|%T|%h|%%\n", sample, index: 1) == "orders|2|42||-1||-1|5||%\n")
        #expect(try printedBytes("%R", sample) == [0, 0, 0, 5])
        #expect(try printedBytes("%R", sample, index: 1) == [0xFF, 0xFF, 0xFF, 0xFF])
    }

    @Test func escapesInAFormatString() throws {
        #expect(try printed(#"%k\t%s\r\n\\\x1f\0"#, sample) == "k1\thello\r\n\\\u{1f}\0")
        // Nothing is added: without \n the records run on, as with kcat.
        #expect(try printed("%s", sample) == "hello")
    }

    @Test func badFormatsAreRefusedWithTheReason() {
        for (text, reason) in [
            ("jsnol", "expected jsonl, value, or a format string"), ("%x", "unknown directive %x"),
            ("%s%", "a lone % at the end"), (#"%s\q"#, #"unknown escape \q"#), (#"%s\x1"#, #"\x needs two hex"#),
            (#"%s\"#, #"a lone \ at the end"#),
        ] {
            #expect(throws: RuntimeError.self, "\(text)") { try RecordFormat(parsing: text) }
            do {
                _ = try RecordFormat(parsing: text)
            } catch let error as RuntimeError {
                #expect(error.message.contains(reason), "\(text): \(error.message)")
            } catch {}
        }
    }

    @Test func theNamedFormatsKeepTheirOutput() throws {
        #expect(try printed("value", sample) == "hello\n")
        #expect(try printed("value", sample, index: 1) == "\n")
        #expect(
            try printed("jsonl", sample)
                == #"{"topic":"orders","partition":2,"offset":41,"timestamp":1700000000123,"key":"k1","value":"hello","#
                + #""headers":{"a":"1","b":null}}"# + "\n")
    }

    @Test func jsonlEmbedsAJSONObjectOrArrayValue() throws {
        func value(_ text: String) throws -> String {
            let line = try printed("jsonl", block([Record(key: nil, value: Array(text.utf8), timestamp: 0)]))
            let start = try #require(line.range(of: #""value":"#)).upperBound
            let end = try #require(line.range(of: #","headers":"#)).lowerBound
            return String(line[start..<end])
        }
        #expect(try value(#"{"id":1,"name":"x"}"#) == #"{"id":1,"name":"x"}"#)
        #expect(try value(#" [1, {"a": null}] "#) == #" [1, {"a": null}] "#)
        // A record stays on one line: white space between tokens goes, inside strings it stays.
        #expect(try value("{\n  \"a b\": \"c d\",\r\n  \"e\": [1,\n 2]\n}") == #"{"a b":"c d","e":[1,2]}"#)
        // Anything else stays a string, so that the text null or "x" is not taken for a missing value or x.
        #expect(try value("null") == #""null""#)
        #expect(try value(#""x""#) == #""\"x\"""#)
        #expect(try value("42") == #""42""#)
        #expect(try value(#"{"a":1"#) == #""{\"a\":1""#)
        #expect(try value("{\"a\":\"\u{FFFD}\"}") == "{\"a\":\"\u{FFFD}\"}")
        let invalid = try printed("jsonl", block([Record(key: nil, value: [0x7B, 0xFF, 0x7D], timestamp: 0)]))
        #expect(invalid.contains(#""value":{"base64":"e/99"}"#))
    }

    @Test func iso8601TimestampsInJSONAndInFormatStrings() throws {
        #expect(try printed("%T", sample, timestamps: .iso8601) == "2023-11-14T22:13:20.123Z")
        #expect(try printed("jsonl", sample, timestamps: .iso8601).contains(#""timestamp":"2023-11-14T22:13:20.123Z""#))
        // Records of one second and of the next, before and after the epoch, each with its own milliseconds.
        var printer = RecordPrinter(format: try RecordFormat(parsing: "%T\n"), topic: "t", timestampStyle: .iso8601)
        let times: [Int64] = [1_700_000_000_123, 1_700_000_000_999, 1_700_000_001_000, 5, -1, -1_000, -1_001]
        let records = block(times.map { Record(key: nil, value: nil, timestamp: $0, offset: 0) })
        var out: [UInt8] = []
        for index in 0..<records.count { printer.append(records, index: index, partition: 0, to: &out) }
        #expect(String(decoding: out, as: UTF8.self) == times.map { Timestamp.iso8601(millis: $0) + "\n" }.joined())
        #expect(Timestamp.iso8601(millis: -1) == "1969-12-31T23:59:59.999Z")
    }
}
