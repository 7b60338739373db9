import Foundation
import SluiceCore
import SluiceRuntime
import Testing

@testable import SluiceFile

/// The options table in connectors/file/README.md is the one `sluice connectors describe file --markdown`
/// prints, so the README cannot drift from the declaration.
@Suite struct FileSinkReadmeTests {
    @Test func readmeTableMatchesTheDeclaredOptions() throws {
        var path = #filePath
        for _ in 0..<2 { path = (path as NSString).deletingLastPathComponent }
        let readme = String(decoding: try FileSystem.readFile(path + "/README.md"), as: UTF8.self)
        #expect(readme.contains(ConnectorHelp.markdownTable(FileSink.spec)))
    }
}
