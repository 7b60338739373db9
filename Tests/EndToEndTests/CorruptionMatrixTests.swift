import Foundation
import Glibc
import SluiceCore
import SluiceRuntime
import SluiceTestSupport
import Testing

/// The reliability issue's corruption matrix: every kind of file in a data directory (closed and active
/// segments, their offset and time indexes, `__topics.json`, the offsets and checkpoints logs, the lock
/// file, a partition folder) deleted, truncated at several points and bit-flipped, after a complete run.
/// Then `sluice run` again: it either succeeds with every row still in the sink's files exactly once,
/// or stops with an error naming the data directory and leaves the files exactly as they were. No
/// committed output is ever removed.
@Suite(.serialized) struct CorruptionMatrixTests {
    /// What a damaged copy of the pristine run looks like.
    struct Damage: CustomStringConvertible {
        var file: String
        var kind: String
        var apply: @Sendable (String) throws -> Void
        var description: String { "\(kind) \(file)" }
    }

    static let rows = 6_000

    /// A completed run: the input, the config, `data/` and `out/` in one folder.
    static let pristine: String = {
        let dir = TemporaryDirectory("sluice-matrix").detach()
        do {
            var generator = SampleOrders(rows: rows, seed: 5)
            generator.badEvery = 0
            try generator.write(to: dir + "/orders.csv")
            try EndToEnd.write(
                """
                {"topics": {"orders": {"partitions": 2, "segment_bytes": 65536, "index_interval_bytes": 4096}},
                 "sources": {"orders": {"type": "csv", "path": "orders.csv", "key": ["customer"],
                                        "max_batch_rows": 700, "columns": {"order_id": "int"}}},
                 "sinks": {"files": {"type": "file", "topics": ["orders"], "path": "out",
                                     "max_batch_records": 900, "max_file_records": 500}}}
                """, to: "config.json", in: dir)
            let result = try SluiceBinary.run(["run", "config.json"], in: dir)
            if result.status != 0 { Issue.record("the pristine run failed: \(result.stderr)") }
            for name in ["data", "out"] { try copy(dir + "/" + name, to: dir + "/golden-" + name) }
        } catch {
            Issue.record("cannot make the pristine run: \(error)")
        }
        return dir
    }()

    /// The files of a folder (recursively) with their bytes.
    static func snapshot(_ folder: String) throws -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        for name in try FileSystem.contentsOfDirectory(folder) {
            let path = folder + "/" + name
            if FileSystem.isDirectory(path) {
                for (inner, bytes) in try snapshot(path) { result[name + "/" + inner] = bytes }
            } else {
                result[name] = try FileSystem.readFile(path)
            }
        }
        return result
    }

    static func copy(_ source: String, to destination: String) throws {
        try FileManager.default.copyItem(atPath: source, toPath: destination)
    }

    static func segments(_ partition: String) throws -> [String] {
        try FileSystem.contentsOfDirectory(pristine + "/golden-data/" + partition).filter { $0.hasSuffix(".log") }
            .map { String($0.dropLast(4)) }.sorted()
    }

    /// Every damage of the matrix, by file.
    static var damages: [Damage] {
        var files: [String] = ["__topics.json", ".lock"]
        if let segments = try? segments("orders-0"), let first = segments.first, let last = segments.last {
            for base in Set([first, last]).sorted() {
                for ext in ["log", "index", "timeindex"] { files.append("orders-0/\(base).\(ext)") }
            }
        }
        for folder in ["__consumer_offsets-0", "__source_checkpoints-0"] {
            if let first = try? segments(folder).first { files.append("\(folder)/\(first).log") }
        }
        var result: [Damage] = []
        for file in files {
            result.append(Damage(file: file, kind: "delete") { try FileSystem.removeFile($0) })
            for fraction in [0.0, 0.5, 0.97] {
                result.append(
                    Damage(file: file, kind: "truncate to \(Int(fraction * 100))%") { path in
                        let size = FileSystem.fileSize(path) ?? 0
                        guard truncate(path, off_t(Double(size) * fraction)) == 0 else {
                            throw CoreError.system("cannot truncate", path: path)
                        }
                    })
            }
            result.append(
                Damage(file: file, kind: "cut the last byte") { path in
                    let size = FileSystem.fileSize(path) ?? 0
                    guard size > 0, truncate(path, off_t(size - 1)) == 0 else { return }
                })
            for (label, position) in [("first", 0.0), ("length", -1.0), ("middle", 0.5), ("last", 1.0)] {
                result.append(
                    Damage(file: file, kind: "flip the \(label) byte") { path in
                        var bytes = try FileSystem.readFile(path)
                        guard !bytes.isEmpty else { return }
                        let index =
                            position < 0
                            ? min(bytes.count - 1, 11) : min(bytes.count - 1, Int(Double(bytes.count) * position))
                        bytes[index] ^= 0x20
                        try FileSystem.writeAtomically(path, bytes)
                    })
            }
        }
        result.append(Damage(file: "orders-1", kind: "delete the folder") { try FileSystem.removeTree($0) })
        return result
    }

    @Test(arguments: damages)
    func aDamagedDataDirectoryRecoversExactlyOrStops(_ damage: Damage) throws {
        let pristineOut = try Self.snapshot(Self.pristine + "/golden-out")
        let expected = try SinkPipelineTests.orderIds(in: Self.pristine + "/golden-out").sorted()
        #expect(expected.count == Self.rows)

        // Each case runs in the pristine folder (the source knows its input by path and identity), on a
        // fresh copy of the data directory and the output as the pristine run left them.
        let dir = Self.pristine
        for name in ["data", "out"] {
            try FileSystem.removeTree(dir + "/" + name)
            try Self.copy(dir + "/golden-" + name, to: dir + "/" + name)
        }
        try damage.apply(dir + "/data/" + damage.file)
        let result = try SluiceBinary.run(["run", "config.json"], in: dir)
        let out = try Self.snapshot(dir + "/out")
        if result.status == 0 {
            let ids = try SinkPipelineTests.orderIds(in: dir + "/out").sorted()
            #expect(ids == expected, "\(damage): every row exactly once after a successful run")
            // Only a lost tail of the offsets log moves the group back, which then rewrites the files it
            // delivers again: their rows are the same.
            if !damage.file.hasPrefix("__consumer_offsets") {
                #expect(out == pristineOut, "\(damage): the files were left as they were")
            }
        } else {
            #expect(result.status == 1 || result.status == 2, "\(damage): exit \(result.status)")
            #expect(result.stderr.contains("data"), "\(damage): the error names the data directory: \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error"), "\(damage): \(result.stderr)")
            #expect(out == pristineOut, "\(damage): an error leaves the sink's files as they were")
        }
    }
}
