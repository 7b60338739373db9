import SluiceCore
import Testing

@Suite struct UTF8ValidatorTests {
    static let valid: [[UInt8]] = [
        [], Array("plain ASCII, longer than eight bytes".utf8), [0x00], [0x7F],
        [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],
        [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF], Array("é€😀漢字".utf8),
    ]

    /// Invalid sequences and the index of the first byte of the first invalid one.
    static let invalid: [([UInt8], Int)] = [
        ([0xC0, 0x80], 0),  // overlong NUL
        ([0xC1, 0xBF], 0),  // overlong
        ([0xE0, 0x80, 0x80], 0),  // overlong 3-byte
        ([0xE0, 0x9F, 0xBF], 0),  // overlong U+07FF
        ([0xF0, 0x80, 0x80, 0x80], 0),  // overlong 4-byte
        ([0xF0, 0x8F, 0xBF, 0xBF], 0),  // overlong U+FFFF
        ([0xED, 0xA0, 0x80], 0),  // U+D800, a surrogate
        ([0xED, 0xBF, 0xBF], 0),  // U+DFFF
        ([0xF4, 0x90, 0x80, 0x80], 0),  // U+110000
        ([0xF5, 0x80, 0x80, 0x80], 0),
        ([0xFF], 0), ([0xFE], 0), ([0x80], 0), ([0xBF], 0),
        ([0xC2], 0), ([0xE2, 0x82], 0), ([0xF0, 0x9F, 0x98], 0),  // truncated
        ([0xC2, 0x41], 0), ([0xE2, 0x28, 0xA1], 0), ([0xE2, 0x82, 0x28], 0), ([0xF0, 0x9F, 0x98, 0x41], 0),
        (Array("abcdefghij".utf8) + [0xE2, 0x82], 10),
        (Array("abcdefgh".utf8) + [0x80] + Array("abcdefgh".utf8), 8),
        (Array("é".utf8) + [0xC3], 2),
        (Array("0123456789abcdef€".utf8) + [0xED, 0xA0, 0x80, 0x41], 19),
    ]

    @Test(arguments: valid)
    func acceptsValidSequences(_ bytes: [UInt8]) {
        #expect(UTF8Validator.isValid(bytes))
        #expect(bytes.withUnsafeBytes { UTF8Validator.firstInvalidIndex($0) } == nil)
    }

    @Test(arguments: invalid)
    func rejectsInvalidSequences(bytes: [UInt8], index: Int) {
        #expect(!UTF8Validator.isValid(bytes))
        #expect(!UTF8Validator.isValid(bytes.lazy.map { $0 }))
        #expect(bytes.withUnsafeBytes { UTF8Validator.firstInvalidIndex($0) } == index)
        #expect(String(validating: bytes, as: UTF8.self) == nil)
    }

    /// Random byte strings (runs of ASCII, encoded scalars, truncated encodings and random bytes) are
    /// valid exactly when Swift's own decoder says so, and the first invalid index is where a valid
    /// prefix ends and no scalar starts.
    @Test func agreesWithTheStandardLibrary() {
        var generator = SplitMix64(seed: 47)
        var invalidCount = 0
        for _ in 0..<20_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                switch Int.random(in: 0..<10, using: &generator) {
                case 0..<3:
                    bytes += (0..<Int.random(in: 1...12, using: &generator)).map { _ in
                        UInt8.random(in: 0x20...0x7E, using: &generator)
                    }
                case 3..<6: bytes += Self.randomScalarBytes(&generator)
                case 6: bytes += Self.randomScalarBytes(&generator).dropLast()
                case 7: bytes += [0xED, UInt8.random(in: 0x80...0xBF, using: &generator), 0x80]
                default: bytes.append(UInt8.random(in: 0x80...0xFF, using: &generator))
                }
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(UTF8Validator.isValid(bytes) == expected, "\(bytes)")
            let index = bytes.withUnsafeBytes { UTF8Validator.firstInvalidIndex($0) }
            #expect((index == nil) == expected, "\(bytes)")
            if let index {
                invalidCount += 1
                #expect(String(validating: bytes[..<index], as: UTF8.self) != nil, "\(bytes)")
                let scalarStarts = (1...4).contains { length in
                    index + length <= bytes.count
                        && String(validating: bytes[index..<(index + length)], as: UTF8.self) != nil
                }
                #expect(!scalarStarts, "\(bytes) at \(index)")
            }
        }
        #expect(invalidCount > 1_000)
    }

    /// The UTF-8 bytes of a random scalar, each length equally likely.
    static func randomScalarBytes(_ generator: inout SplitMix64) -> [UInt8] {
        let ranges: [ClosedRange<UInt32>] = [0x80...0x7FF, 0x800...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF]
        let range = ranges.randomElement(using: &generator) ?? 0x80...0x7FF
        let scalar = Unicode.Scalar(UInt32.random(in: range, using: &generator)) ?? "?"
        return Array(String(Character(scalar)).utf8)
    }
}
