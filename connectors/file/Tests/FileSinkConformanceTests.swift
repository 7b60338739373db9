import Logging
import SluiceCore
import SluiceKit
import SluiceKitTesting
import SluiceTestSupport
import Testing

@testable import SluiceFile

/// The file sink through the conformance suite that external connectors run (`sluice connectors test`).
struct FileSinkConformanceTests {
    @Test func theFileSinkKeepsTheDeliveryContract() throws {
        let dir = TemporaryDirectory()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var suite = ConformanceSuite(logger: logger)
        let given: [(key: String, value: JSONValue)] = [("path", .string(dir.file("out")))]
        suite.checkDeclaration(FileSink.spec, given: given)
        let (options, problems) = FileSink.spec.validate(given, path: "sinks.files")
        #expect(problems.isEmpty)
        suite.checkSink(
            topic: "conformance",
            open: {
                try FileSink(
                    context: SinkContext(
                        name: "files", task: 0, options: options, topics: ["conformance"], logger: logger))
            },
            crash: { _ in })
        for check in suite.checks {
            #expect(check.passed, "\(check.name): \(check.detail)")
        }
        #expect(suite.checks.count == 8)
    }
}
