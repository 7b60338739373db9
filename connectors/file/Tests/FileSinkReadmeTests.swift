import SluiceCore
import SluiceRuntime
import SluiceTestSupport
import Testing

@testable import SluiceFile

/// The options table in connectors/file/README.md is the one `sluice connectors describe file --markdown`
/// prints, so the README cannot drift from the declaration.
@Suite struct FileSinkReadmeTests {
    @Test func readmeTableMatchesTheDeclaredOptions() throws {
        #expect(try connectorReadme(testFile: #filePath).contains(ConnectorHelp.markdownTable(FileSink.spec)))
    }
}
