import SluiceCore
import Testing

@testable import SluiceKit

/// The external-connector protocol's codecs: records frames and the hello's declarations.
struct ExternalProtocolTests {
    static func block() -> RecordBlock {
        var block = RecordBlock()
        block.append(
            Record(key: Array("k1".utf8), value: Array("{\"a\":1}".utf8), headers: [], timestamp: 5, offset: 10))
        block.append(Record(key: nil, value: nil, headers: [Header("h", nil)], timestamp: 6, offset: 11))
        block.append(
            Record(
                key: [], value: Array("v".utf8), headers: [Header("x", Array("y".utf8)), Header("z", [])],
                timestamp: -1, offset: 13))
        return block
    }

    @Test func aRecordsFrameDecodesToWhatWasEncoded() throws {
        let groups = [
            RecordsFrame.Group(topic: "orders", partition: 3, records: Self.block()),
            RecordsFrame.Group(topic: "", partition: -1, deadLetters: true, records: Self.block()),
        ]
        var body: [UInt8] = []
        RecordsFrame.encode(batch: 42, position: Array("p:7".utf8), groups: groups, to: &body)
        let frame = try RecordsFrame.decode(body)
        #expect(frame.batch == 42)
        #expect(frame.position == Array("p:7".utf8))
        #expect(frame.groups.count == 2)
        #expect(frame.groups[0].topic == "orders" && frame.groups[0].partition == 3 && !frame.groups[0].deadLetters)
        #expect(frame.groups[1].deadLetters)
        for group in frame.groups {
            #expect(group.records.records == Self.block().records)
        }
    }

    @Test func everyTruncationOfAFrameIsRefusedNeverACrash() throws {
        var body: [UInt8] = []
        RecordsFrame.encode(
            batch: 1, position: [], groups: [RecordsFrame.Group(topic: "t", partition: 0, records: Self.block())],
            to: &body)
        for length in 0..<body.count {
            #expect(throws: ExternalProtocolError.self) { try RecordsFrame.decode(Array(body[0..<length])) }
        }
        #expect(throws: ExternalProtocolError.self) { try RecordsFrame.decode(body + [0]) }
    }

    @Test func corruptedFramesAreRefusedOrDecodedWithinBounds() throws {
        var body: [UInt8] = []
        RecordsFrame.encode(
            batch: 1, position: [], groups: [RecordsFrame.Group(topic: "t", partition: 0, records: Self.block())],
            to: &body)
        var random = SplitMix64(seed: 5)
        for _ in 0..<2000 {
            var corrupted = body
            for _ in 0..<3 {
                corrupted[Int(random.next() % UInt64(corrupted.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            if let frame = try? RecordsFrame.decode(corrupted) {
                for group in frame.groups { _ = group.records.records }  // every range lies inside the body
            }
        }
    }

    @Test func theJSONLinesFormKeepsRecordsAndDeadLettersInOrder() throws {
        let message = try JSONValue.parse(
            #"{"type": "records", "position": "f:9", "records": [{"key": "a", "value": {"n": 1}}, {"value": "raw", "error": "bad"}, {"key": null, "value": "2", "headers": {"h": "v"}}]}"#
        )
        let frame = try RecordsFrame(json: message)
        #expect(frame.position == Array("f:9".utf8))
        #expect(frame.groups.map(\.deadLetters) == [false, true, false])
        #expect(frame.groups[0].records.record(0).value == Array(#"{"n":1}"#.utf8))
        #expect(frame.groups[1].records.record(0).header(SluiceHeader.errorMessage) == Array("bad".utf8))
        #expect(frame.groups[2].records.record(0).header("h") == Array("v".utf8))
        #expect(throws: ExternalProtocolError.self) { try RecordsFrame(json: .message("records")) }
    }

    @Test func aHelloDeclaresOptionsThatValidateAsBuiltInOnes() throws {
        let hello = try JSONValue.parse(
            """
            {"type": "hello", "protocol_versions": [1, 2], "role": "sink", "name": "sqlite", "options": [
              {"name": "database", "type": "string", "required": true, "meaning": "The file."},
              {"name": "batch", "type": "integer", "min": 1, "max": 100, "default": 10, "meaning": "Rows."},
              {"name": "mode", "type": "choice", "values": ["a", "b"], "default": "a", "meaning": "How."}]}
            """)
        let declaration = try ConnectorDeclaration(hello: hello)
        #expect(declaration.agreedVersion == 1)
        #expect(declaration.role == .sink)
        #expect(declaration.options.map(\.name) == ["database", "batch", "mode"])
        let again = try ConnectorDeclaration(hello: declaration.hello)
        #expect(again.options.map(\.name) == declaration.options.map(\.name))
        let spec = ConnectorSpec(type: "exec", kind: .sink, summary: "", options: declaration.options)
        let (_, problems) = spec.validate([("batch", .number("0")), ("mode", .string("c"))], path: "sinks.db")
        #expect(problems.map(\.path).sorted() == ["sinks.db.batch", "sinks.db.database", "sinks.db.mode"])
    }

    @Test(arguments: [
        (#"{"type": "hi"}"#, "not a hello"),
        (#"{"type": "hello", "protocol_versions": "1", "role": "sink", "name": "x"}"#, "protocol_versions"),
        (#"{"type": "hello", "protocol_versions": [1], "role": "both", "name": "x"}"#, "hello.role"),
        (#"{"type": "hello", "protocol_versions": [1], "role": "sink"}"#, "hello.name"),
        (
            #"{"type": "hello", "protocol_versions": [1], "role": "sink", "name": "x", "framing": "xml"}"#,
            "hello.framing"
        ),
        (
            #"{"type": "hello", "protocol_versions": [1], "role": "sink", "name": "x", "options": [{"name": "Bad Name", "type": "string"}]}"#,
            "snake_case"
        ),
        (
            #"{"type": "hello", "protocol_versions": [1], "role": "sink", "name": "x", "options": [{"name": "n", "type": "integer", "min": 1, "default": 0}]}"#,
            "does not fit"
        ),
        (
            #"{"type": "hello", "protocol_versions": [1], "role": "sink", "name": "x", "options": [{"name": "n", "type": "float"}]}"#,
            "hello.options[0].type"
        ),
    ])
    func aMalformedHelloIsNamed(hello: String, expected: String) throws {
        let value = try JSONValue.parse(hello)
        do {
            _ = try ConnectorDeclaration(hello: value)
            Issue.record("accepted \(hello)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }
}
