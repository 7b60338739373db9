import SluiceCore
import SluiceTestSupport
import Testing

@testable import SluiceLog

/// A model-based test: random appends, reads, reopens, rolls, time lookups and retention passes against
/// a `PartitionLog`, each checked against a plain array of the records the log should hold.
@Suite struct ModelTests {
    /// What the log should hold: records from `startOffset` on, and the offset the next one gets.
    struct Model {
        var records: [Record] = []
        var startOffset: Int64 = 0
        var endOffset: Int64 = 0

        func records(from offset: Int64, count: Int) -> ArraySlice<Record> {
            let first = Int(offset - startOffset)
            return records[first..<min(records.count, first + count)]
        }

        mutating func dropRecords(before offset: Int64) {
            records.removeFirst(Int(offset - startOffset))
            startOffset = offset
        }
    }

    struct Run {
        var generator: SplitMix64
        let directory: String
        var config: LogConfig
        var log: PartitionLog
        var model = Model()
        var now: Int64 = 1_700_000_000_000
        var retentionPasses = 0
        var deletedSegments = 0
        var reopens = 0

        init(seed: UInt64, directory: String) throws {
            generator = SplitMix64(seed: seed)
            self.directory = directory
            var config = LogConfig()
            config.segmentBytes = [600, 1_500, 4_000].randomElement(using: &generator) ?? 1_500
            config.indexIntervalBytes = [150, 400, 1_000].randomElement(using: &generator) ?? 400
            config.segmentMs = [-1, 5_000, 60_000].randomElement(using: &generator) ?? -1
            config.retentionMs = -1
            // No fsync on every batch or roll: the model checks contents, and fsyncs would make it slow.
            config.flush = .os
            self.config = config
            log = try PartitionLog.open(directory: directory, config: config)
        }

        mutating func bytes(_ range: ClosedRange<Int>) -> [UInt8] {
            (0..<Int.random(in: range, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }

        mutating func randomRecord() -> Record {
            let key: [UInt8]? = Int.random(in: 0..<5, using: &generator) == 0 ? nil : bytes(0...20)
            let value: [UInt8]?
            switch Int.random(in: 0..<20, using: &generator) {
            case 0: value = nil
            case 1: value = []
            case 2: value = bytes(500...1_500)
            default: value = bytes(1...60)
            }
            let headers = (0..<Int.random(in: 0...3, using: &generator)).map { h in
                Header("h\(h)", Bool.random(using: &generator) ? bytes(0...12) : nil)
            }
            let timestamp = now + Int64.random(in: -200...200, using: &generator)
            return Record(key: key, value: value, headers: headers, timestamp: timestamp)
        }

        mutating func step(_ index: Int) throws {
            now += Int64.random(in: 0...40, using: &generator)
            switch Int.random(in: 0..<100, using: &generator) {
            case 0..<45: try append()
            case 45..<75: try read()
            case 75..<80: try reopen()
            case 80..<88: try retention()
            case 88..<90: try log.rollActiveSegment()
            case 90..<98: try lookUpTimestamp()
            case 98: try readOnlyAgrees()
            default: try log.flushIfDue(now: now)
            }
            #expect(log.startOffset == model.startOffset, "step \(index)")
            #expect(log.endOffset == model.endOffset, "step \(index)")
        }

        mutating func append() throws {
            let records = (0..<Int.random(in: 1...5, using: &generator)).map { _ in randomRecord() }
            let compression: BatchCompression = Int.random(in: 0..<4, using: &generator) == 0 ? .gzip : .none
            var batch = try LogTestSupport.batch(records, compression: compression)
            let result = try log.append(&batch, now: now)
            #expect(result.baseOffset == model.endOffset)
            #expect(result.lastOffset == model.endOffset + Int64(records.count) - 1)
            model.records += LogTestSupport.stored(records, from: model.endOffset)
            model.endOffset += Int64(records.count)
        }

        mutating func read() throws {
            #expect(try log.read(from: model.endOffset, maxBytes: 1 << 20).isEmpty)
            if model.startOffset > 0 {
                #expect(throws: LogError.self) { try log.read(from: model.startOffset - 1, maxBytes: 100) }
            }
            guard !model.records.isEmpty else { return }
            let offset = Int64.random(in: model.startOffset..<model.endOffset, using: &generator)
            let maxBytes = [0, 1, 61, 200, 1_000, 5_000, 1 << 20].randomElement(using: &generator) ?? 1
            let bytes = try log.read(from: offset, maxBytes: maxBytes)
            let decoded = try RecordBatchDecoder.decode(bytes, from: offset).records
            #expect(decoded.first?.offset == offset)
            #expect(decoded[...] == model.records(from: offset, count: decoded.count))
        }

        mutating func reopen() throws {
            try log.close()
            log = try PartitionLog.open(directory: directory, config: config)
            reopens += 1
            #expect(try LogTestSupport.readAll(log) == model.records)
        }

        mutating func retention() throws {
            let boundaries = Set(log.segmentInfos.map(\.baseOffset) + [log.endOffset])
            var config = self.config
            config.retentionBytes = Int64.random(in: 0...8_000, using: &generator)
            if Bool.random(using: &generator) { config.retentionMs = Int64.random(in: 0...2_000, using: &generator) }
            log.update(config: config)
            let result = try log.applyRetention(now: now, keepFrom: nil, respectGroups: false)
            log.update(config: self.config)
            retentionPasses += 1
            deletedSegments += result.deletedSegments
            let start = log.startOffset
            #expect(boundaries.contains(start))
            #expect(result.newStartOffset == start)
            #expect(start >= model.startOffset)
            model.dropRecords(before: start)
            #expect(try LogTestSupport.readAll(log, maxBytes: 700) == model.records)
        }

        mutating func lookUpTimestamp() throws {
            let target: Int64
            if let record = model.records.randomElement(using: &generator) {
                target = record.timestamp + Int64.random(in: -2...2, using: &generator)
            } else {
                target = now
            }
            let expected = model.records.first { $0.timestamp >= target }?.offset ?? model.endOffset
            #expect(try log.offset(forTimestamp: target) == expected, "timestamp \(target)")
        }

        mutating func readOnlyAgrees() throws {
            try log.flush()
            let reader = try PartitionLog.open(directory: directory, config: config, readOnly: true)
            #expect(reader.startOffset == model.startOffset)
            #expect(reader.endOffset == model.endOffset)
            #expect(try LogTestSupport.readAll(reader) == model.records)
            try reader.close()
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomOperationsAgreeWithModel(seed: UInt64) throws {
        let dir = TemporaryDirectory("sluice-model")
        var run = try Run(seed: seed, directory: dir.file("t-0"))
        for index in 0..<2_500 {
            try run.step(index)
        }
        #expect(run.retentionPasses > 50)
        #expect(run.deletedSegments > 10)
        #expect(run.reopens > 50)
        try run.reopen()
        #expect(run.model.endOffset > 1_000)
    }
}
