import Testing

@testable import SluiceRuntime

/// The backslash escapes of `produce --key-separator` and `consume --format`, as kcat reads them.
@Suite struct TextEscapesTests {
    @Test func theEscapesAndTheirBytes() throws {
        #expect(try TextEscapes.decode(#"\t"#) == [0x09])
        #expect(try TextEscapes.decode(#"a\nb\r\\\0\x1F\xff"#) == Array("a\nb\r\\".utf8) + [0, 0x1F, 0xFF])
        #expect(try TextEscapes.decode("|") == Array("|".utf8))
        #expect(throws: RuntimeError.self) { try TextEscapes.decode(#"\"#) }
        #expect(throws: RuntimeError.self) { try TextEscapes.decode(#"\xg1"#) }
        #expect(throws: RuntimeError.self) { try TextEscapes.decode(#"\|"#) }
    }
}
