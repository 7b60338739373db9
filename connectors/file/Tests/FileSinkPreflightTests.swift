import Glibc
import Logging
import SluiceCore
import SluiceKit
import SluiceTestSupport
import Testing

@testable import SluiceFile

/// The file sink's checks before a run: its folder is not inside the broker's data directory (also
/// when reached through a link), and its path is a folder or can become one. Nothing is created.
@Suite struct FileSinkPreflightTests {
    func preflight(path: String, dataDirectory: String) -> PreflightResult {
        let (options, problems) = FileSink.spec.validate([(key: "path", value: .string(path))], path: "sinks.files")
        #expect(problems.isEmpty)
        return FileSink.spec.preflight(
            PreflightContext(
                name: "files", options: options, topics: ["orders"], dataDirectory: dataDirectory,
                logger: Logger(label: "test")))
    }

    @Test func aFolderInsideTheDataDirectoryIsAProblem() throws {
        let dir = TemporaryDirectory()
        let data = dir.file("data")
        for path in [data, data + "/out", data + "/./x/../out/orders"] {
            let found = preflight(path: path, dataDirectory: data)
            #expect(found.problems.map(\.path) == ["sinks.files.path"], "\(path)")
            #expect(found.problems.first?.message.contains("is inside the data directory \(data)") == true)
        }
        #expect(symlink(data, dir.file("link")) == 0)
        try FileSystem.createDirectory(data)
        #expect(preflight(path: dir.file("link/out"), dataDirectory: data).problems.count == 1)
        #expect(preflight(path: data + "/out", dataDirectory: dir.file("link")).problems.count == 1)
        // Beside the data directory, or with a name that only starts like it, is fine.
        for path in [dir.file("out"), dir.file("data-out"), dir.path] {
            #expect(preflight(path: path, dataDirectory: data).problems.isEmpty, "\(path)")
        }
        #expect(!FileSystem.exists(dir.file("out")), "a preflight creates nothing")
    }

    @Test func thePathMustBeAFolderOrBecomeOne() throws {
        let dir = TemporaryDirectory()
        try FileSystem.writeAtomically(dir.file("file"), [0x41], sync: false)
        let file = preflight(path: dir.file("file"), dataDirectory: dir.file("data"))
        #expect(file.problems.first?.message == "\(dir.file("file")) is a regular file, not a folder")
        let under = preflight(path: dir.file("file/out"), dataDirectory: dir.file("data"))
        #expect(
            under.problems.first?.message.contains("cannot be created: \(dir.file("file")) is a regular file") == true)
        let fresh = preflight(path: dir.file("new/out"), dataDirectory: dir.file("data"))
        #expect(fresh.problems.isEmpty)
        #expect(fresh.notes == ["sink files: creates \(dir.file("new/out"))"])
    }
}
