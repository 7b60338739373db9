import CZlib

/// A streaming gzip or zlib decompressor over zlib.
///
/// Concatenated gzip members (as `cat a.gz b.gz` makes) are read as one stream, the way `gzip -d`
/// reads them. Owns a `z_stream`, freed in `deinit`. Not thread-safe: one owner uses it.
public final class Inflater {
    private var stream = z_stream()
    /// Whether the last member ended exactly at the end of the input given so far.
    public private(set) var atMemberEnd = false
    private var chunk = [UInt8](repeating: 0, count: 256 * 1024)

    public init() throws {
        let status = sluice_inflateInit2(&stream, 15 + 32)
        guard status == Z_OK else {
            throw CoreError(.compression, "cannot start decompression (zlib status \(status))")
        }
    }

    deinit {
        inflateEnd(&stream)
    }

    /// Inflates all of `input`, appending the output to `output`.
    /// The corresponding C function is `inflate`.
    public func inflate(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        guard input.count > 0 else { return }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        while true {
            let (status, produced) = chunk.withUnsafeMutableBufferPointer { buffer -> (Int32, Int) in
                stream.next_out = buffer.baseAddress
                stream.avail_out = uInt(buffer.count)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                return (status, buffer.count - Int(stream.avail_out))
            }
            output.append(contentsOf: chunk[0..<produced])
            switch status {
            case Z_OK:
                atMemberEnd = false
            case Z_BUF_ERROR:
                if produced == 0 { return }
            case Z_STREAM_END:
                atMemberEnd = true
                guard inflateReset(&stream) == Z_OK else {
                    throw CoreError(.compression, "cannot restart decompression for the next gzip member")
                }
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw CoreError(.compression, "corrupt compressed data: \(reason)")
            }
            if stream.avail_in == 0 && produced < chunk.count { return }
        }
    }

    /// Inflates a whole gzip or zlib stream held in `input`.
    public static func inflate(_ input: UnsafeRawBufferPointer, sizeHint: Int = 0) throws -> [UInt8] {
        let inflater = try Inflater()
        var output: [UInt8] = []
        output.reserveCapacity(max(sizeHint, input.count * 3))
        try inflater.inflate(input, into: &output)
        guard inflater.atMemberEnd else { throw CoreError(.compression, "compressed data ends before its end marker") }
        return output
    }
}
