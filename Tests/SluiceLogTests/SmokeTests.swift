import SluiceCore
import SluiceTestSupport
import Testing

@testable import SluiceLog

@Suite struct SmokeTests {
    @Test func crc32cCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func appendAndReadBack() throws {
        let dir = TemporaryDirectory()
        let log = try PartitionLog.open(directory: dir.file("t-0"))
        var builder = RecordBatchBuilder()
        for i in 0..<10 {
            builder.append(
                Record(key: "k\(i)", value: "v\(i)", headers: [Header("h", "x")], timestamp: 1000 + Int64(i)))
        }
        var batch = try builder.build()
        let result = try log.append(&batch)
        #expect(result == .init(baseOffset: 0, lastOffset: 9))
        let bytes = try log.read(from: 3, maxBytes: 1 << 20)
        let block = try RecordBatchDecoder.decode(bytes, from: 3)
        #expect(block.count == 7)
        #expect(
            block.record(0)
                == Record(
                    key: Array("k3".utf8), value: Array("v3".utf8), headers: [Header("h", "x")], timestamp: 1003,
                    offset: 3))
        try log.close()
        let reopened = try PartitionLog.open(directory: dir.file("t-0"))
        #expect(reopened.endOffset == 10)
    }
}
