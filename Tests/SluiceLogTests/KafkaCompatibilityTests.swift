import Foundation
import SluiceCore
import SluiceLog
import Testing

/// Batches written by an independent Kafka implementation: kafka-python's `DefaultRecordBatchBuilder`.
/// `Fixtures/make_kafka_python_batches.py` made the `.bin` files and the `.json` files that describe them.
@Suite struct KafkaCompatibilityTests {
    static let uncompressed = [
        "kafka-python-plain",
        "kafka-python-producer",
        "kafka-python-large",
        "kafka-python-gzip-uncompressed-twin",
    ]
    static let all = uncompressed + ["kafka-python-gzip"]

    @Test(arguments: all)
    func headerMatchesFixture(name: String) throws {
        let fixture = try KafkaFixture(name)
        let header = fixture.header
        let expected = fixture.description.batch
        #expect(fixture.bytes.count == fixture.description.size)
        #expect(header.problem(maxBatchBytes: Int(Int32.max)) == nil)
        #expect(header.totalSize == fixture.bytes.count)
        #expect(header.baseOffset == expected.baseOffset)
        #expect(header.batchLength == expected.batchLength)
        #expect(header.partitionLeaderEpoch == expected.partitionLeaderEpoch)
        #expect(header.magic == expected.magic)
        #expect(header.crc == expected.crc)
        #expect(header.attributes == expected.attributes)
        #expect(header.lastOffsetDelta == expected.lastOffsetDelta)
        #expect(header.baseTimestamp == expected.baseTimestamp)
        #expect(header.maxTimestamp == expected.maxTimestamp)
        #expect(header.producerId == expected.producerId)
        #expect(header.producerEpoch == expected.producerEpoch)
        #expect(header.baseSequence == expected.baseSequence)
        #expect(header.recordCount == expected.recordCount)
        #expect(header.isTransactional == expected.isTransactional)
        #expect(!header.isControl)
        let compression = fixture.description.compression == "gzip" ? BatchCompression.gzip : .none
        #expect(header.compressionCode == compression.rawValue)
    }

    @Test(arguments: all)
    func crcMatches(name: String) throws {
        let fixture = try KafkaFixture(name)
        let crc = fixture.bytes.withUnsafeBytes { RecordBatch.computeCRC($0, at: 0, totalSize: $0.count) }
        #expect(crc == fixture.header.crc)
        #expect(crc == fixture.description.batch.crc)
    }

    @Test(arguments: all)
    func decodesEveryRecord(name: String) throws {
        let fixture = try KafkaFixture(name)
        let block = try RecordBatchDecoder.decode(fixture.bytes)
        try expectRecords(block, equal: fixture.expectedRecords())
    }

    @Test(arguments: uncompressed)
    func reencodingGivesTheSameBytes(name: String) throws {
        let fixture = try KafkaFixture(name)
        let block = try RecordBatchDecoder.decode(fixture.bytes)
        let rebuilt = try reencode(block, like: fixture.header, compression: .none)
        expectSameBytes(rebuilt, fixture.bytes)
    }

    @Test func gzipBatchInflatesToTheRecordsOfItsUncompressedTwin() throws {
        let gzip = try KafkaFixture("kafka-python-gzip")
        let twin = try KafkaFixture("kafka-python-gzip-uncompressed-twin")
        let inflated = try gzip.bytes.withUnsafeBytes { raw in
            try Inflater.inflate(UnsafeRawBufferPointer(rebasing: raw[RecordBatchHeader.size...]))
        }
        expectSameBytes(inflated, Array(twin.bytes[RecordBatchHeader.size...]))
    }

    @Test func gzipBatchReencodesToTheSameRecords() throws {
        let fixture = try KafkaFixture("kafka-python-gzip")
        let block = try RecordBatchDecoder.decode(fixture.bytes)
        let rebuilt = try reencode(block, like: fixture.header, compression: .gzip)

        // The compressed section depends on the deflate implementation and settings and on the gzip header,
        // so only the fields outside it are compared byte for byte.
        let header = rebuilt.withUnsafeBytes { RecordBatchHeader($0) }
        var expected = fixture.header
        expected.batchLength = header.batchLength
        expected.crc = header.crc
        #expect(header == expected)
        #expect(header.totalSize == rebuilt.count)
        let crc = rebuilt.withUnsafeBytes { RecordBatch.computeCRC($0, at: 0, totalSize: $0.count) }
        #expect(crc == header.crc)

        let decoded = try RecordBatchDecoder.decode(rebuilt)
        try expectRecords(decoded, equal: fixture.expectedRecords())
    }

