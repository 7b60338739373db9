import SluiceCore
import SluiceRuntime
import SluiceTestSupport
import Testing

@testable import SluiceCSV

/// The options table in connectors/csv/README.md is the one `sluice connectors describe csv --markdown`
/// prints, so the README cannot drift from the declaration.
@Suite struct ReadmeTests {
    @Test func readmeTableMatchesTheDeclaredOptions() throws {
        #expect(try connectorReadme(testFile: #filePath).contains(ConnectorHelp.markdownTable(CSVSource.spec)))
    }
}
