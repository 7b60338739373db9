import Glibc
import SluiceCore

/// A folder for the files one input needs, emptied before each input and removed when the process
/// exits normally. It lives under `$TMPDIR` (else `/tmp`), so a crash leaves it in the runner's
/// temporary folder rather than in the repository.
public final class ScratchDirectory: Sendable {
    public let path: String

    public init(_ prefix: String) {
        let parent = getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(parent)/\(prefix)-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { buffer -> String in
            guard let base = buffer.baseAddress, let created = mkdtemp(base) else {
                fatalError("cannot create a scratch directory under \(parent)")
            }
            return String(cString: created)
        }
        Self.register(path)
    }

    /// Removes everything inside the folder.
    public func empty() {
        guard let names = try? FileSystem.contentsOfDirectory(path) else { return }
        for name in names { try? FileSystem.removeTree(path + "/" + name) }
    }

    /// `name` inside the folder.
    public func file(_ name: String) -> String { path + "/" + name }

    private nonisolated(unsafe) static var registered: [String] = []

    private static func register(_ path: String) {
        if registered.isEmpty {
            atexit {
                for path in ScratchDirectory.registered { try? FileSystem.removeTree(path) }
            }
        }
        registered.append(path)
    }

    /// Writes `bytes` to `path`, replacing it.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let file = try SystemFile.open(path, .truncate)
        try file.append(bytes)
    }
}
