import CZlib

/// A gzip (RFC 1952) compressor over zlib, one stream at a time.
///
/// Owns a `z_stream`, freed in `deinit`. Not thread-safe: one owner uses it.
public final class Deflater {
    private var stream = z_stream()
    private var finished = false

    /// Starts a gzip stream at `level` (0–9; zlib's default is 6).
    public init(level: Int32 = 6) throws {
        let status = sluice_deflateInit2(&stream, level, 15 + 16, 8)
        guard status == Z_OK else {
            throw CoreError(.compression, "cannot start gzip compression (zlib status \(status))")
        }
    }

    deinit {
        deflateEnd(&stream)
    }

    /// Compresses `input`, appending what zlib produces to `output`.
    /// The corresponding C function is `deflate` with `Z_NO_FLUSH`.
    public func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try run(input, flush: Z_NO_FLUSH, into: &output)
    }

    /// Ends the stream (the gzip trailer included) and appends the rest to `output`.
    /// The corresponding C function is `deflate` with `Z_FINISH`.
    public func finish(into output: inout [UInt8]) throws {
        guard !finished else { return }
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, into: &output)
        finished = true
    }

    /// Compresses `input` as one whole gzip stream.
    public static func gzip(_ input: UnsafeRawBufferPointer, level: Int32 = 6) throws -> [UInt8] {
        let deflater = try Deflater(level: level)
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 2 + 64)
        try deflater.compress(input, into: &output)
        try deflater.finish(into: &output)
        return output
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32, into output: inout [UInt8]) throws {
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let (status, produced) = chunk.withUnsafeMutableBufferPointer { buffer -> (Int32, Int) in
                stream.next_out = buffer.baseAddress
                stream.avail_out = uInt(buffer.count)
                let status = deflate(&stream, flush)
                return (status, buffer.count - Int(stream.avail_out))
            }
            guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
                throw CoreError(.compression, "gzip compression failed (zlib status \(status))")
            }
            output.append(contentsOf: chunk[0..<produced])
            if flush == Z_FINISH {
                if status == Z_STREAM_END { return }
            } else if stream.avail_in == 0 && produced < chunk.count {
                return
            }
        }
    }
}
