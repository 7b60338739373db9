import Foundation
import SluiceCore
import SluiceRuntime
import Testing

@testable import SluicePostgres

/// The options table in connectors/postgres/README.md is the one `sluice connectors describe postgres
/// --markdown` prints, so the README cannot drift from the declaration.
@Suite struct PostgresReadmeTests {
    @Test func readmeTableMatchesTheDeclaredOptions() throws {
        var path = #filePath
        for _ in 0..<2 { path = (path as NSString).deletingLastPathComponent }
        let readme = String(decoding: try FileSystem.readFile(path + "/README.md"), as: UTF8.self)
        #expect(readme.contains(ConnectorHelp.markdownTable(PostgresSink.spec)))
    }
}
