import Foundation
import SluiceCore
import Testing

@Suite struct Base64Tests {
    /// The test vectors of RFC 4648, section 10.
    static let vectors = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ]

    @Test(arguments: vectors)
    func rfc4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func randomBytesRoundTripAndMatchFoundation() {
        var generator = SplitMix64(seed: 53)
        for length in Array(0...64) + [255, 1_000, 4_097] {
            let bytes = generator.bytes(length)
            let encoded = Base64.encode(bytes)
            #expect(encoded == Data(bytes).base64EncodedString(), "length \(length)")
            #expect(Base64.decode(encoded) == bytes, "length \(length)")
            var appended: [UInt8] = Array("x".utf8)
            bytes.withUnsafeBytes { Base64.append($0, to: &appended) }
            #expect(appended == Array(("x" + encoded).utf8))
        }
    }

    @Test func decodesWithoutPaddingAndRejectsWhatIsNotBase64() {
        #expect(Base64.decode("Zg") == Array("f".utf8))
        #expect(Base64.decode("Zm8") == Array("fo".utf8))
        #expect(Base64.decode("+/+/") == [0xFB, 0xFF, 0xBF])
        #expect(Base64.decode("Z") == nil)
        #expect(Base64.decode("Zm9vY") == nil)
        #expect(Base64.decode("Zm9v!") == nil)
        #expect(Base64.decode("Zm 9v") == nil)
        #expect(Base64.decode("Zm9v-_") == nil)
        #expect(Base64.decode("Zg=x") == nil)
        #expect(Base64.decode("Zg=") == nil)
        #expect(Base64.decode("Zg===") == nil)
        #expect(Base64.decode("Zm9v=") == nil)
        #expect(Base64.decode("Zm8=") == Array("fo".utf8))
    }
}
