import Glibc
import SluiceCore

/// A fresh directory under the system's temporary folder, removed when the value goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ prefix: String = "sluice-test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { buffer -> String in
            guard let base = buffer.baseAddress, let created = mkdtemp(base) else {
                fatalError("cannot create a temporary directory")
            }
            return String(cString: created)
        }
    }

    private var keep = false

    deinit {
        if !keep { try? FileSystem.removeTree(path) }
    }

    /// Keeps the directory when the value goes away; its owner removes it.
    public func detach() -> String {
        keep = true
        return path
    }

    /// `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }
}

/// The README.md of the connector folder a test file (`#filePath`, in `connectors/NAME/Tests/`) belongs to.
public func connectorReadme(testFile: String) throws -> String {
    var path = testFile
    for _ in 0..<2 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
    return String(decoding: try FileSystem.readFile(path + "/README.md"), as: UTF8.self)
}