    @Test func gzipBatchReencodedUncompressedEqualsItsTwin() throws {
        let fixture = try KafkaFixture("kafka-python-gzip")
        let twin = try KafkaFixture("kafka-python-gzip-uncompressed-twin")
        let block = try RecordBatchDecoder.decode(fixture.bytes)
        let rebuilt = try reencode(block, like: fixture.header, compression: .none)
        expectSameBytes(rebuilt, twin.bytes)
    }

    /// Builds one batch from every record of `block`, with the producer and leader fields of `header`.
    private func reencode(
        _ block: RecordBlock,
        like header: RecordBatchHeader,
        compression: BatchCompression
    ) throws -> [UInt8] {
        var builder = RecordBatchBuilder(compression: compression)
        builder.producerId = header.producerId
        builder.producerEpoch = header.producerEpoch
        builder.baseSequence = header.baseSequence
        builder.partitionLeaderEpoch = header.partitionLeaderEpoch
        builder.isTransactional = header.isTransactional
        for index in 0..<block.count {
            builder.append(from: block, index: index)
        }
        return try builder.build(baseOffset: header.baseOffset)
    }

    private func expectRecords(
        _ block: RecordBlock,
        equal expected: [Record],
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        try #require(block.count == expected.count, sourceLocation: sourceLocation)
        for (index, want) in expected.enumerated() {
            let got = block.record(index)
            guard got == want else {
                Issue.record("record \(index): decoded \(got), expected \(want)", sourceLocation: sourceLocation)
                return
            }
        }
    }

    private func expectSameBytes(
        _ actual: [UInt8],
        _ expected: [UInt8],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard actual != expected else { return }
        let differs = { (index: Int) in index >= expected.count || actual[index] != expected[index] }
        let firstDifference = actual.indices.first(where: differs) ?? actual.count
        Issue.record(
            "\(actual.count) bytes, expected \(expected.count); they first differ at byte \(firstDifference)",
            sourceLocation: sourceLocation
        )
    }
}

/// One `.bin` fixture and its `.json` description.
struct KafkaFixture {
    let bytes: [UInt8]
    let header: RecordBatchHeader
    let description: Description

    struct Description: Decodable {
        var file: String
        var compression: String
        var size: Int
        var batch: Batch
        var records: [RecordDescription]
    }

    struct Batch: Decodable {
        var baseOffset: Int64
        var batchLength: Int32
        var partitionLeaderEpoch: Int32
        var magic: Int8
        var crc: UInt32
        var attributes: Int16
        var lastOffsetDelta: Int32
        var baseTimestamp: Int64
        var maxTimestamp: Int64
        var producerId: Int64
        var producerEpoch: Int16
        var baseSequence: Int32
        var recordCount: Int32
        var isTransactional: Bool
    }

    struct RecordDescription: Decodable {
        var offset: Int64
        var timestamp: Int64
        var key: String?
        var value: String?
        var headers: [HeaderDescription]
    }

    struct HeaderDescription: Decodable {
        var name: String
        var value: String?
    }

    init(_ name: String) throws {
        let folder = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let data = try Data(contentsOf: folder.appendingPathComponent(name + ".bin"))
        let json = try Data(contentsOf: folder.appendingPathComponent(name + ".json"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        description = try decoder.decode(Description.self, from: json)
        bytes = [UInt8](data)
        try #require(bytes.count >= RecordBatchHeader.size)
        header = bytes.withUnsafeBytes { RecordBatchHeader($0) }
    }

    /// The records the JSON describes, with their offsets.
    func expectedRecords() throws -> [Record] {
        try description.records.map { record in
            Record(
                key: try Self.bytes(record.key),
                value: try Self.bytes(record.value),
                headers: try record.headers.map { Header($0.name, try Self.bytes($0.value)) },
                timestamp: record.timestamp,
                offset: record.offset
            )
        }
    }

    private static func bytes(_ base64: String?) throws -> [UInt8]? {
        guard let base64 else { return nil }
        return [UInt8](try #require(Data(base64Encoded: base64)))
    }
}
