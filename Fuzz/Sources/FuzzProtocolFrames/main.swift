import FuzzSupport
import SluiceCore
import SluiceKit

// Fuzzes the external-connector protocol's decoders on untrusted bytes: what a connector sends can be
// anything. `RecordsFrame.decode` must throw or give blocks whose every range lies inside the frame,
// and what decodes must survive being encoded again and decoded to the same records. A hello line
// (`ConnectorDeclaration`) and the JSON-lines form of a batch must throw or decode, never trap.
//
// Input: a mode byte (0: a records frame, 1: a hello line, 2: a JSON-lines records message), then the
// bytes.

func test(_ input: inout FuzzInput) {
    let mode = input.byte() % 3
    let bytes = input.rest()
    switch mode {
    case 0:
        guard let frame = try? RecordsFrame.decode(bytes) else { return }
        let records = frame.groups.map { $0.records.records }
        var again: [UInt8] = []
        RecordsFrame.encode(batch: frame.batch, position: frame.position, groups: frame.groups, to: &again)
        guard let decoded = try? RecordsFrame.decode(again) else {
            require(false, "a frame that decoded does not decode once encoded again")
            return
        }
        require(decoded.groups.map { $0.records.records } == records, "records changed on the way round")
    case 1:
        guard let hello = try? JSONValue.parse(bytes) else { return }
        if let declaration = try? ConnectorDeclaration(hello: hello) {
            require((try? ConnectorDeclaration(hello: declaration.hello)) != nil, "a hello does not read back")
        }
    default:
        guard let message = try? JSONValue.parse(bytes), let frame = try? RecordsFrame(json: message) else { return }
        for group in frame.groups { _ = group.records.records }
    }
}

func seeds() -> [(name: String, bytes: [UInt8])] {
    var block = RecordBlock()
    block.append(
        Record(key: Array("k".utf8), value: Array(#"{"a":1}"#.utf8), headers: [Header("h", "v")], timestamp: 5))
    block.append(Record(key: nil, value: nil, headers: [], timestamp: -1))
    var frame: [UInt8] = []
    RecordsFrame.encode(
        batch: 3, position: Array("p".utf8),
        groups: [
            RecordsFrame.Group(topic: "t", partition: 1, records: block),
            RecordsFrame.Group(deadLetters: true, records: block),
        ],
        to: &frame)
    let hello =
        #"{"type": "hello", "protocol_versions": [1], "role": "sink", "name": "x", "options": [{"name": "n", "type": "integer", "min": 1, "default": 2, "meaning": "m"}, {"name": "c", "type": "choice", "values": ["a"]}]}"#
    let lines =
        #"{"type": "records", "position": "7", "records": [{"key": "a", "value": {"x": 1}}, {"value": "raw", "error": "bad"}, {"value_base64": "AAE=", "headers": {"h": null}}]}"#
    return [("frame", [0] + frame), ("hello", [1] + Array(hello.utf8)), ("lines", [2] + Array(lines.utf8))]
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    test(&input)
    return 0
}

Fuzzer.main(seeds: seeds, testOneInput)
