import FuzzSupport
import Logging
import SluiceKafkaWire

// Fuzzes the Kafka listener's request codec on untrusted bytes: a frame from any client. The header
// and every API's body must be read or refused (the connection closed), never trap, never read past
// the frame; answers that wait (a join, a sync, a parked fetch) are completed.
//
// Input: the frame as the listener hands it over (after the length prefix).

let handler: KafkaRequestHandler = {
    var settings = KafkaRequestHandler.Settings(advertisedHost: "127.0.0.1", advertisedPort: 9092)
    settings.brokerWaitMillis = 0  // no pipeline will ever start
    return KafkaRequestHandler(settings: settings, brokers: NoBroker(), logger: Logger(label: "fuzz"))
}()

func test(_ bytes: [UInt8]) {
    guard let request = try? KafkaRequest(frame: bytes) else { return }
    switch handler.handle(request) {
    case .reply(let body): require(body.count < 64 << 20, "an answer larger than any request could ask for")
    case .noReply, .close: break
    case .later(let register): register { _ in }
    case .park(_, let attempt): _ = attempt(true)
    }
}

/// A request frame: api key, version, correlation id, client id "f", then `body`.
func frame(_ api: Int16, _ version: Int16, _ body: [UInt8]) -> [UInt8] {
    func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
    return bigEndian(api) + bigEndian(version) + bigEndian(Int32(7)) + bigEndian(Int16(1)) + Array("f".utf8) + body
}

func seeds() -> [(name: String, bytes: [UInt8])] {
    let topic: [UInt8] = [0, 1, 0x74]  // "t"
    let group: [UInt8] = [0, 1, 0x67]  // "g"
    return [
        ("api-versions-v0", frame(18, 0, [])),
        ("api-versions-v3", frame(18, 3, [2, 0x66, 2, 0x31, 0])),
        ("metadata-v1", frame(3, 1, [0, 0, 0, 1] + topic)),
        (
            "produce-v8",
            frame(
                0, 8, [0xFF, 0xFF, 0, 1, 0, 0, 0x13, 0x88, 0, 0, 0, 1] + topic + [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        ),
        (
            "fetch-v11",
            frame(
                1, 11,
                [
                    0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF,
                    0xFF, 0xFF, 0, 0, 0, 1,
                ] + topic + [0, 0, 0, 1, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 16) + [
                    0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ]),
        ),
        (
            "join-v5",
            frame(
                11, 5,
                group + [0, 0, 0x17, 0x70, 0, 0, 0x75, 0x30, 0, 0, 0xFF, 0xFF, 0, 8] + Array("consumer".utf8) + [
                    0, 0, 0, 1, 0, 5,
                ] + Array("range".utf8) + [0, 0, 0, 0])
        ),
        (
            "offset-commit-v7",
            frame(
                8, 7,
                group + [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0, 0, 1] + topic + [0, 0, 0, 1, 0, 0, 0, 0] + [
                    0, 0, 0, 0, 0, 0, 0, 5,
                ] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        ),
        (
            "create-topics-v4",
            frame(
                19, 4,
                [0, 0, 0, 1] + topic + [
                    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x75, 0x30, 1,
                ])
        ),
    ]
}

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    test(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

Fuzzer.main(seeds: seeds, testOneInput)
