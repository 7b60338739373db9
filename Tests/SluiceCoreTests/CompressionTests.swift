import SluiceCore
import Testing

@Suite struct CompressionTests {
    /// `gzip.compress(b"hello\n", mtime=0)` from Python.
    static let helloGzip: [UInt8] = [
        31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 203, 72, 205, 201, 201, 231, 2, 0, 32, 48, 58, 54, 6, 0, 0, 0,
    ]
    /// `zlib.compress(b"hello")` from Python.
    static let helloZlib: [UInt8] = [120, 156, 203, 72, 205, 201, 201, 7, 0, 6, 44, 2, 21]

    static func gzip(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try Deflater.gzip($0, level: level) }
    }

    static func inflate(_ bytes: [UInt8]) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try Inflater.inflate($0) }
    }

    /// Text that compresses (CSV-like rows) followed by random bytes that do not.
    static func sample(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        var bytes: [UInt8] = []
        var row = 0
        while bytes.count < count / 2 {
            bytes += Array("\(row),customer-\(row % 97),2026-01-0\(row % 9 + 1),\(row * 7 % 1000).25\n".utf8)
            row += 1
        }
        bytes += generator.bytes(count - min(count, bytes.count))
        return Array(bytes.prefix(count))
    }

    @Test func readsWhatGzipAndZlibWrite() throws {
        #expect(try Self.inflate(Self.helloGzip) == Array("hello\n".utf8))
        #expect(try Self.inflate(Self.helloZlib) == Array("hello".utf8))
    }

    @Test(arguments: [0, 1, 100, 65_536, 300_000, 1 << 20])
    func roundTrips(size: Int) throws {
        let original = Self.sample(size, seed: UInt64(size))
        for level: Int32 in [0, 1, 6, 9] {
            let compressed = try Self.gzip(original, level: level)
            #expect(Array(compressed.prefix(2)) == [0x1F, 0x8B])
            #expect(try Self.inflate(compressed) == original, "level \(level)")
        }
    }

    /// A stream compressed in random pieces and inflated in other random pieces gives the input back.
    @Test func streamsInPieces() throws {
        var generator = SplitMix64(seed: 59)
        let original = Self.sample(700_000, seed: 3)
        let deflater = try Deflater()
        var compressed: [UInt8] = []
        var done = 0
        while done < original.count {
            let next = min(original.count, done + Int.random(in: 0...100_000, using: &generator))
            try original[done..<next].withUnsafeBytes { try deflater.compress($0, into: &compressed) }
            done = next
        }
        try deflater.finish(into: &compressed)
        try deflater.finish(into: &compressed)
        let inflater = try Inflater()
        var output: [UInt8] = []
        done = 0
        while done < compressed.count {
            let next = min(compressed.count, done + Int.random(in: 1...5_000, using: &generator))
            try compressed[done..<next].withUnsafeBytes { try inflater.inflate($0, into: &output) }
            #expect(inflater.atMemberEnd == (next == compressed.count))
            done = next
        }
        #expect(output == original)
    }

    /// Concatenated members (as `cat a.gz b.gz` makes them) read as one stream, however they are split.
    @Test func concatenatedMembersReadAsOneStream() throws {
        let parts = [Self.sample(50_000, seed: 1), [], Array("middle\n".utf8), Self.sample(400_000, seed: 2)]
        var joined: [UInt8] = []
        for part in parts { joined += try Self.gzip(part) }
        #expect(try Self.inflate(joined) == parts.flatMap { $0 })
        var generator = SplitMix64(seed: 61)
        for _ in 0..<5 {
            let inflater = try Inflater()
            var output: [UInt8] = []
            var done = 0
            while done < joined.count {
                let next = min(joined.count, done + Int.random(in: 1...70_000, using: &generator))
                try joined[done..<next].withUnsafeBytes { try inflater.inflate($0, into: &output) }
                done = next
            }
            #expect(inflater.atMemberEnd)
            #expect(output == parts.flatMap { $0 })
        }
    }

    @Test func aTruncatedStreamIsAnError() throws {
        let compressed = try Self.gzip(Self.sample(100_000, seed: 5))
        for cut in [1, 4, 8, 100, compressed.count / 2, compressed.count - 10] {
            let error = try #require(throws: CoreError.self) { try Self.inflate(Array(compressed.dropLast(cut))) }
            #expect(error.code == .compression, "cut \(cut)")
        }
        let second = try Self.gzip(Array("second member".utf8))
        #expect(throws: CoreError.self) { try Self.inflate(compressed + second.dropLast(3)) }
    }

    @Test func corruptDataIsAnError() throws {
        var compressed = try Self.gzip(Self.sample(10_000, seed: 7))
        compressed[3] = 0xFF  // reserved flag bits
        let error = try #require(throws: CoreError.self) { try Self.inflate(compressed) }
        #expect(error.code == .compression)
        #expect(error.message.hasPrefix("corrupt compressed data"))
        var trailer = try Self.gzip(Self.sample(10_000, seed: 7))
        trailer[trailer.count - 6] ^= 0x01  // the CRC-32 of the content
        #expect(throws: CoreError.self) { try Self.inflate(trailer) }
        #expect(throws: CoreError.self) { try Self.inflate(Array("not compressed at all".utf8)) }
    }
}
