import SluiceCore
import SluiceRuntime
import SluiceTestSupport
import Testing

@testable import SluicePostgres

/// The options table in connectors/postgres/README.md is the one `sluice connectors describe postgres
/// --markdown` prints, so the README cannot drift from the declaration.
@Suite struct PostgresReadmeTests {
    @Test func readmeTableMatchesTheDeclaredOptions() throws {
        #expect(try connectorReadme(testFile: #filePath).contains(ConnectorHelp.markdownTable(PostgresSink.spec)))
    }
}
