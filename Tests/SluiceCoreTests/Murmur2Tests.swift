import SluiceCore
import Testing

@Suite struct Murmur2Tests {
    @Test func matchesKafkaAndIgnoresAlignment() {
        #expect(Murmur2.hash(Array("21".utf8)) == -973_932_308)
        #expect(Murmur2.hash(Array("abc".utf8)) == 479_470_107)
        #expect(Murmur2.hash("foobar".utf8) == -790_332_482)
        let padded = Array("xfoobar".utf8)
        #expect(padded.withUnsafeBytes { Murmur2.hash(UnsafeRawBufferPointer(rebasing: $0[1...])) } == -790_332_482)
        #expect(Murmur2.hash([UInt8]()) == Murmur2.hash(UnsafeRawBufferPointer(start: nil, count: 0)))
    }

    @Test func toPositiveClearsOnlyTheSignBit() {
        #expect(Murmur2.toPositive(-1) == Int32.max)
        #expect(Murmur2.toPositive(Int32.min) == 0)
        #expect(Murmur2.toPositive(12_345) == 12_345)
        #expect(Murmur2.toPositive(-973_932_308) == -973_932_308 & 0x7fff_ffff)
    }
}
