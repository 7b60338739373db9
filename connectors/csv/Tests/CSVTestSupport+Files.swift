import SluiceCore

@testable import SluiceCSV

/// SplitMix64: a tiny seeded generator, so that a failing random test runs the same way again.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension CSVTestSupport {
    /// Writes `bytes` as the whole content of `path`.
    static func write(_ bytes: [UInt8], to path: String) throws {
        try FileSystem.writeAtomically(path, bytes, sync: false)
    }

    /// Writes `text` as the whole content of `path`.
    static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Appends `bytes` to the end of the file at `path`, in place (the file keeps its inode).
    static func append(_ bytes: [UInt8], to path: String) throws {
        let file = try SystemFile.open(path, .readWrite)
        try bytes.withUnsafeBytes { try file.write($0, at: try file.size()) }
    }

    /// `bytes` as one gzip member.
    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        try bytes.withUnsafeBytes { try Deflater.gzip($0) }
    }

    /// The record values as text, in order.
    static func values(_ records: [Record]) -> [String] {
        records.map { String(decoding: $0.value ?? [], as: UTF8.self) }
    }
}
