import CLZ4
import CSnappy
import CZstd

/// Decompressors for the records of Kafka's compressed batches besides gzip: snappy (raw, or in the
/// xerial framing Java producers write), lz4 (the frame format) and zstd, through Debian's C libraries.
/// Output is limited to `maxOutputBytes`, so that a small malicious batch cannot expand without end.
public enum BatchCodecs {
    public static let maxOutputBytes = 256 << 20

    /// The xerial snappy framing's magic: 0x82 "SNAPPY" 0.
    static let xerialMagic: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00]

    public static func snappy(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        if input.count >= 16 && xerialMagic.indices.allSatisfy({ input[$0] == xerialMagic[$0] }) {
            var output: [UInt8] = []
            var at = 16  // magic, version, compatible version
            while at < input.count {
                guard input.count - at >= 4 else { throw CoreError(.compression, "a snappy chunk header cut short") }
                let length =
                    Int(input[at]) << 24 | Int(input[at + 1]) << 16 | Int(input[at + 2]) << 8 | Int(input[at + 3])
                at += 4
                guard length >= 0 && length <= input.count - at else {
                    throw CoreError(.compression, "a snappy chunk of \(length) bytes in \(input.count - at)")
                }
                output += try snappyBlock(UnsafeRawBufferPointer(rebasing: input[at..<at + length]))
                guard output.count <= maxOutputBytes else { throw tooLarge() }
                at += length
            }
            return output
        }
        return try snappyBlock(input)
    }

    private static func snappyBlock(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard let base = input.baseAddress?.assumingMemoryBound(to: CChar.self) else { return [] }
        var length = 0
        guard snappy_uncompressed_length(base, input.count, &length) == SNAPPY_OK else {
            throw CoreError(.compression, "corrupt snappy data")
        }
        guard length <= maxOutputBytes else { throw tooLarge() }
        var output = [UInt8](repeating: 0, count: length)
        let status = output.withUnsafeMutableBytes { out in
            snappy_uncompress(base, input.count, out.baseAddress?.assumingMemoryBound(to: CChar.self), &length)
        }
        guard status == SNAPPY_OK else { throw CoreError(.compression, "corrupt snappy data") }
        output.removeSubrange(length...)
        return output
    }

    public static func lz4(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        var context: OpaquePointer?
        guard LZ4F_isError(LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))) == 0, let context else {
            throw CoreError(.compression, "cannot start lz4 decompression")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        var at = 0
        while true {
            var consumed = input.count - at
            var produced = chunk.count
            let hint = chunk.withUnsafeMutableBytes { out in
                LZ4F_decompress(context, out.baseAddress, &produced, input.baseAddress.map { $0 + at }, &consumed, nil)
            }
            if LZ4F_isError(hint) != 0 {
                throw CoreError(.compression, "corrupt lz4 data: \(String(cString: LZ4F_getErrorName(hint)))")
            }
            output.append(contentsOf: chunk[0..<produced])
            guard output.count <= maxOutputBytes else { throw tooLarge() }
            at += consumed
            if hint == 0 { return output }  // the frame ended
            if at >= input.count && produced == 0 { throw CoreError(.compression, "lz4 data cut short") }
        }
    }

    public static func zstd(_ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard let stream = ZSTD_createDStream() else {
            throw CoreError(.compression, "cannot start zstd decompression")
        }
        defer { ZSTD_freeDStream(stream) }
        ZSTD_initDStream(stream)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        while true {
            let (status, produced) = chunk.withUnsafeMutableBytes { out -> (Int, Int) in
                var target = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let status = ZSTD_decompressStream(stream, &target, &source)
                return (status, target.pos)
            }
            if ZSTD_isError(status) != 0 {
                throw CoreError(.compression, "corrupt zstd data: \(String(cString: ZSTD_getErrorName(status)))")
            }
            output.append(contentsOf: chunk[0..<produced])
            guard output.count <= maxOutputBytes else { throw tooLarge() }
            if status == 0 && source.pos == source.size { return output }
            if source.pos == source.size && produced == 0 { throw CoreError(.compression, "zstd data cut short") }
        }
    }

    private static func tooLarge() -> CoreError {
        CoreError(.compression, "a compressed batch expands beyond \(maxOutputBytes >> 20) MiB")
    }
}
